//! The edge and storage nodes: the web bucket behind a CloudFront
//! distribution (origin access control; API paths to the load balancer),
//! and the media bucket.

use crate::api::common::{BucketSpec, FrontendSpec, LoadBalancerSpec};
use crate::aws::Node;
use crate::aws::cloudfront::{
    ApiOrigin, DISTRIBUTION_KEY, Distribution, OAC_KEY, OriginAccessControl,
};
use crate::aws::elbv2::LOAD_BALANCER_KEY;
use crate::aws::s3::{Bucket, BucketRole, MEDIA_BUCKET_KEY, WEB_BUCKET_KEY};
use crate::aws::secrets::GeneratedSecret;

/// The secret CloudFront sends the load balancer as its origin header.
pub const ORIGIN_SECRET_KEY: &str = "edge/origin-secret";

/// Access control, distribution, and the web bucket only it may read; with
/// API paths, the origin header's secret, which the load balancer's
/// listener requires.
pub fn frontend_nodes(spec: &FrontendSpec, load_balancer: &LoadBalancerSpec) -> Vec<Node> {
    let api = spec.cdn.fronts_load_balancer();
    let mut nodes = Vec::new();
    if api {
        nodes.push(Node::new(
            ORIGIN_SECRET_KEY,
            GeneratedSecret {
                suffix: "origin-header".into(),
                length: 48,
                purpose: "Header CloudFront sends the load balancer".into(),
            },
        ));
    }
    let api_origin = api.then(|| ApiOrigin {
        load_balancer: LOAD_BALANCER_KEY.into(),
        secret: ORIGIN_SECRET_KEY.into(),
        // With a certificate, HTTPS to the name it covers.
        https_domain: load_balancer
            .certificate_arn
            .as_ref()
            .and(load_balancer.domain_name.clone()),
    });
    let mut after = vec![OAC_KEY];
    if api {
        after.extend([LOAD_BALANCER_KEY, ORIGIN_SECRET_KEY]);
    }
    nodes.extend([
        Node::new(OAC_KEY, OriginAccessControl),
        Node::new(
            DISTRIBUTION_KEY,
            Distribution {
                spec: spec.cdn.clone(),
                access_control: OAC_KEY.into(),
                api_origin,
            },
        )
        .after(after),
        // After the distribution: its policy names the distribution's ARN.
        Node::new(
            WEB_BUCKET_KEY,
            Bucket {
                spec: spec.bucket.clone(),
                role: BucketRole::Web,
                reader_distribution: Some(DISTRIBUTION_KEY.into()),
            },
        )
        .after([DISTRIBUTION_KEY]),
    ]);
    nodes
}

/// The media bucket.
pub fn media_nodes(spec: &BucketSpec) -> Vec<Node> {
    vec![Node::new(
        MEDIA_BUCKET_KEY,
        Bucket {
            spec: spec.clone(),
            role: BucketRole::Media,
            reader_distribution: None,
        },
    )]
}

/// Each bucket's deletion policy by node key, for teardown.
pub fn bucket_policies(
    frontend: Option<&FrontendSpec>,
    media: Option<&BucketSpec>,
) -> std::collections::BTreeMap<String, crate::api::common::DeletionPolicy> {
    let mut policies = std::collections::BTreeMap::new();
    if let Some(f) = frontend {
        policies.insert(
            WEB_BUCKET_KEY.to_string(),
            f.bucket
                .deletion_policy
                .unwrap_or(BucketRole::Web.default_policy()),
        );
    }
    if let Some(m) = media {
        policies.insert(
            MEDIA_BUCKET_KEY.to_string(),
            m.deletion_policy
                .unwrap_or(BucketRole::Media.default_policy()),
        );
    }
    policies
}
