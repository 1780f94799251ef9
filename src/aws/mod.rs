//! AWS: one shared SDK configuration and one client per service built from
//! it. Resource modules (one per AWS resource family) arrive with the engine.

pub mod config;

pub use config::{AwsClients, AwsSettings};
