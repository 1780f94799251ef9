//! The Spot prices in effect now for some instance types in the region
//! (Linux, every zone that sells them), for the cost estimate.

use aws_sdk_ec2::types::InstanceType;

use crate::aws::prelude::*;

/// One price per instance type and zone, in USD an hour.
pub async fn current(
    clients: &AwsClients,
    instance_types: &[String],
) -> Result<Vec<f64>, AwsError> {
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
    let history = clients
        .ec2
        .describe_spot_price_history()
        .set_instance_types(Some(
            instance_types
                .iter()
                .map(|t| InstanceType::from(t.as_str()))
                .collect(),
        ))
        .product_descriptions("Linux/UNIX")
        // From now: the price in effect in each zone, one per type and zone.
        .start_time(now)
        .send()
        .await
        .map_err(sdk("DescribeSpotPriceHistory"))?;
    Ok(history
        .spot_price_history()
        .iter()
        .filter_map(|p| p.spot_price()?.parse().ok())
        .collect())
}
