//! The REST semantics kube-rs relies on: CRUD, optimistic concurrency, status
//! subresource and generation, selectors and paging, finalizers, garbage
//! collection, schema validation and error shapes.

use crate::common::{Sim, Widget, WidgetStatus, api_error, eventually, widget};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Resource;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

#[tokio::test]
async fn create_sets_system_fields_and_update_detects_conflicts() {
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    let api = sim.widgets("default");
    let created = api
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.as_deref().is_some_and(|u| u.len() == 36));
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(meta.generation, Some(1));
    let rv1: u64 = meta.resource_version.as_deref().unwrap().parse().unwrap();

    let again = api_error(api.create(&PostParams::default(), &widget("a", 1)).await);
    assert_eq!((again.code, again.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(
        again.message,
        "widgets.test.kubesim.io \"a\" already exists"
    );

    let mut fresh = created.clone();
    fresh.spec.size = 2;
    let updated = api
        .replace("a", &PostParams::default(), &fresh)
        .await
        .unwrap();
    let rv2: u64 = updated
        .metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv2 > rv1);
    assert_eq!(updated.metadata.generation, Some(2));

    // `fresh` still carries rv1: the write must be refused.
    let mut stale = fresh.clone();
    stale.spec.size = 3;
    let conflict = api_error(api.replace("a", &PostParams::default(), &stale).await);
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        conflict.message,
        "Operation cannot be fulfilled on widgets.test.kubesim.io \"a\": the object has been modified; please apply your changes to the latest version and try again"
    );
    assert_eq!(api.get("a").await.unwrap().spec.size, 2);

    // Custom resources do not accept an update without a resourceVersion.
    let mut unconditional = stale.clone();
    unconditional.metadata.resource_version = None;
    let refused = api_error(
        api.replace("a", &PostParams::default(), &unconditional)
            .await,
    );
    assert_eq!(refused.code, 422);
    assert_eq!(
        refused.message,
        "widgets.test.kubesim.io \"a\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
    );

    // Nor does a CRD.
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(sim.client.clone());
    let mut crd = crds.get("widgets.test.kubesim.io").await.unwrap();
    crd.metadata.resource_version = None;
    crd.metadata.managed_fields = None;
    let refused = api_error(
        crds.replace("widgets.test.kubesim.io", &PostParams::default(), &crd)
            .await,
    );
    assert_eq!(refused.code, 422);
    assert_eq!(
        refused.message,
        "customresourcedefinitions.apiextensions.k8s.io \"widgets.test.kubesim.io\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
    );

    let missing = api_error(api.get("nope").await);
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    assert_eq!(
        missing.message,
        "widgets.test.kubesim.io \"nope\" not found"
    );
    assert_eq!(missing.details.unwrap().kind, "widgets");

    let generated = Widget {
        metadata: ObjectMeta {
            generate_name: Some("gen-".into()),
            ..Default::default()
        },
        spec: widget("x", 1).spec,
        status: None,
    };
    let named = api
        .create(&PostParams::default(), &generated)
        .await
        .unwrap();
    let name = named.metadata.name.unwrap();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");
    sim.stop().await;
}

#[tokio::test]
async fn status_is_a_subresource_and_generation_tracks_spec_only() {
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    let api = sim.widgets("default");
    let mut w = widget("s", 1);
    w.status = Some(WidgetStatus {
        observed_generation: Some(7),
        conditions: vec![],
    });
    let created = api.create(&PostParams::default(), &w).await.unwrap();
    assert_eq!(
        created.status, None,
        "create drops status when status is a subresource"
    );

    let pp = PatchParams::default();
    let status = json!({"status": {"observed_generation": 1, "conditions": [{"type": "Ready", "status": "True"}]}});
    let after_status = api
        .patch_status("s", &pp, &Patch::Merge(&status))
        .await
        .unwrap();
    assert_eq!(after_status.status.as_ref().unwrap().conditions.len(), 1);
    assert_eq!(
        after_status.metadata.generation,
        Some(1),
        "status writes keep generation"
    );

    // Spec in a status write is ignored; status in a main write is ignored.
    let sneaky = json!({"spec": {"size": 9}, "status": {"conditions": []}});
    let s = api
        .patch_status("s", &pp, &Patch::Merge(&sneaky))
        .await
        .unwrap();
    assert_eq!(s.spec.size, 1);
    assert!(s.status.unwrap().conditions.is_empty());
    let main =
        json!({"spec": {"size": 2}, "status": {"conditions": [{"type": "X", "status": "True"}]}});
    let m = api.patch("s", &pp, &Patch::Merge(&main)).await.unwrap();
    assert_eq!(m.spec.size, 2);
    assert!(m.status.unwrap().conditions.is_empty());
    assert_eq!(m.metadata.generation, Some(2));

    // Metadata-only changes do not bump generation; a no-op write is not a write.
    let labels = json!({"metadata": {"labels": {"a": "b"}}});
    let l = api.patch("s", &pp, &Patch::Merge(&labels)).await.unwrap();
    assert_eq!(l.metadata.generation, Some(2));
    let rv = sim.handle.resource_version();
    let same = api.patch("s", &pp, &Patch::Merge(&labels)).await.unwrap();
    assert_eq!(sim.handle.resource_version(), rv);
    assert_eq!(same.metadata.resource_version, l.metadata.resource_version);
    sim.stop().await;
}

#[tokio::test]
async fn label_and_field_selectors_and_paging() {
    let sim = Sim::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(sim.client.clone(), "default");
    for (name, app, tier) in [
        ("a", "web", Some("front")),
        ("b", "web", Some("back")),
        ("c", "db", None),
        ("d", "db", Some("back")),
    ] {
        let mut labels = std::collections::BTreeMap::from([("app".to_string(), app.to_string())]);
        if let Some(t) = tier {
            labels.insert("tier".into(), t.into());
        }
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(labels),
                ..Default::default()
            },
            ..Default::default()
        };
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
    let names = |sel: &'static str| {
        let cms = cms.clone();
        async move {
            let list = cms.list(&ListParams::default().labels(sel)).await.unwrap();
            list.items
                .into_iter()
                .map(|c| c.metadata.name.unwrap())
                .collect::<Vec<_>>()
                .join(",")
        }
    };
    assert_eq!(names("app=web").await, "a,b");
    assert_eq!(names("app==db,tier").await, "d");
    // Every namespace holds the root CA's ConfigMap too, without labels.
    assert_eq!(names("tier!=back").await, "a,c,kube-root-ca.crt");
    assert_eq!(names("tier in (front,back),app notin (web)").await, "d");
    assert_eq!(names("!tier").await, "c,kube-root-ca.crt");
    let by_name = cms
        .list(&ListParams::default().fields("metadata.name=b"))
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);

    let bad = api_error(cms.list(&ListParams::default().labels("app in web")).await);
    assert_eq!(bad.code, 400);

    // Pages over a, b, c, d and the root CA's ConfigMap.
    let first = cms.list(&ListParams::default().limit(3)).await.unwrap();
    assert_eq!(first.items.len(), 3);
    let token = first.metadata.continue_.clone().expect("a continue token");
    assert_eq!(first.metadata.remaining_item_count, Some(2));
    let second = cms
        .list(&ListParams::default().limit(3).continue_token(&token))
        .await
        .unwrap();
    let rest: Vec<_> = second
        .items
        .iter()
        .map(|c| c.metadata.name.as_deref().unwrap())
        .collect();
    assert_eq!(rest, ["d", "kube-root-ca.crt"]);
    assert!(second.metadata.continue_.is_none());

    // Every namespace of the cluster has its root CA's ConfigMap too.
    let everywhere: Api<ConfigMap> = Api::all(sim.client.clone());
    let all = everywhere.list(&ListParams::default()).await.unwrap().items;
    let (ours, ca): (Vec<_>, Vec<_>) = all
        .iter()
        .partition(|c| c.metadata.name.as_deref() != Some("kube-root-ca.crt"));
    assert_eq!(ours.len(), 4);
    assert_eq!(
        ca.len(),
        4,
        "default, kube-system, kube-public, kube-node-lease"
    );
    sim.stop().await;
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    let api = sim.widgets("default");
    let mut w = widget("f", 1);
    w.metadata.finalizers = Some(vec!["test.kubesim.io/hold".into()]);
    api.create(&PostParams::default(), &w).await.unwrap();

    let pending = api.delete("f", &DeleteParams::default()).await.unwrap();
    let held = pending
        .left()
        .expect("object returned while finalizers remain");
    assert!(held.metadata.deletion_timestamp.is_some());
    assert_eq!(
        held.metadata.generation,
        Some(2),
        "marking for deletion bumps generation"
    );
    assert!(api.get("f").await.is_ok());

    let add = json!({"metadata": {"finalizers": ["test.kubesim.io/hold", "late"]}});
    let refused = api_error(
        api.patch("f", &PatchParams::default(), &Patch::Merge(&add))
            .await,
    );
    assert_eq!(refused.code, 422);
    assert!(
        refused.message.contains("no new finalizers can be added"),
        "{}",
        refused.message
    );

    let clear = json!({"metadata": {"finalizers": null}});
    api.patch("f", &PatchParams::default(), &Patch::Merge(&clear))
        .await
        .unwrap();
    assert_eq!(api_error(api.get("f").await).code, 404);

    // Without finalizers, delete is immediate and answers with a Status.
    api.create(&PostParams::default(), &widget("g", 1))
        .await
        .unwrap();
    let gone = api.delete("g", &DeleteParams::default()).await.unwrap();
    assert!(
        gone.right()
            .expect("Status for an immediate delete")
            .is_success()
    );
    sim.stop().await;
}

fn owned_secret(name: &str, owner: &ConfigMap) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                name: owner.metadata.name.clone().unwrap(),
                uid: owner.meta().uid.clone().unwrap(),
                ..Default::default()
            }]),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn owner_references_cascade() {
    let sim = Sim::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(sim.client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(sim.client.clone(), "default");
    let pp = PostParams::default();
    let cm = |n: &str| ConfigMap {
        metadata: ObjectMeta {
            name: Some(n.into()),
            ..Default::default()
        },
        ..Default::default()
    };

    // Background (the default): the dependent goes after the owner.
    let owner = cms.create(&pp, &cm("owner")).await.unwrap();
    secrets
        .create(&pp, &owned_secret("dep", &owner))
        .await
        .unwrap();
    cms.delete("owner", &DeleteParams::default()).await.unwrap();
    let s = secrets.clone();
    eventually(5, "dependent collected", || {
        let s = s.clone();
        async move { s.get_opt("dep").await.unwrap().is_none().then_some(()) }
    })
    .await;

    // An owner in another namespace does not hold a dependent.
    let elsewhere: Api<ConfigMap> = Api::namespaced(sim.client.clone(), "kube-system");
    let foreign = elsewhere.create(&pp, &cm("foreign")).await.unwrap();
    secrets
        .create(&pp, &owned_secret("stray", &foreign))
        .await
        .unwrap();
    let s = secrets.clone();
    eventually(5, "dependent of a foreign owner collected", || {
        let s = s.clone();
        async move { s.get_opt("stray").await.unwrap().is_none().then_some(()) }
    })
    .await;

    // Orphan: the dependent stays, without the reference.
    let owner = cms.create(&pp, &cm("owner2")).await.unwrap();
    secrets
        .create(&pp, &owned_secret("kept", &owner))
        .await
        .unwrap();
    cms.delete("owner2", &DeleteParams::orphan()).await.unwrap();
    let (c, s) = (cms.clone(), secrets.clone());
    eventually(5, "owner gone after orphaning", || {
        let c = c.clone();
        async move { c.get_opt("owner2").await.unwrap().is_none().then_some(()) }
    })
    .await;
    let kept = s.get("kept").await.unwrap();
    assert!(
        kept.metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );

    // Foreground: the owner waits (with a finalizer) for its dependents.
    let owner = cms.create(&pp, &cm("owner3")).await.unwrap();
    let mut blocked = owned_secret("blocker", &owner);
    blocked.metadata.finalizers = Some(vec!["test/hold".into()]);
    secrets.create(&pp, &blocked).await.unwrap();
    cms.delete("owner3", &DeleteParams::foreground())
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let waiting = cms.get("owner3").await.unwrap();
    assert!(
        waiting
            .metadata
            .finalizers
            .unwrap()
            .contains(&"foregroundDeletion".to_string())
    );
    assert!(
        secrets
            .get("blocker")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    );
    secrets
        .patch(
            "blocker",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    eventually(5, "foreground owner gone", || {
        let c = cms.clone();
        async move { c.get_opt("owner3").await.unwrap().is_none().then_some(()) }
    })
    .await;
    sim.stop().await;
}

#[tokio::test]
async fn schema_validation_defaults_pruning_and_cel() {
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    let api = sim.widgets("default");
    let pp = PostParams::default();

    let too_big = api_error(api.create(&pp, &widget("big", 11)).await);
    assert_eq!((too_big.code, too_big.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        too_big.message,
        "Widget.test.kubesim.io \"big\" is invalid: spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10"
    );
    let details = too_big.details.unwrap();
    assert_eq!(
        (
            details.kind.as_str(),
            details.group.as_str(),
            details.name.as_str()
        ),
        ("Widget", "test.kubesim.io", "big")
    );
    assert_eq!(details.causes[0].field, "spec.size");
    assert_eq!(details.causes[0].reason, "FieldValueInvalid");

    // Unknown fields are pruned; the object is stored without them.
    let raw: Api<kube::api::DynamicObject> = Api::namespaced_with(
        sim.client.clone(),
        "default",
        &kube::api::ApiResource::erase::<Widget>(&()),
    );
    let obj: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "test.kubesim.io/v1", "kind": "Widget",
        "metadata": {"name": "p"}, "spec": {"size": 2, "colour": "red"}, "extra": 1
    }))
    .unwrap();
    let stored = raw.create(&pp, &obj).await.unwrap();
    assert_eq!(stored.data["spec"], json!({"size": 2}));
    assert!(stored.data.get("extra").is_none());

    // The CEL transition rule (oldSelf) refuses shrinking.
    let shrink = api_error(
        api.patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 1}})),
        )
        .await,
    );
    assert_eq!(shrink.code, 422);
    assert_eq!(
        shrink.message,
        "Widget.test.kubesim.io \"p\" is invalid: spec: Invalid value: \"object\": size may not shrink"
    );
    api.patch(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"size": 3}})),
    )
    .await
    .unwrap();

    // A failed JSON patch `test` is a 422 and changes nothing.
    let jp: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/spec/size", "value": 99},
        {"op": "replace", "path": "/spec/size", "value": 5}
    ]))
    .unwrap();
    let failed = api_error(
        api.patch("p", &PatchParams::default(), &Patch::Json::<()>(jp))
            .await,
    );
    assert_eq!(failed.code, 422);
    assert_eq!(api.get("p").await.unwrap().spec.size, 3);
    sim.stop().await;
}

#[tokio::test]
async fn namespace_deletion_empties_the_namespace() {
    let sim = Sim::start().await;
    let namespaces: Api<Namespace> = Api::all(sim.client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some("doomed".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(sim.client.clone(), "doomed");
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("c".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    cms.create(&PostParams::default(), &cm).await.unwrap();

    let missing_ns: Api<ConfigMap> = Api::namespaced(sim.client.clone(), "absent");
    let err = api_error(missing_ns.create(&PostParams::default(), &cm).await);
    assert_eq!(
        (err.code, err.message.as_str()),
        (404, "namespaces \"absent\" not found")
    );

    namespaces
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    eventually(5, "namespace removed", || {
        let n = namespaces.clone();
        async move { n.get_opt("doomed").await.unwrap().is_none().then_some(()) }
    })
    .await;
    let all: Api<ConfigMap> = Api::all(sim.client.clone());
    let left: Vec<_> = all
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|c| c.metadata.namespace.as_deref() == Some("doomed"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    sim.stop().await;
}

#[tokio::test]
async fn namespaces_hold_their_default_service_account_and_the_root_ca() {
    let sim = Sim::start().await;
    let namespaces: Api<Namespace> = Api::all(sim.client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some("fresh".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    for namespace in ["fresh", "default", "kube-system"] {
        let accounts: Api<ServiceAccount> = Api::namespaced(sim.client.clone(), namespace);
        assert!(
            accounts.get_opt("default").await.unwrap().is_some(),
            "{namespace}: no default ServiceAccount"
        );
        let maps: Api<ConfigMap> = Api::namespaced(sim.client.clone(), namespace);
        let ca = maps.get("kube-root-ca.crt").await.unwrap();
        let bundle = &ca.data.unwrap()["ca.crt"];
        assert!(
            bundle.starts_with("-----BEGIN CERTIFICATE-----\n")
                && bundle.ends_with("-----END CERTIFICATE-----\n"),
            "{bundle}"
        );
    }
    let services: Api<Service> = Api::namespaced(sim.client.clone(), "default");
    let spec = services.get("kubernetes").await.unwrap().spec.unwrap();
    assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.0.1"));
    let port = &spec.ports.unwrap()[0];
    assert_eq!((port.name.as_deref(), port.port), (Some("https"), 443));
    sim.stop().await;
}

#[tokio::test]
async fn discovery_lists_builtins_and_crds() {
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    // Both the legacy documents and aggregated discovery (apidiscovery.k8s.io/v2).
    let legacy = kube::Discovery::new(sim.client.clone())
        .run()
        .await
        .unwrap();
    let aggregated = kube::Discovery::new(sim.client.clone())
        .run_aggregated()
        .await
        .unwrap();
    for discovery in [legacy, aggregated] {
        let (widget, caps) = discovery
            .groups()
            .flat_map(|g| g.recommended_resources())
            .find(|(r, _)| r.kind == "Widget")
            .expect("Widget discovered");
        assert_eq!(
            (widget.group.as_str(), widget.plural.as_str()),
            ("test.kubesim.io", "widgets")
        );
        assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
        assert!(caps.subresources.iter().any(|(r, _)| r.plural == "status"));
        for kind in [
            "Namespace",
            "Secret",
            "Lease",
            "Deployment",
            "ClusterRole",
            "PodDisruptionBudget",
            "CustomResourceDefinition",
        ] {
            assert!(
                discovery
                    .groups()
                    .flat_map(|g| g.recommended_resources())
                    .any(|(r, _)| r.kind == kind),
                "{kind} discovered"
            );
        }
    }
    // The aggregated run needs no per-group documents: only the legacy run fetched one.
    let group_docs = sim
        .handle
        .requests()
        .iter()
        .filter(|r| r.path == "/apis/test.kubesim.io/v1")
        .count();
    assert_eq!(group_docs, 1);
    sim.stop().await;
}

#[tokio::test]
async fn deleting_a_crd_removes_its_objects_and_its_api() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    let api = sim.widgets("default");
    let mut held = widget("held", 1);
    held.metadata.finalizers = Some(vec!["test/hold".into()]);
    api.create(&PostParams::default(), &held).await.unwrap();
    api.create(&PostParams::default(), &widget("free", 1))
        .await
        .unwrap();

    let mut watch = api
        .watch(&kube::api::WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    let crds: Api<CustomResourceDefinition> = Api::all(sim.client.clone());
    crds.delete("widgets.test.kubesim.io", &DeleteParams::default())
        .await
        .unwrap();
    let a = api.clone();
    eventually(5, "unfinalized widget deleted", || {
        let a = a.clone();
        async move { a.get_opt("free").await.unwrap().is_none().then_some(()) }
    })
    .await;
    // The CRD waits for its last object, which waits for its finalizer.
    let crd = crds.get("widgets.test.kubesim.io").await.unwrap();
    assert!(crd.metadata.deletion_timestamp.is_some());
    assert!(
        api.get("held")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    );
    api.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    let c = crds.clone();
    eventually(5, "CRD gone", || {
        let c = c.clone();
        async move {
            c.get_opt("widgets.test.kubesim.io")
                .await
                .unwrap()
                .is_none()
                .then_some(())
        }
    })
    .await;
    let gone = api_error(api.list(&ListParams::default()).await);
    assert_eq!(gone.code, 404);
    // Watches on the removed resource end.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Some(e) = watch.next().await {
            e.unwrap();
        }
    });
    assert!(ended.await.is_ok(), "watch ended with its CRD");
    sim.stop().await;
}

#[tokio::test]
async fn builtin_defaults_and_collection_delete() {
    let sim = Sim::start().await;
    let secrets: Api<Secret> = Api::namespaced(sim.client.clone(), "default");
    let s: Secret = serde_json::from_value(json!({
        "metadata": {"name": "creds", "labels": {"group": "a"}},
        "stringData": {"password": "hunter2"}
    }))
    .unwrap();
    let stored = secrets.create(&PostParams::default(), &s).await.unwrap();
    assert_eq!(stored.type_.as_deref(), Some("Opaque"));
    assert_eq!(stored.data.unwrap()["password"].0, b"hunter2");
    assert!(stored.string_data.is_none());

    // ObjectMeta rules hold for every kind: a label value may not contain '/'.
    let bad: Secret = serde_json::from_value(
        json!({"metadata": {"name": "bad", "labels": {"stackops.io/stack": "ns/name"}}}),
    )
    .unwrap();
    let err = api_error(secrets.create(&PostParams::default(), &bad).await);
    assert_eq!(err.code, 422);
    assert!(
        err.message
            .starts_with("Secret \"bad\" is invalid: metadata.labels: Invalid value: \"ns/name\""),
        "{}",
        err.message
    );

    let ns: Namespace = Api::all(sim.client.clone()).get("default").await.unwrap();
    assert_eq!(
        ns.metadata.labels.unwrap()["kubernetes.io/metadata.name"],
        "default"
    );

    let other: Secret =
        serde_json::from_value(json!({"metadata": {"name": "other", "labels": {"group": "b"}}}))
            .unwrap();
    secrets
        .create(&PostParams::default(), &other)
        .await
        .unwrap();
    secrets
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("group=a"),
        )
        .await
        .unwrap();
    let left: Vec<_> = secrets
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|s| s.metadata.name.unwrap())
        .collect();
    assert_eq!(left, ["other"]);
    sim.stop().await;
}

#[tokio::test]
async fn request_log_is_readable_and_resettable_over_http() {
    let sim = Sim::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(sim.client.clone(), "default");
    cms.list(&ListParams::default()).await.unwrap();
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("x".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    cms.create(&PostParams::default(), &cm).await.unwrap();

    let get = |path: &str| http::Request::get(path).body(Vec::new()).unwrap();
    let log: serde_json::Value = sim.client.request(get("/kubesim/requests")).await.unwrap();
    assert_eq!(log["writes"], 1);
    assert_eq!(log["counts"]["list"], 1);
    let create = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["verb"] == "create")
        .unwrap();
    assert_eq!(create["path"], "/api/v1/namespaces/default/configmaps");
    assert_eq!(create["code"], 201);
    assert!(
        create["user_agent"].is_string() && create["user"] == "",
        "{create}"
    );

    let reset = http::Request::post("/kubesim/reset-counters")
        .body(Vec::new())
        .unwrap();
    sim.client.request_text(reset).await.unwrap();
    let log: serde_json::Value = sim.client.request(get("/kubesim/requests")).await.unwrap();
    assert_eq!(log["writes"], 0);
    assert_eq!(sim.handle.writes(), 0);
    sim.stop().await;
}

#[tokio::test]
async fn lists_read_consistent_snapshots() {
    let sim = Sim::with_config(kubesim::Config {
        history: 50,
        ..Default::default()
    })
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(sim.client.clone(), "default");
    for n in ["a", "b", "c", "d"] {
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(n.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
    let first = cms.list(&ListParams::default().limit(2)).await.unwrap();
    let snapshot_rv = first.metadata.resource_version.clone().unwrap();
    // Changes after the first page do not show on the next one.
    cms.delete("d", &DeleteParams::default()).await.unwrap();
    cms.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"new": "1"}})),
    )
    .await
    .unwrap();
    let token = first.metadata.continue_.unwrap();
    let second = cms
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    let names: Vec<_> = second
        .items
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["c", "d"]);
    assert!(
        second.items[0].data.is_none(),
        "c as it was at {snapshot_rv}"
    );

    // An exact list of a past version sees that past.
    let past = cms
        .list(
            &ListParams::default()
                .at(&snapshot_rv)
                .matching(kube::api::VersionMatch::Exact),
        )
        .await
        .unwrap();
    // Four and the namespace's root CA.
    assert_eq!(past.items.len(), 5);
    assert_eq!(
        cms.list(&ListParams::default()).await.unwrap().items.len(),
        4
    );

    // Once the history has moved on, the token has expired.
    sim.handle.churn(60);
    let expired = api_error(
        cms.list(&ListParams::default().limit(2).continue_token(&token))
            .await,
    );
    assert_eq!((expired.code, expired.reason.as_str()), (410, "Expired"));
    // As its message says, it carries a token for the rest of the list at
    // the latest version.
    assert!(
        expired
            .message
            .contains("use the continue token in this response")
    );
    let next = expired
        .metadata
        .and_then(|m| m.continue_)
        .expect("a continue token in the 410");
    let rest = cms
        .list(&ListParams::default().continue_token(&next))
        .await
        .unwrap();
    let names: Vec<_> = rest
        .items
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(
        names,
        ["c", "kube-root-ca.crt"],
        "after b, as the list is now"
    );
    sim.stop().await;
}

#[tokio::test]
async fn crd_selectable_fields_work_as_field_selectors() {
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    let api = sim.widgets("default");
    for (n, size) in [("a", 1), ("b", 2), ("c", 2)] {
        api.create(&PostParams::default(), &widget(n, size))
            .await
            .unwrap();
    }
    let two = api
        .list(&ListParams::default().fields("spec.size=2"))
        .await
        .unwrap();
    assert_eq!(two.items.len(), 2);
    let bad = api_error(api.list(&ListParams::default().fields("spec.tier=x")).await);
    assert_eq!(
        (bad.code, bad.message.as_str()),
        (400, "field label not supported: spec.tier")
    );
    sim.stop().await;
}

/// A Service as upstream's strategy shapes it: created with an empty
/// `status.loadBalancer`, and a DELETE that answers with the deleted
/// Service (ReturnDeletedObject), which generated clients decode as one.
#[tokio::test]
async fn services_are_created_with_a_status_and_deleted_with_their_body() {
    use k8s_openapi::api::core::v1::{Service, ServiceAccount};
    let sim = Sim::start().await;
    let services: Api<Service> = Api::namespaced(sim.client.clone(), "default");
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
    }))
    .unwrap();
    let created = services
        .create(&PostParams::default(), &service)
        .await
        .unwrap();
    let status = serde_json::to_value(created.status).unwrap();
    assert_eq!(status, json!({"loadBalancer": {}}));
    let deleted = services
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    let body = deleted.left().expect("the deleted Service, not a Status");
    assert_eq!(body.metadata.name.as_deref(), Some("web"));

    let accounts: Api<ServiceAccount> = Api::namespaced(sim.client.clone(), "default");
    let account: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "robot"}})).unwrap();
    accounts
        .create(&PostParams::default(), &account)
        .await
        .unwrap();
    let deleted = accounts
        .delete("robot", &DeleteParams::default())
        .await
        .unwrap();
    assert!(deleted.left().is_some(), "the deleted ServiceAccount");
    // Other kinds answer with a Status.
    let maps: Api<ConfigMap> = Api::namespaced(sim.client.clone(), "default");
    let map: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "m"}})).unwrap();
    maps.create(&PostParams::default(), &map).await.unwrap();
    let deleted = maps.delete("m", &DeleteParams::default()).await.unwrap();
    assert!(deleted.right().is_some(), "a Status for a ConfigMap");
}
