//! Availability zones of a region: looked up once per region and process,
//! since they do not change; a steady-state pass makes no call for them.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_sdk_ec2::types::AvailabilityZoneState;

use super::AwsClients;
use crate::aws::prelude::*;

static CACHE: Mutex<BTreeMap<String, Vec<String>>> = Mutex::new(BTreeMap::new());

/// Names of the region's available zones (standard zones only, not local
/// or wavelength zones), sorted.
pub async fn available_zones(clients: &AwsClients, region: &str) -> Result<Vec<String>, AwsError> {
    if let Some(zones) = CACHE.lock().expect("zone cache").get(region) {
        return Ok(zones.clone());
    }
    let found = clients
        .ec2
        .describe_availability_zones()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeAvailabilityZones", e))?;
    let mut zones: Vec<String> = found
        .availability_zones()
        .iter()
        .filter(|z| z.state() == Some(&AvailabilityZoneState::Available))
        .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    zones.sort();
    CACHE
        .lock()
        .expect("zone cache")
        .insert(region.to_string(), zones.clone());
    Ok(zones)
}

/// The zones a stack spreads its data over: the region's available zones,
/// or, in an existing network, the zones of its data subnets in order.
pub async fn for_stack(
    clients: &AwsClients,
    region: &str,
    existing: Option<&crate::api::common::ExistingNetwork>,
) -> Result<Vec<String>, AwsError> {
    match existing {
        Some(network) => super::ec2::subnet_zones(clients, &network.data_subnet_ids).await,
        None => available_zones(clients, region).await,
    }
}
