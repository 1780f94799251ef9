//! The cache subnet group over the private data subnets of every AZ.

use crate::aws::groups::{SubnetGroup, SubnetGroupApi, SubnetGroupKind};
use crate::aws::prelude::*;

use super::{ElastiCache, subnet_group_name, tags};

pub static CACHE_SUBNET_GROUP: SubnetGroupKind<ElastiCache> = SubnetGroupKind::new();

/// The stack's cache subnet group.
pub type CacheSubnetGroup = SubnetGroup<ElastiCache>;

#[async_trait]
impl SubnetGroupApi for ElastiCache {
    const KIND: &'static str = "CacheSubnetGroup";
    const KEY: &'static str = super::SUBNET_GROUP_KEY;
    const CREATE: &'static str = "CreateCacheSubnetGroup";

    fn kind() -> &'static SubnetGroupKind<Self> {
        &CACHE_SUBNET_GROUP
    }

    fn name(cx: &Context) -> String {
        subnet_group_name(cx)
    }

    async fn describe(
        cx: &Context,
        name: &str,
    ) -> Result<Option<(Option<String>, Vec<String>)>, AwsError> {
        // Shared: every group of the account, not this one by name, so
        // one read serves every stack.
        let by_name = (!cx.clients.reads.shares()).then(|| name.to_string());
        // Not found by name: none.
        let all = cx
            .clients
            .listed("elasticache:DescribeCacheSubnetGroups", || async {
                cx.clients
                    .elasticache
                    .describe_cache_subnet_groups()
                    .set_cache_subnet_group_name(by_name)
                    .max_records(100)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeCacheSubnetGroups"))
                    .found()
                    .map(Option::unwrap_or_default)
            })
            .await?;
        Ok(all
            .iter()
            .find(|group| group.cache_subnet_group_name() == Some(name))
            .map(|group| {
                let subnets = group
                    .subnets()
                    .iter()
                    .filter_map(|s| s.subnet_identifier().map(String::from))
                    .collect();
                (group.arn().map(String::from), subnets)
            }))
    }

    async fn create(
        cx: &Context,
        key: &str,
        name: &str,
        description: String,
        subnets: Vec<String>,
    ) -> Result<(), AwsError> {
        cx.clients
            .elasticache
            .create_cache_subnet_group()
            .cache_subnet_group_name(name)
            .cache_subnet_group_description(description)
            .set_subnet_ids(Some(subnets))
            .set_tags(Some(tags(cx, key)))
            .send()
            .await
            .map_err(sdk("CreateCacheSubnetGroup"))?;
        Ok(())
    }

    async fn modify(cx: &Context, name: &str, subnets: Vec<String>) -> Result<(), AwsError> {
        cx.clients
            .elasticache
            .modify_cache_subnet_group()
            .cache_subnet_group_name(name)
            .set_subnet_ids(Some(subnets))
            .send()
            .await
            .map_err(sdk("ModifyCacheSubnetGroup"))?;
        Ok(())
    }

    async fn delete(cx: &Context, name: &str) -> Result<(), AwsError> {
        cx.clients
            .elasticache
            .delete_cache_subnet_group()
            .cache_subnet_group_name(name)
            .send()
            .await
            .map_err(sdk("DeleteCacheSubnetGroup"))?;
        Ok(())
    }
}
