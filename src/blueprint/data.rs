//! The data tier's nodes: the database (subnet group over the data subnets,
//! a TLS-forcing parameter group for the engine family, the primary
//! instance and its read replicas) and the cache (subnet group, AUTH token
//! in Secrets Manager, parameter group for the eviction policy, replication
//! group).

use crate::api::common::{CacheSpec, DatabaseEngine, DatabaseSpec};
use crate::aws::Node;
use crate::aws::elasticache::{
    self, AUTH_TOKEN_KEY, CacheParameterGroup, CacheSubnetGroup, REPLICATION_GROUP_KEY,
    ReplicationGroup,
};
use crate::aws::rds::{
    self, DbInstance, DbLogGroup, DbOptionGroup, DbParameterGroup, DbReplica, DbSubnetGroup,
    PRIMARY_KEY, SUBNET_GROUP_KEY, db_log_group_key, option_group_key, replica_log_group_key,
};
use crate::aws::secrets::GeneratedSecret;
use crate::engine::DataIntent;

use super::network::{SG_CACHE, SG_DB, VPC, subnet_key};

/// The database nodes over the data subnets of `zones`; exported logs are
/// kept `log_retention_days`.
pub fn database_nodes(spec: &DatabaseSpec, zones: &[String], log_retention_days: i32) -> Vec<Node> {
    let data: Vec<String> = (0..zones.len()).map(|az| subnet_key("data", az)).collect();
    let version = spec
        .engine_version
        .clone()
        .unwrap_or_else(|| rds::default_version(spec.engine).to_string());
    let family = rds::family(spec.engine, &version);
    let parameters_key = rds::parameter_group_key(&family);
    let (parameter, value) = rds::force_tls(spec.engine);
    let mut parameters = vec![(parameter.to_string(), value.to_string())];
    let log_exports: Vec<String> = if spec.log_exports {
        parameters.extend(
            rds::log_parameters(spec.engine)
                .iter()
                .map(|(p, v)| (p.to_string(), v.to_string())),
        );
        rds::exported_logs(spec.engine)
            .iter()
            .map(|log| log.to_string())
            .collect()
    } else {
        Vec::new()
    };
    // The groups exist before the instance, so RDS writes into groups
    // that expire events rather than making its own that never do.
    let log_group = |replica: Option<usize>, log: &String| {
        let key = match replica {
            Some(index) => replica_log_group_key(index, log),
            None => db_log_group_key(log),
        };
        Node::new(
            key,
            DbLogGroup {
                replica,
                log: log.clone(),
                retention_days: log_retention_days,
            },
        )
    };
    let log_groups: Vec<String> = log_exports.iter().map(|l| db_log_group_key(l)).collect();
    let mut nodes: Vec<Node> = log_exports.iter().map(|l| log_group(None, l)).collect();
    // MySQL's audit log comes from a plugin in an option group of its own.
    let option_group = (spec.engine == DatabaseEngine::Mysql && spec.log_exports).then(|| {
        let major = rds::major_version(&version);
        let key = option_group_key(&major);
        nodes.push(Node::new(
            &key,
            DbOptionGroup {
                engine: spec.engine,
                major,
            },
        ));
        key
    });
    nodes.extend([
        Node::new(SUBNET_GROUP_KEY, DbSubnetGroup::new(data.clone())).after(data),
        Node::new(&parameters_key, DbParameterGroup::new(family, parameters)),
        Node::new(
            PRIMARY_KEY,
            DbInstance {
                spec: spec.clone(),
                version,
                subnet_group: SUBNET_GROUP_KEY.into(),
                parameter_group: parameters_key.clone(),
                security_group: SG_DB.into(),
                log_exports: log_exports.clone(),
                option_group: option_group.clone(),
            },
        )
        .after([SUBNET_GROUP_KEY, parameters_key.as_str(), SG_DB])
        .after(log_groups)
        .after(option_group),
    ]);
    for index in 1..=spec.read_replicas as usize {
        // Replica i in zone i: away from the first zone, where a single-AZ
        // primary most often lands, and spread when there are several.
        let zone = zones[index % zones.len()].clone();
        nodes.extend(log_exports.iter().map(|l| log_group(Some(index), l)));
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
                    log_exports: log_exports.clone(),
                },
            )
            .after([PRIMARY_KEY, SG_DB])
            .after(log_exports.iter().map(|l| replica_log_group_key(index, l))),
        );
    }
    nodes
}

/// The cache's engine version (the spec's, or the engine's default) and
/// its parameter group family.
fn cache_version(spec: &CacheSpec) -> (String, String) {
    let version = spec
        .engine_version
        .clone()
        .unwrap_or_else(|| elasticache::default_version(spec.engine).to_string());
    let family = elasticache::family(spec.engine, &version);
    (version, family)
}

/// The cache nodes over the data subnets of `zones`.
pub fn cache_nodes(spec: &CacheSpec, zones: &[String]) -> Vec<Node> {
    let data: Vec<String> = (0..zones.len()).map(|az| subnet_key("data", az)).collect();
    let (version, family) = cache_version(spec);
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
            GeneratedSecret {
                suffix: "cache-auth-token".into(),
                length: 64,
                purpose: "AUTH token of the cache".into(),
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

/// What teardown should know of the spec's wishes for the data; the cache
/// lives in `az_count` data subnets.
pub fn data_intent(
    database: &DatabaseSpec,
    cache: Option<&CacheSpec>,
    az_count: usize,
) -> DataIntent {
    DataIntent {
        database_protection: Some(database.deletion_protection),
        database_policy: Some(database.deletion_policy),
        cache_policy: cache.map(|c| c.deletion_policy),
        cache_needs: cache.map_or_else(Vec::new, |c| cache_needs(c, az_count)),
        bucket_policies: Default::default(),
    }
}

/// The nodes the cache needs to keep serving when it is retained.
fn cache_needs(spec: &CacheSpec, az_count: usize) -> Vec<String> {
    let (_, family) = cache_version(spec);
    let mut needs = vec![
        elasticache::SUBNET_GROUP_KEY.to_string(),
        elasticache::parameter_group_key(&family),
        AUTH_TOKEN_KEY.to_string(),
        SG_CACHE.to_string(),
        VPC.to_string(),
    ];
    needs.extend((0..az_count).map(|az| subnet_key("data", az)));
    needs
}
