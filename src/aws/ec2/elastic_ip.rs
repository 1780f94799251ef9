//! Elastic IPs for the NAT gateways.

use aws_sdk_ec2::types::{DomainType, ResourceType};

use super::{component, owned_filter, retag, tag_map, tag_spec};
use crate::aws::prelude::*;

pub struct ElasticIpKind;
pub static ELASTIC_IP: ElasticIpKind = ElasticIpKind;

/// An Elastic IP in the VPC domain.
pub struct ElasticIp;

fn outputs(allocation: &str, ip: &str) -> Fields {
    Fields::from([
        ("id".into(), allocation.to_string()),
        ("publicIp".into(), ip.to_string()),
    ])
}

#[async_trait]
impl KindOps<AwsClients> for ElasticIpKind {
    fn name(&self) -> &'static str {
        "ElasticIP"
    }

    fn rank(&self) -> u8 {
        1
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        // DescribeAddresses has no pagination: one call returns them all.
        let found = cx
            .clients
            .listed("ec2:DescribeAddresses", || async {
                cx.clients
                    .ec2
                    .describe_addresses()
                    .filters(owned_filter(cx))
                    .send()
                    .await
                    .map(|answer| answer.addresses.unwrap_or_default())
                    .map_err(sdk("DescribeAddresses"))
            })
            .await?;
        Ok(found
            .iter()
            .filter_map(|a| {
                let tags = tag_map(a.tags());
                let component = component(cx, &tags)?;
                let id = a.allocation_id()?.to_string();
                let mut fields = tag_fields(&tags);
                fields.insert(
                    "domain".into(),
                    a.domain()
                        .map(|d| d.as_str().to_string())
                        .unwrap_or_default(),
                );
                Some(Observed {
                    component,
                    outputs: outputs(&id, a.public_ip().unwrap_or_default()),
                    id,
                    arn: None,
                    fields,
                    status: Status::Ready,
                })
            })
            .collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        cx.clients
            .ec2
            .release_address()
            .allocation_id(&observed.id)
            .send()
            .await
            .map_err(sdk("ReleaseAddress"))?;
        Ok(Deletion::Done)
    }
}

#[async_trait]
impl Resource<AwsClients> for ElasticIp {
    fn kind(&self) -> Kind {
        &ELASTIC_IP
    }

    fn desired(&self, key: &str, cx: &Context, _inputs: &Inputs) -> Fields {
        with_tags(cx, key, [("domain", "vpc".to_string())])
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["AllocateAddress"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let allocated = cx
            .clients
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tag_spec(cx, ResourceType::ElasticIp, key))
            .send()
            .await
            .map_err(sdk("AllocateAddress"))?;
        let id = allocated
            .allocation_id()
            .ok_or_else(|| missing("AllocateAddress"))?;
        let ip = allocated.public_ip().unwrap_or_default();
        Ok(created(
            key,
            id,
            self.desired(key, cx, inputs),
            outputs(id, ip),
        ))
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        _inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        retag(cx, &current.id, changes).await
    }
}
