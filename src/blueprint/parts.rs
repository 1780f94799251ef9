//! What the blueprint reads from a stack of either kind: its tiers, and
//! the defaults that differ between the kinds.

use crate::api::StackManifest;
use crate::api::common::{
    AppSpec, BucketSpec, CacheSpec, DatabaseSpec, FrontendSpec, LoadBalancerSpec, MonitoringSpec,
    NatMode, NetworkSpec,
};
use crate::aws;

/// What the blueprint reads from either kind of spec.
pub(super) struct StackParts<'a> {
    pub(super) network: &'a NetworkSpec,
    pub(super) database: &'a DatabaseSpec,
    pub(super) load_balancer: &'a LoadBalancerSpec,
    pub(super) app: &'a AppSpec,
    pub(super) cache: Option<&'a CacheSpec>,
    pub(super) monitoring: Option<&'a MonitoringSpec>,
    pub(super) frontend: Option<&'a FrontendSpec>,
    pub(super) media: Option<&'a BucketSpec>,
    pub(super) app_port: i32,
    pub(super) cache_port: Option<i32>,
    pub(super) default_nat: NatMode,
    pub(super) log_retention_days: i32,
    pub(super) not_implemented: Vec<&'static str>,
}

impl<'a> StackParts<'a> {
    pub(super) fn of(stack: &'a StackManifest) -> Self {
        match stack {
            StackManifest::Ecommerce(s) => {
                let spec = &s.spec;
                let todo = vec![];
                Self {
                    network: &spec.network,
                    database: &spec.database,
                    load_balancer: &spec.load_balancer,
                    app: &spec.app,
                    cache: None,
                    monitoring: spec.monitoring.as_ref(),
                    frontend: Some(&spec.frontend),
                    media: None,
                    app_port: spec.app.port,
                    cache_port: None,
                    default_nat: NatMode::Single,
                    log_retention_days: spec
                        .monitoring
                        .as_ref()
                        .map_or(30, |m| m.log_retention_days),
                    not_implemented: todo,
                }
            }
            StackManifest::Booking(s) => {
                let spec = &s.spec;
                Self {
                    network: &spec.network,
                    database: &spec.database,
                    load_balancer: &spec.load_balancer,
                    app: &spec.app,
                    cache: spec.cache.as_ref(),
                    monitoring: Some(&spec.monitoring),
                    frontend: spec.frontend.as_ref(),
                    media: Some(&spec.media),
                    app_port: spec.app.port,
                    cache_port: spec.cache.as_ref().map(|_| aws::elasticache::PORT),
                    default_nat: NatMode::PerAz,
                    log_retention_days: spec.monitoring.log_retention_days,
                    not_implemented: Vec::new(),
                }
            }
        }
    }
}
