//! A DB option group per MySQL major version, carrying the audit plugin
//! (`MARIADB_AUDIT_PLUGIN`) whose log RDS exports beside the error and
//! slow-query logs. PostgreSQL needs none. Found with one
//! `DescribeOptionGroups` by its description, which names the stack's uid,
//! as parameter groups are.

use aws_sdk_rds::types::{OptionConfiguration, OptionGroup as AwsGroup, OptionSetting};

use crate::aws::owned_description;
use crate::aws::prelude::*;
use crate::identity::NameRule;

use super::{engine_name, tags};
use crate::api::common::DatabaseEngine;

pub struct DbOptionGroupKind;
pub static DB_OPTION_GROUP: DbOptionGroupKind = DbOptionGroupKind;

/// The audit plugin and what it records: connections (refused logins
/// among them), grants and schema changes; not every query, whose volume
/// would dwarf the rest.
pub const AUDIT_PLUGIN: &str = "MARIADB_AUDIT_PLUGIN";
const AUDIT_SETTINGS: &[(&str, &str)] = &[("SERVER_AUDIT_EVENTS", "CONNECT,QUERY_DCL,QUERY_DDL")];

/// The option group of engine `engine` at major version `major` (`8.0`).
pub struct DbOptionGroup {
    pub engine: DatabaseEngine,
    pub major: String,
}

/// Node key of the option group of major version `major`.
pub fn option_group_key(major: &str) -> String {
    format!("data/db-options-{}", major.replace('.', "-"))
}

/// The name AWS keeps (lower case) for the group of major version `major`.
fn group_name(cx: &Context, major: &str) -> String {
    cx.identity
        .resource_name(
            &format!("db-options-{}", major.replace('.', "-")),
            NameRule::Database,
        )
        .to_lowercase()
}

/// `MARIADB_AUDIT_PLUGIN SERVER_AUDIT_EVENTS=...`, one entry per option.
fn option_text(name: &str, settings: &[(String, String)]) -> String {
    let mut settings: Vec<String> = settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
    settings.sort();
    format!("{name} {}", settings.join(" "))
        .trim_end()
        .to_string()
}

fn wanted_options() -> String {
    let settings: Vec<(String, String)> = AUDIT_SETTINGS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    option_text(AUDIT_PLUGIN, &settings)
}

fn observed_options(group: &AwsGroup) -> String {
    set_field(group.options().iter().map(|option| {
        let settings: Vec<(String, String)> = option
            .option_settings()
            .iter()
            .filter(|s| AUDIT_SETTINGS.iter().any(|(k, _)| Some(*k) == s.name()))
            .map(|s| {
                (
                    s.name().unwrap_or_default().to_string(),
                    s.value().unwrap_or_default().to_string(),
                )
            })
            .collect();
        option_text(option.option_name().unwrap_or_default(), &settings)
    }))
}

#[async_trait]
impl KindOps<AwsClients> for DbOptionGroupKind {
    fn name(&self) -> &'static str {
        "DBOptionGroup"
    }

    /// Below the database that uses it, as parameter groups are.
    fn rank(&self) -> u8 {
        1
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let groups = cx
            .clients
            .listed("rds:DescribeOptionGroups", || async {
                cx.clients
                    .rds
                    .describe_option_groups()
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeOptionGroups"))
            })
            .await?;
        let ours = owned_description(cx);
        Ok(groups
            .iter()
            .filter(|g| g.option_group_description() == Some(ours.as_str()))
            .filter_map(|g| {
                let name = g.option_group_name()?;
                let major = g.major_engine_version()?;
                Some(Observed {
                    component: option_group_key(major),
                    id: name.to_string(),
                    arn: g.option_group_arn().map(String::from),
                    fields: Fields::from([
                        (
                            "engine".to_string(),
                            g.engine_name().unwrap_or_default().into(),
                        ),
                        ("options".into(), observed_options(g)),
                    ]),
                    outputs: id_outputs(name),
                    status: Status::Ready,
                })
            })
            .collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let deleted = cx
            .clients
            .rds
            .delete_option_group()
            .option_group_name(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteOptionGroup"));
        deleted.deleted()
    }
}

impl DbOptionGroup {
    async fn include_options(&self, cx: &Context, name: &str) -> Result<(), AwsError> {
        let settings: Vec<OptionSetting> = AUDIT_SETTINGS
            .iter()
            .map(|(k, v)| OptionSetting::builder().name(*k).value(*v).build())
            .collect();
        let plugin = OptionConfiguration::builder()
            .option_name(AUDIT_PLUGIN)
            .set_option_settings(Some(settings))
            .build();
        cx.clients
            .rds
            .modify_option_group()
            .option_group_name(name)
            .options_to_include(plugin)
            .apply_immediately(true)
            .send()
            .await
            .map_err(sdk("ModifyOptionGroup"))?;
        Ok(())
    }
}

#[async_trait]
impl Resource<AwsClients> for DbOptionGroup {
    fn kind(&self) -> Kind {
        &DB_OPTION_GROUP
    }

    fn desired(&self, _key: &str, _cx: &Context, _inputs: &Inputs) -> Fields {
        Fields::from([
            ("engine".to_string(), engine_name(self.engine).to_string()),
            ("options".into(), wanted_options()),
        ])
    }

    /// The group, then its option: CreateOptionGroup takes none.
    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateOptionGroup", "ModifyOptionGroup"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let name = group_name(cx, &self.major);
        let created = cx
            .clients
            .rds
            .create_option_group()
            .option_group_name(&name)
            .engine_name(engine_name(self.engine))
            .major_engine_version(&self.major)
            .option_group_description(owned_description(cx))
            .set_tags(Some(tags(cx, key)))
            .send()
            .await
            .map_err(sdk("CreateOptionGroup"))?;
        let arn = created
            .option_group()
            .and_then(|g| g.option_group_arn())
            .map(String::from);
        self.include_options(cx, &name).await?;
        Ok(Observed {
            component: key.into(),
            id: name.clone(),
            arn,
            fields: self.desired(key, cx, inputs),
            outputs: id_outputs(&name),
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
        if changes.touches("engine") {
            return Err(AwsError::new(
                ErrorClass::Terminal,
                "ModifyOptionGroup",
                "ImmutableField",
                format!(
                    "option group {} belongs to another engine; delete it to let stackops recreate it",
                    current.id
                ),
            ));
        }
        // Including an option again sets its settings: one call whatever drifted.
        self.include_options(cx, &current.id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_read_the_same_whichever_order_settings_come_in() {
        let settings = [("B", "2"), ("A", "1")].map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(option_text("P", &settings), "P A=1 B=2");
        assert_eq!(option_text("P", &[]), "P");
        assert_eq!(
            wanted_options(),
            "MARIADB_AUDIT_PLUGIN SERVER_AUDIT_EVENTS=CONNECT,QUERY_DCL,QUERY_DDL"
        );
    }
}
