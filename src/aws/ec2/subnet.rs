//! Subnets of the three tiers, one per AZ. None assigns public IPs on
//! launch: only the load balancer and NAT gateways face the internet.

use aws_sdk_ec2::types::{ResourceType, Subnet as AwsSubnet, SubnetState};

use super::{component, owned_filter, retag, tag_map, tag_spec};
use crate::aws::prelude::*;

pub struct SubnetKind;
pub static SUBNET: SubnetKind = SubnetKind;

/// A subnet of the VPC node `vpc` in zone `zone`.
pub struct Subnet {
    pub vpc: String,
    pub cidr: String,
    pub zone: String,
}

fn observed(cx: &Context, subnet: &AwsSubnet) -> Option<Observed> {
    let tags = tag_map(subnet.tags());
    let component = component(cx, &tags)?;
    let id = subnet.subnet_id()?.to_string();
    let mut fields = tag_fields(&tags);
    fields.insert(
        "cidr".into(),
        subnet.cidr_block().unwrap_or_default().into(),
    );
    fields.insert(
        "zone".into(),
        subnet.availability_zone().unwrap_or_default().into(),
    );
    fields.insert("vpc".into(), subnet.vpc_id().unwrap_or_default().into());
    Some(Observed {
        component,
        outputs: outputs(&id, subnet.availability_zone().unwrap_or_default()),
        id,
        arn: subnet.subnet_arn().map(str::to_string),
        fields,
        status: match subnet.state() {
            Some(SubnetState::Pending) => Status::Pending("pending".into()),
            _ => Status::Ready,
        },
    })
}

fn outputs(id: &str, zone: &str) -> Fields {
    Fields::from([
        ("id".into(), id.to_string()),
        ("zone".into(), zone.to_string()),
    ])
}

#[async_trait]
impl KindOps<AwsClients> for SubnetKind {
    fn name(&self) -> &'static str {
        "Subnet"
    }

    fn rank(&self) -> u8 {
        1
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let subnets = cx
            .clients
            .listed("ec2:DescribeSubnets", || async {
                cx.clients
                    .ec2
                    .describe_subnets()
                    .filters(owned_filter(cx))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeSubnets"))
            })
            .await?;
        Ok(subnets.iter().filter_map(|s| observed(cx, s)).collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        cx.clients
            .ec2
            .delete_subnet()
            .subnet_id(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteSubnet"))?;
        Ok(Deletion::Done)
    }
}

#[async_trait]
impl Resource<AwsClients> for Subnet {
    fn kind(&self) -> Kind {
        &SUBNET
    }

    fn desired(&self, key: &str, cx: &Context, inputs: &Inputs) -> Fields {
        with_tags(
            cx,
            key,
            [
                ("cidr", self.cidr.clone()),
                ("zone", self.zone.clone()),
                ("vpc", inputs.get(&self.vpc, "id")),
            ],
        )
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateSubnet"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let created_subnet = cx
            .clients
            .ec2
            .create_subnet()
            .vpc_id(inputs.require(&self.vpc, "id")?)
            .cidr_block(&self.cidr)
            .availability_zone(&self.zone)
            .tag_specifications(tag_spec(cx, ResourceType::Subnet, key))
            .send()
            .await
            .map_err(sdk("CreateSubnet"))?;
        let id = created_subnet
            .subnet()
            .and_then(|s| s.subnet_id())
            .ok_or_else(|| missing("CreateSubnet"))?;
        Ok(created(
            key,
            id,
            self.desired(key, cx, inputs),
            outputs(id, &self.zone),
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
        if let Some(change) = changes.except_tags().next() {
            return Err(AwsError::new(
                ErrorClass::Terminal,
                "UpdateSubnet",
                "ImmutableField",
                format!(
                    "subnet {} cannot change in place ({change}); delete it to let stackops recreate it",
                    current.id
                ),
            ));
        }
        retag(cx, &current.id, changes).await
    }
}
