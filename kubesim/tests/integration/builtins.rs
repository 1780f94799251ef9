//! Built-in kinds as kube-apiserver treats them: decoded into their Go types
//! (type errors, unknown and duplicate fields under `fieldValidation`),
//! validated per kind (Leases, Events), stored even without a controller
//! (Pods, Nodes, ...), deleted with upstream's response, and applied
//! server-side with upstream's list semantics.

use crate::common::{RawReply, Sim, api_error};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

const JSON: &str = "application/json";
const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases";

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

fn assert_says(reply: &RawReply, text: &str) {
    let said = message(&reply.body);
    assert!(said.contains(text), "expected {text:?} in {said:?}");
}

#[tokio::test]
async fn values_that_do_not_fit_the_go_type_are_a_bad_request() {
    let sim = Sim::start().await;
    let lease = |spec: &str| {
        format!(
            r#"{{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{{"name":"l"}},"spec":{spec}}}"#
        )
    };
    let reply = sim
        .raw("POST", LEASES, JSON, &lease(r#"{"holderIdentity":5}"#))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["reason"], "BadRequest");
    assert_eq!(
        message(&reply.body),
        "Lease in version \"v1\" cannot be handled as a Lease: json: cannot unmarshal number into Go struct field LeaseSpec.spec.holderIdentity of type string"
    );
    let reply = sim
        .raw(
            "POST",
            LEASES,
            JSON,
            &lease(r#"{"leaseDurationSeconds":"abc"}"#),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        message(&reply.body)
            .ends_with("Go struct field LeaseSpec.spec.leaseDurationSeconds of type int32"),
        "{}",
        message(&reply.body)
    );
    // Nothing was stored.
    let leases: Api<Lease> = Api::default_namespaced(sim.client.clone());
    assert!(leases.get_opt("l").await.unwrap().is_none());
    sim.stop().await;
}

#[tokio::test]
async fn unknown_and_duplicate_fields_follow_field_validation() {
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    let body = r#"{"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
        "metadata":{"name":"l","shade":"x"},
        "spec":{"holderIdentity":"a","foo":1,"holderIdentity":"b"}}"#;
    let strict = sim
        .raw(
            "POST",
            &format!("{LEASES}?fieldValidation=Strict"),
            JSON,
            body,
        )
        .await;
    assert_eq!(strict.status, 400);
    assert_eq!(
        message(&strict.body),
        "Lease in version \"v1\" cannot be handled as a Lease: strict decoding error: unknown field \"metadata.shade\", unknown field \"spec.foo\", duplicate field \"spec.holderIdentity\""
    );
    let bogus = sim
        .raw(
            "POST",
            &format!("{LEASES}?fieldValidation=strict"),
            JSON,
            body,
        )
        .await;
    assert_eq!(bogus.status, 422);
    assert_says(&bogus, "fieldValidation: Unsupported value: \"strict\"");
    // Warn is the default: stored without the unknown fields, last value wins.
    let warned = sim.raw("POST", LEASES, JSON, body).await;
    assert_eq!(warned.status, 201, "{:?}", warned.body);
    assert_eq!(
        warned.warnings,
        vec![
            r#"299 - "unknown field \"metadata.shade\"""#,
            r#"299 - "unknown field \"spec.foo\"""#,
            r#"299 - "duplicate field \"spec.holderIdentity\"""#,
        ]
    );
    assert_eq!(warned.body["spec"], json!({"holderIdentity": "b"}));
    assert!(warned.body["metadata"].get("shade").is_none());
    // Ignore drops them silently.
    let ignored = sim
        .raw(
            "POST",
            &format!("{LEASES}?fieldValidation=Ignore"),
            JSON,
            &body.replace(r#""name":"l""#, r#""name":"m""#),
        )
        .await;
    assert_eq!(ignored.status, 201);
    assert!(ignored.warnings.is_empty());
    // A merge patch's result is decoded too.
    let patched = sim
        .raw(
            "PATCH",
            &format!("{LEASES}/l?fieldValidation=Strict"),
            "application/merge-patch+json",
            r#"{"spec":{"renewals":3}}"#,
        )
        .await;
    assert_eq!(patched.status, 400);
    assert!(message(&patched.body).ends_with("unknown field \"spec.renewals\""));
    // A custom resource's metadata is ObjectMeta, whatever its schema says.
    let widget = r#"{"apiVersion":"test.kubesim.io/v1","kind":"Widget",
        "metadata":{"name":"w","colour":"red"},"spec":{"size":1}}"#;
    let reply = sim
        .raw(
            "POST",
            "/apis/test.kubesim.io/v1/namespaces/default/widgets?fieldValidation=Strict",
            JSON,
            widget,
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        message(&reply.body).ends_with("strict decoding error: unknown field \"metadata.colour\""),
        "{}",
        message(&reply.body)
    );
    sim.stop().await;
}

#[tokio::test]
async fn leases_and_events_are_validated_like_upstream() {
    let sim = Sim::start().await;
    let lease = r#"{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"l"},
        "spec":{"holderIdentity":"a","leaseDurationSeconds":0}}"#;
    let reply = sim.raw("POST", LEASES, JSON, lease).await;
    assert_eq!(reply.status, 422);
    assert_eq!(
        message(&reply.body),
        "Lease.coordination.k8s.io \"l\" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"
    );
    let events = "/apis/events.k8s.io/v1/namespaces/default/events";
    let event = |extra: &str| {
        format!(
            r#"{{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{{"name":"e"}},
            "eventTime":"2026-12-07T00:00:00.000000Z","reportingController":"stackops",
            "reportingInstance":"pod-1","action":"Reconcile","reason":"Ready","type":"Normal",
            "regarding":{{"kind":"ConfigMap","namespace":"default","name":"c"}}{extra}}}"#
        )
    };
    let long_note = format!(r#","note":"{}""#, "x".repeat(1025));
    let reply = sim.raw("POST", events, JSON, &event(&long_note)).await;
    assert_eq!(reply.status, 422);
    assert_says(
        &reply,
        "message: Invalid value: \"\": can have at most 1024 characters",
    );
    let no_action = event("").replace(r#""action":"Reconcile","#, "");
    let reply = sim.raw("POST", events, JSON, &no_action).await;
    assert_eq!(reply.status, 422);
    assert_says(&reply, "action: Required value");
    let no_time = event("").replace(r#""eventTime":"2026-12-07T00:00:00.000000Z","#, "");
    let reply = sim.raw("POST", events, JSON, &no_time).await;
    assert_eq!(reply.status, 422);
    assert_says(&reply, "eventTime: Required value");
    let reply = sim
        .raw("POST", events, JSON, &event(r#","note":"ok""#))
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    // The note of an events.k8s.io Event never changes once written.
    let reply = sim
        .raw(
            "PATCH",
            &format!("{events}/e"),
            "application/merge-patch+json",
            r#"{"note":"changed"}"#,
        )
        .await;
    assert_eq!(reply.status, 422);
    assert_says(
        &reply,
        "message: Invalid value: \"changed\": field is immutable",
    );
    sim.stop().await;
}

#[tokio::test]
async fn kinds_without_controllers_are_stored_and_deleted_as_upstream_answers() {
    let sim = Sim::start().await;
    let kinds = [
        (
            "/api/v1/namespaces/default/pods",
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}"#,
        ),
        (
            "/api/v1/nodes",
            r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"p"}}"#,
        ),
        (
            "/api/v1/namespaces/default/replicationcontrollers",
            r#"{"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"p"},"spec":{"selector":{"a":"b"}}}"#,
        ),
        (
            "/apis/apps/v1/namespaces/default/daemonsets",
            r#"{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"p"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}"#,
        ),
        (
            "/apis/batch/v1/namespaces/default/jobs",
            r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"p"},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}"#,
        ),
        (
            "/apis/apiregistration.k8s.io/v1/apiservices",
            r#"{"apiVersion":"apiregistration.k8s.io/v1","kind":"APIService","metadata":{"name":"v1.p.example.com"},"spec":{"group":"p.example.com","version":"v1","groupPriorityMinimum":100,"versionPriority":10}}"#,
        ),
    ];
    for (path, body) in kinds {
        let created = sim.raw("POST", path, JSON, body).await;
        assert_eq!(created.status, 201, "{path}: {:?}", created.body);
        let name = created.body["metadata"]["name"]
            .as_str()
            .unwrap()
            .to_string();
        let got = sim.raw("GET", &format!("{path}/{name}"), JSON, "").await;
        assert_eq!(got.status, 200, "{path}");
        let listed = sim.raw("GET", path, JSON, "").await;
        assert_eq!(listed.body["items"].as_array().unwrap().len(), 1, "{path}");
        let deleted = sim.raw("DELETE", &format!("{path}/{name}"), JSON, "").await;
        assert_eq!(deleted.status, 200, "{path}");
        // Pods are returned whole (ReturnDeletedObject); the others answer a
        // Status naming the resource.
        if path.ends_with("/pods") {
            assert_eq!(deleted.body["kind"], "Pod");
            assert_eq!(deleted.body["metadata"]["name"], "p");
        } else {
            assert_eq!(deleted.body["kind"], "Status", "{path}");
            assert_eq!(deleted.body["status"], "Success");
            let plural = path.rsplit('/').next().unwrap();
            assert_eq!(deleted.body["details"]["kind"], plural);
        }
        let gone = sim.raw("GET", &format!("{path}/{name}"), JSON, "").await;
        assert_eq!(gone.status, 404, "{path}");
    }
    // kubectl finds them through discovery.
    let out = sim
        .kubectl(&["get", "pods,jobs,daemonsets,rc", "-A"], None)
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sim.stop().await;
}

fn deployment(containers: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}}}})
}

#[tokio::test]
async fn server_side_apply_of_builtin_kinds_merges_lists_by_their_keys() {
    let sim = Sim::start().await;
    let deployments: Api<Deployment> = Api::default_namespaced(sim.client.clone());
    let app = json!([{"name": "app", "image": "app:1", "ports": [{"containerPort": 80}]}]);
    deployments
        .patch(
            "web",
            &PatchParams::apply("team"),
            &Patch::Apply(deployment(app.clone())),
        )
        .await
        .unwrap();
    // A second manager adds a sidecar: containers merge by name.
    let sidecar = json!([{"name": "proxy", "image": "proxy:1"}]);
    let both = deployments
        .patch(
            "web",
            &PatchParams::apply("mesh"),
            &Patch::Apply(deployment(sidecar)),
        )
        .await
        .unwrap();
    let names: Vec<String> = both
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, vec!["app", "proxy"]);
    // Changing the other manager's image conflicts on exactly that field.
    let err = api_error(
        deployments
            .patch(
                "web",
                &PatchParams::apply("mesh"),
                &Patch::Apply(deployment(json!([{"name": "app", "image": "app:2"}]))),
            )
            .await,
    );
    assert_eq!(err.code, 409);
    assert!(
        err.message
            .contains(r#".spec.template.spec.containers[name="app"].image"#),
        "{}",
        err.message
    );
    // The first manager dropping its container leaves the sidecar.
    let after = deployments
        .patch(
            "web",
            &PatchParams::apply("team"),
            &Patch::Apply(deployment(json!([{"name": "app2", "image": "app:1"}]))),
        )
        .await
        .unwrap();
    let mut names: Vec<String> = after
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers
        .into_iter()
        .map(|c| c.name)
        .collect();
    names.sort();
    assert_eq!(names, vec!["app2", "proxy"]);
    // RBAC rules are atomic: a second manager's rules replace, and conflict.
    let roles = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles/r";
    let role = |verbs: &str| {
        format!(
            r#"{{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{{"name":"r"}},"rules":[{{"apiGroups":[""],"resources":["pods"],"verbs":[{verbs}]}}]}}"#
        )
    };
    let first = sim
        .raw(
            "PATCH",
            &format!("{roles}?fieldManager=a"),
            "application/apply-patch+yaml",
            &role(r#""get""#),
        )
        .await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let second = sim
        .raw(
            "PATCH",
            &format!("{roles}?fieldManager=b"),
            "application/apply-patch+yaml",
            &role(r#""list""#),
        )
        .await;
    assert_eq!(second.status, 409, "{:?}", second.body);
    assert_says(&second, ".rules");
    sim.stop().await;
}

#[tokio::test]
async fn a_deleted_deployment_answers_a_status_naming_the_resource() {
    let sim = Sim::start().await;
    let deployments: Api<Deployment> = Api::default_namespaced(sim.client.clone());
    deployments
        .patch(
            "web",
            &PatchParams::apply("team"),
            &Patch::Apply(deployment(json!([{"name": "app", "image": "app:1"}]))),
        )
        .await
        .unwrap();
    let gone = deployments
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    let status = gone.right().expect("a Status, not the Deployment");
    assert_eq!(status.details.unwrap().kind, "deployments");
    sim.stop().await;
}
