//! What the Resource Groups Tagging API knows of a stack uid: which stacks
//! (`stackops.io/stack` values) the resources tagged with it name. Used
//! before adopting resources a deleted stack left behind.

use std::collections::BTreeMap;

use aws_sdk_resourcegroupstagging::types::TagFilter;

use crate::engine::AwsError;
use crate::identity::{TAG_STACK, TAG_UID};

use super::{AwsClients, sdk};

/// For the resources of the clients' region tagged `stackops.io/uid=uid`:
/// how many name each stack (`<namespace>/<name>`; empty when untagged).
pub async fn stacks_of_uid(
    clients: &AwsClients,
    uid: &str,
) -> Result<BTreeMap<String, usize>, AwsError> {
    let filter = TagFilter::builder().key(TAG_UID).values(uid).build();
    let mut pages = clients
        .tagging
        .get_resources()
        .tag_filters(filter)
        .into_paginator()
        .send();
    let mut stacks = BTreeMap::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(sdk("GetResources"))?;
        for mapping in page.resource_tag_mapping_list() {
            let stack = mapping
                .tags()
                .iter()
                .find(|t| t.key() == TAG_STACK)
                .map_or_else(String::new, |t| t.value().to_string());
            *stacks.entry(stack).or_insert(0) += 1;
        }
    }
    Ok(stacks)
}
