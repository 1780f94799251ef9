//! The public contract: the two custom resources, their shared building
//! blocks and status. Pure data: no I/O happens in this layer.

pub mod admission;
pub mod booking;
pub mod common;
pub mod crds;
pub mod ecommerce;
pub mod field_error;
pub mod manifest;
pub mod region;
pub mod status;
pub mod yaml;

pub use booking::{BookingPlatform, BookingPlatformSpec};
pub use ecommerce::{EcommerceStack, EcommerceStackSpec};
pub use field_error::FieldError;
pub use manifest::StackManifest;

pub use status::StackStatus;

/// API group of both kinds.
pub const GROUP: &str = "stackops.io";
/// The only served (and stored) version.
pub const VERSION: &str = "v1alpha1";
