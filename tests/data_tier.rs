//! The database against a real moto server, and the rules that keep its
//! data: private, encrypted, TLS only, a password stackops never sees;
//! changes in place; replicas scaled down newest first; teardown that stops
//! at deletion protection with the database's network intact, resumes when
//! the spec lifts it, and leaves a final snapshot.

mod support;

use std::process::Command;

use stackops::api::StackManifest;
use stackops::api::common::{DatabaseSpec, DeletionPolicy};
use stackops::api::status::ResourceState;
use stackops::engine::{DataIntent, PassOutcome};
use support::moto::MotoServer;
use support::stack::{TestStack, calls_of, disposable, example, node_id as id};

fn with_database(stack: StackManifest, change: impl FnOnce(&mut DatabaseSpec)) -> StackManifest {
    let mut stack = stack;
    match &mut stack {
        StackManifest::Ecommerce(s) => change(&mut s.spec.database),
        StackManifest::Booking(s) => change(&mut s.spec.database),
    }
    stack
}

async fn created(moto: &MotoServer, stack: &StackManifest, uid: &str) -> (TestStack, PassOutcome) {
    let test = TestStack::new(&moto.endpoint, stack, uid).await;
    let pass = test.converge(&test.cx, 8).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    (test, pass)
}

#[tokio::test]
async fn the_database_is_private_encrypted_tls_only_with_a_password_stackops_never_sees() {
    let moto = MotoServer::start();
    let (stack, pass) = created(&moto, &example("booking.yaml"), "uid-db").await;
    let rds = &stack.cx.clients.rds;

    let found = rds
        .describe_db_instances()
        .db_instance_identifier(id(&pass, "data/database"))
        .send()
        .await
        .unwrap();
    let db = &found.db_instances()[0];
    assert_eq!(db.publicly_accessible(), Some(false));
    assert_eq!(db.storage_encrypted(), Some(true));
    assert_eq!(db.storage_type(), Some("gp3"));
    assert_eq!(db.multi_az(), Some(true));
    assert_eq!(db.backup_retention_period(), Some(14));
    assert_eq!(db.deletion_protection(), Some(true));
    assert_eq!(db.copy_tags_to_snapshot(), Some(true));
    assert_eq!(db.max_allocated_storage(), Some(500));
    assert_eq!(
        db.vpc_security_groups()[0].vpc_security_group_id(),
        Some(id(&pass, "network/sg-db").as_str())
    );
    let secret = db
        .master_user_secret()
        .and_then(|s| s.secret_arn())
        .unwrap();
    let node = pass.node("data/database").unwrap();
    assert_eq!(
        node.outputs.get("secretArn").map(String::as_str),
        Some(secret)
    );

    // The subnet group spans exactly the data subnets.
    let group = db.db_subnet_group().unwrap();
    let mut subnets: Vec<&str> = group
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier())
        .collect();
    subnets.sort_unstable();
    let mut data: Vec<String> = (0..3)
        .map(|az| id(&pass, &format!("network/subnet-data-{az}")))
        .collect();
    data.sort();
    assert_eq!(subnets, data);

    // TLS is forced by the parameter group of the engine family.
    let parameters_group = db.db_parameter_groups()[0]
        .db_parameter_group_name()
        .unwrap();
    assert_eq!(parameters_group, id(&pass, "data/db-parameters-postgres16"));
    let parameters = rds
        .describe_db_parameters()
        .db_parameter_group_name(parameters_group)
        .source("user")
        .send()
        .await
        .unwrap();
    assert!(
        parameters.parameters().iter().any(
            |p| p.parameter_name() == Some("rds.force_ssl") && p.parameter_value() == Some("1")
        )
    );

    // Two replicas of the primary, away from the first zone.
    let replicas = rds
        .describe_db_instances()
        .db_instance_identifier(id(&pass, "data/database-replica-1"))
        .send()
        .await
        .unwrap();
    let replica = &replicas.db_instances()[0];
    assert_eq!(
        replica.read_replica_source_db_instance_identifier(),
        Some(id(&pass, "data/database").as_str())
    );
    assert_eq!(replica.availability_zone(), Some("eu-west-1b"));
    assert!(pass.node("data/database-replica-2").is_some());

    // The password exists only in Secrets Manager: not in the outcome.
    let values = moto.secret_values("eu-west-1");
    let master = values
        .iter()
        .find_map(|v| serde_json::from_str::<serde_json::Value>(v).ok())
        .expect("the managed master secret");
    let password = master["password"].as_str().unwrap().to_string();
    assert!(password.len() >= 8);
    assert!(!format!("{pass:?}").contains(&password));
}

#[tokio::test]
async fn no_secret_reaches_the_cli_output_or_its_logs() {
    let moto = MotoServer::start();
    // The booking example has the database's master password (made by
    // RDS) and the cache's AUTH token (drawn by Secrets Manager, handed by
    // stackops to ElastiCache); the ecommerce example a master password and
    // the header CloudFront sends the load balancer (drawn, handed to
    // CloudFront and to the listener rule).
    let mut captured = String::new();
    for example in ["booking.yaml", "ecommerce.yaml"] {
        let file = format!("{}/examples/{example}", env!("CARGO_MANIFEST_DIR"));
        for verb in ["apply", "plan"] {
            let out = Command::new(env!("CARGO_BIN_EXE_stackops"))
                .args([verb, "-f", &file])
                .envs(moto.env())
                .env("RUST_LOG", "debug")
                .output()
                .unwrap();
            captured.push_str(&String::from_utf8_lossy(&out.stdout));
            captured.push_str(&String::from_utf8_lossy(&out.stderr));
        }
    }
    assert_eq!(captured.matches("Ready:").count(), 2, "{captured}");
    assert!(captured.contains("data/cache"), "{captured}");
    assert!(captured.contains("edge/origin-secret"), "{captured}");
    let values = moto.secret_values("eu-west-1");
    assert_eq!(
        values.len(),
        4,
        "two master passwords, the AUTH token, the origin header"
    );
    for value in &values {
        assert!(value.len() >= 16);
        assert!(!captured.contains(value.as_str()), "a secret leaked");
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(value) {
            let password = json["password"].as_str().unwrap();
            assert!(!captured.contains(password), "the master password leaked");
        }
    }
}

#[tokio::test]
async fn the_cache_is_encrypted_and_authenticated_with_a_token_kept_in_secrets_manager() {
    let moto = MotoServer::start();
    let (stack, pass) = created(&moto, &example("booking.yaml"), "uid-cache").await;
    let cache = &stack.cx.clients.elasticache;
    let found = cache
        .describe_replication_groups()
        .replication_group_id(id(&pass, "data/cache"))
        .send()
        .await
        .unwrap();
    let group = &found.replication_groups()[0];
    assert_eq!(group.at_rest_encryption_enabled(), Some(true));
    assert_eq!(group.transit_encryption_enabled(), Some(true));
    assert_eq!(group.auth_token_enabled(), Some(true));
    assert_eq!(group.member_clusters().len(), 3, "a primary and 2 replicas");
    assert_eq!(group.cache_node_type(), Some("cache.r7g.large"));
    assert_eq!(
        group.automatic_failover().map(|f| f.as_str()),
        Some("enabled")
    );
    assert_eq!(group.multi_az().map(|f| f.as_str()), Some("enabled"));
    assert_eq!(group.snapshot_retention_limit(), Some(7));

    // The token: 64 letters and digits, in Secrets Manager only.
    let node = pass.node("data/cache-auth-token").unwrap();
    let arn = node.outputs.get("arn").unwrap();
    assert!(arn.starts_with("arn:aws:secretsmanager:"), "{arn}");
    let values = moto.secret_values("eu-west-1");
    let token = values
        .iter()
        .find(|v| v.len() == 64 && v.chars().all(|c| c.is_ascii_alphanumeric()))
        .expect("the AUTH token");
    assert!(!format!("{pass:?}").contains(token.as_str()));
    let cache_node = pass.node("data/cache").unwrap();
    assert!(cache_node.outputs.contains_key("address"), "{cache_node:?}");

    // The stack's outputs: endpoints, ports and secret ARNs, no value.
    let (outputs, _) = stackops::blueprint::outputs::collect(&pass);
    assert!(outputs.database_endpoint.is_some());
    assert_eq!(outputs.database_reader_endpoints.len(), 2);
    assert!(outputs.database_secret_arn.is_some());
    assert!(outputs.cache_endpoint.is_some());
    assert_eq!(outputs.cache_port, Some(6379));
    assert_eq!(outputs.cache_secret_arn.as_deref(), Some(arn.as_str()));
    let json = serde_json::to_string(&outputs).unwrap();
    for value in &values {
        assert!(!json.contains(value.as_str()));
    }
}

#[tokio::test]
async fn cache_node_type_and_replica_changes_are_modifications() {
    let moto = MotoServer::start();
    let (_, pass) = created(&moto, &disposable("booking.yaml"), "uid-cache-change").await;
    let group = id(&pass, "data/cache");

    let mut smaller = disposable("booking.yaml");
    if let StackManifest::Booking(s) = &mut smaller {
        let cache = s.spec.cache.as_mut().unwrap();
        cache.node_type = "cache.r7g.xlarge".into();
        cache.replicas = 1;
        cache.maxmemory_policy = stackops::api::common::MaxmemoryPolicy::AllkeysLru;
    }
    let changed = TestStack::new(&moto.endpoint, &smaller, "uid-cache-change").await;
    let outcome = changed.converge(&changed.cx, 4).await;
    assert!(outcome.converged);
    let calls = &changed.cx.clients.calls;
    assert_eq!(calls_of(calls, "ModifyReplicationGroup"), 1);
    assert_eq!(calls_of(calls, "DecreaseReplicaCount"), 1);
    assert_eq!(calls_of(calls, "ModifyCacheParameterGroup"), 1);
    assert_eq!(calls.mutating(), 3, "{:?}", calls.mutating_calls());
    let parameters = changed
        .cx
        .clients
        .elasticache
        .describe_cache_parameters()
        .cache_parameter_group_name(id(&outcome, "data/cache-parameters-redis7"))
        .source("user")
        .send()
        .await
        .unwrap();
    assert!(parameters.parameters().iter().any(|p| {
        p.parameter_name() == Some("maxmemory-policy") && p.parameter_value() == Some("allkeys-lru")
    }));
    assert_eq!(id(&outcome, "data/cache"), group, "the same group");
    let found = changed
        .cx
        .clients
        .elasticache
        .describe_replication_groups()
        .replication_group_id(&group)
        .send()
        .await
        .unwrap();
    let found = &found.replication_groups()[0];
    assert_eq!(found.cache_node_type(), Some("cache.r7g.xlarge"));
    assert_eq!(found.member_clusters().len(), 2);
}

#[tokio::test]
async fn a_deleted_cache_leaves_a_final_snapshot_by_default() {
    let moto = MotoServer::start();
    // The database disposable, the cache with the example's default policy.
    let mut stack = disposable("booking.yaml");
    if let StackManifest::Booking(s) = &mut stack {
        s.spec.cache.as_mut().unwrap().deletion_policy = DeletionPolicy::Snapshot;
    }
    let (test, pass) = created(&moto, &stack, "uid-cache-snapshot").await;
    let group = id(&pass, "data/cache");
    let done = test.destroy(&test.cx, 8).await;
    assert!(done.converged);
    let snapshots = test
        .cx
        .clients
        .elasticache
        .describe_snapshots()
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = snapshots
        .snapshots()
        .iter()
        .filter_map(|s| s.snapshot_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(
        names[0].starts_with(&format!("{group}-final-")),
        "{names:?}"
    );
    assert!(
        moto.secret_values("eu-west-1").is_empty(),
        "the token went with the cache"
    );
}

#[tokio::test]
async fn a_class_change_modifies_the_instance_in_place() {
    let moto = MotoServer::start();
    let (_, pass) = created(&moto, &disposable("ecommerce.yaml"), "uid-class").await;
    let primary = id(&pass, "data/database");

    let bigger = with_database(disposable("ecommerce.yaml"), |db| {
        db.instance_class = "db.r7g.large".into();
    });
    let changed = TestStack::new(&moto.endpoint, &bigger, "uid-class").await;
    let outcome = changed.converge(&changed.cx, 4).await;
    assert!(outcome.converged);
    let calls = &changed.cx.clients.calls;
    assert_eq!(calls_of(calls, "ModifyDBInstance"), 1);
    assert_eq!(calls.mutating(), 1, "{:?}", calls.mutating_calls());
    let found = changed
        .cx
        .clients
        .rds
        .describe_db_instances()
        .db_instance_identifier(&primary)
        .send()
        .await
        .unwrap();
    assert_eq!(
        found.db_instances()[0].db_instance_class(),
        Some("db.r7g.large")
    );
    assert_eq!(id(&outcome, "data/database"), primary, "same instance");
}

#[tokio::test]
async fn scaling_replicas_down_deletes_only_the_newest() {
    let moto = MotoServer::start();
    let (_, pass) = created(&moto, &disposable("booking.yaml"), "uid-replicas").await;
    let oldest = id(&pass, "data/database-replica-1");
    let newest = id(&pass, "data/database-replica-2");

    let fewer = with_database(disposable("booking.yaml"), |db| db.read_replicas = 1);
    let changed = TestStack::new(&moto.endpoint, &fewer, "uid-replicas").await;
    let outcome = changed.converge(&changed.cx, 4).await;
    assert!(outcome.converged);
    let calls = &changed.cx.clients.calls;
    assert_eq!(calls_of(calls, "DeleteDBInstance"), 1);
    // And the monitoring that followed the replica: its lag alarm and its
    // dashboard line.
    assert_eq!(calls_of(calls, "DeleteAlarms"), 1);
    assert_eq!(calls_of(calls, "PutDashboard"), 1);
    // And the servers' parameter listing the readers.
    assert_eq!(calls_of(calls, "PutParameter"), 1);
    // And the groups its logs were exported to.
    assert_eq!(calls_of(calls, "DeleteLogGroup"), 2);
    assert_eq!(calls.mutating(), 6, "{:?}", calls.mutating_calls());
    let gone = changed
        .cx
        .clients
        .rds
        .describe_db_instances()
        .db_instance_identifier(&newest)
        .send()
        .await;
    assert!(gone.is_err(), "the newest replica is deleted");
    assert_eq!(changed.count_by_kind(&changed.cx).await["DBReplica"], 1);
    assert_eq!(id(&outcome, "data/database-replica-1"), oldest);
}

#[tokio::test]
async fn drift_in_the_database_and_its_parameters_is_corrected() {
    let moto = MotoServer::start();
    let (stack, pass) = created(&moto, &disposable("ecommerce.yaml"), "uid-db-drift").await;
    let rds = &stack.cx.clients.rds;
    let primary = id(&pass, "data/database");
    let parameters = id(&pass, "data/db-parameters-postgres16");

    rds.modify_db_instance()
        .db_instance_identifier(&primary)
        .backup_retention_period(0)
        .publicly_accessible(true)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    rds.modify_db_parameter_group()
        .db_parameter_group_name(&parameters)
        .parameters(
            aws_sdk_rds::types::Parameter::builder()
                .parameter_name("rds.force_ssl")
                .parameter_value("0")
                .apply_method(aws_sdk_rds::types::ApplyMethod::Immediate)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let cx = stack.reconnect(&moto.endpoint).await;
    let fixed = stack.converge(&cx, 3).await;
    assert!(fixed.converged);
    assert_eq!(calls_of(&cx.clients.calls, "ModifyDBInstance"), 1);
    assert_eq!(calls_of(&cx.clients.calls, "ModifyDBParameterGroup"), 1);
    let found = rds
        .describe_db_instances()
        .db_instance_identifier(&primary)
        .send()
        .await
        .unwrap();
    let db = &found.db_instances()[0];
    assert_eq!(db.backup_retention_period(), Some(7));
    assert_eq!(db.publicly_accessible(), Some(false));
}

#[tokio::test]
async fn deletion_protection_stops_teardown_before_the_data_tier_until_lifted() {
    let moto = MotoServer::start();
    let (stack, pass) = created(&moto, &example("ecommerce.yaml"), "uid-protected").await;
    let primary = id(&pass, "data/database");

    // The spec keeps protection on: teardown removes what lies above the
    // data tier, then stops and says why.
    let intent = DataIntent {
        database_protection: Some(true),
        database_policy: Some(DeletionPolicy::Snapshot),
        cache_policy: None,
        cache_needs: Vec::new(),
        bucket_policies: Default::default(),
    };
    let cx = stack.cx.clone().with_data_intent(intent);
    let blocked = stack.destroy(&cx, 12).await;
    assert!(!blocked.converged);
    let node = blocked
        .nodes
        .iter()
        .find(|n| n.key == "data/database")
        .unwrap();
    assert_eq!(node.state, ResourceState::Blocked);
    assert!(
        node.message
            .as_deref()
            .unwrap()
            .contains("spec.database.deletionProtection"),
        "{node:?}"
    );
    // Only what the database needs is held back: what costs money while
    // the user decides (load balancer, NAT gateway and its address, servers,
    // CDN) is gone.
    let left = stack.count_by_kind(&stack.cx).await;
    for (kind, count) in [
        ("DBInstance", 1),
        ("DBSubnetGroup", 1),
        ("DBParameterGroup", 1),
        ("Subnet", 2),
        ("SecurityGroup", 1),
        ("VPC", 1),
        ("AutoScalingGroup", 0),
        ("LaunchTemplate", 0),
        ("LoadBalancer", 0),
        ("NatGateway", 0),
        ("ElasticIP", 0),
        ("Distribution", 0),
    ] {
        assert_eq!(
            left.get(kind).copied().unwrap_or(0),
            count,
            "{kind}: {left:?}"
        );
    }

    // The spec lifts protection (as an edit of a stack being deleted does):
    // teardown turns AWS's flag off, deletes with a final snapshot, finishes.
    let lifted = DataIntent {
        database_protection: Some(false),
        database_policy: Some(DeletionPolicy::Snapshot),
        cache_policy: None,
        cache_needs: Vec::new(),
        bucket_policies: Default::default(),
    };
    let cx = stack.cx.clone().with_data_intent(lifted);
    let done = stack.destroy(&cx, 8).await;
    assert!(done.converged, "{:?}", done.nodes);
    assert!(stack.tagged_arns(&stack.cx).await.is_empty());
    let snapshots = stack
        .cx
        .clients
        .rds
        .describe_db_snapshots()
        .snapshot_type("manual")
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = snapshots
        .db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(
        names[0].starts_with(&format!("{primary}-final-")),
        "{names:?}"
    );
}

#[tokio::test]
async fn deletion_policy_delete_leaves_no_snapshot() {
    let moto = MotoServer::start();
    let (stack, _) = created(&moto, &disposable("ecommerce.yaml"), "uid-delete").await;
    let done = stack.destroy(&stack.cx, 8).await;
    assert!(done.converged);
    let snapshots = stack
        .cx
        .clients
        .rds
        .describe_db_snapshots()
        .snapshot_type("manual")
        .send()
        .await
        .unwrap();
    assert!(snapshots.db_snapshots().is_empty());
}

#[tokio::test]
async fn retain_keeps_the_database_and_what_it_needs_and_teardown_finishes() {
    let moto = MotoServer::start();
    let retained = with_database(example("ecommerce.yaml"), |db| {
        db.deletion_policy = DeletionPolicy::Retain;
    });
    let (stack, pass) = created(&moto, &retained, "uid-retain").await;
    let primary = id(&pass, "data/database");

    let done = stack.destroy(&stack.cx, 8).await;
    assert!(done.converged, "{:?}", done.nodes);
    let node = done
        .nodes
        .iter()
        .find(|n| n.key == "data/database")
        .unwrap();
    assert_eq!(node.state, ResourceState::Retained);
    assert!(
        node.message
            .as_deref()
            .unwrap()
            .contains("deletionPolicy is Retain"),
        "{node:?}"
    );

    // The database and exactly what it needs stay; everything else is gone.
    let left = stack.count_by_kind(&stack.cx).await;
    for (kind, count) in [
        ("DBInstance", 1),
        ("DBSubnetGroup", 1),
        ("DBParameterGroup", 1),
        ("SecurityGroup", 1),
        ("Subnet", 2),
        ("VPC", 1),
        ("NatGateway", 0),
        ("LoadBalancer", 0),
        ("AutoScalingGroup", 0),
        ("RouteTable", 0),
        ("InternetGateway", 0),
    ] {
        assert_eq!(left[kind], count, "{kind}: {left:?}");
    }
    let found = stack
        .cx
        .clients
        .rds
        .describe_db_instances()
        .db_instance_identifier(&primary)
        .send()
        .await
        .unwrap();
    assert_eq!(
        found.db_instances()[0].db_instance_status(),
        Some("available"),
        "untouched"
    );
    let snapshots = stack
        .cx
        .clients
        .rds
        .describe_db_snapshots()
        .snapshot_type("manual")
        .send()
        .await
        .unwrap();
    assert!(snapshots.db_snapshots().is_empty(), "nothing was deleted");

    // Teardown stays done: a second run deletes nothing more.
    let again = stack.destroy(&stack.cx, 1).await;
    assert!(again.converged);
    assert_eq!(again.writes, 0);
}

#[tokio::test]
async fn the_same_stack_torn_down_twice_within_a_minute_finishes_both_times() {
    // The CLI derives the same uid every run: two teardowns of one stack
    // within a minute take two final snapshots that must not share a name.
    let moto = MotoServer::start();
    let mut spec = disposable("booking.yaml");
    if let StackManifest::Booking(s) = &mut spec {
        s.spec.database.deletion_policy = DeletionPolicy::Snapshot;
        if let Some(cache) = &mut s.spec.cache {
            cache.deletion_policy = DeletionPolicy::Snapshot;
        }
    }
    let started = std::time::Instant::now();
    for round in 0..2 {
        let (stack, _) = created(&moto, &spec, "uid-twice").await;
        let done = stack.destroy(&stack.cx, 10).await;
        assert!(done.converged, "round {round}: {:?}", done.terminal);
        assert!(
            stack.tagged_arns(&stack.cx).await.is_empty(),
            "round {round}"
        );
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "within a minute"
    );
    let probe = TestStack::new(&moto.endpoint, &spec, "uid-twice").await;
    let rds = probe
        .cx
        .clients
        .rds
        .describe_db_snapshots()
        .snapshot_type("manual")
        .send()
        .await
        .unwrap();
    let names: std::collections::BTreeSet<&str> = rds
        .db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier())
        .collect();
    assert_eq!(names.len(), 2, "one final snapshot per teardown: {names:?}");
}

#[tokio::test]
async fn a_retained_cache_stays_with_what_it_needs_and_teardown_finishes() {
    let moto = MotoServer::start();
    let mut retained = disposable("booking.yaml");
    if let StackManifest::Booking(s) = &mut retained {
        s.spec.cache.as_mut().unwrap().deletion_policy = DeletionPolicy::Retain;
    }
    let (stack, pass) = created(&moto, &retained, "uid-retain-cache").await;
    let cache = id(&pass, "data/cache");
    let token = id(&pass, "data/cache-auth-token");

    let done = stack.destroy(&stack.cx, 10).await;
    assert!(done.converged, "{:?}", done.nodes);
    let node = done.nodes.iter().find(|n| n.key == "data/cache").unwrap();
    assert_eq!(node.state, ResourceState::Retained);
    assert!(
        node.message
            .as_deref()
            .unwrap()
            .contains("spec.cache.deletionPolicy is Retain"),
        "{node:?}"
    );
    assert_eq!(
        calls_of(&stack.cx.clients.calls, "DeleteReplicationGroup"),
        0
    );

    // The cache and exactly what it needs stay; the database (policy
    // Delete) and everything else are gone.
    let left = stack.count_by_kind(&stack.cx).await;
    for (kind, count) in [
        ("ReplicationGroup", 1),
        ("CacheSubnetGroup", 1),
        ("CacheParameterGroup", 1),
        ("Secret", 1),
        ("SecurityGroup", 1),
        ("Subnet", 3),
        ("VPC", 1),
        ("DBInstance", 0),
        ("DBSubnetGroup", 0),
        ("NatGateway", 0),
        ("LoadBalancer", 0),
        ("AutoScalingGroup", 0),
        ("InternetGateway", 0),
    ] {
        assert_eq!(left[kind], count, "{kind}: {left:?}");
    }
    let secrets = stack
        .cx
        .clients
        .secrets
        .describe_secret()
        .secret_id(&token)
        .send()
        .await
        .unwrap();
    assert!(
        secrets.deleted_date().is_none(),
        "the token clients log in with stays"
    );
    let groups = stack
        .cx
        .clients
        .elasticache
        .describe_replication_groups()
        .replication_group_id(&cache)
        .send()
        .await
        .unwrap();
    assert_eq!(groups.replication_groups().len(), 1);
    // A second teardown finds the same and changes nothing.
    let again = stack.reconnect(&moto.endpoint).await;
    assert!(stack.destroy(&again, 3).await.converged);
    assert_eq!(
        again.clients.calls.mutating(),
        0,
        "{:?}",
        again.clients.calls.mutating_calls()
    );
}
