//! The application tier's nodes. So far: the load balancer, its target
//! group and listeners. Unfinished: instance role, launch template, Auto
//! Scaling group and scaling policies.

use crate::api::common::{AppSpec, LoadBalancerSpec};
use crate::aws::elbv2::{
    LISTENERS_KEY, LOAD_BALANCER_KEY, Listeners, LoadBalancer, TARGET_GROUP_KEY, TargetGroup,
};
use crate::engine::Node;

use super::network::{SG_LB, VPC, subnet_key};

/// Target group on the app port, an internet-facing ALB over the public
/// subnets of every AZ behind the load balancer security group, listeners.
pub fn load_balancer_nodes(spec: &LoadBalancerSpec, app: &AppSpec, az_count: usize) -> Vec<Node> {
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
            },
        )
        .after([LOAD_BALANCER_KEY, TARGET_GROUP_KEY]),
    ]
}
