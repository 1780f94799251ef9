//! `stackops validate` and `stackops crds` as a user runs them.

use std::process::Command;

fn stackops() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stackops"))
}

fn examples(name: &str) -> String {
    format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn validate_accepts_both_examples() {
    let out = stackops()
        .args([
            "validate",
            "-f",
            &examples("booking.yaml"),
            "-f",
            &examples("ecommerce.yaml"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("BookingPlatform default/bookings is valid"),
        "{stdout}"
    );
    assert!(
        stdout.contains("EcommerceStack default/shop is valid"),
        "{stdout}"
    );
}

#[test]
fn validate_lists_every_problem_by_field_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    let text = std::fs::read_to_string(examples("booking.yaml"))
        .unwrap()
        .replace("backupRetentionDays: 14", "backupRetentionDays: 40")
        .replace("engine: postgres", "engine: oracle");
    std::fs::write(&file, text).unwrap();
    let out = stackops()
        .args(["validate", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("spec.database.backupRetentionDays"),
        "{stderr}"
    );
    assert!(stderr.contains("spec.database.engine"), "{stderr}");
}

#[test]
fn validate_refuses_a_file_without_stacks_and_unreadable_files() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "---\n").unwrap();
    let out = stackops()
        .args(["validate", "-f"])
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = stackops()
        .args(["validate", "-f", "/nonexistent/stack.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn crds_prints_both_definitions() {
    let out = stackops().arg("crds").output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("name: ecommercestacks.stackops.io"));
    assert!(stdout.contains("name: bookingplatforms.stackops.io"));
}
