//! The stack's target group: instance targets with the spec's health check.

use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetHealthDescription, TargetHealthStateEnum, TargetTypeEnum,
};

use crate::api::common::HealthCheck;
use crate::aws::prelude::*;

use super::{TARGET_GROUP_KEY, arn_outputs, tags, tg_name};

pub struct TargetGroupKind;
pub static TARGET_GROUP: TargetGroupKind = TargetGroupKind;

/// Instance targets on `port` in VPC node `vpc`, health-checked per `health`.
pub struct TargetGroup {
    pub vpc: String,
    pub port: i32,
    pub health: HealthCheck,
    pub deregistration_delay: i32,
}

/// What the load balancer's health checks find, as outputs (never compared:
/// the servers, not stackops, decide it): `targets`, `healthyTargets`,
/// `startingTargets` (still in their first checks) and `targetIssue`, the
/// reason AWS gives for the first target that is neither. `None` when the
/// group was deleted since it was listed.
async fn target_health(cx: &Context, arn: &str) -> Result<Option<Fields>, AwsError> {
    let Some(found) = cx
        .clients
        .elb
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await
        .map_err(sdk("DescribeTargetHealth"))
        .found()?
    else {
        return Ok(None);
    };
    let targets = found.target_health_descriptions();
    let state = |t: &TargetHealthDescription| {
        t.target_health()
            .and_then(|h| h.state())
            .cloned()
            .unwrap_or(TargetHealthStateEnum::Unavailable)
    };
    let count =
        |wanted: TargetHealthStateEnum| targets.iter().filter(|t| state(t) == wanted).count();
    let issue = targets
        .iter()
        .filter(|t| {
            !matches!(
                state(t),
                TargetHealthStateEnum::Healthy | TargetHealthStateEnum::Initial
            )
        })
        .find_map(|t| {
            let health = t.target_health()?;
            let target = t.target().and_then(|t| t.id()).unwrap_or_default();
            let why = health.description().or(health.reason().map(|r| r.as_str()));
            Some(format!(
                "{target}: {} ({})",
                state(t).as_str(),
                why.unwrap_or("no reason given")
            ))
        });
    let mut outputs = Fields::from([
        ("targets".to_string(), targets.len().to_string()),
        (
            "healthyTargets".into(),
            count(TargetHealthStateEnum::Healthy).to_string(),
        ),
        (
            "startingTargets".into(),
            count(TargetHealthStateEnum::Initial).to_string(),
        ),
    ]);
    if let Some(issue) = issue {
        outputs.insert("targetIssue".into(), issue);
    }
    Ok(Some(outputs))
}

/// The group's target health, kept while shared reads show that the Auto
/// Scaling groups registering into it have the same instances in the same
/// lifecycle and health states, and every target was healthy when read
/// (for at most the settings lifetime). The groups check health the load
/// balancer's way (`HealthCheckType` ELB), so a target failing its checks
/// turns its instance `Unhealthy` there, and the next shared list reads its
/// health again: at steady state no stack asks for it on every pass.
async fn kept_target_health(cx: &Context, arn: &str) -> Result<Option<Fields>, AwsError> {
    if cx.clients.reads.shared_lists().is_none() {
        return target_health(cx, arn).await;
    }
    let groups = crate::aws::autoscaling::group::groups_listed(cx).await?;
    let mut members: Vec<(&str, &str, &str)> = groups
        .iter()
        .filter(|g| g.target_group_arns().iter().any(|t| t == arn))
        .flat_map(|g| g.instances())
        .map(|i| {
            (
                i.instance_id().unwrap_or_default(),
                i.lifecycle_state().map_or("", |s| s.as_str()),
                i.health_status().unwrap_or_default(),
            )
        })
        .collect();
    members.sort_unstable();
    let witness = crate::aws::shared_lists::witness(&members);
    let all_healthy = |health: &Option<Fields>| {
        health.as_ref().is_some_and(|h| {
            !h.contains_key("targetIssue")
                && h.get("targets") == h.get("healthyTargets")
                && h.get("targets") == Some(&members.len().to_string())
        })
    };
    cx.clients
        .read_while_vouched(
            &format!("elbv2:DescribeTargetHealth {arn}"),
            witness,
            all_healthy,
            || target_health(cx, arn),
        )
        .await
}

#[async_trait]
impl KindOps<AwsClients> for TargetGroupKind {
    fn name(&self) -> &'static str {
        "TargetGroup"
    }

    fn rank(&self) -> u8 {
        1
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let elb = &cx.clients.elb;
        // Shared: every target group of the account, not this one by
        // name, so one read serves every stack.
        let name = tg_name(cx);
        let by_name = (!cx.clients.reads.shares()).then(|| vec![name.clone()]);
        // Not found by name: none.
        let all = cx
            .clients
            .listed("elbv2:DescribeTargetGroups", || async {
                elb.describe_target_groups()
                    .set_names(by_name)
                    .page_size(400)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeTargetGroups"))
                    .found()
                    .map(Option::unwrap_or_default)
            })
            .await?;
        let mut out = Vec::new();
        for group in all
            .iter()
            .filter(|g| g.target_group_name() == Some(name.as_str()))
        {
            let Some(arn) = group.target_group_arn() else {
                continue;
            };
            // Deleted since it was listed: not found.
            let Some(attributes) = elb
                .describe_target_group_attributes()
                .target_group_arn(arn)
                .send()
                .await
                .map_err(sdk("DescribeTargetGroupAttributes"))
                .found()?
            else {
                continue;
            };
            let delay = attributes
                .attributes()
                .iter()
                .find(|a| a.key() == Some("deregistration_delay.timeout_seconds"))
                .and_then(|a| a.value())
                .unwrap_or_default();
            let number = |n: Option<i32>| n.map(|n| n.to_string()).unwrap_or_default();
            let fields = Fields::from([
                (
                    "vpc".to_string(),
                    group.vpc_id().unwrap_or_default().to_string(),
                ),
                ("port".into(), number(group.port())),
                (
                    "healthPath".into(),
                    group.health_check_path().unwrap_or_default().into(),
                ),
                (
                    "healthInterval".into(),
                    number(group.health_check_interval_seconds()),
                ),
                (
                    "healthTimeout".into(),
                    number(group.health_check_timeout_seconds()),
                ),
                (
                    "healthyThreshold".into(),
                    number(group.healthy_threshold_count()),
                ),
                (
                    "unhealthyThreshold".into(),
                    number(group.unhealthy_threshold_count()),
                ),
                ("deregistrationDelay".into(), delay.to_string()),
            ]);
            let Some(health) = kept_target_health(cx, arn).await? else {
                continue;
            };
            let mut outputs = arn_outputs(arn);
            outputs.extend(health);
            out.push(Observed {
                component: TARGET_GROUP_KEY.into(),
                id: arn.to_string(),
                arn: Some(arn.to_string()),
                outputs,
                fields,
                status: Status::Ready,
            });
        }
        Ok(out)
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let deleted = cx
            .clients
            .elb
            .delete_target_group()
            .target_group_arn(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteTargetGroup"));
        deleted.or_gone()?;
        Ok(Deletion::Done)
    }
}

impl TargetGroup {
    async fn set_delay(&self, cx: &Context, arn: &str) -> Result<(), AwsError> {
        cx.clients
            .elb
            .modify_target_group_attributes()
            .target_group_arn(arn)
            .attributes(
                aws_sdk_elasticloadbalancingv2::types::TargetGroupAttribute::builder()
                    .key("deregistration_delay.timeout_seconds")
                    .value(self.deregistration_delay.to_string())
                    .build(),
            )
            .send()
            .await
            .map_err(sdk("ModifyTargetGroupAttributes"))?;
        Ok(())
    }
}

#[async_trait]
impl Resource<AwsClients> for TargetGroup {
    fn kind(&self) -> Kind {
        &TARGET_GROUP
    }

    fn desired(&self, _key: &str, _cx: &Context, inputs: &Inputs) -> Fields {
        let h = &self.health;
        Fields::from([
            ("vpc".to_string(), inputs.get(&self.vpc, "id")),
            ("port".into(), self.port.to_string()),
            ("healthPath".into(), h.path.clone()),
            ("healthInterval".into(), h.interval_seconds.to_string()),
            ("healthTimeout".into(), h.timeout_seconds.to_string()),
            ("healthyThreshold".into(), h.healthy_threshold.to_string()),
            (
                "unhealthyThreshold".into(),
                h.unhealthy_threshold.to_string(),
            ),
            (
                "deregistrationDelay".into(),
                self.deregistration_delay.to_string(),
            ),
        ])
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateTargetGroup", "ModifyTargetGroupAttributes"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let h = &self.health;
        let created = cx
            .clients
            .elb
            .create_target_group()
            .name(tg_name(cx))
            .protocol(ProtocolEnum::Http)
            .port(self.port)
            .vpc_id(inputs.require(&self.vpc, "id")?)
            .target_type(TargetTypeEnum::Instance)
            .health_check_path(&h.path)
            .health_check_interval_seconds(h.interval_seconds)
            .health_check_timeout_seconds(h.timeout_seconds)
            .healthy_threshold_count(h.healthy_threshold)
            .unhealthy_threshold_count(h.unhealthy_threshold)
            .matcher(Matcher::builder().http_code("200-399").build())
            .set_tags(Some(tags(cx, key)))
            .send()
            .await
            .map_err(sdk("CreateTargetGroup"))?;
        let arn = created
            .target_groups()
            .first()
            .and_then(|g| g.target_group_arn())
            .ok_or_else(|| missing("CreateTargetGroup"))?
            .to_string();
        self.set_delay(cx, &arn).await?;
        Ok(Observed {
            component: key.into(),
            id: arn.clone(),
            arn: Some(arn.clone()),
            outputs: arn_outputs(&arn),
            fields: self.desired(key, cx, inputs),
            status: Status::Ready,
        })
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        _inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        if changes
            .iter()
            .any(|c| c.field == "vpc" || c.field == "port")
        {
            // Port and VPC of a target group are fixed: replace it. Its
            // listeners are recreated against the new one.
            return Err(AwsError::new(
                ErrorClass::Terminal,
                "UpdateTargetGroup",
                "ImmutableField",
                "the target group's port or VPC changed; delete the target group to let stackops recreate it",
            ));
        }
        if changes
            .iter()
            .any(|c| c.field.starts_with("health") || c.field.ends_with("Threshold"))
        {
            let h = &self.health;
            cx.clients
                .elb
                .modify_target_group()
                .target_group_arn(&current.id)
                .health_check_path(&h.path)
                .health_check_interval_seconds(h.interval_seconds)
                .health_check_timeout_seconds(h.timeout_seconds)
                .healthy_threshold_count(h.healthy_threshold)
                .unhealthy_threshold_count(h.unhealthy_threshold)
                .send()
                .await
                .map_err(sdk("ModifyTargetGroup"))?;
        }
        if changes.touches("deregistrationDelay") {
            self.set_delay(cx, &current.id).await?;
        }
        Ok(())
    }
}
