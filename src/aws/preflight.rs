//! Preflight: before a stack's first write (and each new generation's),
//! ask the account what can be known there, so a stack that cannot be
//! built fails before it has built half of itself. Each failure names the
//! spec field that causes it; a check whose answer AWS does not give is
//! skipped, never guessed.

use std::collections::BTreeSet;

use crate::api::FieldError;
use crate::api::common::ExistingNetwork;
use crate::engine::AwsError;

use super::{AwsClients, acm, ec2, elasticache, quotas, rds, ssm};

/// One certificate a spec names, and where it must be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateCheck {
    pub field: &'static str,
    pub arn: String,
    /// The load balancer's region, or us-east-1 for CloudFront.
    pub region: String,
}

/// Quota headroom a stack needs when it builds its own network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkNeed {
    /// Zones that get a NAT gateway (one Elastic IP each).
    pub nat_zones: Vec<String>,
}

/// Everything preflight checks for one stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preflight {
    pub region: String,
    /// The zones the stack spreads over.
    pub zones: Vec<String>,
    pub instance_type: String,
    /// The instance types Spot may use (`app.purchase.instanceTypes`).
    pub spot_types: Vec<String>,
    /// The public SSM parameter naming the AMI, when no AMI is pinned.
    pub ami_parameter: Option<String>,
    /// RDS engine name, version (as the spec or the default names it) and class.
    pub database: (&'static str, String, String),
    pub cache_node_type: Option<String>,
    pub certificates: Vec<CertificateCheck>,
    /// `None` when the stack builds in a network it does not create.
    pub network: Option<NetworkNeed>,
    /// The network the stack builds in, when it does not create its own.
    pub existing: Option<ExistingNetwork>,
}

/// Service Quotas codes of what a new network spends.
const VPCS_PER_REGION: (&str, &str) = ("vpc", "L-F678F1CE");
const NAT_GATEWAYS_PER_ZONE: (&str, &str) = ("vpc", "L-FE5A380F");
const ELASTIC_IPS: (&str, &str) = ("ec2", "L-0263D0A3");

/// Every problem preflight finds for the stack carrying `uid`; empty when
/// nothing stands in the way. Errors are AWS failures to answer at all.
pub async fn check(
    clients: &AwsClients,
    plan: &Preflight,
    uid: &str,
) -> Result<Vec<FieldError>, AwsError> {
    // In an existing network the servers run in the zones of its app
    // subnets, which only the account knows.
    let (mut problems, zones) = match &plan.existing {
        Some(existing) => {
            let inspection = ec2::existing_network::inspect(clients, existing).await?;
            let mut zones = inspection.app_zones;
            zones.sort();
            zones.dedup();
            (inspection.problems, zones)
        }
        None => (Vec::new(), plan.zones.clone()),
    };
    let (servers, database, cache, certificates, network) = tokio::join!(
        servers(clients, plan, &zones),
        database(clients, plan),
        cache(clients, plan),
        certificates(clients, plan),
        network(clients, plan, uid),
    );
    for found in [servers, database, cache, certificates, network] {
        problems.extend(found?);
    }
    Ok(problems)
}

async fn servers(
    clients: &AwsClients,
    plan: &Preflight,
    zones: &[String],
) -> Result<Vec<FieldError>, AwsError> {
    let mut problems = Vec::new();
    // No zones: the existing network's app subnets were not found, which
    // is reported already.
    let offered = if zones.is_empty() {
        BTreeSet::new()
    } else {
        ec2::account::zones_offering(clients, &plan.instance_type, zones).await?
    };
    let missing: Vec<&str> = zones
        .iter()
        .filter(|z| !offered.contains(*z))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        problems.push(FieldError::new(
            "spec.app.instanceType",
            format!(
                "Unsupported value: {:?}: EC2 does not offer it in {} (the stack's servers \
                 spread over {})",
                plan.instance_type,
                missing.join(", "),
                zones.join(", ")
            ),
        ));
    }
    // A Spot type needs only some zone: the group launches where it can.
    if !plan.spot_types.is_empty() && !zones.is_empty() {
        let offered = ec2::account::zones_offering_each(clients, &plan.spot_types, zones).await?;
        for (i, kind) in plan.spot_types.iter().enumerate() {
            // `instanceType` itself is checked above, in every zone.
            if kind != &plan.instance_type && offered.get(kind).is_none_or(BTreeSet::is_empty) {
                problems.push(FieldError::new(
                    format!("spec.app.purchase.instanceTypes[{i}]"),
                    format!(
                        "Unsupported value: {kind:?}: EC2 offers it in none of {}",
                        zones.join(", ")
                    ),
                ));
            }
        }
    }
    if let Some(name) = &plan.ami_parameter
        && !ssm::public_parameter_exists(clients, name).await?
    {
        problems.push(FieldError::new(
            "spec.app.amiParameter",
            format!(
                "Not found: {name:?}: no such public SSM parameter in {}",
                plan.region
            ),
        ));
    }
    Ok(problems)
}

async fn database(clients: &AwsClients, plan: &Preflight) -> Result<Vec<FieldError>, AwsError> {
    let (engine, version, class) = &plan.database;
    let versions = rds::orderable::versions(clients, engine, class).await?;
    Ok(if versions.is_empty() {
        vec![FieldError::new(
            "spec.database.instanceClass",
            format!(
                "Unsupported value: {class:?}: RDS offers no {engine} instance of this class in {}",
                plan.region
            ),
        )]
    } else if !rds::orderable::offers(&versions, version) {
        let newest: Vec<&str> = versions.iter().rev().take(6).map(String::as_str).collect();
        vec![FieldError::new(
            "spec.database.engineVersion",
            format!(
                "Unsupported value: {version:?}: {engine} {version} is not orderable as {class} in \
                 {} (newest orderable: {})",
                plan.region,
                newest.join(", ")
            ),
        )]
    } else {
        vec![]
    })
}

async fn cache(clients: &AwsClients, plan: &Preflight) -> Result<Vec<FieldError>, AwsError> {
    let Some(node_type) = &plan.cache_node_type else {
        return Ok(vec![]);
    };
    Ok(
        if elasticache::offerings::node_type_offered(clients, node_type).await? {
            vec![]
        } else {
            vec![FieldError::new(
                "spec.cache.nodeType",
                format!(
                    "Unsupported value: {node_type:?}: ElastiCache offers no such node type in {}",
                    plan.region
                ),
            )]
        },
    )
}

async fn certificates(clients: &AwsClients, plan: &Preflight) -> Result<Vec<FieldError>, AwsError> {
    let mut problems = Vec::new();
    for check in &plan.certificates {
        let status = acm::certificate_status(clients, &check.arn, &check.region).await?;
        let why = match status.as_deref() {
            Some("ISSUED") => continue,
            None => format!("no such certificate in ACM in {}", check.region),
            Some(other) => format!("the certificate is {other}, not ISSUED"),
        };
        problems.push(FieldError::new(
            check.field,
            format!("Invalid value: {:?}: {why}", check.arn),
        ));
    }
    Ok(problems)
}

/// Quota headroom for what a new network spends: checked only while the
/// stack has no VPC yet (a built stack has already spent it).
async fn network(
    clients: &AwsClients,
    plan: &Preflight,
    uid: &str,
) -> Result<Vec<FieldError>, AwsError> {
    let Some(need) = &plan.network else {
        return Ok(vec![]);
    };
    let (vpcs, built) = ec2::account::vpcs(clients, uid).await?;
    if built {
        return Ok(vec![]);
    }
    let mut problems = Vec::new();
    let mut short = |what: String| {
        problems.push(FieldError::new(
            "spec.network",
            format!(
                "Forbidden: {what} in {}; raise the quota in Service Quotas or free some first",
                plan.region
            ),
        ))
    };
    if let Some(limit) = quotas::applied(clients, VPCS_PER_REGION.0, VPCS_PER_REGION.1).await?
        && vpcs + 1 > limit as usize
    {
        short(format!(
            "the stack needs 1 VPC and the account has {vpcs} of its {limit} ({})",
            VPCS_PER_REGION.1
        ));
    }
    if need.nat_zones.is_empty() {
        return Ok(problems);
    }
    let wanted = need.nat_zones.len();
    if let Some(limit) = quotas::applied(clients, ELASTIC_IPS.0, ELASTIC_IPS.1).await? {
        let used = ec2::account::elastic_ips(clients).await?;
        if used + wanted > limit as usize {
            short(format!(
                "the stack needs {wanted} Elastic IPs (one per NAT gateway) and the account has \
                 {used} of its {limit} ({})",
                ELASTIC_IPS.1
            ));
        }
    }
    if let Some(limit) =
        quotas::applied(clients, NAT_GATEWAYS_PER_ZONE.0, NAT_GATEWAYS_PER_ZONE.1).await?
    {
        let by_zone = ec2::account::nat_gateways_by_zone(clients).await?;
        let full: BTreeSet<&str> = need
            .nat_zones
            .iter()
            .filter(|z| by_zone.get(*z).copied().unwrap_or(0) + 1 > limit as usize)
            .map(String::as_str)
            .collect();
        if !full.is_empty() {
            short(format!(
                "the stack needs a NAT gateway in {} and the account has its {limit} there ({})",
                full.into_iter().collect::<Vec<_>>().join(", "),
                NAT_GATEWAYS_PER_ZONE.1
            ));
        }
    }
    Ok(problems)
}
