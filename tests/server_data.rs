//! Servers reach their data, against a real moto server: the stack's
//! outputs in SSM Parameter Store under its path, the instance role's data
//! policy with exactly those parameters and the stack's two secrets, no
//! write in steady state, one overwrite for one drifted value, stale
//! parameters deleted, nothing left after teardown.

mod support;

use std::collections::BTreeMap;

use aws_sdk_ssm::types::ParameterType;
use serde_json::{Value, json};
use stackops::aws::Context;
use stackops::aws::elasticache::{AUTH_TOKEN_KEY, REPLICATION_GROUP_KEY};
use stackops::aws::rds::{PRIMARY_KEY, replica_key};
use stackops::aws::s3::MEDIA_BUCKET_KEY;
use stackops::aws::ssm::{PARAMETERS_KEY, path};
use stackops::blueprint::application::INSTANCE_ROLE_KEY;
use stackops::blueprint::monitoring::APP_LOG_GROUP_KEY;
use stackops::engine::PassOutcome;
use support::moto::MotoServer;
use support::stack::{TestStack, calls_of, disposable as example, node_id};

/// Every parameter under the stack's path: name (relative) -> value.
async fn parameters(cx: &Context) -> BTreeMap<String, String> {
    let base = format!("{}/", path(&cx.identity));
    let pages: Vec<_> = cx
        .clients
        .ssm
        .get_parameters_by_path()
        .path(path(&cx.identity))
        .recursive(true)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    pages
        .iter()
        .flat_map(|p| p.parameters())
        .map(|p| {
            assert_eq!(p.r#type(), Some(&ParameterType::String), "{p:?}");
            (
                p.name().unwrap().strip_prefix(&base).unwrap().to_string(),
                p.value().unwrap().to_string(),
            )
        })
        .collect()
}

fn output(pass: &PassOutcome, key: &str, field: &str) -> String {
    pass.node(key).unwrap().outputs[field].clone()
}

#[tokio::test]
async fn servers_read_exactly_the_stacks_parameters_and_secrets() {
    let moto = MotoServer::start();
    let stack = TestStack::new(&moto.endpoint, &example("booking.yaml"), "uid-data").await;
    let pass = stack.converge(&stack.cx, 6).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    let cx = &stack.cx;

    // What the servers read: endpoints, ports, names and secret ARNs.
    let out = |key: &str, field: &str| output(&pass, key, field);
    let expected = BTreeMap::from([
        ("database/endpoint".to_string(), out(PRIMARY_KEY, "address")),
        ("database/port".into(), out(PRIMARY_KEY, "port")),
        ("database/secret-arn".into(), out(PRIMARY_KEY, "secretArn")),
        (
            "database/reader-endpoints".into(),
            format!(
                "{},{}",
                out(&replica_key(1), "address"),
                out(&replica_key(2), "address")
            ),
        ),
        (
            "cache/endpoint".into(),
            out(REPLICATION_GROUP_KEY, "address"),
        ),
        (
            "cache/reader-endpoint".into(),
            out(REPLICATION_GROUP_KEY, "readerAddress"),
        ),
        ("cache/port".into(), out(REPLICATION_GROUP_KEY, "port")),
        ("cache/token-secret-arn".into(), out(AUTH_TOKEN_KEY, "arn")),
        ("media/bucket".into(), out(MEDIA_BUCKET_KEY, "name")),
        ("logs/app-group".into(), out(APP_LOG_GROUP_KEY, "id")),
    ]);
    assert_eq!(parameters(cx).await, expected);
    assert!(expected.values().all(|v| !v.is_empty()));
    let arn = format!("{}/database/endpoint", path(&cx.identity));
    let tags = cx
        .clients
        .ssm
        .list_tags_for_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
        .resource_id(&arn)
        .send()
        .await
        .unwrap();
    assert!(
        tags.tag_list()
            .iter()
            .any(|t| t.key() == "stackops.io/component" && t.value() == PARAMETERS_KEY),
        "{tags:?}"
    );

    // The instance role's data policy: exactly these statements, exactly
    // these resources.
    let role = node_id(&pass, INSTANCE_ROLE_KEY);
    let policy = cx
        .clients
        .iam
        .get_role_policy()
        .role_name(&role)
        .policy_name("stackops-data")
        .send()
        .await
        .unwrap();
    let text = policy.policy_document();
    let text = if text.starts_with('%') {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .unwrap()
            .into_owned()
    } else {
        text.to_string()
    };
    let document: Value = serde_json::from_str(&text).unwrap();
    let account = out(PRIMARY_KEY, "arn")
        .split(':')
        .nth(4)
        .unwrap()
        .to_string();
    let parameter_arn = format!(
        "arn:aws:ssm:{}:{account}:parameter{}",
        cx.region,
        path(&cx.identity)
    );
    assert_eq!(
        document,
        json!({
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
                    "Resource": [parameter_arn.clone(), format!("{parameter_arn}/*")],
                },
                {
                    "Effect": "Allow",
                    "Action": ["secretsmanager:GetSecretValue"],
                    "Resource": [out(PRIMARY_KEY, "secretArn"), out(AUTH_TOKEN_KEY, "arn")],
                },
            ],
        })
    );
    let (outputs, _) = stackops::blueprint::outputs::collect(&pass);
    assert_eq!(outputs.parameters_path, Some(path(&cx.identity)));

    // Steady state: no write.
    let fresh = stack.reconnect(&moto.endpoint).await;
    let steady = stack.engine().apply(&fresh, &stack.blueprint.graph).await;
    assert!(steady.converged);
    assert_eq!(
        fresh.clients.calls.mutating(),
        0,
        "{:?}",
        fresh.clients.calls.mutating_calls()
    );
    // Ten parameters fill one page (SSM answers at most ten); the token it
    // hands back with a full page costs one more, empty, read.
    assert_eq!(calls_of(&fresh.clients.calls, "GetParametersByPath"), 2);

    // One value changed out of band and one parameter nobody wants: one
    // overwrite of that value, one batch delete.
    let base = path(&cx.identity);
    for (name, value) in [("database/port", "1"), ("stale", "x")] {
        cx.clients
            .ssm
            .put_parameter()
            .name(format!("{base}/{name}"))
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .unwrap();
    }
    let fresh = stack.reconnect(&moto.endpoint).await;
    let fixed = stack.engine().apply(&fresh, &stack.blueprint.graph).await;
    assert!(fixed.converged);
    assert_eq!(
        fresh.clients.calls.mutating_calls(),
        [
            ("SSM:DeleteParameters".to_string(), 1),
            ("SSM:PutParameter".to_string(), 1),
        ],
    );
    assert_eq!(parameters(cx).await, expected);

    // Teardown leaves no parameter and no data policy.
    let gone = stack.destroy(cx, 10).await;
    assert!(gone.converged, "{:?}", gone.nodes);
    assert!(parameters(cx).await.is_empty());
}
