//! The cache: a cache subnet group over the data subnets and a Redis (or
//! Valkey) replication group, cluster mode off, encrypted at rest and in
//! transit, with the AUTH token kept in Secrets Manager. Both are found by
//! their deterministic names; the parameter group of the engine family
//! (eviction policy) by its description, which names the stack's uid. Node
//! type, replica count, failover, snapshot retention and parameters change
//! in place.

pub mod offerings;
pub mod parameter_group;
pub mod replication_group;
pub mod subnet_group;

pub use parameter_group::{CACHE_PARAMETER_GROUP, CacheParameterGroup};
pub use replication_group::{REPLICATION_GROUP, ReplicationGroup};
pub use subnet_group::{CACHE_SUBNET_GROUP, CacheSubnetGroup};

use aws_sdk_elasticache::types::Tag;

use crate::api::common::CacheEngine;

use crate::aws::prelude::*;
use crate::identity::NameRule;

/// ElastiCache, for the subnet and parameter groups it shares with RDS.
pub struct ElastiCache;

/// Every cache kind (the AUTH token's secret is a Secrets Manager kind).
pub const KINDS: &[Kind] = &[
    &CACHE_SUBNET_GROUP,
    &CACHE_PARAMETER_GROUP,
    &REPLICATION_GROUP,
];

pub const SUBNET_GROUP_KEY: &str = "data/cache-subnet-group";

/// Node key of the parameter group of `family`.
pub fn parameter_group_key(family: &str) -> String {
    format!("data/cache-parameters-{}", family.replace('.', "-"))
}

/// Engine version used when the spec names none.
pub fn default_version(engine: CacheEngine) -> &'static str {
    match engine {
        CacheEngine::Redis => "7.1",
        CacheEngine::Valkey => "8.0",
    }
}

/// The parameter group family of `version`: `redis7`, `valkey8`.
pub fn family(engine: CacheEngine, version: &str) -> String {
    let major = version.split('.').next().unwrap_or("7");
    format!("{}{major}", replication_group::engine_name(engine))
}

pub const AUTH_TOKEN_KEY: &str = "data/cache-auth-token";
pub const REPLICATION_GROUP_KEY: &str = "data/cache";

/// Port of both engines.
pub const PORT: i32 = 6379;

pub(crate) fn subnet_group_name(cx: &Context) -> String {
    cx.identity.resource_name("cache", NameRule::Cache)
}

pub(crate) fn group_id(cx: &Context) -> String {
    cx.identity.resource_name("cache", NameRule::Cache)
}

pub(crate) fn tags(cx: &Context, key: &str) -> Vec<Tag> {
    cx.identity
        .tags(key)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}
