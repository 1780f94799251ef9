//! A role's second inline policy (`stackops-data`), for grants on resources
//! that exist only well after the role: the servers may read the stack's
//! parameters and its secrets once the data tier has them. Its own node, of
//! a rank above the data tier's, so neither the role nor the servers wait
//! for the database (minutes to create on AWS): they start, and their
//! access follows. Found by listing the stack's roles (one call) and
//! reading this policy of each (one call per role: a stack has one or two).

use aws_sdk_iam::types::Role as AwsRole;

use crate::aws::prelude::*;

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

async fn observe_role(cx: &Context, role: &AwsRole) -> Result<Option<Observed>, AwsError> {
    let Some(component) = role
        .path()
        .strip_prefix(&path_prefix(cx))
        .map(|p| p.trim_end_matches('/').to_string())
    else {
        return Ok(None);
    };
    let found = cx
        .clients
        .iam
        .get_role_policy()
        .role_name(role.role_name())
        .policy_name(POLICY_NAME)
        .send()
        .await
        .map_err(sdk("GetRolePolicy"))
        .found()?;
    Ok(found.map(|policy| Observed {
        component: data_policy_key(&component),
        id: role.role_name().to_string(),
        arn: None,
        fields: Fields::from([("document".to_string(), canonical(policy.policy_document()))]),
        outputs: id_outputs(role.role_name()),
        status: Status::Ready,
    }))
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
        let roles = super::listed_roles(cx).await?;
        let mut found = Vec::new();
        for role in roles.iter() {
            found.extend(observe_role(cx, role).await?);
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
