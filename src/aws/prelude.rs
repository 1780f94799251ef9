//! What every kind module imports: the engine's vocabulary bound to the
//! AWS clients, and the helpers every kind uses.

pub use async_trait::async_trait;

pub use crate::engine::{
    AwsError, Change, Changes, Deletion, ErrorClass, Fields, Inputs, KindOps, NotFound, Observed,
    Pace, Resource, StackIdentity, Status, Updated,
};

pub use super::config::AwsClients;
pub use super::shared::{created, id_outputs, set_field, set_items, tag_fields, with_tags};
pub use super::{Context, Graph, Kind, Node, built_wrongly, missing, sdk};
