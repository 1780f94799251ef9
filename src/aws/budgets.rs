//! The stack's AWS Budget: a monthly cost budget on the stack's
//! cost-allocation tag (`stackops.io/stack` = `<namespace>/<name>`, as a
//! filter expression: the older cost filters lack newer dimensions),
//! notifying the alarm topic at 80 % of actual and at 100 % of forecast
//! spend. Named `stackops-<hash>-<stack>` and found among the account's
//! budgets by that name. While reads are shared, its notifications come
//! from the account's list of every budget's notifications; only their
//! subscribers are read budget by budget.
//!
//! Budgets is a global service of the account: its calls name the account
//! (GetCallerIdentity, which needs no permission) and go to us-east-1. The
//! tag only counts once someone activates it as a cost-allocation tag in
//! the account's Billing console (README, "Cost").

use aws_sdk_budgets::types::{
    Budget as AwsBudget, BudgetType, ComparisonOperator, Expression, MatchOption, Notification,
    NotificationType, NotificationWithSubscribers, Spend, Subscriber, SubscriptionType, TagValues,
    ThresholdType, TimeUnit,
};

use crate::aws::prelude::*;
use crate::identity::{TAG_STACK, owned_stem};

pub const BUDGET_KEY: &str = "monitoring/budget";

/// The kind's name, for a graph that leaves budgets alone.
pub const KIND_NAME: &str = "Budget";

pub struct BudgetKind;
pub static BUDGET: BudgetKind = BudgetKind;

/// Every Budgets kind.
pub const KINDS: &[Kind] = &[&BUDGET];

/// Actual spend past this share of the limit notifies.
const ACTUAL_PERCENT: f64 = 80.0;
/// Forecast spend past this share of the limit notifies.
const FORECAST_PERCENT: f64 = 100.0;

/// A monthly cost budget of `limit` USD notifying `topic`.
pub struct StackBudget {
    /// USD a month.
    pub limit: i64,
    /// Where notifications go: an SNS topic node (output `arn`) or ARN.
    pub topic: Option<Topic>,
}

/// The topic a budget notifies.
#[derive(Clone, Debug, PartialEq)]
pub enum Topic {
    /// The stack's alarm topic, made by this node.
    Node(String),
    /// A topic the spec names.
    Existing(String),
}

fn budget_name(cx: &Context) -> String {
    owned_stem(&cx.identity.name, &cx.identity.uid)
}

/// The stack's spend: the cost of what carries its stack tag.
fn tag_filter(cx: &Context) -> Expression {
    Expression::builder()
        .tags(
            TagValues::builder()
                .key(TAG_STACK)
                .values(cx.identity.stack_tag())
                .match_options(MatchOption::Equals)
                .build(),
        )
        .build()
}

/// `stackops.io/stack=ns/name`: a filter as compared.
fn filter_field(filter: Option<&Expression>) -> String {
    let Some(tags) = filter.and_then(|f| f.tags()) else {
        return String::new();
    };
    format!(
        "{}={}",
        tags.key().unwrap_or_default(),
        tags.values().join(",")
    )
}

/// `600 USD`: the limit as compared (Budgets answers `600.0`).
fn limit_field(amount: &str, unit: &str) -> String {
    let amount = amount
        .parse::<f64>()
        .map(|a| format!("{a:.0}"))
        .unwrap_or_else(|_| amount.to_string());
    format!("{amount} {unit}")
}

/// `ACTUAL>80%`, the comparable name of a notification.
fn notification_field(n: &Notification) -> String {
    format!(
        "{}>{}%",
        n.notification_type().as_str(),
        n.threshold().round()
    )
}

fn notifications() -> Result<Vec<Notification>, AwsError> {
    [
        (NotificationType::Actual, ACTUAL_PERCENT),
        (NotificationType::Forecasted, FORECAST_PERCENT),
    ]
    .into_iter()
    .map(|(kind, percent)| {
        Notification::builder()
            .notification_type(kind)
            .comparison_operator(ComparisonOperator::GreaterThan)
            .threshold(percent)
            .threshold_type(ThresholdType::Percentage)
            .build()
            .map_err(|_| missing("CreateNotification"))
    })
    .collect()
}

fn subscriber(topic: &str) -> Result<Subscriber, AwsError> {
    Subscriber::builder()
        .subscription_type(SubscriptionType::Sns)
        .address(topic)
        .build()
        .map_err(|_| missing("CreateNotification"))
}

/// The `notifications` field: each notification with its topic, sorted.
fn notifications_field(items: &[(String, String)]) -> String {
    let mut items: Vec<String> = items.iter().map(|(n, t)| format!("{n}->{t}")).collect();
    items.sort();
    items.join(",")
}

async fn account(cx: &Context) -> Result<String, AwsError> {
    crate::aws::sts::caller_account(&cx.clients).await
}

/// The notifications of budget `name`: from the account's list of every
/// budget's notifications while reads are shared, otherwise its own.
async fn notifications_of(
    cx: &Context,
    account: &str,
    name: &str,
) -> Result<Vec<Notification>, AwsError> {
    let budgets = &cx.clients.budgets;
    if cx.clients.reads.shares() {
        let every = cx
            .clients
            .listed_account_wide("budgets:DescribeBudgetNotificationsForAccount", || async {
                budgets
                    .describe_budget_notifications_for_account()
                    .account_id(account)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeBudgetNotificationsForAccount"))
            })
            .await?;
        return Ok(every
            .iter()
            .find(|b| b.budget_name() == Some(name))
            .map(|b| b.notifications().to_vec())
            .unwrap_or_default());
    }
    let found = budgets
        .describe_notifications_for_budget()
        .account_id(account)
        .budget_name(name)
        .send()
        .await
        .map_err(sdk("DescribeNotificationsForBudget"))?;
    Ok(found.notifications().to_vec())
}

async fn observe(cx: &Context, account: &str, budget: &AwsBudget) -> Result<Observed, AwsError> {
    let name = budget.budget_name().to_string();
    let budgets = &cx.clients.budgets;
    let mut items = Vec::new();
    for notification in &notifications_of(cx, account, &name).await? {
        let subscribers = budgets
            .describe_subscribers_for_notification()
            .account_id(account)
            .budget_name(&name)
            .notification(notification.clone())
            .send()
            .await
            .map_err(sdk("DescribeSubscribersForNotification"))?;
        for s in subscribers.subscribers() {
            items.push((notification_field(notification), s.address().to_string()));
        }
        if subscribers.subscribers().is_empty() {
            items.push((notification_field(notification), String::new()));
        }
    }
    let filter = filter_field(budget.filter_expression());
    let limit = budget
        .budget_limit()
        .map(|l| limit_field(l.amount(), l.unit()))
        .unwrap_or_default();
    Ok(Observed {
        component: BUDGET_KEY.into(),
        id: name.clone(),
        arn: None,
        fields: Fields::from([
            ("limit".to_string(), limit),
            ("costFilter".to_string(), filter),
            ("notifications".to_string(), notifications_field(&items)),
        ]),
        outputs: Fields::from([("id".to_string(), name)]),
        status: Status::Ready,
    })
}

#[async_trait]
impl KindOps<AwsClients> for BudgetKind {
    fn name(&self) -> &'static str {
        KIND_NAME
    }

    /// Above the alarm topic it notifies, which teardown deletes after it.
    fn rank(&self) -> u8 {
        2
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let account = account(cx).await?;
        let name = budget_name(cx);
        let budgets = cx
            .clients
            .listed_account_wide("budgets:DescribeBudgets", || async {
                cx.clients
                    .budgets
                    .describe_budgets()
                    .account_id(&account)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeBudgets"))
            })
            .await?;
        let mut observed = Vec::new();
        for budget in budgets.iter().filter(|b| b.budget_name() == name) {
            observed.push(observe(cx, &account, budget).await?);
        }
        Ok(observed)
    }

    /// Its notifications go with it.
    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let account = account(cx).await?;
        let deleted = cx
            .clients
            .budgets
            .delete_budget()
            .account_id(account)
            .budget_name(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteBudget"));
        deleted.deleted()
    }
}

impl StackBudget {
    fn topic_arn(&self, inputs: &Inputs) -> Option<String> {
        match self.topic.as_ref()? {
            Topic::Node(node) => Some(inputs.get(node, "arn")),
            Topic::Existing(arn) => Some(arn.clone()),
        }
    }

    fn budget(&self, cx: &Context, limit: i64) -> Result<AwsBudget, AwsError> {
        AwsBudget::builder()
            .budget_name(budget_name(cx))
            .budget_type(BudgetType::Cost)
            .time_unit(TimeUnit::Monthly)
            .budget_limit(
                Spend::builder()
                    .amount(limit.to_string())
                    .unit("USD")
                    .build()
                    .map_err(|_| missing("CreateBudget"))?,
            )
            .filter_expression(tag_filter(cx))
            .build()
            .map_err(|_| missing("CreateBudget"))
    }
}

#[async_trait]
impl Resource<AwsClients> for StackBudget {
    fn kind(&self) -> Kind {
        &BUDGET
    }

    fn desired(&self, _key: &str, cx: &Context, inputs: &Inputs) -> Fields {
        let topic = self.topic_arn(inputs);
        let items: Vec<(String, String)> = match &topic {
            Some(topic) => [ACTUAL_PERCENT, FORECAST_PERCENT]
                .iter()
                .zip(["ACTUAL", "FORECASTED"])
                .map(|(p, kind)| (format!("{kind}>{p}%"), topic.clone()))
                .collect(),
            None => Vec::new(),
        };
        Fields::from([
            (
                "limit".to_string(),
                limit_field(&self.limit.to_string(), "USD"),
            ),
            (
                "costFilter".to_string(),
                filter_field(Some(&tag_filter(cx))),
            ),
            ("notifications".to_string(), notifications_field(&items)),
        ])
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateBudget"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let limit = self.limit;
        let account = account(cx).await?;
        let with_subscribers = match self.topic_arn(inputs) {
            Some(topic) => notifications()?
                .into_iter()
                .map(|n| {
                    NotificationWithSubscribers::builder()
                        .notification(n)
                        .subscribers(subscriber(&topic)?)
                        .build()
                        .map_err(|_| missing("CreateBudget"))
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let created = cx
            .clients
            .budgets
            .create_budget()
            .account_id(account)
            .budget(self.budget(cx, limit)?)
            .set_notifications_with_subscribers(Some(with_subscribers))
            .send()
            .await
            .map_err(sdk("CreateBudget"));
        // A budget of this name left by a create whose answer was lost.
        if let Err(e) = created
            && e.code != "DuplicateRecordException"
        {
            return Err(e);
        }
        let name = budget_name(cx);
        Ok(Observed {
            component: key.into(),
            id: name.clone(),
            arn: None,
            fields: self.desired(key, cx, inputs),
            outputs: Fields::from([("id".to_string(), name)]),
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
        let account = account(cx).await?;
        let budgets = &cx.clients.budgets;
        if changes.touches("limit") || changes.touches("costFilter") {
            budgets
                .update_budget()
                .account_id(&account)
                .new_budget(self.budget(cx, self.limit)?)
                .send()
                .await
                .map_err(sdk("UpdateBudget"))?;
        }
        if changes.touches("notifications") {
            // Both notifications again, with the topic they should name:
            // the ones there are go first (a notification is unique by
            // type, operator and threshold).
            let existing = current
                .fields
                .get("notifications")
                .is_some_and(|n| !n.is_empty());
            for notification in notifications()? {
                if existing {
                    budgets
                        .delete_notification()
                        .account_id(&account)
                        .budget_name(&current.id)
                        .notification(notification.clone())
                        .send()
                        .await
                        .map_err(sdk("DeleteNotification"))
                        .or_gone()?;
                }
                if let Some(topic) = self.topic_arn(inputs) {
                    budgets
                        .create_notification()
                        .account_id(&account)
                        .budget_name(&current.id)
                        .notification(notification)
                        .subscribers(subscriber(&topic)?)
                        .send()
                        .await
                        .map_err(sdk("CreateNotification"))?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_compare_whatever_the_decimals() {
        assert_eq!(limit_field("600.0", "USD"), "600 USD");
        assert_eq!(limit_field("600", "USD"), "600 USD");
    }

    #[test]
    fn notifications_compare_in_one_order() {
        let a = notifications_field(&[
            ("FORECASTED>100%".into(), "arn:t".into()),
            ("ACTUAL>80%".into(), "arn:t".into()),
        ]);
        let b = notifications_field(&[
            ("ACTUAL>80%".into(), "arn:t".into()),
            ("FORECASTED>100%".into(), "arn:t".into()),
        ]);
        assert_eq!(a, b);
        assert_eq!(a, "ACTUAL>80%->arn:t,FORECASTED>100%->arn:t");
    }
}
