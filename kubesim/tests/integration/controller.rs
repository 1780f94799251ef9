//! A tiny kube-runtime Controller runs against kubesim as against a cluster:
//! initial list, watch, status patch, finalizer added and removed on delete,
//! and a steady-state reconcile that writes nothing.

use crate::common::{Sim, Widget, eventually, widget};
use futures::StreamExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::watcher;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const FINALIZER: &str = "test.kubesim.io/cleanup";

struct Ctx {
    api: Api<Widget>,
    reconciles: AtomicUsize,
    cleanups: AtomicUsize,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Error(String);

async fn reconcile(
    w: Arc<Widget>,
    ctx: Arc<Ctx>,
) -> Result<Action, kube::runtime::finalizer::Error<Error>> {
    ctx.reconciles.fetch_add(1, Ordering::SeqCst);
    let api = ctx.api.clone();
    let counters = ctx.clone();
    finalizer(&ctx.api, FINALIZER, w, |event| async move {
        match event {
            Event::Apply(w) => {
                let generation = w.metadata.generation;
                let current = w.status.as_ref().and_then(|s| s.observed_generation);
                // Write status only when it is out of date: steady state costs no writes.
                if current != generation {
                    let status = json!({"status": {
                        "observed_generation": generation,
                        "conditions": [{"type": "Ready", "status": "True"}]
                    }});
                    let name = w.metadata.name.clone().unwrap();
                    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                        .await
                        .map_err(|e| Error(e.to_string()))?;
                }
                Ok(Action::await_change())
            }
            Event::Cleanup(_) => {
                counters.cleanups.fetch_add(1, Ordering::SeqCst);
                Ok(Action::await_change())
            }
        }
    })
    .await
}

fn error_policy(_: Arc<Widget>, _: &kube::runtime::finalizer::Error<Error>, _: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_millis(200))
}

#[tokio::test]
async fn controller_reconciles_patches_status_and_finalizes() {
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    let api = sim.widgets("default");
    // Exists before the controller starts: must come from the initial list.
    api.create(&PostParams::default(), &widget("early", 1))
        .await
        .unwrap();

    let ctx = Arc::new(Ctx {
        api: api.clone(),
        reconciles: AtomicUsize::new(0),
        cleanups: AtomicUsize::new(0),
    });
    let controller = Controller::new(api.clone(), watcher::Config::default())
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|_| async {});
    let task = tokio::spawn(controller);

    api.create(&PostParams::default(), &widget("late", 2))
        .await
        .unwrap();
    for name in ["early", "late"] {
        let api = api.clone();
        eventually(10, "status Ready and finalizer", || {
            let api = api.clone();
            async move {
                let w = api.get(name).await.ok()?;
                let ready = w
                    .status
                    .as_ref()?
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True");
                let fin = w
                    .metadata
                    .finalizers
                    .as_ref()?
                    .iter()
                    .any(|f| f == FINALIZER);
                (ready && fin && w.status?.observed_generation == w.metadata.generation)
                    .then_some(())
            }
        })
        .await;
    }

    // Steady state: a label change triggers a reconcile that must not write.
    tokio::time::sleep(Duration::from_millis(300)).await;
    sim.handle.reset_counters();
    let before = ctx.reconciles.load(Ordering::SeqCst);
    api.patch(
        "early",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}})),
    )
    .await
    .unwrap();
    let c = ctx.clone();
    eventually(10, "reconcile after label change", || {
        let c = c.clone();
        async move { (c.reconciles.load(Ordering::SeqCst) > before).then_some(()) }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let writes: Vec<_> = sim
        .handle
        .requests()
        .into_iter()
        .filter(|r| r.is_write())
        .collect();
    assert_eq!(writes.len(), 1, "only the test's own patch: {writes:?}");

    // Delete: the finalizer holds the object until cleanup ran.
    api.delete("late", &DeleteParams::default()).await.unwrap();
    let a = api.clone();
    eventually(10, "finalized and removed", || {
        let a = a.clone();
        async move { a.get_opt("late").await.unwrap().is_none().then_some(()) }
    })
    .await;
    assert_eq!(ctx.cleanups.load(Ordering::SeqCst), 1);
    let log = sim.handle.requests();
    assert!(log.iter().any(|r| r.verb == "patch"
        && r.resource == "widgets"
        && r.patch_type == "application/json-patch+json"));
    task.abort();
    sim.stop().await;
}

#[tokio::test]
async fn events_recorded_through_events_k8s_io_show_as_core_events() {
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use kube::Resource;
    use kube::runtime::events::{Event as Recorded, EventType, Recorder, Reporter};
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    let w = sim
        .widgets("default")
        .create(&PostParams::default(), &widget("w", 1))
        .await
        .unwrap();
    let reporter = Reporter {
        controller: "widget-controller".into(),
        instance: None,
    };
    let recorder = Recorder::new(sim.client.clone(), reporter);
    let event = Recorded {
        type_: EventType::Normal,
        reason: "Reconciled".into(),
        note: Some("all good".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    recorder.publish(&event, &w.object_ref(&())).await.unwrap();
    // A repeat becomes a series update (a merge patch through events.k8s.io).
    recorder.publish(&event, &w.object_ref(&())).await.unwrap();

    let core: Api<CoreEvent> = Api::namespaced(sim.client.clone(), "default");
    let listed = core.list(&Default::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    let e = &listed.items[0];
    assert_eq!(e.involved_object.name.as_deref(), Some("w"));
    assert_eq!(
        (e.reason.as_deref(), e.message.as_deref()),
        (Some("Reconciled"), Some("all good"))
    );
    assert_eq!(e.reporting_component.as_deref(), Some("widget-controller"));
    let out = sim
        .kubectl(
            &[
                "get",
                "events",
                "-o",
                "jsonpath={.items[0].involvedObject.kind}",
            ],
            None,
        )
        .await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Widget");
    let out = sim.kubectl(&["get", "events"], None).await;
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{text}"
    );
    assert_eq!(
        &lines[1][1..],
        ["Normal", "Reconciled", "widget/w", "all", "good"],
        "{text}"
    );
    sim.stop().await;
}
