//! A DB parameter group per engine family, forcing TLS on every connection.
//! Its description names the stack's uid (`aws::owned_description`): RDS
//! has no tag filter, and the description is how one list call tells the
//! stack's groups apart.

use async_trait::async_trait;
use aws_sdk_rds::types::{ApplyMethod, DbParameterGroup as AwsGroup, Parameter};

use super::{sdk, tags};
use crate::aws::ec2::set_field;
use crate::blueprint::naming::NameRule;
use crate::engine::{
    AwsError, Change, Context, Deletion, Fields, Inputs, Kind, KindOps, Observed, Resource, Status,
};

pub struct DbParameterGroupKind;
pub static DB_PARAMETER_GROUP: DbParameterGroupKind = DbParameterGroupKind;

/// A group of `family` with `parameters` set (name, value).
pub struct DbParameterGroup {
    pub family: String,
    pub parameters: Vec<(String, String)>,
}

fn name(cx: &Context, family: &str) -> String {
    cx.identity.resource_name(
        &format!("db-{}", family.replace('.', "-")),
        NameRule::Database,
    )
}

impl DbParameterGroup {
    fn wanted(&self) -> String {
        set_field(self.parameters.iter().map(|(k, v)| format!("{k}={v}")))
    }

    async fn set_parameters(&self, cx: &Context, group: &str) -> Result<(), AwsError> {
        let parameters: Vec<Parameter> = self
            .parameters
            .iter()
            .map(|(k, v)| {
                Parameter::builder()
                    .parameter_name(k)
                    .parameter_value(v)
                    .apply_method(ApplyMethod::Immediate)
                    .build()
            })
            .collect();
        cx.clients
            .rds
            .modify_db_parameter_group()
            .db_parameter_group_name(group)
            .set_parameters(Some(parameters))
            .send()
            .await
            .map_err(sdk("ModifyDBParameterGroup"))?;
        Ok(())
    }
}

async fn user_parameters(cx: &Context, group: &str) -> Result<String, AwsError> {
    let parameters: Vec<Parameter> = cx
        .clients
        .rds
        .describe_db_parameters()
        .db_parameter_group_name(group)
        .source("user")
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(sdk("DescribeDBParameters"))?;
    Ok(set_field(parameters.iter().filter_map(|p| {
        Some(format!("{}={}", p.parameter_name()?, p.parameter_value()?))
    })))
}

#[async_trait]
impl KindOps for DbParameterGroupKind {
    fn name(&self) -> &'static str {
        "DBParameterGroup"
    }

    fn rank(&self) -> u8 {
        1
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let groups: Vec<AwsGroup> = cx
            .clients
            .rds
            .describe_db_parameter_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk("DescribeDBParameterGroups"))?;
        let ours = crate::aws::owned_description(cx);
        let mut found = Vec::new();
        for group in groups
            .iter()
            .filter(|g| g.description() == Some(ours.as_str()))
        {
            let (Some(group_name), Some(family)) = (
                group.db_parameter_group_name(),
                group.db_parameter_group_family(),
            ) else {
                continue;
            };
            found.push(Observed {
                component: super::parameter_group_key(family),
                id: group_name.to_string(),
                arn: group.db_parameter_group_arn().map(String::from),
                fields: Fields::from([
                    ("family".to_string(), family.to_string()),
                    ("parameters".into(), user_parameters(cx, group_name).await?),
                ]),
                outputs: Fields::from([("id".to_string(), group_name.to_string())]),
                status: Status::Ready,
            });
        }
        Ok(found)
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let deleted = cx
            .clients
            .rds
            .delete_db_parameter_group()
            .db_parameter_group_name(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteDBParameterGroup"));
        crate::aws::deleted(deleted)
    }
}

#[async_trait]
impl Resource for DbParameterGroup {
    fn kind(&self) -> Kind {
        &DB_PARAMETER_GROUP
    }

    fn desired(&self, _key: &str, _cx: &Context, _inputs: &Inputs) -> Fields {
        Fields::from([
            ("family".to_string(), self.family.clone()),
            ("parameters".into(), self.wanted()),
        ])
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let group = name(cx, &self.family);
        cx.clients
            .rds
            .create_db_parameter_group()
            .db_parameter_group_name(&group)
            .db_parameter_group_family(&self.family)
            .description(crate::aws::owned_description(cx))
            .set_tags(Some(tags(cx, key)))
            .send()
            .await
            .map_err(sdk("CreateDBParameterGroup"))?;
        // A crash here leaves the group without its parameters: the next
        // pass sees `parameters` differ and sets them.
        self.set_parameters(cx, &group).await?;
        Ok(Observed {
            component: key.into(),
            id: group.clone(),
            arn: None,
            fields: self.desired(key, cx, inputs),
            outputs: Fields::from([("id".to_string(), group)]),
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
        if changes.iter().any(|c| c.field == "parameters") {
            self.set_parameters(cx, &current.id).await?;
        }
        Ok(())
    }
}
