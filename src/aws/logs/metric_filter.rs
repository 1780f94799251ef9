//! Metric filters that turn log events into the stack's security metrics:
//! refused connections from the flow logs, refused connections to the
//! database port, failed database logins from the exported engine log.
//! Each metric lives in the stack's own namespace (`<stem>/security`), so
//! one `DescribeMetricFilters` call per metric finds its filter wherever
//! its log group is.

use aws_sdk_cloudwatchlogs::types::{MetricFilter as AwsMetricFilter, MetricTransformation};

use crate::aws::prelude::*;
use crate::identity::owned_stem;

pub struct MetricFilterKind;
pub static METRIC_FILTER: MetricFilterKind = MetricFilterKind;

/// A security metric: its CloudWatch name and the slug its filter, node and
/// alarm are named by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecurityMetric {
    pub name: &'static str,
    pub slug: &'static str,
}

pub const REJECTED_FLOWS: SecurityMetric = SecurityMetric {
    name: "RejectedFlows",
    slug: "rejected-flows",
};
pub const DATABASE_PORT_REJECTS: SecurityMetric = SecurityMetric {
    name: "DatabasePortRejects",
    slug: "db-port-rejects",
};
pub const DATABASE_AUTH_FAILURES: SecurityMetric = SecurityMetric {
    name: "DatabaseAuthFailures",
    slug: "db-auth-failures",
};

/// Every security metric a stack may have.
pub const SECURITY_METRICS: [SecurityMetric; 3] = [
    REJECTED_FLOWS,
    DATABASE_PORT_REJECTS,
    DATABASE_AUTH_FAILURES,
];

impl SecurityMetric {
    /// Node key of the metric's filter.
    pub fn filter_key(&self) -> String {
        format!("monitoring/filter-{}", self.slug)
    }
}

/// The flow log record of a refused connection, in the default format
/// (version account eni source destination srcport dstport protocol
/// packets bytes start end action status); `dstport` is matched when given.
pub fn rejected_flow_pattern(port: Option<i32>) -> String {
    let destination_port = port.map_or("dstport".to_string(), |p| format!("dstport={p}"));
    format!(
        "[version, account, eni, source, destination, srcport, {destination_port}, protocol, \
         packets, bytes, windowstart, windowend, action=\"REJECT\", flowlogstatus]"
    )
}

/// Filter of `metric` over the log group of node `group` (output `id`):
/// each event matching `pattern` counts 1.
pub struct MetricFilter {
    pub metric: SecurityMetric,
    pub group: String,
    pub pattern: String,
}

/// `stackops-<hash>-<stack>`, the stem the alarms are named by too.
fn stem(cx: &Context) -> String {
    owned_stem(&cx.identity.name, &cx.identity.uid)
}

/// The namespace of the stack's security metrics.
pub fn namespace(cx: &Context) -> String {
    format!("{}/security", stem(cx))
}

fn filter_name(cx: &Context, metric: SecurityMetric) -> String {
    format!("{}-{}", stem(cx), metric.slug)
}

fn outputs(cx: &Context, name: &str, metric: SecurityMetric) -> Fields {
    Fields::from([
        ("id".to_string(), name.to_string()),
        ("namespace".to_string(), namespace(cx)),
        ("metric".to_string(), metric.name.to_string()),
    ])
}

fn observed(cx: &Context, metric: SecurityMetric, filter: &AwsMetricFilter) -> Option<Observed> {
    let name = filter.filter_name()?;
    if name != filter_name(cx, metric) {
        return None;
    }
    let counts = filter
        .metric_transformations()
        .iter()
        .map(|t| {
            format!(
                "{}/{}={}",
                t.metric_namespace(),
                t.metric_name(),
                t.metric_value()
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    Some(Observed {
        component: metric.filter_key(),
        id: name.to_string(),
        arn: None,
        outputs: outputs(cx, name, metric),
        fields: Fields::from([
            (
                "group".to_string(),
                filter.log_group_name().unwrap_or_default().to_string(),
            ),
            (
                "pattern".to_string(),
                filter.filter_pattern().unwrap_or_default().to_string(),
            ),
            ("counts".to_string(), counts),
        ]),
        status: Status::Ready,
    })
}

async fn delete_filter(cx: &Context, name: &str, group: &str) -> Result<(), AwsError> {
    let deleted = cx
        .clients
        .logs
        .delete_metric_filter()
        .filter_name(name)
        .log_group_name(group)
        .send()
        .await
        .map_err(sdk("DeleteMetricFilter"));
    deleted.or_gone()
}

#[async_trait]
impl KindOps<AwsClients> for MetricFilterKind {
    fn name(&self) -> &'static str {
        "MetricFilter"
    }

    /// Above the log groups it reads, so it goes first.
    fn rank(&self) -> u8 {
        1
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let namespace = namespace(cx);
        let describe = |metric: Option<SecurityMetric>| {
            cx.clients
                .logs
                .describe_metric_filters()
                .set_metric_namespace(metric.map(|_| namespace.clone()))
                .set_metric_name(metric.map(|m| m.name.to_string()))
                .into_paginator()
                .items()
                .send()
                .try_collect()
        };
        let filters: Vec<AwsMetricFilter> = if cx.clients.reads.shares() {
            // Every metric filter of the account, one list for every stack
            // (kept for a window, like every list: new stacks add filters).
            cx.clients
                .listed("logs:DescribeMetricFilters", || async {
                    describe(None).await.map_err(sdk("DescribeMetricFilters"))
                })
                .await?
                .to_vec()
        } else {
            // One read per metric of the stack's namespace.
            let mut own = Vec::new();
            for metric in SECURITY_METRICS {
                own.extend(
                    describe(Some(metric))
                        .await
                        .map_err(sdk("DescribeMetricFilters"))?,
                );
            }
            own
        };
        // Each stack keeps its own by name either way.
        Ok(SECURITY_METRICS
            .iter()
            .flat_map(|metric| filters.iter().filter_map(|f| observed(cx, *metric, f)))
            .collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let group = observed.fields.get("group").cloned().unwrap_or_default();
        delete_filter(cx, &observed.id, &group).await?;
        Ok(Deletion::Done)
    }
}

impl MetricFilter {
    async fn put(&self, cx: &Context, inputs: &Inputs) -> Result<(), AwsError> {
        let counts = MetricTransformation::builder()
            .metric_namespace(namespace(cx))
            .metric_name(self.metric.name)
            .metric_value("1")
            .build()
            .map_err(built_wrongly("PutMetricFilter"))?;
        cx.clients
            .logs
            .put_metric_filter()
            .filter_name(filter_name(cx, self.metric))
            .log_group_name(inputs.require(&self.group, "id")?)
            .filter_pattern(&self.pattern)
            .metric_transformations(counts)
            .send()
            .await
            .map_err(sdk("PutMetricFilter"))?;
        Ok(())
    }
}

#[async_trait]
impl Resource<AwsClients> for MetricFilter {
    fn kind(&self) -> Kind {
        &METRIC_FILTER
    }

    fn desired(&self, _key: &str, cx: &Context, inputs: &Inputs) -> Fields {
        Fields::from([
            ("group".to_string(), inputs.get(&self.group, "id")),
            ("pattern".to_string(), self.pattern.clone()),
            (
                "counts".to_string(),
                format!("{}/{}=1", namespace(cx), self.metric.name),
            ),
        ])
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["PutMetricFilter"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        self.put(cx, inputs).await?;
        let name = filter_name(cx, self.metric);
        Ok(Observed {
            component: key.into(),
            id: name.clone(),
            arn: None,
            outputs: outputs(cx, &name, self.metric),
            fields: self.desired(key, cx, inputs),
            status: Status::Ready,
        })
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        // A put replaces the filter of that name on its group; one left on
        // another group would go on counting.
        if let Some(old) = changes.at("group").and_then(|c| c.from.clone()) {
            delete_filter(cx, &current.id, &old).await?;
        }
        self.put(cx, inputs).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flow_pattern_matches_refusals_and_the_port_when_given() {
        let any = rejected_flow_pattern(None);
        assert!(any.contains("action=\"REJECT\"") && any.contains(", dstport,"));
        assert_eq!(
            any.matches(',').count(),
            13,
            "14 fields of the default format"
        );
        assert!(rejected_flow_pattern(Some(5432)).contains("dstport=5432"));
    }

    #[test]
    fn each_metric_has_its_own_filter_node() {
        let keys: Vec<String> = SECURITY_METRICS.iter().map(|m| m.filter_key()).collect();
        assert_eq!(
            keys,
            [
                "monitoring/filter-rejected-flows",
                "monitoring/filter-db-port-rejects",
                "monitoring/filter-db-auth-failures"
            ]
        );
    }
}
