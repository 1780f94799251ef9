//! Whether ElastiCache offers a node type in the region, for preflight.
//! ElastiCache has no "orderable node types" call; its reserved-node
//! offerings list every node type the region sells.

use crate::engine::AwsError;

use super::super::{AwsClients, sdk};

/// Whether the region sells `node_type` (one offering is enough).
pub async fn node_type_offered(clients: &AwsClients, node_type: &str) -> Result<bool, AwsError> {
    let answer = clients
        .elasticache
        .describe_reserved_cache_nodes_offerings()
        .cache_node_type(node_type)
        .max_records(20)
        .send()
        .await
        .map_err(sdk("DescribeReservedCacheNodesOfferings"))?;
    Ok(!answer.reserved_cache_nodes_offerings().is_empty())
}
