//! What the servers read to reach their data: the stack's outputs as SSM
//! parameters under its path, for whichever tiers the stack has (addresses,
//! ports, names and the ARNs of secrets; the secrets' values stay in
//! Secrets Manager), and the instance role's grant to read exactly those
//! parameters and the stack's secrets: the database's master-user secret
//! and the cache's AUTH token. Both secrets use Secrets Manager's AWS
//! managed key, whose key policy lets whoever may read the secret decrypt
//! it: no kms grant. (`spec.database.kmsKeyId` encrypts the storage, not
//! the secret.)

use std::collections::BTreeSet;

use crate::aws::Node;
use crate::aws::elasticache::{AUTH_TOKEN_KEY, REPLICATION_GROUP_KEY};
use crate::aws::iam::{DataPolicy, Grant, data_policy_key};
use crate::aws::rds::{MAX_REPLICAS, PRIMARY_KEY, replica_key};
use crate::aws::s3::MEDIA_BUCKET_KEY;
use crate::aws::ssm::{PARAMETERS_KEY, Parameter, Parameters};

use super::application::INSTANCE_ROLE_KEY;
use super::monitoring::APP_LOG_GROUP_KEY;

/// Every parameter a stack may have: name under the path, and the outputs
/// its value is read from.
fn catalogue() -> Vec<Parameter> {
    let one = |name: &str, node: &str, field: &str| Parameter {
        name: name.into(),
        from: vec![(node.into(), field.into())],
    };
    vec![
        one("database/endpoint", PRIMARY_KEY, "address"),
        one("database/port", PRIMARY_KEY, "port"),
        one("database/secret-arn", PRIMARY_KEY, "secretArn"),
        Parameter {
            name: "database/reader-endpoints".into(),
            from: (1..=MAX_REPLICAS)
                .map(|i| (replica_key(i), "address".to_string()))
                .collect(),
        },
        one("cache/endpoint", REPLICATION_GROUP_KEY, "address"),
        one(
            "cache/reader-endpoint",
            REPLICATION_GROUP_KEY,
            "readerAddress",
        ),
        one("cache/port", REPLICATION_GROUP_KEY, "port"),
        one("cache/token-secret-arn", AUTH_TOKEN_KEY, "arn"),
        one("media/bucket", MEDIA_BUCKET_KEY, "name"),
        one("logs/app-group", APP_LOG_GROUP_KEY, "id"),
    ]
}

/// The parameter set over the nodes of `graph` (every other tier; each
/// parameter reads only the nodes the stack has, and is left out when it
/// has none), and the servers' grant to read them and the stack's secrets.
pub fn server_data_nodes(graph: &[Node]) -> Vec<Node> {
    let present: BTreeSet<&str> = graph.iter().map(|n| n.key.as_str()).collect();
    let parameters: Vec<Parameter> = catalogue()
        .into_iter()
        .filter_map(|mut p| {
            p.from.retain(|(node, _)| present.contains(node.as_str()));
            (!p.from.is_empty()).then_some(p)
        })
        .collect();
    let sources: BTreeSet<String> = parameters
        .iter()
        .flat_map(|p| p.from.iter().map(|(node, _)| node.clone()))
        .collect();
    let secrets: Vec<(String, String)> = [(PRIMARY_KEY, "secretArn"), (AUTH_TOKEN_KEY, "arn")]
        .into_iter()
        .filter(|(node, _)| present.contains(node))
        .map(|(node, field)| (node.to_string(), field.to_string()))
        .collect();
    let grants = vec![
        // The path itself for GetParametersByPath, what is under it for
        // GetParameter(s); nothing else of Parameter Store.
        Grant {
            actions: vec![
                "ssm:GetParameter".into(),
                "ssm:GetParameters".into(),
                "ssm:GetParametersByPath".into(),
            ],
            on: vec![
                (PARAMETERS_KEY.into(), String::new()),
                (PARAMETERS_KEY.into(), "/*".into()),
            ],
            ..Grant::default()
        },
        Grant {
            actions: vec!["secretsmanager:GetSecretValue".into()],
            outputs: secrets.clone(),
            ..Grant::default()
        },
    ];
    vec![
        Node::new(PARAMETERS_KEY, Parameters { parameters }).after(sources),
        Node::new(
            data_policy_key(INSTANCE_ROLE_KEY),
            DataPolicy {
                role: INSTANCE_ROLE_KEY.into(),
                grants,
            },
        )
        .after([INSTANCE_ROLE_KEY, PARAMETERS_KEY])
        .after(secrets.into_iter().map(|(node, _)| node)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::manifest;
    use crate::blueprint::build;

    fn parameters_of(example: &str) -> Vec<String> {
        let path = format!("{}/examples/{example}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        let stack = manifest::load(&text).unwrap().remove(0);
        let zones: Vec<String> = ["a", "b", "c"].map(|z| format!("eu-west-1{z}")).into();
        let graph = build(&stack, "u", &zones).unwrap().graph;
        let node = graph.get(PARAMETERS_KEY).expect("a parameters node");
        let mut deps: Vec<String> = node.depends_on.to_vec();
        deps.sort();
        deps
    }

    #[test]
    fn each_example_publishes_what_it_has() {
        assert_eq!(
            parameters_of("ecommerce.yaml"),
            ["app/logs", "data/database"]
        );
        assert_eq!(
            parameters_of("booking.yaml"),
            [
                "app/logs",
                "data/cache",
                "data/cache-auth-token",
                "data/database",
                "data/database-replica-1",
                "data/database-replica-2",
                "storage/media-bucket",
            ]
        );
    }
}
