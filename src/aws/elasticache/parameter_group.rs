//! A cache parameter group per engine family, carrying the eviction policy.

use aws_sdk_elasticache::types::{CacheParameterGroup as AwsGroup, ParameterNameValue};

use crate::aws::groups::{
    ParameterGroup, ParameterGroupApi, ParameterGroupInfo, ParameterGroupKind,
};
use crate::aws::prelude::*;
use crate::identity::NameRule;

use super::{ElastiCache, tags};

pub static CACHE_PARAMETER_GROUP: ParameterGroupKind<ElastiCache> = ParameterGroupKind::new();

/// A cache parameter group of one engine family.
pub type CacheParameterGroup = ParameterGroup<ElastiCache>;

#[async_trait]
impl ParameterGroupApi for ElastiCache {
    const KIND: &'static str = "CacheParameterGroup";
    const CREATE: &'static str = "CreateCacheParameterGroup";
    const SET_PARAMETERS: &'static str = "ModifyCacheParameterGroup";

    fn kind() -> &'static ParameterGroupKind<Self> {
        &CACHE_PARAMETER_GROUP
    }

    fn key(family: &str) -> String {
        super::parameter_group_key(family)
    }

    fn name(cx: &Context, family: &str) -> String {
        cx.identity.resource_name(
            &format!("cache-{}", family.replace('.', "-")),
            NameRule::Cache,
        )
    }

    async fn list(cx: &Context) -> Result<std::sync::Arc<Vec<ParameterGroupInfo>>, AwsError> {
        cx.clients
            .listed("elasticache:DescribeCacheParameterGroups", || async {
                let groups: Vec<AwsGroup> = cx
                    .clients
                    .elasticache
                    .describe_cache_parameter_groups()
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeCacheParameterGroups"))?;
                Ok(groups
                    .into_iter()
                    .filter_map(|g| {
                        Some(ParameterGroupInfo {
                            name: g.cache_parameter_group_name()?.to_string(),
                            family: g.cache_parameter_group_family()?.to_string(),
                            arn: g.arn().map(String::from),
                            description: g.description().map(String::from),
                        })
                    })
                    .collect())
            })
            .await
    }

    async fn user_parameters(cx: &Context, name: &str) -> Result<Vec<String>, AwsError> {
        let found = cx
            .clients
            .elasticache
            .describe_cache_parameters()
            .cache_parameter_group_name(name)
            .source("user")
            .send()
            .await
            .map_err(sdk("DescribeCacheParameters"))?;
        Ok(found
            .parameters()
            .iter()
            .filter_map(|p| Some(format!("{}={}", p.parameter_name()?, p.parameter_value()?)))
            .collect())
    }

    async fn create(
        cx: &Context,
        key: &str,
        name: &str,
        family: &str,
        description: String,
    ) -> Result<(), AwsError> {
        cx.clients
            .elasticache
            .create_cache_parameter_group()
            .cache_parameter_group_name(name)
            .cache_parameter_group_family(family)
            .description(description)
            .set_tags(Some(tags(cx, key)))
            .send()
            .await
            .map_err(sdk("CreateCacheParameterGroup"))?;
        Ok(())
    }

    async fn set_parameters(
        cx: &Context,
        name: &str,
        parameters: &[(String, String)],
    ) -> Result<(), AwsError> {
        let values: Vec<ParameterNameValue> = parameters
            .iter()
            .map(|(k, v)| {
                ParameterNameValue::builder()
                    .parameter_name(k)
                    .parameter_value(v)
                    .build()
            })
            .collect();
        cx.clients
            .elasticache
            .modify_cache_parameter_group()
            .cache_parameter_group_name(name)
            .set_parameter_name_values(Some(values))
            .send()
            .await
            .map_err(sdk("ModifyCacheParameterGroup"))?;
        Ok(())
    }

    async fn delete(cx: &Context, name: &str) -> Result<(), AwsError> {
        cx.clients
            .elasticache
            .delete_cache_parameter_group()
            .cache_parameter_group_name(name)
            .send()
            .await
            .map_err(sdk("DeleteCacheParameterGroup"))?;
        Ok(())
    }
}
