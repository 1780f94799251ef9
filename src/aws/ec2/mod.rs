//! The network tier on EC2: VPC, subnets, internet gateway, Elastic IPs,
//! NAT gateways, route tables, security groups and the S3 gateway endpoint.
//! Every kind finds the stack's resources with one tag-filtered describe
//! call and checks the tags again on the client side (some emulators ignore
//! tag filters on some calls).

pub mod elastic_ip;
pub mod flow_log;
pub mod internet_gateway;
pub mod launch_template;
pub mod nat_gateway;
pub mod route_table;
pub mod security_group;
pub mod subnet;
pub mod vpc;
pub mod vpc_endpoint;

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use crate::blueprint::naming::{TAG_COMPONENT, TAG_UID};
use crate::engine::{AwsError, Change, Context, Fields, Kind, Observed, Status};

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

/// Every network kind, for teardown.
pub const KINDS: &[Kind] = &[
    &VPC,
    &SUBNET,
    &INTERNET_GATEWAY,
    &ELASTIC_IP,
    &SECURITY_GROUP,
    &NAT_GATEWAY,
    &ROUTE_TABLE,
    &VPC_ENDPOINT,
    &FLOW_LOG,
];

pub(crate) use super::sdk;

/// The filter selecting the stack's resources.
pub(crate) fn owned_filter(cx: &Context) -> Filter {
    Filter::builder()
        .name(format!("tag:{TAG_UID}"))
        .values(&cx.identity.uid)
        .build()
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

/// The node key of a resource if it belongs to this stack.
pub(crate) fn component(cx: &Context, tags: &BTreeMap<String, String>) -> Option<String> {
    (tags.get(TAG_UID) == Some(&cx.identity.uid))
        .then(|| tags.get(TAG_COMPONENT).cloned().unwrap_or_default())
}

/// Observed tags as comparable fields.
pub(crate) fn tag_fields(tags: &BTreeMap<String, String>) -> Fields {
    tags.iter()
        .map(|(k, v)| (format!("tag:{k}"), v.clone()))
        .collect()
}

/// Desired fields: `fields` plus the identity tags of `key`.
pub(crate) fn with_tags(
    cx: &Context,
    key: &str,
    fields: impl IntoIterator<Item = (&'static str, String)>,
) -> Fields {
    let mut out = cx.identity.tag_fields(key);
    out.extend(fields.into_iter().map(|(k, v)| (k.to_string(), v)));
    out
}

/// Restores tags that were removed or changed out of band.
pub(crate) async fn retag(cx: &Context, id: &str, changes: &[Change]) -> Result<(), AwsError> {
    let tags: Vec<Tag> = changes
        .iter()
        .filter_map(|c| {
            c.field
                .strip_prefix("tag:")
                .map(|k| Tag::builder().key(k).value(&c.to).build())
        })
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

/// Whether any change touches a field other than tags.
pub(crate) fn changes_beyond_tags(changes: &[Change]) -> impl Iterator<Item = &Change> {
    changes.iter().filter(|c| !c.field.starts_with("tag:"))
}

/// A field of `changes` by name.
pub(crate) fn changed<'a>(changes: &'a [Change], field: &str) -> Option<&'a Change> {
    changes.iter().find(|c| c.field == field)
}

/// Sorted, comma-joined list: the canonical form of a set-valued field.
pub(crate) fn set_field<I, S>(items: I) -> String
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut items: Vec<String> = items.into_iter().map(Into::into).collect();
    items.sort();
    items.dedup();
    items.join(",")
}

/// Inverse of `set_field`.
pub(crate) fn set_items(field: &str) -> Vec<&str> {
    field.split(',').filter(|s| !s.is_empty()).collect()
}

/// Outputs holding just the id.
pub(crate) fn id_outputs(id: &str) -> Fields {
    Fields::from([("id".to_string(), id.to_string())])
}

/// A resource just created with `fields`: what the next observation will find.
pub(crate) fn created(key: &str, id: &str, fields: Fields, outputs: Fields) -> Observed {
    Observed {
        component: key.to_string(),
        id: id.to_string(),
        arn: None,
        fields,
        outputs,
        status: Status::Ready,
    }
}
