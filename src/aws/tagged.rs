//! What the Resource Groups Tagging API knows of a stack uid: which stacks
//! (`stackops.io/stack` values) the resources tagged with it name, and
//! which components they are. Used before adopting resources a deleted
//! stack left behind.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_resourcegroupstagging::types::TagFilter;

use crate::engine::AwsError;
use crate::identity::{TAG_COMPONENT, TAG_STACK, TAG_UID};

use super::{AwsClients, sdk};

/// The resources of the clients' region tagged with one uid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UidResources {
    /// How many name each stack (`<namespace>/<name>`; empty when untagged).
    pub stacks: BTreeMap<String, usize>,
    /// Their `stackops.io/component` values (node keys).
    pub components: BTreeSet<String>,
}

/// What carries `stackops.io/uid=uid` in the clients' region.
pub async fn resources_of_uid(clients: &AwsClients, uid: &str) -> Result<UidResources, AwsError> {
    let filter = TagFilter::builder().key(TAG_UID).values(uid).build();
    let mut pages = clients
        .tagging
        .get_resources()
        .tag_filters(filter)
        .into_paginator()
        .send();
    let mut found = UidResources::default();
    while let Some(page) = pages.next().await {
        let page = page.map_err(sdk("GetResources"))?;
        for mapping in page.resource_tag_mapping_list() {
            let tag = |key: &str| {
                mapping
                    .tags()
                    .iter()
                    .find(|t| t.key() == key)
                    .map(|t| t.value().to_string())
            };
            *found
                .stacks
                .entry(tag(TAG_STACK).unwrap_or_default())
                .or_insert(0) += 1;
            found.components.extend(tag(TAG_COMPONENT));
        }
    }
    Ok(found)
}
