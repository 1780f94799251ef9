//! What a pass did and found, node by node.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::status::ResourceState;

use super::calls::{CallKey, is_mutating};
use super::error::AwsError;
use super::fields::{Change, Fields};
use super::resource::{Observed, Pace};

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
    /// The resource as the create that made it returned it.
    pub made: Option<Observed>,
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
            made: None,
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
    /// The pace of the quickest resource AWS is still working on, if any.
    pub pace: Option<Pace>,
    /// What a follow-up pass soon after may take as read instead of
    /// observing it again.
    pub settled: Arc<Settled>,
}

/// The observations of every kind whose resources a pass found all as
/// desired and ready (or not yet created, waiting for a dependency), with
/// no write to them and no orphan among them. Nothing but the stack
/// changes these, so a follow-up pass minutes later can reuse them; a
/// full pass (every resync, spec change or restart) looks again.
#[derive(Clone, Debug, Default)]
pub struct Settled {
    pub(super) kinds: BTreeMap<&'static str, Vec<Observed>>,
    /// What the stack made in recent passes, by kind, until an answer
    /// shows it: a list shared with other stacks may predate the create.
    pub(super) made: BTreeMap<&'static str, Vec<Observed>>,
}

impl Settled {
    /// Names of the kinds a follow-up pass will not observe.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.kinds.keys().copied()
    }
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
