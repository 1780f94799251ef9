//! What the account offers and already uses in a region, for preflight:
//! instance types offered per zone, and the VPCs, Elastic IPs and NAT
//! gateways that count against the quotas a new stack would spend.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::LocationType;

use crate::engine::AwsError;
use crate::identity::TAG_UID;

use super::super::{AwsClients, sdk};
use super::{filter, subnet_zones};

/// The zones among `zones` where `instance_type` is offered.
pub async fn zones_offering(
    clients: &AwsClients,
    instance_type: &str,
    zones: &[String],
) -> Result<BTreeSet<String>, AwsError> {
    let mut by_type = zones_offering_each(clients, &[instance_type.to_string()], zones).await?;
    Ok(by_type.remove(instance_type).unwrap_or_default())
}

/// For each of `instance_types`, the zones among `zones` that offer it
/// (one call for them all).
pub async fn zones_offering_each(
    clients: &AwsClients,
    instance_types: &[String],
    zones: &[String],
) -> Result<BTreeMap<String, BTreeSet<String>>, AwsError> {
    let answer = clients
        .ec2
        .describe_instance_type_offerings()
        .location_type(LocationType::AvailabilityZone)
        .filters(filter("instance-type", instance_types.iter().cloned()))
        .filters(filter("location", zones.iter().cloned()))
        .send()
        .await
        .map_err(sdk("DescribeInstanceTypeOfferings"))?;
    let mut by_type: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for offering in answer.instance_type_offerings() {
        if let (Some(kind), Some(zone)) = (offering.instance_type(), offering.location())
            && instance_types.iter().any(|t| t == kind.as_str())
        {
            by_type
                .entry(kind.as_str().to_string())
                .or_default()
                .insert(zone.to_string());
        }
    }
    Ok(by_type)
}

/// VPCs in the region: how many, and whether one carries stack `uid`.
pub async fn vpcs(clients: &AwsClients, uid: &str) -> Result<(usize, bool), AwsError> {
    let mut count = 0;
    let mut owned = false;
    let mut pages = clients.ec2.describe_vpcs().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(sdk("DescribeVpcs"))?;
        for vpc in page.vpcs() {
            count += 1;
            owned |= vpc
                .tags()
                .iter()
                .any(|t| t.key() == Some(TAG_UID) && t.value() == Some(uid));
        }
    }
    Ok((count, owned))
}

/// Elastic IP addresses allocated in the region.
pub async fn elastic_ips(clients: &AwsClients) -> Result<usize, AwsError> {
    let answer = clients
        .ec2
        .describe_addresses()
        .filters(filter("domain", ["vpc"]))
        .send()
        .await
        .map_err(sdk("DescribeAddresses"))?;
    Ok(answer.addresses().len())
}

/// NAT gateways that count against the per-zone quota (pending or
/// available), by zone.
pub async fn nat_gateways_by_zone(
    clients: &AwsClients,
) -> Result<BTreeMap<String, usize>, AwsError> {
    let mut subnets = Vec::new();
    let mut pages = clients
        .ec2
        .describe_nat_gateways()
        .filter(filter("state", ["pending", "available"]))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(sdk("DescribeNatGateways"))?;
        subnets.extend(
            page.nat_gateways()
                .iter()
                .filter_map(|n| n.subnet_id().map(String::from)),
        );
    }
    let mut by_zone = BTreeMap::new();
    if subnets.is_empty() {
        return Ok(by_zone);
    }
    for zone in subnet_zones(clients, &subnets).await? {
        if !zone.is_empty() {
            *by_zone.entry(zone).or_insert(0) += 1;
        }
    }
    Ok(by_zone)
}
