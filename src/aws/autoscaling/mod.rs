//! The Auto Scaling group of the application servers, its target tracking
//! policies and scheduled actions, and the instance refresh that rolls the
//! fleet onto a new launch template version.
//!
//! There is one group per stack with a deterministic name, so policies and
//! scheduled actions (which carry no tags) are found by the group's name.
//! Those stackops writes are named `stackops-<stack hash>-*`; others are
//! left alone.

pub mod group;
pub mod members;
pub mod policies;
pub mod refresh;
pub mod scheduled;

pub use group::{AUTO_SCALING_GROUP, AutoScalingGroup};
pub use policies::{SCALING_POLICIES, ScalingPolicies};
pub use scheduled::{SCHEDULED_ACTIONS, ScheduledActions};

/// Every Auto Scaling kind.
pub const KINDS: &[Kind] = &[&AUTO_SCALING_GROUP, &SCALING_POLICIES, &SCHEDULED_ACTIONS];

use crate::aws::prelude::*;
use crate::identity::NameRule;

pub const GROUP_KEY: &str = "app/auto-scaling-group";
pub const POLICIES_KEY: &str = "app/scaling-policies";
pub const SCHEDULED_KEY: &str = "app/scheduled-actions";

/// Prefix of the policy and scheduled action names stackops owns. The
/// stack's hash keeps names unique per stack: AWS scopes them per group, but
/// emulators (moto) scope them per account.
fn owned_prefix(cx: &Context) -> String {
    format!(
        "{LEGACY_PREFIX}{}-",
        crate::identity::short_hash(&cx.identity.uid)
    )
}

/// The prefix of earlier releases, without the hash: such members are
/// replaced by ones under `owned_prefix`.
const LEGACY_PREFIX: &str = "stackops-";

/// The stack's group name.
pub(crate) fn group_name(cx: &Context) -> String {
    cx.identity.resource_name("app", NameRule::Generic)
}

/// A number as a field value (`50` rather than `50.0`).
pub(crate) fn number(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}
