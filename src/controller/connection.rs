//! The connection Secret of a stack: `<stack>-connection` in the stack's
//! namespace, holding what applications need to connect — endpoints, ports
//! and the ARNs of the AWS secrets that hold credentials, never a credential
//! itself. The custom resource owns it, so Kubernetes deletes it with the
//! stack. It is written only when its content changes.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use kube::{Resource, ResourceExt};

use super::Error;
use crate::api::status::StackOutputs;

/// Field manager of the operator's server-side applies.
const MANAGER: &str = "stackops";

pub fn secret_name(stack: &str) -> String {
    format!("{stack}-connection")
}

/// The Secret's keys, from the stack's outputs (absent outputs, no key).
pub fn data(outputs: &StackOutputs) -> BTreeMap<String, String> {
    let mut data = BTreeMap::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            data.insert(key.to_string(), value);
        }
    };
    put("LOAD_BALANCER_DNS", outputs.load_balancer_dns.clone());
    put("CDN_DOMAIN", outputs.cdn_domain.clone());
    put("DATABASE_HOST", outputs.database_endpoint.clone());
    put(
        "DATABASE_PORT",
        outputs.database_port.map(|p| p.to_string()),
    );
    put(
        "DATABASE_READER_HOSTS",
        Some(outputs.database_reader_endpoints.join(",")),
    );
    put("DATABASE_SECRET_ARN", outputs.database_secret_arn.clone());
    put("CACHE_HOST", outputs.cache_endpoint.clone());
    put("CACHE_READER_HOST", outputs.cache_reader_endpoint.clone());
    put("CACHE_PORT", outputs.cache_port.map(|p| p.to_string()));
    put("CACHE_AUTH_SECRET_ARN", outputs.cache_secret_arn.clone());
    data
}

/// What `ensure` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Ensured {
    Unchanged,
    Written,
    /// A Secret of that name exists and the stack does not own it: left
    /// alone (taking it over would also have Kubernetes delete it with the
    /// stack), with what to do about it.
    Conflict(String),
}

/// Creates or updates the connection Secret of `stack` when its content
/// differs.
pub async fn ensure<K>(
    client: kube::Client,
    stack: &K,
    outputs: &StackOutputs,
) -> Result<Ensured, Error>
where
    K: Resource<DynamicType = ()>,
{
    let namespace = stack.namespace().ok_or(Error::Incomplete("namespace"))?;
    let name = secret_name(&stack.name_any());
    let api: Api<Secret> = Api::namespaced(client, &namespace);
    let wanted = data(outputs);
    let current = api.get_opt(&name).await?;
    let uid = stack.meta().uid.clone().ok_or(Error::Incomplete("uid"))?;
    if let Some(existing) = &current
        && !existing.owner_references().iter().any(|o| o.uid == uid)
    {
        return Ok(Ensured::Conflict(format!(
            "Secret {name} exists and is not this stack's: stackops leaves it alone and \
             writes no connection Secret; rename or delete that Secret"
        )));
    }
    let same = current.as_ref().is_some_and(|secret| {
        let have: BTreeMap<String, String> = secret
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
            .collect();
        have == wanted
    });
    if same {
        return Ok(Ensured::Unchanged);
    }
    let owner = stack
        .controller_owner_ref(&())
        .ok_or(Error::Incomplete("uid"))?;
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_string(),
                "stackops".to_string(),
            )])),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        data: Some(
            wanted
                .into_iter()
                .map(|(k, v)| (k, ByteString(v.into_bytes())))
                .collect(),
        ),
        ..Secret::default()
    };
    api.patch(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&secret),
    )
    .await?;
    Ok(Ensured::Written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_holds_endpoints_and_arns_only() {
        let outputs = StackOutputs {
            database_endpoint: Some("db.example".into()),
            database_port: Some(5432),
            database_reader_endpoints: vec!["r1.example".into(), "r2.example".into()],
            database_secret_arn: Some("arn:aws:secretsmanager:eu-west-1:1:secret:rds!db".into()),
            ..StackOutputs::default()
        };
        let data = data(&outputs);
        assert_eq!(data["DATABASE_PORT"], "5432");
        assert_eq!(data["DATABASE_READER_HOSTS"], "r1.example,r2.example");
        assert!(!data.contains_key("CACHE_HOST"));
        assert!(
            data.keys()
                .all(|k| !k.contains("PASSWORD") && !k.contains("TOKEN"))
        );
    }
}
