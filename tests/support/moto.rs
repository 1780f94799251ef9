//! A real moto server (the pinned `moto[server]`, through
//! `scripts/moto_server.py`, which adds the instance refresh API) on a free
//! 127.0.0.1 port, started per test and stopped when the handle drops.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_types::sdk_config::SharedCredentialsProvider;
use stackops::aws::AwsSettings;

const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The virtualenv `scripts/install-test-deps.sh` fills.
pub fn test_venv() -> PathBuf {
    if let Some(dir) = std::env::var_os("STACKOPS_TEST_VENV") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache")
        });
    cache.join("stackops/venv")
}

pub struct MotoServer {
    child: Child,
    pub port: u16,
    pub endpoint: String,
}

impl MotoServer {
    /// Starts moto and waits (bounded) until it answers.
    pub fn start() -> Self {
        Self::start_with_latency("")
    }

    /// Starts moto in latency mode: `latency` like `rds=4,nat=2` makes
    /// new resources of those services take that many seconds to become
    /// available, as in AWS (see `scripts/moto_server.py`).
    pub fn start_with_latency(latency: &str) -> Self {
        Self::start_with(&[("STACKOPS_MOTO_LATENCY", latency)])
    }

    /// Starts moto whose account has these applied quotas, like
    /// `vpc/L-F678F1CE=1` (see `scripts/moto_server.py`).
    pub fn start_with_quotas(quotas: &str) -> Self {
        Self::start_with(&[("STACKOPS_MOTO_QUOTAS", quotas)])
    }

    /// Starts moto with the launcher's settings in `env`.
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        let python = test_venv().join("bin/python");
        assert!(
            test_venv().join("bin/moto_server").exists(),
            "moto is missing from {}: run scripts/install-test-deps.sh first",
            test_venv().display()
        );
        let launcher = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/moto_server.py");
        let port = free_port();
        let child = Command::new(&python)
            .args([launcher, "-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let mut server = Self {
            child,
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("moto_server exited early: {status}");
            }
            if self.post("/moto-api/reset").is_ok_and(|code| code == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("moto_server did not answer within {READY_TIMEOUT:?}");
    }

    /// Clears every resource moto holds.
    pub fn reset(&self) {
        assert_eq!(self.post("/moto-api/reset").unwrap(), 200);
    }

    /// POSTs to moto's own API; returns the HTTP status code.
    pub fn post(&self, path: &str) -> std::io::Result<u16> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad response: {response:.80}")))
    }

    /// One call of an AWS JSON-protocol API (`target` like
    /// `secretsmanager.ListSecrets`), answered body as JSON. moto does not
    /// check signatures; the credential scope names service and region.
    pub fn json_call(
        &self,
        region: &str,
        service: &str,
        target: &str,
        body: &serde_json::Value,
    ) -> serde_json::Value {
        let body = body.to_string();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Amz-Target: {target}\r\n\
             Content-Type: application/x-amz-json-1.1\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=x\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (_, json) = response.split_once("\r\n\r\n").unwrap();
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json:.200}"))
    }

    /// Every secret value Secrets Manager holds in `region`.
    pub fn secret_values(&self, region: &str) -> Vec<String> {
        let listed = self.json_call(
            region,
            "secretsmanager",
            "secretsmanager.ListSecrets",
            &serde_json::json!({}),
        );
        listed["SecretList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|secret| {
                let value = self.json_call(
                    region,
                    "secretsmanager",
                    "secretsmanager.GetSecretValue",
                    &serde_json::json!({"SecretId": secret["ARN"]}),
                );
                value["SecretString"].as_str().unwrap().to_string()
            })
            .collect()
    }

    /// The operator's own client settings, pointed at this server.
    pub fn settings(&self) -> AwsSettings {
        settings_for(&self.endpoint)
    }

    /// Environment for a `stackops` subprocess: the standard AWS variables.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on right now, on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The operator's own client settings with test credentials, for `endpoint`.
pub fn settings_for(endpoint: &str) -> AwsSettings {
    AwsSettings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint.to_string()),
        credentials: Some(SharedCredentialsProvider::new(Credentials::for_tests())),
        ..AwsSettings::default()
    }
}
