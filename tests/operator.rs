//! The operator as a real process against kubesim and moto: a stack goes
//! Ready, steady state writes nothing, drift is corrected, a crash loses
//! nothing, and deletion tears everything down before the finalizer goes.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use stackops::api::status::ResourceState;
use stackops::api::{BookingPlatform, EcommerceStack};
use support::cluster::{Cluster, Operator};
use support::metrics::{calls_by_operation, get};
use support::moto::{MotoServer, free_port};
use support::stack::TestStack;

const TIMEOUT: Duration = Duration::from_secs(60);

/// The operator with a 2 s resync and its metrics on `metrics_port`.
fn start_operator(kubeconfig: &Path, moto: &MotoServer, log: &Path, metrics_port: u16) -> Operator {
    start_operator_with(kubeconfig, moto, log, metrics_port, &[])
}

fn start_operator_with(
    kubeconfig: &Path,
    moto: &MotoServer,
    log: &Path,
    metrics_port: u16,
    extra: &[&str],
) -> Operator {
    let metrics = format!("127.0.0.1:{metrics_port}");
    let mut args = vec!["--resync-seconds", "2", "--metrics-addr", &metrics];
    args.extend(extra);
    Operator::start(kubeconfig, moto.env(), Some(log), &args)
}

fn example() -> EcommerceStack {
    let path = format!("{}/examples/ecommerce.yaml", env!("CARGO_MANIFEST_DIR"));
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Polls until `check` holds for the stack (bounded).
async fn wait_for(
    api: &Api<EcommerceStack>,
    name: &str,
    what: &str,
    check: impl Fn(&EcommerceStack) -> bool,
) -> EcommerceStack {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Ok(stack) = api.get(name).await
            && check(&stack)
        {
            return stack;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn adoption_refused(stack: &EcommerceStack) -> bool {
    stack.status.as_ref().is_some_and(|status| {
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.reason == "AdoptionRefused")
    })
}

fn ready_for_generation(stack: &EcommerceStack) -> bool {
    let Some(status) = &stack.status else {
        return false;
    };
    status.observed_generation == stack.metadata.generation
        && status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

#[tokio::test]
async fn a_stack_goes_ready_stays_quiet_survives_a_crash_and_is_torn_down() {
    let moto = MotoServer::start();
    let cluster = Cluster::start().await;
    let (sim, client, kubeconfig, dir) = (
        &cluster.sim,
        cluster.client.clone(),
        &cluster.kubeconfig,
        &cluster.dir,
    );
    let api: Api<EcommerceStack> = Api::namespaced(client.clone(), "default");

    // Invalid specs never reach the operator: the API server refuses them.
    let mut invalid = example();
    invalid.metadata.name = Some("invalid".into());
    invalid.spec.app.min_size = 9;
    let refused = api
        .create(&PostParams::default(), &invalid)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("spec.app.minSize"),
        "{refused}"
    );

    // Created, then the operator is killed in the middle of its first pass.
    let mut operator = start_operator(
        kubeconfig,
        &moto,
        &dir.path().join("operator-1.log"),
        free_port(),
    );
    api.create(&PostParams::default(), &example())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    drop(operator);
    let metrics_port = free_port();
    operator = start_operator(
        kubeconfig,
        &moto,
        &dir.path().join("operator-2.log"),
        metrics_port,
    );

    let stack = wait_for(&api, "shop", "Ready", ready_for_generation).await;
    assert_eq!(
        stack.metadata.finalizers.as_deref(),
        Some(&["stackops.io/teardown".to_string()][..])
    );
    let status = stack.status.clone().unwrap();
    // The servers pass the load balancer's health checks (moto finds them
    // healthy): Serving follows, on the next look at the stack.
    wait_for(&api, "shop", "Serving", |s| {
        s.status.as_ref().is_some_and(|st| {
            st.conditions
                .iter()
                .any(|c| c.type_ == "Serving" && c.status == "True" && c.reason == "Serving")
        })
    })
    .await;
    assert_eq!(status.resources.len(), 49, "{:?}", status.resources);
    // The estimate at the launcher's list prices (the CLI's arithmetic is
    // checked line by line in tests/cost.rs).
    let cost = status.estimated_monthly_cost.clone().expect("an estimate");
    assert_eq!(
        (
            cost.currency.as_str(),
            cost.price_date.as_deref(),
            cost.complete
        ),
        ("USD", Some("2026-11-01"), true),
        "{cost:?}"
    );
    assert!(cost.amount.parse::<f64>().unwrap() > 100.0, "{cost:?}");
    assert!(cost.message.contains("grows with use"), "{cost:?}");
    // The site's address is the CDN's.
    assert!(
        status.outputs.load_balancer_dns.is_some()
            && status.outputs.cdn_domain.is_some()
            && status.endpoint == status.outputs.cdn_domain
    );
    // The connection Secret: endpoints and the password secret's ARN, owned
    // by the stack; never the password.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let connection = secrets.get("shop-connection").await.unwrap();
    let data = connection.data.clone().unwrap();
    let text = |key: &str| String::from_utf8(data[key].0.clone()).unwrap();
    assert_eq!(
        Some(text("DATABASE_HOST")),
        status.outputs.database_endpoint
    );
    assert_eq!(text("DATABASE_PORT"), "5432");
    assert!(text("DATABASE_SECRET_ARN").starts_with("arn:aws:secretsmanager:"));
    assert!(data.keys().all(|k| !k.contains("PASSWORD")));
    let owner = &connection.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(owner.uid, stack.metadata.uid.clone().unwrap());
    let uid = stack.metadata.uid.clone().unwrap();
    let aws = TestStack::new(
        &moto.endpoint,
        &stackops::api::StackManifest::Ecommerce(Box::new(stack.clone())),
        &uid,
    )
    .await;
    let counts = aws.count_by_kind(&aws.cx).await;
    assert_eq!(
        counts.values().sum::<usize>(),
        49,
        "no duplicates after the crash: {counts:?}"
    );

    // Steady state: resyncs every 2 s make no write to the API server.
    let log = dir.path().join("operator-2.log");
    let passes = || {
        std::fs::read_to_string(&log)
            .unwrap()
            .matches("pass done")
            .count()
    };
    // Past one more pass first: a pass logs "pass done" before its status
    // write lands, so the pass that made the stack Ready may still write.
    let deadline = Instant::now() + TIMEOUT;
    let settling = passes();
    while passes() < settling + 1 {
        assert!(Instant::now() < deadline, "the operator did not resync");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Two resyncs, however long a busy machine makes them take.
    let before = passes();
    sim.reset_counters();
    while passes() < before + 2 {
        assert!(Instant::now() < deadline, "the operator did not resync");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let writes: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.is_write())
        .collect();
    assert!(writes.is_empty(), "{writes:?}");

    // Metrics and health.
    assert!(get(metrics_port, "/healthz").0.contains("200"));
    assert!(get(metrics_port, "/readyz").0.contains("200"));
    let (_, metrics) = get(metrics_port, "/metrics");
    assert!(metrics.ends_with("# EOF\n"), "{metrics}");
    assert!(
        metrics.contains("stackops_reconciles_total{kind=\"EcommerceStack\",result=\"ok\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "stackops_aws_calls_total{service=\"EC2\",operation=\"DescribeVpcs\",outcome=\"ok\"}"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("stackops_managed_resources{kind=\"EcommerceStack\"} 49"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "stackops_stack_ready{kind=\"EcommerceStack\",namespace=\"default\",name=\"shop\"} 1"
        ),
        "{metrics}"
    );
    // No leader election in this test: the one replica reconciles.
    assert!(metrics.contains("\nstackops_leader 1\n"), "{metrics}");

    // Drift out of band is corrected at the next resync.
    let route_table = status
        .resources
        .iter()
        .find(|r| r.key == "network/rt-public")
        .unwrap()
        .id
        .clone()
        .unwrap();
    support::stack::delete_route_to_the_internet(&aws.cx, &route_table).await;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let plan = aws.engine().plan(&aws.cx, &aws.blueprint.graph).await;
        if !plan.has_changes() {
            break;
        }
        assert!(Instant::now() < deadline, "drift was not corrected");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Deletion: the finalizer holds the object until AWS is empty. The
    // example's database is protected: teardown stops before the data tier
    // and says so in the status.
    api.delete("shop", &DeleteParams::default()).await.unwrap();
    let blocked = wait_for(&api, "shop", "teardown blocked by protection", |s| {
        s.status.as_ref().is_some_and(|st| {
            st.resources
                .iter()
                .any(|r| r.key == "data/database" && r.state == ResourceState::Blocked)
        })
    })
    .await;
    assert!(blocked.metadata.deletion_timestamp.is_some());
    assert_eq!(
        aws.count_by_kind(&aws.cx).await["DBInstance"],
        1,
        "the protected database stays"
    );
    // Lifting protection in the spec of the stack being deleted resumes it.
    api.patch(
        "shop",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"database": {"deletionProtection": false}}})),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while api.get_opt("shop").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the stack was not deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let counts = aws.count_by_kind(&aws.cx).await;
    assert_eq!(counts.values().sum::<usize>(), 0, "{counts:?}");
    // The stack's series went with it.
    let (_, metrics) = get(metrics_port, "/metrics");
    assert!(!metrics.contains("stackops_stack_ready{"), "{metrics}");
    assert!(
        metrics.contains("stackops_managed_stacks{kind=\"EcommerceStack\"} 0"),
        "{metrics}"
    );
    // Kubernetes collects the connection Secret with its owner.
    let deadline = Instant::now() + TIMEOUT;
    while secrets.get_opt("shop-connection").await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "the connection secret outlived the stack"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(operator);
    cluster.shutdown().await;
}

#[tokio::test]
async fn with_two_replicas_only_the_leader_reconciles_and_the_other_takes_over() {
    let moto = MotoServer::start();
    let cluster = Cluster::start().await;
    let (client, kubeconfig, dir) = (cluster.client.clone(), &cluster.kubeconfig, &cluster.dir);
    let api: Api<EcommerceStack> = Api::namespaced(client.clone(), "default");

    let elect = ["--leader-elect", "--lease-seconds", "3"];
    let logs = [
        dir.path().join("replica-a.log"),
        dir.path().join("replica-b.log"),
    ];
    let ports = [free_port(), free_port()];
    let mut first = Some(start_operator_with(
        kubeconfig, &moto, &logs[0], ports[0], &elect,
    ));
    // Let the first replica take the lease before the second starts.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let _second = start_operator_with(kubeconfig, &moto, &logs[1], ports[1], &elect);
    let leading = |i: usize| {
        let (_, metrics) = get(ports[i], "/metrics");
        assert!(metrics.ends_with("# EOF\n"), "{metrics}");
        metrics.contains("\nstackops_leader 1\n")
    };

    api.create(&PostParams::default(), &example())
        .await
        .unwrap();
    wait_for(&api, "shop", "Ready", ready_for_generation).await;
    let passes = |i: usize| {
        std::fs::read_to_string(&logs[i])
            .unwrap()
            .matches("pass done")
            .count()
    };
    assert!(passes(0) > 0, "the leader reconciled");
    assert_eq!(passes(1), 0, "the follower did not");
    assert!(leading(0) && !leading(1), "only the leader says it leads");

    // The leader dies without releasing; the follower takes over once the
    // lease expires and reconciles the next change.
    drop(first.take());
    let mut stack = api.get("shop").await.unwrap();
    stack
        .spec
        .settings
        .tags
        .insert("owner".into(), "payments".into());
    api.replace("shop", &PostParams::default(), &stack)
        .await
        .unwrap();
    let updated = wait_for(&api, "shop", "Ready for generation 2", |s| {
        ready_for_generation(s) && s.metadata.generation == Some(2)
    })
    .await;
    assert!(passes(1) > 0, "the follower took over");
    assert!(leading(1), "and says so");
    assert_eq!(updated.status.unwrap().observed_generation, Some(2));
    cluster.shutdown().await;
}

#[tokio::test]
async fn semantic_errors_observe_only_and_paused_make_no_aws_write() {
    let moto = MotoServer::start();
    let cluster = Cluster::start().await;
    let (client, kubeconfig, dir) = (cluster.client.clone(), &cluster.kubeconfig, &cluster.dir);
    let api: Api<EcommerceStack> = Api::namespaced(client.clone(), "default");
    let _operator = start_operator(
        kubeconfig,
        &moto,
        &dir.path().join("operator.log"),
        free_port(),
    );
    let condition = |stack: &EcommerceStack, type_: &str| {
        stack
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_).cloned())
    };

    // Overlapping subnets pass the schema but not the semantic checks: the
    // condition names the field and nothing is created in AWS.
    let mut overlapping = example();
    overlapping.metadata.name = Some("overlap".into());
    overlapping.spec.network.subnets = Some(stackops::api::common::SubnetOverrides {
        public: vec!["10.20.0.0/24".into(), "10.20.1.0/24".into()],
        app: vec!["10.20.0.0/20".into(), "10.20.32.0/20".into()],
        data: vec!["10.20.64.0/24".into(), "10.20.65.0/24".into()],
    });
    api.create(&PostParams::default(), &overlapping)
        .await
        .unwrap();
    let refused = wait_for(&api, "overlap", "InvalidSpec", |s| {
        condition(s, "Ready").is_some_and(|c| c.reason == "InvalidSpec")
    })
    .await;
    let message = condition(&refused, "Ready").unwrap().message;
    assert!(message.contains("spec.network.subnets.app[0]"), "{message}");
    let probe = TestStack::new(
        &moto.endpoint,
        &stackops::api::StackManifest::Ecommerce(Box::new(example())),
        &refused.metadata.uid.clone().unwrap(),
    )
    .await;
    assert_eq!(
        probe.count_by_kind(&probe.cx).await.values().sum::<usize>(),
        0
    );

    // ObserveOnly: nothing exists, nothing is created, the stack is not Ready.
    let mut observe = example();
    observe.metadata.name = Some("observe".into());
    observe.spec.settings.management_policy = stackops::api::common::ManagementPolicy::ObserveOnly;
    api.create(&PostParams::default(), &observe).await.unwrap();
    let observed = wait_for(&api, "observe", "a status", |s| {
        condition(s, "Ready").is_some()
    })
    .await;
    let ready = condition(&observed, "Ready").unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Drifted")
    );
    assert!(ready.message.contains("49 missing"), "{}", ready.message);
    assert_eq!(condition(&observed, "Degraded").unwrap().status, "True");
    let resources = &observed.status.as_ref().unwrap().resources;
    assert!(resources.iter().all(|r| r.id.is_none()), "{resources:?}");
    assert!(
        resources[0]
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("ObserveOnly"),
        "{resources:?}"
    );

    // Paused: same, and the message says why.
    let mut paused = example();
    paused.metadata.name = Some("paused".into());
    paused.spec.settings.paused = true;
    api.create(&PostParams::default(), &paused).await.unwrap();
    let held = wait_for(&api, "paused", "a status", |s| {
        condition(s, "Ready").is_some()
    })
    .await;
    assert_eq!(condition(&held, "Ready").unwrap().reason, "Paused");
    assert!(
        held.status.unwrap().resources[0]
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("paused")
    );

    // No AWS resource was created for any of them.
    let everything = TestStack::new(
        &moto.endpoint,
        &stackops::api::StackManifest::Ecommerce(Box::new(example())),
        "none",
    )
    .await;
    let ec2 = &everything.cx.clients.ec2;
    let vpcs = ec2.describe_vpcs().send().await.unwrap();
    assert!(
        vpcs.vpcs().iter().all(|v| v.is_default() == Some(true)),
        "{:?}",
        vpcs.vpcs()
    );
    cluster.shutdown().await;
}

/// AWS calls the operator made, by operation, from its metrics.
/// Waits until stack `name` is gone from the API server (its finalizer
/// removed).
async fn wait_released(api: &Api<EcommerceStack>, name: &str) {
    let deadline = Instant::now() + TIMEOUT;
    while api.get_opt(name).await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the stack was not released");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// AWS delete and terminate calls the operator has made.
fn deletes_made(metrics_port: u16) -> u64 {
    calls_by_operation(metrics_port)
        .iter()
        .filter(|(op, _)| op.starts_with("Delete") || op.starts_with("Terminate"))
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test]
async fn booking_survives_kills_in_create_and_teardown_goes_ready_and_changes_in_place() {
    let moto = MotoServer::start();
    let cluster = Cluster::start().await;
    let (client, kubeconfig, dir) = (cluster.client.clone(), &cluster.kubeconfig, &cluster.dir);
    let api: Api<BookingPlatform> = Api::namespaced(client.clone(), "default");
    let path = format!("{}/examples/booking.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("deletionProtection: true", "deletionProtection: false");
    let booking: BookingPlatform = serde_yaml_ng::from_str(&text).unwrap();
    api.create(&PostParams::default(), &booking).await.unwrap();

    // SIGKILL at several points of the first reconciles, then run for good.
    for (round, millis) in [200u64, 500, 900, 1400].into_iter().enumerate() {
        let operator = start_operator(
            kubeconfig,
            &moto,
            &dir.path().join(format!("killed-{round}.log")),
            free_port(),
        );
        tokio::time::sleep(Duration::from_millis(millis)).await;
        drop(operator);
    }
    let metrics_port = free_port();
    let operator = start_operator(
        kubeconfig,
        &moto,
        &dir.path().join("operator.log"),
        metrics_port,
    );
    let ready = |stack: &BookingPlatform| {
        stack.status.as_ref().is_some_and(|status| {
            status.observed_generation == stack.metadata.generation
                && status
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
        })
    };
    let deadline = Instant::now() + TIMEOUT;
    let stack = loop {
        let stack = api.get("bookings").await.unwrap();
        if ready(&stack) {
            break stack;
        }
        assert!(Instant::now() < deadline, "not Ready: {:?}", stack.status);
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let status = stack.status.clone().unwrap();
    let uid = stack.metadata.uid.clone().unwrap();
    let aws = TestStack::new(
        &moto.endpoint,
        &stackops::api::StackManifest::Booking(Box::new(stack.clone())),
        &uid,
    )
    .await;
    let counts = aws.count_by_kind(&aws.cx).await;
    assert_eq!(
        counts.values().sum::<usize>(),
        status.resources.len(),
        "no duplicates after the kills: {counts:?}"
    );

    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let connection = secrets.get("bookings-connection").await.unwrap();
    let data = connection.data.unwrap();
    let text = |key: &str| String::from_utf8(data[key].0.clone()).unwrap();
    assert_eq!(text("DATABASE_READER_HOSTS").split(',').count(), 2);
    assert_eq!(text("CACHE_PORT"), "6379");
    assert!(text("CACHE_AUTH_SECRET_ARN").starts_with("arn:aws:secretsmanager:"));

    // A spec change: the group's maximum and the database class. Applied in
    // place; observedGeneration follows; nothing else is written.
    let before = calls_by_operation(metrics_port);
    let generation = stack.metadata.generation.unwrap();
    api.patch(
        "bookings",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {
            "app": {"maxSize": 14},
            "database": {"instanceClass": "db.r7g.xlarge"}
        }})),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let stack = api.get("bookings").await.unwrap();
        if ready(&stack) && stack.metadata.generation == Some(generation + 1) {
            break;
        }
        assert!(Instant::now() < deadline, "change not applied");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let after = calls_by_operation(metrics_port);
    let written: std::collections::BTreeMap<&str, u64> = after
        .iter()
        .filter(|(op, _)| stackops::aws::calls::is_mutating(op))
        .map(|(op, n)| (op.as_str(), n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(
        written,
        std::collections::BTreeMap::from([
            ("UpdateAutoScalingGroup", 1),
            // The sizes just applied, recorded on the group.
            ("CreateOrUpdateTags", 1),
            // The primary and its two replicas, which follow its class.
            ("ModifyDBInstance", 3),
        ])
    );

    // Teardown, with SIGKILLs in the middle of it too.
    api.delete("bookings", &DeleteParams::default())
        .await
        .unwrap();
    drop(operator);
    for (round, millis) in [300u64, 700].into_iter().enumerate() {
        let operator = start_operator(
            kubeconfig,
            &moto,
            &dir.path().join(format!("killed-teardown-{round}.log")),
            free_port(),
        );
        tokio::time::sleep(Duration::from_millis(millis)).await;
        drop(operator);
    }
    let _operator = start_operator(
        kubeconfig,
        &moto,
        &dir.path().join("operator-teardown.log"),
        free_port(),
    );
    let deadline = Instant::now() + TIMEOUT;
    while api.get_opt("bookings").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the stack was not deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Only the media bucket stays: the example retains it (deletionPolicy
    // Retain, the default for media).
    let counts = aws.count_by_kind(&aws.cx).await;
    assert_eq!(counts.values().sum::<usize>(), 1, "{counts:?}");
    assert_eq!(counts["S3Bucket"], 1, "{counts:?}");
    let tagged = aws.tagged_arns(&aws.cx).await;
    assert!(
        tagged.len() == 1
            && tagged[0].starts_with("arn:aws:s3:::")
            && tagged[0].ends_with("-media"),
        "nothing but the retained media bucket tagged after the killed teardown: {tagged:?}"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn an_unowned_secret_is_left_alone_and_deleting_an_observe_only_stack_leaves_aws_untouched() {
    let moto = MotoServer::start();
    let cluster = Cluster::start().await;
    let api: Api<EcommerceStack> = Api::namespaced(cluster.client.clone(), "default");
    let metrics_port = free_port();
    let _operator = start_operator(
        &cluster.kubeconfig,
        &moto,
        &cluster.path("operator.log"),
        metrics_port,
    );
    // A Secret of the connection Secret's name that is not the stack's.
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), "default");
    let mut theirs = Secret::default();
    theirs.metadata.name = Some("shop-connection".into());
    theirs.string_data = Some([("keep".to_string(), "me".to_string())].into());
    secrets
        .create(&PostParams::default(), &theirs)
        .await
        .unwrap();
    api.create(&PostParams::default(), &example())
        .await
        .unwrap();
    let stack = wait_for(&api, "shop", "Ready", ready_for_generation).await;
    // Refused, said, and left alone.
    let degraded_for = |s: &EcommerceStack, reason: &str| {
        s.status.as_ref().is_some_and(|st| {
            st.conditions
                .iter()
                .any(|c| c.type_ == "Degraded" && c.status == "True" && c.reason == reason)
        })
    };
    let degraded = wait_for(&api, "shop", "SecretConflict", |s| {
        degraded_for(s, "SecretConflict")
    })
    .await;
    let message = degraded
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Degraded")
        .unwrap()
        .message;
    assert!(message.contains("shop-connection"), "{message}");
    let kept = secrets.get("shop-connection").await.unwrap();
    assert!(kept.metadata.owner_references.is_none());
    assert_eq!(kept.data.unwrap().keys().collect::<Vec<_>>(), ["keep"]);
    let aws = TestStack::new(
        &moto.endpoint,
        &stackops::api::StackManifest::Ecommerce(Box::new(stack.clone())),
        &stack.metadata.uid.clone().unwrap(),
    )
    .await;
    let before = aws.count_by_kind(&aws.cx).await;

    // Handed over to observation, then deleted: only the finalizer goes.
    api.patch(
        "shop",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"managementPolicy": "ObserveOnly"}})),
    )
    .await
    .unwrap();
    wait_for(&api, "shop", "ObserveOnly observed", |s| {
        s.status.as_ref().and_then(|st| st.observed_generation) == s.metadata.generation
    })
    .await;
    api.delete("shop", &DeleteParams::default()).await.unwrap();
    wait_released(&api, "shop").await;
    assert_eq!(aws.count_by_kind(&aws.cx).await, before, "nothing deleted");
    assert_eq!(deletes_made(metrics_port), 0);
    assert!(
        secrets.get_opt("shop-connection").await.unwrap().is_some(),
        "the Secret that was never the stack's stays"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn deleting_an_orphan_stack_releases_it_and_leaves_every_aws_resource() {
    let moto = MotoServer::start();
    let cluster = Cluster::start().await;
    let api: Api<EcommerceStack> = Api::namespaced(cluster.client.clone(), "default");
    let metrics_port = free_port();
    let _operator = start_operator(
        &cluster.kubeconfig,
        &moto,
        &cluster.path("operator.log"),
        metrics_port,
    );
    api.create(&PostParams::default(), &example())
        .await
        .unwrap();
    let stack = wait_for(&api, "shop", "Ready", ready_for_generation).await;
    let aws = TestStack::new(
        &moto.endpoint,
        &stackops::api::StackManifest::Ecommerce(Box::new(stack.clone())),
        &stack.metadata.uid.clone().unwrap(),
    )
    .await;
    let before = aws.count_by_kind(&aws.cx).await;
    assert_eq!(before.values().sum::<usize>(), 49);

    api.patch(
        "shop",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"deletionPolicy": "Orphan"}})),
    )
    .await
    .unwrap();
    wait_for(&api, "shop", "Orphan observed", ready_for_generation).await;
    api.delete("shop", &DeleteParams::default()).await.unwrap();
    wait_released(&api, "shop").await;
    assert_eq!(aws.count_by_kind(&aws.cx).await, before, "nothing deleted");
    assert_eq!(deletes_made(metrics_port), 0);
    cluster.shutdown().await;
}

/// AWS calls that create something, made by the operator so far.
fn creates_made(metrics_port: u16) -> u64 {
    calls_by_operation(metrics_port)
        .iter()
        .filter(|(op, _)| {
            ["Create", "Run", "Allocate", "Request", "Import"]
                .iter()
                .any(|verb| op.starts_with(verb))
        })
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test]
async fn a_new_stack_adopts_what_an_orphaned_one_left_and_deletes_it_all_later() {
    let moto = MotoServer::start();
    let cluster = Cluster::start().await;
    let api: Api<EcommerceStack> = Api::namespaced(cluster.client.clone(), "default");
    let metrics_port = free_port();
    let _operator = start_operator(
        &cluster.kubeconfig,
        &moto,
        &cluster.path("operator.log"),
        metrics_port,
    );
    let mut disposable = example();
    disposable.spec.database.deletion_protection = false;
    disposable.spec.database.deletion_policy = stackops::api::common::DeletionPolicy::Delete;
    let mut orphan = disposable.clone();
    orphan.spec.settings.deletion_policy = stackops::api::common::StackDeletionPolicy::Orphan;
    api.create(&PostParams::default(), &orphan).await.unwrap();
    let stack = wait_for(&api, "shop", "Ready", ready_for_generation).await;
    let old_uid = stack.metadata.uid.clone().unwrap();
    let aws = TestStack::new(
        &moto.endpoint,
        &stackops::api::StackManifest::Ecommerce(Box::new(stack.clone())),
        &old_uid,
    )
    .await;
    let built = aws.count_by_kind(&aws.cx).await;
    assert_eq!(built.values().sum::<usize>(), 49);
    api.delete("shop", &DeleteParams::default()).await.unwrap();
    wait_released(&api, "shop").await;
    assert_eq!(
        aws.count_by_kind(&aws.cx).await,
        built,
        "orphaned: all kept"
    );

    let adopting = |namespace: &str| {
        let mut stack = disposable.clone();
        stack.metadata.namespace = Some(namespace.into());
        stack.metadata.annotations =
            Some([("stackops.io/adopt-uid".to_string(), old_uid.clone())].into());
        stack
    };
    // Another namespace cannot take them, even under the same name.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(cluster.client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "intruder"}})).unwrap(),
        )
        .await
        .unwrap();
    let intruder: Api<EcommerceStack> = Api::namespaced(cluster.client.clone(), "intruder");
    intruder
        .create(&PostParams::default(), &adopting("intruder"))
        .await
        .unwrap();
    let refused = wait_for(&intruder, "shop", "AdoptionRefused", adoption_refused).await;
    let message = &refused.status.unwrap().conditions[0].message;
    assert!(
        message.contains(r#"belong to stack "default/shop", not intruder/shop"#),
        "{message}"
    );
    intruder
        .delete("shop", &DeleteParams::default())
        .await
        .unwrap();
    wait_released(&intruder, "shop").await;
    assert_eq!(
        aws.count_by_kind(&aws.cx).await,
        built,
        "the refused stack touched nothing"
    );

    // The same stack with a tier dropped would delete that tier on its
    // first pass: adoption never deletes, so it is refused.
    let mut shrunk = adopting("default");
    shrunk.spec.monitoring = None;
    api.create(&PostParams::default(), &shrunk).await.unwrap();
    let refused = wait_for(&api, "shop", "AdoptionRefused", adoption_refused).await;
    let message = &refused.status.unwrap().conditions[0].message;
    assert!(
        message.contains("monitoring/") && message.contains("adopting would delete"),
        "{message}"
    );
    api.delete("shop", &DeleteParams::default()).await.unwrap();
    wait_released(&api, "shop").await;
    assert_eq!(aws.count_by_kind(&aws.cx).await, built, "nothing touched");

    // The same namespace and name: Ready on what exists, nothing created.
    let creates_before = creates_made(metrics_port);
    api.create(&PostParams::default(), &adopting("default"))
        .await
        .unwrap();
    let adopted = wait_for(&api, "shop", "Ready", ready_for_generation).await;
    assert_ne!(adopted.metadata.uid.as_deref(), Some(old_uid.as_str()));
    assert_eq!(creates_made(metrics_port), creates_before, "zero creates");
    assert_eq!(aws.count_by_kind(&aws.cx).await, built);

    // Deleted normally: everything goes, the adopted resources included.
    api.delete("shop", &DeleteParams::default()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    while api.get_opt("shop").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "teardown did not finish");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let left = aws.count_by_kind(&aws.cx).await;
    assert_eq!(left.values().sum::<usize>(), 0, "{left:?}");
    cluster.shutdown().await;
}
