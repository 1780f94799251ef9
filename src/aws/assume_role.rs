//! Working in another account: credentials from STS `AssumeRole`, and the
//! allowlist of roles the operator may assume at all.
//!
//! The provider below asks STS for a new session each time it is called;
//! the SDK's identity cache in front of it (see `config::sdk_config`) calls
//! it again only when the cached session is within the refresh margin of
//! its expiry, so sessions are renewed before they lapse, never after.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError};

/// A role to work as: its ARN and the external id its trust policy asks for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleToAssume {
    pub arn: String,
    /// `sts:ExternalId` (never logged: it guards against confused deputies).
    pub external_id: Option<String>,
}

impl RoleToAssume {
    pub fn new(arn: impl Into<String>, external_id: Option<String>) -> Self {
        Self {
            arn: arn.into(),
            external_id,
        }
    }

    /// The account the role lives in, read from its ARN.
    pub fn account(&self) -> Option<&str> {
        role_account(&self.arn)
    }
}

/// The account id of a role ARN (`arn:<partition>:iam::<account>:role/<name>`).
pub fn role_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let valid = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    (valid && resource.starts_with("role/") && resource.len() > 5).then_some(account)
}

/// Role ARN patterns (`*` matches any run of characters) the operator may
/// assume. Empty: none, so nothing is assumed until an admin opts in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedRoles(Vec<String>);

impl AllowedRoles {
    pub fn new(patterns: impl IntoIterator<Item = String>) -> Self {
        Self(
            patterns
                .into_iter()
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn permits(&self, arn: &str) -> bool {
        self.0.iter().any(|pattern| glob_matches(pattern, arn))
    }

    pub fn patterns(&self) -> &[String] {
        &self.0
    }
}

impl std::str::FromStr for AllowedRoles {
    type Err = std::convert::Infallible;

    /// Comma-separated patterns.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s.split(',').map(String::from)))
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of
/// characters (none included) and everything else matches itself.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let pieces: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = pieces.split_first().expect("split yields one piece");
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for piece in middle {
        match remaining.find(piece) {
            Some(at) => remaining = &remaining[at + piece.len()..],
            None => return false,
        }
    }
    remaining.ends_with(last)
}

/// Session credentials of `role`, asked of STS with the base identity's
/// `sts` client (whose calls are counted like any other).
#[derive(Clone, Debug)]
pub struct AssumedRoleProvider {
    pub sts: aws_sdk_sts::Client,
    pub role: RoleToAssume,
    /// How long each session lasts (AWS: 15 minutes to the role's maximum).
    pub session: Duration,
}

/// Session name in CloudTrail: who acted, for the role's owner to read.
const SESSION_NAME: &str = "stackops";

impl AssumedRoleProvider {
    async fn assume(&self) -> provider::Result {
        let answer = self
            .sts
            .assume_role()
            .role_arn(&self.role.arn)
            .role_session_name(SESSION_NAME)
            .set_external_id(self.role.external_id.clone())
            .duration_seconds(self.session.as_secs().clamp(900, 43_200) as i32)
            .send()
            .await
            .map_err(|e| {
                let error = super::sdk("AssumeRole")(e);
                CredentialsError::provider_error(format!("{} ({error})", self.role.arn))
            })?;
        let session = answer
            .credentials()
            .ok_or_else(|| CredentialsError::unhandled("AssumeRole answered no credentials"))?;
        let expiry = SystemTime::try_from(*session.expiration())
            .map_err(|e| CredentialsError::unhandled(format!("AssumeRole expiry: {e}")))?;
        Ok(Credentials::new(
            session.access_key_id(),
            session.secret_access_key(),
            Some(session.session_token().to_string()),
            Some(expiry),
            "stackops-assume-role",
        ))
    }
}

impl ProvideCredentials for AssumedRoleProvider {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(self.assume())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_with_stars_and_nothing_else() {
        let allowed: AllowedRoles =
            "arn:aws:iam::*:role/stackops-*, arn:aws:iam::111111111111:role/exact"
                .parse()
                .unwrap();
        assert!(allowed.permits("arn:aws:iam::222222222222:role/stackops-tenant"));
        assert!(allowed.permits("arn:aws:iam::111111111111:role/exact"));
        assert!(!allowed.permits("arn:aws:iam::111111111111:role/exactly"));
        assert!(!allowed.permits("arn:aws:iam::222222222222:role/other"));
        assert!(!AllowedRoles::default().permits("arn:aws:iam::222222222222:role/stackops-a"));
        let empty: AllowedRoles = "".parse().unwrap();
        assert!(empty.is_empty());
        assert!(glob_matches("a*b*c", "aXbYc"));
        assert!(!glob_matches("a*b*c", "aXbY"));
        assert!(glob_matches("*", ""));
    }

    #[test]
    fn the_account_comes_from_the_role_arn() {
        assert_eq!(
            role_account("arn:aws:iam::111111111111:role/path/tenant"),
            Some("111111111111")
        );
        assert_eq!(role_account("arn:aws:iam::1111:role/tenant"), None);
        assert_eq!(role_account("arn:aws:iam::111111111111:user/tenant"), None);
        assert_eq!(role_account("arn:aws:s3:::bucket"), None);
    }
}
