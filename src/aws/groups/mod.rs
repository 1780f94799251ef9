//! Subnet groups and parameter groups: RDS and ElastiCache have both, with
//! the same life cycle over different SDK types. One implementation of each
//! serves both services through a small trait per service, which says how
//! to make that service's calls and nothing else.

pub mod parameter;
pub mod subnet;

pub use parameter::{ParameterGroup, ParameterGroupApi, ParameterGroupInfo, ParameterGroupKind};
pub use subnet::{SubnetGroup, SubnetGroupApi, SubnetGroupKind};
