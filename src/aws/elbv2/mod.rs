//! The Application Load Balancer, its target group and its listeners. There
//! is one of each per stack, so each is found by its deterministic name in
//! one describe call (ELBv2 cannot filter by tag; reading tags would cost a
//! call per resource).

pub mod listeners;
pub mod load_balancer;
pub mod target_group;

use aws_sdk_elasticloadbalancingv2::types::Tag;

use crate::aws::prelude::*;
use crate::identity::NameRule;

pub use listeners::{LISTENERS, Listeners};
pub use load_balancer::{LOAD_BALANCER, LoadBalancer};
pub use target_group::{TARGET_GROUP, TargetGroup};

pub const TARGET_GROUP_KEY: &str = "app/target-group";
pub const LOAD_BALANCER_KEY: &str = "app/load-balancer";
pub const LISTENERS_KEY: &str = "app/listeners";

/// TLS policy of HTTPS listeners: TLS 1.3 and 1.2 with forward secrecy.
pub const TLS_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/// Every load balancing kind.
pub const KINDS: &[Kind] = &[&TARGET_GROUP, &LOAD_BALANCER, &LISTENERS];

/// Outputs of a load balancer or target group: id and ARN, and the ARN's
/// suffix (`app/<name>/<id>`, `targetgroup/<name>/<id>`), which CloudWatch
/// metrics name them by.
pub(crate) fn arn_outputs(arn: &str) -> Fields {
    let suffix = arn
        .split_once(":loadbalancer/")
        .map(|(_, rest)| rest)
        .or_else(|| arn.rsplit_once(':').map(|(_, rest)| rest))
        .unwrap_or(arn);
    Fields::from([
        ("id".into(), arn.to_string()),
        ("arn".into(), arn.to_string()),
        ("arnSuffix".into(), suffix.to_string()),
    ])
}

pub(crate) fn lb_name(cx: &Context) -> String {
    cx.identity.resource_name("alb", NameRule::LoadBalancer)
}

pub(crate) fn tg_name(cx: &Context) -> String {
    cx.identity.resource_name("app", NameRule::LoadBalancer)
}

pub(crate) fn tags(cx: &Context, key: &str) -> Vec<Tag> {
    cx.identity
        .tags(key)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_suffixes_are_what_cloudwatch_names() {
        let lb =
            "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/shop-alb/50dc6c495c0c9188";
        let tg = "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/shop-app/943f017f100becff";
        assert_eq!(
            arn_outputs(lb)["arnSuffix"],
            "app/shop-alb/50dc6c495c0c9188"
        );
        assert_eq!(
            arn_outputs(tg)["arnSuffix"],
            "targetgroup/shop-app/943f017f100becff"
        );
    }
}
