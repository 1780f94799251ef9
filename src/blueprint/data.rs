//! The data tier's nodes: the database (subnet group over the data subnets,
//! a TLS-forcing parameter group for the engine family, the primary
//! instance and its read replicas) and the cache (subnet group, AUTH token
//! in Secrets Manager, parameter group for the eviction policy, replication
//! group).

use crate::api::common::{CacheSpec, DatabaseSpec};
use crate::aws::Node;
use crate::aws::elasticache::{
    self, AUTH_TOKEN_KEY, CacheParameterGroup, CacheSubnetGroup, REPLICATION_GROUP_KEY,
    ReplicationGroup,
};
use crate::aws::rds::{
    self, DbInstance, DbParameterGroup, DbReplica, DbSubnetGroup, PRIMARY_KEY, SUBNET_GROUP_KEY,
};
use crate::aws::secrets::AuthToken;
use crate::engine::DataIntent;

use super::network::{SG_CACHE, SG_DB, subnet_key};

/// The database nodes over the data subnets of `zones`.
pub fn database_nodes(spec: &DatabaseSpec, zones: &[String]) -> Vec<Node> {
    let data: Vec<String> = (0..zones.len()).map(|az| subnet_key("data", az)).collect();
    let version = spec
        .engine_version
        .clone()
        .unwrap_or_else(|| rds::default_version(spec.engine).to_string());
    let family = rds::family(spec.engine, &version);
    let parameters_key = rds::parameter_group_key(&family);
    let (parameter, value) = rds::force_tls(spec.engine);
    let mut nodes = vec![
        Node::new(SUBNET_GROUP_KEY, DbSubnetGroup::new(data.clone())).after(data),
        Node::new(
            &parameters_key,
            DbParameterGroup::new(family, vec![(parameter.to_string(), value.to_string())]),
        ),
        Node::new(
            PRIMARY_KEY,
            DbInstance {
                spec: spec.clone(),
                version,
                subnet_group: SUBNET_GROUP_KEY.into(),
                parameter_group: parameters_key.clone(),
                security_group: SG_DB.into(),
            },
        )
        .after([SUBNET_GROUP_KEY, parameters_key.as_str(), SG_DB]),
    ];
    for index in 1..=spec.read_replicas as usize {
        // Replica i in zone i: away from the first zone, where a single-AZ
        // primary most often lands, and spread when there are several.
        let zone = zones[index % zones.len()].clone();
        nodes.push(
            Node::new(
                rds::replica_key(index),
                DbReplica {
                    index,
                    primary: PRIMARY_KEY.into(),
                    instance_class: spec.instance_class.clone(),
                    zone,
                    security_group: SG_DB.into(),
                    performance_insights: spec.performance_insights,
                },
            )
            .after([PRIMARY_KEY, SG_DB]),
        );
    }
    nodes
}

/// The cache nodes over the data subnets of `zones`.
pub fn cache_nodes(spec: &CacheSpec, zones: &[String]) -> Vec<Node> {
    let data: Vec<String> = (0..zones.len()).map(|az| subnet_key("data", az)).collect();
    let version = spec
        .engine_version
        .clone()
        .unwrap_or_else(|| elasticache::default_version(spec.engine).to_string());
    let family = elasticache::family(spec.engine, &version);
    let parameters_key = elasticache::parameter_group_key(&family);
    vec![
        Node::new(
            &parameters_key,
            CacheParameterGroup::new(
                family,
                vec![(
                    "maxmemory-policy".to_string(),
                    spec.maxmemory_policy.as_str().to_string(),
                )],
            ),
        ),
        Node::new(
            elasticache::SUBNET_GROUP_KEY,
            CacheSubnetGroup::new(data.clone()),
        )
        .after(data),
        Node::new(
            AUTH_TOKEN_KEY,
            AuthToken {
                suffix: "cache-auth-token".into(),
                length: 64,
            },
        ),
        Node::new(
            REPLICATION_GROUP_KEY,
            ReplicationGroup {
                spec: spec.clone(),
                version,
                subnet_group: elasticache::SUBNET_GROUP_KEY.into(),
                parameter_group: parameters_key.clone(),
                security_group: SG_CACHE.into(),
                auth_token: AUTH_TOKEN_KEY.into(),
            },
        )
        .after([
            elasticache::SUBNET_GROUP_KEY,
            parameters_key.as_str(),
            AUTH_TOKEN_KEY,
            SG_CACHE,
        ]),
    ]
}

/// What teardown should know of the spec's wishes for the data.
pub fn data_intent(database: &DatabaseSpec, cache: Option<&CacheSpec>) -> DataIntent {
    DataIntent {
        database_protection: Some(database.deletion_protection),
        database_policy: Some(database.deletion_policy),
        cache_policy: cache.map(|c| c.deletion_policy),
        bucket_policies: Default::default(),
    }
}
