//! Which AWS identity a stack works as: the role its namespace names, if
//! the operator may assume it, else the operator's own identity.
//!
//! The role is chosen by an annotation on the Namespace, never by the
//! stack's spec: tenants who may edit stacks but not namespaces cannot
//! point their stack at another tenant's account.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;

use super::Error;
use crate::aws::assume_role::{AllowedRoles, RoleToAssume};

/// Namespace annotation: the role the namespace's stacks work as.
pub const ROLE_ANNOTATION: &str = "stackops.io/aws-role-arn";
/// Namespace annotation: the external id the role's trust policy asks for.
pub const EXTERNAL_ID_ANNOTATION: &str = "stackops.io/aws-external-id";

/// How the operator maps namespaces to AWS identities.
#[derive(Clone, Debug)]
pub struct TenancyOptions {
    /// Roles the operator may assume; empty: none.
    pub allowed_roles: AllowedRoles,
    /// Refuse stacks in namespaces that name no role, instead of working as
    /// the operator's own identity.
    pub require_role: bool,
    /// Length of each assumed-role session.
    pub role_session: Duration,
    /// Sessions are renewed this long before they expire.
    pub refresh_margin: Duration,
}

impl Default for TenancyOptions {
    fn default() -> Self {
        Self {
            allowed_roles: AllowedRoles::default(),
            require_role: false,
            role_session: Duration::from_secs(3600),
            refresh_margin: Duration::from_secs(300),
        }
    }
}

/// The identity a stack works as.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// The operator's own credentials (IRSA, Pod Identity, environment).
    Operator,
    /// A role named by the namespace and allowed by the operator.
    Role(RoleToAssume),
}

impl Access {
    pub fn role(&self) -> Option<&RoleToAssume> {
        match self {
            Self::Operator => None,
            Self::Role(role) => Some(role),
        }
    }
}

/// Why a namespace's stacks get no identity: a condition's reason and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: &'static str,
    pub message: String,
}

/// The identity of the stacks of `namespace`, whose annotations are
/// `annotations`, under `options`. No AWS call.
pub fn access_for(
    namespace: &str,
    annotations: &BTreeMap<String, String>,
    options: &TenancyOptions,
) -> Result<Access, Refusal> {
    let Some(arn) = annotations.get(ROLE_ANNOTATION).map(|a| a.trim()) else {
        if options.require_role {
            return Err(Refusal {
                reason: "RoleRequired",
                message: format!(
                    "namespace {namespace} has no {ROLE_ANNOTATION} annotation, and this \
                     operator works only in roles named by namespaces"
                ),
            });
        }
        return Ok(Access::Operator);
    };
    let role = RoleToAssume::new(
        arn,
        annotations
            .get(EXTERNAL_ID_ANNOTATION)
            .map(|id| id.trim().to_string())
            .filter(|id| !id.is_empty()),
    );
    if role.account().is_none() {
        return Err(Refusal {
            reason: "RoleNotAllowed",
            message: format!(
                "namespace {namespace}: {ROLE_ANNOTATION} {arn:?} is not an IAM role ARN \
                 (arn:aws:iam::<account>:role/<name>)"
            ),
        });
    }
    if !options.allowed_roles.permits(arn) {
        let allowed = if options.allowed_roles.is_empty() {
            "the operator may assume no role (--allowed-role-arns is empty)".to_string()
        } else {
            format!(
                "the operator may assume only {}",
                options.allowed_roles.patterns().join(", ")
            )
        };
        return Err(Refusal {
            reason: "RoleNotAllowed",
            message: format!("namespace {namespace} names role {arn}, but {allowed}"),
        });
    }
    Ok(Access::Role(role))
}

/// The identity of the stacks of `namespace`, read from the Namespace.
pub async fn resolve(
    client: &kube::Client,
    namespace: &str,
    options: &TenancyOptions,
) -> Result<Result<Access, Refusal>, Error> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let annotations = namespaces
        .get_opt(namespace)
        .await?
        .and_then(|ns| ns.metadata.annotations)
        .unwrap_or_default();
    Ok(access_for(namespace, &annotations, options))
}

/// Refusal when the stack was built in `pinned` and its identity now works
/// in `account`: following it would build a second stack there.
pub fn account_change(pinned: Option<&str>, account: &str) -> Option<Refusal> {
    let pinned = pinned?;
    (pinned != account).then(|| Refusal {
        reason: "AccountChanged",
        message: format!(
            "the stack lives in AWS account {pinned}, and its namespace's identity now works in \
             account {account}; a stack does not move between accounts: restore the namespace's \
             {ROLE_ANNOTATION} annotation, or delete the stack and create it anew"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn allowing(pattern: &str) -> TenancyOptions {
        TenancyOptions {
            allowed_roles: pattern.parse().unwrap(),
            ..TenancyOptions::default()
        }
    }

    #[test]
    fn a_namespace_without_a_role_uses_the_operator_unless_a_role_is_required() {
        let none = annotations(&[]);
        assert_eq!(
            access_for("a", &none, &TenancyOptions::default()),
            Ok(Access::Operator)
        );
        let strict = TenancyOptions {
            require_role: true,
            ..TenancyOptions::default()
        };
        assert_eq!(
            access_for("a", &none, &strict).unwrap_err().reason,
            "RoleRequired"
        );
    }

    #[test]
    fn a_role_is_assumed_only_when_the_allowlist_names_it() {
        let arn = "arn:aws:iam::111111111111:role/stackops-tenant";
        let named = annotations(&[(ROLE_ANNOTATION, arn), (EXTERNAL_ID_ANNOTATION, "team-a")]);
        let refused = access_for("a", &named, &TenancyOptions::default()).unwrap_err();
        assert_eq!(refused.reason, "RoleNotAllowed");
        assert!(refused.message.contains("--allowed-role-arns is empty"));
        assert_eq!(
            access_for("a", &named, &allowing("arn:aws:iam::*:role/stackops-*")),
            Ok(Access::Role(RoleToAssume::new(arn, Some("team-a".into()))))
        );
        let other = access_for("a", &named, &allowing("arn:aws:iam::*:role/other")).unwrap_err();
        assert!(
            other
                .message
                .contains("may assume only arn:aws:iam::*:role/other")
        );
        let garbage = annotations(&[(ROLE_ANNOTATION, "tenant")]);
        assert_eq!(
            access_for("a", &garbage, &allowing("*"))
                .unwrap_err()
                .reason,
            "RoleNotAllowed"
        );
    }

    #[test]
    fn a_stack_never_follows_its_namespace_into_another_account() {
        assert_eq!(account_change(None, "111111111111"), None);
        assert_eq!(account_change(Some("111111111111"), "111111111111"), None);
        let moved = account_change(Some("111111111111"), "222222222222").unwrap();
        assert_eq!(moved.reason, "AccountChanged");
    }
}
