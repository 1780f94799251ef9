//! Security signals against a real moto server: VPC flow logs on by
//! default, the database's logs exported into groups that expire, metric
//! filters that count refused connections and failed logins, an alarm on
//! each and a graph of them on the dashboard; a filter or an export removed
//! out of band is put back alone; a retained database keeps its log groups.

mod support;

use aws_sdk_ec2::types::Filter;
use aws_sdk_rds::types::CloudwatchLogsExportConfiguration;
use stackops::api::StackManifest;
use stackops::api::common::{DatabaseEngine, DeletionPolicy, FlowLogTraffic};
use stackops::aws::Context;
use stackops::identity::owned_stem;
use support::moto::MotoServer;
use support::stack::{TestStack, calls_of, disposable, node_id};

fn stem(cx: &Context) -> String {
    owned_stem(&cx.identity.name, &cx.identity.uid)
}

fn ecommerce(
    change: impl FnOnce(&mut stackops::api::ecommerce::EcommerceStackSpec),
) -> StackManifest {
    let mut stack = disposable("ecommerce.yaml");
    if let StackManifest::Ecommerce(s) = &mut stack {
        change(&mut s.spec);
    }
    stack
}

/// The stack's metric filters: (metric, log group, pattern).
async fn filters(cx: &Context) -> Vec<(String, String, String)> {
    let namespace = format!("{}/security", stem(cx));
    let mut found = Vec::new();
    for metric in [
        "RejectedFlows",
        "DatabasePortRejects",
        "DatabaseAuthFailures",
    ] {
        let page = cx
            .clients
            .logs
            .describe_metric_filters()
            .metric_namespace(&namespace)
            .metric_name(metric)
            .send()
            .await
            .unwrap();
        for f in page.metric_filters() {
            found.push((
                metric.to_string(),
                f.log_group_name().unwrap_or_default().to_string(),
                f.filter_pattern().unwrap_or_default().to_string(),
            ));
        }
    }
    found
}

/// Log groups under `prefix` with their retention in days.
async fn groups(cx: &Context, prefix: &str) -> Vec<(String, Option<i32>)> {
    let page = cx
        .clients
        .logs
        .describe_log_groups()
        .log_group_name_prefix(prefix)
        .send()
        .await
        .unwrap();
    page.log_groups()
        .iter()
        .map(|g| {
            (
                g.log_group_name().unwrap_or_default().to_string(),
                g.retention_in_days(),
            )
        })
        .collect()
}

async fn exports(cx: &Context, db: &str) -> Vec<String> {
    let found = cx
        .clients
        .rds
        .describe_db_instances()
        .db_instance_identifier(db)
        .send()
        .await
        .unwrap();
    let mut logs = found.db_instances()[0]
        .enabled_cloudwatch_logs_exports()
        .to_vec();
    logs.sort();
    logs
}

/// (traffic type, log group) of the VPC's flow logs.
async fn flow_logs(cx: &Context, vpc: &str) -> Vec<(String, String)> {
    let found = cx
        .clients
        .ec2
        .describe_flow_logs()
        .filter(Filter::builder().name("resource-id").values(vpc).build())
        .send()
        .await
        .unwrap();
    found
        .flow_logs()
        .iter()
        .map(|f| {
            (
                f.traffic_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                f.log_group_name().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_stack_logs_refusals_and_its_database_and_alarms_on_them_by_default() {
    let moto = MotoServer::start();
    let manifest = disposable("ecommerce.yaml");
    let StackManifest::Ecommerce(spec) = &manifest else {
        unreachable!()
    };
    let retention = spec.spec.monitoring.as_ref().unwrap().log_retention_days;
    let stack = TestStack::new(&moto.endpoint, &manifest, "uid-signals").await;
    let pass = stack.converge(&stack.cx, 8).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    let cx = &stack.cx;

    // Flow logs of refused traffic, into the stack's group.
    let vpc = node_id(&pass, "network/vpc");
    let flow_group = node_id(&pass, "network/flow-logs");
    assert_eq!(
        flow_logs(cx, &vpc).await,
        [("REJECT".to_string(), flow_group.clone())]
    );

    // PostgreSQL's logs exported, into groups made first with the retention.
    let db = node_id(&pass, "data/database");
    assert_eq!(exports(cx, &db).await, ["postgresql", "upgrade"]);
    let prefix = format!("/aws/rds/instance/{db}/");
    assert_eq!(
        groups(cx, &prefix).await,
        [
            (format!("{prefix}postgresql"), Some(retention)),
            (format!("{prefix}upgrade"), Some(retention)),
        ]
    );

    // A filter per security metric, on the log it reads.
    let found = filters(cx).await;
    assert_eq!(found.len(), 3, "{found:?}");
    let (_, group, pattern) = &found[0];
    assert_eq!(group, &flow_group);
    assert!(pattern.contains("action=\"REJECT\""), "{pattern}");
    let (_, group, pattern) = &found[1];
    assert_eq!(group, &flow_group);
    assert!(pattern.contains("dstport=5432"), "{pattern}");
    let (_, group, pattern) = &found[2];
    assert_eq!(group, &format!("{prefix}postgresql"));
    assert!(
        pattern.contains("password authentication failed"),
        "{pattern}"
    );

    // An alarm on each, in the stack's namespace, with the defaults.
    let alarms = cx
        .clients
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(format!("{}-sec-", stem(cx)))
        .send()
        .await
        .unwrap();
    let mut thresholds: Vec<(String, f64)> = alarms
        .metric_alarms()
        .iter()
        .map(|a| {
            assert_eq!(
                a.namespace(),
                Some(format!("{}/security", stem(cx)).as_str())
            );
            (
                a.metric_name().unwrap_or_default().to_string(),
                a.threshold().unwrap_or_default(),
            )
        })
        .collect();
    thresholds.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        thresholds,
        [
            ("DatabaseAuthFailures".to_string(), 5.0),
            ("DatabasePortRejects".to_string(), 10.0),
            ("RejectedFlows".to_string(), 500.0),
        ]
    );
    let dashboard = cx
        .clients
        .cloudwatch
        .get_dashboard()
        .dashboard_name(stem(cx))
        .send()
        .await
        .unwrap();
    let body = dashboard.dashboard_body().unwrap_or_default();
    assert!(body.contains("Security: refused connections"), "{body}");
    assert!(body.contains("DatabaseAuthFailures"), "{body}");

    // Out of band: the login filter deleted, the upgrade log's export
    // turned off. The next pass puts back exactly those.
    cx.clients
        .logs
        .delete_metric_filter()
        .filter_name(format!("{}-db-auth-failures", stem(cx)))
        .log_group_name(format!("{prefix}postgresql"))
        .send()
        .await
        .unwrap();
    cx.clients
        .rds
        .modify_db_instance()
        .db_instance_identifier(&db)
        .cloudwatch_logs_export_configuration(
            CloudwatchLogsExportConfiguration::builder()
                .disable_log_types("upgrade")
                .build(),
        )
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    assert_eq!(exports(cx, &db).await, ["postgresql"]);
    let fresh = stack.reconnect(&moto.endpoint).await;
    assert!(stack.converge(&fresh, 3).await.converged);
    let calls = &fresh.clients.calls;
    assert_eq!(calls.mutating(), 2, "{:?}", calls.mutating_calls());
    assert_eq!(calls_of(calls, "PutMetricFilter"), 1);
    assert_eq!(calls_of(calls, "ModifyDBInstance"), 1);
    assert_eq!(exports(cx, &db).await, ["postgresql", "upgrade"]);
    assert_eq!(filters(cx).await.len(), 3);

    // Teardown leaves no filter and no database log group.
    let gone = stack.reconnect(&moto.endpoint).await;
    assert!(stack.destroy(&gone, 10).await.converged);
    assert!(filters(cx).await.is_empty());
    assert!(groups(cx, &prefix).await.is_empty());
}

#[tokio::test]
async fn mysql_exports_its_error_and_slow_query_logs_and_all_traffic_can_be_logged() {
    let moto = MotoServer::start();
    let manifest = ecommerce(|spec| {
        spec.database.engine = DatabaseEngine::Mysql;
        spec.database.engine_version = None;
        spec.network.flow_log_traffic = FlowLogTraffic::All;
    });
    let stack = TestStack::new(&moto.endpoint, &manifest, "uid-mysql-signals").await;
    let pass = stack.converge(&stack.cx, 8).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    let cx = &stack.cx;
    let db = node_id(&pass, "data/database");
    assert_eq!(exports(cx, &db).await, ["audit", "error", "slowquery"]);

    // The audit log comes from the plugin in the stack's option group.
    let options = node_id(&pass, "data/db-options-8-0");
    let plugin = |group: &aws_sdk_rds::types::OptionGroup| {
        group
            .options()
            .iter()
            .map(|o| {
                let settings: Vec<String> = o
                    .option_settings()
                    .iter()
                    .map(|s| format!("{}={}", s.name().unwrap(), s.value().unwrap()))
                    .collect();
                format!("{} {}", o.option_name().unwrap(), settings.join(" "))
            })
            .collect::<Vec<_>>()
    };
    let described = cx
        .clients
        .rds
        .describe_option_groups()
        .option_group_name(&options)
        .send()
        .await
        .unwrap();
    assert_eq!(
        plugin(&described.option_groups_list()[0]),
        ["MARIADB_AUDIT_PLUGIN SERVER_AUDIT_EVENTS=CONNECT,QUERY_DCL,QUERY_DDL"]
    );
    let instance = cx
        .clients
        .rds
        .describe_db_instances()
        .db_instance_identifier(&db)
        .send()
        .await
        .unwrap();
    assert_eq!(
        instance.db_instances()[0].option_group_memberships()[0].option_group_name(),
        Some(options.as_str())
    );
    // The plugin removed out of band: included again, one call.
    cx.clients
        .rds
        .modify_option_group()
        .option_group_name(&options)
        .options_to_remove("MARIADB_AUDIT_PLUGIN")
        .send()
        .await
        .unwrap();
    let again = stack.reconnect(&moto.endpoint).await;
    assert!(stack.converge(&again, 2).await.converged);
    assert_eq!(calls_of(&again.clients.calls, "ModifyOptionGroup"), 1);
    assert_eq!(again.clients.calls.mutating(), 1);

    // The slow-query log is written, to a file RDS ships.
    let parameters = cx
        .clients
        .rds
        .describe_db_parameters()
        .db_parameter_group_name(node_id(&pass, "data/db-parameters-mysql8-0"))
        .source("user")
        .send()
        .await
        .unwrap();
    let set: Vec<(String, String)> = parameters
        .parameters()
        .iter()
        .map(|p| {
            (
                p.parameter_name().unwrap_or_default().to_string(),
                p.parameter_value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for wanted in [("slow_query_log", "1"), ("log_output", "FILE")] {
        assert!(
            set.contains(&(wanted.0.to_string(), wanted.1.to_string())),
            "{wanted:?} in {set:?}"
        );
    }
    let found = filters(cx).await;
    let (_, group, pattern) = &found[2];
    assert_eq!(group, &format!("/aws/rds/instance/{db}/error"));
    assert!(pattern.contains("Access denied for user"), "{pattern}");
    assert!(found[1].2.contains("dstport=3306"), "{found:?}");

    let vpc = node_id(&pass, "network/vpc");
    assert_eq!(flow_logs(cx, &vpc).await[0].0, "ALL");

    // Back to refusals only: flow logs cannot be modified, so the flow log
    // is replaced.
    let rejects = ecommerce(|spec| {
        spec.database.engine = DatabaseEngine::Mysql;
        spec.database.engine_version = None;
        spec.network.flow_log_traffic = FlowLogTraffic::Reject;
    });
    let changed = TestStack::new(&moto.endpoint, &rejects, "uid-mysql-signals").await;
    let pass = changed.converge(&changed.cx, 4).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    let logs = flow_logs(cx, &vpc).await;
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].0, "REJECT");
    assert_eq!(calls_of(&changed.cx.clients.calls, "DeleteFlowLogs"), 1);
    assert_eq!(calls_of(&changed.cx.clients.calls, "CreateFlowLogs"), 1);
    assert!(changed.destroy(&changed.cx, 10).await.converged);
}

#[tokio::test]
async fn a_retained_database_keeps_its_log_groups_and_signals_can_be_turned_off() {
    let moto = MotoServer::start();
    let manifest = ecommerce(|spec| spec.database.deletion_policy = DeletionPolicy::Retain);
    let stack = TestStack::new(&moto.endpoint, &manifest, "uid-retained-logs").await;
    let pass = stack.converge(&stack.cx, 8).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    let db = node_id(&pass, "data/database");
    let prefix = format!("/aws/rds/instance/{db}/");
    let gone = stack.reconnect(&moto.endpoint).await;
    stack.destroy(&gone, 10).await;
    // The database stays and goes on writing its logs: their groups stay.
    assert_eq!(groups(&gone, &prefix).await.len(), 2);
    assert!(filters(&gone).await.is_empty());

    // Without flow logs and exports: no filters, no security alarms.
    let quiet = ecommerce(|spec| {
        spec.network.flow_logs = false;
        spec.database.log_exports = false;
    });
    let other = TestStack::new(&moto.endpoint, &quiet, "uid-quiet").await;
    let pass = other.converge(&other.cx, 8).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    assert!(filters(&other.cx).await.is_empty());
    assert!(pass.node("network/flow-log").is_none());
    assert_eq!(
        exports(&other.cx, &node_id(&pass, "data/database")).await,
        Vec::<String>::new()
    );
    assert_eq!(calls_of(&other.cx.clients.calls, "PutMetricFilter"), 0);
    assert!(other.destroy(&other.cx, 10).await.converged);
}

#[tokio::test]
async fn read_replicas_export_their_logs_into_groups_of_their_own() {
    let moto = MotoServer::start();
    let manifest = ecommerce(|spec| spec.database.read_replicas = 2);
    let stack = TestStack::new(&moto.endpoint, &manifest, "uid-replica-logs").await;
    let pass = stack.converge(&stack.cx, 8).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    let cx = &stack.cx;
    let replicas = [1, 2].map(|i| node_id(&pass, &format!("data/database-replica-{i}")));
    for replica in &replicas {
        assert_eq!(exports(cx, replica).await, ["postgresql", "upgrade"]);
        let prefix = format!("/aws/rds/instance/{replica}/");
        assert_eq!(
            groups(cx, &prefix).await,
            [
                (format!("{prefix}postgresql"), Some(30)),
                (format!("{prefix}upgrade"), Some(30)),
            ]
        );
    }
    // The primary's groups are its own; the metric filters stay on them.
    let db = node_id(&pass, "data/database");
    assert_eq!(
        groups(cx, &format!("/aws/rds/instance/{db}/")).await.len(),
        2
    );

    // Steady: nothing to write.
    let fresh = stack.reconnect(&moto.endpoint).await;
    assert!(stack.converge(&fresh, 2).await.converged);
    assert_eq!(fresh.clients.calls.mutating(), 0);

    // A replica's export turned off out of band: one ModifyDBInstance, on it.
    cx.clients
        .rds
        .modify_db_instance()
        .db_instance_identifier(&replicas[1])
        .cloudwatch_logs_export_configuration(
            CloudwatchLogsExportConfiguration::builder()
                .disable_log_types("upgrade")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(exports(cx, &replicas[1]).await, ["postgresql"]);
    assert_eq!(exports(cx, &db).await, ["postgresql", "upgrade"]);
    let again = stack.reconnect(&moto.endpoint).await;
    assert!(stack.converge(&again, 2).await.converged);
    assert_eq!(calls_of(&again.clients.calls, "ModifyDBInstance"), 1);
    assert_eq!(again.clients.calls.mutating(), 1);
    assert_eq!(exports(cx, &replicas[1]).await, ["postgresql", "upgrade"]);

    // One replica fewer: it goes with its groups.
    let fewer = ecommerce(|spec| spec.database.read_replicas = 1);
    let changed = TestStack::new(&moto.endpoint, &fewer, "uid-replica-logs").await;
    let pass = changed.converge(&changed.cx, 6).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    let prefix = format!("/aws/rds/instance/{}/", replicas[1]);
    assert!(groups(cx, &prefix).await.is_empty());
    assert_eq!(
        groups(cx, &format!("/aws/rds/instance/{}/", replicas[0]))
            .await
            .len(),
        2
    );
    assert!(changed.destroy(&changed.cx, 10).await.converged);
}
