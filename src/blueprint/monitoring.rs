//! The monitoring tier's nodes: the application log group, the alarm topic
//! with its e-mail subscriptions (when the spec lists addresses), the
//! metric filters that count security events in the flow logs and the
//! database's logs, the alarms of every tier the stack has, and the
//! dashboard.

use crate::api::common::MonitoringSpec;
use crate::aws::Node;
use crate::aws::autoscaling::GROUP_KEY;
use crate::aws::cloudwatch::{ALARMS_KEY, Alarms, DASHBOARD_KEY, Dashboard, Notify, Sources};
use crate::aws::elasticache::REPLICATION_GROUP_KEY;
use crate::aws::elbv2::{LOAD_BALANCER_KEY, TARGET_GROUP_KEY};
use crate::aws::kms::{CustomerKey, KeyUser};
use crate::aws::logs::metric_filter::{
    DATABASE_AUTH_FAILURES, DATABASE_PORT_REJECTS, REJECTED_FLOWS, rejected_flow_pattern,
};
use crate::aws::logs::{LogGroup, MetricFilter};
use crate::aws::rds::{PRIMARY_KEY, replica_key};
use crate::aws::sns::{AlarmTopic, TOPIC_KEY, TopicKey};

/// The stack's key for its alarm topic (when the spec names none).
pub const ALARM_KEY_KEY: &str = "monitoring/alarm-key";

/// The application's log group (`/stackops/<hash>/app/logs`).
pub const APP_LOG_GROUP_KEY: &str = "app/logs";

/// The CDN's node: graphed on the dashboard when the stack has one.
pub const DISTRIBUTION_KEY: &str = "edge/distribution";

/// What else the stack has, for the alarms and the dashboard.
#[derive(Clone, Debug, Default)]
pub struct Tiers {
    pub read_replicas: usize,
    /// Nodes of the cache (its primary and replicas), 0 without a cache.
    pub cache_nodes: usize,
    /// Whether the graph has a `DISTRIBUTION_KEY` node.
    pub cdn: bool,
    /// The CDN's web ACL ARN, when the spec names one.
    pub web_acl: Option<String>,
    /// The flow logs' log group node, when the VPC has flow logs.
    pub flow_logs: Option<String>,
    /// The database's port, whose refused connections are counted apart.
    pub database_port: i32,
    /// The exported database log refused logins show in (its node), and
    /// the pattern that matches one, when the database exports its logs.
    pub auth_log: Option<(String, &'static str)>,
}

/// The metric filters of the security metrics the stack's logs give.
fn security_filters(tiers: &Tiers) -> Vec<MetricFilter> {
    let mut filters = Vec::new();
    if let Some(group) = &tiers.flow_logs {
        filters.push(MetricFilter {
            metric: REJECTED_FLOWS,
            group: group.clone(),
            pattern: rejected_flow_pattern(None),
        });
        filters.push(MetricFilter {
            metric: DATABASE_PORT_REJECTS,
            group: group.clone(),
            pattern: rejected_flow_pattern(Some(tiers.database_port)),
        });
    }
    if let Some((group, pattern)) = &tiers.auth_log {
        filters.push(MetricFilter {
            metric: DATABASE_AUTH_FAILURES,
            group: group.clone(),
            pattern: pattern.to_string(),
        });
    }
    filters
}

/// How many alarms the stack of `spec` over `tiers` has (each is billed).
pub fn alarm_count(spec: &MonitoringSpec, tiers: &Tiers) -> usize {
    Alarms {
        sources: sources(tiers, &security_filters(tiers)),
        thresholds: spec.alarms.clone(),
        notify: Notify::Nobody,
    }
    .count()
}

/// What the alarms and the dashboard watch.
fn sources(tiers: &Tiers, filters: &[MetricFilter]) -> Sources {
    Sources {
        group: GROUP_KEY.into(),
        load_balancer: LOAD_BALANCER_KEY.into(),
        target_group: TARGET_GROUP_KEY.into(),
        database: PRIMARY_KEY.into(),
        replicas: (1..=tiers.read_replicas).map(replica_key).collect(),
        cache: (tiers.cache_nodes > 0).then(|| REPLICATION_GROUP_KEY.to_string()),
        cache_nodes: tiers.cache_nodes,
        distribution: tiers.cdn.then(|| DISTRIBUTION_KEY.to_string()),
        security: filters
            .iter()
            .map(|f| (f.metric, f.metric.filter_key()))
            .collect(),
        web_acl: tiers.web_acl.clone(),
    }
}

/// The monitoring nodes of `spec` over the `tiers` a stack has.
pub fn monitoring_nodes(spec: &MonitoringSpec, tiers: Tiers) -> Vec<Node> {
    let filters = security_filters(&tiers);
    let sources = sources(&tiers, &filters);
    let mut nodes = vec![Node::new(
        APP_LOG_GROUP_KEY,
        LogGroup {
            retention_days: spec.log_retention_days,
        },
    )];
    for filter in filters {
        let group = filter.group.clone();
        nodes.push(Node::new(filter.metric.filter_key(), filter).after([group]));
    }
    let notifications = &spec.notifications;
    let notify = if let Some(arn) = &notifications.sns_topic_arn {
        Notify::Existing(arn.clone())
    } else if !notifications.emails.is_empty() {
        let key = match &notifications.kms_key_id {
            Some(given) => TopicKey::Given(given.clone()),
            None => {
                nodes.push(Node::new(
                    ALARM_KEY_KEY,
                    CustomerKey {
                        user: KeyUser::CloudWatchAlarms,
                    },
                ));
                TopicKey::Node(ALARM_KEY_KEY.into())
            }
        };
        let after = match &key {
            TopicKey::Node(node) => vec![node.clone()],
            TopicKey::Given(_) => Vec::new(),
        };
        nodes.push(
            Node::new(
                TOPIC_KEY,
                AlarmTopic {
                    emails: notifications.emails.clone(),
                    key,
                },
            )
            .after(after),
        );
        Notify::Topic(TOPIC_KEY.into())
    } else {
        Notify::Nobody
    };
    let mut alarm_deps = sources.keys();
    alarm_deps.retain(|k| Some(k) != sources.distribution.as_ref());
    if let Notify::Topic(key) = &notify {
        alarm_deps.push(key.clone());
    }
    nodes.push(
        Node::new(
            ALARMS_KEY,
            Alarms {
                sources: sources.clone(),
                thresholds: spec.alarms.clone(),
                notify,
            },
        )
        .after(alarm_deps),
    );
    if spec.dashboard {
        nodes.push(
            Node::new(
                DASHBOARD_KEY,
                Dashboard {
                    sources: sources.clone(),
                },
            )
            .after(sources.keys()),
        );
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::Notifications;

    fn keys(nodes: &[Node]) -> Vec<&str> {
        nodes.iter().map(|n| n.key.as_str()).collect()
    }

    #[test]
    fn a_topic_only_for_emails_and_a_dashboard_only_when_asked() {
        let mut spec = MonitoringSpec::default();
        assert_eq!(
            keys(&monitoring_nodes(&spec, Tiers::default())),
            [APP_LOG_GROUP_KEY, ALARMS_KEY, DASHBOARD_KEY]
        );
        spec.notifications = Notifications {
            emails: vec!["ops@example.com".into()],
            sns_topic_arn: None,
            kms_key_id: None,
        };
        spec.dashboard = false;
        let nodes = monitoring_nodes(&spec, Tiers::default());
        assert_eq!(
            keys(&nodes),
            [APP_LOG_GROUP_KEY, ALARM_KEY_KEY, TOPIC_KEY, ALARMS_KEY]
        );
        assert!(nodes[2].depends_on.contains(&ALARM_KEY_KEY.to_string()));
        assert!(nodes[3].depends_on.contains(&TOPIC_KEY.to_string()));
        // A key the spec names: no key of the stack's own.
        spec.notifications.kms_key_id = Some("alias/ops".into());
        let nodes = monitoring_nodes(&spec, Tiers::default());
        assert_eq!(keys(&nodes), [APP_LOG_GROUP_KEY, TOPIC_KEY, ALARMS_KEY]);
    }

    #[test]
    fn alarms_and_dashboard_wait_for_what_they_watch() {
        let tiers = Tiers {
            read_replicas: 2,
            cache_nodes: 3,
            cdn: true,
            ..Tiers::default()
        };
        let nodes = monitoring_nodes(&MonitoringSpec::default(), tiers);
        let alarms = &nodes[1].depends_on;
        assert!(alarms.contains(&replica_key(2)) && alarms.contains(&REPLICATION_GROUP_KEY.into()));
        // Alarms watch no CDN metric; the dashboard graphs it.
        assert!(!alarms.contains(&DISTRIBUTION_KEY.into()));
        assert!(nodes[2].depends_on.contains(&DISTRIBUTION_KEY.into()));
    }

    #[test]
    fn security_filters_follow_the_logs_the_stack_has() {
        let spec = MonitoringSpec::default();
        let filter_keys = |tiers: Tiers| -> Vec<String> {
            monitoring_nodes(&spec, tiers)
                .into_iter()
                .map(|n| n.key)
                .filter(|k| k.starts_with("monitoring/filter-"))
                .collect()
        };
        assert!(filter_keys(Tiers::default()).is_empty());
        let tiers = Tiers {
            flow_logs: Some("network/flow-logs".into()),
            database_port: 5432,
            auth_log: Some(("data/database-logs-postgresql".into(), "\"failed\"")),
            ..Tiers::default()
        };
        assert_eq!(
            filter_keys(tiers.clone()),
            [
                REJECTED_FLOWS.filter_key(),
                DATABASE_PORT_REJECTS.filter_key(),
                DATABASE_AUTH_FAILURES.filter_key()
            ]
        );
        let nodes = monitoring_nodes(&spec, tiers);
        let alarms = nodes.iter().find(|n| n.key == ALARMS_KEY).unwrap();
        assert!(
            alarms
                .depends_on
                .contains(&DATABASE_AUTH_FAILURES.filter_key())
        );
        let auth = nodes
            .iter()
            .find(|n| n.key == DATABASE_AUTH_FAILURES.filter_key())
            .unwrap();
        assert_eq!(auth.depends_on, ["data/database-logs-postgresql"]);
    }
}
