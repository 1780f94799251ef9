//! `docs/iam-policy.json` allows exactly the AWS actions stackops calls.
//!
//! Every AWS call in `src/aws/` maps its error through `sdk("Operation")`
//! (or `AwsError::from_sdk("Operation", ..)`); the service follows from the
//! file's module. The policy must allow each of those actions, plus the few
//! that AWS checks on the caller without a call of their own (IMPLIED), and
//! nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// IAM service prefix of each module under `src/aws/` (a file `x.rs` or a
/// directory `x/`). A new AWS module needs a line here.
const SERVICE_BY_MODULE: &[(&str, &str)] = &[
    ("ec2", "ec2"),
    ("zones", "ec2"),
    ("elbv2", "elasticloadbalancing"),
    ("iam", "iam"),
    ("logs", "logs"),
    ("autoscaling", "autoscaling"),
    ("rds", "rds"),
    ("elasticache", "elasticache"),
    ("secretsmanager", "secretsmanager"),
    ("secrets", "secretsmanager"),
    ("s3", "s3"),
    ("cloudfront", "cloudfront"),
    ("cloudwatch", "cloudwatch"),
    ("alarms", "cloudwatch"),
    ("dashboard", "cloudwatch"),
    ("sns", "sns"),
    ("ssm", "ssm"),
    ("kms", "kms"),
];

/// Modules of `src/aws/` that make no AWS call of their own.
const NOT_SERVICES: &[&str] = &["mod", "calls", "config"];

/// Operations whose IAM action has another name (mostly S3). Add a line
/// when a call's action differs from `service:Operation`.
const ACTION_BY_OPERATION: &[(&str, &str)] = &[
    ("s3:HeadBucket", "s3:ListBucket"),
    ("s3:ListObjectsV2", "s3:ListBucket"),
    ("s3:ListObjectVersions", "s3:ListBucketVersions"),
    ("s3:ListBuckets", "s3:ListAllMyBuckets"),
    ("s3:ListMultipartUploads", "s3:ListBucketMultipartUploads"),
    ("s3:DeleteObjects", "s3:DeleteObject"),
    ("s3:PutBucketEncryption", "s3:PutEncryptionConfiguration"),
    ("s3:GetBucketEncryption", "s3:GetEncryptionConfiguration"),
    ("s3:PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    ("s3:GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"),
    (
        "s3:PutBucketLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
    ),
    (
        "s3:GetBucketLifecycleConfiguration",
        "s3:GetLifecycleConfiguration",
    ),
    ("s3:DeleteBucketLifecycle", "s3:PutLifecycleConfiguration"),
    (
        "cloudfront:CreateDistributionWithTags",
        "cloudfront:CreateDistribution",
    ),
    // Keys have no name: the stack's are found by tag.
    ("kms:GetResources", "tag:GetResources"),
];

/// Actions AWS checks on the caller although stackops makes no such call,
/// each with the call that needs it. Documented in docs/iam-policy.md.
const IMPLIED: &[(&str, &str)] = &[
    (
        "cloudfront:TagResource",
        "CreateDistributionWithTags (tag on create needs the tagging permission)",
    ),
    (
        "s3:DeleteObjectVersion",
        "DeleteObjects naming object versions (emptying a versioned bucket)",
    ),
    (
        "iam:PassRole",
        "CreateAutoScalingGroup with a launch template naming an instance profile, \
         AddRoleToInstanceProfile, CreateFlowLogs with a delivery role",
    ),
    (
        "iam:TagRole",
        "CreateRole with tags (tag on create needs the tagging permission)",
    ),
    ("iam:TagInstanceProfile", "CreateInstanceProfile with tags"),
    (
        "iam:CreateServiceLinkedRole",
        "the first CreateAutoScalingGroup / CreateLoadBalancer of an account",
    ),
    (
        "ec2:RunInstances",
        "CreateAutoScalingGroup / UpdateAutoScalingGroup with a launch template",
    ),
    (
        "elasticloadbalancing:AddTags",
        "CreateLoadBalancer, CreateTargetGroup, CreateListener with tags",
    ),
    ("logs:TagResource", "CreateLogGroup with tags"),
    (
        "ssm:GetParameters",
        "a launch template whose image is resolve:ssm:<public parameter>",
    ),
    (
        "secretsmanager:TagResource",
        "CreateDBInstance with ManageMasterUserPassword (the secret is tagged)",
    ),
    (
        "rds:CreateDBSnapshot",
        "DeleteDBInstance with a final snapshot (deletionPolicy Snapshot)",
    ),
    (
        "elasticache:AddTagsToResource",
        "CreateCacheSubnetGroup and CreateReplicationGroup with tags",
    ),
    (
        "elasticache:CreateSnapshot",
        "DeleteReplicationGroup with a final snapshot (deletionPolicy Snapshot)",
    ),
    ("cloudwatch:TagResource", "PutMetricAlarm with tags"),
    ("sns:TagResource", "CreateTopic with tags"),
    ("kms:TagResource", "CreateKey with tags"),
    ("ssm:AddTagsToResource", "PutParameter with tags"),
];

fn policy_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("iam-policy") && name.ends_with(".json")
        })
        .collect();
    files.sort();
    assert!(
        files.iter().any(|f| f.ends_with("docs/iam-policy.json")),
        "docs/iam-policy.json exists"
    );
    files
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module of `src/aws/` a file belongs to: `ec2` for `ec2/vpc.rs`,
/// `elbv2` for `elbv2.rs`.
fn module_of(file: &Path) -> String {
    let relative = file.strip_prefix(Path::new(ROOT).join("src/aws")).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    first.to_string_lossy().trim_end_matches(".rs").to_string()
}

/// The quoted operation names passed to the error mapper in `code`:
/// `sdk("X")` and `from_sdk("X", ..)`, not `missing("X")` (no AWS call).
fn operations(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("sdk(\"") {
        let before = code[..i].chars().next_back();
        let is_mapper = match before {
            Some(c) if c.is_alphanumeric() => false,
            Some('_') => code[..i].ends_with("from_"),
            _ => true,
        };
        if !is_mapper {
            continue;
        }
        let rest = &code[i + 5..];
        let name = &rest[..rest.find('"').unwrap()];
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()),
            "operation name {name:?}"
        );
        out.push(name.to_string());
    }
    out
}

/// Every `service:Action` the code calls, with the files that call it.
fn called() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&Path::new(ROOT).join("src/aws"), &mut files);
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let code = std::fs::read_to_string(&file).unwrap();
        let ops = operations(&code);
        let module = module_of(&file);
        let shown = file.strip_prefix(ROOT).unwrap().display().to_string();
        if ops.is_empty() {
            continue;
        }
        assert!(
            !NOT_SERVICES.contains(&module.as_str()),
            "{shown} calls AWS: move the call to a service module"
        );
        let service = SERVICE_BY_MODULE
            .iter()
            .find(|(m, _)| *m == module)
            .map(|(_, s)| *s)
            .unwrap_or_else(|| {
                panic!(
                    "{shown} (module `{module}`) calls AWS ({}) but tests/iam_policy.rs \
                     does not know its IAM service: add (\"{module}\", \"<service prefix>\") \
                     to SERVICE_BY_MODULE",
                    ops.join(", ")
                )
            });
        for op in ops {
            let action = format!("{service}:{op}");
            let action = ACTION_BY_OPERATION
                .iter()
                .find(|(from, _)| *from == action)
                .map(|(_, to)| to.to_string())
                .unwrap_or(action);
            out.entry(action).or_default().insert(shown.clone());
        }
    }
    out
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().expect("a string").to_string())
            .collect(),
        other => panic!("expected a string or a list of strings, got {other}"),
    }
}

fn statements() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for file in policy_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let policy: Value = serde_json::from_str(&text).expect("valid JSON");
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(policy["Version"], "2012-10-17", "{name}");
        // A customer managed policy holds at most 6,144 characters, white space aside.
        let size = serde_json::to_string(&policy).unwrap().len();
        assert!(
            size <= 6144,
            "{name} is {size} characters, over the 6,144 of a managed policy: \
             split it into docs/iam-policy-<part>.json files"
        );
        for statement in policy["Statement"].as_array().unwrap() {
            out.push((name.clone(), statement.clone()));
        }
    }
    out
}

fn allowed() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (file, statement) in statements() {
        assert_eq!(statement["Effect"], "Allow", "{file}: {statement}");
        assert!(statement.get("NotAction").is_none() && statement.get("NotResource").is_none());
        for action in strings(&statement["Action"]) {
            assert!(
                !action.contains('*'),
                "{file}: wildcard action {action}: name each action"
            );
            out.insert(action);
        }
    }
    out
}

#[test]
fn the_scanner_reads_the_error_mapper_and_skips_missing() {
    let code = r#"
        .map_err(sdk("CreateVpc"))?;
        .ok_or_else(|| missing("CreateVpc"))?;
        .map_err(|e| AwsError::from_sdk("DescribeAvailabilityZones", e))?;
        not_sdk("Nope");
    "#;
    assert_eq!(operations(code), ["CreateVpc", "DescribeAvailabilityZones"]);
}

#[test]
fn policy_allows_exactly_the_actions_stackops_calls() {
    let called = called();
    assert!(
        called.len() > 50 && called.contains_key("ec2:CreateVpc"),
        "the scan found the calls: {:?}",
        called.keys()
    );
    let allowed = allowed();
    let implied: BTreeSet<String> = IMPLIED.iter().map(|(a, _)| a.to_string()).collect();

    let missing: Vec<String> = called
        .iter()
        .filter(|(action, _)| !allowed.contains(*action))
        .map(|(action, files)| {
            let files: Vec<&str> = files.iter().map(String::as_str).collect();
            format!("{action} (called in {})", files.join(", "))
        })
        .chain(
            implied
                .iter()
                .filter(|a| !allowed.contains(*a))
                .map(|a| format!("{a} (implied)")),
        )
        .collect();
    let extra: Vec<&String> = allowed
        .iter()
        .filter(|a| !called.contains_key(*a) && !implied.contains(*a))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/iam-policy.json differs from the code.\n  missing (add them): {}\n  \
         extra (no code calls them; remove them, or list them in IMPLIED with the call that \
         needs them): {}",
        if missing.is_empty() {
            "none".to_string()
        } else {
            missing.join("; ")
        },
        if extra.is_empty() {
            "none".to_string()
        } else {
            extra
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    for action in &implied {
        assert!(
            !called.contains_key(action),
            "{action} is called directly now: remove it from IMPLIED"
        );
    }
}

#[test]
fn every_ec2_elb_and_auto_scaling_delete_needs_the_stack_tag_on_the_resource() {
    for (file, statement) in statements() {
        for action in strings(&statement["Action"]) {
            let (service, name) = action.split_once(':').unwrap();
            let guarded_service = ["ec2", "elasticloadbalancing", "autoscaling"].contains(&service);
            let destructive = name.starts_with("Delete")
                || name.starts_with("Release")
                || name.starts_with("Modify")
                || name.starts_with("Update");
            // Listeners carry no tag condition (see docs/iam-policy.md).
            if !guarded_service || !destructive || action == "elasticloadbalancing:DeleteListener" {
                continue;
            }
            assert_eq!(
                statement["Condition"]["Null"]["aws:ResourceTag/stackops.io/uid"], "false",
                "{file}: {action} must require the stackops.io/uid tag on the resource"
            );
        }
    }
}

#[test]
fn iam_and_logs_grants_are_limited_to_the_stackops_path() {
    for (file, statement) in statements() {
        let actions = strings(&statement["Action"]);
        let resources = strings(&statement["Resource"]);
        let log_writes = actions
            .iter()
            .any(|a| a.starts_with("logs:") && !a.starts_with("logs:Describe"));
        if log_writes {
            assert!(
                resources
                    .iter()
                    .all(|r| r.starts_with("arn:aws:logs:*:*:log-group:/stackops/")),
                "{file}: {actions:?} on {resources:?}"
            );
        }
        let iam_writes: Vec<&String> = actions
            .iter()
            .filter(|a| a.starts_with("iam:") && !a.starts_with("iam:List"))
            .collect();
        if iam_writes.is_empty() {
            continue;
        }
        if iam_writes == [&"iam:CreateServiceLinkedRole".to_string()] {
            assert!(
                statement["Condition"]["StringEquals"]["iam:AWSServiceName"].is_array(),
                "{file}: service-linked roles only for named services"
            );
            continue;
        }
        assert!(
            resources.iter().all(|r| {
                r.starts_with("arn:aws:iam::*:role/stackops/")
                    || r.starts_with("arn:aws:iam::*:instance-profile/stackops/")
            }),
            "{file}: {iam_writes:?} must be limited to the /stackops/ path, not {resources:?}"
        );
        if actions.contains(&"iam:AttachRolePolicy".to_string()) {
            assert!(
                statement["Condition"]["ArnEquals"]["iam:PolicyARN"].is_array(),
                "{file}: AttachRolePolicy only for the managed policies stackops attaches"
            );
        }
    }
}

#[test]
fn every_aws_call_in_src_aws_goes_through_the_error_mapper() {
    // The scan above sees only calls mapped with sdk(..); a call that is not
    // would be missing from the policy without any test noticing.
    let mut files = Vec::new();
    rust_files(&Path::new(ROOT).join("src/aws"), &mut files);
    for file in files {
        let code = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = code.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.contains(".send()") {
                continue;
            }
            let window = lines[i..(i + 12).min(lines.len())].join("\n");
            assert!(
                window.contains("sdk(\""),
                "{}:{}: an AWS call whose error is not mapped with sdk(\"Operation\") \
                 within the next lines; map it, so the IAM policy test sees it",
                file.strip_prefix(ROOT).unwrap().display(),
                i + 1
            );
        }
    }
}
