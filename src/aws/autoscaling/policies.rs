//! Target tracking policies of the group: average CPU always, ALB requests
//! per server when the spec asks. AWS creates and owns the CloudWatch
//! alarms behind them.

use aws_sdk_autoscaling::types::{
    MetricType, PredefinedMetricSpecification, ScalingPolicy, TargetTrackingConfiguration,
};

use crate::aws::prelude::*;

use super::members::{MemberSet, MembersKind};
use super::{group_name, number};

pub static SCALING_POLICIES: MembersKind<ScalingPolicies> = MembersKind::new();

/// The policies of the group node `group`. The request-count policy needs
/// the load balancer and target group nodes to name its metric.
pub struct ScalingPolicies {
    pub group: String,
    pub load_balancer: String,
    pub target_group: String,
    pub target_cpu_percent: i32,
    pub requests_per_target: Option<i32>,
    pub warmup_seconds: i32,
}

/// One policy: its metric, the metric's resource label, the target value.
#[derive(Debug, PartialEq)]
struct Target {
    metric: String,
    label: String,
    value: String,
}

impl Target {
    fn field(&self) -> String {
        format!("{}/{}/{}", self.metric, self.label, self.value)
    }
}

/// `app/<lb>/<id>/targetgroup/<tg>/<id>`: how ALBRequestCountPerTarget names
/// one target group behind one load balancer.
fn resource_label(load_balancer_arn: &str, target_group_arn: &str) -> String {
    let lb = load_balancer_arn
        .split_once(":loadbalancer/")
        .map_or(load_balancer_arn, |(_, rest)| rest);
    let tg = target_group_arn
        .rsplit_once(':')
        .map_or(target_group_arn, |(_, rest)| rest);
    format!("{lb}/{tg}")
}

impl ScalingPolicies {
    /// Policy name (without the owned prefix) -> target.
    fn targets(&self, inputs: &Inputs) -> Vec<(&'static str, Target)> {
        let mut wanted = vec![(
            "cpu",
            Target {
                metric: MetricType::AsgAverageCpuUtilization.as_str().into(),
                label: String::new(),
                value: self.target_cpu_percent.to_string(),
            },
        )];
        if let Some(requests) = self.requests_per_target {
            wanted.push((
                "requests",
                Target {
                    metric: MetricType::AlbRequestCountPerTarget.as_str().into(),
                    label: resource_label(
                        &inputs.get(&self.load_balancer, "arn"),
                        &inputs.get(&self.target_group, "arn"),
                    ),
                    value: requests.to_string(),
                },
            ));
        }
        wanted
    }
}

fn observed_target(policy: &ScalingPolicy) -> Option<Target> {
    let config = policy.target_tracking_configuration()?;
    let metric = config.predefined_metric_specification();
    Some(Target {
        metric: metric
            .and_then(|m| m.predefined_metric_type())
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        label: metric
            .and_then(|m| m.resource_label())
            .unwrap_or_default()
            .to_string(),
        value: number(config.target_value()),
    })
}

#[async_trait]
impl MemberSet for ScalingPolicies {
    const KIND: &'static str = "ScalingPolicies";
    const KEY: &'static str = super::POLICIES_KEY;
    const MEMBER: &'static str = "policy";
    const LIST: &'static str = "policies";
    const PUT: &'static str = "PutScalingPolicy";

    fn kind() -> &'static MembersKind<Self> {
        &SCALING_POLICIES
    }

    async fn list(cx: &Context, group: &str) -> Result<Vec<(String, String)>, AwsError> {
        // Shared: every group's, one read (parsed once) for every stack;
        // this group's kept below either way.
        let policies = cx
            .clients
            .listed("autoscaling:DescribePolicies", || async {
                cx.clients
                    .autoscaling
                    .describe_policies()
                    .set_auto_scaling_group_name(
                        (!cx.clients.reads.shares()).then(|| group.to_string()),
                    )
                    .max_records(100)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribePolicies"))
            })
            .await?;
        Ok(policies
            .iter()
            .filter(|policy| policy.auto_scaling_group_name() == Some(group))
            .filter_map(|policy| {
                let target = observed_target(policy).map(|t| t.field());
                Some((
                    policy.policy_name()?.to_string(),
                    target.unwrap_or_default(),
                ))
            })
            .collect())
    }

    async fn delete(cx: &Context, group: &str, name: &str) -> Result<(), AwsError> {
        cx.clients
            .autoscaling
            .delete_policy()
            .auto_scaling_group_name(group)
            .policy_name(name)
            .send()
            .await
            .map_err(sdk("DeletePolicy"))?;
        Ok(())
    }

    fn group_node(&self) -> &str {
        &self.group
    }

    fn wanted(&self, inputs: &Inputs) -> Vec<(String, String)> {
        self.targets(inputs)
            .into_iter()
            .map(|(name, target)| (name.to_string(), target.field()))
            .collect()
    }

    async fn put(
        &self,
        cx: &Context,
        inputs: &Inputs,
        short: &str,
        name: &str,
    ) -> Result<(), AwsError> {
        let targets = self.targets(inputs);
        let Some((_, target)) = targets.iter().find(|(n, _)| *n == short) else {
            return Ok(());
        };
        let mut metric = PredefinedMetricSpecification::builder()
            .predefined_metric_type(MetricType::from(target.metric.as_str()));
        if !target.label.is_empty() {
            metric = metric.resource_label(&target.label);
        }
        let value: f64 = target.value.parse().unwrap_or(50.0);
        cx.clients
            .autoscaling
            .put_scaling_policy()
            .auto_scaling_group_name(group_name(cx))
            .policy_name(name)
            .policy_type("TargetTrackingScaling")
            .estimated_instance_warmup(self.warmup_seconds)
            .target_tracking_configuration(
                TargetTrackingConfiguration::builder()
                    .predefined_metric_specification(metric.build())
                    .target_value(value)
                    .build(),
            )
            .send()
            .await
            .map_err(sdk("PutScalingPolicy"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_count_label_joins_the_arn_suffixes() {
        let lb = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop-alb/50dc6c495c0c9188";
        let tg = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-app/943f017f100becff";
        assert_eq!(
            resource_label(lb, tg),
            "app/shop-alb/50dc6c495c0c9188/targetgroup/shop-app/943f017f100becff"
        );
    }
}
