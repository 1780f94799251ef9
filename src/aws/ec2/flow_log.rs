//! VPC flow logs (refused traffic, or all of it), delivered to a CloudWatch Logs group
//! through a role the flow log service assumes. Found by their log group's
//! deterministic name (flow logs take tags, but not every emulator keeps them).

use aws_sdk_ec2::types::{
    FlowLog as AwsFlowLog, FlowLogsResourceType, LogDestinationType, ResourceType, TrafficType,
};

use super::tag_spec;
use crate::aws::logs::group_name;
use crate::aws::prelude::*;

pub struct FlowLogKind;
pub static FLOW_LOG: FlowLogKind = FlowLogKind;

/// Node key of the flow log, and of the log group it writes to.
pub const FLOW_LOG_KEY: &str = "network/flow-log";
pub const FLOW_LOG_GROUP_KEY: &str = "network/flow-logs";

/// Flow logs of VPC node `vpc` into log group node `group`, delivered by
/// role node `role`, recording `traffic` (`REJECT` or `ALL`).
pub struct FlowLog {
    pub vpc: String,
    pub traffic: String,
    pub group: String,
    pub role: String,
}

fn observed(flow_log: &AwsFlowLog) -> Option<Observed> {
    let id = flow_log.flow_log_id()?.to_string();
    let mut fields = Fields::new();
    fields.insert(
        "vpc".into(),
        flow_log.resource_id().unwrap_or_default().into(),
    );
    fields.insert(
        "traffic".into(),
        flow_log
            .traffic_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
    );
    fields.insert(
        "role".into(),
        flow_log
            .deliver_logs_permission_arn()
            .unwrap_or_default()
            .into(),
    );
    Some(Observed {
        component: FLOW_LOG_KEY.into(),
        outputs: id_outputs(&id),
        id,
        arn: None,
        fields,
        status: Status::Ready,
    })
}

#[async_trait]
impl KindOps<AwsClients> for FlowLogKind {
    fn name(&self) -> &'static str {
        "FlowLog"
    }

    fn rank(&self) -> u8 {
        2
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let group = group_name(cx, FLOW_LOG_GROUP_KEY);
        let found = cx
            .clients
            .listed("ec2:DescribeFlowLogs", || async {
                cx.clients
                    .ec2
                    .describe_flow_logs()
                    .filter(super::owned_filter(cx))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeFlowLogs"))
            })
            .await?;
        // Every stack's flow logs (one shared read): this stack's write to
        // its own log group.
        Ok(found
            .iter()
            .filter(|f| f.log_group_name() == Some(group.as_str()))
            .filter_map(observed)
            .collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        cx.clients
            .ec2
            .delete_flow_logs()
            .flow_log_ids(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteFlowLogs"))?;
        Ok(Deletion::Done)
    }
}

#[async_trait]
impl Resource<AwsClients> for FlowLog {
    fn kind(&self) -> Kind {
        &FLOW_LOG
    }

    fn desired(&self, _key: &str, _cx: &Context, inputs: &Inputs) -> Fields {
        Fields::from([
            ("vpc".to_string(), inputs.get(&self.vpc, "id")),
            ("traffic".to_string(), self.traffic.clone()),
            ("role".to_string(), inputs.get(&self.role, "arn")),
        ])
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateFlowLogs"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let created_logs = cx
            .clients
            .ec2
            .create_flow_logs()
            .resource_type(FlowLogsResourceType::Vpc)
            .resource_ids(inputs.require(&self.vpc, "id")?)
            .traffic_type(TrafficType::from(self.traffic.as_str()))
            .log_destination_type(LogDestinationType::CloudWatchLogs)
            .log_group_name(inputs.require(&self.group, "id")?)
            .deliver_logs_permission_arn(inputs.require(&self.role, "arn")?)
            .tag_specifications(tag_spec(cx, ResourceType::VpcFlowLog, key))
            .send()
            .await
            .map_err(sdk("CreateFlowLogs"))?;
        if let Some(failure) = created_logs.unsuccessful().first() {
            let error = failure.error();
            return Err(AwsError::new(
                ErrorClass::Terminal,
                "CreateFlowLogs",
                error.and_then(|e| e.code()).unwrap_or("Unsuccessful"),
                error.and_then(|e| e.message()).unwrap_or_default(),
            ));
        }
        let id = created_logs
            .flow_log_ids()
            .first()
            .ok_or_else(|| missing("CreateFlowLogs"))?;
        Ok(created(
            key,
            id,
            self.desired(key, cx, inputs),
            id_outputs(id),
        ))
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        _inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        if changes.except_tags().next().is_some() {
            // Flow logs cannot be modified: replace. The next pass creates the new one.
            KindOps::delete(&FLOW_LOG, cx, current).await?;
            return Err(AwsError::new(
                ErrorClass::DependencyNotReady,
                "ReplaceFlowLog",
                "Replacing",
                format!("flow log {} is being replaced", current.id),
            ));
        }
        Ok(())
    }
}
