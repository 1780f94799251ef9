//! What a stack pays for: the charges of the resources its blueprint
//! makes, each as a Price List product and a monthly quantity, so the
//! estimate can price them. Fixed charges only (hours, provisioned
//! storage, per-resource monthly fees); what grows with use is listed as
//! such and never guessed.

use crate::api::common::{AppSpec, CacheEngine, DatabaseEngine, NatMode};
use crate::aws::Node;
use crate::aws::autoscaling::GROUP_KEY;
use crate::aws::budgets::{BUDGET_KEY, StackBudget, Topic};
use crate::aws::cloudwatch::{ALARMS_KEY, DASHBOARD_KEY};
use crate::aws::elasticache::{AUTH_TOKEN_KEY, REPLICATION_GROUP_KEY};
use crate::aws::elbv2::LOAD_BALANCER_KEY;
use crate::aws::pricing::{Charge, Product, Rate};
use crate::aws::rds::{PRIMARY_KEY, replica_key};
use crate::aws::s3::{MEDIA_BUCKET_KEY, WEB_BUCKET_KEY};

use super::application::LAUNCH_TEMPLATE_KEY;
use super::edge::ORIGIN_SECRET_KEY;
use super::monitoring::{ALARM_KEY_KEY, APP_LOG_GROUP_KEY, DISTRIBUTION_KEY, Tiers};
use super::parts::StackParts;

/// The stack's budget node: `limit` USD a month, notifying `topic`.
pub fn budget_node(limit: i64, topic: Option<Topic>) -> Node {
    let after: Vec<String> = match &topic {
        Some(Topic::Node(node)) => vec![node.clone()],
        _ => Vec::new(),
    };
    Node::new(BUDGET_KEY, StackBudget { limit, topic }).after(after)
}

/// The Price List product of `service` in `region` with `attributes`.
fn product(
    service: &'static str,
    region: &str,
    attributes: &[(&'static str, &str)],
    usage_type_suffix: Option<&'static str>,
) -> Rate {
    let mut all = vec![("regionCode", region.to_string())];
    all.extend(attributes.iter().map(|(k, v)| (*k, v.to_string())));
    Rate::List(Product {
        service,
        attributes: all,
        usage_type_suffix,
    })
}

/// A Linux server of `instance_type`, On-Demand, on shared hardware.
fn server(region: &str, instance_type: &str) -> Rate {
    product(
        "AmazonEC2",
        region,
        &[
            ("instanceType", instance_type),
            ("operatingSystem", "Linux"),
            ("tenancy", "Shared"),
            ("preInstalledSw", "NA"),
            ("capacitystatus", "Used"),
            ("licenseModel", "No License required"),
        ],
        None,
    )
}

/// A public IPv4 address in use, billed by the hour.
fn public_ipv4(region: &str) -> Rate {
    product(
        "AmazonVPC",
        region,
        &[("productFamily", "VPC Public IPv4 Address")],
        Some("PublicIPv4:InUseAddress"),
    )
}

/// The servers the group starts with: the desired capacity, else the
/// minimum (what runs when nothing loads them).
pub fn starting_capacity(app: &AppSpec) -> i32 {
    app.desired_capacity.unwrap_or(app.min_size).max(0)
}

/// The servers: On-Demand and Spot instances at the starting capacity,
/// and their root volumes.
fn servers(app: &AppSpec, region: &str) -> Vec<Charge> {
    let count = starting_capacity(app);
    let on_demand = app
        .purchase
        .as_ref()
        .map_or(count, |p| p.on_demand_of(count));
    let spot = count - on_demand;
    let mut charges = vec![Charge::hourly(
        GROUP_KEY,
        format!("{on_demand} × {} On-Demand (Linux)", app.instance_type),
        server(region, &app.instance_type),
        on_demand as f64,
    )];
    if let Some(purchase) = app.purchase.as_ref().filter(|_| spot > 0) {
        charges.push(Charge::hourly(
            GROUP_KEY,
            format!(
                "{spot} × Spot ({}), at the region's current average",
                purchase.instance_types.join(", ")
            ),
            Rate::Spot {
                instance_types: purchase.instance_types.clone(),
            },
            spot as f64,
        ));
    }
    charges.push(Charge::monthly(
        LAUNCH_TEMPLATE_KEY,
        format!("{count} × {} GiB gp3 root volume", app.root_volume_gib),
        product(
            "AmazonEC2",
            region,
            &[("productFamily", "Storage"), ("volumeApiName", "gp3")],
            None,
        ),
        f64::from(count * app.root_volume_gib),
    ));
    charges
}

/// The Application Load Balancer's hours and the public address of each
/// of its nodes (one per zone).
fn load_balancer(region: &str, zones: usize) -> Vec<Charge> {
    vec![
        Charge::hourly(
            LOAD_BALANCER_KEY,
            "Application Load Balancer".into(),
            product(
                "AWSELB",
                region,
                &[("productFamily", "Load Balancer-Application")],
                Some("LoadBalancerUsage"),
            ),
            1.0,
        ),
        Charge::hourly(
            LOAD_BALANCER_KEY,
            format!("{zones} × public IPv4 address (one per zone)"),
            public_ipv4(region),
            zones as f64,
        ),
        Charge::usage(
            LOAD_BALANCER_KEY,
            "load balancer capacity units (LCUs) and data transfer out",
        ),
    ]
}

/// NAT gateways and their Elastic IPs.
fn nat(region: &str, mode: NatMode, zones: usize) -> Vec<Charge> {
    let count = match mode {
        NatMode::None => return Vec::new(),
        NatMode::Single => 1,
        NatMode::PerAz => zones,
    };
    vec![
        Charge::hourly(
            "network/nat-0",
            format!("{count} × NAT gateway"),
            product(
                "AmazonEC2",
                region,
                &[("productFamily", "NAT Gateway")],
                Some("NatGateway-Hours"),
            ),
            count as f64,
        ),
        Charge::hourly(
            "network/nat-0",
            format!("{count} × Elastic IP of a NAT gateway"),
            public_ipv4(region),
            count as f64,
        ),
        Charge::usage("network/nat-0", "NAT gateway data processing"),
    ]
}

/// The database, its storage and its read replicas.
fn database(parts: &StackParts<'_>, region: &str) -> Vec<Charge> {
    let db = parts.database;
    let engine = match db.engine {
        DatabaseEngine::Postgres => "PostgreSQL",
        DatabaseEngine::Mysql => "MySQL",
    };
    let instance = |deployment| {
        product(
            "AmazonRDS",
            region,
            &[
                ("instanceType", db.instance_class.as_str()),
                ("databaseEngine", engine),
                ("deploymentOption", deployment),
            ],
            None,
        )
    };
    let storage = |deployment| {
        product(
            "AmazonRDS",
            region,
            &[
                ("productFamily", "Database Storage"),
                ("volumeType", "General Purpose-GP3"),
                ("databaseEngine", engine),
                ("deploymentOption", deployment),
            ],
            None,
        )
    };
    let deployment = if db.multi_az { "Multi-AZ" } else { "Single-AZ" };
    let gib = f64::from(db.allocated_storage_gib);
    let mut charges = vec![
        Charge::hourly(
            PRIMARY_KEY,
            format!("{} {engine} {deployment}", db.instance_class),
            instance(deployment),
            1.0,
        ),
        Charge::monthly(
            PRIMARY_KEY,
            format!("{gib} GiB gp3 storage, {deployment}"),
            storage(deployment),
            gib,
        ),
        Charge::monthly(
            PRIMARY_KEY,
            "master password secret (Secrets Manager, kept by RDS)".into(),
            secret(region),
            1.0,
        ),
        Charge::usage(
            PRIMARY_KEY,
            "backup storage beyond the database's size, storage growth and I/O",
        ),
    ];
    for replica in 1..=db.read_replicas.max(0) as usize {
        let key = replica_key(replica);
        charges.push(Charge::hourly(
            &key,
            format!("{} {engine} read replica", db.instance_class),
            instance("Single-AZ"),
            1.0,
        ));
        charges.push(Charge::monthly(
            &key,
            format!("{gib} GiB gp3 replica storage"),
            storage("Single-AZ"),
            gib,
        ));
    }
    charges
}

fn secret(region: &str) -> Rate {
    product(
        "AWSSecretsManager",
        region,
        &[("productFamily", "Secret")],
        None,
    )
}

/// The cache's nodes and its AUTH token secret.
fn cache(parts: &StackParts<'_>, region: &str) -> Vec<Charge> {
    let Some(cache) = parts.cache else {
        return Vec::new();
    };
    let engine = match cache.engine {
        CacheEngine::Redis => "Redis",
        CacheEngine::Valkey => "Valkey",
    };
    let nodes = 1 + cache.replicas.max(0);
    vec![
        Charge::hourly(
            REPLICATION_GROUP_KEY,
            format!("{nodes} × {} {engine} node", cache.node_type),
            product(
                "AmazonElastiCache",
                region,
                &[
                    ("instanceType", cache.node_type.as_str()),
                    ("cacheEngine", engine),
                ],
                None,
            ),
            f64::from(nodes),
        ),
        Charge::monthly(
            AUTH_TOKEN_KEY,
            "AUTH token secret (Secrets Manager)".into(),
            secret(region),
            1.0,
        ),
    ]
}

/// The front end and the media bucket: no fixed charge at all.
fn edge(parts: &StackParts<'_>, region: &str, cdn: bool) -> Vec<Charge> {
    let mut charges = Vec::new();
    if parts.frontend.is_some() {
        charges.push(Charge::usage(
            WEB_BUCKET_KEY,
            "web bucket storage and requests",
        ));
    }
    if cdn {
        charges.push(Charge::usage(
            DISTRIBUTION_KEY,
            "CloudFront requests and data transfer out",
        ));
    }
    if parts.frontend.is_some_and(|f| f.cdn.fronts_load_balancer()) {
        charges.push(Charge::monthly(
            ORIGIN_SECRET_KEY,
            "origin header secret (Secrets Manager)".into(),
            secret(region),
            1.0,
        ));
    }
    if parts.media.is_some() {
        charges.push(Charge::usage(
            MEDIA_BUCKET_KEY,
            "media bucket storage, versions and requests",
        ));
    }
    charges
}

/// Alarms, dashboard, the alarm topic's key, and the logs.
fn monitoring(parts: &StackParts<'_>, region: &str, tiers: &Tiers) -> Vec<Charge> {
    let Some(spec) = parts.monitoring else {
        return Vec::new();
    };
    let alarms = super::monitoring::alarm_count(spec, tiers);
    let mut charges = vec![Charge::monthly(
        ALARMS_KEY,
        format!("{alarms} × standard-resolution alarm"),
        product(
            "AmazonCloudWatch",
            region,
            &[("productFamily", "Alarm")],
            Some("AlarmMonitorUsage"),
        ),
        alarms as f64,
    )];
    if spec.dashboard {
        charges.push(Charge::monthly(
            DASHBOARD_KEY,
            "dashboard (an account's first three are free)".into(),
            product(
                "AmazonCloudWatch",
                region,
                &[("productFamily", "Dashboard")],
                None,
            ),
            1.0,
        ));
    }
    let notifications = &spec.notifications;
    if !notifications.emails.is_empty() && notifications.kms_key_id.is_none() {
        charges.push(Charge::monthly(
            ALARM_KEY_KEY,
            "KMS key of the alarm topic".into(),
            product(
                "awskms",
                region,
                &[("productFamily", "Encryption Key")],
                Some("KMS-Keys"),
            ),
            1.0,
        ));
    }
    charges.push(Charge::usage(
        APP_LOG_GROUP_KEY,
        "log ingestion and storage, flow logs, metrics and notifications",
    ));
    charges
}

/// Every charge of the stack of `parts` in `region` over `zones`, its NAT
/// in `nat` mode (none in a network it borrows), with `tiers` as the
/// monitoring tier sees them and `cdn` when it has a distribution.
pub(super) fn charges(
    parts: &StackParts<'_>,
    region: &str,
    zones: usize,
    nat_mode: Option<NatMode>,
    tiers: &Tiers,
) -> Vec<Charge> {
    let mut charges = servers(parts.app, region);
    charges.extend(load_balancer(region, zones));
    if let Some(mode) = nat_mode {
        charges.extend(nat(region, mode, zones));
    }
    charges.extend(database(parts, region));
    charges.extend(cache(parts, region));
    charges.extend(edge(parts, region, tiers.cdn));
    charges.extend(monitoring(parts, region, tiers));
    charges
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::PurchaseSpec;

    fn quantity_of(charges: &[Charge], what: &str) -> f64 {
        charges
            .iter()
            .find(|c| c.what.contains(what))
            .unwrap_or_else(|| panic!("no {what} in {charges:#?}"))
            .quantity
    }

    #[test]
    fn spot_takes_the_servers_above_the_on_demand_base() {
        let mut app = AppSpec {
            min_size: 5,
            ..AppSpec::default()
        };
        app.purchase = Some(PurchaseSpec {
            on_demand_base_capacity: 2,
            on_demand_percentage_above_base_capacity: 33,
            instance_types: vec!["t3.small".into(), "t3a.small".into(), "t2.small".into()],
        });
        let charges = servers(&app, "eu-west-1");
        // 2 base + ceil(3 × 33 %) = 3 On-Demand, 2 Spot.
        assert_eq!(quantity_of(&charges, "On-Demand"), 3.0 * 730.0);
        assert_eq!(quantity_of(&charges, "Spot"), 2.0 * 730.0);
        assert_eq!(quantity_of(&charges, "root volume"), 5.0 * 20.0);
        app.purchase = None;
        let charges = servers(&app, "eu-west-1");
        assert_eq!(quantity_of(&charges, "On-Demand"), 5.0 * 730.0);
        assert!(charges.iter().all(|c| !c.what.contains("Spot")));
    }

    #[test]
    fn nat_gateways_follow_the_mode() {
        assert!(nat("eu-west-1", NatMode::None, 3).is_empty());
        assert_eq!(
            quantity_of(&nat("eu-west-1", NatMode::Single, 3), "NAT gateway"),
            730.0
        );
        assert_eq!(
            quantity_of(&nat("eu-west-1", NatMode::PerAz, 3), "NAT gateway"),
            3.0 * 730.0
        );
    }
}
