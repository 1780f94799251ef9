//! Server-side apply on custom resources: creation, field ownership in
//! managedFields, conflicts and force, removal of fields a manager stopped
//! applying, status apply as controller-rs does it; Secrets applied as an
//! operator applies them.

use crate::common::{Sim, api_error};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

fn managers(obj: &kube::api::ObjectMeta) -> Vec<(String, String, String)> {
    obj.managed_fields
        .iter()
        .flatten()
        .map(|m| {
            (
                m.manager.clone().unwrap_or_default(),
                m.operation.clone().unwrap_or_default(),
                m.subresource.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn owned(obj: &kube::api::ObjectMeta, manager: &str) -> Value {
    let entry = obj
        .managed_fields
        .iter()
        .flatten()
        .find(|m| m.manager.as_deref() == Some(manager))
        .unwrap();
    serde_json::to_value(entry.fields_v1.as_ref().unwrap()).unwrap()
}

fn config(size: i64, tier: Option<&str>) -> Value {
    let mut spec = json!({"size": size});
    if let Some(t) = tier {
        spec["tier"] = json!(t);
    }
    json!({"apiVersion": "test.kubesim.io/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec})
}

#[tokio::test]
async fn apply_creates_merges_and_tracks_ownership() {
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    let api = sim.widgets("default");
    let a = PatchParams::apply("alice");

    let created = api
        .patch("w", &a, &Patch::Apply(config(2, Some("x"))))
        .await
        .unwrap();
    assert_eq!(
        (created.spec.size, created.spec.tier.as_deref()),
        (2, Some("x"))
    );
    assert_eq!(
        managers(&created.metadata),
        [("alice".into(), "Apply".into(), String::new())]
    );
    assert_eq!(
        owned(&created.metadata, "alice"),
        json!({"f:spec": {"f:size": {}, "f:tier": {}}})
    );

    // Another manager may not change alice's field without force.
    let b = PatchParams::apply("bob");
    let conflict = api_error(api.patch("w", &b, &Patch::Apply(config(3, None))).await);
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        conflict.message,
        "Apply failed with 1 conflict: conflict with \"alice\" using test.kubesim.io/v1: .spec.size"
    );
    let cause = &conflict.details.unwrap().causes[0];
    assert_eq!(
        (cause.reason.as_str(), cause.field.as_str()),
        ("FieldManagerConflict", ".spec.size")
    );
    // Agreeing on the value is shared ownership, not a conflict.
    api.patch("w", &b, &Patch::Apply(config(2, None)))
        .await
        .unwrap();
    let forced = api
        .patch("w", &b.clone().force(), &Patch::Apply(config(3, None)))
        .await
        .unwrap();
    assert_eq!(forced.spec.size, 3);
    assert_eq!(
        owned(&forced.metadata, "alice"),
        json!({"f:spec": {"f:tier": {}}})
    );

    // A field alice stops applying goes away when nobody else owns it...
    let dropped = api
        .patch("w", &a, &Patch::Apply(config(3, None)))
        .await
        .unwrap();
    assert_eq!(dropped.spec.tier, None);
    // ...but stays when another manager wrote it since.
    api.patch("w", &a, &Patch::Apply(config(3, Some("x"))))
        .await
        .unwrap();
    let editor = PatchParams {
        field_manager: Some("editor".into()),
        ..Default::default()
    };
    let edited = api
        .patch("w", &editor, &Patch::Merge(json!({"spec": {"tier": "y"}})))
        .await
        .unwrap();
    assert!(managers(&edited.metadata).contains(&(
        "editor".into(),
        "Update".into(),
        String::new()
    )));
    let kept = api
        .patch("w", &a, &Patch::Apply(config(3, None)))
        .await
        .unwrap();
    assert_eq!(kept.spec.tier.as_deref(), Some("y"));

    // Re-applying the same configuration writes nothing.
    let rv = sim.handle.resource_version();
    api.patch("w", &a, &Patch::Apply(config(3, None)))
        .await
        .unwrap();
    assert_eq!(sim.handle.resource_version(), rv);

    let missing_manager = api_error(
        api.patch("w", &PatchParams::default(), &Patch::Apply(config(3, None)))
            .await,
    );
    assert_eq!(missing_manager.code, 400);
    sim.stop().await;
}

#[tokio::test]
async fn status_apply_touches_only_status() {
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    let api = sim.widgets("default");
    api.patch(
        "w",
        &PatchParams::apply("user"),
        &Patch::Apply(config(2, None)),
    )
    .await
    .unwrap();
    let status = json!({"apiVersion": "test.kubesim.io/v1", "kind": "Widget", "spec": {"size": 9},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    let after = api
        .patch_status(
            "w",
            &PatchParams::apply("ctrl").force(),
            &Patch::Apply(status),
        )
        .await
        .unwrap();
    assert_eq!(after.spec.size, 2);
    assert_eq!(after.status.unwrap().conditions[0].status, "True");
    assert!(managers(&after.metadata).contains(&("ctrl".into(), "Apply".into(), "status".into())));
    assert_eq!(after.metadata.generation, Some(1));
    sim.stop().await;
}

#[tokio::test]
async fn apply_of_an_operator_owned_secret_writes_nothing_when_unchanged() {
    let sim = Sim::start().await;
    // The pattern an operator uses for the Secrets it owns.
    let secrets: Api<Secret> = Api::namespaced(sim.client.clone(), "default");
    let secret = |user: &str| {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "conn", "labels": {"app": "x"}},
               "data": {"user": user}})
    };
    let pp = PatchParams::apply("operator").force();
    let s = secrets
        .patch("conn", &pp, &Patch::Apply(secret("YQ==")))
        .await
        .unwrap();
    assert_eq!(s.data.unwrap()["user"].0, b"a");
    assert_eq!(
        owned(&s.metadata, "operator"),
        json!({"f:data": {"f:user": {}}, "f:metadata": {"f:labels": {"f:app": {}}}})
    );
    let rv = sim.handle.resource_version();
    secrets
        .patch("conn", &pp, &Patch::Apply(secret("YQ==")))
        .await
        .unwrap();
    assert_eq!(
        sim.handle.resource_version(),
        rv,
        "steady-state apply writes nothing"
    );

    sim.stop().await;
}

#[tokio::test]
async fn a_forced_apply_takes_only_the_conflicting_fields() {
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    let api = sim.widgets("default");
    api.patch(
        "w",
        &PatchParams::apply("alice"),
        &Patch::Apply(config(2, Some("x"))),
    )
    .await
    .unwrap();
    // Bob forces a new size and applies the tier alice already has: the
    // size changes hands, the tier stays shared.
    let forced = api
        .patch(
            "w",
            &PatchParams::apply("bob").force(),
            &Patch::Apply(config(3, Some("x"))),
        )
        .await
        .unwrap();
    assert_eq!(
        owned(&forced.metadata, "alice"),
        json!({"f:spec": {"f:tier": {}}})
    );
    assert_eq!(
        owned(&forced.metadata, "bob"),
        json!({"f:spec": {"f:size": {}, "f:tier": {}}})
    );
}
