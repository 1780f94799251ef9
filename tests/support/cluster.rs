//! What every operator test and the benchmark start with: kubesim holding
//! the stackops CRDs, a kubeconfig on disk for the operator process and a
//! client for the test, and the operator binary as a child process that is
//! always stopped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use kube::{Client, Config};
use stackops::api::crds;

/// kubesim with the CRDs installed.
pub struct Cluster {
    pub sim: kubesim::Handle,
    pub client: Client,
    pub kubeconfig: PathBuf,
    /// Scratch directory for the kubeconfig, logs and the like.
    pub dir: tempfile::TempDir,
}

impl Cluster {
    pub async fn start() -> Self {
        let sim = kubesim::start(kubesim::Config::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).unwrap();
        let config = Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::from_yaml(&sim.kubeconfig()).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
        let client = Client::try_from(config).unwrap();
        let definitions: Api<CustomResourceDefinition> = Api::all(client.clone());
        for crd in crds::all() {
            definitions
                .create(&PostParams::default(), &crd)
                .await
                .unwrap();
        }
        Self {
            sim,
            client,
            kubeconfig,
            dir,
        }
    }

    /// A file in the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub async fn shutdown(self) {
        self.sim.shutdown().await;
    }
}

/// `stackops run`, stopped (SIGKILL) on drop.
pub struct Operator(pub Child);

impl Operator {
    /// The operator binary: `STACKOPS_BIN` (e.g. a release build), else the
    /// one cargo built with these tests.
    pub fn binary() -> String {
        std::env::var("STACKOPS_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_stackops").to_string())
    }

    /// Runs `stackops run ARGS` against `kubeconfig`, with `aws_env` (the
    /// AWS endpoint and credentials), its log in `log` or discarded.
    pub fn start(
        kubeconfig: &Path,
        aws_env: impl IntoIterator<Item = (&'static str, String)>,
        log: Option<&Path>,
        args: &[&str],
    ) -> Self {
        let stderr = match log {
            Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
            None => Stdio::null(),
        };
        let child = Command::new(Self::binary())
            .arg("run")
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .envs(aws_env)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        Self(child)
    }

    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
