//! The real kubectl against kubesim: apply, printer columns, wait, finalizers,
//! validation errors.

use crate::common::{Sim, Widget, eventually};
use kube::CustomResourceExt;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use std::process::Output;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "kubectl failed: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const WIDGET: &str = "apiVersion: test.kubesim.io/v1
kind: Widget
metadata:
  name: w1
spec:
  size: 3
";

#[tokio::test]
async fn kubectl_apply_get_wait_delete() {
    let sim = Sim::start().await;
    let crd = serde_json::to_string(&Widget::crd()).unwrap();
    let out = ok(sim.kubectl(&["apply", "-f", "-"], Some(&crd)).await);
    assert!(
        out.contains(
            "customresourcedefinition.apiextensions.k8s.io/widgets.test.kubesim.io created"
        ),
        "{out}"
    );
    ok(sim
        .kubectl(
            &[
                "wait",
                "--for=condition=Established",
                "crd/widgets.test.kubesim.io",
                "--timeout=10s",
            ],
            None,
        )
        .await);

    let out = ok(sim.kubectl(&["apply", "-f", "-"], Some(WIDGET)).await);
    assert_eq!(out.trim(), "widget.test.kubesim.io/w1 created");
    let out = ok(sim.kubectl(&["apply", "-f", "-"], Some(WIDGET)).await);
    assert_eq!(out.trim(), "widget.test.kubesim.io/w1 unchanged");
    let out = ok(sim
        .kubectl(
            &["apply", "-f", "-"],
            Some(&WIDGET.replace("size: 3", "size: 4")),
        )
        .await);
    assert_eq!(out.trim(), "widget.test.kubesim.io/w1 configured");

    // Printer columns come from the server's Table.
    let out = ok(sim.kubectl(&["get", "widgets"], None).await);
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "SIZE", "READY", "AGE"]);
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&row[..2], ["w1", "4"]);

    // wait --for=condition=Ready returns once status says so.
    let wait = sim.kubectl(
        &["wait", "--for=condition=Ready", "wd/w1", "--timeout=20s"],
        None,
    );
    let mark_ready = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        sim.widgets("default")
            .patch_status("w1", &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap();
    };
    let (waited, ()) = tokio::join!(wait, mark_ready);
    let out = ok(waited);
    assert_eq!(out.trim(), "widget.test.kubesim.io/w1 condition met");
    let out = ok(sim.kubectl(&["get", "wd", "w1"], None).await);
    assert!(
        out.lines().nth(1).unwrap().split_whitespace().nth(2) == Some("True"),
        "{out}"
    );

    // Delete is held by a finalizer until it is removed.
    ok(sim
        .kubectl(
            &[
                "patch",
                "wd",
                "w1",
                "--type=merge",
                "-p",
                r#"{"metadata":{"finalizers":["test.kubesim.io/hold"]}}"#,
            ],
            None,
        )
        .await);
    let blocked = sim
        .kubectl(&["delete", "wd", "w1", "--timeout=2s"], None)
        .await;
    assert!(
        !blocked.status.success(),
        "delete should time out waiting: {}",
        text(&blocked)
    );
    let out = ok(sim
        .kubectl(
            &[
                "get",
                "wd",
                "w1",
                "-o",
                "jsonpath={.metadata.deletionTimestamp}",
            ],
            None,
        )
        .await);
    assert!(!out.is_empty(), "deletionTimestamp set");
    ok(sim
        .kubectl(
            &[
                "patch",
                "wd",
                "w1",
                "--type=json",
                "-p",
                r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
            ],
            None,
        )
        .await);
    let api = sim.widgets("default");
    eventually(5, "w1 gone", || {
        let api = api.clone();
        async move { api.get_opt("w1").await.unwrap().is_none().then_some(()) }
    })
    .await;
    sim.stop().await;
}

#[tokio::test]
async fn kubectl_reports_invalid_resources_with_the_field() {
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    let bad = sim
        .kubectl(
            &["apply", "-f", "-"],
            Some(&WIDGET.replace("size: 3", "size: 30")),
        )
        .await;
    assert!(!bad.status.success());
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr).trim(),
        "The Widget \"w1\" is invalid: spec.size: Invalid value: 30: spec.size in body should be less than or equal to 10"
    );
    // kubectl asks for strict field validation; unknown fields are refused.
    let unknown = sim
        .kubectl(
            &["apply", "-f", "-"],
            Some(&WIDGET.replace("size: 3", "size: 3\n  colour: red")),
        )
        .await;
    assert!(!unknown.status.success());
    assert!(
        text(&unknown).contains("unknown field \"spec.colour\""),
        "{}",
        text(&unknown)
    );
    // Server-side apply works for custom resources and reports conflicts.
    let out = ok(sim
        .kubectl(&["apply", "--server-side", "-f", "-"], Some(WIDGET))
        .await);
    assert_eq!(out.trim(), "widget.test.kubesim.io/w1 serverside-applied");
    let clash = sim
        .kubectl(
            &["apply", "--server-side", "--field-manager=other", "-f", "-"],
            Some(&WIDGET.replace("size: 3", "size: 5")),
        )
        .await;
    assert!(!clash.status.success());
    assert!(
        text(&clash).contains("Apply failed with 1 conflict: conflict with \"kubectl\" using test.kubesim.io/v1: .spec.size"),
        "{}",
        text(&clash)
    );
    let missing = sim
        .kubectl(
            &["create", "-f", "-"],
            Some(&WIDGET.replace("size: 3", "tier: gold").replace("w1", "w2")),
        )
        .await;
    assert!(
        text(&missing).contains("spec.size: Required value"),
        "{}",
        text(&missing)
    );
    sim.stop().await;
}

#[tokio::test]
async fn kubectl_prints_builtin_columns() {
    let sim = Sim::start().await;
    let manifest = "apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {user: admin}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {a: b, c: d}
";
    ok(sim.kubectl(&["apply", "-f", "-"], Some(manifest)).await);
    let out = ok(sim.kubectl(&["get", "secret,configmap"], None).await);
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        lines.contains(&vec!["NAME", "TYPE", "DATA", "AGE"]),
        "{out}"
    );
    assert_eq!(&lines[1][..3], ["secret/s", "Opaque", "1"], "{out}");
    assert!(lines.contains(&vec!["NAME", "DATA", "AGE"]), "{out}");
    let out = ok(sim
        .kubectl(&["get", "secret", "s", "-o", "jsonpath={.data.user}"], None)
        .await);
    assert_eq!(out, "YWRtaW4=");
    sim.stop().await;
}

#[tokio::test]
async fn kubectl_create_generators_send_protobuf_that_kubesim_reads() {
    let sim = Sim::start().await;
    ok(sim.kubectl(&["create", "namespace", "demo"], None).await);
    ok(sim
        .kubectl(
            &[
                "create",
                "configmap",
                "cfg",
                "-n",
                "demo",
                "--from-literal=a=b",
            ],
            None,
        )
        .await);
    ok(sim
        .kubectl(
            &[
                "create",
                "secret",
                "generic",
                "s",
                "-n",
                "demo",
                "--from-literal=password=hunter2",
            ],
            None,
        )
        .await);
    ok(sim
        .kubectl(&["create", "serviceaccount", "bot", "-n", "demo"], None)
        .await);
    let cm: k8s_openapi::api::core::v1::ConfigMap =
        kube::Api::namespaced(sim.client.clone(), "demo")
            .get("cfg")
            .await
            .unwrap();
    assert_eq!(cm.data.unwrap()["a"], "b");
    assert_eq!(
        cm.metadata.generate_name, None,
        "unset protobuf strings are not stored"
    );
    let out = ok(sim
        .kubectl(
            &[
                "get",
                "secret",
                "s",
                "-n",
                "demo",
                "-o",
                "jsonpath={.data.password}",
            ],
            None,
        )
        .await);
    assert_eq!(out, "aHVudGVyMg==");
    // A generator whose object kubesim cannot decode is refused, not guessed.
    let deploy = sim
        .kubectl(
            &["create", "deployment", "web", "--image=nginx", "-n", "demo"],
            None,
        )
        .await;
    assert!(!deploy.status.success());
    assert!(
        text(&deploy).contains("application/vnd.kubernetes.protobuf"),
        "{}",
        text(&deploy)
    );
    sim.stop().await;
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: app:1
";

#[tokio::test]
async fn kubectl_moves_a_deployment_from_client_side_to_server_side_apply() {
    let sim = Sim::start().await;
    ok(sim.kubectl(&["apply", "-f", "-"], Some(DEPLOYMENT)).await);
    // The first server-side apply of a change takes the fields over from
    // client-side apply instead of conflicting with it.
    let out = ok(sim
        .kubectl(
            &["apply", "--server-side", "-f", "-"],
            Some(&DEPLOYMENT.replace("app:1", "app:2")),
        )
        .await);
    assert_eq!(out.trim(), "deployment.apps/web serverside-applied");
    let shown = ok(sim
        .kubectl(
            &[
                "get",
                "deployment",
                "web",
                "-o",
                "json",
                "--show-managed-fields",
            ],
            None,
        )
        .await);
    let d: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "app:2"
    );
    let owners_of_image: Vec<&str> = d["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"]
                .get("f:image")
                .is_some()
        })
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert_eq!(owners_of_image, vec!["kubectl"]);
    // And a second server-side manager now meets kubectl, not client-side apply.
    let clash = sim
        .kubectl(
            &["apply", "--server-side", "--field-manager=other", "-f", "-"],
            Some(&DEPLOYMENT.replace("app:1", "app:3")),
        )
        .await;
    assert!(!clash.status.success());
    assert!(
        text(&clash).contains("conflict with \"kubectl\""),
        "{}",
        text(&clash)
    );
    sim.stop().await;
}
