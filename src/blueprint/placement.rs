//! Where things are: the stack's region is one this release knows (or the
//! stack says it knows better), and every ARN the spec names lives where
//! AWS will look for it. A load balancer takes a certificate from its own
//! region only, CloudFront from us-east-1 only, and nothing crosses a
//! partition. Refused here, such a spec costs no AWS call; AWS would refuse
//! it minutes later, after the VPC and its NAT gateways were made.

use crate::api::region::{self, ALLOW_UNKNOWN_REGION};
use crate::api::{FieldError, StackManifest};

/// Where an ARN must live.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Home {
    /// The stack's region.
    Stack,
    /// us-east-1: CloudFront's certificates and web ACLs.
    CloudFront,
}

/// Every placement problem of `stack`, with field paths.
pub fn check(stack: &StackManifest) -> Vec<FieldError> {
    let region = stack.settings().region.as_str();
    let mut errors: Vec<FieldError> = known_region(stack).into_iter().collect();
    let partition = region::partition(region);
    for (path, arn, home) in arns(stack) {
        let Some((arn_partition, arn_region)) = region::arn_partition_and_region(arn) else {
            continue; // a key id or alias: in the stack's region by construction
        };
        let want = match home {
            Home::Stack => region,
            Home::CloudFront => "us-east-1",
        };
        if arn_partition != partition {
            errors.push(FieldError::new(
                path,
                format!(
                    "Invalid value: {arn:?}: is in partition {arn_partition}, the stack's region {region} in {partition}"
                ),
            ));
        } else if arn_region != want {
            let whose = match home {
                Home::Stack => format!("the stack's region {region}"),
                Home::CloudFront => "us-east-1 (CloudFront takes no other)".into(),
            };
            errors.push(FieldError::new(
                path,
                format!("Invalid value: {arn:?}: is in {arn_region}, must be in {whose}"),
            ));
        }
    }
    errors
}

fn known_region(stack: &StackManifest) -> Option<FieldError> {
    let region = stack.settings().region.as_str();
    let allowed = stack
        .metadata()
        .annotations
        .as_ref()
        .and_then(|a| a.get(ALLOW_UNKNOWN_REGION))
        .is_some_and(|v| v == "true");
    if region::is_known(region) || allowed {
        return None;
    }
    let partition = region::partition(region);
    Some(FieldError::new(
        "spec.region",
        format!(
            "Unsupported value: {region:?}: not a region of partition {partition} this release knows \
             (supported values: {}); for a region newer than this release, annotate the stack \
             {ALLOW_UNKNOWN_REGION}: \"true\"",
            region::regions_of(partition).join(", ")
        ),
    ))
}

/// The ARNs a spec names, with their field paths and where each must live.
fn arns(stack: &StackManifest) -> Vec<(String, &str, Home)> {
    let (load_balancer, database, frontend, media, monitoring, cache) = match stack {
        StackManifest::Ecommerce(s) => (
            &s.spec.load_balancer,
            &s.spec.database,
            Some(&s.spec.frontend),
            None,
            s.spec.monitoring.as_ref(),
            None,
        ),
        StackManifest::Booking(s) => (
            &s.spec.load_balancer,
            &s.spec.database,
            s.spec.frontend.as_ref(),
            Some(&s.spec.media),
            Some(&s.spec.monitoring),
            s.spec.cache.as_ref(),
        ),
    };
    let mut arns = vec![
        (
            "spec.loadBalancer.certificateArn".to_string(),
            load_balancer.certificate_arn.as_deref(),
            Home::Stack,
        ),
        (
            "spec.database.kmsKeyId".into(),
            database.kms_key_id.as_deref(),
            Home::Stack,
        ),
        (
            "spec.media.kmsKeyId".into(),
            media.and_then(|m| m.kms_key_id.as_deref()),
            Home::Stack,
        ),
        (
            "spec.monitoring.notifications.snsTopicArn".into(),
            monitoring.and_then(|m| m.notifications.sns_topic_arn.as_deref()),
            Home::Stack,
        ),
        (
            "spec.monitoring.notifications.kmsKeyId".into(),
            monitoring.and_then(|m| m.notifications.kms_key_id.as_deref()),
            Home::Stack,
        ),
        (
            "spec.cache.kmsKeyId".into(),
            cache.and_then(|c| c.kms_key_id.as_deref()),
            Home::Stack,
        ),
    ];
    if let Some(frontend) = frontend {
        arns.extend([
            (
                "spec.frontend.bucket.kmsKeyId".into(),
                frontend.bucket.kms_key_id.as_deref(),
                Home::Stack,
            ),
            (
                "spec.frontend.cdn.certificateArn".into(),
                frontend.cdn.certificate_arn.as_deref(),
                Home::CloudFront,
            ),
            (
                "spec.frontend.cdn.webAclArn".into(),
                frontend.cdn.web_acl_arn.as_deref(),
                Home::CloudFront,
            ),
        ]);
    }
    arns.into_iter()
        .filter_map(|(path, arn, home)| Some((path, arn?, home)))
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::api::manifest;
    use crate::blueprint::{BlueprintError, prepare};

    fn booking(replace: &[(&str, &str)]) -> crate::api::StackManifest {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/booking.yaml");
        let mut text = std::fs::read_to_string(path).unwrap();
        for (from, to) in replace {
            text = text.replacen(from, to, 1);
        }
        manifest::load(&text).unwrap().remove(0)
    }

    fn refused_fields(stack: &crate::api::StackManifest) -> Vec<String> {
        match prepare(stack) {
            Err(BlueprintError::Invalid(problems)) => {
                problems.into_iter().map(|p| p.path).collect()
            }
            Err(other) => panic!("{other}"),
            Ok(_) => Vec::new(),
        }
    }

    #[test]
    fn the_operator_refuses_an_unknown_region_and_foreign_arns_before_any_aws_call() {
        let stack = booking(&[("region: eu-west-1", "region: eu-wset-1")]);
        assert_eq!(refused_fields(&stack), ["spec.region"]);
        let stack = booking(&[(
            "emails: [oncall@example.com, reservations@example.com]",
            "snsTopicArn: arn:aws:sns:us-east-1:123456789012:alerts",
        )]);
        assert_eq!(
            refused_fields(&stack),
            ["spec.monitoring.notifications.snsTopicArn"]
        );
        let stack = booking(&[(
            "emails: [oncall@example.com, reservations@example.com]",
            "snsTopicArn: arn:aws:sns:eu-west-1:123456789012:alerts",
        )]);
        assert!(refused_fields(&stack).is_empty());
    }

    #[test]
    fn yaml_1_1_booleans_reach_the_typed_spec() {
        let stack = booking(&[("region: eu-west-1", "region: eu-west-1\n  paused: yes")]);
        assert!(stack.settings().paused);
    }
}
