//! The log groups RDS exports the primary database's logs to,
//! `/aws/rds/instance/<instance id>/<log>`. RDS would make them itself, kept
//! forever; made before the instance, they keep events as long as the
//! spec says. Found by that name's prefix, in one call.

use super::{PRIMARY_KEY, primary_id};
use crate::aws::logs::{
    create_group, delete_group, groups_named, observed_as, put_retention, retention_fields,
};
use crate::aws::prelude::*;

pub struct DbLogGroupKind;
pub static DB_LOG_GROUP: DbLogGroupKind = DbLogGroupKind;

/// The group of database log `log` (`postgresql`, `error`, ...), keeping
/// events `retention_days` days.
pub struct DbLogGroup {
    pub log: String,
    pub retention_days: i32,
}

/// Node key of the group of database log `log`.
pub fn db_log_group_key(log: &str) -> String {
    format!("{PRIMARY_KEY}-logs-{log}")
}

/// Name prefix of the groups of DB instance `instance`.
fn prefix(instance: &str) -> String {
    format!("/aws/rds/instance/{instance}/")
}

/// The group RDS exports log `log` of DB instance `instance` to.
pub fn db_log_group_name(instance: &str, log: &str) -> String {
    format!("{}{log}", prefix(instance))
}

#[async_trait]
impl KindOps<AwsClients> for DbLogGroupKind {
    fn name(&self) -> &'static str {
        "DBLogGroup"
    }

    /// Below the instance that writes to it: gone only after the instance.
    fn rank(&self) -> u8 {
        0
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let prefix = prefix(&primary_id(cx));
        Ok(groups_named(cx, &prefix)
            .await?
            .iter()
            .filter_map(|g| {
                let log = g.log_group_name()?.strip_prefix(&prefix)?;
                observed_as(db_log_group_key(log), g)
            })
            .collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        delete_group(cx, &observed.id).await
    }
}

#[async_trait]
impl Resource<AwsClients> for DbLogGroup {
    fn kind(&self) -> Kind {
        &DB_LOG_GROUP
    }

    fn desired(&self, _key: &str, _cx: &Context, _inputs: &Inputs) -> Fields {
        retention_fields(self.retention_days)
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateLogGroup", "PutRetentionPolicy"]
    }

    async fn create(
        &self,
        key: &str,
        cx: &Context,
        _inputs: &Inputs,
    ) -> Result<Observed, AwsError> {
        let name = db_log_group_name(&primary_id(cx), &self.log);
        create_group(cx, key, &name, self.retention_days).await
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        _inputs: &Inputs,
        current: &Observed,
        _changes: &[Change],
    ) -> Result<(), AwsError> {
        put_retention(cx, &current.id, self.retention_days).await
    }
}
