//! The image and the kind end-to-end files, which cannot run here (no
//! Docker engine): what can be checked without building or running them.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap()
}

fn rust_version() -> String {
    let manifest = read("Cargo.toml");
    let line = manifest
        .lines()
        .find(|l| l.starts_with("rust-version"))
        .expect("Cargo.toml declares rust-version");
    line.split('"').nth(1).unwrap().to_string()
}

#[test]
fn dockerfile_declares_the_toolchain_stages_and_non_root_runtime() {
    // No Docker engine here: this reads the Dockerfile for what the image
    // must be (tests/e2e/kind.sh builds it where Docker exists).
    let dockerfile = read("Dockerfile");
    let froms: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "a builder and a runtime stage: {froms:?}");
    assert_eq!(
        froms[0],
        format!("FROM rust:{}-bookworm AS build", rust_version()),
        "the builder uses Cargo.toml's rust-version"
    );
    assert_eq!(froms[1], "FROM gcr.io/distroless/cc-debian12:nonroot");
    assert!(dockerfile.contains("cargo build --release --locked --bin stackops"));
    assert!(dockerfile.lines().any(|l| l == "USER 65532:65532"));
    // The chart's pod security context runs the same uid.
    let values: Value = serde_yaml_ng::from_str(&read("charts/stackops/values.yaml")).unwrap();
    assert_eq!(values["podSecurityContext"]["runAsUser"], 65532);
    // The chart's args start with the subcommand: the entrypoint is the binary.
    assert!(dockerfile.contains(r#"ENTRYPOINT ["/usr/local/bin/stackops"]"#));
}

#[test]
fn dockerignore_keeps_what_the_release_build_reads() {
    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    for needed in ["src", "Cargo.toml", "Cargo.lock", "kubesim", "kubesim/src"] {
        assert!(
            !ignored.iter().any(|i| i == needed),
            ".dockerignore drops {needed}"
        );
    }
    for heavy in ["target", ".git"] {
        assert!(ignored.iter().any(|i| i == heavy), "{heavy} is ignored");
    }
}

#[test]
fn kind_script_is_valid_bash_and_names_existing_files() {
    let script = Path::new(ROOT).join("tests/e2e/kind.sh");
    let status = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .unwrap();
    assert!(status.success(), "bash -n tests/e2e/kind.sh");
    let text = read("tests/e2e/kind.sh");
    for path in [
        "kind-config.yaml",
        "scripts/moto_server.py",
        "scripts/moto_prices.py",
        "scripts/leftovers.py",
        "scripts/install-test-deps.sh",
        "tests/e2e/aws-emulator.yaml",
        "tests/e2e/localstack.yaml",
        "charts/stackops",
        "examples/",
    ] {
        assert!(text.contains(path), "kind.sh uses {path}");
        assert!(Path::new(ROOT).join(path).exists(), "{path} exists");
    }
    // The in-cluster moto is the pinned one of the test requirements.
    let pin = read("scripts/test-requirements.txt")
        .lines()
        .find(|l| l.starts_with("moto[server]=="))
        .unwrap()
        .to_string();
    assert!(read("tests/e2e/aws-emulator.yaml").contains(&format!("'{pin}'")));
    // The chart is pointed at the emulator's Service.
    assert!(text.contains("aws.endpointUrl=http://aws.aws.svc.cluster.local:5000"));
}

fn documents(path: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(&read(path))
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .filter(|v: &Value| !v.is_null())
        .collect()
}

#[test]
fn kind_config_and_e2e_manifests_are_valid() {
    let config = documents("kind-config.yaml").remove(0);
    assert_eq!(config["apiVersion"], "kind.x-k8s.io/v1alpha4");
    assert_eq!(config["kind"], "Cluster");
    let nodes = config["nodes"].as_array().unwrap();
    assert!(nodes.iter().any(|n| n["role"] == "control-plane"));
    for node in nodes {
        assert!(
            node["image"]
                .as_str()
                .unwrap()
                .starts_with("kindest/node:v1.33."),
            "{node}"
        );
    }

    let objects: Vec<Value> = ["tests/e2e/aws-emulator.yaml", "tests/e2e/localstack.yaml"]
        .iter()
        .flat_map(|p| documents(p))
        .collect();
    let python = support::moto::test_venv().join("bin/python");
    let mut child = Command::new(python)
        .arg(Path::new(ROOT).join("tests/tools/helm_chart.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let request = json!({"kube_version": "1.33", "objects": objects});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    let results = answer["objects"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    for (object, result) in objects.iter().zip(results) {
        assert_eq!(
            result, "ok",
            "{}/{}",
            object["kind"], object["metadata"]["name"]
        );
    }
}
