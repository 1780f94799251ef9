//! The stack's VPC, with DNS support and host names on (needed by RDS,
//! ElastiCache and the S3 endpoint).

use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, Vpc as AwsVpc, VpcState};

use super::{component, owned_filter, retag, tag_map, tag_spec};
use crate::aws::prelude::*;

pub struct VpcKind;
pub static VPC: VpcKind = VpcKind;

/// A VPC with this CIDR.
pub struct Vpc {
    pub cidr: String,
}

fn observed(cx: &Context, vpc: &AwsVpc) -> Option<Observed> {
    let tags = tag_map(vpc.tags());
    let component = component(cx, &tags)?;
    let id = vpc.vpc_id()?.to_string();
    let cidr = vpc.cidr_block().unwrap_or_default().to_string();
    let mut fields = tag_fields(&tags);
    fields.insert("cidr".into(), cidr.clone());
    Some(Observed {
        component,
        outputs: Fields::from([("id".into(), id.clone()), ("cidr".into(), cidr)]),
        id,
        arn: None,
        fields,
        status: match vpc.state() {
            Some(VpcState::Available) | None => Status::Ready,
            Some(other) => Status::Pending(other.as_str().to_string()),
        },
    })
}

#[async_trait]
impl KindOps<AwsClients> for VpcKind {
    fn name(&self) -> &'static str {
        "VPC"
    }

    fn rank(&self) -> u8 {
        0
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let vpcs = cx
            .clients
            .listed("ec2:DescribeVpcs", || async {
                cx.clients
                    .ec2
                    .describe_vpcs()
                    .filters(owned_filter(cx))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeVpcs"))
            })
            .await?;
        Ok(vpcs.iter().filter_map(|v| observed(cx, v)).collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        cx.clients
            .ec2
            .delete_vpc()
            .vpc_id(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteVpc"))?;
        Ok(Deletion::Done)
    }
}

#[async_trait]
impl Resource<AwsClients> for Vpc {
    fn kind(&self) -> Kind {
        &VPC
    }

    fn desired(&self, key: &str, cx: &Context, _inputs: &Inputs) -> Fields {
        with_tags(cx, key, [("cidr", self.cidr.clone())])
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateVpc", "ModifyVpcAttribute", "ModifyVpcAttribute"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let ec2 = &cx.clients.ec2;
        let created = ec2
            .create_vpc()
            .cidr_block(&self.cidr)
            .tag_specifications(tag_spec(cx, ResourceType::Vpc, key))
            .send()
            .await
            .map_err(sdk("CreateVpc"))?;
        let vpc = created.vpc().ok_or_else(|| missing("CreateVpc"))?;
        let id = vpc.vpc_id().ok_or_else(|| missing("CreateVpc"))?;
        // One attribute per call, as the API demands. Set once at creation:
        // observing them would cost two calls per VPC on every pass.
        let on = || AttributeBooleanValue::builder().value(true).build();
        ec2.modify_vpc_attribute()
            .vpc_id(id)
            .enable_dns_support(on())
            .send()
            .await
            .map_err(sdk("ModifyVpcAttribute"))?;
        ec2.modify_vpc_attribute()
            .vpc_id(id)
            .enable_dns_hostnames(on())
            .send()
            .await
            .map_err(sdk("ModifyVpcAttribute"))?;
        let outputs = Fields::from([
            ("id".into(), id.to_string()),
            ("cidr".into(), self.cidr.clone()),
        ]);
        Ok(super::created(
            key,
            id,
            self.desired(key, cx, inputs),
            outputs,
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
        if let Some(change) = changes.at("cidr") {
            // The CRD makes the CIDR immutable; reaching here means the VPC
            // was replaced out of band.
            return Err(AwsError::new(
                ErrorClass::Terminal,
                "UpdateVpc",
                "ImmutableField",
                format!(
                    "the VPC's CIDR is {:?}, the spec says {:?}; a VPC's CIDR cannot change",
                    change.from, change.to
                ),
            ));
        }
        retag(cx, &current.id, changes).await
    }
}
