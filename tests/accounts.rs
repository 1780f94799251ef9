//! Real accounts: stacks work in the role their namespace names (and only
//! roles the operator allows), sessions are renewed before they expire, and
//! a stack never follows its namespace into another account.
//!
//! moto's STS hands out credentials whose calls land in the role's account,
//! so a resource found with one account's credentials is in that account.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use stackops::api::EcommerceStack;
use stackops::aws::assume_role::RoleToAssume;
use stackops::aws::calls::CallCounter;
use stackops::aws::{AwsClients, AwsSettings, config};
use support::cli::stackops as cli;
use support::cluster::{Cluster, Operator};
use support::metrics::calls_by_operation;
use support::moto::{MotoServer, free_port, settings_for};
use support::stack::calls_of;

const TIMEOUT: Duration = Duration::from_secs(90);
const TENANT_A: &str = "arn:aws:iam::111111111111:role/stackops-tenant";
const TENANT_B: &str = "arn:aws:iam::222222222222:role/stackops-tenant";
const INTRUDER: &str = "arn:aws:iam::333333333333:role/admin";

/// Settings for moto at `endpoint` in `region`, working as `role`.
fn as_role(endpoint: &str, region: &str, role: &str) -> AwsSettings {
    AwsSettings {
        region: Some(region.into()),
        role: Some(RoleToAssume::new(role, None)),
        ..settings_for(endpoint)
    }
}

/// VPCs tagged with stack `uid`, seen with `settings`' credentials.
async fn vpcs_of(settings: &AwsSettings, uid: &str) -> usize {
    let clients = AwsClients::new(&config::sdk_config(settings).await);
    clients
        .ec2
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:stackops.io/uid")
                .values(uid)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .vpcs()
        .len()
}

#[tokio::test]
async fn assumed_role_sessions_are_renewed_before_they_expire() {
    let moto = MotoServer::start();
    let base = config::sdk_config(&settings_for(&moto.endpoint)).await;
    // `margin` ahead of expiry counts as expired: with a margin of twice the
    // 900 s session, every session is stale within two seconds.
    for (margin, sessions) in [
        (Duration::from_secs(1796), 3),
        (Duration::from_secs(300), 1),
    ] {
        let settings = AwsSettings {
            refresh_margin: margin,
            role_session: Duration::from_secs(900),
            ..settings_for(&moto.endpoint)
        };
        let role = RoleToAssume::new(TENANT_A, Some("team-a".into()));
        let sts_calls = CallCounter::default();
        let assumed = config::assumed_config(&base, &role, &settings, sts_calls.clone()).await;
        let clients = AwsClients::new(&assumed);
        for look in 0..3 {
            if look > 0 {
                tokio::time::sleep(Duration::from_millis(2100)).await;
            }
            let me = clients.sts.get_caller_identity().send().await.unwrap();
            assert_eq!(me.account(), Some("111111111111"));
        }
        assert_eq!(
            calls_of(&sts_calls, "AssumeRole"),
            sessions,
            "margin {margin:?}"
        );
    }
}

fn example(name: &str, namespace: &str) -> EcommerceStack {
    let path = format!("{}/examples/ecommerce.yaml", env!("CARGO_MANIFEST_DIR"));
    let mut stack: EcommerceStack =
        serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    stack.metadata.name = Some(name.into());
    stack.metadata.namespace = Some(namespace.into());
    stack
}

async fn namespace(client: &kube::Client, name: &str, role: Option<&str>) {
    let annotations = role.map(|role| {
        [
            ("stackops.io/aws-role-arn".to_string(), role.to_string()),
            (
                "stackops.io/aws-external-id".to_string(),
                format!("{name}-id"),
            ),
        ]
        .into()
    });
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            annotations,
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
}

/// Polls until the stack's Ready condition has `reason` (bounded).
async fn wait_reason(api: &Api<EcommerceStack>, name: &str, reason: &str) -> EcommerceStack {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Ok(stack) = api.get(name).await
            && stack.status.as_ref().is_some_and(|s| {
                s.observed_generation == stack.metadata.generation
                    && s.conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.reason == reason)
            })
        {
            return stack;
        }
        let now = api.get(name).await.ok().and_then(|s| s.status);
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {name}: {reason}; status: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn condition_message(stack: &EcommerceStack) -> String {
    let status = stack.status.as_ref().unwrap();
    status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap()
        .message
        .clone()
}

fn is_write(operation: &str) -> bool {
    !["Describe", "Get", "List", "AssumeRole"]
        .iter()
        .any(|read| operation.starts_with(read))
}

#[tokio::test]
async fn each_namespace_works_in_its_own_account_and_no_other() {
    let moto = MotoServer::start();
    let cluster = Cluster::start().await;
    let client = cluster.client.clone();
    namespace(&client, "team-a", Some(TENANT_A)).await;
    namespace(&client, "team-b", Some(TENANT_B)).await;
    namespace(&client, "team-c", Some(INTRUDER)).await;
    let metrics_port = free_port();
    let metrics = format!("127.0.0.1:{metrics_port}");
    let _operator = Operator::start(
        &cluster.kubeconfig,
        moto.env(),
        Some(&cluster.path("operator.log")),
        &[
            "--resync-seconds",
            "2",
            "--metrics-addr",
            &metrics,
            "--allowed-role-arns",
            "arn:aws:iam::*:role/stackops-tenant",
        ],
    );

    // A role outside the allowlist: a condition, and no call in any role.
    let intruder: Api<EcommerceStack> = Api::namespaced(client.clone(), "team-c");
    intruder
        .create(&PostParams::default(), &example("shop", "team-c"))
        .await
        .unwrap();
    let refused = wait_reason(&intruder, "shop", "RoleNotAllowed").await;
    assert!(
        condition_message(&refused).contains(INTRUDER),
        "{}",
        condition_message(&refused)
    );
    assert_eq!(refused.status.as_ref().unwrap().account_id, None);
    // The operator's own identity, and a spec the account cannot build:
    // preflight says so before the first write.
    let own: Api<EcommerceStack> = Api::namespaced(client.clone(), "default");
    let mut unbuildable = example("shop", "default");
    unbuildable.spec.app.instance_type = "t3z.small".into();
    unbuildable.spec.app.purchase = None;
    own.create(&PostParams::default(), &unbuildable)
        .await
        .unwrap();
    let failed = wait_reason(&own, "shop", "PreflightFailed").await;
    assert!(
        condition_message(&failed)
            .starts_with(r#"spec.app.instanceType: Unsupported value: "t3z.small""#),
        "{}",
        condition_message(&failed)
    );
    let calls = calls_by_operation(metrics_port);
    assert!(calls.keys().all(|op| !is_write(op)), "{calls:?}");
    assert_eq!(calls.get("AssumeRole"), None);

    // Two tenants: each stack is built in its own account, found there only.
    let mut uids = Vec::new();
    for (team, account) in [("team-a", "111111111111"), ("team-b", "222222222222")] {
        let api: Api<EcommerceStack> = Api::namespaced(client.clone(), team);
        api.create(&PostParams::default(), &example("shop", team))
            .await
            .unwrap();
        uids.push((team, account, api));
    }
    for (_, account, api) in &uids {
        let ready = wait_reason(api, "shop", "Ready").await;
        assert_eq!(ready.status.unwrap().account_id.as_deref(), Some(*account));
    }
    let region = example("shop", "x").spec.settings.region;
    for (_, account, api) in &uids {
        let uid = api.get("shop").await.unwrap().metadata.uid.unwrap();
        for (role, owner) in [(TENANT_A, "111111111111"), (TENANT_B, "222222222222")] {
            let found = vpcs_of(&as_role(&moto.endpoint, &region, role), &uid).await;
            assert_eq!(found, usize::from(owner == *account), "{uid} in {owner}");
        }
        let mut own = settings_for(&moto.endpoint);
        own.region = Some(region.clone());
        assert_eq!(
            vpcs_of(&own, &uid).await,
            0,
            "nothing in the operator's account"
        );
    }
    // One session per role for the whole run, however many passes.
    let sessions = calls_by_operation(metrics_port)["AssumeRole"];
    assert_eq!(sessions, 2);

    // A namespace that now names another account: the stack stays where it
    // is and says why, rather than building a twin in the new account.
    Api::<Namespace>::all(client.clone())
        .patch(
            "team-a",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({
                "metadata": {"annotations": {"stackops.io/aws-role-arn": TENANT_B}}
            })),
        )
        .await
        .unwrap();
    let writes_before: u64 = calls_by_operation(metrics_port)
        .iter()
        .filter(|(op, _)| is_write(op))
        .map(|(_, n)| n)
        .sum();
    let team_a = &uids[0].2;
    let moved = wait_reason(team_a, "shop", "AccountChanged").await;
    assert!(condition_message(&moved).contains("lives in AWS account 111111111111"));
    assert_eq!(
        moved.status.unwrap().account_id.as_deref(),
        Some("111111111111")
    );
    let writes_after: u64 = calls_by_operation(metrics_port)
        .iter()
        .filter(|(op, _)| is_write(op))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(writes_after, writes_before);
    cluster.shutdown().await;
}

#[test]
fn preflight_finds_what_the_account_cannot_build_before_any_write() {
    // The account may hold one VPC, and its default VPC is that one.
    let moto = MotoServer::start_with_quotas("vpc/L-F678F1CE=1,ec2/L-0263D0A3=2");
    let pending = moto.json_call(
        "eu-west-1",
        "acm",
        "CertificateManager.RequestCertificate",
        &serde_json::json!({"DomainName": "bookings.example.com"}),
    )["CertificateArn"]
        .as_str()
        .unwrap()
        .to_string();
    let text = std::fs::read_to_string(format!(
        "{}/examples/booking.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bookings.yaml");
    let file = path.to_string_lossy().to_string();
    let broken = text
        .replace(
            "instanceType: m7g.large",
            // Spot over three types, one of them unknown to EC2.
            "instanceType: m7gx.large\n    purchase:\n      instanceTypes: [m7gx.large, m6g.large, m6gz.large]",
        )
        .replace(
            "al2023-ami-kernel-default-arm64",
            "al2023-ami-kernel-default-arm65",
        )
        .replace("engineVersion: \"16.4\"", "engineVersion: \"16.3\"")
        .replace("nodeType: cache.r7g.large", "nodeType: cache.r7gx.large")
        .replace(
            "  loadBalancer:\n",
            &format!("  loadBalancer:\n    certificateArn: {pending}\n"),
        );
    std::fs::write(&path, &broken).unwrap();
    for verb in ["plan", "apply"] {
        let (code, stdout, stderr) = cli(&moto, &[verb, "-f", &file]);
        assert_eq!(code, 1, "{verb}: {stdout}{stderr}");
        for expected in [
            "error: preflight: the account cannot build this spec; nothing was changed",
            r#"spec.app.instanceType: Unsupported value: "m7gx.large": EC2 does not offer it in eu-west-1a, eu-west-1b, eu-west-1c"#,
            r#"spec.app.purchase.instanceTypes[2]: Unsupported value: "m6gz.large": EC2 offers it in none of eu-west-1a, eu-west-1b, eu-west-1c"#,
            r#"spec.app.amiParameter: Not found: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm65""#,
            r#"spec.database.engineVersion: Unsupported value: "16.3": postgres 16.3 is not orderable as db.r7g.large in eu-west-1"#,
            r#"spec.cache.nodeType: Unsupported value: "cache.r7gx.large": ElastiCache offers no such node type in eu-west-1"#,
            "the certificate is PENDING_VALIDATION, not ISSUED",
            "spec.network: Forbidden: the stack needs 1 VPC and the account has 1 of its 1 (L-F678F1CE)",
            "the stack needs 3 Elastic IPs (one per NAT gateway) and the account has 0 of its 2 (L-0263D0A3)",
        ] {
            assert!(
                stderr.contains(expected),
                "{verb}: missing {expected:?} in\n{stderr}"
            );
        }
        assert!(stdout.contains("(0 mutating)"), "{stdout}");
    }
    // Nothing of the stack exists: the region still has only its default VPC.
    let (code, stdout, _) = cli(&moto, &["destroy", "-f", &file]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("AWS calls:") && stdout.contains("(0 mutating"),
        "{stdout}"
    );

    // A certificate ACM has never heard of, in the region it must be in.
    let unknown = broken.replace(&pending, &pending.replace("certificate/", "certificate/0"));
    std::fs::write(&path, unknown).unwrap();
    let (_, _, stderr) = cli(&moto, &["plan", "-f", &file]);
    assert!(
        stderr.contains("spec.loadBalancer.certificateArn: Invalid value:")
            && stderr.contains("no such certificate in ACM in eu-west-1"),
        "{stderr}"
    );
}
