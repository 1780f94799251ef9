//! The application tier's nodes: the load balancer with its target group
//! and listeners, and the servers: instance role and profile, launch
//! template, Auto Scaling group, scaling policies and scheduled actions.

use serde_json::json;

use crate::api::common::{AppSpec, LoadBalancerSpec};
use crate::aws::Node;
use crate::aws::autoscaling::{
    AutoScalingGroup, GROUP_KEY, POLICIES_KEY, SCHEDULED_KEY, ScalingPolicies, ScheduledActions,
};
use crate::aws::ec2::LaunchTemplate;
use crate::aws::elbv2::{
    LISTENERS_KEY, LOAD_BALANCER_KEY, Listeners, LoadBalancer, TARGET_GROUP_KEY, TargetGroup,
};
use crate::aws::iam::{Grant, InstanceProfile, Role};

use super::network::{SG_APP, SG_LB, VPC, subnet_key};

pub const INSTANCE_ROLE_KEY: &str = "app/instance-role";
pub const INSTANCE_PROFILE_KEY: &str = "app/instance-profile";
pub const LAUNCH_TEMPLATE_KEY: &str = "app/launch-template";

/// AWS managed policy that lets Session Manager reach the servers: no key
/// pairs, no port 22.
const SSM_POLICY: &str = "AmazonSSMManagedInstanceCore";

/// Target group on the app port, an internet-facing ALB over the public
/// subnets of every AZ behind the load balancer security group, listeners.
/// Behind a CDN, `origin_secret` names the node of the header value the
/// listeners require.
pub fn load_balancer_nodes(
    spec: &LoadBalancerSpec,
    app: &AppSpec,
    az_count: usize,
    origin_secret: Option<&str>,
) -> Vec<Node> {
    let public: Vec<String> = (0..az_count).map(|az| subnet_key("public", az)).collect();
    vec![
        Node::new(
            TARGET_GROUP_KEY,
            TargetGroup {
                vpc: VPC.into(),
                port: app.port,
                health: app.health_check.clone(),
                deregistration_delay: spec.deregistration_delay_seconds,
            },
        )
        .after([VPC]),
        Node::new(
            LOAD_BALANCER_KEY,
            LoadBalancer {
                subnets: public.clone(),
                security_group: SG_LB.into(),
                idle_timeout: spec.idle_timeout_seconds,
                deletion_protection: spec.deletion_protection,
                access_logs: spec.access_logs.clone(),
            },
        )
        .after([SG_LB])
        .after(public),
        Node::new(
            LISTENERS_KEY,
            Listeners {
                load_balancer: LOAD_BALANCER_KEY.into(),
                target_group: TARGET_GROUP_KEY.into(),
                certificate_arn: spec.certificate_arn.clone(),
                origin_secret: origin_secret.map(String::from),
            },
        )
        .after([LOAD_BALANCER_KEY, TARGET_GROUP_KEY])
        .after(origin_secret),
    ]
}

/// The servers: role and instance profile, launch template, an Auto Scaling
/// group over the private app subnets of `az_count` AZs, its policies and
/// (when the spec has any) scheduled actions.
/// What the servers may reach besides Session Manager: the application log
/// group (node key) and the media bucket's objects (ARN).
#[derive(Clone, Debug, Default)]
pub struct ServerAccess {
    pub log_group: Option<String>,
    pub media_bucket_arn: Option<String>,
    /// The media bucket's KMS key as the spec names it, and the region.
    pub media_key: Option<(String, String)>,
}

/// Use of the media bucket's key (`id`, alias or either's ARN) through S3
/// alone: SSE-KMS needs a data key to write and a decrypt to read. An
/// alias is matched by `kms:ResourceAliases`, since a policy's `Resource`
/// names keys, not aliases; a bare key id by any account's key of that id
/// (ids are unique).
pub fn media_key_grant(key: &str, region: &str) -> Grant {
    let partition = crate::api::region::partition(region);
    let any_key = |account: &str| format!("arn:{partition}:kms:{region}:{account}:key/*");
    let mut condition =
        json!({"StringEquals": {"kms:ViaService": format!("s3.{region}.amazonaws.com")}});
    let alias_of = |alias: &str| json!({"kms:ResourceAliases": alias});
    let arn = if key.starts_with("arn:") && key.contains(":key/") {
        key.to_string()
    } else if key.starts_with("arn:") {
        // arn:<partition>:kms:<region>:<account>:alias/<name>
        let mut parts = key.splitn(6, ':');
        let account = parts.nth(4).unwrap_or("*");
        let alias = parts.next().unwrap_or_default();
        condition["ForAnyValue:StringEquals"] = alias_of(alias);
        any_key(account)
    } else if key.starts_with("alias/") {
        condition["ForAnyValue:StringEquals"] = alias_of(key);
        any_key("*")
    } else {
        format!("arn:{partition}:kms:{region}:*:key/{key}")
    };
    Grant {
        actions: vec!["kms:GenerateDataKey".into(), "kms:Decrypt".into()],
        arns: vec![arn],
        condition: Some(condition),
        ..Grant::default()
    }
}

impl ServerAccess {
    fn grants(&self) -> Vec<Grant> {
        let mut grants = Vec::new();
        if let Some(group) = &self.log_group {
            grants.push(Grant {
                actions: vec!["logs:CreateLogStream".into(), "logs:PutLogEvents".into()],
                on: vec![(group.clone(), ":*".into())],
                ..Grant::default()
            });
        }
        if let Some(bucket) = &self.media_bucket_arn {
            // Objects only: the bucket's settings stay stackops' business.
            grants.push(Grant {
                actions: vec![
                    "s3:GetObject".into(),
                    "s3:PutObject".into(),
                    "s3:DeleteObject".into(),
                ],
                arns: vec![format!("{bucket}/*")],
                ..Grant::default()
            });
            if let Some((key, region)) = &self.media_key {
                grants.push(media_key_grant(key, region));
            }
        }
        grants
    }
}

pub fn server_nodes(app: &AppSpec, az_count: usize, access: &ServerAccess) -> Vec<Node> {
    let private: Vec<String> = (0..az_count).map(|az| subnet_key("app", az)).collect();
    let scheduled = &app.scaling.scheduled_actions;
    let image = match &app.ami {
        Some(ami) => ami.clone(),
        None => format!("resolve:ssm:{}", app.ami_parameter),
    };
    let mut nodes = vec![
        Node::new(
            INSTANCE_ROLE_KEY,
            Role {
                suffix: "app".into(),
                service: "ec2.amazonaws.com".into(),
                grants: access.grants(),
                managed: vec![SSM_POLICY.into()],
            },
        )
        .after(access.log_group.iter().cloned()),
        Node::new(
            INSTANCE_PROFILE_KEY,
            InstanceProfile {
                suffix: "app".into(),
                role: INSTANCE_ROLE_KEY.into(),
            },
        )
        .after([INSTANCE_ROLE_KEY]),
        Node::new(
            LAUNCH_TEMPLATE_KEY,
            LaunchTemplate {
                image,
                instance_type: app.instance_type.clone(),
                security_group: SG_APP.into(),
                instance_profile: INSTANCE_PROFILE_KEY.into(),
                user_data: app.user_data.clone(),
                root_volume_gib: app.root_volume_gib,
            },
        )
        .after([SG_APP, INSTANCE_PROFILE_KEY]),
        Node::new(
            GROUP_KEY,
            AutoScalingGroup {
                launch_template: LAUNCH_TEMPLATE_KEY.into(),
                subnets: private.clone(),
                target_group: TARGET_GROUP_KEY.into(),
                min_size: app.min_size,
                max_size: app.max_size,
                desired_capacity: app.desired_capacity,
                scheduled_min: scheduled.iter().any(|a| a.min_size.is_some()),
                scheduled_max: scheduled.iter().any(|a| a.max_size.is_some()),
                grace_period: app.health_check.grace_period_seconds,
                min_healthy_percent: app.min_healthy_percent,
                instance_type: app.instance_type.clone(),
                purchase: app.purchase.clone(),
            },
        )
        .after([LAUNCH_TEMPLATE_KEY, TARGET_GROUP_KEY])
        .after(private),
        Node::new(
            POLICIES_KEY,
            ScalingPolicies {
                group: GROUP_KEY.into(),
                load_balancer: LOAD_BALANCER_KEY.into(),
                target_group: TARGET_GROUP_KEY.into(),
                target_cpu_percent: app.scaling.target_cpu_percent,
                requests_per_target: app.scaling.requests_per_target,
                warmup_seconds: app.health_check.grace_period_seconds,
            },
        )
        // Request-count tracking needs the target group behind a listener.
        .after([
            GROUP_KEY,
            LISTENERS_KEY,
            LOAD_BALANCER_KEY,
            TARGET_GROUP_KEY,
        ]),
    ];
    if !app.scaling.scheduled_actions.is_empty() {
        nodes.push(
            Node::new(
                SCHEDULED_KEY,
                ScheduledActions {
                    group: GROUP_KEY.into(),
                    actions: app.scaling.scheduled_actions.clone(),
                },
            )
            .after([GROUP_KEY]),
        );
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_media_key_is_granted_through_s3_whatever_form_the_spec_names_it_in() {
        let via_s3 = json!("s3.eu-west-1.amazonaws.com");
        let key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let grant = media_key_grant(key_arn, "eu-west-1");
        assert_eq!(grant.actions, ["kms:GenerateDataKey", "kms:Decrypt"]);
        assert_eq!(grant.arns, [key_arn]);
        let condition = grant.condition.unwrap();
        assert_eq!(condition["StringEquals"]["kms:ViaService"], via_s3);
        assert!(condition.get("ForAnyValue:StringEquals").is_none());

        let grant = media_key_grant(
            "arn:aws:kms:eu-west-1:123456789012:alias/media",
            "eu-west-1",
        );
        assert_eq!(grant.arns, ["arn:aws:kms:eu-west-1:123456789012:key/*"]);
        let condition = grant.condition.unwrap();
        assert_eq!(
            condition["ForAnyValue:StringEquals"]["kms:ResourceAliases"],
            "alias/media"
        );

        let grant = media_key_grant("alias/media", "cn-north-1");
        assert_eq!(grant.arns, ["arn:aws-cn:kms:cn-north-1:*:key/*"]);
        assert_eq!(
            grant.condition.unwrap()["ForAnyValue:StringEquals"]["kms:ResourceAliases"],
            "alias/media"
        );

        let grant = media_key_grant("1234abcd-12ab-34cd-56ef-1234567890ab", "eu-west-1");
        assert_eq!(
            grant.arns,
            ["arn:aws:kms:eu-west-1:*:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
        );
    }

    #[test]
    fn servers_get_the_media_key_only_with_the_media_bucket() {
        let access = ServerAccess {
            media_key: Some(("alias/media".into(), "eu-west-1".into())),
            ..ServerAccess::default()
        };
        assert!(access.grants().is_empty());
        let access = ServerAccess {
            media_bucket_arn: Some("arn:aws:s3:::b".into()),
            ..access
        };
        let actions: Vec<Vec<String>> = access.grants().into_iter().map(|g| g.actions).collect();
        assert!(
            actions
                .iter()
                .any(|a| a.contains(&"kms:Decrypt".to_string()))
        );
    }
}
