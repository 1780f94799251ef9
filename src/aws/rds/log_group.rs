//! The log groups RDS exports the database's logs to, the primary's and
//! each read replica's: `/aws/rds/instance/<instance id>/<log>`. RDS would
//! make them itself, kept forever; made before the instance, they keep
//! events as long as the spec says. Found by the prefix all the stack's
//! instance ids share, in one call.

use super::{MAX_REPLICAS, PRIMARY_KEY, primary_id, replica_id, replica_key};
use crate::aws::logs::{
    create_group, delete_group, groups_listed, observed_as, put_retention, retention_fields,
};
use crate::aws::prelude::*;

pub struct DbLogGroupKind;
pub static DB_LOG_GROUP: DbLogGroupKind = DbLogGroupKind;

/// The group of database log `log` (`postgresql`, `error`, ...) of the
/// primary or of read replica `replica`, keeping events `retention_days`
/// days.
pub struct DbLogGroup {
    pub replica: Option<usize>,
    pub log: String,
    pub retention_days: i32,
}

/// Node key of the group of the primary's log `log`.
pub fn db_log_group_key(log: &str) -> String {
    format!("{PRIMARY_KEY}-logs-{log}")
}

/// Node key of the group of read replica `index`'s log `log`.
pub fn replica_log_group_key(index: usize, log: &str) -> String {
    format!("{}-logs-{log}", replica_key(index))
}

/// Each instance the stack may have: its id and the node key its groups' keys start with.
fn instances(cx: &Context) -> Vec<(String, String)> {
    let mut all = vec![(primary_id(cx), PRIMARY_KEY.to_string())];
    all.extend((1..=MAX_REPLICAS).map(|i| (replica_id(cx, i), replica_key(i))));
    all
}

/// Where RDS exports the logs of every DB instance: listed whole while
/// reads are shared (one read serves every stack), else under the longest
/// prefix the stack's instances share; each keeps its instances' groups.
const EXPORTS: &str = "/aws/rds/instance/";

/// The longest prefix every one of `names` starts with.
fn common_prefix(names: &[String]) -> String {
    let first = names.first().map(String::as_str).unwrap_or_default();
    let length = names.iter().fold(first.len(), |length, name| {
        first
            .bytes()
            .zip(name.bytes())
            .take(length)
            .take_while(|(a, b)| a == b)
            .count()
    });
    // Instance ids are ASCII; a cut inside a character would take nothing.
    first.get(..length).unwrap_or_default().to_string()
}

/// Name prefix of the groups of DB instance `instance`.
fn prefix(instance: &str) -> String {
    format!("{EXPORTS}{instance}/")
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
        let instances = instances(cx);
        let prefixes: Vec<String> = instances.iter().map(|(id, _)| prefix(id)).collect();
        let listed = if cx.clients.reads.shares() {
            EXPORTS.to_string()
        } else {
            common_prefix(&prefixes)
        };
        Ok(groups_listed(cx, &listed)
            .await?
            .iter()
            .filter_map(|g| {
                let name = g.log_group_name()?;
                let (log, owner) = prefixes
                    .iter()
                    .zip(&instances)
                    .find_map(|(p, (_, key))| Some((name.strip_prefix(p.as_str())?, key)))?;
                observed_as(format!("{owner}-logs-{log}"), g)
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
        let instance = match self.replica {
            Some(index) => replica_id(cx, index),
            None => primary_id(cx),
        };
        let name = db_log_group_name(&instance, &self.log);
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

#[cfg(test)]
mod tests {
    use super::common_prefix;

    #[test]
    fn the_common_prefix_of_instance_prefixes() {
        let names = [
            "/x/shop-ab12-db/",
            "/x/shop-ab12-db-r1/",
            "/x/sho-ab12-db-r5/",
        ]
        .map(String::from);
        assert_eq!(common_prefix(&names), "/x/sho");
        assert_eq!(common_prefix(&names[..2]), "/x/shop-ab12-db");
        assert_eq!(common_prefix(&[]), "");
    }
}
