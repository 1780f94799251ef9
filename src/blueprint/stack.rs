//! A whole stack's graph from its manifest, and what of the spec the
//! engine does not build yet (reported in status and by `plan`, never
//! silently skipped).

use std::collections::BTreeMap;

use thiserror::Error;

use crate::api::common::{BudgetSpec, DatabaseEngine, ExistingNetwork, NatMode};
use crate::api::{FieldError, StackManifest};
use crate::aws;
use crate::aws::Graph;
use crate::engine::graph::GraphError;
use crate::engine::{EngineOptions, StackIdentity};

use super::network::{self, NetworkNeeds};
use super::parts::StackParts;
use super::{network_plan, validate};

/// Everything needed to run the engine on one stack.
pub struct Blueprint {
    pub graph: Graph,
    pub identity: StackIdentity,
    pub region: String,
    pub options: EngineOptions,
    /// Parts of the spec not built yet, by field.
    pub not_implemented: Vec<String>,
    /// What must hold in the account before the first write.
    pub preflight: aws::preflight::Preflight,
    /// The existing VPC and subnets the stack builds in, by node key.
    pub borrowed: BTreeMap<String, String>,
    /// What the stack pays for, to price before it is built.
    pub charges: Vec<aws::pricing::Charge>,
    /// The budget's spec and topic, when the stack has a budget.
    pub budget: Option<(BudgetSpec, Option<aws::budgets::Topic>)>,
}

impl Blueprint {
    /// The blueprint with its budget, whose limit derives from `estimate`
    /// (USD a month, complete estimates only) when the spec sets none.
    /// Without an estimate such a budget is neither made nor pruned: an
    /// existing one keeps its limit, and nothing waits on prices.
    pub fn with_estimate(mut self, estimate: Option<f64>) -> Result<Self, BlueprintError> {
        if let Some((spec, topic)) = &self.budget
            && spec.monthly_limit_usd.is_none()
            && let Some(limit) = spec.limit_for(estimate)
        {
            let node = super::bill::budget_node(limit, topic.clone());
            self.graph = self
                .graph
                .with_node(node)?
                .also_owns([&aws::budgets::BUDGET as aws::Kind]);
        }
        Ok(self)
    }
}

#[derive(Debug, Error)]
pub enum BlueprintError {
    #[error("invalid spec: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error(
        "spec.network.azCount is {wanted} but region {region} has {available} availability zones"
    )]
    TooFewZones {
        wanted: usize,
        available: usize,
        region: String,
    },
    #[error("internal: {0}")]
    Graph(#[from] GraphError),
}

/// Who `stack` is in AWS tags, its resources tagged with `uid`.
pub fn identity(stack: &StackManifest, uid: &str) -> StackIdentity {
    StackIdentity {
        namespace: stack.namespace().to_string(),
        name: stack.name().to_string(),
        uid: uid.to_string(),
        extra_tags: stack.settings().tags.clone(),
    }
}

/// The spec's word on deleting the stack's data, for teardown.
pub fn data_intent(stack: &StackManifest) -> crate::engine::DataIntent {
    let parts = StackParts::of(stack);
    crate::engine::DataIntent {
        bucket_policies: super::edge::bucket_policies(parts.frontend, parts.media),
        ..super::data::data_intent(
            parts.database,
            parts.cache,
            parts.network.az_count.max(0) as usize,
        )
    }
}

/// A spec that passed every check, with its subnet plan (none in an
/// existing network): what can be known before any AWS call. Callers
/// prepare first, so an invalid spec costs none.
pub struct Prepared<'a> {
    stack: &'a StackManifest,
    layout: Layout<'a>,
}

/// Where the stack's network comes from.
enum Layout<'a> {
    /// A VPC of its own, cut up by the plan.
    Own(network_plan::SubnetPlan),
    /// A VPC and subnets that exist already.
    Existing(&'a ExistingNetwork),
}

/// Checks `stack` (semantic checks and subnet plan), without AWS.
pub fn prepare(stack: &StackManifest) -> Result<Prepared<'_>, BlueprintError> {
    let problems = validate::check(stack);
    if !problems.is_empty() {
        return Err(BlueprintError::Invalid(problems));
    }
    let network = StackParts::of(stack).network;
    let layout = match &network.existing {
        Some(existing) => Layout::Existing(existing),
        None => Layout::Own(network_plan::plan(network).map_err(BlueprintError::Invalid)?),
    };
    Ok(Prepared { stack, layout })
}

/// The blueprint of `stack`, whose resources carry `uid`, over `zones`.
pub fn build(
    stack: &StackManifest,
    uid: &str,
    zones: &[String],
) -> Result<Blueprint, BlueprintError> {
    prepare(stack)?.build(uid, zones)
}

impl Prepared<'_> {
    /// The blueprint, once the region's availability `zones` are known.
    pub fn build(self, uid: &str, zones: &[String]) -> Result<Blueprint, BlueprintError> {
        build_prepared(self.stack, &self.layout, uid, zones)
    }
}

fn build_prepared(
    stack: &StackManifest,
    layout: &Layout<'_>,
    uid: &str,
    zones: &[String],
) -> Result<Blueprint, BlueprintError> {
    let parts = StackParts::of(stack);
    let settings = stack.settings();
    let (network_spec, database) = (parts.network, parts.database);
    let not_implemented: Vec<String> = parts
        .not_implemented
        .iter()
        .map(|s| s.to_string())
        .collect();

    let wanted = network_spec.az_count.max(0) as usize;
    if zones.len() < wanted {
        return Err(BlueprintError::TooFewZones {
            wanted,
            available: zones.len(),
            region: settings.region.clone(),
        });
    }
    let behind_cdn = parts.frontend.is_some_and(|f| f.cdn.fronts_load_balancer());
    let needs = NetworkNeeds {
        nat: network_spec.nat_mode.unwrap_or(parts.default_nat),
        app_port: parts.app_port,
        database_port: Some(match database.engine {
            DatabaseEngine::Postgres => 5432,
            DatabaseEngine::Mysql => 3306,
        }),
        cache_port: parts.cache_port,
        // In an existing network, flow logs are its owner's.
        flow_logs: (network_spec.flow_logs && network_spec.owns_vpc())
            .then_some((network_spec.flow_log_traffic, parts.log_retention_days)),
        cdn_origin_port: behind_cdn.then_some(if parts.load_balancer.certificate_arn.is_some() {
            443
        } else {
            80
        }),
    };
    let (mut nodes, borrowed) = match layout {
        Layout::Own(plan) => (network::nodes(plan, zones, &needs), BTreeMap::new()),
        Layout::Existing(existing) => (
            network::existing_nodes(existing, &needs),
            network::borrowed(existing),
        ),
    };
    nodes.extend(super::application::load_balancer_nodes(
        parts.load_balancer,
        parts.app,
        wanted,
        behind_cdn.then_some(super::edge::ORIGIN_SECRET_KEY),
    ));
    let stack_identity = identity(stack, uid);
    let access = super::application::ServerAccess {
        log_group: parts
            .monitoring
            .map(|_| super::monitoring::APP_LOG_GROUP_KEY.to_string()),
        media_bucket_arn: parts.media.map(|_| {
            format!(
                "arn:{}:s3:::{}",
                aws::partition(&settings.region),
                aws::s3::name_for(&stack_identity, aws::s3::MEDIA_BUCKET_KEY)
            )
        }),
        media_key: parts
            .media
            .and_then(|m| m.kms_key_id.clone())
            .map(|key| (key, settings.region.clone())),
    };
    nodes.extend(super::application::server_nodes(parts.app, wanted, &access));
    nodes.extend(super::data::database_nodes(
        database,
        &zones[..wanted],
        parts.log_retention_days,
    ));
    if let Some(cache) = parts.cache {
        nodes.extend(super::data::cache_nodes(cache, &zones[..wanted]));
    }
    if let Some(frontend) = parts.frontend {
        nodes.extend(super::edge::frontend_nodes(frontend, parts.load_balancer));
    }
    if let Some(media) = parts.media {
        nodes.extend(super::edge::media_nodes(media));
    }
    // Last: the alarms and the dashboard watch whichever tiers are above.
    let tiers = super::monitoring::Tiers {
        read_replicas: database.read_replicas as usize,
        cache_nodes: parts.cache.map_or(0, |c| c.replicas.max(0) as usize + 1),
        cdn: nodes
            .iter()
            .any(|n| n.key == super::monitoring::DISTRIBUTION_KEY),
        web_acl: parts.frontend.and_then(|f| f.cdn.web_acl_arn.clone()),
        flow_logs: needs
            .flow_logs
            .map(|_| aws::ec2::flow_log::FLOW_LOG_GROUP_KEY.to_string()),
        database_port: needs.database_port.unwrap_or_default(),
        auth_log: database.log_exports.then(|| {
            let (log, pattern) = aws::rds::auth_failure_log(database.engine);
            (aws::rds::db_log_group_key(log), pattern)
        }),
    };
    let charges = super::bill::charges(
        &parts,
        &settings.region,
        wanted,
        network_spec.owns_vpc().then_some(needs.nat),
        &tiers,
    );
    if let Some(monitoring) = parts.monitoring {
        nodes.extend(super::monitoring::monitoring_nodes(monitoring, tiers));
    }
    let budget = settings.budget.enabled.then(|| {
        let topic = parts.monitoring.and_then(|m| {
            let notifications = &m.notifications;
            match &notifications.sns_topic_arn {
                Some(arn) => Some(aws::budgets::Topic::Existing(arn.clone())),
                None if !notifications.emails.is_empty() => {
                    Some(aws::budgets::Topic::Node(aws::sns::TOPIC_KEY.to_string()))
                }
                None => None,
            }
        });
        (settings.budget.clone(), topic)
    });
    // A limit the spec sets is known now; one derived from the estimate
    // comes with it (`Blueprint::with_estimate`), and until then budgets
    // are not the graph's to prune.
    let mut owned = aws::registry::all_kinds();
    match budget
        .as_ref()
        .map(|(spec, topic)| (spec.limit_for(None), topic))
    {
        Some((Some(limit), topic)) => nodes.push(super::bill::budget_node(limit, topic.clone())),
        Some((None, _)) => owned.retain(|k| k.name() != aws::budgets::KIND_NAME),
        None => {}
    }
    // After every tier: the servers' view of them.
    let server_data = super::parameters::server_data_nodes(&nodes);
    nodes.extend(server_data);
    let graph = Graph::new(nodes)?.also_owns(owned);
    let preflight = preflight(&parts, &settings.region, &zones[..wanted], needs.nat);
    Ok(Blueprint {
        preflight,
        borrowed,
        charges,
        budget,
        graph,
        identity: stack_identity,
        region: settings.region.clone(),
        options: EngineOptions {
            managed: settings.management_policy == crate::api::common::ManagementPolicy::Managed,
            paused: settings.paused,
            ..EngineOptions::default()
        },
        not_implemented,
    })
}

/// What preflight checks for the stack of `parts`, spread over `zones`.
fn preflight(
    parts: &StackParts<'_>,
    region: &str,
    zones: &[String],
    nat: NatMode,
) -> aws::preflight::Preflight {
    use aws::preflight::{CertificateCheck, NetworkNeed, Preflight};
    let database = parts.database;
    let mut certificates = Vec::new();
    if let Some(arn) = &parts.load_balancer.certificate_arn {
        certificates.push(CertificateCheck {
            field: "spec.loadBalancer.certificateArn",
            arn: arn.clone(),
            region: region.to_string(),
        });
    }
    if let Some(arn) = parts.frontend.and_then(|f| f.cdn.certificate_arn.as_ref()) {
        certificates.push(CertificateCheck {
            field: "spec.frontend.cdn.certificateArn",
            arn: arn.clone(),
            region: "us-east-1".into(),
        });
    }
    let nat_zones = match nat {
        NatMode::None => vec![],
        NatMode::Single => zones[..1].to_vec(),
        NatMode::PerAz => zones.to_vec(),
    };
    Preflight {
        region: region.to_string(),
        zones: zones.to_vec(),
        instance_type: parts.app.instance_type.clone(),
        spot_types: parts
            .app
            .purchase
            .iter()
            .flat_map(|p| p.instance_types.iter())
            .cloned()
            .collect(),
        ami_parameter: parts
            .app
            .ami
            .is_none()
            .then(|| parts.app.ami_parameter.clone()),
        database: (
            aws::rds::engine_name(database.engine),
            database
                .engine_version
                .clone()
                .unwrap_or_else(|| aws::rds::default_version(database.engine).to_string()),
            database.instance_class.clone(),
        ),
        cache_node_type: parts.cache.map(|c| c.node_type.clone()),
        certificates,
        network: parts
            .network
            .owns_vpc()
            .then_some(NetworkNeed { nat_zones }),
        existing: parts.network.existing.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::DeletionPolicy;

    #[test]
    fn every_part_of_the_examples_and_a_retained_cache_is_built() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/booking.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let object = crate::api::manifest::documents(&text).remove(0).unwrap();
        let mut stack = crate::api::manifest::admit(1, &object).unwrap();
        let zones: Vec<String> = ["a", "b", "c"].map(|z| format!("eu-west-1{z}")).into();
        assert!(
            build(&stack, "u", &zones)
                .unwrap()
                .not_implemented
                .is_empty()
        );
        if let StackManifest::Booking(s) = &mut stack {
            s.spec.cache.as_mut().unwrap().deletion_policy = DeletionPolicy::Retain;
        }
        let todo = build(&stack, "u", &zones).unwrap().not_implemented;
        assert!(todo.is_empty(), "{todo:?}");
    }
}
