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
