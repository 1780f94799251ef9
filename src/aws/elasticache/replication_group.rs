//! The Redis (or Valkey) replication group: cluster mode off, encrypted at
//! rest and in transit, authenticated with the token kept in Secrets
//! Manager. Node type, replica count, failover, snapshot retention and
//! parameters change in place; teardown takes a final snapshot by default.

use aws_sdk_elasticache::types::ReplicationGroup as AwsGroup;

use crate::api::common::{CacheEngine, CacheSpec, DeletionPolicy};
use crate::aws::prelude::*;
use crate::aws::secrets;

use super::{PORT, REPLICATION_GROUP_KEY, group_id, tags};

pub struct ReplicationGroupKind;
pub static REPLICATION_GROUP: ReplicationGroupKind = ReplicationGroupKind;

/// The replication group of `spec` at engine `version`, in the subnet
/// group, parameter group and security group nodes named, authenticated
/// with the token of node `auth_token`.
pub struct ReplicationGroup {
    pub spec: CacheSpec,
    pub version: String,
    pub subnet_group: String,
    pub parameter_group: String,
    pub security_group: String,
    pub auth_token: String,
}

pub(super) fn engine_name(engine: CacheEngine) -> &'static str {
    match engine {
        CacheEngine::Redis => "redis",
        CacheEngine::Valkey => "valkey",
    }
}

fn enabled(status: Option<&str>) -> String {
    status
        .is_some_and(|s| s.eq_ignore_ascii_case("enabled"))
        .to_string()
}

fn observed(group: &AwsGroup) -> Option<Observed> {
    let id = group.replication_group_id()?.to_string();
    let members = group.member_clusters().len();
    let fields = Fields::from([
        (
            "engine".to_string(),
            group.engine().unwrap_or("redis").to_string(),
        ),
        (
            "nodeType".into(),
            group.cache_node_type().unwrap_or_default().into(),
        ),
        ("replicas".into(), members.saturating_sub(1).to_string()),
        (
            "failover".into(),
            enabled(group.automatic_failover().map(|s| s.as_str())),
        ),
        (
            "multiAz".into(),
            enabled(group.multi_az().map(|s| s.as_str())),
        ),
        (
            "encryptedAtRest".into(),
            group
                .at_rest_encryption_enabled()
                .unwrap_or(false)
                .to_string(),
        ),
        (
            "encryptedInTransit".into(),
            group
                .transit_encryption_enabled()
                .unwrap_or(false)
                .to_string(),
        ),
        (
            "authToken".into(),
            group.auth_token_enabled().unwrap_or(false).to_string(),
        ),
        (
            "snapshotRetention".into(),
            group
                .snapshot_retention_limit()
                .map(|n| n.to_string())
                .unwrap_or_default(),
        ),
    ]);
    let endpoint = group.node_groups().first();
    let mut outputs = Fields::from([
        ("id".to_string(), id.clone()),
        // The node clusters (`<id>-001`, ...): CloudWatch publishes per node.
        (
            "memberClusters".to_string(),
            set_field(group.member_clusters().iter().map(String::as_str)),
        ),
    ]);
    if let Some(primary) = endpoint.and_then(|n| n.primary_endpoint()) {
        outputs.insert(
            "address".into(),
            primary.address().unwrap_or_default().into(),
        );
        outputs.insert("port".into(), primary.port().unwrap_or(PORT).to_string());
    }
    if let Some(reader) = endpoint.and_then(|n| n.reader_endpoint()) {
        outputs.insert(
            "readerAddress".into(),
            reader.address().unwrap_or_default().into(),
        );
    }
    let state = group.status().unwrap_or_default();
    let status = match state {
        "creating" | "deleting" => Status::Pending(state.to_string()),
        "available" | "" => Status::Ready,
        other => Status::Noted(format!("AWS state: {other}")),
    };
    Some(Observed {
        component: REPLICATION_GROUP_KEY.into(),
        arn: group.arn().map(String::from),
        id,
        fields,
        outputs,
        status,
    })
}

#[async_trait]
impl KindOps<AwsClients> for ReplicationGroupKind {
    fn name(&self) -> &'static str {
        "ReplicationGroup"
    }

    fn rank(&self) -> u8 {
        3
    }

    /// A replication group takes 5 to 20 minutes.
    fn pace(&self) -> Pace {
        Pace::SLOW
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        // Shared: every replication group of the account, not this one by
        // id, so one read serves every stack.
        let id = group_id(cx);
        let by_id = (!cx.clients.reads.shares()).then(|| id.clone());
        // Not found by id: none.
        let all = cx
            .clients
            .listed("elasticache:DescribeReplicationGroups", || async {
                cx.clients
                    .elasticache
                    .describe_replication_groups()
                    .set_replication_group_id(by_id)
                    .max_records(100)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeReplicationGroups"))
                    .found()
                    .map(Option::unwrap_or_default)
            })
            .await?;
        Ok(all
            .iter()
            .filter(|g| g.replication_group_id() == Some(id.as_str()))
            .filter_map(observed)
            .collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        if observed.status == Status::Pending("deleting".into()) {
            return Ok(Deletion::InProgress("deleting".into()));
        }
        // Without the spec, the safe choice: keep a final snapshot.
        let policy = cx.data.cache_policy.unwrap_or(DeletionPolicy::Snapshot);
        let request = cx
            .clients
            .elasticache
            .delete_replication_group()
            .replication_group_id(&observed.id)
            .retain_primary_cluster(false);
        let (request, what) = match policy {
            DeletionPolicy::Retain => return retain(cx, observed).await,
            DeletionPolicy::Snapshot => {
                let snapshot = crate::aws::final_snapshot_name(&observed.id);
                (
                    request.final_snapshot_identifier(&snapshot),
                    format!("deleting after final snapshot {snapshot}"),
                )
            }
            DeletionPolicy::Delete => (
                request,
                "deleting without a final snapshot (deletionPolicy Delete)".to_string(),
            ),
        };
        request
            .send()
            .await
            .map_err(sdk("DeleteReplicationGroup"))
            .deleting(what)
    }
}

/// Leaves the group, untouched, with what it needs to keep serving: the
/// resources of the nodes the spec names (`DataIntent::cache_needs`). Rules
/// of its security group naming other groups of the stack are revoked, so
/// those groups can go (the servers they let in are being deleted).
async fn retain(cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
    use crate::aws::ec2::{SECURITY_GROUP, SUBNET, VPC};
    let needs = &cx.data.cache_needs;
    let kinds: [Kind; 6] = [
        &super::CACHE_SUBNET_GROUP,
        &super::CACHE_PARAMETER_GROUP,
        &secrets::SECRET,
        &SECURITY_GROUP,
        &SUBNET,
        &VPC,
    ];
    let mut keep = Vec::new();
    for kind in kinds {
        for found in kind.observe_all(cx).await? {
            if !needs.contains(&found.component) {
                continue;
            }
            if kind.name() == SECURITY_GROUP.name() {
                crate::aws::ec2::security_group::revoke_group_references(cx, &found.id).await?;
            }
            keep.push((kind.name(), found.id));
        }
    }
    Ok(Deletion::Retained {
        message: format!(
            "spec.cache.deletionPolicy is Retain: replication group {} stays in AWS, with its \
             subnet group, parameter group, security group, AUTH token, data subnets and VPC",
            observed.id
        ),
        keep,
    })
}

impl ReplicationGroup {
    fn failover(&self) -> bool {
        self.spec.multi_az || self.spec.replicas > 0
    }

    async fn resize(&self, cx: &Context, id: &str, from: &str) -> Result<(), AwsError> {
        let cache = &cx.clients.elasticache;
        let current: i32 = from.parse().unwrap_or(0);
        if self.spec.replicas > current {
            cache
                .increase_replica_count()
                .replication_group_id(id)
                .new_replica_count(self.spec.replicas)
                .apply_immediately(true)
                .send()
                .await
                .map_err(sdk("IncreaseReplicaCount"))?;
        } else {
            cache
                .decrease_replica_count()
                .replication_group_id(id)
                .new_replica_count(self.spec.replicas)
                .apply_immediately(true)
                .send()
                .await
                .map_err(sdk("DecreaseReplicaCount"))?;
        }
        Ok(())
    }
}

#[async_trait]
impl Resource<AwsClients> for ReplicationGroup {
    fn kind(&self) -> Kind {
        &REPLICATION_GROUP
    }

    fn desired(&self, _key: &str, _cx: &Context, _inputs: &Inputs) -> Fields {
        let spec = &self.spec;
        Fields::from([
            ("engine".to_string(), engine_name(spec.engine).to_string()),
            ("nodeType".into(), spec.node_type.clone()),
            ("replicas".into(), spec.replicas.to_string()),
            ("failover".into(), self.failover().to_string()),
            ("multiAz".into(), spec.multi_az.to_string()),
            ("encryptedAtRest".into(), "true".into()),
            ("encryptedInTransit".into(), "true".into()),
            ("authToken".into(), "true".into()),
            (
                "snapshotRetention".into(),
                spec.snapshot_retention_days.to_string(),
            ),
        ])
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateReplicationGroup"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let spec = &self.spec;
        let token = secrets::read(cx, &inputs.require(&self.auth_token, "arn")?).await?;
        let created = cx
            .clients
            .elasticache
            .create_replication_group()
            .replication_group_id(group_id(cx))
            .replication_group_description(format!(
                "Cache of {}, managed by stackops",
                cx.identity.stack_tag()
            ))
            .engine(engine_name(spec.engine))
            .engine_version(&self.version)
            .cache_parameter_group_name(inputs.require(&self.parameter_group, "id")?)
            .cache_node_type(&spec.node_type)
            .num_cache_clusters(spec.replicas + 1)
            .automatic_failover_enabled(self.failover())
            .multi_az_enabled(spec.multi_az)
            .at_rest_encryption_enabled(true)
            .set_kms_key_id(spec.kms_key_id.clone())
            .transit_encryption_enabled(true)
            .auth_token(token)
            .port(PORT)
            .cache_subnet_group_name(inputs.require(&self.subnet_group, "id")?)
            .security_group_ids(inputs.require(&self.security_group, "id")?)
            .snapshot_retention_limit(spec.snapshot_retention_days)
            .auto_minor_version_upgrade(true)
            .set_tags(Some(tags(cx, key)))
            .send()
            .await
            .map_err(sdk("CreateReplicationGroup"))?;
        let group = created
            .replication_group()
            .ok_or_else(|| missing("CreateReplicationGroup"))?;
        let mut found = observed(group).ok_or_else(|| missing("CreateReplicationGroup"))?;
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
        let changed = |field: &str| changes.at(field);
        if let Some(change) = [
            "engine",
            "encryptedAtRest",
            "encryptedInTransit",
            "authToken",
        ]
        .iter()
        .find_map(|f| changed(f))
        {
            return Err(AwsError::new(
                ErrorClass::Terminal,
                "ModifyReplicationGroup",
                "ImmutableField",
                format!(
                    "replication group {}: {change} cannot change in place; delete the group \
                     to let stackops recreate it",
                    current.id
                ),
            ));
        }
        let spec = &self.spec;
        // Replicas first when growing (failover needs one), last when
        // shrinking (failover off first).
        let growing = changed("replicas").is_some_and(|c| {
            c.from.as_deref().and_then(|f| f.parse().ok()).unwrap_or(0) < spec.replicas
        });
        if growing {
            self.resize(
                cx,
                &current.id,
                changed("replicas").unwrap().from.as_deref().unwrap_or("0"),
            )
            .await?;
        }
        if ["nodeType", "failover", "multiAz", "snapshotRetention"]
            .iter()
            .any(|f| changed(f).is_some())
        {
            cx.clients
                .elasticache
                .modify_replication_group()
                .replication_group_id(&current.id)
                .cache_node_type(&spec.node_type)
                .automatic_failover_enabled(self.failover())
                .multi_az_enabled(spec.multi_az)
                .snapshot_retention_limit(spec.snapshot_retention_days)
                .apply_immediately(true)
                .send()
                .await
                .map_err(sdk("ModifyReplicationGroup"))?;
        }
        if let Some(change) = changed("replicas").filter(|_| !growing) {
            self.resize(cx, &current.id, change.from.as_deref().unwrap_or("0"))
                .await?;
        }
        Ok(())
    }
}
