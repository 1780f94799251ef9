//! The Argo CD health check (`deploy/argocd/health.lua`) run in a real Lua
//! 5.1 (lupa, through `tests/tools/lua_health.py`) on statuses made by the
//! operator's own status code (`controller::conditions`), and the
//! `argocd-cm` snippet and Application examples that ship it.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use stackops::api::FieldError;
use stackops::api::status::{ResourceState, StackStatus};
use stackops::controller::conditions;
use stackops::engine::{AwsError, EngineOptions, ErrorClass, NodeOutcome, PassOutcome};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap()
}

fn health_lua() -> String {
    read("deploy/argocd/health.lua")
}

/// Runs each script on each object; returns (status, message) per script.
fn run_lua(scripts: &[(&str, String)], objects: &[Value]) -> Vec<Vec<(String, String)>> {
    let python = support::moto::test_venv().join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-test-deps.sh",
        python.display()
    );
    let request = json!({
        "scripts": scripts.iter().map(|(n, s)| (n.to_string(), json!(s))).collect::<serde_json::Map<_, _>>(),
        "objects": objects,
    });
    let mut child = Command::new(python)
        .arg(Path::new(ROOT).join("tests/tools/lua_health.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "lua_health.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    scripts
        .iter()
        .map(|(name, _)| {
            answer[*name]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["status"].as_str().unwrap().to_string(),
                        r["message"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .collect()
}

fn node(key: &str, state: ResourceState) -> NodeOutcome {
    let mut node = NodeOutcome::new(key, "VPC");
    node.state = state;
    node.id = (state != ResourceState::Pending).then(|| format!("id-{key}"));
    node
}

fn pass(nodes: Vec<NodeOutcome>, converged: bool) -> PassOutcome {
    PassOutcome {
        nodes,
        converged,
        ..PassOutcome::default()
    }
}

/// A stack of `kind` at `generation` with `status`.
fn stack(kind: &str, generation: i64, status: Option<&StackStatus>) -> Value {
    let mut object = json!({
        "apiVersion": "stackops.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "shop", "namespace": "default", "generation": generation},
        "spec": {"region": "eu-west-1"},
    });
    if let Some(status) = status {
        object["status"] = serde_json::to_value(status).unwrap();
    }
    object
}

/// Named statuses the operator writes, each with the health Argo CD must
/// show and a piece of the message.
fn cases() -> Vec<(&'static str, Value, &'static str, &'static str)> {
    let managed = EngineOptions::default();
    let generation = Some(3);
    let serving = |healthy: &str, starting: &str, issue: Option<&str>| {
        let mut group = node("app/target-group", ResourceState::Ready);
        group.outputs = [
            ("targets", "2"),
            ("healthyTargets", healthy),
            ("startingTargets", starting),
        ]
        .into_iter()
        .chain(issue.map(|i| ("targetIssue", i)))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        conditions::after_apply(
            &pass(vec![node("network/vpc", ResourceState::Ready), group], true),
            &managed,
            None,
            generation,
            &[],
        )
    };
    let ready = serving("2", "0", None);
    let starting = serving("0", "2", None);
    let failing = serving("0", "0", Some("i-1: unhealthy (Health checks failed)"));
    let progressing = conditions::after_apply(
        &pass(
            vec![
                node("network/vpc", ResourceState::Ready),
                node("network/nat-a", ResourceState::Creating),
            ],
            false,
        ),
        &managed,
        None,
        generation,
        &[],
    );
    let mut failed = pass(vec![node("network/vpc", ResourceState::Failed)], false);
    failed.terminal = Some(AwsError::new(
        ErrorClass::Terminal,
        "CreateVpc",
        "VpcLimitExceeded",
        "The maximum number of VPCs has been reached.",
    ));
    let failed = conditions::after_apply(&failed, &managed, None, generation, &[]);
    let invalid = conditions::invalid(
        &[FieldError::new(
            "spec.network.cidr",
            "10.0.0.0/28 is too small for 3 zones",
        )],
        None,
        generation,
    );
    let paused = conditions::after_apply(
        &pass(vec![node("network/vpc", ResourceState::Pending)], false),
        &EngineOptions {
            paused: true,
            ..EngineOptions::default()
        },
        None,
        generation,
        &[],
    );
    let mut drifted_node = node("network/vpc", ResourceState::Drifted);
    drifted_node.message = Some("enableDnsHostnames: false, want true".into());
    let drifted = conditions::after_apply(
        &pass(vec![drifted_node], false),
        &EngineOptions {
            managed: false,
            ..EngineOptions::default()
        },
        None,
        generation,
        &[],
    );
    let deleting = conditions::deleting(
        &pass(vec![node("network/vpc", ResourceState::Deleting)], false),
        Some(&ready),
        generation,
    );
    let mut blocked_node = node("app/load-balancer", ResourceState::Blocked);
    blocked_node.message = Some("deletion protection is on".into());
    let blocked = conditions::deleting(&pass(vec![blocked_node], false), Some(&ready), generation);

    vec![
        (
            "ready",
            stack("K", 3, Some(&ready)),
            "Healthy",
            "2 resources ready",
        ),
        (
            "ready, servers starting",
            stack("K", 3, Some(&starting)),
            "Progressing",
            "0 of 2 servers pass",
        ),
        (
            "ready, no server passes its health checks",
            stack("K", 3, Some(&failing)),
            "Degraded",
            "Health checks failed",
        ),
        (
            "progressing",
            stack("K", 3, Some(&progressing)),
            "Progressing",
            "1 of 2 resources ready; waiting for network/nat-a",
        ),
        (
            "terminal AWS error",
            stack("K", 3, Some(&failed)),
            "Degraded",
            "VpcLimitExceeded",
        ),
        (
            "invalid spec",
            stack("K", 3, Some(&invalid)),
            "Degraded",
            "spec.network.cidr",
        ),
        (
            "paused",
            stack("K", 3, Some(&paused)),
            "Suspended",
            "spec.paused is true",
        ),
        (
            "drift under ObserveOnly",
            stack("K", 3, Some(&drifted)),
            "Degraded",
            "enableDnsHostnames",
        ),
        (
            "deleting",
            stack("K", 3, Some(&deleting)),
            "Progressing",
            "deleting; 1 resources left",
        ),
        (
            "teardown blocked",
            stack("K", 3, Some(&blocked)),
            "Degraded",
            "deletion protection is on",
        ),
        // A new spec the operator has not reconciled yet: its old Ready
        // (or Degraded) says nothing about it.
        (
            "ready for an older generation",
            stack("K", 4, Some(&ready)),
            "Progressing",
            "generation 4",
        ),
        (
            "degraded for an older generation",
            stack("K", 4, Some(&invalid)),
            "Progressing",
            "generation 4",
        ),
        (
            "no status yet",
            stack("K", 1, None),
            "Progressing",
            "Waiting for stackops",
        ),
    ]
}

fn check(kind: &str, script: String) {
    let cases = cases();
    let objects: Vec<Value> = cases
        .iter()
        .map(|(_, object, _, _)| {
            let mut object = object.clone();
            object["kind"] = json!(kind);
            object
        })
        .collect();
    let results = run_lua(&[(kind, script)], &objects).remove(0);
    assert_eq!(results.len(), cases.len());
    for ((name, _, status, message), (got_status, got_message)) in cases.iter().zip(&results) {
        assert_eq!(got_status, status, "{kind}, {name}: {got_message}");
        assert!(
            got_message.contains(message),
            "{kind}, {name}: message {got_message:?} lacks {message:?}"
        );
    }
}

#[test]
fn health_follows_the_conditions_of_the_current_generation() {
    check("EcommerceStack", health_lua());
}

/// The `data` entries of the argocd-cm snippet.
fn argocd_cm() -> Value {
    serde_yaml_ng::from_str(&read("deploy/argocd/argocd-cm.yaml")).unwrap()
}

#[test]
fn argocd_cm_ships_the_same_script_for_both_kinds() {
    let cm = argocd_cm();
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["metadata"]["name"], "argocd-cm");
    let data = cm["data"].as_object().unwrap();
    let keys: Vec<&String> = data.keys().collect();
    assert_eq!(
        keys,
        [
            "resource.customizations.health.stackops.io_BookingPlatform",
            "resource.customizations.health.stackops.io_EcommerceStack"
        ]
    );
    for (key, script) in data {
        assert_eq!(
            script.as_str().unwrap(),
            health_lua(),
            "{key} differs from deploy/argocd/health.lua"
        );
    }
    // And the script as Argo CD reads it from the ConfigMap works for each kind.
    for kind in ["EcommerceStack", "BookingPlatform"] {
        let key = format!("resource.customizations.health.stackops.io_{kind}");
        check(kind, data[&key].as_str().unwrap().to_string());
    }
}

#[test]
fn applications_install_the_operator_before_the_stacks() {
    let text = read("deploy/argocd/applications.yaml");
    let apps: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .collect();
    assert_eq!(apps.len(), 2);
    for app in &apps {
        assert_eq!(app["apiVersion"], "argoproj.io/v1alpha1");
        assert_eq!(app["kind"], "Application");
    }
    let wave = |app: &Value| -> i64 {
        app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (operator, stacks) = (&apps[0], &apps[1]);
    assert_eq!(operator["spec"]["source"]["path"], "charts/stackops");
    assert!(
        Path::new(ROOT)
            .join(operator["spec"]["source"]["path"].as_str().unwrap())
            .join("Chart.yaml")
            .exists()
    );
    assert!(wave(operator) < wave(stacks));
    let options = stacks["spec"]["syncPolicy"]["syncOptions"].to_string();
    assert!(options.contains("SkipDryRunOnMissingResource=true"));
    // Pruning a stack deletes its AWS resources: never automatic.
    assert_eq!(stacks["spec"]["syncPolicy"]["automated"]["prune"], false);
}
