//! kubesim: a Kubernetes API server emulator for tests.
//!
//! It serves the Kubernetes REST API over plain HTTP on 127.0.0.1 so that
//! unmodified clients — kube-rs controllers, `kubectl` — run against it as they
//! would against kube-apiserver: discovery, CRUD with optimistic concurrency,
//! watches with bookmarks and 410 Gone, status subresources, finalizers,
//! ownerReference garbage collection, CRD schema and CEL validation, and
//! server-side printing (Tables).
//!
//! Not implemented (requests for these fail loudly rather than being approximated):
//! - protobuf/CBOR request bodies (415) other than access reviews and the
//!   objects of `kubectl create configmap|secret|namespace|serviceaccount`:
//!   e.g. `kubectl create deployment` fails; `apply -f`, `create -f` and
//!   kube-rs send JSON and work. Helm has not been run against kubesim (it is
//!   not installable here; its release Secrets go through typed clients);
//! - `/openapi/v2`, and OpenAPI schemas of built-in kinds;
//! - authentication (requests are cluster-admin unless they impersonate a user,
//!   who is then authorized by RBAC), admission webhooks, ValidatingAdmissionPolicy,
//!   CRD conversion webhooks (conversion `None` only);
//! - workload controllers: Pods, Jobs and DaemonSets are stored but never
//!   run, no ReplicaSets, Deployment status never changes (so `kubectl
//!   rollout status` and `helm --wait` never finish);
//! - per-kind validation of built-in kinds other than Leases and Events
//!   (the rest get ObjectMeta validation, decoding into their types and a
//!   few defaults), and upstream's wide (priority > 0) printer columns;
//! - subresources other than `status` (scale, eviction, logs, exec, ...);
//! - field selectors of built-in kinds beyond metadata, Secret `type`,
//!   Namespace `status.phase` and core Event fields;
//! - resourceVersions ahead of the store: upstream waits briefly, then answers
//!   504; kubesim answers exact lists with 400 at once and otherwise ignores them;
//! - persistence: state lives in memory for the life of the server.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = kubesim::start(kubesim::Config::default()).await?;
//! let kubeconfig = sim.kubeconfig();
//! // ... point a client at `kubeconfig` ...
//! assert_eq!(sim.writes(), 0);
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

pub mod authz;
pub mod builtin_schema;
pub mod builtin_validation;
pub mod convert;
pub mod crd;
pub mod decode;
pub mod defaults;
pub mod discovery;
pub mod error;
pub mod fieldset;
pub mod gc;
pub mod meta;
pub mod namespace_defaults;
pub mod openapi;
pub mod partial;
pub mod patch;
pub mod protobuf;
pub mod requests;
pub mod resources;
pub mod rest;
pub mod schema;
pub mod selectors;
pub mod server;
pub mod ssa;
pub mod store;
pub mod table;
pub mod validation;
pub mod watch;

use crate::requests::{RequestLog, RequestRecord};
use crate::server::Shared;
use crate::store::{EventType, ObjectKey, Store};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch as signal;
use tokio::task::JoinHandle;

#[derive(Debug, Clone)]
pub struct Config {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// How many changes the watch history keeps; watches from older
    /// resourceVersions get 410 Gone. etcd's default compaction keeps ~5 minutes.
    pub history: usize,
    /// How often watches that allow bookmarks receive one (upstream: ~1 minute).
    pub bookmark_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 0,
            history: 10_000,
            bookmark_interval: Duration::from_secs(60),
        }
    }
}

/// A running server. Dropping it does not stop it; call [`Handle::shutdown`].
pub struct Handle {
    shared: Arc<Shared>,
    stop: signal::Sender<bool>,
    task: JoinHandle<()>,
}

/// Starts the server on 127.0.0.1 and returns once it accepts connections.
pub async fn start(config: Config) -> std::io::Result<Handle> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.port))).await?;
    let addr = listener.local_addr()?;
    let mut store = Store::new(config.history);
    seed(&mut store);
    let shared = Arc::new(Shared {
        store: Arc::new(Mutex::new(store)),
        log: Mutex::new(RequestLog::default()),
        gc: Default::default(),
        addr,
        bookmark_interval: config.bookmark_interval,
    });
    let (stop, stopped) = signal::channel(false);
    let task = tokio::spawn(run(listener, shared.clone(), stopped));
    Ok(Handle { shared, stop, task })
}

/// The namespaces and default RBAC every cluster has.
fn seed(store: &mut Store) {
    let info = store
        .registry
        .get("", "v1", "namespaces")
        .cloned()
        .expect("built in");
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let obj = serde_json::json!({"metadata": {"name": ns}});
        rest::create(store, &info, "", obj, &Default::default()).expect("seed namespace");
    }
    namespace_defaults::seed_kubernetes_service(store);
    // cluster-admin for system:masters, and system:basic-user (access
    // reviews of oneself) for everyone authenticated, as every cluster has.
    let rbac = "rbac.authorization.k8s.io";
    let defaults = [
        (
            "cluster-admin",
            "system:masters",
            serde_json::json!([
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]}
            ]),
        ),
        (
            "system:basic-user",
            "system:authenticated",
            serde_json::json!([
                {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]}
            ]),
        ),
    ];
    for (name, group, rules) in defaults {
        let role = serde_json::json!({"metadata": {"name": name}, "rules": rules});
        let binding = serde_json::json!({"metadata": {"name": name},
            "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": name},
            "subjects": [{"apiGroup": rbac, "kind": "Group", "name": group}]});
        for (plural, obj) in [("clusterroles", role), ("clusterrolebindings", binding)] {
            let info = store
                .registry
                .get(rbac, "v1", plural)
                .cloned()
                .expect("built in");
            rest::create(store, &info, "", obj, &Default::default()).expect("seed RBAC");
        }
    }
}

async fn run(listener: TcpListener, shared: Arc<Shared>, mut stopped: signal::Receiver<bool>) {
    let mut connections = tokio::task::JoinSet::new();
    let gc = tokio::spawn(gc_loop(shared.clone()));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = shared.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| server::handle(shared.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stopped.changed() => break,
        }
    }
    // Open watches never end on their own; stopping the server ends them.
    connections.abort_all();
    gc.abort();
}

/// The garbage collector and namespace/CRD cleanup run after writes, and on a
/// slow tick for anything a write did not wake them for.
async fn gc_loop(shared: Arc<Shared>) {
    loop {
        tokio::select! {
            _ = shared.gc.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        // Upstream GC is asynchronous too; a short delay batches bursts of writes.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut store = shared.store.lock().expect("store lock");
        gc::collect(&mut store);
    }
}

impl Handle {
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// A kubeconfig document (YAML) pointing at this server.
    pub fn kubeconfig(&self) -> String {
        kubeconfig_yaml(&self.url())
    }

    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig())
    }

    /// Every request served since start (or the last reset), in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.log.lock().expect("log lock").records()
    }

    /// Request counts by verb.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.shared.log.lock().expect("log lock").counts()
    }

    /// Number of create/update/patch/delete requests recorded.
    pub fn writes(&self) -> usize {
        self.requests().iter().filter(|r| r.is_write()).count()
    }

    pub fn reset_counters(&self) {
        self.shared.log.lock().expect("log lock").clear();
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared
            .store
            .lock()
            .expect("store lock")
            .resource_version()
    }

    /// Live watch streams (tests use it to see that clients reconnect).
    pub fn watcher_count(&self) -> usize {
        let mut store = self.shared.store.lock().expect("store lock");
        store.prune_watchers();
        store.watcher_count()
    }

    /// Runs `n` no-op writes to a scratch object so the watch history rolls
    /// over: watches from before are then answered with 410 Gone.
    pub fn churn(&self, n: usize) {
        let mut store = self.shared.store.lock().expect("store lock");
        let key = ObjectKey {
            gr: resources::GroupResource {
                group: "kubesim.internal".into(),
                resource: "churn".into(),
            },
            namespace: String::new(),
            name: "churn".into(),
        };
        for i in 0..n {
            let obj = serde_json::json!({"metadata": {"name": "churn"}, "n": i});
            store.commit(EventType::Modified, key.clone(), obj);
        }
        store.commit(
            EventType::Deleted,
            key,
            serde_json::json!({"metadata": {"name": "churn"}}),
        );
    }

    /// Stops accepting connections and ends open watches.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

pub fn kubeconfig_yaml(server: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: kubesim
  cluster:
    server: {server}
contexts:
- name: kubesim
  context:
    cluster: kubesim
    user: kubesim
    namespace: default
current-context: kubesim
users:
- name: kubesim
  user: {{}}
"
    )
}
