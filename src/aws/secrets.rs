//! The cache's AUTH token, in AWS Secrets Manager. Secrets Manager draws it
//! (GetRandomPassword) and keeps it; stackops reads it only to hand it to
//! ElastiCache when it creates the replication group, and never writes it
//! to a field, an output, a message or a log line: observations carry the
//! secret's ARN alone.

use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};

use crate::aws::prelude::*;
use crate::identity::{TAG_COMPONENT, TAG_UID, short_hash};

pub struct AuthTokenKind;
pub static AUTH_TOKEN: AuthTokenKind = AuthTokenKind;

/// Every Secrets Manager kind.
pub const KINDS: &[Kind] = &[&AUTH_TOKEN];

/// A generated token of `length` characters (letters and digits: every
/// character ElastiCache accepts in an AUTH token, none a shell mangles).
pub struct AuthToken {
    pub suffix: String,
    pub length: i64,
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

fn outputs(arn: &str) -> Fields {
    Fields::from([
        ("id".to_string(), arn.to_string()),
        ("arn".into(), arn.to_string()),
    ])
}

#[async_trait]
impl KindOps<AwsClients> for AuthTokenKind {
    fn name(&self) -> &'static str {
        "Secret"
    }

    fn rank(&self) -> u8 {
        1
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let secrets: Vec<_> = cx
            .clients
            .secrets
            .list_secrets()
            .filters(
                Filter::builder()
                    .key(FilterNameStringType::TagValue)
                    .values(&cx.identity.uid)
                    .build(),
            )
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(sdk("ListSecrets"))?;
        Ok(secrets
            .iter()
            .flat_map(|page| page.secret_list())
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
                    outputs: outputs(arn),
                    status: Status::Ready,
                })
            })
            .collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        // The token guards only the cache, which is gone by now (lower rank):
        // no recovery window.
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
impl Resource<AwsClients> for AuthToken {
    fn kind(&self) -> Kind {
        &AUTH_TOKEN
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
        let tags: Vec<Tag> = cx
            .identity
            .tags(key)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let created = secrets
            .create_secret()
            .name(secret_name(cx, &self.suffix))
            .description(format!(
                "AUTH token of the cache of {}, managed by stackops",
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
            outputs: outputs(arn),
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
