//! How the role kinds read a stack's roles with their policies.
//!
//! While reads are shared, one paginated `GetAccountAuthorizationDetails`
//! (roles only) a window serves every stack and both role kinds: each role
//! comes with its trust, boundary, inline policies and attached managed
//! policies, so drift in any of them is seen on every pass at no cost per
//! stack. Otherwise (a stack reading afresh before a write, the command
//! line) the stack lists its own roles under its path and reads, per role,
//! what the kind compares: one call each.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_iam::types::{EntityType, Role as AwsRole, RoleDetail};

use crate::aws::prelude::*;

use super::{canonical, path_prefix};

/// A role as the role kinds compare it.
#[derive(Clone, Debug)]
pub(super) struct RoleRead {
    pub name: String,
    pub path: String,
    pub arn: String,
    /// The trust policy, in canonical form.
    pub trust: String,
    /// ARN of the permissions boundary the role carries ("" for none).
    pub boundary: String,
    /// Inline policies by name, in canonical form: every one when read
    /// from the account's details, those asked for otherwise.
    pub inline: BTreeMap<String, String>,
    /// ARNs of the managed policies attached, sorted.
    pub managed: Vec<String>,
}

impl RoleRead {
    fn from_detail(detail: &RoleDetail) -> Option<Self> {
        let mut managed: Vec<String> = detail
            .attached_managed_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(String::from))
            .collect();
        managed.sort();
        Some(Self {
            name: detail.role_name()?.to_string(),
            path: detail.path()?.to_string(),
            arn: detail.arn()?.to_string(),
            trust: canonical(detail.assume_role_policy_document().unwrap_or_default()),
            boundary: detail
                .permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn())
                .unwrap_or_default()
                .to_string(),
            inline: detail
                .role_policy_list()
                .iter()
                .filter_map(|p| {
                    Some((
                        p.policy_name()?.to_string(),
                        canonical(p.policy_document()?),
                    ))
                })
                .collect(),
            managed,
        })
    }

    /// A role as `GetRole` shows it, before any of its policies is read.
    pub fn from_role(role: &AwsRole) -> Self {
        Self {
            name: role.role_name().to_string(),
            path: role.path().to_string(),
            arn: role.arn().to_string(),
            trust: canonical(role.assume_role_policy_document().unwrap_or_default()),
            boundary: role
                .permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn())
                .unwrap_or_default()
                .to_string(),
            inline: BTreeMap::new(),
            managed: Vec::new(),
        }
    }
}

/// The stack's roles with their policies from the account's details, or
/// `None` when reads are not shared now (the kind then reads its own).
pub(super) async fn shared_roles(cx: &Context) -> Result<Option<Vec<RoleRead>>, AwsError> {
    if !cx.clients.reads.shares() {
        return Ok(None);
    }
    let every = account_roles(cx).await?;
    let own = path_prefix(cx);
    Ok(Some(
        every
            .iter()
            .filter(|r| r.path.starts_with(&own))
            .cloned()
            .collect(),
    ))
}

/// Every stackops role of the account (path `/stackops/`), one list for
/// every stack and both role kinds.
async fn account_roles(cx: &Context) -> Result<Arc<Vec<RoleRead>>, AwsError> {
    cx.clients
        .listed_account_wide("iam:GetAccountAuthorizationDetails", || async {
            let mut pages = cx
                .clients
                .iam
                .get_account_authorization_details()
                .filter(EntityType::Role)
                .into_paginator()
                .send();
            let mut roles = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(sdk("GetAccountAuthorizationDetails"))?;
                roles.extend(
                    page.role_detail_list()
                        .iter()
                        .filter(|d| d.path().is_some_and(|p| p.starts_with("/stackops/")))
                        .filter_map(RoleRead::from_detail),
                );
            }
            Ok(roles)
        })
        .await
}

/// Inline policy `policy` of role `role`, in canonical form, when it has it.
pub(super) async fn inline_policy(
    cx: &Context,
    role: &str,
    policy: &str,
) -> Result<Option<String>, AwsError> {
    let found = cx
        .clients
        .iam
        .get_role_policy()
        .role_name(role)
        .policy_name(policy)
        .send()
        .await
        .map_err(sdk("GetRolePolicy"))
        .found()?;
    Ok(found.map(|p| canonical(p.policy_document())))
}
