//! CloudFront: the origin access control through which the distribution
//! reads the web bucket, and the distribution itself (web bucket as default
//! origin, the load balancer for the API paths).
//!
//! Neither is found by tag: one list call each finds the stack's own, by
//! name (the access control) or by comment (the distribution, whose comment
//! names the stack's uid).

mod config;
mod distribution;
mod oac;

use crate::aws::Kind;

pub use distribution::{ApiOrigin, DISTRIBUTION, Distribution};
pub use oac::{ORIGIN_ACCESS_CONTROL, OriginAccessControl};

/// Every CloudFront kind.
pub const KINDS: &[Kind] = &[&ORIGIN_ACCESS_CONTROL, &DISTRIBUTION];

/// Node key of the origin access control.
pub const OAC_KEY: &str = "edge/origin-access-control";
/// Node key of the distribution.
pub const DISTRIBUTION_KEY: &str = "edge/distribution";
