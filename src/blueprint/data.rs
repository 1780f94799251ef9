//! The data tier's nodes. So far the database: subnet group over the data
//! subnets, a TLS-forcing parameter group for the engine family, the
//! primary instance and its read replicas. Unfinished: the cache
//! (ElastiCache) and its AUTH token secret.

use crate::api::common::DatabaseSpec;
use crate::aws::rds::{
    self, DbInstance, DbParameterGroup, DbReplica, DbSubnetGroup, PRIMARY_KEY, SUBNET_GROUP_KEY,
};
use crate::engine::{DataIntent, Node};

use super::network::{SG_DB, subnet_key};

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
        Node::new(
            SUBNET_GROUP_KEY,
            DbSubnetGroup {
                subnets: data.clone(),
            },
        )
        .after(data),
        Node::new(
            &parameters_key,
            DbParameterGroup {
                family,
                parameters: vec![(parameter.to_string(), value.to_string())],
            },
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

/// What teardown should know of the spec's wishes for the data.
pub fn data_intent(spec: &DatabaseSpec) -> DataIntent {
    DataIntent {
        database_protection: Some(spec.deletion_protection),
        database_policy: Some(spec.deletion_policy),
    }
}
