//! The AWS regions this release knows, by partition: the one list that the
//! region check and every ARN stackops builds (`arn:<partition>:...`) read.
//!
//! The CRD checks only the shape of a region (`REGION_PATTERN`): an enum
//! there would refuse at admission a region AWS opened after this release,
//! with no way through but a new CRD. The list is checked before any AWS
//! call instead (`stackops validate`, the operator's `InvalidSpec`), where a
//! stack annotated [`ALLOW_UNKNOWN_REGION`] goes through.

/// Annotation (`"true"`) that lets a stack name a region this release does
/// not know, e.g. one AWS opened after it. Its partition is then told by
/// the region's prefix (`cn-`, `us-gov-`, else `aws`).
pub const ALLOW_UNKNOWN_REGION: &str = "stackops.io/allow-unknown-region";

/// An AWS partition and its regions.
pub struct Partition {
    pub name: &'static str,
    pub regions: &'static [&'static str],
}

/// The partitions stackops runs in and their regions (as of 2025-12).
pub const PARTITIONS: &[Partition] = &[
    Partition {
        name: "aws",
        regions: &[
            "af-south-1",
            "ap-east-1",
            "ap-east-2",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-south-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "ap-southeast-5",
            "ap-southeast-6",
            "ap-southeast-7",
            "ca-central-1",
            "ca-west-1",
            "eu-central-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "il-central-1",
            "me-central-1",
            "me-south-1",
            "mx-central-1",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
        ],
    },
    Partition {
        name: "aws-cn",
        regions: &["cn-north-1", "cn-northwest-1"],
    },
    Partition {
        name: "aws-us-gov",
        regions: &["us-gov-east-1", "us-gov-west-1"],
    },
];

/// The partition of `region`: the one that lists it, else by prefix.
pub fn partition(region: &str) -> &'static str {
    if let Some(known) = PARTITIONS.iter().find(|p| p.regions.contains(&region)) {
        known.name
    } else if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Whether this release knows `region`.
pub fn is_known(region: &str) -> bool {
    PARTITIONS.iter().any(|p| p.regions.contains(&region))
}

/// The known regions of `partition`.
pub fn regions_of(partition: &str) -> &'static [&'static str] {
    PARTITIONS
        .iter()
        .find(|p| p.name == partition)
        .map_or(&[], |p| p.regions)
}

/// Partition and region of an ARN (`arn:aws:acm:eu-west-1:...`).
pub fn arn_partition_and_region(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.split(':');
    (parts.next()? == "arn").then_some(())?;
    let partition = parts.next()?;
    let _service = parts.next()?;
    Some((partition, parts.next()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_by_list_then_prefix() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-northwest-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("cn-south-9"), "aws-cn");
        assert_eq!(partition("us-gov-north-9"), "aws-us-gov");
        assert_eq!(partition("eu-middle-9"), "aws");
        assert!(is_known("us-east-1") && !is_known("us-east-9"));
    }

    #[test]
    fn each_region_in_one_partition_and_of_the_region_shape() {
        let pattern = regex_lite(super::super::common::REGION_PATTERN);
        let mut seen = std::collections::BTreeSet::new();
        for p in PARTITIONS {
            for region in p.regions {
                assert!(seen.insert(*region), "{region} listed twice");
                assert!(pattern(region), "{region}");
                assert_eq!(partition(region), p.name);
            }
        }
    }

    /// The CRD's region pattern, checked with the JSON schema library the
    /// admission uses (no regex crate of our own).
    fn regex_lite(pattern: &str) -> impl Fn(&str) -> bool {
        let schema = serde_json::json!({"type": "string", "pattern": pattern});
        let validator = jsonschema::validator_for(&schema).unwrap();
        move |s| validator.is_valid(&serde_json::json!(s))
    }

    #[test]
    fn arns_give_partition_and_region() {
        assert_eq!(
            arn_partition_and_region("arn:aws-cn:acm:cn-north-1:123456789012:certificate/x"),
            Some(("aws-cn", "cn-north-1"))
        );
        assert_eq!(arn_partition_and_region("alias/x"), None);
    }
}
