//! Test harness shared by the integration tests.
#![allow(dead_code)]

pub mod cluster;
pub mod moto;
pub mod proxy;
pub mod stack;
