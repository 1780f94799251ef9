//! The stack's metric alarms, as one node: servers' CPU, load balancer
//! errors, latency and unhealthy targets, database CPU, free storage,
//! connections and each read replica's lag, each cache node's engine CPU,
//! memory and evictions, and the security metrics the stack's logs give
//! (refused connections, refused connections to the database port, failed
//! database logins). Thresholds come from `spec.monitoring.alarms`.
//!
//! Alarms carry tags, but `DescribeAlarms` does not return them: they are
//! found by name, `stackops-<hash>-<stack>-<alarm>`, in one prefix-filtered
//! call. Each alarm is one field, so an alarm edited out of band is put
//! back with one `PutMetricAlarm` for that alarm alone.

use aws_sdk_cloudwatch::types::{
    AlarmType, ComparisonOperator, Dimension, MetricAlarm, Statistic, Tag,
};

use super::{Sources, node_label, stem};
use crate::api::common::AlarmThresholds;
use crate::aws::logs::SecurityMetric;
use crate::aws::logs::metric_filter::{DATABASE_PORT_REJECTS, REJECTED_FLOWS};

use crate::aws::prelude::*;

pub struct AlarmsKind;
pub static ALARMS: AlarmsKind = AlarmsKind;

/// Most alarm names one `DeleteAlarms` call takes.
const DELETE_BATCH: usize = 100;

/// Bytes in a GiB, for the free storage floor.
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Where the alarms notify (alarm and OK actions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notify {
    Nobody,
    /// The topic of this node (output `arn`).
    Topic(String),
    /// A topic the spec names.
    Existing(String),
}

/// The alarms of a stack's tiers.
pub struct Alarms {
    pub sources: Sources,
    pub thresholds: AlarmThresholds,
    pub notify: Notify,
}

/// One alarm as stackops writes it and compares it.
#[derive(Clone, Debug, PartialEq)]
struct Alarm {
    /// Name after the stack's stem.
    name: String,
    description: String,
    namespace: String,
    metric: &'static str,
    /// A statistic (`Average`), or a percentile (`p90`).
    stat: &'static str,
    dimensions: Vec<(&'static str, String)>,
    period: i32,
    evaluation_periods: i32,
    comparison: &'static str,
    threshold: f64,
    missing_data: &'static str,
}

/// `Name=Value` pairs in one order, whichever order AWS returns them in.
fn dimensions_field<'a>(dimensions: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<String> = dimensions
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// Everything PutMetricAlarm sets, as one comparable value.
#[allow(clippy::too_many_arguments)]
fn alarm_field(
    metric: (&str, &str, &str),
    dimensions: &str,
    period: i32,
    evaluations: i32,
    comparison: &str,
    threshold: f64,
    missing: &str,
    actions: (&[String], &[String]),
    description: &str,
) -> String {
    let (namespace, name, stat) = metric;
    let mut alarm: Vec<&str> = actions.0.iter().map(String::as_str).collect();
    let mut ok: Vec<&str> = actions.1.iter().map(String::as_str).collect();
    alarm.sort_unstable();
    ok.sort_unstable();
    format!(
        "{namespace} {name} {stat} [{dimensions}] {period}s x{evaluations} {comparison} \
         {threshold} missing={missing} alarm=[{}] ok=[{}] \"{description}\"",
        alarm.join(","),
        ok.join(",")
    )
}

impl Alarm {
    fn field(&self, actions: &[String]) -> String {
        alarm_field(
            (&self.namespace, self.metric, self.stat),
            &dimensions_field(self.dimensions.iter().map(|(n, v)| (*n, v.as_str()))),
            self.period,
            self.evaluation_periods,
            self.comparison,
            self.threshold,
            self.missing_data,
            (actions, actions),
            &self.description,
        )
    }
}

fn observed_field(alarm: &MetricAlarm) -> String {
    let stat = alarm
        .extended_statistic()
        .map(String::from)
        .or_else(|| alarm.statistic().map(|s| s.as_str().to_string()))
        .unwrap_or_default();
    alarm_field(
        (
            alarm.namespace().unwrap_or_default(),
            alarm.metric_name().unwrap_or_default(),
            &stat,
        ),
        &dimensions_field(
            alarm
                .dimensions()
                .iter()
                .map(|d| (d.name().unwrap_or_default(), d.value().unwrap_or_default())),
        ),
        alarm.period().unwrap_or_default(),
        alarm.evaluation_periods().unwrap_or_default(),
        alarm
            .comparison_operator()
            .map(|c| c.as_str())
            .unwrap_or_default(),
        alarm.threshold().unwrap_or_default(),
        alarm.treat_missing_data().unwrap_or("missing"),
        (alarm.alarm_actions(), alarm.ok_actions()),
        alarm.alarm_description().unwrap_or_default(),
    )
}

const ABOVE: &str = "GreaterThanThreshold";
const AT_LEAST: &str = "GreaterThanOrEqualToThreshold";
const BELOW: &str = "LessThanThreshold";
/// Gauges keep their state through a gap; counts and latencies without
/// data mean no traffic, which is fine.
const KEEP_STATE: &str = "missing";
const FINE: &str = "notBreaching";

impl Alarms {
    /// Topic ARNs the alarms notify.
    fn actions(&self, inputs: &Inputs) -> Vec<String> {
        match &self.notify {
            Notify::Nobody => Vec::new(),
            Notify::Topic(key) => vec![inputs.get(key, "arn")],
            Notify::Existing(arn) => vec![arn.clone()],
        }
    }

    /// How many alarms the stack should have.
    pub fn count(&self) -> usize {
        self.alarms("", &Inputs::default()).len()
    }

    /// Every alarm the stack should have.
    fn wanted(&self, cx: &Context, inputs: &Inputs) -> Vec<Alarm> {
        self.alarms(&cx.identity.stack_tag(), inputs)
    }

    /// Every alarm of stack `stack` (its tag, for the descriptions).
    fn alarms(&self, stack: &str, inputs: &Inputs) -> Vec<Alarm> {
        let t = &self.thresholds;
        let s = &self.sources;
        let about = |what: String| format!("{what} (stack {stack}, managed by stackops)");
        let alarm = |name: &str,
                     what: String,
                     metric: (&str, &'static str, &'static str),
                     dimensions: Vec<(&'static str, String)>,
                     period: i32,
                     evaluation_periods: i32,
                     comparison: &'static str,
                     threshold: f64,
                     missing_data: &'static str| Alarm {
            name: name.to_string(),
            description: about(what),
            namespace: metric.0.to_string(),
            metric: metric.1,
            stat: metric.2,
            dimensions,
            period,
            evaluation_periods,
            comparison,
            threshold,
            missing_data,
        };
        let group = inputs.get(&s.group, "id");
        let lb = inputs.get(&s.load_balancer, "arnSuffix");
        let tg = inputs.get(&s.target_group, "arnSuffix");
        let db = inputs.get(&s.database, "id");
        let mut alarms = vec![
            alarm(
                "app-cpu",
                format!(
                    "Average CPU of the application servers above {}% for 15 minutes",
                    t.app_cpu_percent
                ),
                ("AWS/EC2", "CPUUtilization", "Average"),
                vec![("AutoScalingGroupName", group)],
                300,
                3,
                ABOVE,
                f64::from(t.app_cpu_percent),
                KEEP_STATE,
            ),
            alarm(
                "lb-5xx",
                format!(
                    "At least {} 5xx responses from the load balancer itself in 5 minutes",
                    t.load_balancer_5xx_count
                ),
                ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum"),
                vec![("LoadBalancer", lb.clone())],
                300,
                1,
                AT_LEAST,
                f64::from(t.load_balancer_5xx_count),
                FINE,
            ),
            alarm(
                "target-5xx",
                format!(
                    "At least {} 5xx responses from the application servers in 5 minutes",
                    t.load_balancer_5xx_count
                ),
                ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum"),
                vec![("LoadBalancer", lb.clone())],
                300,
                1,
                AT_LEAST,
                f64::from(t.load_balancer_5xx_count),
                FINE,
            ),
            alarm(
                "latency",
                format!(
                    "p90 target response time above {} ms for 10 minutes",
                    t.target_response_time_ms
                ),
                ("AWS/ApplicationELB", "TargetResponseTime", "p90"),
                vec![("LoadBalancer", lb.clone())],
                300,
                2,
                ABOVE,
                f64::from(t.target_response_time_ms) / 1000.0,
                FINE,
            ),
            alarm(
                "unhealthy-hosts",
                format!(
                    "At least {} unhealthy targets for 3 minutes",
                    t.unhealthy_hosts
                ),
                ("AWS/ApplicationELB", "UnHealthyHostCount", "Maximum"),
                vec![("LoadBalancer", lb), ("TargetGroup", tg)],
                60,
                3,
                AT_LEAST,
                f64::from(t.unhealthy_hosts),
                FINE,
            ),
            alarm(
                "db-cpu",
                format!(
                    "Database CPU above {}% for 15 minutes",
                    t.database_cpu_percent
                ),
                ("AWS/RDS", "CPUUtilization", "Average"),
                vec![("DBInstanceIdentifier", db.clone())],
                300,
                3,
                ABOVE,
                f64::from(t.database_cpu_percent),
                KEEP_STATE,
            ),
            alarm(
                "db-free-storage",
                format!(
                    "Database free storage below {} GiB",
                    t.database_free_storage_gib
                ),
                ("AWS/RDS", "FreeStorageSpace", "Minimum"),
                vec![("DBInstanceIdentifier", db.clone())],
                300,
                1,
                BELOW,
                f64::from(t.database_free_storage_gib) * GIB,
                KEEP_STATE,
            ),
            alarm(
                "db-connections",
                format!(
                    "Database connections above {} for 10 minutes",
                    t.database_connections
                ),
                ("AWS/RDS", "DatabaseConnections", "Maximum"),
                vec![("DBInstanceIdentifier", db)],
                300,
                2,
                ABOVE,
                f64::from(t.database_connections),
                KEEP_STATE,
            ),
        ];
        for (i, replica) in s.replicas.iter().enumerate() {
            alarms.push(alarm(
                &format!("db-replica-{}-lag", i + 1),
                format!(
                    "Read replica {} more than {} s behind for 5 minutes",
                    i + 1,
                    t.replica_lag_seconds
                ),
                ("AWS/RDS", "ReplicaLag", "Maximum"),
                vec![("DBInstanceIdentifier", inputs.get(replica, "id"))],
                60,
                5,
                ABOVE,
                f64::from(t.replica_lag_seconds),
                KEEP_STATE,
            ));
        }
        if let Some(cache) = &s.cache {
            let group = inputs.get(cache, "id");
            for member in s.cache_nodes(inputs) {
                let label = node_label(&group, &member);
                let node = || vec![("CacheClusterId", member.clone())];
                alarms.push(alarm(
                    &format!("cache-{label}-cpu"),
                    format!(
                        "Cache node {label}: engine CPU above {}% for 15 minutes",
                        t.cache_cpu_percent
                    ),
                    ("AWS/ElastiCache", "EngineCPUUtilization", "Average"),
                    node(),
                    300,
                    3,
                    ABOVE,
                    f64::from(t.cache_cpu_percent),
                    KEEP_STATE,
                ));
                alarms.push(alarm(
                    &format!("cache-{label}-memory"),
                    format!(
                        "Cache node {label}: memory use above {}% for 15 minutes",
                        t.cache_memory_percent
                    ),
                    (
                        "AWS/ElastiCache",
                        "DatabaseMemoryUsagePercentage",
                        "Average",
                    ),
                    node(),
                    300,
                    3,
                    ABOVE,
                    f64::from(t.cache_memory_percent),
                    KEEP_STATE,
                ));
                alarms.push(alarm(
                    &format!("cache-{label}-evictions"),
                    format!(
                        "Cache node {label}: at least {} evictions in 5 minutes",
                        t.cache_evictions
                    ),
                    ("AWS/ElastiCache", "Evictions", "Sum"),
                    node(),
                    300,
                    1,
                    AT_LEAST,
                    f64::from(t.cache_evictions),
                    FINE,
                ));
            }
        }
        for (metric, filter) in &s.security {
            let (threshold, what) = security_alarm(t, *metric);
            alarms.push(alarm(
                &format!("sec-{}", metric.slug),
                what,
                (&inputs.get(filter, "namespace"), metric.name, "Sum"),
                Vec::new(),
                300,
                1,
                AT_LEAST,
                f64::from(threshold),
                FINE,
            ));
        }
        alarms
    }

    /// Fails (to retry later) while an input the alarms name is unknown:
    /// a cache whose node list is not observed yet.
    fn require_inputs(&self, inputs: &Inputs) -> Result<(), AwsError> {
        let s = &self.sources;
        inputs.require(&s.group, "id")?;
        inputs.require(&s.load_balancer, "arnSuffix")?;
        inputs.require(&s.target_group, "arnSuffix")?;
        inputs.require(&s.database, "id")?;
        for replica in &s.replicas {
            inputs.require(replica, "id")?;
        }
        if let Some(cache) = &s.cache {
            inputs.require(cache, "memberClusters")?;
        }
        for (_, filter) in &s.security {
            inputs.require(filter, "namespace")?;
        }
        if let Notify::Topic(key) = &self.notify {
            inputs.require(key, "arn")?;
        }
        Ok(())
    }

    async fn put(
        &self,
        cx: &Context,
        key: &str,
        alarm: &Alarm,
        actions: &[String],
    ) -> Result<(), AwsError> {
        let mut put = cx
            .clients
            .cloudwatch
            .put_metric_alarm()
            .alarm_name(format!("{}-{}", stem(cx), alarm.name))
            .alarm_description(&alarm.description)
            .namespace(&alarm.namespace)
            .metric_name(alarm.metric)
            .period(alarm.period)
            .evaluation_periods(alarm.evaluation_periods)
            .threshold(alarm.threshold)
            .comparison_operator(ComparisonOperator::from(alarm.comparison))
            .treat_missing_data(alarm.missing_data)
            .actions_enabled(true)
            // Tags apply only when the call creates the alarm; AWS ignores
            // them on an update, so they are sent every time.
            .set_tags(Some(
                cx.identity
                    .tags(key)
                    .into_iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect(),
            ))
            .set_dimensions(Some(
                alarm
                    .dimensions
                    .iter()
                    .map(|(name, value)| Dimension::builder().name(*name).value(value).build())
                    .collect(),
            ));
        put = if alarm.stat.starts_with('p') {
            put.extended_statistic(alarm.stat)
        } else {
            put.statistic(Statistic::from(alarm.stat))
        };
        // PutMetricAlarm replaces the whole alarm: actions left out are removed.
        if !actions.is_empty() {
            put = put
                .set_alarm_actions(Some(actions.to_vec()))
                .set_ok_actions(Some(actions.to_vec()));
        }
        put.send().await.map_err(sdk("PutMetricAlarm"))?;
        Ok(())
    }

    /// Puts the alarms whose field is among `only` (every alarm when empty).
    async fn put_all(
        &self,
        cx: &Context,
        key: &str,
        inputs: &Inputs,
        only: &[Change],
    ) -> Result<(), AwsError> {
        let actions = self.actions(inputs);
        for alarm in self.wanted(cx, inputs) {
            let field = format!("alarm:{}", alarm.name);
            if only.is_empty() || only.iter().any(|c| c.field == field) {
                self.put(cx, key, &alarm, &actions).await?;
            }
        }
        Ok(())
    }

    fn outputs(cx: &Context, names: &[String]) -> Fields {
        let stem = stem(cx);
        Fields::from([
            ("id".to_string(), format!("{stem}-*")),
            (
                "names".to_string(),
                set_field(names.iter().map(|n| format!("{stem}-{n}"))),
            ),
        ])
    }
}

/// The threshold of a security metric's alarm, and what the alarm says:
/// why the count matters.
fn security_alarm(t: &AlarmThresholds, metric: SecurityMetric) -> (i32, String) {
    match metric {
        REJECTED_FLOWS => (
            t.rejected_flows,
            format!(
                "At least {} connections refused in the VPC in 5 minutes: a scan, or \
                 something misconfigured knocking on closed ports",
                t.rejected_flows
            ),
        ),
        DATABASE_PORT_REJECTS => (
            t.database_port_rejects,
            format!(
                "At least {} connections to the database port refused in 5 minutes: \
                 something outside the application servers is trying the database",
                t.database_port_rejects
            ),
        ),
        _ => (
            t.database_auth_failures,
            format!(
                "At least {} failed database logins in 5 minutes: a guessed password, \
                 or a client with a stale or leaked credential",
                t.database_auth_failures
            ),
        ),
    }
}

async fn delete_alarms(cx: &Context, names: &[String]) -> Result<(), AwsError> {
    for batch in names.chunks(DELETE_BATCH) {
        let deleted = cx
            .clients
            .cloudwatch
            .delete_alarms()
            .set_alarm_names(Some(batch.to_vec()))
            .send()
            .await
            .map_err(sdk("DeleteAlarms"));
        deleted.deleted()?;
    }
    Ok(())
}

#[async_trait]
impl KindOps<AwsClients> for AlarmsKind {
    fn name(&self) -> &'static str {
        "Alarms"
    }

    /// Above everything the alarms name (Auto Scaling group and replicas
    /// are 4), so teardown removes them first.
    fn rank(&self) -> u8 {
        6
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let prefix = format!("{}-", stem(cx));
        let pages = cx
            .clients
            .listed("cloudwatch:DescribeAlarms", || async {
                cx.clients
                    .cloudwatch
                    .describe_alarms()
                    // Every stack's alarms (one read shared by every stack); each
                    // keeps those under its own prefix.
                    .alarm_name_prefix(super::listed(cx))
                    .alarm_types(AlarmType::MetricAlarm)
                    .max_records(100)
                    .into_paginator()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeAlarms"))
            })
            .await?;
        let mut fields = Fields::new();
        let mut names = Vec::new();
        for alarm in pages.iter().flat_map(|p| p.metric_alarms()) {
            let Some(name) = alarm.alarm_name().and_then(|n| n.strip_prefix(&prefix)) else {
                continue;
            };
            names.push(name.to_string());
            fields.insert(format!("alarm:{name}"), observed_field(alarm));
        }
        if names.is_empty() {
            return Ok(Vec::new());
        }
        fields.insert("alarms".into(), set_field(names.iter().map(String::as_str)));
        Ok(vec![Observed {
            component: super::ALARMS_KEY.into(),
            id: format!("{prefix}*"),
            arn: None,
            outputs: Alarms::outputs(cx, &names),
            fields,
            status: Status::Ready,
        }])
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let stem = stem(cx);
        let names: Vec<String> =
            set_items(observed.fields.get("alarms").map_or("", String::as_str))
                .into_iter()
                .map(|n| format!("{stem}-{n}"))
                .collect();
        delete_alarms(cx, &names).await?;
        Ok(Deletion::Done)
    }
}

#[async_trait]
impl Resource<AwsClients> for Alarms {
    fn kind(&self) -> Kind {
        &ALARMS
    }

    fn desired(&self, _key: &str, cx: &Context, inputs: &Inputs) -> Fields {
        let actions = self.actions(inputs);
        let wanted = self.wanted(cx, inputs);
        let mut fields: Fields = wanted
            .iter()
            .map(|a| (format!("alarm:{}", a.name), a.field(&actions)))
            .collect();
        fields.insert(
            "alarms".into(),
            set_field(wanted.iter().map(|a| a.name.as_str())),
        );
        fields
    }

    /// One put per alarm (there is no batch call). The cache's alarms are
    /// per node, so its node list is stood in for by as many names as the
    /// spec asks nodes.
    fn create_calls(&self) -> Vec<&'static str> {
        let mut inputs = Inputs::default();
        if let Some(cache) = &self.sources.cache {
            let nodes = (1..=self.sources.cache_nodes).map(|n| format!("node-{n}"));
            inputs.insert(
                cache,
                Fields::from([("memberClusters".into(), set_field(nodes))]),
            );
        }
        vec!["PutMetricAlarm"; self.alarms("", &inputs).len()]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        self.require_inputs(inputs)?;
        self.put_all(cx, key, inputs, &[]).await?;
        let names: Vec<String> = self
            .wanted(cx, inputs)
            .into_iter()
            .map(|a| a.name)
            .collect();
        Ok(Observed {
            component: key.into(),
            id: format!("{}-*", stem(cx)),
            arn: None,
            fields: self.desired(key, cx, inputs),
            outputs: Self::outputs(cx, &names),
            status: Status::Ready,
        })
    }

    async fn update(
        &self,
        key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        self.require_inputs(inputs)?;
        let puts: Vec<Change> = changes
            .iter()
            .filter(|c| c.field.starts_with("alarm:"))
            .cloned()
            .collect();
        if !puts.is_empty() {
            self.put_all(cx, key, inputs, &puts).await?;
        }
        // Alarms of what the stack no longer has (a replica, a cache node).
        let wanted = self.wanted(cx, inputs);
        let stem = stem(cx);
        let gone: Vec<String> = set_items(current.fields.get("alarms").map_or("", String::as_str))
            .into_iter()
            .filter(|name| !wanted.iter().any(|a| a.name == *name))
            .map(|name| format!("{stem}-{name}"))
            .collect();
        if !gone.is_empty() {
            delete_alarms(cx, &gone).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_compare_in_one_order() {
        assert_eq!(
            dimensions_field([("TargetGroup", "tg"), ("LoadBalancer", "lb")]),
            dimensions_field([("LoadBalancer", "lb"), ("TargetGroup", "tg")])
        );
    }

    #[test]
    fn a_field_names_every_setting() {
        let field = alarm_field(
            ("AWS/RDS", "FreeStorageSpace", "Minimum"),
            "DBInstanceIdentifier=db",
            300,
            1,
            BELOW,
            5.0 * GIB,
            KEEP_STATE,
            (&["arn:t".to_string()], &["arn:t".to_string()]),
            "floor",
        );
        assert_eq!(
            field,
            "AWS/RDS FreeStorageSpace Minimum [DBInstanceIdentifier=db] 300s x1 \
             LessThanThreshold 5368709120 missing=missing alarm=[arn:t] ok=[arn:t] \"floor\""
        );
    }
}
