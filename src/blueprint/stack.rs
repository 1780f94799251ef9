//! A whole stack's graph from its manifest, and what of the spec the
//! engine does not build yet (reported, never silently skipped).

use thiserror::Error;

use crate::api::common::{DatabaseEngine, NatMode};
use crate::api::{FieldError, StackManifest};
use crate::aws;
use crate::engine::graph::GraphError;
use crate::engine::{EngineOptions, Graph, Kind, StackIdentity};

use super::network::{self, NetworkNeeds};
use super::{network_plan, validate};

/// Everything needed to run the engine on one stack.
pub struct Blueprint {
    pub graph: Graph,
    pub identity: StackIdentity,
    pub region: String,
    pub options: EngineOptions,
    /// Parts of the spec not built yet, by field.
    pub not_implemented: Vec<String>,
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

/// Every kind stackops may have created, for teardown of any state.
pub fn all_kinds() -> Vec<Kind> {
    aws::ec2::KINDS.to_vec()
}

/// The blueprint of `stack`, whose resources carry `uid`, over `zones`.
pub fn build(
    stack: &StackManifest,
    uid: &str,
    zones: &[String],
) -> Result<Blueprint, BlueprintError> {
    let problems = validate::check(stack);
    if !problems.is_empty() {
        return Err(BlueprintError::Invalid(problems));
    }
    let (settings, network_spec, app_port, database, cache_port, default_nat, not_implemented) =
        match stack {
            StackManifest::Ecommerce(s) => {
                let spec = &s.spec;
                let mut todo = vec![
                    "load balancer (spec.loadBalancer)",
                    "application servers (spec.app)",
                    "database (spec.database)",
                    "web bucket and CDN (spec.frontend)",
                ];
                if spec.monitoring.is_some() {
                    todo.push("monitoring (spec.monitoring)");
                }
                (
                    &spec.settings,
                    &spec.network,
                    spec.app.port,
                    &spec.database,
                    None,
                    NatMode::Single,
                    todo,
                )
            }
            StackManifest::Booking(s) => {
                let spec = &s.spec;
                let mut todo = vec![
                    "load balancer (spec.loadBalancer)",
                    "application servers (spec.app)",
                    "database (spec.database)",
                    "media bucket (spec.media)",
                    "monitoring (spec.monitoring)",
                ];
                if spec.cache.is_some() {
                    todo.push("cache (spec.cache)");
                }
                if spec.frontend.is_some() {
                    todo.push("web bucket and CDN (spec.frontend)");
                }
                (
                    &spec.settings,
                    &spec.network,
                    spec.app.port,
                    &spec.database,
                    spec.cache.as_ref().map(|_| 6379),
                    NatMode::PerAz,
                    todo,
                )
            }
        };
    let mut not_implemented: Vec<String> = not_implemented.into_iter().map(String::from).collect();
    if network_spec.flow_logs {
        not_implemented.push("VPC flow logs (spec.network.flowLogs)".into());
    }

    let plan = network_plan::plan(network_spec).map_err(BlueprintError::Invalid)?;
    let wanted = plan.public.len();
    if zones.len() < wanted {
        return Err(BlueprintError::TooFewZones {
            wanted,
            available: zones.len(),
            region: settings.region.clone(),
        });
    }
    let needs = NetworkNeeds {
        nat: network_spec.nat_mode.unwrap_or(default_nat),
        app_port,
        database_port: Some(match database.engine {
            DatabaseEngine::Postgres => 5432,
            DatabaseEngine::Mysql => 3306,
        }),
        cache_port,
    };
    let graph = Graph::new(network::nodes(&plan, zones, &needs))?;
    Ok(Blueprint {
        graph,
        identity: StackIdentity {
            namespace: stack.namespace().to_string(),
            name: stack.name().to_string(),
            uid: uid.to_string(),
            extra_tags: settings.tags.clone(),
        },
        region: settings.region.clone(),
        options: EngineOptions {
            managed: settings.management_policy == crate::api::common::ManagementPolicy::Managed,
            paused: settings.paused,
            ..EngineOptions::default()
        },
        not_implemented,
    })
}
