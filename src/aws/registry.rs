//! The registry of every AWS resource kind stackops may create. Each family
//! lists its own kinds (`KINDS` in its module); this joins the lists.
//! Teardown and pruning observe exactly these kinds, so a kind missing here
//! would never be deleted: a test checks that every kind a blueprint can
//! produce is registered, and that names are unique.

use super::{
    Kind, autoscaling, budgets, cloudfront, cloudwatch, ec2, elasticache, elbv2, iam, logs, rds, s3,
};
use super::{kms, secrets, sns, ssm};

/// Every family's kinds. A new family is one line here; a new kind is one
/// line in its family's `KINDS`.
const FAMILIES: &[&[Kind]] = &[
    ec2::KINDS,
    iam::KINDS,
    logs::KINDS,
    kms::KINDS,
    sns::KINDS,
    elbv2::KINDS,
    autoscaling::KINDS,
    cloudwatch::KINDS,
    rds::KINDS,
    elasticache::KINDS,
    secrets::KINDS,
    cloudfront::KINDS,
    s3::KINDS,
    ssm::KINDS,
    budgets::KINDS,
];

/// Every kind, family by family.
pub fn all_kinds() -> Vec<Kind> {
    FAMILIES
        .iter()
        .flat_map(|family| family.iter().copied())
        .collect()
}

/// The kind called `name`.
pub fn kind(name: &str) -> Option<Kind> {
    FAMILIES
        .iter()
        .flat_map(|family| family.iter().copied())
        .find(|k| k.name() == name)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn kind_names_are_unique() {
        let kinds = all_kinds();
        let names: BTreeSet<&str> = kinds.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), kinds.len(), "a kind name is used twice");
        for k in &kinds {
            assert!(std::ptr::addr_eq(kind(k.name()).unwrap(), *k));
        }
    }
}
