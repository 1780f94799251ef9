//! What the engine asks of every AWS resource kind.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use super::context::{Clients, Context};
use super::error::AwsError;
use super::fields::{Change, Fields, KNOWN_AFTER_APPLY};

/// A resource kind: how to find every resource of that kind a stack owns,
/// and how to delete one. `rank` orders teardown: a resource may depend only
/// on resources of lower rank (or on its own kind, through graph edges), so
/// deleting the highest rank first is always safe.
#[async_trait]
pub trait KindOps<C: Clients>: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn rank(&self) -> u8;
    /// How fast AWS brings a resource of this kind to a usable state:
    /// how often a pass waiting on one looks again.
    fn pace(&self) -> Pace {
        Pace::QUICK
    }
    /// Every live resource of this kind carrying the stack's uid tag, in one
    /// call where the API allows (by tag filter).
    async fn observe_all(&self, cx: &Context<C>) -> Result<Vec<Observed>, AwsError>;
    /// Whether AWS refuses a second create of the same resource (the same
    /// caller reference or name) rather than making another: such a kind
    /// may create on a shared read that says "missing", without reading
    /// the kind afresh, since a stale answer costs a refused call, never a
    /// duplicate. Only for kinds whose `create` finds the first resource on
    /// that refusal.
    fn creates_idempotently(&self) -> bool {
        false
    }
    /// Starts or finishes deleting `observed`.
    async fn delete(&self, cx: &Context<C>, observed: &Observed) -> Result<Deletion, AwsError>;
}

/// How often to look at a resource AWS is working on: `first` after it
/// started, then twice as long each time nothing changed, at most `cap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pace {
    pub first: Duration,
    pub cap: Duration,
}

impl Pace {
    /// Resources AWS makes ready in seconds (or that the next pass creates).
    pub const QUICK: Pace = Pace::secs(1, 15);
    /// Resources that take a minute or two: NAT gateways, load balancers.
    pub const MINUTES: Pace = Pace::secs(15, 60);
    /// Databases, caches, CDN distributions: 5 to 40 minutes.
    pub const SLOW: Pace = Pace::secs(30, 60);

    pub const fn secs(first: u64, cap: u64) -> Self {
        Self {
            first: Duration::from_secs(first),
            cap: Duration::from_secs(cap),
        }
    }

    /// The quicker of two paces, bound by bound.
    pub(super) fn quicker(self, other: Pace) -> Pace {
        Pace {
            first: self.first.min(other.first),
            cap: self.cap.min(other.cap),
        }
    }
}

/// A kind, as resources and graphs refer to it.
pub type Kind<C> = &'static dyn KindOps<C>;

/// One resource the stack should have.
#[async_trait]
pub trait Resource<C: Clients>: Send + Sync {
    fn kind(&self) -> Kind<C>;
    /// Desired comparable state, given the outputs of the dependencies.
    fn desired(&self, key: &str, cx: &Context<C>, inputs: &Inputs) -> Fields;
    /// Creates it, tagged in the same call, and returns it as observed.
    async fn create(
        &self,
        key: &str,
        cx: &Context<C>,
        inputs: &Inputs,
    ) -> Result<Observed, AwsError>;
    /// The mutating operations `create` makes against an account that has
    /// none of it yet, one entry per call, named as the call counter names
    /// them (`["CreateVpc", "ModifyVpcAttribute", "ModifyVpcAttribute"]`).
    /// Summed over a graph they are the honest baseline of a stack's
    /// create: a duplicate create or a repeated follow-up shows as a call
    /// beyond them, and a test fails when a kind makes a call it does not
    /// declare. Per node, since follow-ups depend on the spec (a security
    /// group's rules, a topic's subscriptions, a bucket's lifecycle).
    fn create_calls(&self) -> Vec<&'static str>;
    /// Brings `current` to the desired state; `changes` are the differing fields.
    async fn update(
        &self,
        key: &str,
        cx: &Context<C>,
        inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError>;

    /// Whether an observed value satisfies the desired one. Equality, except
    /// where AWS may legitimately move ahead of the spec (a minor engine
    /// upgrade, storage grown by autoscaling).
    fn satisfies(&self, _field: &str, desired: &str, observed: &str) -> bool {
        desired == observed
    }

    /// `update`, telling the engine what it changed beyond the fields: new
    /// outputs (a launch template's new version), so dependents see them in
    /// the same pass, or work AWS goes on doing after the call returns.
    async fn apply_update(
        &self,
        key: &str,
        cx: &Context<C>,
        inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<Updated, AwsError> {
        self.update(key, cx, inputs, current, changes)
            .await
            .map(|()| Updated::default())
    }
}

/// What an update changed beyond the fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Updated {
    /// New outputs, when the update changed them.
    pub outputs: Option<Fields>,
    /// Set when AWS carries on after the call (an instance refresh, a
    /// pending modification): the node stays Updating until a later pass
    /// observes the result.
    pub in_progress: Option<String>,
}

/// A resource as found in AWS.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// Node key from the `stackops.io/component` tag.
    pub component: String,
    pub id: String,
    pub arn: Option<String>,
    pub fields: Fields,
    /// Values dependents read (`id`, `cidr`, ...).
    pub outputs: Fields,
    pub status: Status,
}

/// Whether a resource can be used by its dependents yet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Status {
    #[default]
    Ready,
    /// Exists but is not usable yet (e.g. `pending`), with AWS's state.
    Pending(String),
    /// Usable and as specified, with something worth showing (changes
    /// waiting for the maintenance window, a modification under way).
    Noted(String),
    /// Usable by dependents, but AWS is still rolling it out (a CloudFront
    /// distribution deploying to the edge): the stack is not Ready yet.
    Deploying(String),
}

/// Result of a delete call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deletion {
    /// Gone (or was already gone).
    Done,
    /// Deleting; look again on the next pass.
    InProgress(String),
    /// Deliberately not deleted (deletion protection): says what to change.
    /// Everything of lower rank waits.
    Blocked(String),
    /// Not deleted until something changes (deletion protection), saying
    /// what to change; teardown goes on with everything but `keep`, the
    /// resources it needs (`(kind name, id)`), and does not finish.
    Held {
        message: String,
        keep: Vec<(&'static str, String)>,
    },
    /// Left in AWS for good (deletion policy `Retain`), with the resources
    /// it needs (`(kind name, id)`), which teardown leaves too.
    Retained {
        message: String,
        keep: Vec<(&'static str, String)>,
    },
}

/// "Not found" as an answer rather than a failure: deleting something gone
/// is done, reading something gone finds nothing.
pub trait NotFound<T> {
    /// `None` when AWS says the thing does not exist.
    fn found(self) -> Result<Option<T>, AwsError>;
    /// A delete call's result: done, also when it was gone already.
    fn deleted(self) -> Result<Deletion, AwsError>;
    /// Success, also when the thing was gone already.
    fn or_gone(self) -> Result<(), AwsError>;
    /// A delete call AWS carries out over time: in progress with `what`,
    /// or done when it was gone already.
    fn deleting(self, what: impl Into<String>) -> Result<Deletion, AwsError>;
}

impl<T> NotFound<T> for Result<T, AwsError> {
    fn found(self) -> Result<Option<T>, AwsError> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn deleted(self) -> Result<Deletion, AwsError> {
        self.found().map(|_| Deletion::Done)
    }

    fn or_gone(self) -> Result<(), AwsError> {
        self.found().map(|_| ())
    }

    fn deleting(self, what: impl Into<String>) -> Result<Deletion, AwsError> {
        Ok(match self.found()? {
            Some(_) => Deletion::InProgress(what.into()),
            None => Deletion::Done,
        })
    }
}

/// Outputs of a node's dependencies, by dependency key.
#[derive(Clone, Debug, Default)]
pub struct Inputs(BTreeMap<String, Fields>);

impl Inputs {
    pub fn insert(&mut self, key: &str, outputs: Fields) {
        self.0.insert(key.to_string(), outputs);
    }

    /// Output `field` of dependency `key`, or the plan placeholder when the
    /// dependency does not exist yet.
    pub fn get(&self, key: &str, field: &str) -> String {
        self.0
            .get(key)
            .and_then(|outputs| outputs.get(field))
            .cloned()
            .unwrap_or_else(|| KNOWN_AFTER_APPLY.to_string())
    }

    /// Like `get`, for `create` and `update`, where every dependency is ready.
    pub fn require(&self, key: &str, field: &str) -> Result<String, AwsError> {
        self.0
            .get(key)
            .and_then(|o| o.get(field))
            .cloned()
            .ok_or_else(|| {
                AwsError::new(
                    super::error::ErrorClass::DependencyNotReady,
                    "resolve",
                    "MissingInput",
                    format!("{key} has no output {field} yet"),
                )
            })
    }
}
