//! Target tracking policies of the group: average CPU always, ALB requests
//! per server when the spec asks. AWS creates and owns the CloudWatch
//! alarms behind them.

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{
    MetricType, PredefinedMetricSpecification, ScalingPolicy, TargetTrackingConfiguration,
};

use super::{OWNED_PREFIX, group_name, number, sdk};
use crate::aws::ec2::{set_field, set_items};
use crate::engine::{
    AwsError, Change, Context, Deletion, Fields, Inputs, Kind, KindOps, Observed, Resource, Status,
};

pub struct ScalingPoliciesKind;
pub static SCALING_POLICIES: ScalingPoliciesKind = ScalingPoliciesKind;

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
    fn wanted(&self, inputs: &Inputs) -> Vec<(&'static str, Target)> {
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

    async fn put(&self, cx: &Context, name: &str, target: &Target) -> Result<(), AwsError> {
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
            .policy_name(format!("{OWNED_PREFIX}{name}"))
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

    async fn put_all(
        &self,
        cx: &Context,
        inputs: &Inputs,
        only: &[Change],
    ) -> Result<(), AwsError> {
        for (name, target) in self.wanted(inputs) {
            let field = format!("policy:{name}");
            if only.is_empty() || only.iter().any(|c| c.field == field) {
                self.put(cx, name, &target).await?;
            }
        }
        Ok(())
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

async fn delete_policy(cx: &Context, group: &str, name: &str) -> Result<(), AwsError> {
    let deleted = cx
        .clients
        .autoscaling
        .delete_policy()
        .auto_scaling_group_name(group)
        .policy_name(format!("{OWNED_PREFIX}{name}"))
        .send()
        .await
        .map_err(sdk("DeletePolicy"));
    crate::aws::deleted(deleted).map(|_| ())
}

#[async_trait]
impl KindOps for ScalingPoliciesKind {
    fn name(&self) -> &'static str {
        "ScalingPolicies"
    }

    fn rank(&self) -> u8 {
        5
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let group = group_name(cx);
        let policies: Vec<ScalingPolicy> = match cx
            .clients
            .autoscaling
            .describe_policies()
            .auto_scaling_group_name(&group)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk("DescribePolicies"))
        {
            Ok(policies) => policies,
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut fields = Fields::new();
        let mut names = Vec::new();
        for policy in &policies {
            let Some(name) = policy
                .policy_name()
                .and_then(|n| n.strip_prefix(OWNED_PREFIX))
            else {
                continue;
            };
            names.push(name.to_string());
            let target = observed_target(policy)
                .map(|t| t.field())
                .unwrap_or_default();
            fields.insert(format!("policy:{name}"), target);
        }
        if names.is_empty() {
            return Ok(Vec::new());
        }
        fields.insert("policies".into(), set_field(names));
        Ok(vec![Observed {
            component: super::POLICIES_KEY.into(),
            id: group,
            arn: None,
            fields,
            outputs: Fields::new(),
            status: Status::Ready,
        }])
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        for name in set_items(observed.fields.get("policies").map_or("", String::as_str)) {
            delete_policy(cx, &observed.id, name).await?;
        }
        Ok(Deletion::Done)
    }
}

#[async_trait]
impl Resource for ScalingPolicies {
    fn kind(&self) -> Kind {
        &SCALING_POLICIES
    }

    fn desired(&self, _key: &str, _cx: &Context, inputs: &Inputs) -> Fields {
        let wanted = self.wanted(inputs);
        let mut fields: Fields = wanted
            .iter()
            .map(|(name, target)| (format!("policy:{name}"), target.field()))
            .collect();
        fields.insert(
            "policies".into(),
            set_field(wanted.iter().map(|(name, _)| *name)),
        );
        fields
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        inputs.require(&self.group, "id")?;
        self.put_all(cx, inputs, &[]).await?;
        Ok(Observed {
            component: key.into(),
            id: group_name(cx),
            arn: None,
            fields: self.desired(key, cx, inputs),
            outputs: Fields::new(),
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
        self.put_all(cx, inputs, changes).await?;
        let wanted = self.wanted(inputs);
        for name in set_items(current.fields.get("policies").map_or("", String::as_str)) {
            if !wanted.iter().any(|(w, _)| *w == name) {
                delete_policy(cx, &current.id, name).await?;
            }
        }
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
