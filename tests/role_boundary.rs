//! The roles' permissions boundary against a real moto server: every role a
//! stack creates carries the configured boundary, one removed or replaced
//! out of band is put back (one `PutRolePermissionsBoundary` per role, no
//! other write), and `docs/iam-boundary.json` allows every action on every
//! resource the roles' own policies (inline and AWS managed) grant, as
//! stackops writes them for both examples (a grant on `*` needs only its
//! action allowed: the boundary narrows where the managed policy does not).

mod support;

use aws_sdk_iam::types::Role;
use serde_json::Value;
use stackops::aws::Context;
use stackops::aws::role_boundary::RoleBoundary;
use support::moto::MotoServer;
use support::stack::{TestStack, calls_of, disposable as example};

/// Every role of the account under `/stackops/`, as GetRole shows it
/// (ListRoles leaves the boundary out).
async fn stack_roles(cx: &Context) -> Vec<Role> {
    let listed = cx
        .clients
        .iam
        .list_roles()
        .path_prefix("/stackops/")
        .send()
        .await
        .unwrap();
    let mut roles = Vec::new();
    for role in listed.roles() {
        let got = cx
            .clients
            .iam
            .get_role()
            .role_name(role.role_name())
            .send()
            .await
            .unwrap();
        roles.push(got.role().unwrap().clone());
    }
    roles
}

fn boundary_of(role: &Role) -> Option<&str> {
    role.permissions_boundary()
        .and_then(|b| b.permissions_boundary_arn())
}

async fn account(cx: &Context) -> String {
    stackops::aws::sts::caller_account(&cx.clients)
        .await
        .unwrap()
}

#[tokio::test]
async fn roles_carry_the_boundary_and_get_it_back_when_it_is_removed_or_changed() {
    let moto = MotoServer::start();
    let stack = TestStack::new(&moto.endpoint, &example("booking.yaml"), "uid-boundary").await;
    let pass = stack.converge(&stack.cx, 8).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    let wanted = format!(
        "arn:aws:iam::{}:policy/stackops/StackopsRoleBoundary",
        account(&stack.cx).await
    );
    let roles = stack_roles(&stack.cx).await;
    assert_eq!(roles.len(), 2, "the servers' and the flow logs' roles");
    for role in &roles {
        assert_eq!(
            boundary_of(role),
            Some(wanted.as_str()),
            "{}",
            role.role_name()
        );
    }

    // Out of band: one boundary removed, the other replaced.
    let iam = &stack.cx.clients.iam;
    iam.delete_role_permissions_boundary()
        .role_name(roles[0].role_name())
        .send()
        .await
        .unwrap();
    iam.put_role_permissions_boundary()
        .role_name(roles[1].role_name())
        .permissions_boundary("arn:aws:iam::123456789012:policy/Wider")
        .send()
        .await
        .unwrap();

    let cx = stack.reconnect(&moto.endpoint).await;
    let pass = stack.converge(&cx, 4).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    assert_eq!(calls_of(&cx.clients.calls, "PutRolePermissionsBoundary"), 2);
    assert_eq!(
        cx.clients.calls.mutating(),
        2,
        "only the boundaries are written: {:?}",
        cx.clients.calls.mutating_calls()
    );
    for role in stack_roles(&cx).await {
        assert_eq!(
            boundary_of(&role),
            Some(wanted.as_str()),
            "{}",
            role.role_name()
        );
    }

    // Put back, nothing more to do.
    let steady = stack.reconnect(&moto.endpoint).await;
    let pass = stack.engine().apply(&steady, &stack.blueprint.graph).await;
    assert!(pass.converged);
    assert_eq!(steady.clients.calls.mutating(), 0);
}

#[tokio::test]
async fn a_configured_boundary_arn_is_used_as_it_is() {
    let moto = MotoServer::start();
    let stack = TestStack::new(&moto.endpoint, &example("ecommerce.yaml"), "uid-own-arn").await;
    let arn = format!(
        "arn:aws:iam::{}:policy/team/Boundary",
        account(&stack.cx).await
    );
    let boundary: RoleBoundary = arn.parse().unwrap();
    let mut cx = stack.reconnect(&moto.endpoint).await;
    cx.clients = cx.clients.with_role_boundary(boundary.clone());
    let pass = stack.converge(&cx, 8).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    let roles = stack_roles(&cx).await;
    assert!(!roles.is_empty());
    for role in &roles {
        assert_eq!(boundary_of(role), Some(arn.as_str()));
    }

    // The operator's default setting differs: the next pass moves the roles to it.
    let default = stack.reconnect(&moto.endpoint).await;
    let pass = stack.converge(&default, 4).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    assert_eq!(
        calls_of(&default.clients.calls, "PutRolePermissionsBoundary"),
        roles.len() as u64
    );
}

// ------------------------------------------------ the boundary covers the roles

/// `pattern` (IAM wildcards `*` and `?`) matches `text`.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect(),
        _ => Vec::new(),
    }
}

fn decoded(document: &str) -> Value {
    let text = percent_encoding::percent_decode_str(document).decode_utf8_lossy();
    serde_json::from_str(&text).unwrap()
}

/// Every (action, resource) the statements of `document` allow.
fn grants(document: &Value) -> Vec<(String, String)> {
    let statements = match &document["Statement"] {
        Value::Array(items) => items.clone(),
        one => vec![one.clone()],
    };
    let mut out = Vec::new();
    for statement in statements {
        for action in strings(&statement["Action"]) {
            for resource in strings(&statement["Resource"]) {
                out.push((action.clone(), resource));
            }
        }
    }
    out
}

/// The policies a role holds: its inline ones and the AWS managed ones
/// attached (their default version, as moto serves them).
async fn role_policies(cx: &Context, role: &str) -> Vec<(String, Value)> {
    let iam = &cx.clients.iam;
    let mut out = Vec::new();
    let inline = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    for name in inline.policy_names() {
        let got = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
            .unwrap();
        out.push((name.clone(), decoded(got.policy_document())));
    }
    let attached = iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    for policy in attached.attached_policies() {
        let arn = policy.policy_arn().unwrap();
        let got = iam.get_policy().policy_arn(arn).send().await.unwrap();
        let version = got.policy().unwrap().default_version_id().unwrap();
        let got = iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .unwrap();
        let document = got.policy_version().unwrap().document().unwrap();
        out.push((arn.to_string(), decoded(document)));
    }
    out
}

#[tokio::test]
async fn the_shipped_boundary_allows_everything_the_roles_of_both_examples_are_granted() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/iam-boundary.json"
    ))
    .unwrap();
    let boundary: Value = serde_json::from_str(&text).unwrap();
    // Only statements without a condition count: a grant must not depend on
    // a condition the role's own policy does not state.
    let allowed: Vec<(String, String)> = boundary["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s.get("Condition").is_none())
        .flat_map(|s| grants(&serde_json::json!({ "Statement": [s] })))
        .collect();

    let moto = MotoServer::start();
    let mut checked = 0;
    for name in ["ecommerce.yaml", "booking.yaml"] {
        let stack =
            TestStack::new(&moto.endpoint, &example(name), &format!("uid-cover-{name}")).await;
        let pass = stack.converge(&stack.cx, 8).await;
        assert!(pass.converged, "{name}: {:?}", pass.terminal);
    }
    let cx = TestStack::new(&moto.endpoint, &example("booking.yaml"), "uid-reader")
        .await
        .cx;
    let roles = stack_roles(&cx).await;
    assert!(roles.len() >= 3, "both examples' roles: {}", roles.len());
    let mut outside = Vec::new();
    for role in &roles {
        for (policy, document) in role_policies(&cx, role.role_name()).await {
            for (action, resource) in grants(&document) {
                checked += 1;
                // A grant on `*` (the AWS managed policy) needs its action
                // allowed: the boundary may narrow its resources (it does,
                // for ssm:GetParameter(s)).
                let covered = allowed
                    .iter()
                    .any(|(a, r)| glob(a, &action) && (resource == "*" || glob(r, &resource)));
                if !covered {
                    outside.push(format!(
                        "{}/{policy}: {action} on {resource}",
                        role.role_name()
                    ));
                }
            }
        }
    }
    assert!(checked > 20, "the roles' grants were read: {checked}");
    assert!(
        outside.is_empty(),
        "docs/iam-boundary.json does not allow what the roles are granted:\n{}",
        outside.join("\n")
    );
}

#[test]
fn the_glob_matches_as_iam_does() {
    assert!(glob(
        "arn:aws:s3:::stackops-*/*",
        "arn:aws:s3:::stackops-ab-shop-media/x"
    ));
    assert!(glob("*", "anything"));
    assert!(glob("ssm:Get?arameter", "ssm:GetParameter"));
    assert!(!glob("arn:aws:s3:::stackops-*/*", "arn:aws:s3:::other/x"));
    assert!(!glob("logs:PutLogEvents", "logs:PutLogEventsX"));
}
