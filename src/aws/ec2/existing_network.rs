//! What an existing network must be for a stack to build in it, asked of
//! the account before the first write: the subnets exist and belong to the
//! VPC, each tier covers two zones or more, the public tier routes to an
//! internet gateway and the app and data tiers do not.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::RouteTable as AwsRouteTable;

use super::{filter, subnets_by_id};

use crate::api::FieldError;
use crate::api::common::ExistingNetwork;
use crate::aws::prelude::*;

const FIELD: &str = "spec.network.existing";

/// What the account says of an existing network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inspection {
    /// Every reason the stack cannot build in it, by spec field.
    pub problems: Vec<FieldError>,
    /// The zones of the app subnets: where the servers run.
    pub app_zones: Vec<String>,
}

async fn route_tables(clients: &AwsClients, vpc: &str) -> Result<Vec<AwsRouteTable>, AwsError> {
    clients
        .ec2
        .describe_route_tables()
        .filters(filter("vpc-id", [vpc.to_string()]))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(sdk("DescribeRouteTables"))
}

/// Inspects `network` with three calls.
pub async fn inspect(
    clients: &AwsClients,
    network: &ExistingNetwork,
) -> Result<Inspection, AwsError> {
    let ids: Vec<String> = network
        .tiers()
        .iter()
        .flat_map(|(_, _, ids)| ids.iter().cloned())
        .collect();
    let ec2 = &clients.ec2;
    let (vpcs, found, tables) = tokio::join!(
        ec2.describe_vpcs()
            .filters(filter("vpc-id", [network.vpc_id.clone()]))
            .send(),
        subnets_by_id(clients, ids),
        route_tables(clients, &network.vpc_id),
    );
    let vpc_exists = !vpcs.map_err(sdk("DescribeVpcs"))?.vpcs().is_empty();
    let found = found?;
    let tables = tables?;
    if !vpc_exists {
        return Ok(Inspection {
            problems: vec![FieldError::new(
                format!("{FIELD}.vpcId"),
                format!(
                    "{} does not exist in this account and region",
                    network.vpc_id
                ),
            )],
            app_zones: Vec::new(),
        });
    }
    let mut inspection = Inspection::default();
    for (tier, field, ids) in network.tiers() {
        let mut zones = BTreeSet::new();
        for (i, id) in ids.iter().enumerate() {
            let path = format!("{FIELD}.{field}[{i}]");
            let Some(subnet) = found.iter().find(|s| s.subnet_id() == Some(id)) else {
                inspection.problems.push(FieldError::new(
                    path,
                    format!("{id} does not exist in this account and region"),
                ));
                continue;
            };
            let vpc = subnet.vpc_id().unwrap_or_default();
            if vpc != network.vpc_id {
                inspection.problems.push(FieldError::new(
                    path,
                    format!("{id} is in {vpc}, not in {}", network.vpc_id),
                ));
                continue;
            }
            let zone = subnet.availability_zone().unwrap_or_default().to_string();
            if tier == "app" {
                inspection.app_zones.push(zone.clone());
            }
            zones.insert(zone);
            if let Some(problem) = route_problem(tier, id, &tables) {
                inspection.problems.push(FieldError::new(path, problem));
            }
        }
        if zones.len() == 1 {
            let zone = zones.first().cloned().unwrap_or_default();
            inspection.problems.push(FieldError::new(
                format!("{FIELD}.{field}"),
                format!(
                    "every {tier} subnet is in {zone}; the tier must cover at least two \
                     availability zones"
                ),
            ));
        }
    }
    Ok(inspection)
}

/// The route table `subnet` uses: its own association, else the VPC's main
/// table.
fn table_of<'a>(subnet: &str, tables: &'a [AwsRouteTable]) -> Option<&'a AwsRouteTable> {
    let associated = |t: &&AwsRouteTable| {
        t.associations()
            .iter()
            .any(|a| a.subnet_id() == Some(subnet))
    };
    let main = |t: &&AwsRouteTable| t.associations().iter().any(|a| a.main() == Some(true));
    tables
        .iter()
        .find(associated)
        .or_else(|| tables.iter().find(main))
}

/// What is wrong with the routes of subnet `id` of `tier`, if anything.
fn route_problem(tier: &str, id: &str, tables: &[AwsRouteTable]) -> Option<String> {
    let table = table_of(id, tables);
    let table_id = table.and_then(|t| t.route_table_id()).unwrap_or("none");
    let routes = || table.into_iter().flat_map(|t| t.routes());
    let via_gateway =
        |r: &&aws_sdk_ec2::types::Route| r.gateway_id().is_some_and(|g| g.starts_with("igw-"));
    // A public subnet needs the IPv4 default route; a private one must have
    // no route at all to a gateway, however narrow and of either family.
    let default_route = routes()
        .filter(via_gateway)
        .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"));
    let any_route = routes().find(via_gateway);
    match (tier, default_route, any_route) {
        ("public", None, _) => Some(format!(
            "{id} has no default route to an internet gateway (route table {table_id}); \
             an internet-facing load balancer there is unreachable"
        )),
        ("app" | "data", _, Some(route)) => Some(format!(
            "{id} routes {} to internet gateway {} (route table {table_id}); {tier} \
             subnets must not reach the internet directly",
            route
                .destination_cidr_block()
                .or(route.destination_ipv6_cidr_block())
                .unwrap_or_default(),
            route.gateway_id().unwrap_or_default()
        )),
        _ => None,
    }
}
