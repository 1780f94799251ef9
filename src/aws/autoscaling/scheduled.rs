//! Scheduled capacity changes of the group (recurring, in UTC).

use aws_sdk_autoscaling::types::ScheduledUpdateGroupAction;

use crate::api::common::ScheduledAction;
use crate::aws::prelude::*;

use super::group_name;
use super::members::{MemberSet, MembersKind};

pub static SCHEDULED_ACTIONS: MembersKind<ScheduledActions> = MembersKind::new();

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

#[async_trait]
impl MemberSet for ScheduledActions {
    const KIND: &'static str = "ScheduledActions";
    const KEY: &'static str = super::SCHEDULED_KEY;
    const MEMBER: &'static str = "action";
    const LIST: &'static str = "actions";
    const PUT: &'static str = "PutScheduledUpdateGroupAction";

    fn kind() -> &'static MembersKind<Self> {
        &SCHEDULED_ACTIONS
    }

    async fn list(cx: &Context, group: &str) -> Result<Vec<(String, String)>, AwsError> {
        // Shared: every group's, one read (parsed once) for every stack;
        // this group's kept below either way.
        let actions = cx
            .clients
            .listed("autoscaling:DescribeScheduledActions", || async {
                cx.clients
                    .autoscaling
                    .describe_scheduled_actions()
                    .set_auto_scaling_group_name(
                        (!cx.clients.reads.shares()).then(|| group.to_string()),
                    )
                    .max_records(100)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeScheduledActions"))
            })
            .await?;
        Ok(actions
            .iter()
            .filter(|a| a.auto_scaling_group_name() == Some(group))
            .filter_map(|a| Some((a.scheduled_action_name()?.to_string(), observed_field(a))))
            .collect())
    }

    async fn delete(cx: &Context, group: &str, name: &str) -> Result<(), AwsError> {
        cx.clients
            .autoscaling
            .delete_scheduled_action()
            .auto_scaling_group_name(group)
            .scheduled_action_name(name)
            .send()
            .await
            .map_err(sdk("DeleteScheduledAction"))?;
        Ok(())
    }

    fn group_node(&self) -> &str {
        &self.group
    }

    fn wanted(&self, _inputs: &Inputs) -> Vec<(String, String)> {
        self.actions
            .iter()
            .map(|a| {
                let value = action_field(&a.recurrence, a.min_size, a.max_size, a.desired_capacity);
                (a.name.clone(), value)
            })
            .collect()
    }

    async fn put(
        &self,
        cx: &Context,
        _inputs: &Inputs,
        short: &str,
        name: &str,
    ) -> Result<(), AwsError> {
        let Some(action) = self.actions.iter().find(|a| a.name == short) else {
            return Ok(());
        };
        cx.clients
            .autoscaling
            .put_scheduled_update_group_action()
            .auto_scaling_group_name(group_name(cx))
            .scheduled_action_name(name)
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
