//! The primary DB instance.
//!
//! The master password is managed by RDS in Secrets Manager
//! (ManageMasterUserPassword): stackops only ever sees the secret's ARN.
//! Changes go through ModifyDBInstance, applied immediately or in the
//! maintenance window as the spec says; what RDS holds for the window is
//! shown on the node and counted as done, so it is not asked for again.
//! Teardown honours deletion protection (it stops, and says which field to
//! change) and the deletion policy (a final snapshot by default).

use aws_sdk_rds::types::Tag;

use crate::api::common::{DatabaseEngine, DatabaseSpec, DeletionPolicy};
use crate::aws::prelude::*;

use super::fields::{
    describe, exports_change, observed, parse_policy, policy_name, satisfies, version_parts,
};
use super::{TAG_DELETION_POLICY, engine_name, modify_protection_off, primary_id, retag, tags};

pub struct DbInstanceKind;
pub static DB_INSTANCE: DbInstanceKind = DbInstanceKind;

/// The primary instance of `spec` at engine `version`, in the subnet group,
/// parameter group and security group nodes named.
pub struct DbInstance {
    pub spec: DatabaseSpec,
    pub version: String,
    pub subnet_group: String,
    pub parameter_group: String,
    pub security_group: String,
    /// Engine logs exported to CloudWatch Logs (`postgresql`, `error`, ...).
    pub log_exports: Vec<String>,
    /// MySQL: the option group node carrying the audit plugin, or `None`
    /// for the engine's default group. PostgreSQL: `None`, not compared.
    pub option_group: Option<String>,
}

impl DbInstance {
    /// The option group the instance should be in, when it matters.
    fn option_group_name(&self, inputs: &Inputs) -> Option<String> {
        match (&self.option_group, self.engine()) {
            (Some(node), _) => Some(inputs.get(node, "id")),
            (None, DatabaseEngine::Mysql) => {
                Some(super::default_option_group(self.engine(), &self.version))
            }
            (None, DatabaseEngine::Postgres) => None,
        }
    }
}

#[async_trait]
impl KindOps<AwsClients> for DbInstanceKind {
    fn name(&self) -> &'static str {
        "DBInstance"
    }

    fn rank(&self) -> u8 {
        3
    }

    /// RDS takes 10 to 40 minutes to create or modify an instance.
    fn pace(&self) -> Pace {
        Pace::SLOW
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
            // Only what the database needs waits with it: the load balancer,
            // servers, NAT gateways and CDN go, and stop costing money.
            return Ok(Deletion::Held {
                message: format!(
                    "DB instance {} has deletion protection (spec.database.deletionProtection): \
                     set it to false to let teardown delete the database; until then what it \
                     needs (subnet and parameter groups, security group, subnets, VPC) stays \
                     and everything else is deleted",
                    observed.id
                ),
                keep: needs(cx, observed).await?,
            });
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
        request
            .send()
            .await
            .map_err(sdk("DeleteDBInstance"))
            .deleting(what)
    }
}

/// What the instance needs to keep running: its subnet, parameter and
/// option groups, security group, subnets and VPC. Rules of its security group that
/// name other groups of the stack are revoked, so those groups can go (the
/// application they let in is being deleted).
async fn needs(cx: &Context, observed: &Observed) -> Result<Vec<(&'static str, String)>, AwsError> {
    use crate::aws::prelude::KindOps as _;
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
    let options = field("optionGroup");
    if !options.is_empty() && !options.starts_with("default:") {
        keep.push((super::DB_OPTION_GROUP.name(), options));
    }
    // Its exported logs go on being written to, and read.
    keep.extend(set_items(&field("logExports")).into_iter().map(|log| {
        (
            super::DB_LOG_GROUP.name(),
            super::log_group::db_log_group_name(&observed.id, log),
        )
    }));
    keep.extend(
        set_items(&field("subnetIds"))
            .into_iter()
            .map(|s| (crate::aws::ec2::SUBNET.name(), s.to_string())),
    );
    Ok(keep)
}

/// Leaves the instance, untouched, with what it needs to keep running.
async fn retain(cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
    Ok(Deletion::Retained {
        message: format!(
            "spec.database.deletionPolicy is Retain: DB instance {} stays in AWS, with its \
             subnet group, parameter group, security group, subnets and VPC",
            observed.id
        ),
        keep: needs(cx, observed).await?,
    })
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
        let changed = |field: &str| changes.touches(field);
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
                .at("engineVersion")
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
        if let Some(change) = changes.at("logExports") {
            request = request
                .cloudwatch_logs_export_configuration(exports_change(change, &self.log_exports));
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
        if changed("optionGroup") {
            request = request.set_option_group_name(self.option_group_name(inputs));
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

#[async_trait]
impl Resource<AwsClients> for DbInstance {
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
            (
                "logExports".into(),
                set_field(self.log_exports.iter().map(String::as_str)),
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
        if let Some(group) = self.option_group_name(inputs) {
            fields.insert("optionGroup".into(), group);
        }
        fields
    }

    fn satisfies(&self, field: &str, desired: &str, observed: &str) -> bool {
        satisfies(field, desired, observed)
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateDBInstance"]
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
            .set_enable_cloudwatch_logs_exports(
                (!self.log_exports.is_empty()).then(|| self.log_exports.clone()),
            )
            .publicly_accessible(false)
            .copy_tags_to_snapshot(true)
            .auto_minor_version_upgrade(true)
            .db_name(&spec.database_name)
            .master_username(&spec.master_username)
            .manage_master_user_password(true)
            .db_subnet_group_name(inputs.require(&self.subnet_group, "id")?)
            .db_parameter_group_name(inputs.require(&self.parameter_group, "id")?)
            .set_option_group_name(
                self.option_group
                    .as_ref()
                    .map(|node| inputs.require(node, "id"))
                    .transpose()?,
            )
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
