//! Read replicas of the primary, spread over the other zones. A replica
//! holds no data of its own: teardown turns off any deletion protection it
//! copied from the primary and takes no final snapshot.

use crate::aws::prelude::*;

use super::fields::{describe, exports_change, observed};
use super::{MAX_REPLICAS, modify_protection_off, replica_id, retag, tags};

pub struct DbReplicaKind;
pub static DB_REPLICA: DbReplicaKind = DbReplicaKind;

/// Read replica `index` of the primary node `primary`, in `zone`.
pub struct DbReplica {
    pub index: usize,
    pub primary: String,
    pub instance_class: String,
    pub zone: String,
    pub security_group: String,
    pub performance_insights: bool,
    /// Logs exported to CloudWatch Logs, into groups made before it.
    pub log_exports: Vec<String>,
}

#[async_trait]
impl KindOps<AwsClients> for DbReplicaKind {
    fn name(&self) -> &'static str {
        "DBReplica"
    }

    fn rank(&self) -> u8 {
        4
    }

    /// A replica is a copy of the primary: as slow to create.
    fn pace(&self) -> Pace {
        Pace::SLOW
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
        deleted.deleting("deleting")
    }
}

#[async_trait]
impl Resource<AwsClients> for DbReplica {
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
            (
                "logExports".into(),
                set_field(self.log_exports.iter().map(String::as_str)),
            ),
        ]);
        fields
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateDBInstanceReadReplica"]
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
            .set_enable_cloudwatch_logs_exports(
                (!self.log_exports.is_empty()).then(|| self.log_exports.clone()),
            )
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
        let changed = |field: &str| changes.touches(field);
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
        let exports = changes
            .at("logExports")
            .map(|change| exports_change(change, &self.log_exports));
        if changed("instanceClass")
            || changed("publiclyAccessible")
            || changed("deletionProtection")
            || exports.is_some()
        {
            cx.clients
                .rds
                .modify_db_instance()
                .db_instance_identifier(&current.id)
                .db_instance_class(&self.instance_class)
                .publicly_accessible(false)
                .deletion_protection(false)
                .set_cloudwatch_logs_export_configuration(exports)
                .apply_immediately(true)
                .send()
                .await
                .map_err(sdk("ModifyDBInstance"))?;
        }
        Ok(())
    }
}
