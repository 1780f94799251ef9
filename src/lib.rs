//! stackops: a Kubernetes operator and CLI that manage whole AWS
//! application stacks (`EcommerceStack`, `BookingPlatform`).

pub mod api;
pub mod aws;
pub mod blueprint;
pub mod cli;
pub mod controller;
pub mod engine;
pub mod identity;
