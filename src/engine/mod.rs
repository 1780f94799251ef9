//! The reconcile engine: walks a stack's resource graph, observing what
//! exists in AWS (by tags, batched per kind), diffing it with what should
//! exist, and creating, updating or deleting in dependency order with
//! bounded concurrency. Teardown goes by kind rank, highest first, so it
//! works from any partial state. It knows nothing of Kubernetes: the
//! controller and the CLI both drive it, one pass at a time.

pub mod calls;
pub mod context;
pub mod error;
pub mod fields;
pub mod graph;
pub mod outcome;
pub mod pace;
pub mod resource;
mod run;

pub use calls::{CallCounter, CallKey};
pub use context::{Clients, Context, DataIntent, StackIdentity};
pub use error::{AwsError, ErrorClass};
pub use fields::{Change, Changes, Fields, KNOWN_AFTER_APPLY, diff};
pub use graph::{Graph, Node};
pub use outcome::{Action, NodeOutcome, PassOutcome, Settled};
pub use pace::Pacer;
pub use resource::{
    Deletion, Inputs, Kind, KindOps, NotFound, Observed, Pace, Resource, Status, Updated,
};
pub use run::{Engine, EngineOptions};
