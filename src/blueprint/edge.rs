//! The edge and storage nodes: the web bucket behind a CloudFront
//! distribution (origin access control; API paths to the load balancer),
//! and the media bucket.

use crate::api::common::{BucketSpec, FrontendSpec};
use crate::aws::Node;
use crate::aws::cloudfront::{DISTRIBUTION_KEY, Distribution, OAC_KEY, OriginAccessControl};
use crate::aws::elbv2::LOAD_BALANCER_KEY;
use crate::aws::s3::{Bucket, BucketRole, MEDIA_BUCKET_KEY, WEB_BUCKET_KEY};

/// Access control, distribution, and the web bucket only it may read.
pub fn frontend_nodes(spec: &FrontendSpec) -> Vec<Node> {
    vec![
        Node::new(OAC_KEY, OriginAccessControl),
        Node::new(
            DISTRIBUTION_KEY,
            Distribution {
                spec: spec.cdn.clone(),
                access_control: OAC_KEY.into(),
                load_balancer: Some(LOAD_BALANCER_KEY.into()),
            },
        )
        .after([OAC_KEY, LOAD_BALANCER_KEY]),
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
    ]
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
