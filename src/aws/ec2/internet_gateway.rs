//! The internet gateway, attached to the VPC.

use aws_sdk_ec2::types::{InternetGateway as AwsGateway, ResourceType};

use super::{component, owned_filter, retag, tag_map, tag_spec};
use crate::aws::prelude::*;

pub struct InternetGatewayKind;
pub static INTERNET_GATEWAY: InternetGatewayKind = InternetGatewayKind;

/// An internet gateway attached to the VPC node `vpc`.
pub struct InternetGateway {
    pub vpc: String,
}

fn attached_vpcs(gateway: &AwsGateway) -> Vec<String> {
    gateway
        .attachments()
        .iter()
        .filter_map(|a| a.vpc_id().map(str::to_string))
        .collect()
}

#[async_trait]
impl KindOps<AwsClients> for InternetGatewayKind {
    fn name(&self) -> &'static str {
        "InternetGateway"
    }

    fn rank(&self) -> u8 {
        1
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let gateways = cx
            .clients
            .listed("ec2:DescribeInternetGateways", || async {
                cx.clients
                    .ec2
                    .describe_internet_gateways()
                    .filters(owned_filter(cx))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeInternetGateways"))
            })
            .await?;
        Ok(gateways
            .iter()
            .filter_map(|g| {
                let tags = tag_map(g.tags());
                let component = component(cx, &tags)?;
                let id = g.internet_gateway_id()?.to_string();
                let mut fields = tag_fields(&tags);
                fields.insert("attachedVpc".into(), attached_vpcs(g).join(","));
                Some(Observed {
                    component,
                    outputs: id_outputs(&id),
                    id,
                    arn: None,
                    fields,
                    status: Status::Ready,
                })
            })
            .collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let ec2 = &cx.clients.ec2;
        let attached = observed
            .fields
            .get("attachedVpc")
            .cloned()
            .unwrap_or_default();
        for vpc in super::set_items(&attached) {
            ec2.detach_internet_gateway()
                .internet_gateway_id(&observed.id)
                .vpc_id(vpc)
                .send()
                .await
                .map_err(sdk("DetachInternetGateway"))?;
        }
        ec2.delete_internet_gateway()
            .internet_gateway_id(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteInternetGateway"))?;
        Ok(Deletion::Done)
    }
}

#[async_trait]
impl Resource<AwsClients> for InternetGateway {
    fn kind(&self) -> Kind {
        &INTERNET_GATEWAY
    }

    fn desired(&self, key: &str, cx: &Context, inputs: &Inputs) -> Fields {
        with_tags(cx, key, [("attachedVpc", inputs.get(&self.vpc, "id"))])
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateInternetGateway", "AttachInternetGateway"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let vpc = inputs.require(&self.vpc, "id")?;
        let ec2 = &cx.clients.ec2;
        let gateway = ec2
            .create_internet_gateway()
            .tag_specifications(tag_spec(cx, ResourceType::InternetGateway, key))
            .send()
            .await
            .map_err(sdk("CreateInternetGateway"))?;
        let id = gateway
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .ok_or_else(|| missing("CreateInternetGateway"))?;
        ec2.attach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(&vpc)
            .send()
            .await
            .map_err(sdk("AttachInternetGateway"))?;
        Ok(created(
            key,
            id,
            self.desired(key, cx, inputs),
            id_outputs(id),
        ))
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        if let Some(change) = changes.at("attachedVpc") {
            let ec2 = &cx.clients.ec2;
            for vpc in super::set_items(change.from.as_deref().unwrap_or_default()) {
                ec2.detach_internet_gateway()
                    .internet_gateway_id(&current.id)
                    .vpc_id(vpc)
                    .send()
                    .await
                    .map_err(sdk("DetachInternetGateway"))?;
            }
            ec2.attach_internet_gateway()
                .internet_gateway_id(&current.id)
                .vpc_id(inputs.require(&self.vpc, "id")?)
                .send()
                .await
                .map_err(sdk("AttachInternetGateway"))?;
        }
        retag(cx, &current.id, changes).await
    }
}
