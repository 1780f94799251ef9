//! The reconcile engine: walks a stack's resource graph, observing what
//! exists in AWS (by tags, batched per kind), diffing it with what should
//! exist, and creating, updating or deleting in dependency order with
//! bounded concurrency. Teardown goes by kind rank, highest first, so it
//! works from any partial state. It knows nothing of Kubernetes: the
//! controller and the CLI both drive it, one pass at a time.

pub mod context;
pub mod error;
pub mod graph;
pub mod outcome;
pub mod resource;
mod run;

pub use context::{Context, DataIntent, StackIdentity};
pub use error::{AwsError, ErrorClass};
pub use graph::{Graph, Node};
pub use outcome::{Action, Change, NodeOutcome, PassOutcome, diff};
pub use resource::{Deletion, Fields, Inputs, Kind, KindOps, Observed, Resource, Status, Updated};
pub use run::{Engine, EngineOptions};
