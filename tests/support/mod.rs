//! Test harness shared by the integration tests.
#![allow(dead_code)]

pub mod cli;
pub mod cluster;
pub mod metrics;
pub mod moto;
pub mod proxy;
pub mod stack;
