//! Scheduled capacity changes of the group (recurring, in UTC).

use async_trait::async_trait;
use aws_sdk_autoscaling::types::ScheduledUpdateGroupAction;

use super::{OWNED_PREFIX, group_name, sdk};
use crate::api::common::ScheduledAction;
use crate::aws::ec2::{set_field, set_items};
use crate::engine::{
    AwsError, Change, Context, Deletion, Fields, Inputs, Kind, KindOps, Observed, Resource, Status,
};

pub struct ScheduledActionsKind;
pub static SCHEDULED_ACTIONS: ScheduledActionsKind = ScheduledActionsKind;

/// The scheduled actions of the group node `group`.
pub struct ScheduledActions {
    pub group: String,
    pub actions: Vec<ScheduledAction>,
}

/// `recurrence;min;max;desired`, empty where the action leaves a size.
fn action_field(
    recurrence: &str,
    min: Option<i32>,
    max: Option<i32>,
    desired: Option<i32>,
) -> String {
    let size = |n: Option<i32>| n.map(|n| n.to_string()).unwrap_or_default();
    format!(
        "{};min={};max={};desired={}",
        recurrence.split_whitespace().collect::<Vec<_>>().join(" "),
        size(min),
        size(max),
        size(desired)
    )
}

fn observed_field(action: &ScheduledUpdateGroupAction) -> String {
    action_field(
        action.recurrence().unwrap_or_default(),
        action.min_size(),
        action.max_size(),
        action.desired_capacity(),
    )
}

async fn delete_action(cx: &Context, group: &str, name: &str) -> Result<(), AwsError> {
    let deleted = cx
        .clients
        .autoscaling
        .delete_scheduled_action()
        .auto_scaling_group_name(group)
        .scheduled_action_name(format!("{OWNED_PREFIX}{name}"))
        .send()
        .await
        .map_err(sdk("DeleteScheduledAction"));
    crate::aws::deleted(deleted).map(|_| ())
}

impl ScheduledActions {
    async fn put(&self, cx: &Context, action: &ScheduledAction) -> Result<(), AwsError> {
        cx.clients
            .autoscaling
            .put_scheduled_update_group_action()
            .auto_scaling_group_name(group_name(cx))
            .scheduled_action_name(format!("{OWNED_PREFIX}{}", action.name))
            .recurrence(&action.recurrence)
            .set_min_size(action.min_size)
            .set_max_size(action.max_size)
            .set_desired_capacity(action.desired_capacity)
            .send()
            .await
            .map_err(sdk("PutScheduledUpdateGroupAction"))?;
        Ok(())
    }
}

#[async_trait]
impl KindOps for ScheduledActionsKind {
    fn name(&self) -> &'static str {
        "ScheduledActions"
    }

    fn rank(&self) -> u8 {
        5
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let group = group_name(cx);
        let actions: Vec<ScheduledUpdateGroupAction> = match cx
            .clients
            .autoscaling
            .describe_scheduled_actions()
            .auto_scaling_group_name(&group)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk("DescribeScheduledActions"))
        {
            Ok(actions) => actions,
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut fields = Fields::new();
        let mut names = Vec::new();
        for action in &actions {
            let Some(name) = action
                .scheduled_action_name()
                .and_then(|n| n.strip_prefix(OWNED_PREFIX))
            else {
                continue;
            };
            names.push(name.to_string());
            fields.insert(format!("action:{name}"), observed_field(action));
        }
        if names.is_empty() {
            return Ok(Vec::new());
        }
        fields.insert("actions".into(), set_field(names));
        Ok(vec![Observed {
            component: super::SCHEDULED_KEY.into(),
            id: group,
            arn: None,
            fields,
            outputs: Fields::new(),
            status: Status::Ready,
        }])
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        for name in set_items(observed.fields.get("actions").map_or("", String::as_str)) {
            delete_action(cx, &observed.id, name).await?;
        }
        Ok(Deletion::Done)
    }
}

#[async_trait]
impl Resource for ScheduledActions {
    fn kind(&self) -> Kind {
        &SCHEDULED_ACTIONS
    }

    fn desired(&self, _key: &str, _cx: &Context, _inputs: &Inputs) -> Fields {
        let mut fields: Fields = self
            .actions
            .iter()
            .map(|a| {
                (
                    format!("action:{}", a.name),
                    action_field(&a.recurrence, a.min_size, a.max_size, a.desired_capacity),
                )
            })
            .collect();
        fields.insert(
            "actions".into(),
            set_field(self.actions.iter().map(|a| a.name.as_str())),
        );
        fields
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        inputs.require(&self.group, "id")?;
        for action in &self.actions {
            self.put(cx, action).await?;
        }
        Ok(Observed {
            component: key.into(),
            id: group_name(cx),
            arn: None,
            fields: self.desired(key, cx, inputs),
            outputs: Fields::new(),
            status: Status::Ready,
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
        for action in &self.actions {
            let field = format!("action:{}", action.name);
            if changes.iter().any(|c| c.field == field) {
                self.put(cx, action).await?;
            }
        }
        for name in set_items(current.fields.get("actions").map_or("", String::as_str)) {
            if !self.actions.iter().any(|a| a.name == name) {
                delete_action(cx, &current.id, name).await?;
            }
        }
        Ok(())
    }
}
