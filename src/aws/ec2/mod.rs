//! The network tier on EC2: VPC, subnets, internet gateway, Elastic IPs,
//! NAT gateways, route tables, security groups and the S3 gateway endpoint.
//! Every kind finds the stack's resources with one tag-filtered describe
//! call and checks the tags again on the client side (some emulators ignore
//! tag filters on some calls).

pub mod account;
pub mod borrowed;
pub mod elastic_ip;
pub mod existing_network;
pub mod flow_log;
pub mod internet_gateway;
pub mod launch_template;
pub mod nat_gateway;
pub mod route_table;
pub mod security_group;
pub mod spot_price;
pub mod subnet;
pub mod vpc;
pub mod vpc_endpoint;

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_sdk_ec2::types::{Filter, ResourceType, Subnet as AwsSubnet, Tag, TagSpecification};

use crate::aws::prelude::*;
use crate::identity::TAG_UID;

pub use borrowed::{BORROWED_SUBNET, BORROWED_VPC, Borrowed};
pub use elastic_ip::{ELASTIC_IP, ElasticIp};
pub use flow_log::{FLOW_LOG, FlowLog};
pub use internet_gateway::{INTERNET_GATEWAY, InternetGateway};
pub use launch_template::{LAUNCH_TEMPLATE, LaunchTemplate};
pub use nat_gateway::{NAT_GATEWAY, NatGateway};
pub use route_table::{ROUTE_TABLE, RouteTable};
pub use security_group::{Rule, SECURITY_GROUP, SecurityGroup};
pub use subnet::{SUBNET, Subnet};
pub use vpc::{VPC, Vpc};
pub use vpc_endpoint::{VPC_ENDPOINT, VpcEndpoint};

/// Every EC2 kind.
pub const KINDS: &[Kind] = &[
    &VPC,
    &SUBNET,
    &BORROWED_VPC,
    &BORROWED_SUBNET,
    &INTERNET_GATEWAY,
    &ELASTIC_IP,
    &SECURITY_GROUP,
    &NAT_GATEWAY,
    &ROUTE_TABLE,
    &VPC_ENDPOINT,
    &FLOW_LOG,
    &LAUNCH_TEMPLATE,
];

pub(crate) use super::shared::component;

/// A describe filter on `name` matching any of `values`.
pub(crate) fn filter(name: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
    let mut filter = Filter::builder().name(name);
    for value in values {
        filter = filter.values(value);
    }
    filter.build()
}

/// The subnets among `ids` that exist (no error for those that do not).
pub(crate) async fn subnets_by_id(
    clients: &AwsClients,
    ids: impl IntoIterator<Item = impl Into<String>>,
) -> Result<Vec<AwsSubnet>, AwsError> {
    clients
        .ec2
        .describe_subnets()
        .filters(filter("subnet-id", ids))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(sdk("DescribeSubnets"))
}

/// Zone of each subnet, by id: a subnet never moves, so once per process.
static SUBNET_ZONES: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

/// The zones of `ids`, in order; an empty name for a subnet that does not
/// exist. One call for the ids not seen before, none after.
pub async fn subnet_zones(clients: &AwsClients, ids: &[String]) -> Result<Vec<String>, AwsError> {
    let unknown: Vec<String> = {
        let known = SUBNET_ZONES.lock().expect("subnet zones");
        ids.iter()
            .filter(|id| !known.contains_key(*id))
            .cloned()
            .collect()
    };
    if !unknown.is_empty() {
        let found = subnets_by_id(clients, unknown).await?;
        let mut known = SUBNET_ZONES.lock().expect("subnet zones");
        for subnet in &found {
            if let (Some(id), Some(zone)) = (subnet.subnet_id(), subnet.availability_zone()) {
                known.insert(id.to_string(), zone.to_string());
            }
        }
    }
    let known = SUBNET_ZONES.lock().expect("subnet zones");
    Ok(ids
        .iter()
        .map(|id| known.get(id).cloned().unwrap_or_default())
        .collect())
}

/// The filter selecting the stack's resources; while reads are shared,
/// every stackops resource (any uid): the same request for every stack, so
/// one answer serves them all (see `aws::shared_reads`). Each kind keeps
/// its stack's by the uid tag (`component`) either way.
pub(crate) fn owned_filter(cx: &Context) -> Filter {
    if cx.clients.reads.shares() {
        Filter::builder().name("tag-key").values(TAG_UID).build()
    } else {
        Filter::builder()
            .name(format!("tag:{TAG_UID}"))
            .values(&cx.identity.uid)
            .build()
    }
}

/// Tags of `component` for the create call itself.
pub(crate) fn tag_spec(
    cx: &Context,
    resource_type: ResourceType,
    component: &str,
) -> TagSpecification {
    let mut spec = TagSpecification::builder().resource_type(resource_type);
    for (key, value) in cx.identity.tags(component) {
        spec = spec.tags(Tag::builder().key(key).value(value).build());
    }
    spec.build()
}

pub(crate) fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// Restores tags that were removed or changed out of band.
pub(crate) async fn retag(cx: &Context, id: &str, changes: &[Change]) -> Result<(), AwsError> {
    let tags: Vec<Tag> = changes
        .tags()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect();
    if tags.is_empty() {
        return Ok(());
    }
    cx.clients
        .ec2
        .create_tags()
        .resources(id)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(sdk("CreateTags"))?;
    Ok(())
}
