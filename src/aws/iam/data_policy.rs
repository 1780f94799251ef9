//! A role's second inline policy (`stackops-data`), for grants on resources
//! that exist only well after the role: the servers may read the stack's
//! parameters and its secrets once the data tier has them. Its own node, of
//! a rank above the data tier's, so neither the role nor the servers wait
//! for the database (minutes to create on AWS): they start, and their
//! access follows. Found with the roles in the account's details while
//! reads are shared; otherwise by listing the stack's roles (one call) and
//! reading this policy of each (one call per role: a stack has one or two).

use crate::aws::prelude::*;

use super::reads::{self, RoleRead};
use super::{Grant, canonical, path_prefix, policy, require_arns};

pub struct DataPolicyKind;
pub static DATA_POLICY: DataPolicyKind = DataPolicyKind;

/// Name of the policy on its role.
pub const POLICY_NAME: &str = "stackops-data";

/// Node key of the data policy of role node `role`.
pub fn data_policy_key(role: &str) -> String {
    format!("{role}/data")
}

/// `grants` in an inline policy of the role of node `role`.
pub struct DataPolicy {
    pub role: String,
    pub grants: Vec<Grant>,
}

/// Deletes the policy from role `role`, done also when either is gone.
pub(super) async fn delete_from(cx: &Context, role: &str) -> Result<(), AwsError> {
    let deleted = cx
        .clients
        .iam
        .delete_role_policy()
        .role_name(role)
        .policy_name(POLICY_NAME)
        .send()
        .await
        .map_err(sdk("DeleteRolePolicy"));
    deleted.or_gone()
}

/// The policy on role `role` (its document `document`, canonical), when the
/// role is the stack's.
fn observed(cx: &Context, role: &str, path: &str, document: String) -> Option<Observed> {
    let component = path
        .strip_prefix(&path_prefix(cx))?
        .trim_end_matches('/')
        .to_string();
    Some(Observed {
        component: data_policy_key(&component),
        id: role.to_string(),
        arn: None,
        fields: Fields::from([("document".to_string(), document)]),
        outputs: id_outputs(role),
        status: Status::Ready,
    })
}

fn observed_in(cx: &Context, role: &RoleRead) -> Option<Observed> {
    let document = role.inline.get(POLICY_NAME)?.clone();
    observed(cx, &role.name, &role.path, document)
}

#[async_trait]
impl KindOps<AwsClients> for DataPolicyKind {
    fn name(&self) -> &'static str {
        "IAMDataPolicy"
    }

    fn rank(&self) -> u8 {
        // Above everything it names (the parameters are rank 6).
        6
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        if let Some(roles) = reads::shared_roles(cx).await? {
            return Ok(roles.iter().filter_map(|r| observed_in(cx, r)).collect());
        }
        let roles = super::listed_roles(cx).await?;
        let own = path_prefix(cx);
        let mut found = Vec::new();
        for role in roles.iter().filter(|r| r.path().starts_with(&own)) {
            let name = role.role_name();
            if let Some(document) = reads::inline_policy(cx, name, POLICY_NAME).await? {
                found.extend(observed(cx, name, role.path(), document));
            }
        }
        Ok(found)
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        delete_from(cx, &observed.id).await?;
        Ok(Deletion::Done)
    }
}

impl DataPolicy {
    fn document(&self, inputs: &Inputs) -> String {
        policy(&self.grants, inputs).to_string()
    }

    async fn put(&self, cx: &Context, role: &str, inputs: &Inputs) -> Result<(), AwsError> {
        cx.clients
            .iam
            .put_role_policy()
            .role_name(role)
            .policy_name(POLICY_NAME)
            .policy_document(self.document(inputs))
            .send()
            .await
            .map_err(sdk("PutRolePolicy"))?;
        Ok(())
    }
}

#[async_trait]
impl Resource<AwsClients> for DataPolicy {
    fn kind(&self) -> Kind {
        &DATA_POLICY
    }

    fn desired(&self, _key: &str, _cx: &Context, inputs: &Inputs) -> Fields {
        Fields::from([("document".to_string(), canonical(&self.document(inputs)))])
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["PutRolePolicy"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        require_arns(&self.grants, inputs)?;
        let role = inputs.require(&self.role, "id")?;
        self.put(cx, &role, inputs).await?;
        Ok(created(
            key,
            &role,
            self.desired(key, cx, inputs),
            id_outputs(&role),
        ))
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        _changes: &[Change],
    ) -> Result<(), AwsError> {
        require_arns(&self.grants, inputs)?;
        self.put(cx, &current.id, inputs).await
    }
}
