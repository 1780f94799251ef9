//! The primary DB instance and its read replicas.
//!
//! The master password is managed by RDS in Secrets Manager
//! (ManageMasterUserPassword): stackops only ever sees the secret's ARN.
//! Changes go through ModifyDBInstance, applied immediately or in the
//! maintenance window as the spec says; what RDS holds for the window is
//! shown on the node and counted as done, so it is not asked for again.
//! Teardown honours deletion protection (it stops, and says which field to
//! change) and the deletion policy (a final snapshot by default).

use async_trait::async_trait;
use aws_sdk_rds::types::{DbInstance as AwsInstance, Filter, Tag};

use super::{MAX_REPLICAS, TAG_DELETION_POLICY, engine_name, primary_id, replica_id, sdk, tags};
use crate::api::common::{DatabaseEngine, DatabaseSpec, DeletionPolicy};
use crate::aws::ec2::{component, set_field, set_items, tag_fields};
use crate::engine::{
    AwsError, Change, Context, Deletion, ErrorClass, Fields, Inputs, Kind, KindOps, Observed,
    Resource, Status,
};

pub struct DbInstanceKind;
pub static DB_INSTANCE: DbInstanceKind = DbInstanceKind;

pub struct DbReplicaKind;
pub static DB_REPLICA: DbReplicaKind = DbReplicaKind;

/// The primary instance of `spec` at engine `version`, in the subnet group,
/// parameter group and security group nodes named.
pub struct DbInstance {
    pub spec: DatabaseSpec,
    pub version: String,
    pub subnet_group: String,
    pub parameter_group: String,
    pub security_group: String,
}

/// Read replica `index` of the primary node `primary`, in `zone`.
pub struct DbReplica {
    pub index: usize,
    pub primary: String,
    pub instance_class: String,
    pub zone: String,
    pub security_group: String,
    pub performance_insights: bool,
}

fn policy_name(policy: DeletionPolicy) -> &'static str {
    match policy {
        DeletionPolicy::Snapshot => "Snapshot",
        DeletionPolicy::Retain => "Retain",
        DeletionPolicy::Delete => "Delete",
    }
}

fn parse_policy(tag: Option<&String>) -> DeletionPolicy {
    match tag.map(String::as_str) {
        Some("Delete") => DeletionPolicy::Delete,
        Some("Retain") => DeletionPolicy::Retain,
        // Missing or unreadable: the safe choice.
        _ => DeletionPolicy::Snapshot,
    }
}

/// Version components, for comparisons (`16.4` -> [16, 4]).
fn version_parts(version: &str) -> Vec<u32> {
    version.split('.').filter_map(|p| p.parse().ok()).collect()
}

/// Whether the running `observed` version satisfies the `desired` one: the
/// same, a more precise form of it (`16` vs `16.4`), or a newer minor
/// release of the same major (RDS upgrades minors by itself).
fn version_satisfies(desired: &str, observed: &str) -> bool {
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
fn tag_map(db: &AwsInstance) -> std::collections::BTreeMap<String, String> {
    db.tag_list()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

/// The instance's comparable fields (its `tags` among them), with what RDS
/// holds for the maintenance window in place of the current value.
fn instance_fields(
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

fn observed(cx: &Context, db: &AwsInstance) -> Option<Observed> {
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

/// The instances named `ids`, in one call.
async fn describe(cx: &Context, ids: Vec<String>) -> Result<Vec<Observed>, AwsError> {
    let found: Vec<AwsInstance> = cx
        .clients
        .rds
        .describe_db_instances()
        .filters(
            Filter::builder()
                .name("db-instance-id")
                .set_values(Some(ids))
                .build(),
        )
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(sdk("DescribeDBInstances"))?;
    Ok(found.iter().filter_map(|db| observed(cx, db)).collect())
}

async fn modify_protection_off(cx: &Context, id: &str) -> Result<(), AwsError> {
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

#[async_trait]
impl KindOps for DbInstanceKind {
    fn name(&self) -> &'static str {
        "DBInstance"
    }

    fn rank(&self) -> u8 {
        3
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        describe(cx, vec![primary_id(cx)]).await
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        if observed.status == Status::Pending("deleting".into()) {
            return Ok(Deletion::InProgress("deleting".into()));
        }
        let tag = format!("tag:{TAG_DELETION_POLICY}");
        let policy = cx
            .data
            .database_policy
            .unwrap_or_else(|| parse_policy(observed.fields.get(&tag)));
        // Retaining deletes nothing, so protection does not stand in its way.
        if policy == DeletionPolicy::Retain {
            return retain(cx, observed).await;
        }
        if observed
            .fields
            .get("deletionProtection")
            .map(String::as_str)
            == Some("true")
        {
            if cx.data.database_protection == Some(false) {
                modify_protection_off(cx, &observed.id).await?;
                return Ok(Deletion::InProgress(
                    "turning deletion protection off, as the spec now says".into(),
                ));
            }
            return Ok(Deletion::Blocked(format!(
                "DB instance {} has deletion protection (spec.database.deletionProtection): \
                 set it to false to let teardown delete the database; until then nothing it \
                 depends on (subnets, security group, VPC) is deleted",
                observed.id
            )));
        }
        let rds = &cx.clients.rds;
        let request = rds
            .delete_db_instance()
            .db_instance_identifier(&observed.id);
        let (request, what) = match policy {
            DeletionPolicy::Retain => unreachable!("retained above"),
            DeletionPolicy::Snapshot => {
                let snapshot = crate::aws::final_snapshot_name(&observed.id);
                (
                    request
                        .skip_final_snapshot(false)
                        .final_db_snapshot_identifier(&snapshot)
                        .delete_automated_backups(false),
                    format!("deleting after final snapshot {snapshot}"),
                )
            }
            DeletionPolicy::Delete => (
                request
                    .skip_final_snapshot(true)
                    .delete_automated_backups(true),
                "deleting without a final snapshot (deletionPolicy Delete)".to_string(),
            ),
        };
        match request.send().await.map_err(sdk("DeleteDBInstance")) {
            Ok(_) => Ok(Deletion::InProgress(what)),
            Err(e) if e.is_not_found() => Ok(Deletion::Done),
            Err(e) => Err(e),
        }
    }
}

/// Leaves the instance, untouched, with what it needs to keep running: its
/// subnet and parameter groups, security group, subnets and VPC. Rules of
/// its security group that name other groups of the stack are revoked, so
/// those groups can go (the application they let in is being deleted).
async fn retain(cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
    use crate::engine::KindOps as _;
    let field = |name: &str| observed.fields.get(name).cloned().unwrap_or_default();
    let groups: Vec<String> = set_items(&field("securityGroups"))
        .into_iter()
        .map(String::from)
        .collect();
    for group in &groups {
        crate::aws::ec2::security_group::revoke_group_references(cx, group).await?;
    }
    let mut keep: Vec<(&'static str, String)> = vec![
        (super::DB_SUBNET_GROUP.name(), field("subnetGroup")),
        (super::DB_PARAMETER_GROUP.name(), field("parameterGroup")),
        (crate::aws::ec2::VPC.name(), field("vpcId")),
    ];
    keep.extend(
        groups
            .iter()
            .map(|g| (crate::aws::ec2::SECURITY_GROUP.name(), g.clone())),
    );
    keep.extend(
        set_items(&field("subnetIds"))
            .into_iter()
            .map(|s| (crate::aws::ec2::SUBNET.name(), s.to_string())),
    );
    Ok(Deletion::Retained {
        message: format!(
            "spec.database.deletionPolicy is Retain: DB instance {} stays in AWS, with its \
             subnet group, parameter group, security group, subnets and VPC",
            observed.id
        ),
        keep,
    })
}

#[async_trait]
impl KindOps for DbReplicaKind {
    fn name(&self) -> &'static str {
        "DBReplica"
    }

    fn rank(&self) -> u8 {
        4
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let ids = (1..=MAX_REPLICAS).map(|i| replica_id(cx, i)).collect();
        describe(cx, ids).await
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        if observed.status == Status::Pending("deleting".into()) {
            return Ok(Deletion::InProgress("deleting".into()));
        }
        // A replica holds no data of its own: no protection (some copy the
        // primary's flag), no final snapshot.
        if observed
            .fields
            .get("deletionProtection")
            .map(String::as_str)
            == Some("true")
        {
            modify_protection_off(cx, &observed.id).await?;
        }
        let deleted = cx
            .clients
            .rds
            .delete_db_instance()
            .db_instance_identifier(&observed.id)
            .skip_final_snapshot(true)
            .delete_automated_backups(true)
            .send()
            .await
            .map_err(sdk("DeleteDBInstance"));
        match deleted {
            Ok(_) => Ok(Deletion::InProgress("deleting".into())),
            Err(e) if e.is_not_found() => Ok(Deletion::Done),
            Err(e) => Err(e),
        }
    }
}

impl DbInstance {
    fn engine(&self) -> DatabaseEngine {
        self.spec.engine
    }

    async fn modify(
        &self,
        cx: &Context,
        id: &str,
        inputs: &Inputs,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        let changed = |field: &str| changes.iter().any(|c| c.field == field);
        let spec = &self.spec;
        let mut request = cx
            .clients
            .rds
            .modify_db_instance()
            .db_instance_identifier(id)
            .apply_immediately(spec.apply_immediately);
        let mut any = false;
        if changed("engineVersion") {
            let current = changes
                .iter()
                .find(|c| c.field == "engineVersion")
                .and_then(|c| c.from.clone())
                .unwrap_or_default();
            if version_parts(&self.version) < version_parts(&current) {
                return Err(AwsError::new(
                    ErrorClass::Terminal,
                    "ModifyDBInstance",
                    "DowngradeRefused",
                    format!(
                        "spec.database.engineVersion {} is older than the running {current}: \
                         RDS cannot downgrade in place",
                        self.version
                    ),
                ));
            }
            request = request
                .engine_version(&self.version)
                .allow_major_version_upgrade(true);
            any = true;
        }
        if changed("instanceClass") {
            request = request.db_instance_class(&spec.instance_class);
            any = true;
        }
        if changed("storage") || changed("storageType") {
            request = request
                .allocated_storage(spec.allocated_storage_gib)
                .storage_type("gp3");
            any = true;
        }
        if changed("maxStorage") {
            request = request.max_allocated_storage(spec.max_allocated_storage_gib.unwrap_or(0));
            any = true;
        }
        if changed("multiAz") {
            request = request.multi_az(spec.multi_az);
            any = true;
        }
        if changed("backupRetention") {
            request = request.backup_retention_period(spec.backup_retention_days);
            any = true;
        }
        if changed("backupWindow") {
            request = request.set_preferred_backup_window(spec.backup_window.clone());
            any = true;
        }
        if changed("maintenanceWindow") {
            request = request.set_preferred_maintenance_window(spec.maintenance_window.clone());
            any = true;
        }
        if changed("performanceInsights") {
            request = request.enable_performance_insights(spec.performance_insights);
            any = true;
        }
        if changed("deletionProtection") {
            request = request.deletion_protection(spec.deletion_protection);
            any = true;
        }
        if changed("publiclyAccessible") {
            request = request.publicly_accessible(false);
            any = true;
        }
        if changed("copyTagsToSnapshot") {
            request = request.copy_tags_to_snapshot(true);
            any = true;
        }
        if changed("managedPassword") {
            request = request.manage_master_user_password(true);
            any = true;
        }
        if changed("parameterGroup") {
            request = request.db_parameter_group_name(inputs.require(&self.parameter_group, "id")?);
            any = true;
        }
        if changed("securityGroups") {
            request = request.vpc_security_group_ids(inputs.require(&self.security_group, "id")?);
            any = true;
        }
        if any {
            request.send().await.map_err(sdk("ModifyDBInstance"))?;
        }
        Ok(())
    }
}

/// Re-tags `arn` when tags were removed or changed out of band.
async fn retag(cx: &Context, arn: Option<&str>, changes: &[Change]) -> Result<(), AwsError> {
    let tags: Vec<Tag> = changes
        .iter()
        .filter_map(|c| {
            c.field
                .strip_prefix("tag:")
                .map(|k| Tag::builder().key(k).value(&c.to).build())
        })
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

/// Fields the engine must not compare byte for byte.
fn satisfies(field: &str, desired: &str, observed: &str) -> bool {
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

#[async_trait]
impl Resource for DbInstance {
    fn kind(&self) -> Kind {
        &DB_INSTANCE
    }

    fn desired(&self, key: &str, cx: &Context, inputs: &Inputs) -> Fields {
        let spec = &self.spec;
        let mut fields = cx.identity.tag_fields(key);
        fields.insert(
            format!("tag:{TAG_DELETION_POLICY}"),
            policy_name(spec.deletion_policy).into(),
        );
        fields.extend([
            ("engine".to_string(), engine_name(self.engine()).to_string()),
            ("engineVersion".into(), self.version.clone()),
            ("instanceClass".into(), spec.instance_class.clone()),
            ("storage".into(), spec.allocated_storage_gib.to_string()),
            (
                "maxStorage".into(),
                spec.max_allocated_storage_gib
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            ),
            ("storageType".into(), "gp3".into()),
            ("multiAz".into(), spec.multi_az.to_string()),
            ("encrypted".into(), "true".into()),
            (
                "backupRetention".into(),
                spec.backup_retention_days.to_string(),
            ),
            (
                "performanceInsights".into(),
                spec.performance_insights.to_string(),
            ),
            (
                "deletionProtection".into(),
                spec.deletion_protection.to_string(),
            ),
            ("publiclyAccessible".into(), "false".into()),
            ("copyTagsToSnapshot".into(), "true".into()),
            ("managedPassword".into(), "true".into()),
            (
                "parameterGroup".into(),
                inputs.get(&self.parameter_group, "id"),
            ),
            ("subnetGroup".into(), inputs.get(&self.subnet_group, "id")),
            (
                "securityGroups".into(),
                inputs.get(&self.security_group, "id"),
            ),
        ]);
        if let Some(window) = &spec.backup_window {
            fields.insert("backupWindow".into(), window.clone());
        }
        if let Some(window) = &spec.maintenance_window {
            fields.insert("maintenanceWindow".into(), window.to_lowercase());
        }
        fields
    }

    fn satisfies(&self, field: &str, desired: &str, observed: &str) -> bool {
        satisfies(field, desired, observed)
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let spec = &self.spec;
        let id = primary_id(cx);
        let mut all_tags = tags(cx, key);
        all_tags.push(
            Tag::builder()
                .key(TAG_DELETION_POLICY)
                .value(policy_name(spec.deletion_policy))
                .build(),
        );
        let mut request = cx
            .clients
            .rds
            .create_db_instance()
            .db_instance_identifier(&id)
            .engine(engine_name(self.engine()))
            .engine_version(&self.version)
            .db_instance_class(&spec.instance_class)
            .allocated_storage(spec.allocated_storage_gib)
            .set_max_allocated_storage(spec.max_allocated_storage_gib)
            .storage_type("gp3")
            .storage_encrypted(true)
            .set_kms_key_id(spec.kms_key_id.clone())
            .multi_az(spec.multi_az)
            .backup_retention_period(spec.backup_retention_days)
            .set_preferred_backup_window(spec.backup_window.clone())
            .set_preferred_maintenance_window(spec.maintenance_window.clone())
            .enable_performance_insights(spec.performance_insights)
            .deletion_protection(spec.deletion_protection)
            .publicly_accessible(false)
            .copy_tags_to_snapshot(true)
            .auto_minor_version_upgrade(true)
            .db_name(&spec.database_name)
            .master_username(&spec.master_username)
            .manage_master_user_password(true)
            .db_subnet_group_name(inputs.require(&self.subnet_group, "id")?)
            .db_parameter_group_name(inputs.require(&self.parameter_group, "id")?)
            .vpc_security_group_ids(inputs.require(&self.security_group, "id")?)
            .set_tags(Some(all_tags));
        if spec.performance_insights {
            request = request.performance_insights_retention_period(7);
        }
        let created = request.send().await.map_err(sdk("CreateDBInstance"))?;
        let db = created
            .db_instance()
            .ok_or_else(|| crate::aws::missing("CreateDBInstance"))?;
        let mut found = observed(cx, db).ok_or_else(|| crate::aws::missing("CreateDBInstance"))?;
        found.fields = self.desired(key, cx, inputs);
        if found.status == Status::Ready {
            found.status = Status::Pending("creating".into());
        }
        Ok(found)
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        if let Some(change) = changes
            .iter()
            .find(|c| c.field == "engine" || c.field == "encrypted")
        {
            return Err(AwsError::new(
                ErrorClass::Terminal,
                "ModifyDBInstance",
                "ImmutableField",
                format!(
                    "DB instance {}: {change} cannot change in place (the CRD refuses such edits)",
                    current.id
                ),
            ));
        }
        retag(cx, current.arn.as_deref(), changes).await?;
        self.modify(cx, &current.id, inputs, changes).await
    }
}

#[async_trait]
impl Resource for DbReplica {
    fn kind(&self) -> Kind {
        &DB_REPLICA
    }

    fn desired(&self, key: &str, cx: &Context, inputs: &Inputs) -> Fields {
        let mut fields = cx.identity.tag_fields(key);
        fields.extend([
            ("instanceClass".to_string(), self.instance_class.clone()),
            ("source".into(), inputs.get(&self.primary, "id")),
            ("publiclyAccessible".into(), "false".into()),
            ("deletionProtection".into(), "false".into()),
        ]);
        fields
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let created = cx
            .clients
            .rds
            .create_db_instance_read_replica()
            .db_instance_identifier(replica_id(cx, self.index))
            .source_db_instance_identifier(inputs.require(&self.primary, "id")?)
            .db_instance_class(&self.instance_class)
            .availability_zone(&self.zone)
            .publicly_accessible(false)
            .deletion_protection(false)
            .copy_tags_to_snapshot(true)
            .auto_minor_version_upgrade(true)
            .enable_performance_insights(self.performance_insights)
            .vpc_security_group_ids(inputs.require(&self.security_group, "id")?)
            .set_tags(Some(tags(cx, key)))
            .send()
            .await
            .map_err(sdk("CreateDBInstanceReadReplica"))?;
        let db = created
            .db_instance()
            .ok_or_else(|| crate::aws::missing("CreateDBInstanceReadReplica"))?;
        let mut found =
            observed(cx, db).ok_or_else(|| crate::aws::missing("CreateDBInstanceReadReplica"))?;
        found.fields = self.desired(key, cx, inputs);
        if found.status == Status::Ready {
            found.status = Status::Pending("creating".into());
        }
        Ok(found)
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        _inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        retag(cx, current.arn.as_deref(), changes).await?;
        let changed = |field: &str| changes.iter().any(|c| c.field == field);
        if changed("source") {
            return Err(AwsError::new(
                ErrorClass::Terminal,
                "ModifyDBInstance",
                "ImmutableField",
                format!(
                    "read replica {} follows another instance; delete it to let stackops recreate it",
                    current.id
                ),
            ));
        }
        if changed("instanceClass")
            || changed("publiclyAccessible")
            || changed("deletionProtection")
        {
            cx.clients
                .rds
                .modify_db_instance()
                .db_instance_identifier(&current.id)
                .db_instance_class(&self.instance_class)
                .publicly_accessible(false)
                .deletion_protection(false)
                .apply_immediately(true)
                .send()
                .await
                .map_err(sdk("ModifyDBInstance"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::PRIMARY_KEY;
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
        assert_eq!(PRIMARY_KEY, "data/database");
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
