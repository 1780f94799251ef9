//! Generated secrets in AWS Secrets Manager: the cache's AUTH token and the
//! header CloudFront sends its origin. Secrets Manager draws the value
//! (GetRandomPassword) and keeps it; stackops reads it only to hand it to
//! the call that needs it, and never writes it to a field, an output, a
//! message or a log line. Observations carry the secret's ARN and a short
//! digest of the value (a tag written with it), so whoever holds a copy of
//! the value can tell it is current without reading the secret.

use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};

use crate::aws::prelude::*;
use crate::identity::{TAG_COMPONENT, TAG_UID, short_hash};

pub struct SecretKind;
pub static SECRET: SecretKind = SecretKind;

/// Every Secrets Manager kind.
pub const KINDS: &[Kind] = &[&SECRET];

/// Tag holding the short digest of the value.
const TAG_DIGEST: &str = "stackops.io/value-digest";

/// A generated value of `length` characters (letters and digits: every
/// character an ElastiCache AUTH token or a load balancer header match
/// accepts literally, none a shell mangles), stored as
/// `stackops/<stack>-<hash>/<suffix>`.
pub struct GeneratedSecret {
    pub suffix: String,
    pub length: i64,
    /// What the value guards, for the secret's description.
    pub purpose: String,
}

/// The short digest of a secret value that fields and tags may carry.
pub fn value_digest(value: &str) -> String {
    crate::identity::short_hash(value)
}

fn secret_name(cx: &Context, suffix: &str) -> String {
    format!(
        "stackops/{}-{}/{suffix}",
        cx.identity.name,
        short_hash(&cx.identity.uid)
    )
}

/// The secret value of node `key`, for the one call that needs it.
pub(crate) async fn read(cx: &Context, arn: &str) -> Result<String, AwsError> {
    let value = cx
        .clients
        .secrets
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(sdk("GetSecretValue"))?;
    value
        .secret_string()
        .map(String::from)
        .ok_or_else(|| missing("GetSecretValue"))
}

fn outputs(arn: &str, digest: &str) -> Fields {
    Fields::from([
        ("id".to_string(), arn.to_string()),
        ("arn".into(), arn.to_string()),
        ("digest".into(), digest.to_string()),
    ])
}

#[async_trait]
impl KindOps<AwsClients> for SecretKind {
    fn name(&self) -> &'static str {
        "Secret"
    }

    fn rank(&self) -> u8 {
        1
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        // Shared: every stackops secret, one read (parsed once) for every
        // stack; this stack's kept below either way.
        let secrets = cx
            .clients
            .listed("secretsmanager:ListSecrets", || async {
                let pages: Vec<_> = cx
                    .clients
                    .secrets
                    .list_secrets()
                    .filters(if cx.clients.reads.shares() {
                        Filter::builder()
                            .key(FilterNameStringType::TagKey)
                            .values(TAG_UID)
                            .build()
                    } else {
                        Filter::builder()
                            .key(FilterNameStringType::TagValue)
                            .values(&cx.identity.uid)
                            .build()
                    })
                    .into_paginator()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("ListSecrets"))?;
                Ok(pages
                    .into_iter()
                    .flat_map(|page| page.secret_list.unwrap_or_default())
                    .collect())
            })
            .await?;
        Ok(secrets
            .iter()
            .filter_map(|secret| {
                let tag = |key: &str| {
                    secret
                        .tags()
                        .iter()
                        .find(|t| t.key() == Some(key))
                        .and_then(|t| t.value())
                };
                if tag(TAG_UID) != Some(cx.identity.uid.as_str()) {
                    return None;
                }
                let arn = secret.arn()?;
                Some(Observed {
                    component: tag(TAG_COMPONENT).unwrap_or_default().to_string(),
                    id: arn.to_string(),
                    arn: Some(arn.to_string()),
                    fields: Fields::new(),
                    outputs: outputs(arn, tag(TAG_DIGEST).unwrap_or_default()),
                    status: Status::Ready,
                })
            })
            .collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        // What the value guards (the cache, the listener rule) is gone by
        // now (lower rank): no recovery window.
        let deleted = cx
            .clients
            .secrets
            .delete_secret()
            .secret_id(&observed.id)
            .force_delete_without_recovery(true)
            .send()
            .await
            .map_err(sdk("DeleteSecret"));
        deleted.deleted()
    }
}

#[async_trait]
impl Resource<AwsClients> for GeneratedSecret {
    fn kind(&self) -> Kind {
        &SECRET
    }

    fn desired(&self, _key: &str, _cx: &Context, _inputs: &Inputs) -> Fields {
        Fields::new()
    }

    /// GetRandomPassword reads: only the secret is written.
    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateSecret"]
    }

    async fn create(
        &self,
        key: &str,
        cx: &Context,
        _inputs: &Inputs,
    ) -> Result<Observed, AwsError> {
        let secrets = &cx.clients.secrets;
        let drawn = secrets
            .get_random_password()
            .password_length(self.length)
            .exclude_punctuation(true)
            .include_space(false)
            .send()
            .await
            .map_err(sdk("GetRandomPassword"))?;
        let token = drawn
            .random_password()
            .ok_or_else(|| missing("GetRandomPassword"))?;
        let digest = value_digest(token);
        let mut tags: Vec<Tag> = cx
            .identity
            .tags(key)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        tags.push(Tag::builder().key(TAG_DIGEST).value(&digest).build());
        let created = secrets
            .create_secret()
            .name(secret_name(cx, &self.suffix))
            .description(format!(
                "{} of {}, managed by stackops",
                self.purpose,
                cx.identity.stack_tag()
            ))
            .secret_string(token)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(sdk("CreateSecret"))?;
        let arn = created.arn().ok_or_else(|| missing("CreateSecret"))?;
        Ok(Observed {
            component: key.into(),
            id: arn.to_string(),
            arn: Some(arn.to_string()),
            fields: Fields::new(),
            outputs: outputs(arn, &digest),
            status: Status::Ready,
        })
    }

    async fn update(
        &self,
        _key: &str,
        _cx: &Context,
        _inputs: &Inputs,
        _current: &Observed,
        _changes: &[Change],
    ) -> Result<(), AwsError> {
        // Nothing to compare: the value is never read back for a diff.
        Ok(())
    }
}
