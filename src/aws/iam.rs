//! IAM roles that AWS services assume on the stack's behalf (flow log
//! delivery now; the instance role later). A role lives under the path
//! `/stackops/<stack hash>/<node key>/`, so one prefix-filtered list call
//! finds all of a stack's roles. Its inline policy is written with the role;
//! the policy's hash rides in the role description, so a spec change that
//! alters the policy is seen without reading the policy on every pass.

use async_trait::async_trait;
use aws_sdk_iam::types::{Role as AwsRole, Tag};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{missing, sdk};
use crate::blueprint::naming::{NameRule, short_hash};
use crate::engine::{
    AwsError, Change, Context, Deletion, Fields, Inputs, Kind, KindOps, Observed, Resource, Status,
};

pub struct RoleKind;
pub static ROLE: RoleKind = RoleKind;

/// Name of the one inline policy of each role.
const POLICY_NAME: &str = "stackops";

/// A role `service` may assume, allowed `actions` on the `arn` outputs of
/// the nodes in `on` (each with `suffix` appended, e.g. `:*`).
pub struct Role {
    pub suffix: String,
    pub service: String,
    pub actions: Vec<String>,
    pub on: Vec<(String, String)>,
}

fn path_prefix(cx: &Context) -> String {
    format!("/stackops/{}/", short_hash(&cx.identity.uid))
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

impl Role {
    fn policy(&self, inputs: &Inputs) -> Value {
        let resources: Vec<String> = self
            .on
            .iter()
            .map(|(node, suffix)| {
                format!("{}{suffix}", inputs.get(node, "arn").trim_end_matches(":*"))
            })
            .collect();
        json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": self.actions, "Resource": resources}]
        })
    }

    fn description(&self, inputs: &Inputs) -> String {
        let digest = Sha256::digest(self.policy(inputs).to_string());
        let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        format!("Managed by stackops; policy {hash}")
    }

    async fn put_policy(&self, cx: &Context, name: &str, inputs: &Inputs) -> Result<(), AwsError> {
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

fn observed(cx: &Context, role: &AwsRole) -> Option<Observed> {
    let component = role
        .path()
        .strip_prefix(&path_prefix(cx))?
        .trim_end_matches('/')
        .to_string();
    let name = role.role_name().to_string();
    let mut fields = Fields::new();
    fields.insert(
        "trust".into(),
        canonical(role.assume_role_policy_document().unwrap_or_default()),
    );
    fields.insert(
        "description".into(),
        role.description().unwrap_or_default().to_string(),
    );
    Some(Observed {
        component,
        outputs: Fields::from([
            ("id".into(), name.clone()),
            ("arn".into(), role.arn().to_string()),
        ]),
        id: name,
        arn: Some(role.arn().to_string()),
        fields,
        status: Status::Ready,
    })
}

#[async_trait]
impl KindOps for RoleKind {
    fn name(&self) -> &'static str {
        "IAMRole"
    }

    fn rank(&self) -> u8 {
        1
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let roles: Vec<AwsRole> = cx
            .clients
            .iam
            .list_roles()
            .path_prefix(path_prefix(cx))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk("ListRoles"))?;
        Ok(roles.iter().filter_map(|r| observed(cx, r)).collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let iam = &cx.clients.iam;
        match iam
            .delete_role_policy()
            .role_name(&observed.id)
            .policy_name(POLICY_NAME)
            .send()
            .await
            .map_err(sdk("DeleteRolePolicy"))
        {
            Err(e) if !e.is_not_found() => return Err(e),
            _ => {}
        }
        iam.delete_role()
            .role_name(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteRole"))?;
        Ok(Deletion::Done)
    }
}

#[async_trait]
impl Resource for Role {
    fn kind(&self) -> Kind {
        &ROLE
    }

    fn desired(&self, _key: &str, _cx: &Context, inputs: &Inputs) -> Fields {
        Fields::from([
            ("trust".to_string(), trust(&self.service).to_string()),
            ("description".to_string(), self.description(inputs)),
        ])
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        for (node, _) in &self.on {
            inputs.require(node, "arn")?;
        }
        let name = cx.identity.resource_name(&self.suffix, NameRule::IamRole);
        let mut create = cx
            .clients
            .iam
            .create_role()
            .role_name(&name)
            .path(format!("{}{key}/", path_prefix(cx)))
            .description(self.description(inputs))
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
        self.put_policy(cx, &name, inputs).await?;
        let mut observed = observed(cx, role).ok_or_else(|| missing("CreateRole"))?;
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
                "description" => {
                    self.put_policy(cx, &current.id, inputs).await?;
                    iam.update_role()
                        .role_name(&current.id)
                        .description(&change.to)
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
