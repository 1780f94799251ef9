//! Customer managed KMS keys the stack makes for itself: today the key of
//! the alarm topic (CloudWatch cannot publish to a topic under the AWS
//! managed key `alias/aws/sns`, whose policy no one can change).
//!
//! A key has no name to find it by, so it is found by its tags: one
//! Resource Groups Tagging call for the stack's keys, then per key its
//! state, rotation and policy. It is created with its tags in the call, so
//! a crash right after the create leaves a key the next pass finds (and
//! finishes: policy and rotation are drift like any other). Teardown
//! schedules the deletion with a pending window in which an administrator
//! can still cancel it; a key pending deletion counts as gone (the topic's
//! messages are transient, so a stack created again within the window
//! gets a new key rather than reviving the old one).

use aws_sdk_kms::types::{KeyMetadata, KeyState, Tag};
use aws_sdk_resourcegroupstagging::types::TagFilter;
use serde_json::json;

use crate::aws::prelude::*;
use crate::aws::s3::policy::canonical;
use crate::identity::{TAG_COMPONENT, TAG_UID};

pub struct KeyKind;
pub static KEY: KeyKind = KeyKind;

/// Every KMS kind.
pub const KINDS: &[Kind] = &[&KEY];

/// Days a deleted key stays recoverable (AWS allows 7 to 30). The longest:
/// whatever a key encrypted is lost for good when the window ends.
pub const PENDING_WINDOW_DAYS: i32 = 30;

/// Stands for the key's account in the compared policy: the policy names
/// the account, which is known only once the key exists.
const ACCOUNT: &str = "${account}";

/// Services that use the key on the stack's behalf.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KeyUser {
    /// CloudWatch alarms and AWS Budgets publishing to an encrypted SNS
    /// topic.
    CloudWatchAlarms,
}

/// A symmetric key with yearly rotation, administered by the account and
/// usable by `user`.
pub struct CustomerKey {
    pub user: KeyUser,
}

/// The key policy, for the key's `account` in `partition`. The account's
/// own statement keeps the key manageable through IAM (without it no one
/// could change the policy again); the service statement is the one AWS
/// documents for CloudWatch alarms on an encrypted topic.
fn key_policy(partition: &str, account: &str, user: KeyUser) -> String {
    // Budgets publishes to the same topic as the alarms.
    let service = match user {
        KeyUser::CloudWatchAlarms => ["budgets.amazonaws.com", "cloudwatch.amazonaws.com"],
    };
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:{partition}:iam::{account}:root")},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "ServiceUsesTheKey",
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            },
        ],
    })
    .to_string()
}

/// A policy as compared: canonical, its account written as `ACCOUNT`.
fn comparable(policy: &str, account: &str) -> String {
    canonical(&policy.replace(account, ACCOUNT))
}

fn state_name(state: Option<&KeyState>) -> String {
    state.map_or_else(|| "Unknown".into(), |s| s.as_str().to_string())
}

fn outputs(meta: &KeyMetadata) -> Fields {
    Fields::from([
        ("id".into(), meta.key_id().to_string()),
        ("arn".into(), meta.arn().unwrap_or_default().to_string()),
    ])
}

async fn describe(cx: &Context, key_id: &str) -> Result<Option<KeyMetadata>, AwsError> {
    let found = cx
        .clients
        .kms
        .describe_key()
        .key_id(key_id)
        .send()
        .await
        .map_err(sdk("DescribeKey"))
        .found()?;
    Ok(found.and_then(|f| f.key_metadata))
}

/// The key as found: its state, rotation and policy.
async fn observe(cx: &Context, component: String, meta: KeyMetadata) -> Result<Observed, AwsError> {
    let kms = &cx.clients.kms;
    let state = meta.key_state();
    let mut fields = Fields::from([("state".to_string(), state_name(state))]);
    let rotation = kms
        .get_key_rotation_status()
        .key_id(meta.key_id())
        .send()
        .await
        .map_err(sdk("GetKeyRotationStatus"))?;
    fields.insert(
        "rotation".into(),
        rotation.key_rotation_enabled().to_string(),
    );
    let policy = kms
        .get_key_policy()
        .key_id(meta.key_id())
        .policy_name("default")
        .send()
        .await
        .map_err(sdk("GetKeyPolicy"))?;
    let account = meta.aws_account_id().unwrap_or_default();
    fields.insert(
        "policy".into(),
        comparable(policy.policy().unwrap_or_default(), account),
    );
    Ok(Observed {
        component,
        id: meta.key_id().to_string(),
        arn: meta.arn().map(String::from),
        outputs: outputs(&meta),
        fields,
        status: Status::Ready,
    })
}

#[async_trait]
impl KindOps<AwsClients> for KeyKind {
    fn name(&self) -> &'static str {
        "KMSKey"
    }

    fn rank(&self) -> u8 {
        0
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        // Shared: every stackops key, one read for every stack; this
        // stack's kept below either way.
        let mappings = cx
            .clients
            .listed("tagging:GetResources kms:key", || async {
                let filter = TagFilter::builder()
                    .key(TAG_UID)
                    .set_values((!cx.clients.reads.shares()).then(|| vec![cx.identity.uid.clone()]))
                    .build();
                cx.clients
                    .tagging
                    .get_resources()
                    .resource_type_filters("kms:key")
                    .tag_filters(filter)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("GetResources"))
            })
            .await?;
        let tagged: Vec<(String, String)> = mappings
            .iter()
            .filter_map(|m| {
                let tag = |key: &str| m.tags().iter().find(|t| t.key() == key);
                if tag(TAG_UID)?.value() != cx.identity.uid {
                    return None;
                }
                let component = tag(TAG_COMPONENT)?.value().to_string();
                Some((m.resource_arn()?.to_string(), component))
            })
            .collect();
        let mut found = Vec::new();
        for (arn, component) in tagged {
            // The tagging index lags behind deletions: gone, or going, is
            // not found.
            let Some(meta) = describe(cx, &arn).await? else {
                continue;
            };
            let state = meta.key_state();
            if matches!(
                state,
                Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion)
            ) {
                continue;
            }
            found.push(observe(cx, component, meta).await?);
        }
        Ok(found)
    }

    /// Schedules the deletion (an administrator can cancel it within the
    /// window).
    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let scheduled = cx
            .clients
            .kms
            .schedule_key_deletion()
            .key_id(&observed.id)
            .pending_window_in_days(PENDING_WINDOW_DAYS)
            .send()
            .await
            .map_err(sdk("ScheduleKeyDeletion"));
        scheduled.deleted()
    }
}

#[async_trait]
impl Resource<AwsClients> for CustomerKey {
    fn kind(&self) -> Kind {
        &KEY
    }

    fn desired(&self, _key: &str, cx: &Context, _inputs: &Inputs) -> Fields {
        let partition = crate::aws::partition(&cx.region);
        Fields::from([
            ("state".to_string(), "Enabled".to_string()),
            ("rotation".to_string(), "true".to_string()),
            (
                "policy".to_string(),
                canonical(&key_policy(partition, ACCOUNT, self.user)),
            ),
        ])
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateKey", "PutKeyPolicy", "EnableKeyRotation"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let tags = cx
            .identity
            .tags(key)
            .into_iter()
            .map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(built_wrongly("CreateKey"))?;
        // Created under the default policy (the account administers it):
        // the stack's policy names the account, known from the answer.
        let created = cx
            .clients
            .kms
            .create_key()
            .description(format!(
                "stackops {} {key} ({})",
                cx.identity.stack_tag(),
                cx.identity.uid
            ))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(sdk("CreateKey"))?;
        let meta = created.key_metadata.ok_or_else(|| missing("CreateKey"))?;
        let current = Observed {
            component: key.into(),
            id: meta.key_id().to_string(),
            arn: meta.arn().map(String::from),
            outputs: outputs(&meta),
            fields: Fields::new(),
            status: Status::Ready,
        };
        self.put_policy(cx, &current).await?;
        self.enable_rotation(cx, &current.id).await?;
        Ok(Observed {
            fields: self.desired(key, cx, inputs),
            ..current
        })
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        _inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        let kms = &cx.clients.kms;
        // Disabled out of band: the topic's messages would be dropped.
        if changes.at("state").is_some() {
            kms.enable_key()
                .key_id(&current.id)
                .send()
                .await
                .map_err(sdk("EnableKey"))?;
        }
        if changes.at("policy").is_some() {
            self.put_policy(cx, current).await?;
        }
        if changes.at("rotation").is_some() {
            self.enable_rotation(cx, &current.id).await?;
        }
        Ok(())
    }
}

impl CustomerKey {
    async fn put_policy(&self, cx: &Context, key: &Observed) -> Result<(), AwsError> {
        // arn:<partition>:kms:<region>:<account>:key/<id>
        let arn = key.arn.as_deref().unwrap_or_default();
        let account = arn.split(':').nth(4).ok_or_else(|| missing("CreateKey"))?;
        let partition = crate::aws::partition(&cx.region);
        cx.clients
            .kms
            .put_key_policy()
            .key_id(&key.id)
            .policy_name("default")
            .policy(key_policy(partition, account, self.user))
            .send()
            .await
            .map_err(sdk("PutKeyPolicy"))?;
        Ok(())
    }

    async fn enable_rotation(&self, cx: &Context, key_id: &str) -> Result<(), AwsError> {
        cx.clients
            .kms
            .enable_key_rotation()
            .key_id(key_id)
            .send()
            .await
            .map_err(sdk("EnableKeyRotation"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_compared_without_its_account() {
        let real = key_policy("aws", "123456789012", KeyUser::CloudWatchAlarms);
        assert_eq!(
            comparable(&real, "123456789012"),
            canonical(&key_policy("aws", ACCOUNT, KeyUser::CloudWatchAlarms))
        );
        let value: serde_json::Value = serde_json::from_str(&real).unwrap();
        assert_eq!(
            value["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::123456789012:root"
        );
        assert_eq!(
            value["Statement"][1]["Principal"]["Service"],
            json!(["budgets.amazonaws.com", "cloudwatch.amazonaws.com"])
        );
    }
}
