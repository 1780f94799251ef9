//! The DB subnet group over the private data subnets of every AZ.

use async_trait::async_trait;

use super::{sdk, subnet_group_name, tags};
use crate::aws::ec2::{set_field, set_items};
use crate::engine::{
    AwsError, Change, Context, Deletion, Fields, Inputs, Kind, KindOps, Observed, Resource, Status,
};

pub struct DbSubnetGroupKind;
pub static DB_SUBNET_GROUP: DbSubnetGroupKind = DbSubnetGroupKind;

/// A subnet group of the subnet nodes `subnets`.
pub struct DbSubnetGroup {
    pub subnets: Vec<String>,
}

fn description(cx: &Context) -> String {
    format!("Managed by stackops for {}", cx.identity.stack_tag())
}

#[async_trait]
impl KindOps for DbSubnetGroupKind {
    fn name(&self) -> &'static str {
        "DBSubnetGroup"
    }

    fn rank(&self) -> u8 {
        2
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let name = subnet_group_name(cx);
        let found = match cx
            .clients
            .rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(&name)
            .send()
            .await
            .map_err(sdk("DescribeDBSubnetGroups"))
        {
            Ok(found) => found,
            Err(e) if e.is_not_found() => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(found
            .db_subnet_groups()
            .iter()
            .map(|group| {
                let subnets =
                    set_field(group.subnets().iter().filter_map(|s| s.subnet_identifier()));
                Observed {
                    component: super::SUBNET_GROUP_KEY.into(),
                    id: name.clone(),
                    arn: group.db_subnet_group_arn().map(String::from),
                    fields: Fields::from([("subnets".to_string(), subnets)]),
                    outputs: Fields::from([("id".to_string(), name.clone())]),
                    status: Status::Ready,
                }
            })
            .collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let deleted = cx
            .clients
            .rds
            .delete_db_subnet_group()
            .db_subnet_group_name(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteDBSubnetGroup"));
        crate::aws::deleted(deleted)
    }
}

#[async_trait]
impl Resource for DbSubnetGroup {
    fn kind(&self) -> Kind {
        &DB_SUBNET_GROUP
    }

    fn desired(&self, _key: &str, _cx: &Context, inputs: &Inputs) -> Fields {
        Fields::from([(
            "subnets".to_string(),
            set_field(self.subnets.iter().map(|s| inputs.get(s, "id"))),
        )])
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let name = subnet_group_name(cx);
        let subnets = self
            .subnets
            .iter()
            .map(|s| inputs.require(s, "id"))
            .collect::<Result<Vec<_>, _>>()?;
        cx.clients
            .rds
            .create_db_subnet_group()
            .db_subnet_group_name(&name)
            .db_subnet_group_description(description(cx))
            .set_subnet_ids(Some(subnets))
            .set_tags(Some(tags(cx, key)))
            .send()
            .await
            .map_err(sdk("CreateDBSubnetGroup"))?;
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
        _inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        let Some(change) = changes.iter().find(|c| c.field == "subnets") else {
            return Ok(());
        };
        cx.clients
            .rds
            .modify_db_subnet_group()
            .db_subnet_group_name(&current.id)
            .set_subnet_ids(Some(
                set_items(&change.to)
                    .into_iter()
                    .map(String::from)
                    .collect(),
            ))
            .send()
            .await
            .map_err(sdk("ModifyDBSubnetGroup"))?;
        Ok(())
    }
}
