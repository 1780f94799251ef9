//! AWS: one shared SDK configuration and one client per service built from
//! it. Resource modules (one per AWS resource family) arrive with the engine.

pub mod calls;
pub mod config;
pub mod ec2;
pub mod zones;

pub use config::{AwsClients, AwsSettings};
