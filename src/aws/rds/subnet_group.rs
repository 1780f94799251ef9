//! The DB subnet group over the private data subnets of every AZ.

use crate::aws::groups::{SubnetGroup, SubnetGroupApi, SubnetGroupKind};
use crate::aws::prelude::*;

use super::{Rds, subnet_group_name, tags};

pub static DB_SUBNET_GROUP: SubnetGroupKind<Rds> = SubnetGroupKind::new();

/// The stack's DB subnet group.
pub type DbSubnetGroup = SubnetGroup<Rds>;

#[async_trait]
impl SubnetGroupApi for Rds {
    const KIND: &'static str = "DBSubnetGroup";
    const KEY: &'static str = super::SUBNET_GROUP_KEY;
    const CREATE: &'static str = "CreateDBSubnetGroup";

    fn kind() -> &'static SubnetGroupKind<Self> {
        &DB_SUBNET_GROUP
    }

    fn name(cx: &Context) -> String {
        subnet_group_name(cx)
    }

    async fn describe(
        cx: &Context,
        name: &str,
    ) -> Result<Option<(Option<String>, Vec<String>)>, AwsError> {
        // Shared: every group of the account, not this one by name, so
        // one read serves every stack.
        let by_name = (!cx.clients.reads.shares()).then(|| name.to_string());
        // Not found by name: none.
        let all = cx
            .clients
            .listed("rds:DescribeDBSubnetGroups", || async {
                cx.clients
                    .rds
                    .describe_db_subnet_groups()
                    .set_db_subnet_group_name(by_name)
                    .max_records(100)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeDBSubnetGroups"))
                    .found()
                    .map(Option::unwrap_or_default)
            })
            .await?;
        Ok(all
            .iter()
            .find(|group| group.db_subnet_group_name() == Some(name))
            .map(|group| {
                let subnets = group
                    .subnets()
                    .iter()
                    .filter_map(|s| s.subnet_identifier().map(String::from))
                    .collect();
                (group.db_subnet_group_arn().map(String::from), subnets)
            }))
    }

    async fn create(
        cx: &Context,
        key: &str,
        name: &str,
        description: String,
        subnets: Vec<String>,
    ) -> Result<(), AwsError> {
        cx.clients
            .rds
            .create_db_subnet_group()
            .db_subnet_group_name(name)
            .db_subnet_group_description(description)
            .set_subnet_ids(Some(subnets))
            .set_tags(Some(tags(cx, key)))
            .send()
            .await
            .map_err(sdk("CreateDBSubnetGroup"))?;
        Ok(())
    }

    async fn modify(cx: &Context, name: &str, subnets: Vec<String>) -> Result<(), AwsError> {
        cx.clients
            .rds
            .modify_db_subnet_group()
            .db_subnet_group_name(name)
            .set_subnet_ids(Some(subnets))
            .send()
            .await
            .map_err(sdk("ModifyDBSubnetGroup"))?;
        Ok(())
    }

    async fn delete(cx: &Context, name: &str) -> Result<(), AwsError> {
        cx.clients
            .rds
            .delete_db_subnet_group()
            .db_subnet_group_name(name)
            .send()
            .await
            .map_err(sdk("DeleteDBSubnetGroup"))?;
        Ok(())
    }
}
