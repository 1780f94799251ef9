//! The permissions boundary every role stackops creates carries: a customer
//! managed policy installed before the operator (`docs/iam-boundary.json`),
//! so that whoever holds the operator's credentials cannot make a role that
//! may do more than stackops' roles ever need, whatever inline policy they
//! write on it. The operator's own policy allows creating roles and writing
//! their policies only with this boundary (`iam:PermissionsBoundary`).
//!
//! The setting is either a policy path and name in the account of the
//! credentials (the default, `stackops/StackopsRoleBoundary`, i.e.
//! `arn:<partition>:iam::<account>:policy/stackops/StackopsRoleBoundary`),
//! or a full policy ARN.

use std::fmt;
use std::str::FromStr;

/// Path and name of the boundary policy unless configured otherwise.
pub const DEFAULT_BOUNDARY: &str = "stackops/StackopsRoleBoundary";

/// Where the roles' permissions boundary lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleBoundary {
    /// `path/name` of a policy in the account of the credentials.
    InAccount(String),
    /// A policy ARN, used as it is.
    Arn(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BoundaryError {
    #[error("{0:?} is not an IAM policy ARN (arn:<partition>:iam::<account>:policy/<path/name>)")]
    NotPolicyArn(String),
    #[error(
        "{0:?} is not a policy path and name: letters, digits and +=,.@_- separated by '/', \
         the name last"
    )]
    BadName(String),
}

impl Default for RoleBoundary {
    fn default() -> Self {
        Self::InAccount(DEFAULT_BOUNDARY.into())
    }
}

impl RoleBoundary {
    /// The boundary's ARN for a role in `account` of `partition`.
    pub fn arn(&self, partition: &str, account: &str) -> String {
        match self {
            Self::InAccount(name) => format!("arn:{partition}:iam::{account}:policy/{name}"),
            Self::Arn(arn) => arn.clone(),
        }
    }
}

/// Partition and account of an IAM ARN (`arn:aws:iam::123456789012:role/x`).
pub fn partition_and_account(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    Some((partition, account))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 512
        && name.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        })
}

impl FromStr for RoleBoundary {
    type Err = BoundaryError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value.starts_with("arn:") {
            let policy = value.splitn(6, ':').nth(5).unwrap_or_default();
            let name = policy.strip_prefix("policy/").unwrap_or_default();
            return match partition_and_account(value) {
                Some((_, account)) if valid_name(name) && !account.is_empty() => {
                    Ok(Self::Arn(value.to_string()))
                }
                _ => Err(BoundaryError::NotPolicyArn(value.to_string())),
            };
        }
        let name = value.trim_start_matches('/');
        if !valid_name(name) {
            return Err(BoundaryError::BadName(value.to_string()));
        }
        Ok(Self::InAccount(name.to_string()))
    }
}

impl fmt::Display for RoleBoundary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InAccount(name) | Self::Arn(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_a_policy_of_the_callers_account() {
        let boundary = RoleBoundary::default();
        assert_eq!(
            boundary.arn("aws", "123456789012"),
            "arn:aws:iam::123456789012:policy/stackops/StackopsRoleBoundary"
        );
        assert_eq!(
            boundary.arn("aws-cn", "1"),
            "arn:aws-cn:iam::1:policy/stackops/StackopsRoleBoundary"
        );
    }

    #[test]
    fn names_and_arns_parse_and_print_back() {
        for value in [
            "stackops/StackopsRoleBoundary",
            "Boundary",
            "arn:aws:iam::123456789012:policy/team/Boundary",
        ] {
            let boundary: RoleBoundary = value.parse().unwrap();
            assert_eq!(boundary.to_string(), value);
        }
        assert_eq!(
            "/stackops/B".parse::<RoleBoundary>().unwrap(),
            RoleBoundary::InAccount("stackops/B".into())
        );
        let arn: RoleBoundary = "arn:aws:iam::123456789012:policy/B".parse().unwrap();
        assert_eq!(arn.arn("aws", "999"), "arn:aws:iam::123456789012:policy/B");
    }

    #[test]
    fn what_is_not_a_policy_is_refused() {
        for value in [
            "",
            "a//b",
            "a b",
            "arn:aws:iam::123456789012:role/x",
            "arn:aws:s3:::bucket",
            "arn:aws:iam:::policy/x",
        ] {
            assert!(value.parse::<RoleBoundary>().is_err(), "{value:?}");
        }
    }

    #[test]
    fn partition_and_account_come_from_an_iam_arn() {
        assert_eq!(
            partition_and_account("arn:aws-us-gov:iam::123:role/stackops/x"),
            Some(("aws-us-gov", "123"))
        );
        assert_eq!(partition_and_account("arn:aws:s3:::b"), None);
    }
}
