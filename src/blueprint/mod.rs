//! From a spec to what should exist in AWS: pure functions, no I/O. The
//! subnet plan, deterministic resource names, the semantic checks no schema
//! can express, and the resource graph the engine walks: every tier of
//! both kinds (network, application, data, edge, storage, monitoring).

pub mod application;
pub mod bill;
pub mod data;
pub mod edge;
pub mod monitoring;
pub mod network;
pub mod network_plan;
pub mod outputs;
pub mod parameters;
mod parts;
pub mod placement;
pub mod stack;
pub mod validate;

pub use stack::{Blueprint, BlueprintError, Prepared, build, prepare};
