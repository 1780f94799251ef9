//! One pass of plan, apply or destroy over a stack.

use std::collections::{BTreeMap, VecDeque};

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::api::status::ResourceState;

use super::calls::CallKey;
use super::context::{Clients, Context};
use super::error::{AwsError, ErrorClass};
use super::fields::{Change, diff};
use super::graph::{Graph, Node};
use super::outcome::{Action, NodeOutcome, PassOutcome, Settled};
use super::pace;
use super::resource::{Deletion, Inputs, Kind, Observed, Status};

/// How the engine may act.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// AWS calls of one stack in flight at once.
    pub concurrency: usize,
    /// `false` (ObserveOnly): observe and report drift, never write.
    pub managed: bool,
    /// `true`: no AWS write at all for this stack.
    pub paused: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            managed: true,
            paused: false,
        }
    }
}

impl EngineOptions {
    fn may_write(&self) -> bool {
        self.managed && !self.paused
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Plan,
    Apply,
}

/// Walks graphs; holds no state between passes (AWS and its tags are the
/// state), so a crash between two calls loses nothing.
#[derive(Clone, Debug, Default)]
pub struct Engine {
    pub options: EngineOptions,
}

/// What one kind observation found, by kind name.
type Observations = BTreeMap<&'static str, Vec<Observed>>;

/// Resources found, each with its kind.
type Found<C> = Vec<(Kind<C>, Observed)>;

impl Engine {
    pub fn new(options: EngineOptions) -> Self {
        Self { options }
    }

    /// What `apply` would do, without writing anything.
    pub async fn plan<C: Clients>(&self, cx: &Context<C>, graph: &Graph<C>) -> PassOutcome {
        self.converge(cx, graph, Mode::Plan, None).await
    }

    /// One pass towards the desired state. Call again until `converged`
    /// (or a terminal error): resources that are still becoming available
    /// hold their dependents back until a later pass.
    pub async fn apply<C: Clients>(&self, cx: &Context<C>, graph: &Graph<C>) -> PassOutcome {
        self.converge(cx, graph, Mode::Apply, None).await
    }

    /// An apply pass soon after `last` over the same graph: kinds `last`
    /// found settled are taken as read, so while AWS works on a database
    /// for half an hour each look observes only what is still moving.
    pub async fn apply_following<C: Clients>(
        &self,
        cx: &Context<C>,
        graph: &Graph<C>,
        last: &PassOutcome,
    ) -> PassOutcome {
        self.converge(cx, graph, Mode::Apply, Some(&last.settled))
            .await
    }

    async fn converge<C: Clients>(
        &self,
        cx: &Context<C>,
        graph: &Graph<C>,
        mode: Mode,
        settled: Option<&Settled>,
    ) -> PassOutcome {
        let before = cx.clients.calls().snapshot();
        let mut pass = self.converge_counted(cx, graph, mode, settled).await;
        pass.calls = calls_since(cx, &before);
        pass
    }

    async fn converge_counted<C: Clients>(
        &self,
        cx: &Context<C>,
        graph: &Graph<C>,
        mode: Mode,
        settled: Option<&Settled>,
    ) -> PassOutcome {
        let mut pass = PassOutcome::default();
        let kinds = graph.kinds();
        let unsettled: Vec<Kind<C>> = kinds
            .iter()
            .copied()
            .filter(|k| settled.is_none_or(|s| !s.kinds.contains_key(k.name())))
            .collect();
        let shared_before = cx.clients.calls().shared();
        let mut observations = match observe_unsettled(cx, &unsettled, settled).await {
            Ok(found) => found,
            Err(error) => return failed_observation(graph, error),
        };
        // Reads shared with other stacks may be a window old: a pass that
        // would change anything reads afresh first, so a shared read never
        // causes a duplicate create or an update over a newer state.
        if mode == Mode::Apply
            && cx.clients.calls().shared() > shared_before
            && self.would_change(cx, graph, &observations).await
        {
            cx.clients.read_fresh();
            observations = match observe_unsettled(cx, &unsettled, settled).await {
                Ok(found) => found,
                Err(error) => return failed_observation(graph, error),
            };
        }
        let observed = (mode == Mode::Apply).then(|| observations.clone());
        let (mut claimed, orphans) = claim(graph, observations);
        let mut outcomes = self.walk(cx, graph, &mut claimed, mode).await;
        pass.writes = outcomes.iter().filter(|o| wrote(o, mode)).count();
        pass.terminal = first_terminal(&outcomes);
        let nodes_ready = outcomes.iter().all(NodeOutcome::is_ready);
        pass.pace = pace::in_flight(
            graph
                .nodes()
                .iter()
                .zip(&outcomes)
                .map(|(node, out)| (&out.state, node.kind().pace())),
        );
        if let Some(observed) = observed {
            pass.settled = std::sync::Arc::new(settle(graph, observed, &outcomes, &orphans));
        }

        let mut orphans_left = !orphans.is_empty();
        match mode {
            Mode::Plan => outcomes.extend(orphans.iter().map(|(kind, o)| {
                let mut out = orphan_outcome(*kind, o);
                out.action = Action::Delete;
                out
            })),
            // Orphans go only once everything desired is in place: a route
            // must move to the new NAT gateway before the old one is deleted.
            Mode::Apply if self.options.may_write() && nodes_ready && pass.terminal.is_none() => {
                let (deleted, all_gone) = self.delete_by_rank(cx, orphans).await;
                pass.writes += deleted
                    .iter()
                    .filter(|o| o.action == Action::Delete)
                    .count();
                orphans_left = !all_gone;
                outcomes.extend(deleted);
            }
            Mode::Apply => outcomes.extend(orphans.iter().map(|(kind, o)| {
                let mut out = orphan_outcome(*kind, o);
                out.message = Some("no longer in the spec; deleted once the stack is ready".into());
                out
            })),
        }
        pass.converged = nodes_ready && !orphans_left && pass.terminal.is_none();
        pass.nodes = outcomes;
        pass
    }

    /// Whether a pass over `observations` would create, update, report or
    /// delete anything (a plan: no call is made).
    async fn would_change<C: Clients>(
        &self,
        cx: &Context<C>,
        graph: &Graph<C>,
        observations: &Observations,
    ) -> bool {
        let (mut claimed, orphans) = claim(graph, observations.clone());
        if let Some((kind, orphan)) = orphans.first() {
            tracing::debug!(kind = kind.name(), id = %orphan.id, "shared reads show an orphan: reading afresh");
            return true;
        }
        let plan = self.walk(cx, graph, &mut claimed, Mode::Plan).await;
        match plan.iter().find(|o| o.action != Action::NoChange) {
            Some(change) => {
                tracing::debug!(node = %change.key, action = ?change.action, "shared reads show a change: reading afresh");
                true
            }
            None => false,
        }
    }

    /// Nodes in dependency order, at most `concurrency` at once.
    async fn walk<C: Clients>(
        &self,
        cx: &Context<C>,
        graph: &Graph<C>,
        claimed: &mut BTreeMap<String, Observed>,
        mode: Mode,
    ) -> Vec<NodeOutcome> {
        let nodes = graph.nodes();
        let index: BTreeMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.key.as_str(), i))
            .collect();
        let mut waiting_on: Vec<usize> = nodes.iter().map(|n| n.depends_on.len()).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        for (i, node) in nodes.iter().enumerate() {
            for dep in &node.depends_on {
                dependents[index[dep.as_str()]].push(i);
            }
        }
        let mut outcomes: Vec<Option<NodeOutcome>> = vec![None; nodes.len()];
        let mut queue: VecDeque<usize> = (0..nodes.len()).filter(|&i| waiting_on[i] == 0).collect();
        let mut running = FuturesUnordered::new();

        loop {
            while running.len() < self.options.concurrency.max(1) {
                let Some(i) = queue.pop_front() else { break };
                let node = &nodes[i];
                let mut inputs = Inputs::default();
                let mut blocked_by = None;
                for dep in &node.depends_on {
                    let dep_outcome = outcomes[index[dep.as_str()]]
                        .as_ref()
                        .expect("dependencies finish first");
                    if usable(dep_outcome) {
                        inputs.insert(dep, dep_outcome.outputs.clone());
                    } else if blocked_by.is_none() {
                        blocked_by = Some(dep.clone());
                    }
                }
                let observed = claimed.remove(&node.key);
                match (blocked_by, mode) {
                    (Some(dep), Mode::Apply) => {
                        let mut out = NodeOutcome::new(&node.key, node.kind().name());
                        if let Some(o) = &observed {
                            out.id = Some(o.id.clone());
                            out.arn.clone_from(&o.arn);
                        }
                        out.message = Some(format!("waiting for {dep}"));
                        running.push(futures::future::Either::Left(futures::future::ready((
                            i, out,
                        ))));
                    }
                    _ => running.push(futures::future::Either::Right(async move {
                        (
                            i,
                            self.converge_node(cx, node, &inputs, observed, mode).await,
                        )
                    })),
                }
            }
            let Some((i, outcome)) = running.next().await else {
                break;
            };
            outcomes[i] = Some(outcome);
            for &d in &dependents[i] {
                waiting_on[d] -= 1;
                if waiting_on[d] == 0 {
                    queue.push_back(d);
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.expect("every node runs"))
            .collect()
    }

    async fn converge_node<C: Clients>(
        &self,
        cx: &Context<C>,
        node: &Node<C>,
        inputs: &Inputs,
        observed: Option<Observed>,
        mode: Mode,
    ) -> NodeOutcome {
        let key = node.key.as_str();
        let mut out = NodeOutcome::new(key, node.kind().name());
        let desired = node.resource.desired(key, cx, inputs);
        let Some(current) = observed else {
            match mode {
                Mode::Plan => out.action = Action::Create,
                Mode::Apply if !self.options.may_write() => {
                    out.message = Some(format!("missing; not created ({})", self.why_read_only()));
                }
                Mode::Apply => match node.resource.create(key, cx, inputs).await {
                    Ok(created) => {
                        out.action = Action::Create;
                        record(&mut out, &created);
                        tracing::info!(node = key, id = %created.id, "created");
                    }
                    Err(error) => fail(&mut out, error),
                },
            }
            return out;
        };
        record(&mut out, &current);
        let changes: Vec<Change> = diff(&desired, &current.fields)
            .into_iter()
            .filter(|c| {
                !c.from
                    .as_deref()
                    .is_some_and(|seen| node.resource.satisfies(&c.field, &c.to, seen))
            })
            .collect();
        if changes.is_empty() {
            out.action = Action::NoChange;
            return out;
        }
        match mode {
            Mode::Plan => out.action = Action::Update(changes),
            Mode::Apply if !self.options.may_write() => {
                out.state = ResourceState::Drifted;
                out.message = Some(format!(
                    "drifted ({}): {}",
                    self.why_read_only(),
                    changes
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                out.action = Action::Drift(changes);
            }
            Mode::Apply => match node
                .resource
                .apply_update(key, cx, inputs, &current, &changes)
                .await
            {
                Ok(updated) => {
                    if let Some(outputs) = updated.outputs {
                        out.outputs = outputs;
                    }
                    tracing::info!(node = key, changes = changes.len(), "updated");
                    out.message = Some(format!(
                        "corrected: {}",
                        changes
                            .iter()
                            .map(|c| c.field.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                    if let Some(progress) = updated.in_progress {
                        out.state = ResourceState::Updating;
                        out.message = Some(progress);
                    }
                    out.action = Action::Update(changes);
                }
                Err(error) => {
                    fail(&mut out, error);
                    // An existing resource AWS is still working on (a refresh
                    // under way) stays usable by its dependents.
                    if out.state == ResourceState::Pending {
                        out.state = ResourceState::Updating;
                    }
                }
            },
        }
        out
    }

    fn why_read_only(&self) -> &'static str {
        if self.options.paused {
            "paused"
        } else {
            "ObserveOnly"
        }
    }

    /// One teardown pass over every resource of `kinds` the stack owns:
    /// highest rank first; a lower rank only once every higher one is gone.
    pub async fn destroy<C: Clients>(&self, cx: &Context<C>, kinds: &[Kind<C>]) -> PassOutcome {
        let before = cx.clients.calls().snapshot();
        let mut pass = self.destroy_counted(cx, kinds).await;
        pass.calls = calls_since(cx, &before);
        pass
    }

    async fn destroy_counted<C: Clients>(&self, cx: &Context<C>, kinds: &[Kind<C>]) -> PassOutcome {
        let mut pass = PassOutcome::default();
        // Teardown deletes what it finds: it reads AWS, not shared answers.
        cx.clients.read_fresh();
        let observations = match observe(cx, kinds).await {
            Ok(found) => found,
            Err(error) => {
                pass.terminal = (error.class == ErrorClass::Terminal).then(|| error.clone());
                let mut out = NodeOutcome::new("(observe)", "Stack");
                fail(&mut out, error);
                pass.nodes.push(out);
                return pass;
            }
        };
        let everything: Vec<(Kind<C>, Observed)> = kinds
            .iter()
            .flat_map(|kind| {
                observations
                    .get(kind.name())
                    .into_iter()
                    .flatten()
                    .map(move |o| (*kind, o.clone()))
            })
            .collect();
        if self.options.paused {
            pass.nodes = everything
                .iter()
                .map(|(kind, o)| {
                    let mut out = orphan_outcome(*kind, o);
                    out.message = Some("paused: not deleted".into());
                    out
                })
                .collect();
            return pass;
        }
        // Done only when an observation finds nothing: deletes that AWS
        // accepted are confirmed by the next pass, not assumed.
        if everything.is_empty() {
            pass.converged = true;
            return pass;
        }
        let (outcomes, _all_gone) = self.delete_by_rank(cx, everything).await;
        pass.writes = outcomes
            .iter()
            .filter(|o| o.action == Action::Delete)
            .count();
        pass.terminal = first_terminal(&outcomes);
        pass.pace = pace::in_flight(outcomes.iter().filter_map(|out| {
            let kind = kinds.iter().find(|k| k.name() == out.kind)?;
            Some((&out.state, kind.pace()))
        }));
        // Only what the stack retains on purpose is left: teardown is done.
        pass.converged = outcomes.iter().all(|o| o.state == ResourceState::Retained);
        pass.nodes = outcomes;
        pass
    }

    /// Deletes `items` rank by rank, highest first, stopping at the first
    /// rank that is not completely gone. Returns the outcomes and whether
    /// everything is gone.
    async fn delete_by_rank<C: Clients>(
        &self,
        cx: &Context<C>,
        mut items: Vec<(Kind<C>, Observed)>,
    ) -> (Vec<NodeOutcome>, bool) {
        items.sort_by_key(|(kind, o)| (std::cmp::Reverse(kind.rank()), o.component.clone()));
        let mut outcomes = Vec::new();
        let mut stop = false;
        // Resources a retained one needs: found at lower ranks, left alone.
        let mut kept: BTreeMap<(&'static str, String), String> = BTreeMap::new();
        let mut rest = items.as_slice();
        while let Some((first, _)) = rest.first() {
            let rank = first.rank();
            let split = rest
                .iter()
                .position(|(k, _)| k.rank() != rank)
                .unwrap_or(rest.len());
            let (this_rank, lower) = rest.split_at(split);
            rest = lower;
            if stop {
                outcomes.extend(this_rank.iter().map(|(kind, o)| {
                    let mut out = orphan_outcome(*kind, o);
                    out.message = Some("waiting for the resources that depend on it".into());
                    out
                }));
                continue;
            }
            // Futures built in a loop, not by a closure over references, so
            // the pass stays Send inside generic controller streams.
            let mut deletions = Vec::with_capacity(this_rank.len());
            for (kind, observed) in this_rank {
                if let Some(by) = kept.get(&(kind.name(), observed.id.clone())) {
                    let mut out = orphan_outcome(*kind, observed);
                    out.state = ResourceState::Retained;
                    out.message = Some(format!("kept: {by} needs it"));
                    outcomes.push(out);
                    continue;
                }
                deletions.push(self.delete_one(cx, *kind, observed));
            }
            let results: Vec<(NodeOutcome, Vec<(&'static str, String)>)> =
                futures::stream::iter(deletions)
                    .buffer_unordered(self.options.concurrency.max(1))
                    .collect()
                    .await;
            for (out, keep) in results {
                // A held resource names what it needs: the rest may go.
                let held = out.state == ResourceState::Blocked && !keep.is_empty();
                stop |=
                    !held && !matches!(out.state, ResourceState::Deleted | ResourceState::Retained);
                for needed in keep {
                    kept.insert(needed, out.key.clone());
                }
                outcomes.push(out);
            }
        }
        (outcomes, !stop)
    }

    /// Deletes one resource; returns its outcome and, when it is retained or
    /// held, the resources it needs.
    async fn delete_one<C: Clients>(
        &self,
        cx: &Context<C>,
        kind: Kind<C>,
        observed: &Observed,
    ) -> (NodeOutcome, Vec<(&'static str, String)>) {
        let mut out = orphan_outcome(kind, observed);
        out.action = Action::Delete;
        let mut keep = Vec::new();
        match kind.delete(cx, observed).await {
            Ok(Deletion::Done) => {
                tracing::info!(node = %observed.component, id = %observed.id, "deleted");
                out.state = ResourceState::Deleted;
            }
            Ok(Deletion::InProgress(message)) => {
                out.state = ResourceState::Deleting;
                out.message = Some(message);
            }
            Ok(Deletion::Blocked(message)) => {
                out.action = Action::None;
                out.state = ResourceState::Blocked;
                out.message = Some(message);
            }
            Ok(Deletion::Held {
                message,
                keep: needs,
            }) => {
                out.action = Action::None;
                out.state = ResourceState::Blocked;
                out.message = Some(message);
                keep = needs;
            }
            Ok(Deletion::Retained {
                message,
                keep: needs,
            }) => {
                out.action = Action::None;
                out.state = ResourceState::Retained;
                out.message = Some(message);
                keep = needs;
            }
            Err(error) if error.is_not_found() => out.state = ResourceState::Deleted,
            Err(error) => fail(&mut out, error),
        }
        (out, keep)
    }
}

/// Calls counted on `cx` since `before` was taken. (Another pass sharing
/// the same clients at the same time would be counted too: each stack's
/// passes get their own clients.)
fn calls_since<C: Clients>(
    cx: &Context<C>,
    before: &BTreeMap<CallKey, u64>,
) -> BTreeMap<CallKey, u64> {
    cx.clients
        .calls()
        .snapshot()
        .into_iter()
        .filter_map(|(key, n)| {
            let delta = n - before.get(&key).copied().unwrap_or(0);
            (delta > 0).then_some((key, delta))
        })
        .collect()
}

/// The resources of the kinds not `settled`, observed, with the settled
/// ones as a previous pass found them.
async fn observe_unsettled<C: Clients>(
    cx: &Context<C>,
    unsettled: &[Kind<C>],
    settled: Option<&Settled>,
) -> Result<Observations, AwsError> {
    let mut observations = observe(cx, unsettled).await?;
    if let Some(settled) = settled {
        for (name, found) in &settled.kinds {
            observations.insert(name, found.clone());
        }
    }
    Ok(observations)
}

/// Every kind's resources, observed concurrently, one call (or page run) each.
async fn observe<C: Clients>(cx: &Context<C>, kinds: &[Kind<C>]) -> Result<Observations, AwsError> {
    let mut observations = Vec::with_capacity(kinds.len());
    for kind in kinds {
        observations.push(observe_kind(cx, *kind));
    }
    futures::future::join_all(observations)
        .await
        .into_iter()
        .collect()
}

async fn observe_kind<C: Clients>(
    cx: &Context<C>,
    kind: Kind<C>,
) -> Result<(&'static str, Vec<Observed>), AwsError> {
    kind.observe_all(cx).await.map(|found| (kind.name(), found))
}

/// The observations of the kinds whose every node `outcomes` found as
/// desired and ready, or missing and waiting for a dependency (nothing but
/// this stack creates it), and that have no orphan.
fn settle<C: Clients>(
    graph: &Graph<C>,
    mut observed: Observations,
    outcomes: &[NodeOutcome],
    orphans: &Found<C>,
) -> Settled {
    let mut unsettled: std::collections::BTreeSet<&'static str> =
        orphans.iter().map(|(kind, _)| kind.name()).collect();
    for (node, out) in graph.nodes().iter().zip(outcomes) {
        let as_desired = out.action == Action::NoChange && out.state == ResourceState::Ready;
        let waiting_to_be_created = out.action == Action::None
            && out.id.is_none()
            && out.error.is_none()
            && out.state == ResourceState::Pending;
        if !(as_desired || waiting_to_be_created) {
            unsettled.insert(node.kind().name());
        }
    }
    observed.retain(|name, _| !unsettled.contains(name));
    Settled { kinds: observed }
}

/// Gives each node the resource tagged with its key; everything else
/// (resources of removed nodes, duplicates) is an orphan.
fn claim<C: Clients>(
    graph: &Graph<C>,
    mut observations: Observations,
) -> (BTreeMap<String, Observed>, Found<C>) {
    let mut claimed = BTreeMap::new();
    for node in graph.nodes() {
        let found = observations.entry(node.kind().name()).or_default();
        if let Some(pos) = found.iter().position(|o| o.component == node.key) {
            claimed.insert(node.key.clone(), found.remove(pos));
        }
    }
    let kinds = graph.kinds();
    let orphans = kinds
        .iter()
        .flat_map(|kind| {
            observations
                .remove(kind.name())
                .unwrap_or_default()
                .into_iter()
                .map(move |o| (*kind, o))
        })
        .collect();
    (claimed, orphans)
}

fn record(out: &mut NodeOutcome, observed: &Observed) {
    out.id = Some(observed.id.clone());
    out.arn.clone_from(&observed.arn);
    out.outputs.clone_from(&observed.outputs);
    match &observed.status {
        Status::Ready => out.state = ResourceState::Ready,
        Status::Pending(state) => {
            out.state = ResourceState::Creating;
            out.message = Some(format!("AWS state: {state}"));
        }
        Status::Noted(note) => {
            out.state = ResourceState::Ready;
            out.message = Some(note.clone());
        }
        Status::Deploying(state) => {
            out.state = ResourceState::Updating;
            out.message = Some(format!("AWS state: {state}"));
        }
    }
}

fn fail(out: &mut NodeOutcome, error: AwsError) {
    out.state = match error.class {
        ErrorClass::Terminal => ResourceState::Failed,
        ErrorClass::Retryable | ErrorClass::DependencyNotReady => ResourceState::Pending,
    };
    let verb = if error.class == ErrorClass::Terminal {
        "failed"
    } else {
        "will retry"
    };
    out.message = Some(format!("{verb}: {error}"));
    tracing::warn!(node = %out.key, class = ?error.class, %error, "AWS call failed");
    out.error = Some(error);
}

/// A node whose dependents may proceed: it exists, and is usable.
fn usable(outcome: &NodeOutcome) -> bool {
    matches!(
        outcome.state,
        ResourceState::Ready | ResourceState::Drifted | ResourceState::Updating
    ) && outcome.id.is_some()
}

fn wrote(outcome: &NodeOutcome, mode: Mode) -> bool {
    mode == Mode::Apply
        && outcome.error.is_none()
        && matches!(outcome.action, Action::Create | Action::Update(_))
}

fn first_terminal(outcomes: &[NodeOutcome]) -> Option<AwsError> {
    outcomes
        .iter()
        .filter_map(|o| o.error.as_ref())
        .find(|e| e.class == ErrorClass::Terminal)
        .cloned()
}

fn orphan_outcome<C: Clients>(kind: Kind<C>, observed: &Observed) -> NodeOutcome {
    let key = if observed.component.is_empty() {
        observed.id.clone()
    } else {
        observed.component.clone()
    };
    let mut out = NodeOutcome::new(&key, kind.name());
    out.id = Some(observed.id.clone());
    out.arn.clone_from(&observed.arn);
    out
}

fn failed_observation<C: Clients>(graph: &Graph<C>, error: AwsError) -> PassOutcome {
    let mut pass = PassOutcome {
        terminal: (error.class == ErrorClass::Terminal).then(|| error.clone()),
        ..PassOutcome::default()
    };
    pass.nodes = graph
        .nodes()
        .iter()
        .map(|node| {
            let mut out = NodeOutcome::new(&node.key, node.kind().name());
            fail(&mut out, error.clone());
            out
        })
        .collect();
    pass
}
