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
    ("sts", "sts"),
    ("assume_role", "sts"),
    ("acm", "acm"),
    ("quotas", "servicequotas"),
    ("pricing", "pricing"),
    ("budgets", "budgets"),
    ("tagged", "tag"),
];

/// Calls AWS authorizes without any permission: never in the policy.
const NO_PERMISSION: &[&str] = &["sts:GetCallerIdentity"];

/// Actions the policy denies outright, so that no other grant to the same
/// principal reopens them: removing a role's boundary, changing the
/// boundary policy.
const DENIED: &[&str] = &[
    "iam:DeleteRolePermissionsBoundary",
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
];

/// Role actions that write what a role may do: allowed only with the boundary.
const ROLE_WRITES: &[&str] = &[
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:PutRolePermissionsBoundary",
];

/// Modules of `src/aws/` that make no AWS call of their own.
const NOT_SERVICES: &[&str] = &["mod", "calls", "config"];

/// Operations whose IAM action has another name (mostly S3). Add a line
/// when a call's action differs from `service:Operation`.
const ACTION_BY_OPERATION: &[(&str, &str)] = &[
    ("budgets:DescribeBudgets", "budgets:ViewBudget"),
    (
        "budgets:DescribeBudgetNotificationsForAccount",
        "budgets:ViewBudget",
    ),
    (
        "budgets:DescribeNotificationsForBudget",
        "budgets:ViewBudget",
    ),
    (
        "budgets:DescribeSubscribersForNotification",
        "budgets:ViewBudget",
    ),
    ("budgets:CreateBudget", "budgets:ModifyBudget"),
    ("budgets:UpdateBudget", "budgets:ModifyBudget"),
    ("budgets:DeleteBudget", "budgets:ModifyBudget"),
    ("budgets:CreateNotification", "budgets:ModifyBudget"),
    ("budgets:DeleteNotification", "budgets:ModifyBudget"),
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
    (
        "kms:CreateGrant",
        "CreateDBInstance / CreateDBInstanceReadReplica encrypted with a customer managed key",
    ),
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
            if NO_PERMISSION.contains(&action.as_str()) {
                continue;
            }
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
        assert!(statement.get("NotAction").is_none() && statement.get("NotResource").is_none());
        if statement["Effect"] == "Deny" {
            for action in strings(&statement["Action"]) {
                assert!(
                    DENIED.contains(&action.as_str()),
                    "{file}: deny of {action}"
                );
            }
            continue;
        }
        assert_eq!(statement["Effect"], "Allow", "{file}: {statement}");
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

fn allow_statements() -> Vec<(String, Value)> {
    statements()
        .into_iter()
        .filter(|(_, s)| s["Effect"] == "Allow")
        .collect()
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
    for (file, statement) in allow_statements() {
        for action in strings(&statement["Action"]) {
            let (service, name) = action.split_once(':').unwrap();
            let guarded_service = ["ec2", "elasticloadbalancing", "autoscaling"].contains(&service);
            let destructive = name.starts_with("Delete")
                || name.starts_with("Release")
                || name.starts_with("Modify")
                || name.starts_with("Update");
            // Listeners and their rules carry no tag condition (see docs/iam-policy.md).
            let listener_action = [
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:DeleteRule",
            ]
            .contains(&action.as_str());
            if !guarded_service || !destructive || listener_action {
                continue;
            }
            assert_eq!(
                statement["Condition"]["Null"]["aws:ResourceTag/stackops.io/uid"], "false",
                "{file}: {action} must require the stackops.io/uid tag on the resource"
            );
        }
    }
}

/// Where RDS exports a database's logs: a path stackops cannot choose.
const RDS_LOG_GROUPS: &str = "arn:aws:logs:*:*:log-group:/aws/rds/instance/";

/// IAM reads of the whole account, which IAM cannot limit to a path: the
/// roles with their policies, one read a window for every stack.
const ACCOUNT_WIDE_IAM_READS: &[&str] = &["iam:GetAccountAuthorizationDetails"];

#[test]
fn iam_and_logs_grants_are_limited_to_the_stackops_path() {
    for (file, statement) in allow_statements() {
        let actions = strings(&statement["Action"]);
        let resources = strings(&statement["Resource"]);
        let log_writes = actions
            .iter()
            .any(|a| a.starts_with("logs:") && !a.starts_with("logs:Describe"));
        if log_writes {
            assert!(
                resources.iter().all(|r| {
                    r.starts_with("arn:aws:logs:*:*:log-group:/stackops/")
                        || r.starts_with(RDS_LOG_GROUPS)
                }),
                "{file}: {actions:?} on {resources:?}"
            );
        }
        // RDS's path holds other databases' logs too: only groups stackops
        // tagged may be deleted there.
        if actions.iter().any(|a| a == "logs:DeleteLogGroup")
            && resources.iter().any(|r| r.starts_with(RDS_LOG_GROUPS))
        {
            assert_eq!(
                statement["Condition"]["Null"]["aws:ResourceTag/stackops.io/uid"], "false",
                "{file}: deleting database log groups must require the stackops.io/uid tag"
            );
        }
        let iam_writes: Vec<&String> = actions
            .iter()
            .filter(|a| a.starts_with("iam:") && !a.starts_with("iam:List"))
            .filter(|a| !ACCOUNT_WIDE_IAM_READS.contains(&a.as_str()))
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

/// The boundary's ARN as the policy names it (any account: a role's
/// boundary can only be a policy of its own account or an AWS one).
fn boundary_arn() -> String {
    format!(
        "arn:aws:iam::*:policy/{}",
        stackops::aws::role_boundary::DEFAULT_BOUNDARY
    )
}

/// `statement`'s condition on `key`, under any operator.
fn condition<'a>(statement: &'a Value, key: &str) -> Vec<(&'a str, &'a Value)> {
    let Some(operators) = statement["Condition"].as_object() else {
        return Vec::new();
    };
    operators
        .iter()
        .filter_map(|(op, keys)| keys.get(key).map(|v| (op.as_str(), v)))
        .collect()
}

#[test]
fn role_writes_are_allowed_only_with_the_shipped_boundary() {
    let mut seen = BTreeSet::new();
    for (file, statement) in allow_statements() {
        for action in strings(&statement["Action"]) {
            if !ROLE_WRITES.contains(&action.as_str()) {
                continue;
            }
            seen.insert(action.clone());
            let conditions = condition(&statement, "iam:PermissionsBoundary");
            assert!(
                conditions.len() == 1
                    && ["ArnLike", "ArnEquals", "StringEquals", "StringLike"]
                        .contains(&conditions[0].0)
                    && strings(conditions[0].1) == [boundary_arn()],
                "{file}: {action} must require iam:PermissionsBoundary = {}: {statement}",
                boundary_arn()
            );
        }
    }
    assert_eq!(
        seen.len(),
        ROLE_WRITES.len(),
        "every role write is in the policy: {seen:?}"
    );
}

#[test]
fn boundaries_cannot_be_removed_nor_the_boundary_policy_changed() {
    let allowed = allowed();
    for action in DENIED {
        assert!(!allowed.contains(*action), "{action} is allowed");
    }
    let denies: Vec<(String, Value)> = statements()
        .into_iter()
        .filter(|(_, s)| s["Effect"] == "Deny")
        .collect();
    let denied_on = |action: &str, resource: &str| {
        denies.iter().any(|(_, s)| {
            strings(&s["Action"]).iter().any(|a| a == action)
                && strings(&s["Resource"]).iter().any(|r| r == resource)
        })
    };
    assert!(denied_on(
        "iam:DeleteRolePermissionsBoundary",
        "arn:aws:iam::*:role/stackops/*"
    ));
    for action in [
        "iam:CreatePolicyVersion",
        "iam:SetDefaultPolicyVersion",
        "iam:DeletePolicy",
    ] {
        assert!(denied_on(action, &boundary_arn()), "{action} not denied");
    }
}

/// The services stackops' roles trust (`service: "…"` in the blueprints).
fn trusted_services() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&Path::new(ROOT).join("src/blueprint"), &mut files);
    let mut out = BTreeSet::new();
    for file in files {
        let code = std::fs::read_to_string(&file).unwrap();
        for (i, _) in code.match_indices("service: \"") {
            let rest = &code[i + 10..];
            out.insert(rest[..rest.find('"').unwrap()].to_string());
        }
    }
    out
}

#[test]
fn roles_are_passed_only_to_the_services_that_assume_them() {
    let trusted = trusted_services();
    assert!(
        trusted.contains("ec2.amazonaws.com"),
        "the scan found the roles: {trusted:?}"
    );
    let mut passed_to = BTreeSet::new();
    for (file, statement) in allow_statements() {
        if !strings(&statement["Action"]).contains(&"iam:PassRole".to_string()) {
            continue;
        }
        assert_eq!(
            strings(&statement["Action"]),
            ["iam:PassRole"],
            "{file}: PassRole in a statement of its own"
        );
        for resource in strings(&statement["Resource"]) {
            assert!(
                resource.starts_with("arn:aws:iam::*:role/stackops/"),
                "{file}: PassRole on {resource}"
            );
        }
        let services = condition(&statement, "iam:PassedToService");
        assert!(
            services.len() == 1 && services[0].0 == "StringEquals",
            "{file}: PassRole needs iam:PassedToService: {statement}"
        );
        passed_to.extend(strings(services[0].1));
    }
    assert_eq!(
        passed_to, trusted,
        "PassRole names exactly the services stackops' roles trust"
    );
}

#[test]
fn every_rds_and_elasticache_change_is_scoped_by_the_stack_tag() {
    for (file, statement) in allow_statements() {
        for action in strings(&statement["Action"]) {
            let (service, name) = action.split_once(':').unwrap();
            if !["rds", "elasticache"].contains(&service) || name.starts_with("Describe") {
                continue;
            }
            let resources = strings(&statement["Resource"]);
            // Creates (no resource yet) on the request's tags, the rest on
            // the resource's.
            let tag = if resources == ["*"] {
                "aws:RequestTag/stackops.io/uid"
            } else {
                "aws:ResourceTag/stackops.io/uid"
            };
            // Resources a call on an owned group or instance also touches
            // (option group, snapshot, member nodes) carry no stack tag
            // yet; the group or instance itself is tag-scoped.
            let dependents_only = resources.iter().all(|r| {
                [":og:", ":snapshot:", ":cluster:"]
                    .iter()
                    .any(|t| r.contains(t))
            });
            if dependents_only {
                continue;
            }
            assert_eq!(
                statement["Condition"]["Null"][tag], "false",
                "{file}: {action} on {resources:?} must require {tag}"
            );
        }
    }
}

#[test]
fn customer_keys_are_granted_only_to_aws_services() {
    for (file, statement) in allow_statements() {
        if strings(&statement["Action"]).contains(&"kms:CreateGrant".to_string()) {
            assert_eq!(
                statement["Condition"]["Bool"]["kms:GrantIsForAWSResource"], "true",
                "{file}: {statement}"
            );
        }
    }
}

#[test]
fn ec2_instances_launch_only_from_owned_templates_with_stack_profiles() {
    for (file, statement) in allow_statements() {
        if !strings(&statement["Action"]).contains(&"ec2:RunInstances".to_string()) {
            continue;
        }
        let resources = strings(&statement["Resource"]);
        assert!(
            !resources.contains(&"*".to_string()),
            "{file}: RunInstances on *"
        );
        if resources.iter().any(|r| r.contains(":launch-template/")) {
            assert_eq!(
                statement["Condition"]["Null"]["aws:ResourceTag/stackops.io/uid"], "false",
                "{file}: {statement}"
            );
        } else {
            assert_eq!(
                statement["Condition"]["Null"]["ec2:LaunchTemplate"], "false",
                "{file}: {statement}"
            );
        }
        if resources.iter().any(|r| r.contains(":instance/")) {
            assert_eq!(
                statement["Condition"]["ArnLike"]["ec2:InstanceProfile"],
                "arn:aws:iam::*:instance-profile/stackops/*",
                "{file}: {statement}"
            );
        }
    }
}

#[test]
fn the_boundary_document_allows_nothing_of_iam() {
    let path = Path::new(ROOT).join("docs/iam-boundary.json");
    let text = std::fs::read_to_string(&path).expect("docs/iam-boundary.json exists");
    let boundary: Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(boundary["Version"], "2012-10-17");
    assert!(serde_json::to_string(&boundary).unwrap().len() <= 6144);
    for statement in boundary["Statement"].as_array().unwrap() {
        assert_eq!(statement["Effect"], "Allow", "{statement}");
        assert!(statement.get("NotAction").is_none() && statement.get("NotResource").is_none());
        for action in strings(&statement["Action"]) {
            assert!(!action.contains('*'), "wildcard action {action}");
            let service = action.split_once(':').unwrap().0;
            assert!(
                !["iam", "sts", "organizations"].contains(&service),
                "the boundary allows {action}"
            );
        }
    }
}
