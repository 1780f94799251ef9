//! How an RDS instance reads as comparable fields: what the engine compares
//! for the primary and its replicas, with what RDS holds for the
//! maintenance window in place of the current value, and what RDS may move
//! ahead of the spec on its own.

use aws_sdk_rds::types::{CloudwatchLogsExportConfiguration, DbInstance as AwsInstance, Filter};

use crate::api::common::DeletionPolicy;
use crate::aws::ec2::component;
use crate::aws::prelude::*;

pub(super) fn policy_name(policy: DeletionPolicy) -> &'static str {
    match policy {
        DeletionPolicy::Snapshot => "Snapshot",
        DeletionPolicy::Retain => "Retain",
        DeletionPolicy::Delete => "Delete",
    }
}

pub(super) fn parse_policy(tag: Option<&String>) -> DeletionPolicy {
    match tag.map(String::as_str) {
        Some("Delete") => DeletionPolicy::Delete,
        Some("Retain") => DeletionPolicy::Retain,
        // Missing or unreadable: the safe choice.
        _ => DeletionPolicy::Snapshot,
    }
}

/// Version components, for comparisons (`16.4` -> [16, 4]).
pub(super) fn version_parts(version: &str) -> Vec<u32> {
    version.split('.').filter_map(|p| p.parse().ok()).collect()
}

/// Whether the running `observed` version satisfies the `desired` one: the
/// same, a more precise form of it (`16` vs `16.4`), or a newer minor
/// release of the same major (RDS upgrades minors by itself).
pub(super) fn version_satisfies(desired: &str, observed: &str) -> bool {
    let (want, have) = (version_parts(desired), version_parts(observed));
    if have.starts_with(&want) {
        return true;
    }
    let major = if want.first() == Some(&8) || have.first() == Some(&5) {
        2 // MySQL: 8.0, 8.4
    } else {
        1
    };
    want.len() >= major && have.len() >= major && want[..major] == have[..major] && have > want
}

/// The instance's tags, by key.
pub(super) fn tag_map(db: &AwsInstance) -> std::collections::BTreeMap<String, String> {
    db.tag_list()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

/// The instance's comparable fields (its `tags` among them), with what RDS
/// holds for the maintenance window in place of the current value.
pub(super) fn instance_fields(
    db: &AwsInstance,
    tags: &std::collections::BTreeMap<String, String>,
) -> (Fields, Vec<String>) {
    let number = |n: Option<i32>| n.map(|n| n.to_string()).unwrap_or_default();
    let flag = |b: Option<bool>| b.unwrap_or(false).to_string();
    let mut fields = tag_fields(tags);
    fields.extend([
        (
            "engine".to_string(),
            db.engine().unwrap_or_default().to_string(),
        ),
        (
            "engineVersion".into(),
            db.engine_version().unwrap_or_default().into(),
        ),
        (
            "instanceClass".into(),
            db.db_instance_class().unwrap_or_default().into(),
        ),
        ("storage".into(), number(db.allocated_storage())),
        ("maxStorage".into(), number(db.max_allocated_storage())),
        (
            "storageType".into(),
            db.storage_type().unwrap_or_default().into(),
        ),
        ("multiAz".into(), flag(db.multi_az())),
        ("encrypted".into(), flag(db.storage_encrypted())),
        (
            "backupRetention".into(),
            number(db.backup_retention_period()),
        ),
        (
            "backupWindow".into(),
            db.preferred_backup_window().unwrap_or_default().into(),
        ),
        (
            "maintenanceWindow".into(),
            db.preferred_maintenance_window()
                .unwrap_or_default()
                .to_lowercase(),
        ),
        (
            "performanceInsights".into(),
            flag(db.performance_insights_enabled()),
        ),
        ("deletionProtection".into(), flag(db.deletion_protection())),
        (
            "logExports".into(),
            set_field(
                db.enabled_cloudwatch_logs_exports()
                    .iter()
                    .map(String::as_str),
            ),
        ),
        (
            "optionGroup".into(),
            db.option_group_memberships()
                .first()
                .and_then(|m| m.option_group_name())
                .unwrap_or_default()
                .to_string(),
        ),
        ("publiclyAccessible".into(), flag(db.publicly_accessible())),
        (
            "copyTagsToSnapshot".into(),
            flag(db.copy_tags_to_snapshot()),
        ),
        (
            "managedPassword".into(),
            db.master_user_secret().is_some().to_string(),
        ),
        (
            "parameterGroup".into(),
            db.db_parameter_groups()
                .first()
                .and_then(|g| g.db_parameter_group_name())
                .unwrap_or_default()
                .into(),
        ),
        (
            "subnetGroup".into(),
            db.db_subnet_group()
                .and_then(|g| g.db_subnet_group_name())
                .unwrap_or_default()
                .into(),
        ),
        (
            "securityGroups".into(),
            set_field(
                db.vpc_security_groups()
                    .iter()
                    .filter_map(|g| g.vpc_security_group_id()),
            ),
        ),
        // Not compared (no desired value): what a retained instance keeps.
        (
            "subnetIds".into(),
            set_field(
                db.db_subnet_group()
                    .map(|g| g.subnets())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|s| s.subnet_identifier()),
            ),
        ),
        (
            "vpcId".into(),
            db.db_subnet_group()
                .and_then(|g| g.vpc_id())
                .unwrap_or_default()
                .into(),
        ),
        (
            "source".into(),
            db.read_replica_source_db_instance_identifier()
                .unwrap_or_default()
                .into(),
        ),
    ]);
    let mut pending = Vec::new();
    if let Some(p) = db.pending_modified_values() {
        let mut hold = |field: &str, value: Option<String>| {
            if let Some(value) = value {
                pending.push(format!("{field} {value}"));
                fields.insert(field.to_string(), value);
            }
        };
        hold("instanceClass", p.db_instance_class().map(String::from));
        hold("storage", p.allocated_storage().map(|n| n.to_string()));
        hold("multiAz", p.multi_az().map(|b| b.to_string()));
        hold("engineVersion", p.engine_version().map(String::from));
        hold(
            "backupRetention",
            p.backup_retention_period().map(|n| n.to_string()),
        );
    }
    (fields, pending)
}

/// The in-place change from the exports a `logExports` change had to
/// `wanted`: what to turn on and what to turn off.
pub(super) fn exports_change(
    change: &Change,
    wanted: &[String],
) -> CloudwatchLogsExportConfiguration {
    let had = change.from.clone().unwrap_or_default();
    let had = set_items(&had);
    CloudwatchLogsExportConfiguration::builder()
        .set_enable_log_types(Some(
            wanted
                .iter()
                .filter(|log| !had.contains(&log.as_str()))
                .cloned()
                .collect(),
        ))
        .set_disable_log_types(Some(
            had.iter()
                .filter(|log| !wanted.iter().any(|w| w == *log))
                .map(|log| log.to_string())
                .collect(),
        ))
        .build()
}

pub(super) fn observed(cx: &Context, db: &AwsInstance) -> Option<Observed> {
    let tags = tag_map(db);
    let component = component(cx, &tags)?;
    let (fields, pending) = instance_fields(db, &tags);
    let id = db.db_instance_identifier()?.to_string();
    let state = db.db_instance_status().unwrap_or_default();
    let status = match state {
        "creating" | "deleting" => Status::Pending(state.to_string()),
        "available" if pending.is_empty() => Status::Ready,
        "available" => Status::Noted(format!(
            "pending until the maintenance window: {}",
            pending.join(", ")
        )),
        other => Status::Noted(format!("AWS state: {other}")),
    };
    let mut outputs = Fields::from([("id".to_string(), id.clone())]);
    if let Some(arn) = db.db_instance_arn() {
        outputs.insert("arn".into(), arn.into());
    }
    if let Some(endpoint) = db.endpoint() {
        outputs.insert(
            "address".into(),
            endpoint.address().unwrap_or_default().into(),
        );
        outputs.insert(
            "port".into(),
            endpoint.port().map(|p| p.to_string()).unwrap_or_default(),
        );
    }
    if let Some(secret) = db.master_user_secret().and_then(|s| s.secret_arn()) {
        outputs.insert("secretArn".into(), secret.into());
    }
    Some(Observed {
        component,
        id,
        arn: db.db_instance_arn().map(String::from),
        fields,
        outputs,
        status,
    })
}

/// Fields the engine must not compare byte for byte.
pub(super) fn satisfies(field: &str, desired: &str, observed: &str) -> bool {
    match field {
        "engineVersion" => version_satisfies(desired, observed),
        // Storage autoscaling grows the volume past the spec's start size.
        "storage" => match (desired.parse::<i64>(), observed.parse::<i64>()) {
            (Ok(want), Ok(have)) => have >= want,
            _ => desired == observed,
        },
        _ => desired == observed,
    }
}

/// The instances named `ids`, in one call; shared, from a list of every
/// instance of the account, so one read serves every stack.
pub(super) async fn describe(cx: &Context, ids: Vec<String>) -> Result<Vec<Observed>, AwsError> {
    let by_id = (!cx.clients.reads.shares()).then(|| {
        vec![
            Filter::builder()
                .name("db-instance-id")
                .set_values(Some(ids.clone()))
                .build(),
        ]
    });
    let all = cx
        .clients
        .listed("rds:DescribeDBInstances", || async {
            cx.clients
                .rds
                .describe_db_instances()
                .set_filters(by_id)
                .max_records(100)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(sdk("DescribeDBInstances"))
        })
        .await?;
    Ok(all
        .iter()
        .filter(|db| {
            db.db_instance_identifier()
                .is_some_and(|id| ids.iter().any(|wanted| wanted == id))
        })
        .filter_map(|db| observed(cx, db))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_versions_satisfy_the_spec_when_equal_more_precise_or_a_newer_minor() {
        assert!(version_satisfies("16", "16.4"));
        assert!(version_satisfies("16.4", "16.4"));
        assert!(version_satisfies("16.4", "16.6"), "RDS upgraded the minor");
        assert!(!version_satisfies("16.6", "16.4"), "an upgrade is wanted");
        assert!(
            !version_satisfies("17", "16.4"),
            "a major upgrade is wanted"
        );
        assert!(version_satisfies("8.0.39", "8.0.40"));
        assert!(!version_satisfies("8.4", "8.0.40"));
    }

    #[test]
    fn the_deletion_policy_defaults_to_a_snapshot() {
        assert_eq!(parse_policy(None), DeletionPolicy::Snapshot);
        assert_eq!(
            parse_policy(Some(&"Delete".to_string())),
            DeletionPolicy::Delete
        );
        assert_eq!(
            parse_policy(Some(&"bogus".to_string())),
            DeletionPolicy::Snapshot
        );
    }
}
