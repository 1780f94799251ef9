//! The Auto Scaling group: servers in the private app subnets of every AZ,
//! registered with the target group, replaced when the load balancer finds
//! them unhealthy, rebalanced across AZs.
//!
//! AWS's own actors own the group's size: target tracking moves the desired
//! capacity, scheduled actions move it and the bounds. So the sizes the
//! spec asks for are applied when the group is created and again only when
//! the spec's sizes change, which the group's `stackops.io/applied-size` tag
//! tells (the last sizes stackops applied; no memory needed). The live
//! desired capacity is never compared. A bound (min or max) that no
//! scheduled action of the spec sets is also kept at the spec: a change out
//! of band is drift and put back; one a scheduled action sets is left alone.

use aws_sdk_autoscaling::types::{
    AutoScalingGroup as AwsGroup, Filter, InstancesDistribution, LaunchTemplate,
    LaunchTemplateOverrides, LaunchTemplateSpecification, MixedInstancesPolicy, Tag,
};

use super::{group_name, refresh};

use crate::api::common::PurchaseSpec;
use crate::aws::prelude::*;
use crate::identity::TAG_UID;

pub struct AutoScalingGroupKind;
pub static AUTO_SCALING_GROUP: AutoScalingGroupKind = AutoScalingGroupKind;

/// Status AWS reports while a group is being deleted.
const DELETING: &str = "Delete in progress";

/// Tag holding the sizes stackops last applied (`min=2;max=6;desired=3`).
pub const TAG_APPLIED_SIZE: &str = "stackops.io/applied-size";

/// A group of servers launched from the launch template node
/// `launch_template` in the subnet nodes `subnets`, registered with the
/// target group node `target_group`.
pub struct AutoScalingGroup {
    pub launch_template: String,
    pub subnets: Vec<String>,
    pub target_group: String,
    pub min_size: i32,
    pub max_size: i32,
    /// Set only when the spec sets it: otherwise scaling policies own it.
    pub desired_capacity: Option<i32>,
    /// Whether a scheduled action of the spec sets the minimum (then AWS
    /// moves it on schedule and a different live value is no drift).
    pub scheduled_min: bool,
    /// Likewise for the maximum.
    pub scheduled_max: bool,
    pub grace_period: i32,
    pub min_healthy_percent: i32,
    /// The launch template's instance type, first for On-Demand.
    pub instance_type: String,
    /// Spot above an On-Demand base; `None`: all On-Demand.
    pub purchase: Option<PurchaseSpec>,
}

/// How Spot servers are picked: the pools AWS expects to last longest,
/// at the lowest price among them.
const SPOT_STRATEGY: &str = "price-capacity-optimized";
/// How On-Demand servers are picked: the types in the order given, so
/// the launch template's own type comes first.
const ON_DEMAND_STRATEGY: &str = "prioritized";

/// The `purchase` field of a group bought all On-Demand.
const ON_DEMAND_ONLY: &str = "onDemand";

/// The `purchase` field: how the group buys its servers.
fn purchase_field(base: i32, above: i32, types: &[&str], spot: &str) -> String {
    format!(
        "base={base};aboveBase={above}%;types={};spot={spot}",
        types.join(",")
    )
}

/// The instance types of `purchase`, `first` ahead of the others.
fn ordered_types<'a>(first: &'a str, purchase: &'a PurchaseSpec) -> Vec<&'a str> {
    let mut types = vec![first];
    types.extend(
        purchase
            .instance_types
            .iter()
            .map(String::as_str)
            .filter(|t| *t != first),
    );
    types
}

/// What the group's MixedInstancesPolicy says, as the `purchase` field.
fn observed_purchase(policy: Option<&MixedInstancesPolicy>) -> String {
    let Some(policy) = policy else {
        return ON_DEMAND_ONLY.into();
    };
    let distribution = policy.instances_distribution();
    let types: Vec<&str> = policy
        .launch_template()
        .map(|t| t.overrides())
        .unwrap_or_default()
        .iter()
        .filter_map(|o| o.instance_type())
        .collect();
    purchase_field(
        distribution
            .and_then(|d| d.on_demand_base_capacity())
            .unwrap_or(0),
        distribution
            .and_then(|d| d.on_demand_percentage_above_base_capacity())
            .unwrap_or(100),
        &types,
        distribution
            .and_then(|d| d.spot_allocation_strategy())
            .unwrap_or_default(),
    )
}

/// `id/version` of a launch template: the group's one field for both, so
/// a new version (or a replaced template) is one change.
fn template_field(id: &str, version: &str) -> String {
    format!("{id}/{version}")
}

fn tags(cx: &Context, key: &str, name: &str) -> Vec<Tag> {
    asg_tags(name, cx.identity.tags(key))
}

fn asg_tags(name: &str, tags: Vec<(String, String)>) -> Vec<Tag> {
    tags.into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .key(k)
                .value(v)
                .propagate_at_launch(false)
                .build()
        })
        .collect()
}

fn observed(cx: &Context, group: &AwsGroup) -> Option<Observed> {
    let tags: std::collections::BTreeMap<String, String> = group
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect();
    let component = crate::aws::ec2::component(cx, &tags)?;
    let name = group.auto_scaling_group_name()?.to_string();
    let number = |n: Option<i32>| n.map(|n| n.to_string()).unwrap_or_default();
    let mut fields = tag_fields(&tags);
    let policy = group.mixed_instances_policy();
    let template = policy
        .and_then(|p| p.launch_template()?.launch_template_specification())
        .or(group.launch_template())
        .map_or(String::new(), |t| {
            template_field(
                t.launch_template_id().unwrap_or_default(),
                t.version().unwrap_or_default(),
            )
        });
    fields.extend([
        ("minSize".to_string(), number(group.min_size())),
        ("maxSize".into(), number(group.max_size())),
        (
            "appliedSize".into(),
            tags.get(TAG_APPLIED_SIZE).cloned().unwrap_or_default(),
        ),
        ("launchTemplate".into(), template),
        ("purchase".into(), observed_purchase(policy)),
        (
            "subnets".into(),
            set_field(
                group
                    .vpc_zone_identifier()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim),
            ),
        ),
        (
            "targetGroups".into(),
            set_field(group.target_group_arns().iter().map(String::as_str)),
        ),
        (
            "healthCheck".into(),
            format!(
                "{}/{}s",
                group.health_check_type().unwrap_or_default(),
                number(group.health_check_grace_period())
            ),
        ),
        (
            "capacityRebalance".into(),
            group.capacity_rebalance().unwrap_or(false).to_string(),
        ),
    ]);
    let status = match group.status() {
        Some(status) if !status.is_empty() => Status::Pending(status.to_string()),
        _ => Status::Ready,
    };
    // What AWS's actors decided, for dependents and people (never compared).
    let capacity = format!(
        "{} (min {}, max {})",
        number(group.desired_capacity()),
        number(group.min_size()),
        number(group.max_size())
    );
    Some(Observed {
        component,
        outputs: Fields::from([
            ("id".into(), name.clone()),
            (
                "arn".into(),
                group.auto_scaling_group_arn().unwrap_or_default().into(),
            ),
            ("capacity".into(), capacity),
        ]),
        arn: group.auto_scaling_group_arn().map(String::from),
        id: name,
        fields,
        status,
    })
}

/// The stack's Auto Scaling groups with their instances; while reads are
/// shared, every stackops group (one read for every stack), which the
/// caller keeps its own of.
pub async fn groups_listed(cx: &Context) -> Result<std::sync::Arc<Vec<AwsGroup>>, AwsError> {
    cx.clients
        .listed("autoscaling:DescribeAutoScalingGroups", || async {
            cx.clients
                .autoscaling
                .describe_auto_scaling_groups()
                // Shared: every stackops group, one read for every stack.
                .filters(if cx.clients.reads.shares() {
                    Filter::builder().name("tag-key").values(TAG_UID).build()
                } else {
                    Filter::builder()
                        .name(format!("tag:{TAG_UID}"))
                        .values(&cx.identity.uid)
                        .build()
                })
                // The target group's health is kept while they stay as
                // they were (`elbv2::target_group`).
                .include_instances(true)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(sdk("DescribeAutoScalingGroups"))
        })
        .await
}

#[async_trait]
impl KindOps<AwsClients> for AutoScalingGroupKind {
    fn name(&self) -> &'static str {
        "AutoScalingGroup"
    }

    fn rank(&self) -> u8 {
        4
    }

    /// An instance refresh replaces servers over minutes.
    fn pace(&self) -> Pace {
        Pace::MINUTES
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let groups = groups_listed(cx).await?;
        Ok(groups.iter().filter_map(|g| observed(cx, g)).collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        if observed.status == Status::Pending(DELETING.into()) {
            return Ok(Deletion::InProgress(DELETING.into()));
        }
        // Force: terminate the servers with the group rather than waiting
        // for a scale-in to zero first; policies and actions go with it.
        let deleted = cx
            .clients
            .autoscaling
            .delete_auto_scaling_group()
            .auto_scaling_group_name(&observed.id)
            .force_delete(true)
            .send()
            .await
            .map_err(sdk("DeleteAutoScalingGroup"));
        deleted.deleting("terminating servers")
    }
}

impl AutoScalingGroup {
    fn launch_template(&self, inputs: &Inputs) -> Result<LaunchTemplateSpecification, AwsError> {
        Ok(LaunchTemplateSpecification::builder()
            .launch_template_id(inputs.require(&self.launch_template, "id")?)
            .version(inputs.require(&self.launch_template, "version")?)
            .build())
    }

    /// The `purchase` field this group should have.
    fn purchase(&self) -> String {
        match &self.purchase {
            None => ON_DEMAND_ONLY.into(),
            Some(p) => purchase_field(
                p.on_demand_base_capacity,
                p.on_demand_percentage_above_base_capacity,
                &ordered_types(&self.instance_type, p),
                SPOT_STRATEGY,
            ),
        }
    }

    /// The group's MixedInstancesPolicy over `template`, when it buys Spot.
    fn mixed_policy(&self, template: LaunchTemplateSpecification) -> Option<MixedInstancesPolicy> {
        let purchase = self.purchase.as_ref()?;
        let overrides = ordered_types(&self.instance_type, purchase)
            .into_iter()
            .map(|t| LaunchTemplateOverrides::builder().instance_type(t).build())
            .collect();
        Some(
            MixedInstancesPolicy::builder()
                .launch_template(
                    LaunchTemplate::builder()
                        .launch_template_specification(template)
                        .set_overrides(Some(overrides))
                        .build(),
                )
                .instances_distribution(
                    InstancesDistribution::builder()
                        .on_demand_allocation_strategy(ON_DEMAND_STRATEGY)
                        .on_demand_base_capacity(purchase.on_demand_base_capacity)
                        .on_demand_percentage_above_base_capacity(
                            purchase.on_demand_percentage_above_base_capacity,
                        )
                        .spot_allocation_strategy(SPOT_STRATEGY)
                        .build(),
                )
                .build(),
        )
    }

    /// Moves the group between On-Demand only and Spot, or to other Spot
    /// settings, on the launch template version it has now (`current`,
    /// `id/version`): a new version is the instance refresh's business, so
    /// a crash here cannot move the group to it without replacing servers.
    async fn set_purchase(&self, cx: &Context, name: &str, current: &str) -> Result<(), AwsError> {
        let (id, version) = current.split_once('/').unwrap_or((current, "$Default"));
        let template = LaunchTemplateSpecification::builder()
            .launch_template_id(id)
            .version(version)
            .build();
        let request = cx
            .clients
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(name);
        let request = match self.mixed_policy(template.clone()) {
            Some(policy) => request.mixed_instances_policy(policy),
            // A launch template alone replaces the policy: all On-Demand.
            None => request.launch_template(template),
        };
        request
            .send()
            .await
            .map_err(sdk("UpdateAutoScalingGroup"))?;
        Ok(())
    }

    fn subnet_ids(&self, inputs: &Inputs) -> Result<String, AwsError> {
        let ids = self
            .subnets
            .iter()
            .map(|s| inputs.require(s, "id"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ids.join(","))
    }

    /// The sizes as the tag records them.
    fn applied_size(&self) -> String {
        let desired = self.desired_capacity.map(|d| d.to_string());
        format!(
            "min={};max={};desired={}",
            self.min_size,
            self.max_size,
            desired.unwrap_or_default()
        )
    }

    /// Subnets, health checks and the sizes to set: the settings one
    /// UpdateAutoScalingGroup call sets. A size is set when the spec's value
    /// differs from the one last applied (`applied`, the tag's value; empty
    /// for a group without it), and a bound also when it drifted and no
    /// scheduled action sets it (`bounds`). The desired capacity is left to
    /// AWS otherwise, which keeps it inside the bounds by itself.
    async fn update_settings(
        &self,
        cx: &Context,
        name: &str,
        inputs: &Inputs,
        applied: Option<&str>,
        bounds: bool,
    ) -> Result<(), AwsError> {
        let before = |size: &str| -> Option<String> {
            applied?
                .split(';')
                .find_map(|part| part.strip_prefix(size)?.strip_prefix('='))
                .map(String::from)
        };
        let changed = |size: &str, value: Option<i32>| {
            applied.is_some()
                && before(size) != Some(value.map(|v| v.to_string()).unwrap_or_default())
        };
        let mut request = cx
            .clients
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .vpc_zone_identifier(self.subnet_ids(inputs)?)
            .health_check_type("ELB")
            .health_check_grace_period(self.grace_period)
            .capacity_rebalance(true);
        if changed("min", Some(self.min_size)) || (bounds && !self.scheduled_min) {
            request = request.min_size(self.min_size);
        }
        if changed("max", Some(self.max_size)) || (bounds && !self.scheduled_max) {
            request = request.max_size(self.max_size);
        }
        if changed("desired", self.desired_capacity) {
            request = request.set_desired_capacity(self.desired_capacity);
        }
        request
            .send()
            .await
            .map_err(sdk("UpdateAutoScalingGroup"))?;
        Ok(())
    }

    /// Records the sizes just applied.
    async fn tag_applied_size(&self, cx: &Context, name: &str) -> Result<(), AwsError> {
        cx.clients
            .autoscaling
            .create_or_update_tags()
            .set_tags(Some(asg_tags(
                name,
                vec![(TAG_APPLIED_SIZE.into(), self.applied_size())],
            )))
            .send()
            .await
            .map_err(sdk("CreateOrUpdateTags"))?;
        Ok(())
    }

    async fn set_target_groups(
        &self,
        cx: &Context,
        name: &str,
        change: &Change,
    ) -> Result<(), AwsError> {
        let wanted = set_items(&change.to);
        let current: Vec<&str> = change.from.as_deref().map(set_items).unwrap_or_default();
        let stale: Vec<String> = current
            .iter()
            .filter(|arn| !wanted.contains(arn))
            .map(|arn| arn.to_string())
            .collect();
        let autoscaling = &cx.clients.autoscaling;
        if !stale.is_empty() {
            autoscaling
                .detach_load_balancer_target_groups()
                .auto_scaling_group_name(name)
                .set_target_group_arns(Some(stale))
                .send()
                .await
                .map_err(sdk("DetachLoadBalancerTargetGroups"))?;
        }
        autoscaling
            .attach_load_balancer_target_groups()
            .auto_scaling_group_name(name)
            .set_target_group_arns(Some(wanted.iter().map(|s| s.to_string()).collect()))
            .send()
            .await
            .map_err(sdk("AttachLoadBalancerTargetGroups"))?;
        Ok(())
    }
}

#[async_trait]
impl Resource<AwsClients> for AutoScalingGroup {
    fn kind(&self) -> Kind {
        &AUTO_SCALING_GROUP
    }

    fn desired(&self, key: &str, cx: &Context, inputs: &Inputs) -> Fields {
        let subnets = set_field(self.subnets.iter().map(|s| inputs.get(s, "id")));
        let mut fields = with_tags(
            cx,
            key,
            [
                ("appliedSize", self.applied_size()),
                (
                    "launchTemplate",
                    template_field(
                        &inputs.get(&self.launch_template, "id"),
                        &inputs.get(&self.launch_template, "version"),
                    ),
                ),
                ("subnets", subnets),
                ("targetGroups", inputs.get(&self.target_group, "arn")),
                ("healthCheck", format!("ELB/{}s", self.grace_period)),
                ("capacityRebalance", "true".into()),
                ("purchase", self.purchase()),
            ],
        );
        if !self.scheduled_min {
            fields.insert("minSize".into(), self.min_size.to_string());
        }
        if !self.scheduled_max {
            fields.insert("maxSize".into(), self.max_size.to_string());
        }
        fields
    }

    /// Sizes, target group and tags all go in the one create call.
    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateAutoScalingGroup"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let name = group_name(cx);
        let template = self.launch_template(inputs)?;
        let (template, policy) = match self.mixed_policy(template.clone()) {
            Some(policy) => (None, Some(policy)),
            None => (Some(template), None),
        };
        cx.clients
            .autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(&name)
            .set_launch_template(template)
            .set_mixed_instances_policy(policy)
            .min_size(self.min_size)
            .max_size(self.max_size)
            .set_desired_capacity(self.desired_capacity)
            .vpc_zone_identifier(self.subnet_ids(inputs)?)
            .target_group_arns(inputs.require(&self.target_group, "arn")?)
            .health_check_type("ELB")
            .health_check_grace_period(self.grace_period)
            .capacity_rebalance(true)
            .set_tags(Some(asg_tags(&name, {
                let mut tags = cx.identity.tags(key);
                tags.push((TAG_APPLIED_SIZE.into(), self.applied_size()));
                tags
            })))
            .send()
            .await
            .map_err(sdk("CreateAutoScalingGroup"))?;
        Ok(Observed {
            component: key.into(),
            id: name.clone(),
            arn: None,
            fields: self.desired(key, cx, inputs),
            outputs: Fields::from([("id".into(), name)]),
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
        self.apply_update(key, cx, inputs, current, changes)
            .await
            .map(|_| ())
    }

    async fn apply_update(
        &self,
        key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<Updated, AwsError> {
        let name = &current.id;
        let applied = changes
            .at("appliedSize")
            .map(|c| c.from.as_deref().unwrap_or_default());
        let bounds = changes.touches("minSize") || changes.touches("maxSize");
        let others = ["subnets", "healthCheck", "capacityRebalance"];
        if applied.is_some() || bounds || others.iter().any(|f| changes.touches(f)) {
            self.update_settings(cx, name, inputs, applied, bounds)
                .await?;
        }
        if applied.is_some() {
            // After the sizes: a crash between the two applies them again.
            self.tag_applied_size(cx, name).await?;
        }
        if let Some(change) = changes.at("targetGroups") {
            self.set_target_groups(cx, name, change).await?;
        }
        // With a new template version too, the refresh carries the whole
        // policy and AWS applies it when the refresh succeeds.
        if changes.touches("purchase") && !changes.touches("launchTemplate") {
            let current = current
                .fields
                .get("launchTemplate")
                .cloned()
                .unwrap_or_default();
            self.set_purchase(cx, name, &current).await?;
        }
        if changes.tags().next().is_some() {
            cx.clients
                .autoscaling
                .create_or_update_tags()
                .set_tags(Some(tags(cx, key, name)))
                .send()
                .await
                .map_err(sdk("CreateOrUpdateTags"))?;
        }
        if changes.touches("launchTemplate") {
            // The group moves to the new version through the refresh itself:
            // one call, so a crash cannot leave a new version without one.
            let preferences = refresh::Preferences {
                min_healthy_percent: self.min_healthy_percent,
                warmup_seconds: self.grace_period,
            };
            let template = self.launch_template(inputs)?;
            let policy = self.mixed_policy(template.clone());
            let started = refresh::roll_to(cx, name, template, policy, &preferences).await?;
            return Ok(Updated {
                outputs: None,
                in_progress: Some(started),
            });
        }
        Ok(Updated::default())
    }
}
