//! The operator: one kube-runtime Controller per stack kind, each driving
//! the engine one pass per reconcile, with a finalizer that holds the
//! custom resource until everything it owns in AWS is gone, and a
//! connection Secret per stack.

pub mod adoption;
pub mod conditions;
pub mod connection;
pub mod context;
pub mod following;
pub mod leader;
pub mod memory;
pub mod metrics;
pub mod reconcile;
pub mod resync;
pub mod run;
pub mod shards;
pub mod tenancy;

pub use context::{OperatorContext, OperatorOptions};
pub use run::run;

use thiserror::Error;

/// Finalizer holding a stack until its AWS resources are gone.
pub const FINALIZER: &str = "stackops.io/teardown";

#[derive(Debug, Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("the object has no {0}")]
    Incomplete(&'static str),
    /// Teardown goes on: look again after the duration.
    #[error("teardown in progress: {0}")]
    TeardownPending(String, std::time::Duration),
    #[error("AWS: {0}")]
    Aws(#[from] crate::engine::AwsError),
    #[error("{0}")]
    Blueprint(#[from] crate::blueprint::BlueprintError),
}
