//! Watch semantics: ordered events from a resourceVersion, bookmarks,
//! timeouts, resuming after a reconnect, 410 Gone and the relist it forces.

use crate::common::{Sim, Widget, widget};
use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use serde_json::json;
use std::time::Duration;

async fn next_event(
    stream: &mut (impl futures::Stream<Item = kube::Result<WatchEvent<Widget>>> + Unpin),
) -> WatchEvent<Widget> {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("event in time")
        .expect("stream open")
        .expect("event decodes")
}

fn describe(e: &WatchEvent<Widget>) -> String {
    match e {
        WatchEvent::Added(w) => format!("ADDED {}", w.metadata.name.as_deref().unwrap()),
        WatchEvent::Modified(w) => format!("MODIFIED {}", w.metadata.name.as_deref().unwrap()),
        WatchEvent::Deleted(w) => format!("DELETED {}", w.metadata.name.as_deref().unwrap()),
        WatchEvent::Bookmark(_) => "BOOKMARK".into(),
        WatchEvent::Error(e) => format!("ERROR {}", e.code),
    }
}

#[tokio::test]
async fn watch_replays_from_a_resource_version_then_bookmarks_and_times_out() {
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    let api = sim.widgets("default");
    let pp = PostParams::default();
    let a = api.create(&pp, &widget("a", 1)).await.unwrap();
    let from = a.metadata.resource_version.clone().unwrap();
    api.create(&pp, &widget("b", 1)).await.unwrap();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"size": 2}})),
    )
    .await
    .unwrap();
    api.delete("b", &DeleteParams::default()).await.unwrap();

    let params = WatchParams::default().timeout(2);
    let mut stream = api.watch(&params, &from).await.unwrap().boxed();
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(describe(&next_event(&mut stream).await));
    }
    assert_eq!(seen, ["ADDED b", "MODIFIED a", "DELETED b"]);
    let last_rv = sim.handle.resource_version();
    match next_event(&mut stream).await {
        WatchEvent::Bookmark(b) => {
            assert!(b.metadata.resource_version.parse::<u64>().unwrap() >= last_rv)
        }
        other => panic!("expected a bookmark, got {}", describe(&other)),
    }
    // timeoutSeconds=2 ends the stream.
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(e) = stream.next().await {
            e.unwrap();
        }
    })
    .await;
    assert!(end.is_ok(), "watch ended after its timeout");
    sim.stop().await;
}

#[tokio::test]
async fn watch_resumes_after_reconnect_and_selector_transitions_are_events() {
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    let api = sim.widgets("default");
    let pp = PostParams::default();
    let start = api
        .create(&pp, &widget("a", 1))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();

    let mut first = api
        .watch(&WatchParams::default(), &start)
        .await
        .unwrap()
        .boxed();
    api.create(&pp, &widget("b", 1)).await.unwrap();
    let seen = match next_event(&mut first).await {
        WatchEvent::Added(w) => w.metadata.resource_version.unwrap(),
        other => panic!("unexpected {}", describe(&other)),
    };
    drop(first);
    // Changes while disconnected are delivered on resume, and nothing twice.
    api.create(&pp, &widget("c", 1)).await.unwrap();
    let mut second = api
        .watch(&WatchParams::default(), &seen)
        .await
        .unwrap()
        .boxed();
    assert_eq!(describe(&next_event(&mut second).await), "ADDED c");

    let selector = WatchParams::default().labels("app=x");
    let now = sim.handle.resource_version().to_string();
    let mut labelled = api.watch(&selector, &now).await.unwrap().boxed();
    let pp2 = PatchParams::default();
    api.patch(
        "a",
        &pp2,
        &Patch::Merge(json!({"metadata": {"labels": {"app": "x"}}})),
    )
    .await
    .unwrap();
    api.patch(
        "a",
        &pp2,
        &Patch::Merge(json!({"metadata": {"labels": {"app": "y"}}})),
    )
    .await
    .unwrap();
    assert_eq!(describe(&next_event(&mut labelled).await), "ADDED a");
    assert_eq!(describe(&next_event(&mut labelled).await), "DELETED a");
    sim.stop().await;
}

#[tokio::test]
async fn compacted_resource_version_is_gone_and_the_watcher_relists() {
    // No bookmarks during the test: the watcher's resourceVersion stays old.
    let sim = Sim::with_config(kubesim::Config {
        history: 10,
        bookmark_interval: Duration::from_secs(600),
        ..Default::default()
    })
    .await;
    sim.install_widget_crd().await;
    let api = sim.widgets("default");
    let old = api
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    sim.handle.churn(30);

    let mut raw = api
        .watch(&WatchParams::default(), &old)
        .await
        .unwrap()
        .boxed();
    match next_event(&mut raw).await {
        WatchEvent::Error(e) => {
            assert_eq!((e.code, e.reason.as_str()), (410, "Expired"));
            assert!(
                e.message.starts_with("too old resource version"),
                "{}",
                e.message
            );
        }
        other => panic!("expected 410, got {}", describe(&other)),
    }

    // A kube-runtime watcher whose watch reconnects after compaction relists.
    let cfg = watcher::Config::default().timeout(1);
    let events = watcher(api.clone(), cfg).boxed();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut events = events;
        while let Some(e) = events.next().await {
            let _ = tx.send(e.map_err(|e| e.to_string()));
        }
    });
    let mut inits = 0;
    let mut saw_late = false;
    let mut churned = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while inits < 2 || !saw_late {
        let e = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("relist in time")
            .unwrap();
        match e {
            Ok(watcher::Event::Init) => inits += 1,
            Ok(watcher::Event::InitDone) if !churned => {
                // Let the first watch start, then write past the history.
                churned = true;
                tokio::time::sleep(Duration::from_millis(200)).await;
                api.create(&PostParams::default(), &widget("late", 1))
                    .await
                    .unwrap();
                sim.handle.churn(30);
            }
            Ok(watcher::Event::InitApply(w)) if inits == 2 => {
                saw_late |= w.metadata.name.as_deref() == Some("late")
            }
            _ => {}
        }
    }
    task.abort();
    let lists = sim
        .handle
        .requests()
        .iter()
        .filter(|r| r.verb == "list" && r.resource == "widgets")
        .count();
    assert!(
        lists >= 2,
        "the watcher listed again after 410 ({lists} lists)"
    );
    sim.stop().await;
}

#[tokio::test]
async fn streaming_list_ends_initial_events_with_a_bookmark() {
    let sim = Sim::start().await;
    sim.install_widget_crd().await;
    let api: Api<Widget> = sim.widgets("default");
    for n in ["a", "b"] {
        api.create(&PostParams::default(), &widget(n, 1))
            .await
            .unwrap();
    }
    let mut stream = watcher(api.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut names = Vec::new();
    loop {
        let e = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
            .await
            .expect("in time")
            .unwrap()
            .unwrap();
        match e {
            watcher::Event::InitApply(w) => names.push(w.metadata.name.unwrap()),
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(names, ["a", "b"]);
    let watched = sim
        .handle
        .requests()
        .into_iter()
        .find(|r| r.verb == "watch" && r.resource == "widgets")
        .unwrap();
    assert!(
        watched.query.contains("sendInitialEvents=true"),
        "{}",
        watched.query
    );
    assert!(
        !sim.handle
            .requests()
            .iter()
            .any(|r| r.verb == "list" && r.resource == "widgets")
    );
    sim.stop().await;
}
