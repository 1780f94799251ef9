//! The engine with the network and application tiers and the database
//! against a real moto server (the database disposable here; its own
//! safety rules are tested in `data_tier.rs`): create, zero-write steady state, drift, crash safety, teardown,
//! retries and terminal errors.

mod support;

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{IpPermission, IpRange, Tag};
use stackops::api::status::ResourceState;
use stackops::aws::ec2::Vpc;
use stackops::aws::{Graph, Node};
use stackops::engine::{Action, ErrorClass, KindOps};
use support::moto::MotoServer;
use support::proxy::{FaultProxy, Faults};
use support::stack::{TestStack, disposable as example};

fn expected_booking() -> BTreeMap<&'static str, usize> {
    BTreeMap::from([
        ("VPC", 1),
        ("Subnet", 9),
        // Only a stack in an existing network has these.
        ("ExistingVPC", 0),
        // Its limit derives from an estimate these stacks are built without.
        ("Budget", 0),
        ("ExistingSubnet", 0),
        ("InternetGateway", 1),
        ("ElasticIP", 3),
        ("SecurityGroup", 4),
        ("NatGateway", 3),
        ("RouteTable", 5),
        ("VPCEndpoint", 1),
        ("FlowLog", 1),
        // Flow log delivery and the servers.
        ("IAMRole", 2),
        // Flow logs and the application.
        ("LogGroup", 2),
        ("TargetGroup", 1),
        ("LoadBalancer", 1),
        ("Listeners", 1),
        ("InstanceProfile", 1),
        ("LaunchTemplate", 1),
        ("AutoScalingGroup", 1),
        ("ScalingPolicies", 1),
        ("ScheduledActions", 1),
        ("DBSubnetGroup", 1),
        ("DBParameterGroup", 1),
        ("DBInstance", 1),
        // The PostgreSQL and upgrade logs' groups, the primary's and each
        // replica's.
        ("DBLogGroup", 6),
        // PostgreSQL needs no option group.
        ("DBOptionGroup", 0),
        ("DBReplica", 2),
        ("CacheSubnetGroup", 1),
        ("CacheParameterGroup", 1),
        ("ReplicationGroup", 1),
        ("Secret", 1),
        ("OriginAccessControl", 0),
        ("Distribution", 0),
        // The media bucket (no front end in this example).
        ("S3Bucket", 1),
        ("SNSTopic", 1),
        ("Alarms", 1),
        ("Dashboard", 1),
        // Refused connections, refused database connections, failed logins.
        ("MetricFilter", 3),
        // The servers' parameters and their grant to read them and the secrets.
        ("SSMParameters", 1),
        ("KMSKey", 1),
        ("IAMDataPolicy", 1),
    ])
}

fn expected_ecommerce() -> BTreeMap<&'static str, usize> {
    BTreeMap::from([
        ("VPC", 1),
        ("Subnet", 6),
        // Only a stack in an existing network has these.
        ("ExistingVPC", 0),
        // Its limit derives from an estimate these stacks are built without.
        ("Budget", 0),
        ("ExistingSubnet", 0),
        ("InternetGateway", 1),
        ("ElasticIP", 1),
        ("SecurityGroup", 3),
        ("NatGateway", 1),
        ("RouteTable", 4),
        ("VPCEndpoint", 1),
        // Flow logs are on by default.
        ("FlowLog", 1),
        ("IAMRole", 2),
        ("LogGroup", 2),
        ("TargetGroup", 1),
        ("LoadBalancer", 1),
        ("Listeners", 1),
        ("InstanceProfile", 1),
        ("LaunchTemplate", 1),
        ("AutoScalingGroup", 1),
        ("ScalingPolicies", 1),
        // No scheduled actions in this example.
        ("ScheduledActions", 0),
        ("DBSubnetGroup", 1),
        ("DBParameterGroup", 1),
        ("DBInstance", 1),
        ("DBLogGroup", 2),
        ("DBOptionGroup", 0),
        ("DBReplica", 0),
        // No cache in this example.
        ("CacheSubnetGroup", 0),
        ("CacheParameterGroup", 0),
        ("ReplicationGroup", 0),
        // The origin header CloudFront sends the load balancer.
        ("Secret", 1),
        ("OriginAccessControl", 1),
        ("Distribution", 1),
        // The web bucket.
        ("S3Bucket", 1),
        ("SNSTopic", 1),
        ("Alarms", 1),
        ("Dashboard", 1),
        // The servers' parameters and their grant to read them and the secrets.
        ("SSMParameters", 1),
        ("IAMDataPolicy", 1),
        ("KMSKey", 1),
        ("MetricFilter", 3),
    ])
}

fn nothing() -> BTreeMap<&'static str, usize> {
    expected_booking().into_keys().map(|k| (k, 0)).collect()
}

#[tokio::test]
async fn apply_creates_everything_and_a_second_apply_makes_no_write() {
    let moto = MotoServer::start();
    let stack = TestStack::new(&moto.endpoint, &example("booking.yaml"), "uid-steady").await;
    let first = stack.converge(&stack.cx, 5).await;
    assert!(
        first.converged,
        "{:?}",
        first
            .nodes
            .iter()
            .filter(|n| !n.is_ready())
            .collect::<Vec<_>>()
    );
    assert_eq!(stack.count_by_kind(&stack.cx).await, expected_booking());
    assert!(
        first
            .nodes
            .iter()
            .all(|n| matches!(n.action, Action::Create | Action::NoChange))
    );

    let cx = stack.reconnect(&moto.endpoint).await;
    let second = stack.engine().apply(&cx, &stack.blueprint.graph).await;
    assert!(second.converged);
    assert_eq!(second.writes, 0);
    assert_eq!(
        second.mutating_calls(),
        0,
        "the outcome carries the pass's own calls"
    );
    assert!(
        !first.calls.is_empty() && first.mutating_calls() < stack.cx.clients.calls.mutating(),
        "the last pass carries its own calls, not those of earlier passes"
    );
    assert_eq!(
        cx.clients.calls.mutating(),
        0,
        "{:?}",
        cx.clients.calls.mutating_calls()
    );
    assert!(second.nodes.iter().all(|n| n.action == Action::NoChange));
    // One describe per kind, batched by tag filter or name, never one call
    // per resource; the load balancer and target group add one attribute
    // read each (the target group one more: its targets' health), the
    // listeners one look-up of their load balancer, the
    // launch template one read of its latest version, the DB and cache
    // parameter groups one read of their parameters each, the dashboard
    // one read of its body, the alarm topic one of its subscriptions, and
    // the media bucket one read per setting (S3 has no describe that
    // returns them together: tags, public access block, ownership,
    // encryption, versioning, lifecycle, policy); the servers' data policy
    // one read of the policy per role the stack has (two: flow logs and
    // servers), besides its list of the roles; the roles three reads each
    // (two roles: GetRole, as ListRoles leaves out the permissions
    // boundary, their inline policy and their managed policies; with shared
    // reads one account-wide read serves them all); the parameters two pages
    // (booking has ten and SSM answers at most ten a page, with a token
    // for the next even when it turns out empty); the alarm topic's key
    // three reads after the tag look-up (state, rotation, policy), and the
    // topic one of its attributes (its key); the metric filters one read
    // per security metric (three, where the first is counted as the kind's).
    // The two kinds of an existing network look nothing up in a stack
    // that has its own.
    assert_eq!(stack.blueprint.graph.kinds().len(), 41);
    assert_eq!(
        cx.clients.calls.total(),
        (41 - 2) + 9 + 7 + 2 + 6 + 1 + 3 + 1 + 2,
        "{:?}",
        cx.clients.calls.snapshot()
    );
}

#[tokio::test]
async fn drift_out_of_band_is_planned_then_corrected() {
    let moto = MotoServer::start();
    let stack = TestStack::new(&moto.endpoint, &example("ecommerce.yaml"), "uid-drift").await;
    let created = stack.converge(&stack.cx, 5).await;
    assert!(created.converged);
    let id = |key: &str| created.node(key).and_then(|n| n.id.clone()).unwrap();

    // Someone deletes the public default route, opens SSH on the database
    // group and strips a subnet's Name tag.
    let ec2 = &stack.cx.clients.ec2;
    ec2.delete_route()
        .route_table_id(id("network/rt-public"))
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    ec2.authorize_security_group_ingress()
        .group_id(id("network/sg-db"))
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    ec2.delete_tags()
        .resources(id("network/subnet-app-1"))
        .tags(Tag::builder().key("Name").build())
        .send()
        .await
        .unwrap();

    let plan = stack.engine().plan(&stack.cx, &stack.blueprint.graph).await;
    let changed_fields = |key: &str| match &plan.node(key).unwrap().action {
        Action::Update(changes) => changes.iter().map(|c| c.field.clone()).collect::<Vec<_>>(),
        other => panic!("{key}: expected an update, got {other:?}"),
    };
    assert_eq!(changed_fields("network/rt-public"), ["routes"]);
    assert_eq!(changed_fields("network/sg-db"), ["ingress"]);
    assert_eq!(changed_fields("network/subnet-app-1"), ["tag:Name"]);
    assert_eq!(
        plan.nodes
            .iter()
            .filter(|n| matches!(n.action, Action::Update(_)))
            .count(),
        3
    );

    let fixed = stack
        .engine()
        .apply(&stack.cx, &stack.blueprint.graph)
        .await;
    assert!(fixed.converged);
    assert_eq!(fixed.writes, 3);
    let after = stack.engine().plan(&stack.cx, &stack.blueprint.graph).await;
    assert!(
        !after.has_changes(),
        "{:?}",
        after
            .nodes
            .iter()
            .filter(|n| n.action != Action::NoChange)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn observe_only_reports_drift_and_writes_nothing() {
    let moto = MotoServer::start();
    let stack = TestStack::new(&moto.endpoint, &example("ecommerce.yaml"), "uid-observe").await;
    let created = stack.converge(&stack.cx, 5).await;
    let sg = created
        .node("network/sg-app")
        .and_then(|n| n.id.clone())
        .unwrap();
    stack
        .cx
        .clients
        .ec2
        .delete_tags()
        .resources(&sg)
        .tags(Tag::builder().key("Name").build())
        .send()
        .await
        .unwrap();

    let mut engine = stack.engine();
    engine.options.managed = false;
    let cx = stack.reconnect(&moto.endpoint).await;
    let pass = engine.apply(&cx, &stack.blueprint.graph).await;
    let node = pass.node("network/sg-app").unwrap();
    assert_eq!(node.state, ResourceState::Drifted);
    assert!(matches!(&node.action, Action::Drift(c) if c[0].field == "tag:Name"));
    assert!(node.message.as_deref().unwrap().contains("ObserveOnly"));
    assert_eq!(cx.clients.calls.mutating(), 0);
    assert!(!pass.converged);
}

#[tokio::test]
async fn a_crash_after_any_mutating_call_never_duplicates_a_resource() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    let manifest = example("ecommerce.yaml");

    // How many mutating calls a clean apply makes.
    let clean = TestStack::new(&moto.endpoint, &manifest, "uid-count").await;
    assert!(clean.converge(&clean.cx, 5).await.converged);
    let total = clean.cx.clients.calls.mutating() as usize;
    assert!(total > 20, "{total}");

    for k in 1..=total {
        moto.reset();
        let stack = TestStack::new(&proxy.endpoint, &manifest, &format!("uid-crash-{k}")).await;
        proxy.recover();
        proxy.crash_after_mutations(k);
        // Passes until the k-th write (a load balancer still provisioning
        // holds its listeners back to a later pass).
        let engine = stack.engine();
        let mut crashed = engine.apply(&stack.cx, &stack.blueprint.graph).await;
        for _ in 0..5 {
            if proxy.has_crashed() || crashed.converged {
                break;
            }
            crashed = engine.apply(&stack.cx, &stack.blueprint.graph).await;
        }
        assert!(
            proxy.has_crashed(),
            "k={k}: the passes made fewer than {k} writes"
        );
        assert!(!crashed.converged, "k={k}");
        proxy.recover();

        let cx = stack.reconnect(&moto.endpoint).await;
        let converged = stack.converge(&cx, 5).await;
        assert!(converged.converged, "k={k}: {:?}", converged.terminal);
        assert_eq!(
            stack.count_by_kind(&cx).await,
            expected_ecommerce(),
            "k={k}: duplicates or missing"
        );
    }
}

#[tokio::test]
async fn destroy_leaves_nothing_tagged_from_full_and_partial_states() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    let manifest = example("booking.yaml");

    let full = TestStack::new(&moto.endpoint, &manifest, "uid-full").await;
    assert!(full.converge(&full.cx, 5).await.converged);
    assert!(
        !full.tagged_arns(&full.cx).await.is_empty(),
        "the tagging API sees the stack"
    );
    let destroyed = full.destroy(&full.cx, 10).await;
    assert!(destroyed.converged, "{:?}", destroyed.nodes);
    assert_eq!(full.count_by_kind(&full.cx).await, nothing());
    assert_eq!(full.tagged_arns(&full.cx).await, Vec::<String>::new());

    for k in [1, 7, 19, 33] {
        moto.reset();
        let partial = TestStack::new(&proxy.endpoint, &manifest, &format!("uid-partial-{k}")).await;
        proxy.recover();
        proxy.crash_after_mutations(k);
        partial
            .engine()
            .apply(&partial.cx, &partial.blueprint.graph)
            .await;
        proxy.recover();
        let cx = partial.reconnect(&moto.endpoint).await;
        let destroyed = partial.destroy(&cx, 10).await;
        assert!(destroyed.converged, "k={k}");
        assert_eq!(partial.count_by_kind(&cx).await, nothing(), "k={k}");
        assert_eq!(
            partial.tagged_arns(&cx).await,
            Vec::<String>::new(),
            "k={k}"
        );
    }
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_until_converged() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    proxy.set_faults(Faults {
        throttle_rate: 0.25,
        server_error_rate: 0.05,
        seed: 42,
        ..Faults::default()
    });
    let stack = TestStack::new(&proxy.endpoint, &example("ecommerce.yaml"), "uid-throttle").await;
    let outcome = stack.converge(&stack.cx, 20).await;
    assert!(
        outcome.converged,
        "{:?}",
        outcome
            .nodes
            .iter()
            .filter(|n| !n.is_ready())
            .collect::<Vec<_>>()
    );
    let stats = proxy.stats();
    assert!(stats.throttled > 5 && stats.server_errors > 0, "{stats:?}");
    assert!(stack.cx.clients.calls.retries() > 0);
    proxy.set_faults(Faults::default());
    let cx = stack.reconnect(&moto.endpoint).await;
    assert_eq!(stack.count_by_kind(&cx).await, expected_ecommerce());
}

#[tokio::test]
async fn a_terminal_error_stops_the_pass_without_retries() {
    let moto = MotoServer::start();
    let stack = TestStack::new(&moto.endpoint, &example("ecommerce.yaml"), "uid-terminal").await;
    // A CIDR AWS refuses for a VPC, as if it had slipped past validation.
    let graph = Graph::new(vec![Node::new(
        "network/vpc",
        Vpc {
            cidr: "10.0.0.0/8".into(),
        },
    )])
    .unwrap();
    let pass = stack.engine().apply(&stack.cx, &graph).await;
    let terminal = pass.terminal.clone().expect("a terminal error");
    assert_eq!(terminal.class, ErrorClass::Terminal);
    assert_eq!(terminal.operation, "CreateVpc");
    assert!(
        !terminal.code.is_empty() && !terminal.message.is_empty(),
        "{terminal:?}"
    );
    let node = pass.node("network/vpc").unwrap();
    assert_eq!(node.state, ResourceState::Failed);
    assert!(
        node.message
            .as_deref()
            .unwrap()
            .starts_with("failed: CreateVpc")
    );
    // One attempt: validation errors are not retried.
    let create_calls: u64 = stack
        .cx
        .clients
        .calls
        .snapshot()
        .iter()
        .filter(|(k, _)| k.operation == "CreateVpc")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(create_calls, 1);
    assert_eq!(stack.cx.clients.calls.retries(), 0);
}

#[tokio::test]
async fn changing_the_nat_mode_moves_routes_then_removes_gateways() {
    let moto = MotoServer::start();
    let manifest = example("ecommerce.yaml");
    let single = TestStack::new(&moto.endpoint, &manifest, "uid-nat").await;
    assert!(single.converge(&single.cx, 5).await.converged);

    let stackops::api::StackManifest::Ecommerce(mut changed) = manifest else {
        unreachable!()
    };
    changed.spec.network.nat_mode = Some(stackops::api::common::NatMode::None);
    let none = TestStack::new(
        &moto.endpoint,
        &stackops::api::StackManifest::Ecommerce(changed),
        "uid-nat",
    )
    .await;
    let outcome = none.converge(&none.cx, 5).await;
    assert!(outcome.converged, "{:?}", outcome.nodes);
    let counts = none.count_by_kind(&none.cx).await;
    assert_eq!(
        (counts["NatGateway"], counts["ElasticIP"]),
        (0, 0),
        "{counts:?}"
    );
    let tables = stackops::aws::ec2::ROUTE_TABLE
        .observe_all(&none.cx)
        .await
        .unwrap();
    let app = tables
        .iter()
        .find(|t| t.component == "network/rt-app-0")
        .unwrap();
    assert_eq!(
        app.fields["routes"], "",
        "no route out without a NAT gateway"
    );
    let plan = none.engine().plan(&none.cx, &none.blueprint.graph).await;
    assert!(!plan.has_changes());
}
