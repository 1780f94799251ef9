//! The cache: a cache subnet group over the data subnets and a Redis (or
//! Valkey) replication group, cluster mode off, encrypted at rest and in
//! transit, with the AUTH token kept in Secrets Manager. Both are found by
//! their deterministic names; the parameter group of the engine family
//! (eviction policy) by its description, which names the stack's uid. Node
//! type, replica count, failover, snapshot retention and parameters change
//! in place.

use async_trait::async_trait;
use aws_sdk_elasticache::types::{
    CacheParameterGroup as AwsParameterGroup, ParameterNameValue, ReplicationGroup as AwsGroup, Tag,
};

use super::{missing, sdk, secrets};
use crate::api::common::{CacheEngine, CacheSpec, DeletionPolicy};
use crate::aws::ec2::{set_field, set_items};
use crate::blueprint::naming::NameRule;
use crate::engine::{
    AwsError, Change, Context, Deletion, ErrorClass, Fields, Inputs, Kind, KindOps, Observed,
    Resource, Status,
};

pub const SUBNET_GROUP_KEY: &str = "data/cache-subnet-group";

/// Node key of the parameter group of `family`.
pub fn parameter_group_key(family: &str) -> String {
    format!("data/cache-parameters-{}", family.replace('.', "-"))
}

/// Engine version used when the spec names none.
pub fn default_version(engine: CacheEngine) -> &'static str {
    match engine {
        CacheEngine::Redis => "7.1",
        CacheEngine::Valkey => "8.0",
    }
}

/// The parameter group family of `version`: `redis7`, `valkey8`.
pub fn family(engine: CacheEngine, version: &str) -> String {
    let major = version.split('.').next().unwrap_or("7");
    format!("{}{major}", engine_name(engine))
}
pub const AUTH_TOKEN_KEY: &str = "data/cache-auth-token";
pub const REPLICATION_GROUP_KEY: &str = "data/cache";

/// Port of both engines.
pub const PORT: i32 = 6379;

fn subnet_group_name(cx: &Context) -> String {
    cx.identity.resource_name("cache", NameRule::Cache)
}

fn group_id(cx: &Context) -> String {
    cx.identity.resource_name("cache", NameRule::Cache)
}

fn tags(cx: &Context, key: &str) -> Vec<Tag> {
    cx.identity
        .tags(key)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn not_found(error: AwsError) -> Result<Vec<Observed>, AwsError> {
    if error.is_not_found() {
        Ok(Vec::new())
    } else {
        Err(error)
    }
}

// ---------------------------------------------------------------- subnet group

pub struct CacheSubnetGroupKind;
pub static CACHE_SUBNET_GROUP: CacheSubnetGroupKind = CacheSubnetGroupKind;

/// A cache subnet group of the subnet nodes `subnets`.
pub struct CacheSubnetGroup {
    pub subnets: Vec<String>,
}

#[async_trait]
impl KindOps for CacheSubnetGroupKind {
    fn name(&self) -> &'static str {
        "CacheSubnetGroup"
    }

    fn rank(&self) -> u8 {
        2
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let name = subnet_group_name(cx);
        let found = match cx
            .clients
            .elasticache
            .describe_cache_subnet_groups()
            .cache_subnet_group_name(&name)
            .send()
            .await
            .map_err(sdk("DescribeCacheSubnetGroups"))
        {
            Ok(found) => found,
            Err(e) => return not_found(e),
        };
        Ok(found
            .cache_subnet_groups()
            .iter()
            .map(|group| Observed {
                component: SUBNET_GROUP_KEY.into(),
                id: name.clone(),
                arn: group.arn().map(String::from),
                fields: Fields::from([(
                    "subnets".to_string(),
                    set_field(group.subnets().iter().filter_map(|s| s.subnet_identifier())),
                )]),
                outputs: Fields::from([("id".to_string(), name.clone())]),
                status: Status::Ready,
            })
            .collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let deleted = cx
            .clients
            .elasticache
            .delete_cache_subnet_group()
            .cache_subnet_group_name(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteCacheSubnetGroup"));
        crate::aws::deleted(deleted)
    }
}

#[async_trait]
impl Resource for CacheSubnetGroup {
    fn kind(&self) -> Kind {
        &CACHE_SUBNET_GROUP
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
            .elasticache
            .create_cache_subnet_group()
            .cache_subnet_group_name(&name)
            .cache_subnet_group_description(format!(
                "Managed by stackops for {}",
                cx.identity.stack_tag()
            ))
            .set_subnet_ids(Some(subnets))
            .set_tags(Some(tags(cx, key)))
            .send()
            .await
            .map_err(sdk("CreateCacheSubnetGroup"))?;
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
            .elasticache
            .modify_cache_subnet_group()
            .cache_subnet_group_name(&current.id)
            .set_subnet_ids(Some(
                set_items(&change.to)
                    .into_iter()
                    .map(String::from)
                    .collect(),
            ))
            .send()
            .await
            .map_err(sdk("ModifyCacheSubnetGroup"))?;
        Ok(())
    }
}

// ---------------------------------------------------------------- parameter group

pub struct CacheParameterGroupKind;
pub static CACHE_PARAMETER_GROUP: CacheParameterGroupKind = CacheParameterGroupKind;

/// A parameter group of `family` with `parameters` set (name, value).
pub struct CacheParameterGroup {
    pub family: String,
    pub parameters: Vec<(String, String)>,
}

impl CacheParameterGroup {
    fn wanted(&self) -> String {
        set_field(self.parameters.iter().map(|(k, v)| format!("{k}={v}")))
    }

    async fn set_parameters(&self, cx: &Context, group: &str) -> Result<(), AwsError> {
        let values: Vec<ParameterNameValue> = self
            .parameters
            .iter()
            .map(|(k, v)| {
                ParameterNameValue::builder()
                    .parameter_name(k)
                    .parameter_value(v)
                    .build()
            })
            .collect();
        cx.clients
            .elasticache
            .modify_cache_parameter_group()
            .cache_parameter_group_name(group)
            .set_parameter_name_values(Some(values))
            .send()
            .await
            .map_err(sdk("ModifyCacheParameterGroup"))?;
        Ok(())
    }
}

async fn user_parameters(cx: &Context, group: &str) -> Result<String, AwsError> {
    let found = cx
        .clients
        .elasticache
        .describe_cache_parameters()
        .cache_parameter_group_name(group)
        .source("user")
        .send()
        .await
        .map_err(sdk("DescribeCacheParameters"))?;
    Ok(set_field(found.parameters().iter().filter_map(|p| {
        Some(format!("{}={}", p.parameter_name()?, p.parameter_value()?))
    })))
}

#[async_trait]
impl KindOps for CacheParameterGroupKind {
    fn name(&self) -> &'static str {
        "CacheParameterGroup"
    }

    fn rank(&self) -> u8 {
        1
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let groups: Vec<AwsParameterGroup> = cx
            .clients
            .elasticache
            .describe_cache_parameter_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk("DescribeCacheParameterGroups"))?;
        let ours = crate::aws::owned_description(cx);
        let mut found = Vec::new();
        for group in groups
            .iter()
            .filter(|g| g.description() == Some(ours.as_str()))
        {
            let (Some(name), Some(family)) = (
                group.cache_parameter_group_name(),
                group.cache_parameter_group_family(),
            ) else {
                continue;
            };
            found.push(Observed {
                component: parameter_group_key(family),
                id: name.to_string(),
                arn: group.arn().map(String::from),
                fields: Fields::from([
                    ("family".to_string(), family.to_string()),
                    ("parameters".into(), user_parameters(cx, name).await?),
                ]),
                outputs: Fields::from([("id".to_string(), name.to_string())]),
                status: Status::Ready,
            });
        }
        Ok(found)
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let deleted = cx
            .clients
            .elasticache
            .delete_cache_parameter_group()
            .cache_parameter_group_name(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteCacheParameterGroup"));
        crate::aws::deleted(deleted)
    }
}

#[async_trait]
impl Resource for CacheParameterGroup {
    fn kind(&self) -> Kind {
        &CACHE_PARAMETER_GROUP
    }

    fn desired(&self, _key: &str, _cx: &Context, _inputs: &Inputs) -> Fields {
        Fields::from([
            ("family".to_string(), self.family.clone()),
            ("parameters".into(), self.wanted()),
        ])
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let name = cx.identity.resource_name(
            &format!("cache-{}", self.family.replace('.', "-")),
            NameRule::Cache,
        );
        cx.clients
            .elasticache
            .create_cache_parameter_group()
            .cache_parameter_group_name(&name)
            .cache_parameter_group_family(&self.family)
            .description(crate::aws::owned_description(cx))
            .set_tags(Some(tags(cx, key)))
            .send()
            .await
            .map_err(sdk("CreateCacheParameterGroup"))?;
        // A crash here leaves the defaults: the next pass sees `parameters`
        // differ and sets them.
        self.set_parameters(cx, &name).await?;
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
        if changes.iter().any(|c| c.field == "parameters") {
            self.set_parameters(cx, &current.id).await?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- replication group

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

fn engine_name(engine: CacheEngine) -> &'static str {
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
            super::ec2::set_field(group.member_clusters().iter().map(String::as_str)),
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
impl KindOps for ReplicationGroupKind {
    fn name(&self) -> &'static str {
        "ReplicationGroup"
    }

    fn rank(&self) -> u8 {
        3
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let found = match cx
            .clients
            .elasticache
            .describe_replication_groups()
            .replication_group_id(group_id(cx))
            .send()
            .await
            .map_err(sdk("DescribeReplicationGroups"))
        {
            Ok(found) => found,
            Err(e) => return not_found(e),
        };
        Ok(found
            .replication_groups()
            .iter()
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
            // Unfinished, as for the database: teardown waits, data safe.
            DeletionPolicy::Retain => {
                return Ok(Deletion::Blocked(format!(
                    "spec.cache.deletionPolicy is Retain: replication group {} and the network \
                     it lives in stay; set deletionPolicy to Snapshot or Delete to finish teardown",
                    observed.id
                )));
            }
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
        match request.send().await.map_err(sdk("DeleteReplicationGroup")) {
            Ok(_) => Ok(Deletion::InProgress(what)),
            Err(e) if e.is_not_found() => Ok(Deletion::Done),
            Err(e) => Err(e),
        }
    }
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
impl Resource for ReplicationGroup {
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
        let changed = |field: &str| changes.iter().find(|c| c.field == field);
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
