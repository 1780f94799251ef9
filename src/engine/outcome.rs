//! What a pass did and found, node by node.

use std::collections::BTreeMap;

use crate::api::status::ResourceState;

use super::calls::{CallKey, is_mutating};
use super::error::AwsError;
use super::fields::{Change, Fields};

/// What the pass did (or, for a plan, would do) to a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    NoChange,
    Create,
    Update(Vec<Change>),
    /// Drift found and left alone (ObserveOnly or paused).
    Drift(Vec<Change>),
    Delete,
    /// Nothing was attempted (a dependency is not ready, or an error).
    None,
}

/// One node (or orphan) after a pass.
#[derive(Clone, Debug)]
pub struct NodeOutcome {
    pub key: String,
    pub kind: &'static str,
    pub id: Option<String>,
    pub arn: Option<String>,
    pub action: Action,
    pub state: ResourceState,
    pub message: Option<String>,
    pub outputs: Fields,
    pub error: Option<AwsError>,
}

impl NodeOutcome {
    pub fn new(key: &str, kind: &'static str) -> Self {
        Self {
            key: key.to_string(),
            kind,
            id: None,
            arn: None,
            action: Action::None,
            state: ResourceState::Pending,
            message: None,
            outputs: Fields::new(),
            error: None,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.state == ResourceState::Ready
    }
}

/// The result of one pass over a stack.
#[derive(Clone, Debug, Default)]
pub struct PassOutcome {
    pub nodes: Vec<NodeOutcome>,
    /// Everything is as desired (apply) or gone (destroy).
    pub converged: bool,
    /// The first terminal error: the pass cannot converge until the spec or
    /// the account changes.
    pub terminal: Option<AwsError>,
    /// Creates, updates and deletes the pass made (each may be several calls).
    pub writes: usize,
    /// AWS calls the pass made, by service, operation and outcome.
    pub calls: BTreeMap<CallKey, u64>,
}

impl PassOutcome {
    /// Whether anything would change (for `plan`).
    pub fn has_changes(&self) -> bool {
        self.nodes
            .iter()
            .any(|n| !matches!(n.action, Action::NoChange | Action::None))
    }

    /// Mutating AWS calls the pass made.
    pub fn mutating_calls(&self) -> u64 {
        self.calls
            .iter()
            .filter(|(k, _)| is_mutating(&k.operation))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn node(&self, key: &str) -> Option<&NodeOutcome> {
        self.nodes.iter().find(|n| n.key == key)
    }
}
