//! The monitoring tier's nodes: the application log group, the alarm topic
//! with its e-mail subscriptions (when the spec lists addresses), the
//! alarms of every tier the stack has, and the dashboard.

use crate::api::common::MonitoringSpec;
use crate::aws::Node;
use crate::aws::autoscaling::GROUP_KEY;
use crate::aws::cloudwatch::{ALARMS_KEY, Alarms, DASHBOARD_KEY, Dashboard, Notify, Sources};
use crate::aws::elasticache::REPLICATION_GROUP_KEY;
use crate::aws::elbv2::{LOAD_BALANCER_KEY, TARGET_GROUP_KEY};
use crate::aws::kms::{CustomerKey, KeyUser};
use crate::aws::logs::LogGroup;
use crate::aws::rds::{PRIMARY_KEY, replica_key};
use crate::aws::sns::{AlarmTopic, TOPIC_KEY, TopicKey};

/// The stack's key for its alarm topic (when the spec names none).
pub const ALARM_KEY_KEY: &str = "monitoring/alarm-key";

/// The application's log group (`/stackops/<hash>/app/logs`).
pub const APP_LOG_GROUP_KEY: &str = "app/logs";

/// The CDN's node: graphed on the dashboard when the stack has one.
pub const DISTRIBUTION_KEY: &str = "edge/distribution";

/// What else the stack has, for the alarms and the dashboard.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tiers {
    pub read_replicas: usize,
    /// Nodes of the cache (its primary and replicas), 0 without a cache.
    pub cache_nodes: usize,
    /// Whether the graph has a `DISTRIBUTION_KEY` node.
    pub cdn: bool,
}

/// The monitoring nodes of `spec` over the `tiers` a stack has.
pub fn monitoring_nodes(spec: &MonitoringSpec, tiers: Tiers) -> Vec<Node> {
    let sources = Sources {
        group: GROUP_KEY.into(),
        load_balancer: LOAD_BALANCER_KEY.into(),
        target_group: TARGET_GROUP_KEY.into(),
        database: PRIMARY_KEY.into(),
        replicas: (1..=tiers.read_replicas).map(replica_key).collect(),
        cache: (tiers.cache_nodes > 0).then(|| REPLICATION_GROUP_KEY.to_string()),
        cache_nodes: tiers.cache_nodes,
        distribution: tiers.cdn.then(|| DISTRIBUTION_KEY.to_string()),
    };
    let mut nodes = vec![Node::new(
        APP_LOG_GROUP_KEY,
        LogGroup {
            retention_days: spec.log_retention_days,
        },
    )];
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
        };
        let nodes = monitoring_nodes(&MonitoringSpec::default(), tiers);
        let alarms = &nodes[1].depends_on;
        assert!(alarms.contains(&replica_key(2)) && alarms.contains(&REPLICATION_GROUP_KEY.into()));
        // Alarms watch no CDN metric; the dashboard graphs it.
        assert!(!alarms.contains(&DISTRIBUTION_KEY.into()));
        assert!(nodes[2].depends_on.contains(&DISTRIBUTION_KEY.into()));
    }
}
