//! CloudWatch alarms and the dashboard of a stack.
//!
//! Both are named `stackops-<hash>-<stack>...` (see
//! `identity::owned_stem`): one prefix-filtered list call finds a stack's
//! alarms or dashboard, and IAM scopes the writes by `stackops-*`. Their
//! metrics name resources other nodes made (the Auto Scaling group, the
//! load balancer and target group, DB instances, cache nodes, the
//! distribution), read from those nodes' outputs.

pub mod alarms;
pub mod dashboard;

pub use alarms::{ALARMS, Alarms, Notify};
pub use dashboard::{DASHBOARD, Dashboard};

/// Every CloudWatch kind.
pub const KINDS: &[Kind] = &[&ALARMS, &DASHBOARD];

use crate::aws::logs::SecurityMetric;
use crate::aws::prelude::*;
use crate::identity::owned_stem;

pub const ALARMS_KEY: &str = "monitoring/alarms";
pub const DASHBOARD_KEY: &str = "monitoring/dashboard";

/// Metrics of CloudFront live in us-east-1, whatever the stack's region.
pub const CLOUDFRONT_METRICS_REGION: &str = "us-east-1";

/// The name prefix the alarms and dashboard kinds list: the stack's own
/// stem, or, while reads are shared, every stack's (`stackops-`), so that
/// one read serves every stack.
fn listed(cx: &Context) -> String {
    if cx.clients.reads.shares() {
        "stackops-".to_string()
    } else {
        stem(cx)
    }
}

/// `stackops-<hash>-<stack>` of the stack in `cx`.
pub(crate) fn stem(cx: &Context) -> String {
    owned_stem(&cx.identity.name, &cx.identity.uid)
}

/// The nodes whose resources the alarms and the dashboard watch, by key.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// Auto Scaling group (output `id`).
    pub group: String,
    /// Load balancer and target group (output `arnSuffix`).
    pub load_balancer: String,
    pub target_group: String,
    /// Primary DB instance and read replicas, oldest first (output `id`).
    pub database: String,
    pub replicas: Vec<String>,
    /// Replication group (outputs `id`, `memberClusters`), when the stack
    /// has a cache.
    pub cache: Option<String>,
    /// How many nodes the cache has (primary and replicas): the spec's
    /// count, which the alarms declare their calls by before the cache
    /// exists.
    pub cache_nodes: usize,
    /// CloudFront distribution (output `id`), when the stack has a CDN.
    pub distribution: Option<String>,
    /// The security metrics the stack's logs give, each with its metric
    /// filter's node (output `namespace`).
    pub security: Vec<(SecurityMetric, String)>,
    /// The CDN's web ACL ARN, when the spec names one (graphed only: an
    /// alarm on it would live in us-east-1).
    pub web_acl: Option<String>,
}

impl Sources {
    /// Every node key, for the graph's dependencies.
    pub fn keys(&self) -> Vec<String> {
        let mut keys = vec![
            self.group.clone(),
            self.load_balancer.clone(),
            self.target_group.clone(),
            self.database.clone(),
        ];
        keys.extend(self.replicas.iter().cloned());
        keys.extend(self.cache.iter().cloned());
        keys.extend(self.distribution.iter().cloned());
        keys.extend(self.security.iter().map(|(_, filter)| filter.clone()));
        keys
    }

    /// The cache's node clusters (`<group>-001`, ...), one metric source
    /// each: ElastiCache publishes per node, by `CacheClusterId`.
    pub(crate) fn cache_nodes(&self, inputs: &Inputs) -> Vec<String> {
        let Some(cache) = &self.cache else {
            return Vec::new();
        };
        inputs
            .get(cache, "memberClusters")
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }
}

/// A short label of cache node `member` of replication group `group`:
/// `001` for `<group>-001`.
pub(crate) fn node_label(group: &str, member: &str) -> String {
    member
        .strip_prefix(group)
        .and_then(|rest| rest.strip_prefix('-'))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(member)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_nodes_are_labelled_by_their_suffix() {
        assert_eq!(node_label("shop-1a2b-cache", "shop-1a2b-cache-002"), "002");
        assert_eq!(node_label("g", "other"), "other");
    }
}
