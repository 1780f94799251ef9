//! Watch streams: newline-delimited `{"type": ..., "object": ...}` events, as
//! kube-apiserver serves them over chunked HTTP/1.1.
//!
//! - no resourceVersion (or "0"): synthetic ADDED for every current object first;
//! - resourceVersion N: every change after N, from the bounded history; a
//!   compacted N gets an ERROR event carrying a 410 Expired Status;
//! - `sendInitialEvents=true`: the initial ADDED events end with a BOOKMARK
//!   annotated `k8s.io/initial-events-end` (the streaming-list protocol);
//! - `allowWatchBookmarks=true`: periodic BOOKMARKs with the current resourceVersion;
//! - `timeoutSeconds`: the stream ends after that long.

use crate::error::ApiError;
use crate::resources::ResourceInfo;
use crate::rest::present;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{Event, EventType, Store};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, Clone, Default)]
pub struct WatchParams {
    /// None when the client gave no resourceVersion or "0".
    pub since: Option<u64>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub allow_bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout: Option<Duration>,
    /// Render objects as `meta.k8s.io/v1` Tables (`kubectl get -w`).
    pub as_table: bool,
}

struct Filter {
    info: ResourceInfo,
    params: WatchParams,
}

impl Filter {
    fn matches(&self, obj: &Value) -> bool {
        self.params.labels.matches(&obj["metadata"]["labels"]) && self.params.fields.matches(obj)
    }

    /// The event this watcher sees, if any: selector transitions become
    /// ADDED/DELETED as in the apiserver's watch cache.
    fn translate(&self, e: &Event) -> Option<(&'static str, Value)> {
        // A watch from a resourceVersion ahead of the store sees nothing up to it.
        if self.params.since.is_some_and(|since| e.rv <= since) {
            return None;
        }
        let now = self.matches(&e.object);
        let type_ = match e.type_ {
            EventType::Added | EventType::Deleted if now => e.type_.as_str(),
            EventType::Modified => match (e.old.as_ref().is_some_and(|o| self.matches(o)), now) {
                (true, true) => "MODIFIED",
                (false, true) => "ADDED",
                (true, false) => "DELETED",
                (false, false) => return None,
            },
            _ => return None,
        };
        Some((type_, self.render(&e.object)))
    }

    fn render(&self, obj: &Value) -> Value {
        let obj = present(&self.info, obj);
        if self.params.as_table {
            crate::table::to_table(&self.info, &obj)
        } else {
            obj
        }
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Value {
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        json!({"kind": self.info.kind, "apiVersion": self.info.api_version(), "metadata": metadata})
    }
}

fn line(type_: &str, object: Value) -> Bytes {
    let mut buf = serde_json::to_vec(&json!({"type": type_, "object": object})).unwrap_or_default();
    buf.push(b'\n');
    Bytes::from(buf)
}

/// Starts a watch; returns the receiving end of its byte stream.
pub fn start(
    store: Arc<Mutex<Store>>,
    info: ResourceInfo,
    namespace: Option<String>,
    params: WatchParams,
    bookmark_interval: Duration,
) -> mpsc::Receiver<Bytes> {
    let (out, body) = mpsc::channel::<Bytes>(64);
    let filter = Filter { info, params };
    let gr = filter.info.storage_key();

    let start = {
        let mut s = store.lock().expect("store lock");
        let initial: Vec<Value> = match filter.params.since {
            Some(_) => Vec::new(),
            None => s
                .range(&gr, namespace.as_deref())
                .map(|(_, o)| o.clone())
                .collect(),
        };
        let since = filter.params.since.unwrap_or_else(|| s.resource_version());
        let current = s.resource_version();
        s.subscribe(&gr, namespace.as_deref(), since)
            .map(|sub| (initial, sub, current))
    };

    tokio::spawn(async move {
        let (initial, sub, start_rv) = match start {
            Ok(x) => x,
            Err(oldest) => {
                let requested = filter.params.since.unwrap_or_default();
                let status = ApiError::Gone { requested, oldest }.status();
                let _ = out.send(line("ERROR", status)).await;
                return;
            }
        };
        for obj in initial.iter().filter(|o| filter.matches(o)) {
            if out.send(line("ADDED", filter.render(obj))).await.is_err() {
                return;
            }
        }
        if filter.params.send_initial_events && filter.params.allow_bookmarks {
            let _ = out
                .send(line("BOOKMARK", filter.bookmark(start_rv, true)))
                .await;
        }
        for e in &sub.backlog {
            if let Some((t, o)) = filter.translate(e)
                && out.send(line(t, o)).await.is_err()
            {
                return;
            }
        }
        let mut rx = sub.rx;
        let deadline = filter
            .params
            .timeout
            .map(|t| tokio::time::Instant::now() + t);
        let mut ticker = tokio::time::interval(bookmark_interval);
        ticker.tick().await;
        loop {
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(e) => {
                        if let Some((t, o)) = filter.translate(&e)
                            && out.send(line(t, o)).await.is_err()
                        {
                            break;
                        }
                    }
                    None => break,
                },
                _ = ticker.tick(), if filter.params.allow_bookmarks => {
                    // Under the lock every event up to the current resourceVersion
                    // is already queued: send those first so the bookmark never
                    // claims a version whose events are still in flight.
                    let (pending, rv) = {
                        let s = store.lock().expect("store lock");
                        let mut pending = Vec::new();
                        while let Ok(e) = rx.try_recv() {
                            pending.push(e);
                        }
                        (pending, s.resource_version())
                    };
                    let mut closed = false;
                    for e in pending {
                        if let Some((t, o)) = filter.translate(&e) {
                            closed |= out.send(line(t, o)).await.is_err();
                        }
                    }
                    if closed || out.send(line("BOOKMARK", filter.bookmark(rv, false))).await.is_err() {
                        break;
                    }
                }
                _ = sleep => break,
                _ = out.closed() => break,
            }
        }
        drop(rx);
        store.lock().expect("store lock").prune_watchers();
    });
    body
}
