//! The SNS topic the stack's alarms notify, with its e-mail subscriptions,
//! as one node. Named `stackops-<hash>-<stack>-alarms` and found by
//! `ListTopics` and that name (the name carries the uid's hash), its
//! subscriptions by `ListSubscriptionsByTopic`.
//!
//! Encrypted with a customer managed key: the stack's own (`kms.rs`, whose
//! policy lets CloudWatch use it) or one the spec names. Not with
//! `alias/aws/sns`: CloudWatch alarms cannot publish to a topic under the
//! AWS managed key (its policy cannot grant `cloudwatch.amazonaws.com`),
//! so every notification would be dropped without an error anywhere.

use std::collections::BTreeSet;

use aws_sdk_sns::types::{Subscription, Tag};

use serde_json::json;

use crate::aws::prelude::*;
use crate::aws::s3::policy::canonical;
use crate::identity::owned_stem;

pub const TOPIC_KEY: &str = "monitoring/alarm-topic";

/// What `ListSubscriptionsByTopic` shows instead of an ARN until the
/// recipient confirms.
const PENDING: &str = "PendingConfirmation";

/// Marks a subscription awaiting confirmation in the `subscriptions` field.
const PENDING_MARK: &str = " (pending)";

pub struct TopicKind;
pub static TOPIC: TopicKind = TopicKind;

/// Every SNS kind.
pub const KINDS: &[Kind] = &[&TOPIC];

/// An alarm topic e-mailing `emails`, encrypted under `key`.
pub struct AlarmTopic {
    pub emails: Vec<String>,
    pub key: TopicKey,
}

/// The key a topic is encrypted under.
#[derive(Clone, Debug, PartialEq)]
pub enum TopicKey {
    /// The ARN of the stack's key, made by this node.
    Node(String),
    /// A key the spec names (id, alias or ARN), as given.
    Given(String),
}

/// The topic attribute naming its key.
const KEY_ATTRIBUTE: &str = "KmsMasterKeyId";

/// The topic attribute holding its access policy.
const POLICY_ATTRIBUTE: &str = "Policy";

/// The account in a desired policy, before the account is known.
const ACCOUNT: &str = "${account}";

/// The topic's access policy: the account's own use (SNS's default
/// statement), and publishing by the account's CloudWatch alarms and AWS
/// Budgets. Budgets cannot publish without its statement; a topic
/// policy of its own would otherwise lose the default.
fn topic_policy(topic_arn: &str, account: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountUsesTheTopic",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "SNS:GetTopicAttributes",
                    "SNS:SetTopicAttributes",
                    "SNS:AddPermission",
                    "SNS:RemovePermission",
                    "SNS:DeleteTopic",
                    "SNS:Subscribe",
                    "SNS:ListSubscriptionsByTopic",
                    "SNS:Publish",
                ],
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
            },
            {
                "Sid": "AlarmsAndBudgetsPublish",
                "Effect": "Allow",
                "Principal": {"Service": ["budgets.amazonaws.com", "cloudwatch.amazonaws.com"]},
                "Action": "SNS:Publish",
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            },
        ],
    })
    .to_string()
}

/// The topic's ARN in `account`.
fn topic_arn(cx: &Context, account: &str) -> String {
    format!(
        "arn:{}:sns:{}:{account}:{}",
        crate::aws::partition(&cx.region),
        cx.region,
        topic_name(cx)
    )
}

/// A policy as compared: canonical, its account written as `ACCOUNT`.
fn comparable_policy(policy: &str, arn: &str) -> String {
    // arn:<partition>:sns:<region>:<account>:<name>
    let account = arn.split(':').nth(4).unwrap_or_default();
    if account.is_empty() {
        return canonical(policy);
    }
    canonical(&policy.replace(account, ACCOUNT))
}

impl TopicKey {
    fn value(&self, inputs: &Inputs) -> String {
        match self {
            Self::Node(node) => inputs.get(node, "arn"),
            Self::Given(key) => key.clone(),
        }
    }
}

/// The stack's topic name.
pub fn topic_name(cx: &Context) -> String {
    format!("{}-alarms", owned_stem(&cx.identity.name, &cx.identity.uid))
}

/// The e-mail subscriptions of a topic, as found.
#[derive(Debug, Default, PartialEq)]
struct Subscriptions {
    /// Address -> subscription ARN.
    confirmed: Vec<(String, String)>,
    /// Addresses awaiting confirmation: no ARN yet, so they cannot be
    /// unsubscribed; AWS drops them when the confirmation expires.
    pending: Vec<String>,
}

impl Subscriptions {
    fn of(found: &[Subscription]) -> Self {
        let mut out = Self::default();
        for s in found.iter().filter(|s| s.protocol() == Some("email")) {
            let email = s.endpoint().unwrap_or_default().to_string();
            match s.subscription_arn() {
                Some(arn) if arn != PENDING && arn.starts_with("arn:") => {
                    out.confirmed.push((email, arn.to_string()));
                }
                _ => out.pending.push(email),
            }
        }
        out
    }

    /// `a@x,b@y (pending)`: one comparable value.
    fn field(&self) -> String {
        let mut items: Vec<String> = self.confirmed.iter().map(|(e, _)| e.clone()).collect();
        items.extend(self.pending.iter().map(|e| format!("{e}{PENDING_MARK}")));
        items.sort();
        items.join(",")
    }
}

/// Addresses in a `subscriptions` field: (confirmed, pending).
fn parse(field: &str) -> (BTreeSet<&str>, BTreeSet<&str>) {
    let mut confirmed = BTreeSet::new();
    let mut pending = BTreeSet::new();
    for item in field.split(',').filter(|s| !s.is_empty()) {
        match item.strip_suffix(PENDING_MARK) {
            Some(email) => pending.insert(email),
            None => confirmed.insert(item),
        };
    }
    (confirmed, pending)
}

/// Whether subscriptions `observed` serve `desired`: every wanted address
/// is subscribed (confirmed or pending), no unwanted one is confirmed. An
/// unwanted pending one cannot be removed, so it is not drift.
fn subscriptions_satisfy(desired: &str, observed: &str) -> bool {
    let (wanted, _) = parse(desired);
    let (confirmed, pending) = parse(observed);
    wanted
        .iter()
        .all(|e| confirmed.contains(e) || pending.contains(e))
        && confirmed.iter().all(|e| wanted.contains(e))
}

fn outputs(arn: &str, subscriptions: &Subscriptions) -> Fields {
    let mut outputs = Fields::from([
        ("id".to_string(), arn.to_string()),
        ("arn".to_string(), arn.to_string()),
    ]);
    for (email, sub) in &subscriptions.confirmed {
        outputs.insert(format!("subscription:{email}"), sub.clone());
    }
    outputs
}

async fn find(cx: &Context) -> Result<Option<String>, AwsError> {
    let suffix = format!(":{}", topic_name(cx));
    let topics = cx
        .clients
        .listed("sns:ListTopics", || async {
            cx.clients
                .sns
                .list_topics()
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(sdk("ListTopics"))
        })
        .await?;
    Ok(topics
        .iter()
        .filter_map(|t| t.topic_arn())
        .find(|arn| arn.ends_with(&suffix))
        .map(String::from))
}

async fn subscriptions(cx: &Context, arn: &str) -> Result<Subscriptions, AwsError> {
    let found: Vec<Subscription> = cx
        .clients
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(sdk("ListSubscriptionsByTopic"))?;
    Ok(Subscriptions::of(&found))
}

/// The key the topic is encrypted under (empty for none) and its policy.
async fn topic_attributes(cx: &Context, arn: &str) -> Result<Option<(String, String)>, AwsError> {
    let found = cx
        .clients
        .sns
        .get_topic_attributes()
        .topic_arn(arn)
        .send()
        .await
        .map_err(sdk("GetTopicAttributes"))
        .found()?;
    Ok(found.map(|f| {
        let attribute = |name: &str| {
            f.attributes()
                .and_then(|a| a.get(name))
                .cloned()
                .unwrap_or_default()
        };
        (attribute(KEY_ATTRIBUTE), attribute(POLICY_ATTRIBUTE))
    }))
}

async fn subscribe(cx: &Context, arn: &str, email: &str) -> Result<(), AwsError> {
    cx.clients
        .sns
        .subscribe()
        .topic_arn(arn)
        .protocol("email")
        .endpoint(email)
        .send()
        .await
        .map_err(sdk("Subscribe"))?;
    Ok(())
}

#[async_trait]
impl KindOps<AwsClients> for TopicKind {
    fn name(&self) -> &'static str {
        "SNSTopic"
    }

    /// Above its key, which teardown deletes after it.
    fn rank(&self) -> u8 {
        1
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let Some(arn) = find(cx).await? else {
            return Ok(Vec::new());
        };
        let Some(subs) = subscriptions(cx, &arn).await.found()? else {
            return Ok(Vec::new());
        };
        let Some((key, policy)) = topic_attributes(cx, &arn).await? else {
            return Ok(Vec::new());
        };
        let status = match subs.pending.len() {
            0 => Status::Ready,
            n => Status::Noted(format!(
                "{n} e-mail subscription(s) await confirmation by their recipient"
            )),
        };
        Ok(vec![Observed {
            component: TOPIC_KEY.into(),
            id: arn.clone(),
            arn: Some(arn.clone()),
            fields: Fields::from([
                ("subscriptions".to_string(), subs.field()),
                ("kmsKey".to_string(), key),
                ("policy".to_string(), comparable_policy(&policy, &arn)),
            ]),
            outputs: outputs(&arn, &subs),
            status,
        }])
    }

    /// Deleting the topic deletes its subscriptions, pending ones too.
    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let deleted = cx
            .clients
            .sns
            .delete_topic()
            .topic_arn(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteTopic"));
        deleted.deleted()
    }
}

#[async_trait]
impl Resource<AwsClients> for AlarmTopic {
    fn kind(&self) -> Kind {
        &TOPIC
    }

    fn desired(&self, _key: &str, cx: &Context, inputs: &Inputs) -> Fields {
        let mut emails = self.emails.clone();
        emails.sort();
        emails.dedup();
        Fields::from([
            ("subscriptions".to_string(), emails.join(",")),
            ("kmsKey".to_string(), self.key.value(inputs)),
            (
                "policy".to_string(),
                canonical(&topic_policy(&topic_arn(cx, ACCOUNT), ACCOUNT)),
            ),
        ])
    }

    fn satisfies(&self, field: &str, desired: &str, observed: &str) -> bool {
        if field == "subscriptions" {
            subscriptions_satisfy(desired, observed)
        } else {
            desired == observed
        }
    }

    fn create_calls(&self) -> Vec<&'static str> {
        let mut calls = vec!["CreateTopic"];
        calls.extend(self.emails.iter().map(|_| "Subscribe"));
        calls
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let mut display = format!("stackops {}", cx.identity.stack_tag());
        display.truncate(100);
        let tags = cx
            .identity
            .tags(key)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| missing("CreateTopic"))?;
        let account = crate::aws::sts::caller_account(&cx.clients).await?;
        // Idempotent by name: a second create (after a crash) returns the
        // same topic, as long as attributes and tags are the same.
        let created = cx
            .clients
            .sns
            .create_topic()
            .name(topic_name(cx))
            .attributes("DisplayName", display)
            .attributes(KEY_ATTRIBUTE, self.key.value(inputs))
            .attributes(
                POLICY_ATTRIBUTE,
                topic_policy(&topic_arn(cx, &account), &account),
            )
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(sdk("CreateTopic"))?;
        let arn = created
            .topic_arn()
            .ok_or_else(|| missing("CreateTopic"))?
            .to_string();
        for email in &self.emails {
            subscribe(cx, &arn, email).await?;
        }
        Ok(Observed {
            component: key.into(),
            id: arn.clone(),
            arn: Some(arn.clone()),
            fields: self.desired(key, cx, inputs),
            outputs: outputs(&arn, &Subscriptions::default()),
            status: Status::Ready,
        })
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        if changes.touches("policy") {
            // The topic's own ARN names the account.
            let account = current.id.split(':').nth(4).unwrap_or_default();
            cx.clients
                .sns
                .set_topic_attributes()
                .topic_arn(&current.id)
                .attribute_name(POLICY_ATTRIBUTE)
                .attribute_value(topic_policy(&current.id, account))
                .send()
                .await
                .map_err(sdk("SetTopicAttributes"))?;
        }
        if changes.at("kmsKey").is_some() {
            cx.clients
                .sns
                .set_topic_attributes()
                .topic_arn(&current.id)
                .attribute_name(KEY_ATTRIBUTE)
                .attribute_value(self.key.value(inputs))
                .send()
                .await
                .map_err(sdk("SetTopicAttributes"))?;
        }
        let observed = current
            .fields
            .get("subscriptions")
            .map_or("", String::as_str);
        let (confirmed, pending) = parse(observed);
        for email in &self.emails {
            if !confirmed.contains(email.as_str()) && !pending.contains(email.as_str()) {
                subscribe(cx, &current.id, email).await?;
            }
        }
        // Pending subscriptions no longer wanted are left: they have no
        // ARN to unsubscribe, and expire unconfirmed.
        for email in confirmed {
            if self.emails.iter().any(|e| e == email) {
                continue;
            }
            if let Some(sub) = current.outputs.get(&format!("subscription:{email}")) {
                let gone = cx
                    .clients
                    .sns
                    .unsubscribe()
                    .subscription_arn(sub)
                    .send()
                    .await
                    .map_err(sdk("Unsubscribe"));
                gone.deleted()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(email: &str, arn: &str) -> Subscription {
        Subscription::builder()
            .protocol("email")
            .endpoint(email)
            .subscription_arn(arn)
            .build()
    }

    #[test]
    fn pending_subscriptions_are_told_apart() {
        let subs = Subscriptions::of(&[
            sub("a@x.io", "arn:aws:sns:eu-west-1:1:t:1"),
            sub("b@x.io", PENDING),
        ]);
        assert_eq!(subs.field(), "a@x.io,b@x.io (pending)");
    }

    #[test]
    fn an_unwanted_pending_subscription_is_not_drift() {
        assert!(subscriptions_satisfy("a@x.io", "a@x.io,b@x.io (pending)"));
        assert!(subscriptions_satisfy("a@x.io", "a@x.io (pending)"));
        // A wanted address missing, or an unwanted confirmed one, is.
        assert!(!subscriptions_satisfy("a@x.io,c@x.io", "a@x.io"));
        assert!(!subscriptions_satisfy("a@x.io", "a@x.io,b@x.io"));
    }
}
