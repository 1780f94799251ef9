//! The S3 gateway endpoint: instance traffic to S3 stays inside AWS and
//! pays no NAT charge.

use aws_sdk_ec2::types::{ResourceType, VpcEndpoint as AwsEndpoint, VpcEndpointType};

use super::{component, owned_filter, retag, tag_map, tag_spec};
use crate::aws::prelude::*;

pub struct VpcEndpointKind;
pub static VPC_ENDPOINT: VpcEndpointKind = VpcEndpointKind;

/// A gateway endpoint for S3 in VPC node `vpc`, routed from `route_tables`.
pub struct VpcEndpoint {
    pub vpc: String,
    pub route_tables: Vec<String>,
}

fn service(cx: &Context) -> String {
    format!("com.amazonaws.{}.s3", cx.region)
}

fn observed(cx: &Context, endpoint: &AwsEndpoint) -> Option<Observed> {
    // AWS spells these states capitalised, some emulators in lower case.
    let state = endpoint
        .state()
        .map(|s| s.as_str().to_ascii_lowercase())
        .unwrap_or_default();
    let status = match state.as_str() {
        "deleted" | "deleting" | "failed" | "rejected" | "expired" => return None,
        "available" | "" => Status::Ready,
        other => Status::Pending(other.to_string()),
    };
    let tags = tag_map(endpoint.tags());
    let component = component(cx, &tags)?;
    let id = endpoint.vpc_endpoint_id()?.to_string();
    let mut fields = tag_fields(&tags);
    fields.insert("vpc".into(), endpoint.vpc_id().unwrap_or_default().into());
    fields.insert(
        "service".into(),
        endpoint.service_name().unwrap_or_default().into(),
    );
    fields.insert(
        "routeTables".into(),
        set_field(endpoint.route_table_ids().iter().map(String::as_str)),
    );
    Some(Observed {
        component,
        outputs: id_outputs(&id),
        id,
        arn: None,
        fields,
        status,
    })
}

#[async_trait]
impl KindOps<AwsClients> for VpcEndpointKind {
    fn name(&self) -> &'static str {
        "VPCEndpoint"
    }

    fn rank(&self) -> u8 {
        4
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let endpoints = cx
            .clients
            .listed("ec2:DescribeVpcEndpoints", || async {
                cx.clients
                    .ec2
                    .describe_vpc_endpoints()
                    .filters(owned_filter(cx))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeVpcEndpoints"))
            })
            .await?;
        Ok(endpoints.iter().filter_map(|e| observed(cx, e)).collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        cx.clients
            .ec2
            .delete_vpc_endpoints()
            .vpc_endpoint_ids(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteVpcEndpoints"))?;
        Ok(Deletion::Done)
    }
}

#[async_trait]
impl Resource<AwsClients> for VpcEndpoint {
    fn kind(&self) -> Kind {
        &VPC_ENDPOINT
    }

    fn desired(&self, key: &str, cx: &Context, inputs: &Inputs) -> Fields {
        with_tags(
            cx,
            key,
            [
                ("vpc", inputs.get(&self.vpc, "id")),
                ("service", service(cx)),
                (
                    "routeTables",
                    set_field(self.route_tables.iter().map(|t| inputs.get(t, "id"))),
                ),
            ],
        )
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateVpcEndpoint"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let tables = self
            .route_tables
            .iter()
            .map(|t| inputs.require(t, "id"))
            .collect::<Result<Vec<_>, _>>()?;
        let endpoint = cx
            .clients
            .ec2
            .create_vpc_endpoint()
            .vpc_id(inputs.require(&self.vpc, "id")?)
            .vpc_endpoint_type(VpcEndpointType::Gateway)
            .service_name(service(cx))
            .set_route_table_ids(Some(tables))
            .tag_specifications(tag_spec(cx, ResourceType::VpcEndpoint, key))
            .send()
            .await
            .map_err(sdk("CreateVpcEndpoint"))?;
        let id = endpoint
            .vpc_endpoint()
            .and_then(|e| e.vpc_endpoint_id())
            .ok_or_else(|| missing("CreateVpcEndpoint"))?;
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
        _inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        if let Some(change) = changes.at("routeTables") {
            let have = set_items(change.from.as_deref().unwrap_or_default());
            let want = set_items(&change.to);
            let add: Vec<String> = want
                .iter()
                .filter(|t| !have.contains(t))
                .map(|t| t.to_string())
                .collect();
            let remove: Vec<String> = have
                .iter()
                .filter(|t| !want.contains(t))
                .map(|t| t.to_string())
                .collect();
            cx.clients
                .ec2
                .modify_vpc_endpoint()
                .vpc_endpoint_id(&current.id)
                .set_add_route_table_ids((!add.is_empty()).then_some(add))
                .set_remove_route_table_ids((!remove.is_empty()).then_some(remove))
                .send()
                .await
                .map_err(sdk("ModifyVpcEndpoint"))?;
        }
        retag(cx, &current.id, changes).await
    }
}
