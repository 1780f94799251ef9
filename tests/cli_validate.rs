//! `stackops validate` and `stackops crds` as a user runs them.

use std::process::Command;

fn stackops() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stackops"))
}

fn examples(name: &str) -> String {
    format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// `stackops validate` of `example` with each `(from, to)` replaced once:
/// exit code, stdout and stderr.
fn validate_variant(example: &str, replacements: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut text = std::fs::read_to_string(examples(example)).unwrap();
    for (from, to) in replacements {
        assert!(text.contains(from), "{example} has no {from:?}");
        text = text.replacen(from, to, 1);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.yaml");
    std::fs::write(&file, text).unwrap();
    let out = stackops()
        .args(["validate", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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

#[test]
fn validate_reads_unquoted_yaml_1_1_booleans_as_kubectl_does() {
    // kubectl reads unquoted `no` as false; the API server refuses it in a
    // string field with these words.
    let (code, _, stderr) = validate_variant(
        "ecommerce.yaml",
        &[
            ("engine: postgres", "engine: no"),
            ("team: storefront", "team: off"),
        ],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(r#"spec.database.engine: Invalid value: "boolean": spec.database.engine in body must be of type string: "boolean""#),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"spec.tags.team: Invalid value: "boolean": spec.tags.team in body must be of type string: "boolean""#),
        "{stderr}"
    );
    // Quoted, the same words are strings.
    let (code, _, stderr) =
        validate_variant("ecommerce.yaml", &[("team: storefront", "team: \"off\"")]);
    assert_eq!(code, Some(0), "{stderr}");
    // A boolean field takes YAML 1.1's words for true and false.
    for word in ["yes", "Yes", "on", "ON", "y", "True", "no", "off", "N"] {
        let (code, _, stderr) = validate_variant(
            "ecommerce.yaml",
            &[("azCount: 2", &format!("azCount: 2\n    flowLogs: {word}"))],
        );
        assert_eq!(code, Some(0), "flowLogs: {word}: {stderr}");
    }
    // Words YAML 1.1 does not know stay strings, and a boolean field refuses them.
    let (code, _, stderr) = validate_variant(
        "ecommerce.yaml",
        &[("azCount: 2", "azCount: 2\n    flowLogs: yEs")],
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(r#"spec.network.flowLogs: Invalid value: "string": spec.network.flowLogs in body must be of type boolean: "string""#),
        "{stderr}"
    );
}

#[test]
fn validate_reads_yaml_1_1_numbers_as_kubectl_does() {
    // An octal port: kubectl sends 0755 as 493.
    let (code, _, stderr) = validate_variant("ecommerce.yaml", &[("port: 8080", "port: 017620")]);
    assert_eq!(code, Some(0), "017620 is 8080 in octal: {stderr}");
    let (code, _, stderr) = validate_variant("ecommerce.yaml", &[("minSize: 3", "minSize: ~")]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("spec.app.minSize"), "{stderr}");
}

#[test]
fn validate_names_a_missing_required_field_itself() {
    let (code, _, stderr) = validate_variant("booking.yaml", &[("  region: eu-west-1\n", "")]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("  - spec.region: Required value"),
        "{stderr}"
    );
}

#[test]
fn validate_checks_the_region_against_its_partitions_known_regions() {
    // Of the pattern's shape, so admission lets it through; unknown to the list.
    let (code, _, stderr) = validate_variant(
        "booking.yaml",
        &[("region: eu-west-1", "region: eu-wset-1")],
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(
            r#"spec.region: Unsupported value: "eu-wset-1": not a region of partition aws"#
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("stackops.io/allow-unknown-region"),
        "the refusal says how to let a new region through: {stderr}"
    );
    // Each partition's regions are known.
    for region in [
        "us-east-1",
        "ap-southeast-7",
        "cn-northwest-1",
        "us-gov-west-1",
    ] {
        let (code, _, stderr) = validate_variant(
            "booking.yaml",
            &[("region: eu-west-1", &format!("region: {region}"))],
        );
        assert_eq!(code, Some(0), "{region}: {stderr}");
    }
    // A region newer than this release, with the annotation that lets it through.
    let (code, stdout, stderr) = validate_variant(
        "booking.yaml",
        &[
            ("region: eu-west-1", "region: eu-east-9"),
            (
                "  name: bookings\n",
                "  name: bookings\n  annotations:\n    stackops.io/allow-unknown-region: \"true\"\n",
            ),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("is valid"), "{stdout}");
    // Not of a region's shape at all: the CRD's pattern refuses it at admission.
    let (code, _, stderr) =
        validate_variant("booking.yaml", &[("region: eu-west-1", "region: europe")]);
    assert_eq!(code, Some(1));
    assert!(
        stderr
            .contains(r#"spec.region: Invalid value: "europe": spec.region in body should match"#),
        "{stderr}"
    );
}

#[test]
fn validate_refuses_a_load_balancer_certificate_from_another_region() {
    let (code, _, stderr) = validate_variant(
        "ecommerce.yaml",
        &[(
            "idleTimeoutSeconds: 60",
            "idleTimeoutSeconds: 60\n    certificateArn: arn:aws:acm:us-east-1:123456789012:certificate/abc-123",
        )],
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(
            "spec.loadBalancer.certificateArn: Invalid value: \"object\": the load balancer's certificate must be in the stack's region"
        ),
        "{stderr}"
    );
    let (code, _, stderr) = validate_variant(
        "ecommerce.yaml",
        &[(
            "idleTimeoutSeconds: 60",
            "idleTimeoutSeconds: 60\n    certificateArn: arn:aws:acm:eu-west-1:123456789012:certificate/abc-123\n    domainName: origin.shop.example.com",
        )],
    );
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn behind_the_cdn_a_load_balancer_certificate_needs_the_name_it_covers() {
    // CloudFront reaches it over HTTPS: at a name the certificate covers.
    let (code, _, stderr) = validate_variant(
        "ecommerce.yaml",
        &[(
            "idleTimeoutSeconds: 60",
            "idleTimeoutSeconds: 60\n    certificateArn: arn:aws:acm:eu-west-1:123456789012:certificate/abc-123",
        )],
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("spec.loadBalancer.domainName: Required value: with a certificate and the CDN's API paths"),
        "{stderr}"
    );
    // A name without a certificate means nothing: refused as the API server would.
    let (code, _, stderr) = validate_variant(
        "ecommerce.yaml",
        &[(
            "idleTimeoutSeconds: 60",
            "idleTimeoutSeconds: 60\n    domainName: origin.shop.example.com",
        )],
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("spec.loadBalancer.domainName: Invalid value: \"object\": domainName is the name the certificate covers: it needs certificateArn"),
        "{stderr}"
    );
}

#[test]
fn validate_refuses_a_cdn_certificate_outside_us_east_1_and_arns_of_another_partition() {
    let cdn = |arn: &str| {
        validate_variant(
            "ecommerce.yaml",
            &[
                (
                    "# aliases: [shop.example.com]",
                    "aliases: [shop.example.com]",
                ),
                (
                    "# certificateArn: arn:aws:acm:us-east-1:123456789012:certificate/...",
                    &format!("certificateArn: {arn}"),
                ),
            ],
        )
    };
    let (code, _, stderr) = cdn("arn:aws:acm:eu-west-1:123456789012:certificate/abc-123");
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("spec.frontend.cdn.certificateArn")
            && stderr.contains("CloudFront certificates must be in us-east-1"),
        "{stderr}"
    );
    let (code, _, stderr) = cdn("arn:aws:acm:us-east-1:123456789012:certificate/abc-123");
    assert_eq!(code, Some(0), "{stderr}");
    // Right region name, wrong partition: no AWS call can use it.
    let (code, _, stderr) = cdn("arn:aws-us-gov:acm:us-east-1:123456789012:certificate/abc-123");
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(r#"spec.frontend.cdn.certificateArn: Invalid value: "arn:aws-us-gov:acm:us-east-1:123456789012:certificate/abc-123": is in partition aws-us-gov"#),
        "{stderr}"
    );
}
