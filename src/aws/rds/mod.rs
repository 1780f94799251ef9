//! The relational database: DB subnet group, a parameter group per engine
//! family that forces TLS, for MySQL an option group with the audit plugin,
//! the log groups its logs are exported to, the primary instance and its
//! read replicas.
//! RDS cannot filter by tag, so each is found by its deterministic name
//! (parameter groups by their description, which names the stack's uid)
//! and its ownership checked on the tags RDS returns with it.

mod fields;
pub mod log_group;
pub mod option_group;
pub mod orderable;
pub mod parameter_group;
pub mod primary;
pub mod replica;
pub mod subnet_group;

pub use log_group::{DB_LOG_GROUP, DbLogGroup, db_log_group_key, replica_log_group_key};
pub use option_group::{DB_OPTION_GROUP, DbOptionGroup, option_group_key};
pub use parameter_group::{DB_PARAMETER_GROUP, DbParameterGroup};
pub use primary::{DB_INSTANCE, DbInstance};
pub use replica::{DB_REPLICA, DbReplica};
pub use subnet_group::{DB_SUBNET_GROUP, DbSubnetGroup};

use aws_sdk_rds::types::Tag;

use crate::api::common::DatabaseEngine;
use crate::aws::prelude::*;
use crate::identity::NameRule;

/// RDS, for the subnet and parameter groups it shares with ElastiCache.
pub struct Rds;

/// Every database kind.
pub const KINDS: &[Kind] = &[
    &DB_LOG_GROUP,
    &DB_SUBNET_GROUP,
    &DB_PARAMETER_GROUP,
    &DB_OPTION_GROUP,
    &DB_INSTANCE,
    &DB_REPLICA,
];

pub const SUBNET_GROUP_KEY: &str = "data/db-subnet-group";
pub const PRIMARY_KEY: &str = "data/database";

/// Most read replicas a spec may ask for (the CRD's limit).
pub const MAX_REPLICAS: usize = 5;

/// Tag carrying the database's deletion policy, so teardown knows it from
/// AWS alone.
pub const TAG_DELETION_POLICY: &str = "stackops.io/deletion-policy";

/// Node key of read replica `index` (1-based: replica 1 is the oldest).
pub fn replica_key(index: usize) -> String {
    format!("{PRIMARY_KEY}-replica-{index}")
}

/// Node key of the parameter group of `family` (a major upgrade brings a
/// new family, so a new group, and the old one is pruned afterwards).
pub fn parameter_group_key(family: &str) -> String {
    format!("data/db-parameters-{}", family.replace('.', "-"))
}

/// The primary instance's identifier.
pub(crate) fn primary_id(cx: &Context) -> String {
    cx.identity.resource_name("db", NameRule::Database)
}

pub(crate) fn replica_id(cx: &Context, index: usize) -> String {
    cx.identity
        .resource_name(&format!("db-r{index}"), NameRule::Database)
}

pub(crate) fn subnet_group_name(cx: &Context) -> String {
    cx.identity.resource_name("db", NameRule::Database)
}

/// Engine version used when the spec names none: the newest major
/// stackops knows per engine; RDS picks its newest minor.
pub fn default_version(engine: DatabaseEngine) -> &'static str {
    match engine {
        DatabaseEngine::Postgres => "17",
        DatabaseEngine::Mysql => "8.0",
    }
}

/// RDS engine name.
pub fn engine_name(engine: DatabaseEngine) -> &'static str {
    match engine {
        DatabaseEngine::Postgres => "postgres",
        DatabaseEngine::Mysql => "mysql",
    }
}

/// The parameter group family of `version`: `postgres16`, `mysql8.0`.
pub fn family(engine: DatabaseEngine, version: &str) -> String {
    let parts: Vec<&str> = version.split('.').collect();
    match engine {
        DatabaseEngine::Postgres => format!("postgres{}", parts[0]),
        DatabaseEngine::Mysql => {
            format!("mysql{}.{}", parts[0], parts.get(1).copied().unwrap_or("0"))
        }
    }
}

/// The parameter forcing TLS on every connection, per engine.
pub fn force_tls(engine: DatabaseEngine) -> (&'static str, &'static str) {
    match engine {
        DatabaseEngine::Postgres => ("rds.force_ssl", "1"),
        DatabaseEngine::Mysql => ("require_secure_transport", "ON"),
    }
}

/// The engine logs exported to CloudWatch Logs: PostgreSQL's own log and
/// its upgrade log; MySQL's audit (from the option group's plugin), error
/// and slow-query logs.
pub fn exported_logs(engine: DatabaseEngine) -> &'static [&'static str] {
    match engine {
        DatabaseEngine::Postgres => &["postgresql", "upgrade"],
        DatabaseEngine::Mysql => &["audit", "error", "slowquery"],
    }
}

/// The major version option groups are made for: `8.0` of MySQL 8.0.39.
pub fn major_version(version: &str) -> String {
    let parts: Vec<&str> = version.split('.').collect();
    format!("{}.{}", parts[0], parts.get(1).copied().unwrap_or("0"))
}

/// The option group RDS gives an instance that names none.
pub fn default_option_group(engine: DatabaseEngine, version: &str) -> String {
    format!(
        "default:{}-{}",
        engine_name(engine),
        major_version(version).replace('.', "-")
    )
}

/// Parameters the exported logs need: MySQL writes the slow-query log only
/// when asked, to a file for RDS to ship, and notes refused logins only at
/// the highest error-log verbosity. PostgreSQL logs refused logins as it is.
pub fn log_parameters(engine: DatabaseEngine) -> &'static [(&'static str, &'static str)] {
    match engine {
        DatabaseEngine::Postgres => &[],
        DatabaseEngine::Mysql => &[
            ("slow_query_log", "1"),
            ("long_query_time", "2"),
            ("log_output", "FILE"),
            ("log_error_verbosity", "3"),
        ],
    }
}

/// The exported log a refused login shows in, and a CloudWatch Logs
/// filter pattern that matches one.
pub fn auth_failure_log(engine: DatabaseEngine) -> (&'static str, &'static str) {
    match engine {
        DatabaseEngine::Postgres => (
            "postgresql",
            r#"?"password authentication failed" ?"no pg_hba.conf entry""#,
        ),
        DatabaseEngine::Mysql => ("error", r#""Access denied for user""#),
    }
}

pub(crate) fn tags(cx: &Context, key: &str) -> Vec<Tag> {
    cx.identity
        .tags(key)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Turns deletion protection off now (a replica that copied it, or a
/// primary the spec released).
pub(crate) async fn modify_protection_off(cx: &Context, id: &str) -> Result<(), AwsError> {
    cx.clients
        .rds
        .modify_db_instance()
        .db_instance_identifier(id)
        .deletion_protection(false)
        .apply_immediately(true)
        .send()
        .await
        .map_err(sdk("ModifyDBInstance"))?;
    Ok(())
}

/// Re-tags `arn` when tags were removed or changed out of band.
pub(crate) async fn retag(
    cx: &Context,
    arn: Option<&str>,
    changes: &[Change],
) -> Result<(), AwsError> {
    let tags: Vec<Tag> = changes
        .tags()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect();
    let Some(arn) = arn.filter(|_| !tags.is_empty()) else {
        return Ok(());
    };
    cx.clients
        .rds
        .add_tags_to_resource()
        .resource_name(arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(sdk("AddTagsToResource"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_follow_the_engine_versioning() {
        assert_eq!(family(DatabaseEngine::Postgres, "16.4"), "postgres16");
        assert_eq!(family(DatabaseEngine::Postgres, "17"), "postgres17");
        assert_eq!(family(DatabaseEngine::Mysql, "8.0.39"), "mysql8.0");
        assert_eq!(family(DatabaseEngine::Mysql, "8.4"), "mysql8.4");
        assert_eq!(
            parameter_group_key("mysql8.0"),
            "data/db-parameters-mysql8-0"
        );
    }
}
