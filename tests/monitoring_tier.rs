//! The monitoring tier against a real moto server: the alarms of every tier
//! with the spec's thresholds and the topic as their action, the topic with
//! its e-mail subscriptions, the dashboard, the application log group;
//! zero writes at steady state, one `PutMetricAlarm` per drifted or changed
//! alarm, alarms of removed replicas deleted, nothing left after teardown.

mod support;

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::MetricAlarm;
use stackops::api::StackManifest;
use stackops::api::common::MonitoringSpec;
use stackops::aws::Context;
use stackops::blueprint::outputs;
use stackops::identity::{owned_stem, short_hash};
use support::moto::MotoServer;
use support::stack::{TestStack, calls_of, disposable, node_id};

const KINDS: [&str; 4] = ["Alarms", "Dashboard", "SNSTopic", "LogGroup"];

fn with_monitoring(
    stack: StackManifest,
    change: impl FnOnce(&mut MonitoringSpec),
) -> StackManifest {
    let mut stack = stack;
    match &mut stack {
        StackManifest::Ecommerce(s) => change(s.spec.monitoring.as_mut().unwrap()),
        StackManifest::Booking(s) => change(&mut s.spec.monitoring),
    }
    stack
}

fn with_replicas(stack: StackManifest, replicas: i32) -> StackManifest {
    let mut stack = stack;
    if let StackManifest::Booking(s) = &mut stack {
        s.spec.database.read_replicas = replicas;
    }
    stack
}

fn stem(cx: &Context) -> String {
    owned_stem(&cx.identity.name, &cx.identity.uid)
}

/// The stack's alarms by name (without the stem).
async fn alarms(cx: &Context) -> BTreeMap<String, MetricAlarm> {
    let prefix = format!("{}-", stem(cx));
    let found = cx
        .clients
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(&prefix)
        .send()
        .await
        .unwrap();
    found
        .metric_alarms()
        .iter()
        .map(|a| {
            let name = a.alarm_name().unwrap().strip_prefix(&prefix).unwrap();
            (name.to_string(), a.clone())
        })
        .collect()
}

fn dimension<'a>(alarm: &'a MetricAlarm, name: &str) -> &'a str {
    alarm
        .dimensions()
        .iter()
        .find(|d| d.name() == Some(name))
        .and_then(|d| d.value())
        .unwrap_or_else(|| panic!("{:?} has no dimension {name}", alarm.alarm_name()))
}

/// Mutating calls of the monitoring services, by operation.
fn monitoring_writes(cx: &Context) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (key, n) in cx.clients.calls.snapshot() {
        let service = key.service.to_lowercase();
        let monitoring = service.contains("cloudwatch") || service.contains("sns");
        if monitoring && stackops::aws::calls::is_mutating(&key.operation) {
            *out.entry(key.operation.clone()).or_default() += n;
        }
    }
    out
}

fn monitoring_reads(cx: &Context) -> BTreeMap<String, u64> {
    let ops = [
        "DescribeAlarms",
        "ListDashboards",
        "GetDashboard",
        "ListTopics",
        "ListSubscriptionsByTopic",
        "DescribeLogGroups",
    ];
    ops.iter()
        .map(|op| (op.to_string(), calls_of(&cx.clients.calls, op)))
        .collect()
}

#[tokio::test]
async fn a_booking_stack_gets_its_alarms_topic_dashboard_and_logs_and_teardown_removes_them() {
    let moto = MotoServer::start();
    let manifest = disposable("booking.yaml");
    let stack = TestStack::new(&moto.endpoint, &manifest, "uid-monitoring").await;
    let pass = stack.converge(&stack.cx, 8).await;
    assert!(
        pass.converged,
        "{:?}",
        pass.nodes
            .iter()
            .filter(|n| !n.is_ready())
            .collect::<Vec<_>>()
    );
    let cx = &stack.cx;
    eprintln!("create, monitoring writes: {:?}", monitoring_writes(cx));

    // The topic, with both addresses subscribed by e-mail.
    let topic = node_id(&pass, "monitoring/alarm-topic");
    assert!(topic.ends_with(&format!("{}-alarms", stem(cx))), "{topic}");
    let subs = cx
        .clients
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(&topic)
        .send()
        .await
        .unwrap();
    let mut emails: Vec<(&str, &str)> = subs
        .subscriptions()
        .iter()
        .map(|s| (s.protocol().unwrap(), s.endpoint().unwrap()))
        .collect();
    emails.sort_unstable();
    assert_eq!(
        emails,
        [
            ("email", "oncall@example.com"),
            ("email", "reservations@example.com")
        ]
    );

    // Every tier's alarms, replicas and cache nodes each their own.
    let found = alarms(cx).await;
    let mut expected: Vec<String> = [
        "app-cpu",
        "lb-5xx",
        "target-5xx",
        "latency",
        "unhealthy-hosts",
        "db-cpu",
        "db-free-storage",
        "db-connections",
        "db-replica-1-lag",
        "db-replica-2-lag",
        "sec-rejected-flows",
        "sec-db-port-rejects",
        "sec-db-auth-failures",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for node in ["001", "002", "003"] {
        for metric in ["cpu", "memory", "evictions"] {
            expected.push(format!("cache-{node}-{metric}"));
        }
    }
    expected.sort();
    assert_eq!(found.keys().cloned().collect::<Vec<_>>(), expected);
    for (name, alarm) in &found {
        assert_eq!(
            alarm.alarm_actions(),
            std::slice::from_ref(&topic),
            "{name}"
        );
        assert_eq!(alarm.ok_actions(), std::slice::from_ref(&topic), "{name}");
        assert!(
            alarm
                .alarm_description()
                .unwrap()
                .contains("stack default/bookings"),
            "{name}: {:?}",
            alarm.alarm_description()
        );
    }
    // Thresholds from the spec (75, 800 ms, 70, 15 s) and the defaults.
    let threshold = |name: &str| found[name].threshold().unwrap();
    assert_eq!(threshold("app-cpu"), 75.0);
    assert_eq!(threshold("latency"), 0.8);
    assert_eq!(found["latency"].extended_statistic(), Some("p90"));
    assert_eq!(threshold("db-cpu"), 70.0);
    assert_eq!(threshold("db-replica-2-lag"), 15.0);
    assert_eq!(threshold("db-free-storage"), 5.0 * 1024.0 * 1024.0 * 1024.0);
    assert_eq!(
        found["db-free-storage"]
            .comparison_operator()
            .map(|c| c.as_str()),
        Some("LessThanThreshold")
    );
    assert_eq!(threshold("db-connections"), 200.0);
    assert_eq!(threshold("cache-002-memory"), 80.0);
    // Dimensions name the resources the other tiers made.
    assert_eq!(
        dimension(&found["app-cpu"], "AutoScalingGroupName"),
        node_id(&pass, "app/auto-scaling-group")
    );
    let unhealthy = &found["unhealthy-hosts"];
    assert!(dimension(unhealthy, "LoadBalancer").starts_with("app/"));
    assert!(dimension(unhealthy, "TargetGroup").starts_with("targetgroup/"));
    assert_eq!(
        dimension(&found["db-replica-1-lag"], "DBInstanceIdentifier"),
        node_id(&pass, "data/database-replica-1")
    );
    assert_eq!(
        dimension(&found["cache-003-cpu"], "CacheClusterId"),
        format!("{}-003", node_id(&pass, "data/cache"))
    );

    // The dashboard graphs the load balancer, servers, database and cache.
    let dashboard = cx
        .clients
        .cloudwatch
        .get_dashboard()
        .dashboard_name(stem(cx))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value =
        serde_json::from_str(dashboard.dashboard_body().unwrap()).unwrap();
    let text = body.to_string();
    for needle in [
        "TargetResponseTime",
        "AutoScalingGroupName",
        "ReplicaLag",
        "FreeStorageSpace",
        "EngineCPUUtilization",
        "eu-west-1",
    ] {
        assert!(text.contains(needle), "{needle} missing");
    }
    assert!(body["widgets"].as_array().unwrap().len() >= 10);

    // The application's log group keeps events as long as the spec says.
    let group = format!("/stackops/{}/app/logs", short_hash("uid-monitoring"));
    let groups = cx
        .clients
        .logs
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(90));

    // Status outputs name them.
    let (out, _) = outputs::collect(&pass);
    assert_eq!(out.dashboard.as_deref(), Some(stem(cx).as_str()));
    assert_eq!(out.alarms.len(), expected.len());
    assert_eq!(out.log_group.as_deref(), Some(group.as_str()));

    // Steady state: one read per kind (plus the dashboard body and the
    // topic's subscriptions), no write.
    let steady = stack.reconnect(&moto.endpoint).await;
    let again = stack.engine().apply(&steady, &stack.blueprint.graph).await;
    assert!(again.converged);
    assert_eq!(steady.clients.calls.mutating(), 0);
    let reads = monitoring_reads(&steady);
    eprintln!("steady, monitoring reads: {reads:?}");
    for op in [
        "DescribeAlarms",
        "ListDashboards",
        "GetDashboard",
        "ListTopics",
        "ListSubscriptionsByTopic",
    ] {
        assert_eq!(reads[op], 1, "{op}: {reads:?}");
    }

    // Alarms and topic carry the stack's tags.
    let alarm_tags = cx
        .clients
        .cloudwatch
        .list_tags_for_resource()
        .resource_arn(found["db-cpu"].alarm_arn().unwrap())
        .send()
        .await
        .unwrap();
    let tag = |key: &str| {
        alarm_tags
            .tags()
            .iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value())
            .map(String::from)
    };
    assert_eq!(tag("stackops.io/uid").as_deref(), Some("uid-monitoring"));
    assert_eq!(
        tag("stackops.io/component").as_deref(),
        Some("monitoring/alarms")
    );
    let topic_tags = cx
        .clients
        .sns
        .list_tags_for_resource()
        .resource_arn(&topic)
        .send()
        .await
        .unwrap();
    assert!(
        topic_tags
            .tags()
            .iter()
            .any(|t| t.key() == "stackops.io/uid" && t.value() == "uid-monitoring")
    );

    // Teardown leaves nothing of the tier.
    let gone = stack.reconnect(&moto.endpoint).await;
    let destroyed = stack.destroy(&gone, 10).await;
    assert!(destroyed.converged, "{:?}", destroyed.nodes);
    eprintln!("destroy, monitoring writes: {:?}", monitoring_writes(&gone));
    let counts = stack.count_by_kind(&gone).await;
    for kind in KINDS {
        assert_eq!(counts[kind], 0, "{kind}");
    }
    assert!(alarms(&gone).await.is_empty());
    let topics = gone.clients.sns.list_topics().send().await.unwrap();
    assert!(topics.topics().is_empty());
    let dashboards = gone
        .clients
        .cloudwatch
        .list_dashboards()
        .send()
        .await
        .unwrap();
    assert!(dashboards.dashboard_entries().is_empty());
    assert_eq!(stack.tagged_arns(&gone).await, Vec::<String>::new());
}

#[tokio::test]
async fn drift_is_put_back_one_alarm_and_one_dashboard_at_a_time() {
    let moto = MotoServer::start();
    let manifest = disposable("ecommerce.yaml");
    let stack = TestStack::new(&moto.endpoint, &manifest, "uid-drift-alarm").await;
    assert!(stack.converge(&stack.cx, 8).await.converged);
    let cx = &stack.cx;

    // Someone raises the database CPU threshold and edits the dashboard.
    let alarm = alarms(cx).await.remove("db-cpu").unwrap();
    cx.clients
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(alarm.alarm_name().unwrap())
        .namespace(alarm.namespace().unwrap())
        .metric_name(alarm.metric_name().unwrap())
        .set_statistic(alarm.statistic().cloned())
        .set_dimensions(Some(alarm.dimensions().to_vec()))
        .period(alarm.period().unwrap())
        .evaluation_periods(alarm.evaluation_periods().unwrap())
        .comparison_operator(alarm.comparison_operator().unwrap().clone())
        .threshold(99.0)
        .send()
        .await
        .unwrap();
    cx.clients
        .cloudwatch
        .put_dashboard()
        .dashboard_name(stem(cx))
        .dashboard_body(r#"{"widgets":[]}"#)
        .send()
        .await
        .unwrap();

    let fix = stack.reconnect(&moto.endpoint).await;
    let pass = stack.engine().apply(&fix, &stack.blueprint.graph).await;
    assert!(pass.converged);
    assert_eq!(
        monitoring_writes(&fix),
        BTreeMap::from([("PutDashboard".into(), 1), ("PutMetricAlarm".into(), 1)])
    );
    assert_eq!(fix.clients.calls.mutating(), 2);
    assert_eq!(alarms(cx).await["db-cpu"].threshold(), Some(80.0));
    assert!(
        alarms(cx).await["db-cpu"]
            .alarm_description()
            .unwrap()
            .contains("stackops")
    );

    // E-mail addresses changed in the spec: one unsubscribed, two added.
    let changed = with_monitoring(manifest, |m| {
        m.notifications.emails = vec!["a@example.com".into(), "b@example.com".into()];
    });
    let changed = TestStack::new(&moto.endpoint, &changed, "uid-drift-alarm").await;
    let pass = changed.converge(&changed.cx, 3).await;
    assert!(pass.converged);
    assert_eq!(
        monitoring_writes(&changed.cx),
        BTreeMap::from([("Subscribe".into(), 2), ("Unsubscribe".into(), 1)])
    );
}

#[tokio::test]
async fn a_threshold_change_is_one_put_and_a_removed_replica_takes_its_alarm() {
    let moto = MotoServer::start();
    let manifest = disposable("booking.yaml");
    let stack = TestStack::new(&moto.endpoint, &manifest, "uid-alarm-change").await;
    assert!(stack.converge(&stack.cx, 8).await.converged);

    let colder = with_monitoring(manifest.clone(), |m| m.alarms.database_cpu_percent = 60);
    let colder = TestStack::new(&moto.endpoint, &colder, "uid-alarm-change").await;
    let pass = colder.converge(&colder.cx, 3).await;
    assert!(pass.converged);
    assert_eq!(
        monitoring_writes(&colder.cx),
        BTreeMap::from([("PutMetricAlarm".into(), 1)])
    );
    assert_eq!(colder.cx.clients.calls.mutating(), 1);
    assert_eq!(alarms(&colder.cx).await["db-cpu"].threshold(), Some(60.0));

    let fewer = with_monitoring(with_replicas(manifest, 1), |m| {
        m.alarms.database_cpu_percent = 60;
    });
    let fewer = TestStack::new(&moto.endpoint, &fewer, "uid-alarm-change").await;
    let pass = fewer.converge(&fewer.cx, 5).await;
    assert!(pass.converged, "{:?}", pass.nodes);
    let writes = monitoring_writes(&fewer.cx);
    assert_eq!(writes.get("DeleteAlarms"), Some(&1), "{writes:?}");
    assert_eq!(writes.get("PutMetricAlarm"), None, "{writes:?}");
    let left = alarms(&fewer.cx).await;
    assert!(left.contains_key("db-replica-1-lag"));
    assert!(!left.contains_key("db-replica-2-lag"));
}

#[tokio::test]
async fn an_existing_topic_is_notified_and_no_topic_is_made() {
    let moto = MotoServer::start();
    let probe = TestStack::new(
        &moto.endpoint,
        &disposable("ecommerce.yaml"),
        "uid-own-topic",
    )
    .await;
    let topic = probe
        .cx
        .clients
        .sns
        .create_topic()
        .name("team-pager")
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_string();
    let manifest = with_monitoring(disposable("ecommerce.yaml"), |m| {
        m.notifications.emails.clear();
        m.notifications.sns_topic_arn = Some(topic.clone());
        m.dashboard = false;
    });
    let stack = TestStack::new(&moto.endpoint, &manifest, "uid-own-topic").await;
    assert!(stack.converge(&stack.cx, 8).await.converged);
    let counts = stack.count_by_kind(&stack.cx).await;
    assert_eq!((counts["SNSTopic"], counts["Dashboard"]), (0, 0));
    let found = alarms(&stack.cx).await;
    // No cache, no replicas in this example.
    // Eight of the tiers, three of the security metrics.
    assert_eq!(found.len(), 11, "{:?}", found.keys());
    assert!(found.values().all(|a| a.alarm_actions() == [topic.clone()]));
}

#[tokio::test]
async fn the_alarm_topic_is_encrypted_under_the_stacks_rotated_key_deleted_with_a_window() {
    let moto = MotoServer::start();
    let manifest = disposable("ecommerce.yaml");
    let stack = TestStack::new(&moto.endpoint, &manifest, "uid-alarm-key").await;
    let pass = stack.converge(&stack.cx, 8).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    let cx = &stack.cx;
    let kms = &cx.clients.kms;
    let key = node_id(&pass, "monitoring/alarm-key");
    let key_arn = pass
        .node("monitoring/alarm-key")
        .unwrap()
        .outputs
        .get("arn")
        .cloned()
        .unwrap();

    // The topic is encrypted under it; rotation is on; CloudWatch may use it.
    let topic = node_id(&pass, "monitoring/alarm-topic");
    let attributes = cx
        .clients
        .sns
        .get_topic_attributes()
        .topic_arn(&topic)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attributes.attributes().unwrap().get("KmsMasterKeyId"),
        Some(&key_arn)
    );
    let rotation = |cx: &Context| {
        let key = key.clone();
        let kms = cx.clients.kms.clone();
        async move {
            kms.get_key_rotation_status()
                .key_id(key)
                .send()
                .await
                .unwrap()
                .key_rotation_enabled()
        }
    };
    assert!(rotation(cx).await);
    let policy = kms
        .get_key_policy()
        .key_id(&key)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let cloudwatch = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["Principal"]["Service"]
                == serde_json::json!(["budgets.amazonaws.com", "cloudwatch.amazonaws.com"])
        })
        .expect("a statement for CloudWatch and Budgets");
    assert_eq!(
        cloudwatch["Action"],
        serde_json::json!(["kms:Decrypt", "kms:GenerateDataKey*"])
    );

    // Rotation turned off and the policy replaced out of band: one call
    // each puts them back.
    kms.disable_key_rotation()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    let account = key_arn.split(':').nth(4).unwrap();
    let admin_only = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}}],
    });
    kms.put_key_policy()
        .key_id(&key)
        .policy_name("default")
        .policy(admin_only.to_string())
        .send()
        .await
        .unwrap();
    let fresh = stack.reconnect(&moto.endpoint).await;
    assert!(stack.converge(&fresh, 3).await.converged);
    assert_eq!(
        fresh.clients.calls.mutating_calls(),
        [
            ("KMS:EnableKeyRotation".to_string(), 1),
            ("KMS:PutKeyPolicy".to_string(), 1),
        ]
    );
    assert!(rotation(cx).await);

    // Teardown schedules the key's deletion with a 30-day window.
    let gone = stack.reconnect(&moto.endpoint).await;
    assert!(stack.destroy(&gone, 10).await.converged);
    let described = kms.describe_key().key_id(&key).send().await.unwrap();
    let meta = described.key_metadata().unwrap();
    assert_eq!(
        meta.key_state(),
        Some(&aws_sdk_kms::types::KeyState::PendingDeletion)
    );
    assert_eq!(stack.tagged_arns(&gone).await, Vec::<String>::new());

    // The same stack again: a key pending deletion counts as gone, so it
    // gets a new one.
    let again = stack.reconnect(&moto.endpoint).await;
    let pass = stack.converge(&again, 8).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    assert_ne!(node_id(&pass, "monitoring/alarm-key"), key);
    assert_eq!(calls_of(&again.clients.calls, "CreateKey"), 1);
    assert!(stack.destroy(&again, 10).await.converged);
}
