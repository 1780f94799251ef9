//! CloudWatch Logs: the stack's log groups (and the helpers the database's
//! exported-log groups share with them), and the metric filters the
//! security alarms count.
//! A stack's group is found by its deterministic name,
//! `/stackops/<stack hash>/<node key>`: one prefix-filtered describe call
//! finds all of a stack's groups without a tag lookup per group.

pub mod metric_filter;

pub use metric_filter::{METRIC_FILTER, MetricFilter, SecurityMetric};

use aws_sdk_cloudwatchlogs::types::LogGroup as AwsLogGroup;

use crate::aws::prelude::*;
use crate::identity::short_hash;

pub struct LogGroupKind;
pub static LOG_GROUP: LogGroupKind = LogGroupKind;

/// Every CloudWatch Logs kind.
pub const KINDS: &[Kind] = &[&LOG_GROUP, &METRIC_FILTER];

/// A log group keeping events `retention_days` days.
pub struct LogGroup {
    pub retention_days: i32,
}

/// Name prefix of every log group of the stack.
fn prefix(cx: &Context) -> String {
    format!("/stackops/{}/", short_hash(&cx.identity.uid))
}

/// The prefix the kind lists: its own, or, while reads are shared, every
/// stack's groups, so one read serves every stack; each keeps those under
/// its own `prefix` either way.
fn listed(cx: &Context) -> String {
    if cx.clients.reads.shares() {
        "/stackops/".to_string()
    } else {
        prefix(cx)
    }
}

/// The log group name of node `key`.
pub fn group_name(cx: &Context, key: &str) -> String {
    format!("{}{key}", prefix(cx))
}

pub(crate) fn outputs(name: &str, arn: &str) -> Fields {
    Fields::from([
        ("id".into(), name.to_string()),
        ("arn".into(), arn.to_string()),
    ])
}

/// Every log group whose name starts with `prefix`.
pub(crate) async fn groups_named(cx: &Context, prefix: &str) -> Result<Vec<AwsLogGroup>, AwsError> {
    cx.clients
        .logs
        .describe_log_groups()
        .log_group_name_prefix(prefix)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(sdk("DescribeLogGroups"))
}

/// Every log group whose name starts with `prefix`, for observing: from
/// the list every stack shares while reads are shared.
pub(crate) async fn groups_listed(
    cx: &Context,
    prefix: &str,
) -> Result<std::sync::Arc<Vec<AwsLogGroup>>, AwsError> {
    let question = format!("logs:DescribeLogGroups:{prefix}");
    cx.clients
        .listed(&question, || groups_named(cx, prefix))
        .await
}

/// The fields of a group keeping events `retention_days` days.
pub(crate) fn retention_fields(retention_days: i32) -> Fields {
    Fields::from([("retentionDays".to_string(), retention_days.to_string())])
}

/// Creates group `name` tagged for node `key` (or finds it made by an
/// earlier pass, or by the service that writes to it), sets its retention
/// and answers it as observed.
pub(crate) async fn create_group(
    cx: &Context,
    key: &str,
    name: &str,
    retention_days: i32,
) -> Result<Observed, AwsError> {
    let logs = &cx.clients.logs;
    let mut create = logs.create_log_group().log_group_name(name);
    for (k, v) in cx.identity.tags(key) {
        create = create.tags(k, v);
    }
    match create.send().await.map_err(sdk("CreateLogGroup")) {
        Ok(_) => {}
        // Created by an earlier pass that did not live to see the answer.
        Err(e) if e.code == "ResourceAlreadyExistsException" => {}
        Err(e) => return Err(e),
    }
    put_retention(cx, name, retention_days).await?;
    // Its name as the prefix: one call, for the ARN.
    let found = groups_named(cx, name).await?;
    let mut observed = found
        .iter()
        .filter(|g| g.log_group_name() == Some(name))
        .find_map(|g| observed_as(key.to_string(), g))
        .ok_or_else(|| missing("CreateLogGroup"))?;
    observed.fields = retention_fields(retention_days);
    Ok(observed)
}

pub(crate) async fn put_retention(
    cx: &Context,
    name: &str,
    retention_days: i32,
) -> Result<(), AwsError> {
    cx.clients
        .logs
        .put_retention_policy()
        .log_group_name(name)
        .retention_in_days(retention_days)
        .send()
        .await
        .map_err(sdk("PutRetentionPolicy"))?;
    Ok(())
}

pub(crate) async fn delete_group(cx: &Context, name: &str) -> Result<Deletion, AwsError> {
    cx.clients
        .logs
        .delete_log_group()
        .log_group_name(name)
        .send()
        .await
        .map_err(sdk("DeleteLogGroup"))?;
    Ok(Deletion::Done)
}

/// Group `group` observed as node `component`.
pub(crate) fn observed_as(component: String, group: &AwsLogGroup) -> Option<Observed> {
    let name = group.log_group_name()?;
    // Describe returns the ARN with a trailing `:*`; policies want that form.
    let arn = group.arn().unwrap_or_default().to_string();
    let mut fields = Fields::new();
    fields.insert(
        "retentionDays".into(),
        group
            .retention_in_days()
            .map(|d| d.to_string())
            .unwrap_or_else(|| "never".into()),
    );
    Some(Observed {
        component,
        id: name.to_string(),
        arn: Some(arn.clone()),
        outputs: outputs(name, &arn),
        fields,
        status: Status::Ready,
    })
}

#[async_trait]
impl KindOps<AwsClients> for LogGroupKind {
    fn name(&self) -> &'static str {
        "LogGroup"
    }

    fn rank(&self) -> u8 {
        0
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let prefix = prefix(cx);
        Ok(groups_listed(cx, &listed(cx))
            .await?
            .iter()
            .filter_map(|g| {
                let component = g.log_group_name()?.strip_prefix(&prefix)?.to_string();
                observed_as(component, g)
            })
            .collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        delete_group(cx, &observed.id).await
    }
}

#[async_trait]
impl Resource<AwsClients> for LogGroup {
    fn kind(&self) -> Kind {
        &LOG_GROUP
    }

    fn desired(&self, _key: &str, _cx: &Context, _inputs: &Inputs) -> Fields {
        retention_fields(self.retention_days)
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateLogGroup", "PutRetentionPolicy"]
    }

    async fn create(
        &self,
        key: &str,
        cx: &Context,
        _inputs: &Inputs,
    ) -> Result<Observed, AwsError> {
        create_group(cx, key, &group_name(cx, key), self.retention_days).await
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        _inputs: &Inputs,
        current: &Observed,
        _changes: &[Change],
    ) -> Result<(), AwsError> {
        put_retention(cx, &current.id, self.retention_days).await
    }
}
