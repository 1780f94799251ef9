//! Helpers every AWS kind shares: reading identity tags, canonical forms of
//! set-valued fields, and what a create hands back.

use std::collections::BTreeMap;

use crate::engine::{Fields, Observed, Status};
use crate::identity::{TAG_COMPONENT, TAG_UID};

use super::Context;

/// The node key of a resource if it belongs to this stack.
pub fn component(cx: &Context, tags: &BTreeMap<String, String>) -> Option<String> {
    (tags.get(TAG_UID) == Some(&cx.identity.uid))
        .then(|| tags.get(TAG_COMPONENT).cloned().unwrap_or_default())
}

/// Observed tags as comparable fields.
pub fn tag_fields(tags: &BTreeMap<String, String>) -> Fields {
    tags.iter()
        .map(|(k, v)| (format!("tag:{k}"), v.clone()))
        .collect()
}

/// Desired fields: `fields` plus the identity tags of `key`.
pub fn with_tags(
    cx: &Context,
    key: &str,
    fields: impl IntoIterator<Item = (&'static str, String)>,
) -> Fields {
    let mut out = cx.identity.tag_fields(key);
    out.extend(fields.into_iter().map(|(k, v)| (k.to_string(), v)));
    out
}

/// Sorted, comma-joined list: the canonical form of a set-valued field.
pub fn set_field<I, S>(items: I) -> String
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
pub fn set_items(field: &str) -> Vec<&str> {
    field.split(',').filter(|s| !s.is_empty()).collect()
}

/// Outputs holding just the id.
pub fn id_outputs(id: &str) -> Fields {
    Fields::from([("id".to_string(), id.to_string())])
}

/// A resource just created with `fields`: what the next observation will find.
pub fn created(key: &str, id: &str, fields: Fields, outputs: Fields) -> Observed {
    Observed {
        component: key.to_string(),
        id: id.to_string(),
        arn: None,
        fields,
        outputs,
        status: Status::Ready,
    }
}

/// The header CloudFront adds to every request it sends the load balancer,
/// carrying the stack's origin secret; the load balancer forwards only
/// requests that carry it.
pub const ORIGIN_HEADER: &str = "X-Origin-Verify";
