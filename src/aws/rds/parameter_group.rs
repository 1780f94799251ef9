//! A DB parameter group per engine family, forcing TLS on every connection.

use aws_sdk_rds::types::{ApplyMethod, DbParameterGroup as AwsGroup, Parameter};

use crate::aws::groups::{
    ParameterGroup, ParameterGroupApi, ParameterGroupInfo, ParameterGroupKind,
};
use crate::aws::prelude::*;
use crate::identity::NameRule;

use super::{Rds, tags};

pub static DB_PARAMETER_GROUP: ParameterGroupKind<Rds> = ParameterGroupKind::new();

/// A DB parameter group of one engine family.
pub type DbParameterGroup = ParameterGroup<Rds>;

#[async_trait]
impl ParameterGroupApi for Rds {
    const KIND: &'static str = "DBParameterGroup";
    const CREATE: &'static str = "CreateDBParameterGroup";
    const SET_PARAMETERS: &'static str = "ModifyDBParameterGroup";

    fn kind() -> &'static ParameterGroupKind<Self> {
        &DB_PARAMETER_GROUP
    }

    fn key(family: &str) -> String {
        super::parameter_group_key(family)
    }

    fn name(cx: &Context, family: &str) -> String {
        cx.identity.resource_name(
            &format!("db-{}", family.replace('.', "-")),
            NameRule::Database,
        )
    }

    async fn list(cx: &Context) -> Result<std::sync::Arc<Vec<ParameterGroupInfo>>, AwsError> {
        cx.clients
            .listed("rds:DescribeDBParameterGroups", || async {
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
                Ok(groups
                    .into_iter()
                    .filter_map(|g| {
                        Some(ParameterGroupInfo {
                            name: g.db_parameter_group_name()?.to_string(),
                            family: g.db_parameter_group_family()?.to_string(),
                            arn: g.db_parameter_group_arn().map(String::from),
                            description: g.description().map(String::from),
                        })
                    })
                    .collect())
            })
            .await
    }

    async fn user_parameters(cx: &Context, name: &str) -> Result<Vec<String>, AwsError> {
        let parameters: Vec<Parameter> = cx
            .clients
            .rds
            .describe_db_parameters()
            .db_parameter_group_name(name)
            .source("user")
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk("DescribeDBParameters"))?;
        Ok(parameters
            .iter()
            .filter_map(|p| Some(format!("{}={}", p.parameter_name()?, p.parameter_value()?)))
            .collect())
    }

    async fn create(
        cx: &Context,
        key: &str,
        name: &str,
        family: &str,
        description: String,
    ) -> Result<(), AwsError> {
        cx.clients
            .rds
            .create_db_parameter_group()
            .db_parameter_group_name(name)
            .db_parameter_group_family(family)
            .description(description)
            .set_tags(Some(tags(cx, key)))
            .send()
            .await
            .map_err(sdk("CreateDBParameterGroup"))?;
        Ok(())
    }

    async fn set_parameters(
        cx: &Context,
        name: &str,
        parameters: &[(String, String)],
    ) -> Result<(), AwsError> {
        let parameters: Vec<Parameter> = parameters
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
            .db_parameter_group_name(name)
            .set_parameters(Some(parameters))
            .send()
            .await
            .map_err(sdk("ModifyDBParameterGroup"))?;
        Ok(())
    }

    async fn delete(cx: &Context, name: &str) -> Result<(), AwsError> {
        cx.clients
            .rds
            .delete_db_parameter_group()
            .db_parameter_group_name(name)
            .send()
            .await
            .map_err(sdk("DeleteDBParameterGroup"))?;
        Ok(())
    }
}
