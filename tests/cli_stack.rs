//! `stackops plan | apply | destroy` as a user runs them, against moto
//! through the standard AWS environment variables.

mod support;

use std::process::{Command, Output};

use support::moto::MotoServer;

fn stackops(moto: &MotoServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stackops"))
        .args(args)
        .envs(moto.env())
        .output()
        .unwrap()
}

fn example(name: &str) -> String {
    format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn plan_apply_plan_destroy_round_trip() {
    let moto = MotoServer::start();
    // The example protects its database; this round trip deletes it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.yaml");
    let text = std::fs::read_to_string(example("ecommerce.yaml"))
        .unwrap()
        .replace("deletionProtection: true", "deletionProtection: false")
        .replace("deletionPolicy: Snapshot", "deletionPolicy: Delete");
    std::fs::write(&path, text).unwrap();
    let file = path.to_string_lossy().to_string();

    let plan = stackops(&moto, &["plan", "-f", &file]);
    let stdout = String::from_utf8_lossy(&plan.stdout);
    assert_eq!(plan.status.code(), Some(2), "changes pending: {stdout}");
    assert!(stdout.contains("+ network/vpc"), "{stdout}");
    assert!(
        stdout.contains("Plan: 49 to create, 0 to update, 0 to delete, 0 unchanged."),
        "{stdout}"
    );
    assert!(
        !stdout.contains("Not yet implemented"),
        "every part of the spec is built: {stdout}"
    );

    let apply = stackops(&moto, &["apply", "-f", &file]);
    let stdout = String::from_utf8_lossy(&apply.stdout);
    assert_eq!(
        apply.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&apply.stderr)
    );
    assert!(
        stdout.contains("[pass 1] created VPC network/vpc"),
        "{stdout}"
    );
    assert!(stdout.contains("Ready: 49 resources."), "{stdout}");

    let again = stackops(&moto, &["plan", "-f", &file]);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("Plan: 0 to create, 0 to update, 0 to delete, 49 unchanged."),
        "{stdout}"
    );
    assert!(stdout.contains("(0 mutating"), "{stdout}");

    let destroy = stackops(&moto, &["destroy", "-f", &file]);
    let stdout = String::from_utf8_lossy(&destroy.stdout);
    assert_eq!(destroy.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("Destroyed: nothing tagged with this stack is left."),
        "{stdout}"
    );
}

#[test]
fn an_invalid_spec_is_refused_before_any_aws_call() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    let text = std::fs::read_to_string(example("ecommerce.yaml"))
        .unwrap()
        .replace("maxSize: 6", "maxSize: 1");
    std::fs::write(&file, text).unwrap();
    // Nothing listens on port 9: any AWS call would fail differently.
    let out = Command::new(env!("CARGO_BIN_EXE_stackops"))
        .args(["apply", "-f"])
        .arg(&file)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "spec.app.minSize: Invalid value: \"object\": minSize must not exceed maxSize"
        ),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("AWS calls"));
}

#[test]
fn a_spec_failing_only_the_semantic_checks_is_refused_before_any_aws_call() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("overlap.yaml");
    // Valid for the schema and CEL; the app subnet overlaps a public one.
    let text = std::fs::read_to_string(example("ecommerce.yaml")).unwrap().replace(
        "    natMode: single",
        "    natMode: single\n    subnets:\n      public: [10.20.0.0/24, 10.20.1.0/24]\n      app: [10.20.0.0/20, 10.20.32.0/20]\n      data: [10.20.64.0/24, 10.20.65.0/24]",
    );
    std::fs::write(&file, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stackops"))
        .args(["plan", "-f"])
        .arg(&file)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("spec.network.subnets.app[0]"), "{stderr}");
    assert!(
        !stderr.contains("availability zones"),
        "no AWS call was tried: {stderr}"
    );
}

#[test]
fn destroy_stops_at_a_protected_database_and_resumes_when_the_spec_lifts_it() {
    let moto = MotoServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.yaml");
    let protected = std::fs::read_to_string(example("ecommerce.yaml")).unwrap();
    std::fs::write(&path, &protected).unwrap();
    let file = path.to_string_lossy().to_string();
    assert_eq!(
        stackops(&moto, &["apply", "-f", &file]).status.code(),
        Some(0)
    );

    let stopped = stackops(&moto, &["destroy", "-f", &file, "--timeout", "120"]);
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("refuses deletion"), "{stderr}");
    assert!(
        stderr.contains("[Blocked]") && stderr.contains("spec.database.deletionProtection"),
        "{stderr}"
    );

    std::fs::write(
        &path,
        protected.replace("deletionProtection: true", "deletionProtection: false"),
    )
    .unwrap();
    let resumed = stackops(&moto, &["destroy", "-f", &file]);
    let stdout = String::from_utf8_lossy(&resumed.stdout);
    assert_eq!(resumed.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("final snapshot"),
        "the Snapshot policy keeps the data: {stdout}"
    );
}

#[test]
fn destroying_an_orphan_stack_deletes_nothing_and_calls_no_aws() {
    let moto = MotoServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.yaml");
    let text = std::fs::read_to_string(example("ecommerce.yaml"))
        .unwrap()
        .replacen("  region: ", "  deletionPolicy: Orphan\n  region: ", 1);
    assert!(text.contains("deletionPolicy: Orphan"), "{text}");
    std::fs::write(&path, text).unwrap();
    let file = path.to_string_lossy().to_string();
    let apply = stackops(&moto, &["apply", "-f", &file]);
    assert_eq!(
        apply.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&apply.stderr)
    );

    let destroy = stackops(&moto, &["destroy", "-f", &file]);
    let stdout = String::from_utf8_lossy(&destroy.stdout);
    assert_eq!(destroy.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("deletionPolicy is Orphan: nothing is deleted"),
        "{stdout}"
    );
    // Everything is still there: a plan finds nothing to do.
    let plan = stackops(&moto, &["plan", "-f", &file]);
    let stdout = String::from_utf8_lossy(&plan.stdout);
    assert!(
        stdout.contains("Plan: 0 to create, 0 to update, 0 to delete, 49 unchanged."),
        "{stdout}"
    );
}
