//! IAM roles that AWS services assume on the stack's behalf (flow log
//! delivery, the application servers) and the servers' instance profile.
//! Each lives under the path `/stackops/<stack hash>/<node key>/`, so one
//! prefix-filtered list call finds all of a stack's roles (or profiles).
//! A role's inline policy and managed policies are written with the role
//! and compared as one digest (field `policies`), read from the policies
//! themselves (`reads.rs`: with shared reads, from one account-wide read a
//! window), so a policy changed out of band is put back. Grants on what
//! exists only later (the data tier) are a second policy of their own node
//! (`data_policy.rs`). Every role carries the configured permissions
//! boundary (`role_boundary.rs`), put back when removed or changed out of band.

use aws_sdk_iam::types::{InstanceProfile as AwsInstanceProfile, Role as AwsRole, Tag};

use reads::RoleRead;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::aws::prelude::*;
use crate::aws::sts;
use crate::identity::{NameRule, short_hash};

mod data_policy;
mod reads;

pub use crate::aws::role_boundary::{
    BoundaryError, DEFAULT_BOUNDARY, RoleBoundary, partition_and_account,
};
pub use data_policy::{DATA_POLICY, DataPolicy, data_policy_key};

pub struct RoleKind;
pub static ROLE: RoleKind = RoleKind;

/// Every IAM kind.
pub const KINDS: &[Kind] = &[&ROLE, &INSTANCE_PROFILE, &DATA_POLICY];

/// Description of a role whose policies are not written yet.
const UNWRITTEN: &str = "Managed by stackops; policies not written yet";

/// Name of the one inline policy of each role.
const POLICY_NAME: &str = "stackops";

/// A role `service` may assume, with its `grants` in one inline policy
/// and the AWS managed policies named in `managed` attached.
pub struct Role {
    pub suffix: String,
    pub service: String,
    pub grants: Vec<Grant>,
    pub managed: Vec<String>,
}

/// One statement of a role's inline policy: `actions` on the `arn` outputs
/// of the nodes in `on` (each with its suffix appended, e.g. `:*`), on the
/// ARNs held in other outputs (`outputs`: node and field, e.g. a database's
/// master-user secret) and on the ARNs in `arns` (resources whose ARN is
/// known from their name).
#[derive(Clone, Debug, Default)]
pub struct Grant {
    pub actions: Vec<String>,
    pub on: Vec<(String, String)>,
    pub outputs: Vec<(String, String)>,
    pub arns: Vec<String>,
    /// The statement's `Condition`, when it has one.
    pub condition: Option<Value>,
}

/// The ARN of AWS managed policy `name` in the partition of `region`.
fn managed_policy_arn(region: &str, name: &str) -> String {
    format!("arn:{}:iam::aws:policy/{name}", super::partition(region))
}

fn path_prefix(cx: &Context) -> String {
    format!("/stackops/{}/", short_hash(&cx.identity.uid))
}

/// The path prefix lists ask for: the stack's own, or, while reads are
/// shared, every stack's roles and profiles, so one read serves every
/// stack; each keeps those under its `path_prefix` either way.
fn listed_path(cx: &Context) -> String {
    if cx.clients.reads.shares() {
        "/stackops/".to_string()
    } else {
        path_prefix(cx)
    }
}

/// The roles the role kinds list (see `listed_path`): one list for both
/// kinds and, while reads are shared, for every stack.
async fn listed_roles(cx: &Context) -> Result<std::sync::Arc<Vec<AwsRole>>, AwsError> {
    cx.clients
        .listed_account_wide("iam:ListRoles", || async {
            cx.clients
                .iam
                .list_roles()
                .path_prefix(listed_path(cx))
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(sdk("ListRoles"))
        })
        .await
}

fn trust(service: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]
    })
}

/// A policy document in one canonical text (keys sorted, no spaces), from
/// JSON or its URL-encoded form as IAM returns it.
fn canonical(document: &str) -> String {
    let decoded = if document.starts_with('%') {
        percent_encoding::percent_decode_str(document)
            .decode_utf8_lossy()
            .into_owned()
    } else {
        document.to_string()
    };
    serde_json::from_str::<Value>(&decoded)
        .map(|v| v.to_string())
        .unwrap_or(decoded)
}

/// A policy document of `grants`, the ARNs read from `inputs`.
fn policy(grants: &[Grant], inputs: &Inputs) -> Value {
    let statements: Vec<Value> = grants
        .iter()
        .map(|grant| {
            let mut resources: Vec<String> = grant
                .on
                .iter()
                .map(|(node, suffix)| {
                    format!("{}{suffix}", inputs.get(node, "arn").trim_end_matches(":*"))
                })
                .collect();
            resources.extend(
                grant
                    .outputs
                    .iter()
                    .map(|(node, field)| inputs.get(node, field)),
            );
            resources.extend(grant.arns.iter().cloned());
            let mut statement =
                json!({"Effect": "Allow", "Action": grant.actions, "Resource": resources});
            if let Some(condition) = &grant.condition {
                statement["Condition"] = condition.clone();
            }
            statement
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Fails (dependency not ready) unless every ARN `grants` read is known.
fn require_arns(grants: &[Grant], inputs: &Inputs) -> Result<(), AwsError> {
    for grant in grants {
        for (node, _) in &grant.on {
            inputs.require(node, "arn")?;
        }
        for (node, field) in &grant.outputs {
            inputs.require(node, field)?;
        }
    }
    Ok(())
}

impl Role {
    fn policy(&self, inputs: &Inputs) -> Value {
        policy(&self.grants, inputs)
    }

    /// The `policies` field this role should have.
    fn policies(&self, cx: &Context, inputs: &Inputs) -> String {
        let inline = if self.grants.is_empty() {
            String::new()
        } else {
            canonical(&self.policy(inputs).to_string())
        };
        let mut managed: Vec<String> = self
            .managed
            .iter()
            .map(|policy| managed_policy_arn(&cx.region, policy))
            .collect();
        managed.sort();
        policies_digest(&inline, &managed)
    }

    /// The role's description: for people reading the console.
    fn description(&self, cx: &Context, inputs: &Inputs) -> String {
        format!("Managed by stackops; {}", self.policies(cx, inputs))
    }

    /// Writes the inline policy (if the role has one) and attaches the
    /// managed policies; detaches managed policies no longer wanted.
    async fn put_policies(
        &self,
        cx: &Context,
        name: &str,
        inputs: &Inputs,
    ) -> Result<(), AwsError> {
        let iam = &cx.clients.iam;
        let wanted: Vec<String> = self
            .managed
            .iter()
            .map(|policy| managed_policy_arn(&cx.region, policy))
            .collect();
        for arn in attached_policies(cx, name).await? {
            if !wanted.contains(&arn) {
                iam.detach_role_policy()
                    .role_name(name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(sdk("DetachRolePolicy"))?;
            }
        }
        for arn in wanted {
            iam.attach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(sdk("AttachRolePolicy"))?;
        }
        if self.grants.is_empty() {
            // One put there out of band goes.
            return iam
                .delete_role_policy()
                .role_name(name)
                .policy_name(POLICY_NAME)
                .send()
                .await
                .map_err(sdk("DeleteRolePolicy"))
                .or_gone();
        }
        cx.clients
            .iam
            .put_role_policy()
            .role_name(name)
            .policy_name(POLICY_NAME)
            .policy_document(self.policy(inputs).to_string())
            .send()
            .await
            .map_err(sdk("PutRolePolicy"))?;
        Ok(())
    }
}

/// ARNs of the managed policies attached to role `name` (read only when
/// writing or deleting, never on a steady-state pass).
async fn attached_policies(cx: &Context, name: &str) -> Result<Vec<String>, AwsError> {
    let attached: Vec<_> = cx
        .clients
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(sdk("ListAttachedRolePolicies"))?;
    Ok(attached
        .iter()
        .filter_map(|p| p.policy_arn().map(String::from))
        .collect())
}

/// The `boundary` field of a role: the configured setting when the role
/// carries the policy it names in the role's own account, otherwise the ARN
/// the role carries ("" for none), which differs and so is put right.
fn boundary_field(cx: &Context, role: &RoleRead) -> String {
    let carried = role.boundary.as_str();
    let wanted = partition_and_account(&role.arn)
        .map(|(partition, account)| cx.clients.role_boundary.arn(partition, account));
    if wanted.as_deref() == Some(carried) {
        cx.clients.role_boundary.to_string()
    } else {
        carried.to_string()
    }
}

/// Sets the configured boundary on role `name` (ARN `arn`).
async fn put_boundary(cx: &Context, name: &str, arn: &str) -> Result<(), AwsError> {
    let (partition, account) =
        partition_and_account(arn).ok_or_else(|| missing("PutRolePermissionsBoundary"))?;
    cx.clients
        .iam
        .put_role_permissions_boundary()
        .role_name(name)
        .permissions_boundary(cx.clients.role_boundary.arn(partition, account))
        .send()
        .await
        .map_err(sdk("PutRolePermissionsBoundary"))?;
    Ok(())
}

/// One short digest of a role's policies: its inline policy in canonical
/// form ("" for none) and the ARNs of its managed policies, sorted.
fn policies_digest(inline: &str, managed: &[String]) -> String {
    let digest = Sha256::digest(format!("{inline}\n{}", managed.join(",")));
    let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("policy {hash}")
}

fn observed(cx: &Context, role: &RoleRead) -> Option<Observed> {
    let component = role
        .path
        .strip_prefix(&path_prefix(cx))?
        .trim_end_matches('/')
        .to_string();
    let inline = role.inline.get(POLICY_NAME).map_or("", String::as_str);
    let fields = Fields::from([
        ("trust".to_string(), role.trust.clone()),
        (
            "policies".to_string(),
            policies_digest(inline, &role.managed),
        ),
        ("boundary".to_string(), boundary_field(cx, role)),
    ]);
    Some(Observed {
        component,
        outputs: Fields::from([
            ("id".into(), role.name.clone()),
            ("arn".into(), role.arn.clone()),
        ]),
        id: role.name.clone(),
        arn: Some(role.arn.clone()),
        fields,
        status: Status::Ready,
    })
}

/// The stack's roles as the role kind compares them: from the account's
/// details while reads are shared; otherwise listed under the stack's
/// path, each with `GetRole` (the list leaves out the boundary), its
/// inline policy and its managed policies.
async fn stack_roles(cx: &Context) -> Result<Vec<RoleRead>, AwsError> {
    if let Some(roles) = reads::shared_roles(cx).await? {
        return Ok(roles);
    }
    let listed = listed_roles(cx).await?;
    let own = path_prefix(cx);
    let mut found = Vec::new();
    for listed in listed.iter().filter(|r| r.path().starts_with(&own)) {
        let name = listed.role_name();
        let got = cx
            .clients
            .iam
            .get_role()
            .role_name(name)
            .send()
            .await
            .map_err(sdk("GetRole"))
            .found()?;
        let Some(role) = got.as_ref().and_then(|g| g.role()) else {
            continue;
        };
        let mut read = RoleRead::from_role(role);
        if let Some(policy) = reads::inline_policy(cx, name, POLICY_NAME).await? {
            read.inline.insert(POLICY_NAME.to_string(), policy);
        }
        let Some(mut managed) = attached_policies(cx, name).await.found()? else {
            continue;
        };
        managed.sort();
        read.managed = managed;
        found.push(read);
    }
    Ok(found)
}

#[async_trait]
impl KindOps<AwsClients> for RoleKind {
    fn name(&self) -> &'static str {
        "IAMRole"
    }

    fn rank(&self) -> u8 {
        1
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let roles = stack_roles(cx).await?;
        Ok(roles.iter().filter_map(|r| observed(cx, r)).collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let iam = &cx.clients.iam;
        let Some(arns) = attached_policies(cx, &observed.id).await.found()? else {
            return Ok(Deletion::Done);
        };
        for arn in arns {
            iam.detach_role_policy()
                .role_name(&observed.id)
                .policy_arn(arn)
                .send()
                .await
                .map_err(sdk("DetachRolePolicy"))?;
        }
        iam.delete_role_policy()
            .role_name(&observed.id)
            .policy_name(POLICY_NAME)
            .send()
            .await
            .map_err(sdk("DeleteRolePolicy"))
            .or_gone()?;
        // Gone already when torn down by rank; not when the role is pruned.
        data_policy::delete_from(cx, &observed.id).await?;
        iam.delete_role()
            .role_name(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteRole"))?;
        Ok(Deletion::Done)
    }
}

#[async_trait]
impl Resource<AwsClients> for Role {
    fn kind(&self) -> Kind {
        &ROLE
    }

    fn desired(&self, _key: &str, cx: &Context, inputs: &Inputs) -> Fields {
        Fields::from([
            ("trust".to_string(), trust(&self.service).to_string()),
            ("policies".to_string(), self.policies(cx, inputs)),
            ("boundary".to_string(), cx.clients.role_boundary.to_string()),
        ])
    }

    /// The role (with its permissions boundary), each managed policy
    /// attached, the inline policy (when it has grants), and the
    /// description written last.
    fn create_calls(&self) -> Vec<&'static str> {
        let mut calls = vec!["CreateRole"];
        calls.extend(self.managed.iter().map(|_| "AttachRolePolicy"));
        if !self.grants.is_empty() {
            calls.push("PutRolePolicy");
        }
        calls.push("UpdateRole");
        calls
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        require_arns(&self.grants, inputs)?;
        let name = cx.identity.resource_name(&self.suffix, NameRule::IamRole);
        // The boundary is part of the create call: the operator's policy
        // allows CreateRole only with it.
        let account = sts::caller_account(&cx.clients).await?;
        let boundary = cx
            .clients
            .role_boundary
            .arn(super::partition(&cx.region), &account);
        let mut create = cx
            .clients
            .iam
            .create_role()
            .role_name(&name)
            .permissions_boundary(boundary)
            .path(format!("{}{key}/", path_prefix(cx)))
            // The policy hash goes in only once the policies are in place,
            // so a crash in between shows as a changed description.
            .description(UNWRITTEN)
            .assume_role_policy_document(trust(&self.service).to_string());
        for (k, v) in cx.identity.tags(key) {
            create = create.tags(
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|_| missing("CreateRole"))?,
            );
        }
        let created = create.send().await.map_err(sdk("CreateRole"))?;
        let role = created.role().ok_or_else(|| missing("CreateRole"))?;
        self.put_policies(cx, &name, inputs).await?;
        cx.clients
            .iam
            .update_role()
            .role_name(&name)
            .description(self.description(cx, inputs))
            .send()
            .await
            .map_err(sdk("UpdateRole"))?;
        let mut observed =
            observed(cx, &RoleRead::from_role(role)).ok_or_else(|| missing("CreateRole"))?;
        observed.fields = self.desired(key, cx, inputs);
        Ok(observed)
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        let iam = &cx.clients.iam;
        // The boundary first: policies are never written on a role without it.
        if changes.iter().any(|c| c.field == "boundary") {
            let arn = current
                .arn
                .as_deref()
                .ok_or_else(|| missing("PutRolePermissionsBoundary"))?;
            put_boundary(cx, &current.id, arn).await?;
        }
        for change in changes {
            match change.field.as_str() {
                "trust" => {
                    iam.update_assume_role_policy()
                        .role_name(&current.id)
                        .policy_document(&change.to)
                        .send()
                        .await
                        .map_err(sdk("UpdateAssumeRolePolicy"))?;
                }
                "policies" => {
                    self.put_policies(cx, &current.id, inputs).await?;
                    iam.update_role()
                        .role_name(&current.id)
                        .description(self.description(cx, inputs))
                        .send()
                        .await
                        .map_err(sdk("UpdateRole"))?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- instance profile

pub struct InstanceProfileKind;
pub static INSTANCE_PROFILE: InstanceProfileKind = InstanceProfileKind;

/// The instance profile through which EC2 instances assume the role of
/// node `role`. Named like the role, under the stack's path.
pub struct InstanceProfile {
    pub suffix: String,
    pub role: String,
}

fn profile_observed(cx: &Context, profile: &AwsInstanceProfile) -> Option<Observed> {
    let component = profile
        .path()
        .strip_prefix(&path_prefix(cx))?
        .trim_end_matches('/')
        .to_string();
    let name = profile.instance_profile_name().to_string();
    let role = profile
        .roles()
        .first()
        .map(|r| r.role_name().to_string())
        .unwrap_or_default();
    Some(Observed {
        component,
        outputs: Fields::from([
            ("id".into(), name.clone()),
            ("arn".into(), profile.arn().to_string()),
        ]),
        id: name,
        arn: Some(profile.arn().to_string()),
        fields: Fields::from([("role".to_string(), role)]),
        status: Status::Ready,
    })
}

impl InstanceProfile {
    async fn add_role(&self, cx: &Context, name: &str, role: &str) -> Result<(), AwsError> {
        cx.clients
            .iam
            .add_role_to_instance_profile()
            .instance_profile_name(name)
            .role_name(role)
            .send()
            .await
            .map_err(sdk("AddRoleToInstanceProfile"))?;
        Ok(())
    }
}

async fn remove_role(cx: &Context, profile: &str, role: &str) -> Result<(), AwsError> {
    let removed = cx
        .clients
        .iam
        .remove_role_from_instance_profile()
        .instance_profile_name(profile)
        .role_name(role)
        .send()
        .await
        .map_err(sdk("RemoveRoleFromInstanceProfile"));
    removed.or_gone()
}

#[async_trait]
impl KindOps<AwsClients> for InstanceProfileKind {
    fn name(&self) -> &'static str {
        "InstanceProfile"
    }

    fn rank(&self) -> u8 {
        2
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let profiles = cx
            .clients
            .listed_account_wide("iam:ListInstanceProfiles", || async {
                cx.clients
                    .iam
                    .list_instance_profiles()
                    .path_prefix(listed_path(cx))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("ListInstanceProfiles"))
            })
            .await?;
        Ok(profiles
            .iter()
            .filter_map(|p| profile_observed(cx, p))
            .collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        if let Some(role) = observed.fields.get("role").filter(|r| !r.is_empty()) {
            remove_role(cx, &observed.id, role).await?;
        }
        let deleted = cx
            .clients
            .iam
            .delete_instance_profile()
            .instance_profile_name(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteInstanceProfile"));
        deleted.deleted()
    }
}

#[async_trait]
impl Resource<AwsClients> for InstanceProfile {
    fn kind(&self) -> Kind {
        &INSTANCE_PROFILE
    }

    fn desired(&self, _key: &str, _cx: &Context, inputs: &Inputs) -> Fields {
        Fields::from([("role".to_string(), inputs.get(&self.role, "id"))])
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateInstanceProfile", "AddRoleToInstanceProfile"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let role = inputs.require(&self.role, "id")?;
        let name = cx.identity.resource_name(&self.suffix, NameRule::IamRole);
        let mut create = cx
            .clients
            .iam
            .create_instance_profile()
            .instance_profile_name(&name)
            .path(format!("{}{key}/", path_prefix(cx)));
        for (k, v) in cx.identity.tags(key) {
            create = create.tags(
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|_| missing("CreateInstanceProfile"))?,
            );
        }
        let created = create.send().await.map_err(sdk("CreateInstanceProfile"))?;
        let profile = created
            .instance_profile()
            .ok_or_else(|| missing("CreateInstanceProfile"))?;
        // A crash here leaves a profile without its role: the next pass sees
        // `role` differ and adds it.
        self.add_role(cx, &name, &role).await?;
        let mut observed =
            profile_observed(cx, profile).ok_or_else(|| missing("CreateInstanceProfile"))?;
        observed.fields = self.desired(key, cx, inputs);
        Ok(observed)
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        _changes: &[Change],
    ) -> Result<(), AwsError> {
        // A profile holds at most one role: swap it.
        if let Some(old) = current.fields.get("role").filter(|r| !r.is_empty()) {
            remove_role(cx, &current.id, old).await?;
        }
        self.add_role(cx, &current.id, &inputs.require(&self.role, "id")?)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_documents_compare_in_one_canonical_form() {
        let plain = r#"{"Version": "2012-10-17", "Statement": []}"#;
        let encoded = "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%5D%7D";
        assert_eq!(canonical(plain), canonical(encoded));
        assert_eq!(
            canonical(plain),
            r#"{"Statement":[],"Version":"2012-10-17"}"#
        );
    }
}
