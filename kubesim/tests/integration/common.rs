//! Shared harness: an in-process kubesim, a kube-rs client for it, kubectl,
//! and the test CRD.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, CustomResource, CustomResourceExt, KubeSchema};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The test kind: a size that may only grow (a CEL transition rule), a tier
/// from an enum with a default, and a Ready condition in status.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "test.kubesim.io",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus",
    shortname = "wd",
    selectable = ".spec.size",
    printcolumn(json_path = ".spec.size", name = "Size", type_ = "integer"),
    printcolumn(
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        name = "Ready",
        type_ = "string"
    ),
    printcolumn(
        json_path = ".metadata.creationTimestamp",
        name = "Age",
        type_ = "date"
    )
)]
#[x_kube(validation = Rule::new("self.size >= oldSelf.size").message("size may not shrink"))]
pub struct WidgetSpec {
    #[schemars(range(min = 1, max = 10))]
    pub size: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
pub struct WidgetStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
}

pub fn widget(name: &str, size: i32) -> Widget {
    Widget::new(name, WidgetSpec { size, tier: None })
}

pub struct Sim {
    pub handle: kubesim::Handle,
    pub client: Client,
    pub dir: tempfile::TempDir,
}

impl Sim {
    pub async fn start() -> Sim {
        Self::with_config(kubesim::Config {
            bookmark_interval: Duration::from_millis(300),
            ..Default::default()
        })
        .await
    }

    pub async fn with_config(config: kubesim::Config) -> Sim {
        let handle = kubesim::start(config).await.expect("kubesim starts");
        let dir = tempfile::tempdir().expect("tempdir");
        handle
            .write_kubeconfig(&dir.path().join("kubeconfig"))
            .expect("write kubeconfig");
        let kubeconfig = Kubeconfig::from_yaml(&handle.kubeconfig()).expect("kubeconfig parses");
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .expect("client config");
        let client = Client::try_from(config).expect("client");
        Sim {
            handle,
            client,
            dir,
        }
    }

    pub async fn install_widget_crd(&self) {
        let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        crds.create(&PostParams::default(), &Widget::crd())
            .await
            .expect("create CRD");
        let established = await_condition(
            crds,
            "widgets.test.kubesim.io",
            conditions::is_crd_established(),
        );
        tokio::time::timeout(Duration::from_secs(10), established)
            .await
            .expect("CRD established in time")
            .expect("wait works");
    }

    pub fn widgets(&self, ns: &str) -> Api<Widget> {
        Api::namespaced(self.client.clone(), ns)
    }

    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// Runs the pinned kubectl against this server (own HOME, so its
    /// discovery cache starts empty), with `stdin` piped in.
    pub async fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let kubectl = kubectl_path();
        let home = self.dir.path().join("home");
        let mut cmd = tokio::process::Command::new(kubectl);
        cmd.args(args)
            .env("KUBECONFIG", self.kubeconfig_path())
            .env("HOME", &home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn kubectl");
        if let Some(input) = stdin {
            use tokio::io::AsyncWriteExt;
            let mut pipe = child.stdin.take().expect("stdin");
            pipe.write_all(input.as_bytes()).await.expect("write stdin");
        }
        drop(child.stdin.take());
        tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} timed out"))
            .expect("kubectl runs")
    }

    pub async fn stop(self) {
        self.handle.shutdown().await;
    }
}

/// kubectl from the project's test virtualenv (scripts/install-test-deps.sh).
pub fn kubectl_path() -> PathBuf {
    let venv = std::env::var_os("STACKOPS_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache")
                });
            cache.join("stackops/venv")
        });
    let kubectl = venv.join("bin/kubectl");
    assert!(
        kubectl.is_file(),
        "kubectl not found at {}: run `bash scripts/install-test-deps.sh` (or set STACKOPS_TEST_VENV)",
        kubectl.display()
    );
    let version = Command::new(&kubectl)
        .args(["version", "--client"])
        .output()
        .expect("kubectl runs");
    assert!(
        version.status.success(),
        "kubectl at {} does not run",
        kubectl.display()
    );
    kubectl
}

/// Polls `check` until it returns Some, or panics after `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The Status of a failed call.
pub fn api_error<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> kube::core::Status {
    match r {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// A response read whole: status, `Warning` headers and JSON body.
pub struct RawReply {
    pub status: u16,
    pub warnings: Vec<String>,
    pub body: serde_json::Value,
}

impl Sim {
    /// Sends `body` as is (so tests can send what typed clients cannot:
    /// repeated keys, mistyped values) and reads the whole response.
    pub async fn raw(&self, method: &str, path: &str, content_type: &str, body: &str) -> RawReply {
        use http_body_util::BodyExt;
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .body(kube::client::Body::from(body.as_bytes().to_vec()))
            .expect("request");
        let response = self.client.send(request).await.expect("response");
        let status = response.status().as_u16();
        let warnings = response
            .headers()
            .get_all("warning")
            .iter()
            .map(|v| v.to_str().expect("ascii warning").to_string())
            .collect();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        RawReply {
            status,
            warnings,
            body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        }
    }
}
