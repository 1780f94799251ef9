//! One pass of plan, apply or destroy over a stack.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

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
        // The kinds AWS answered for this stack alone (`None`: no answer of
        // this pass was shared, so all were).
        let mut own_answers: Option<BTreeSet<&'static str>> = None;
        // What this stack made in recent passes, added to shared answers
        // that do not show it yet.
        let mut made_unseen = BTreeMap::new();
        if mode == Mode::Apply && cx.clients.calls().shared() > shared_before {
            if let Some(settled) = settled {
                made_unseen = add_what_it_made(&mut observations, &settled.made);
            }
            // Settled kinds came from this stack's own earlier pass.
            let mut fresh: BTreeSet<&'static str> = settled
                .map(|s| s.kinds.keys().copied().collect())
                .unwrap_or_default();
            // What it made while AWS was still making it: only AWS can say
            // whether it is done.
            let making: Vec<Kind<C>> = unsettled
                .iter()
                .copied()
                .filter(|k| made_unseen.get(k.name()).is_some_and(|m| still_making(m)))
                .collect();
            if !making.is_empty() {
                cx.clients.read_fresh();
                match observe(cx, &making).await {
                    Ok(found) => observations.extend(found),
                    Err(error) => return failed_observation(graph, error),
                }
                fresh.extend(making.iter().map(|k| k.name()));
            }
            observations = match self
                .read_afresh_what_it_acts_on(cx, graph, observations, &unsettled, &mut fresh)
                .await
            {
                Ok(found) => found,
                Err(error) => return failed_observation(graph, error),
            };
            // An answer from AWS for this stack alone is the truth.
            made_unseen.retain(|kind, _| !fresh.contains(kind));
            own_answers = Some(fresh);
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
            let read_fresh = |kind: &str| own_answers.as_ref().is_none_or(|f| f.contains(kind));
            let mut settled = settle(graph, observed, &outcomes, &orphans, read_fresh);
            settled.made = made_in(graph, &outcomes, made_unseen);
            pass.settled = std::sync::Arc::new(settled);
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

    /// Reads shared with other stacks may be a window old: before a pass
    /// writes, it reads afresh the kinds it is about to act on, so a shared
    /// read never causes a duplicate create or an update over a newer
    /// state. Fresh answers can bring more nodes within reach (a load
    /// balancer shown provisioning is active now), so it asks again until
    /// every kind the pass may act on is fresh. Kinds out of reach keep
    /// their shared answers: a stack waiting for its load balancer does not
    /// list the account's CloudFront distributions on every look.
    async fn read_afresh_what_it_acts_on<C: Clients>(
        &self,
        cx: &Context<C>,
        graph: &Graph<C>,
        mut observations: Observations,
        unsettled: &[Kind<C>],
        fresh: &mut BTreeSet<&'static str>,
    ) -> Result<Observations, AwsError> {
        loop {
            let acts_on = self.kinds_acted_on(cx, graph, &observations).await;
            let stale: Vec<Kind<C>> = unsettled
                .iter()
                .copied()
                .filter(|k| acts_on.contains(k.name()) && !fresh.contains(k.name()))
                .collect();
            if stale.is_empty() {
                return Ok(observations);
            }
            tracing::debug!(kinds = ?stale.iter().map(|k| k.name()).collect::<Vec<_>>(), "shared reads show a change: reading these kinds afresh");
            cx.clients.read_fresh();
            observations.extend(observe(cx, &stale).await?);
            fresh.extend(stale.iter().map(|k| k.name()));
        }
    }

    /// The kinds an apply pass over `observations` may write to, planned
    /// without a call: kinds with an orphan, kinds of nodes that would be
    /// created or updated and whose dependencies are usable or may become
    /// so within the pass, and kinds of the resources such a change waits
    /// for while AWS makes them (read afresh, they show the moment AWS is
    /// done).
    async fn kinds_acted_on<C: Clients>(
        &self,
        cx: &Context<C>,
        graph: &Graph<C>,
        observations: &Observations,
    ) -> BTreeSet<&'static str> {
        let (mut claimed, orphans) = claim(graph, observations.clone());
        let plan = self.walk(cx, graph, &mut claimed, Mode::Plan).await;
        let nodes = graph.nodes();
        let index = index_by_key(nodes);
        let mut reachable: Vec<Option<bool>> = vec![None; nodes.len()];
        let mut acts_on: BTreeSet<&'static str> = orphans.iter().map(|(k, _)| k.name()).collect();
        for (i, node) in nodes.iter().enumerate() {
            if plan[i].action == Action::NoChange {
                continue;
            }
            // A create AWS would refuse to repeat is safe on a shared answer.
            let safe_on_shared =
                plan[i].action == Action::Create && node.kind().creates_idempotently();
            if !safe_on_shared && within_reach(i, nodes, &index, &plan, &mut reachable) {
                acts_on.insert(node.kind().name());
            }
            for dep in &node.depends_on {
                let d = index[dep.as_str()];
                let in_the_making = plan[d].id.is_some() && !usable(&plan[d]);
                if in_the_making && within_reach(d, nodes, &index, &plan, &mut reachable) {
                    acts_on.insert(nodes[d].kind().name());
                }
            }
        }
        if let Some(first) = plan.iter().find(|o| o.action != Action::NoChange) {
            tracing::debug!(node = %first.key, action = ?first.action, "shared reads show a change");
        }
        acts_on
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
        let index = index_by_key(nodes);
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
                        out.made = Some(created);
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
/// this stack creates it), and that have no orphan. "Missing" counts only
/// from a kind `read_fresh` says AWS answered for this stack: a shared
/// answer may predate this stack's own create, and a kind taken as read
/// is not read again before the node is created.
fn settle<C: Clients>(
    graph: &Graph<C>,
    mut observed: Observations,
    outcomes: &[NodeOutcome],
    orphans: &Found<C>,
    read_fresh: impl Fn(&str) -> bool,
) -> Settled {
    let mut unsettled: BTreeSet<&'static str> =
        orphans.iter().map(|(kind, _)| kind.name()).collect();
    for (node, out) in graph.nodes().iter().zip(outcomes) {
        let as_desired = out.action == Action::NoChange && out.state == ResourceState::Ready;
        let waiting_to_be_created = out.action == Action::None
            && out.id.is_none()
            && out.error.is_none()
            && out.state == ResourceState::Pending
            && read_fresh(node.kind().name());
        if !(as_desired || waiting_to_be_created) {
            unsettled.insert(node.kind().name());
        }
    }
    observed.retain(|name, _| !unsettled.contains(name));
    Settled {
        kinds: observed,
        made: BTreeMap::new(),
    }
}

/// Adds to `observations` what the stack `made` in recent passes that a
/// shared answer does not show yet (its list predates the create), so a
/// pass soon after a create neither creates again nor reads the kind
/// afresh to learn what it already knows. Returns what it added.
fn add_what_it_made(
    observations: &mut Observations,
    made: &BTreeMap<&'static str, Vec<Observed>>,
) -> BTreeMap<&'static str, Vec<Observed>> {
    let mut added: BTreeMap<&'static str, Vec<Observed>> = BTreeMap::new();
    for (kind, resources) in made {
        // Settled kinds are this stack's own earlier answer.
        let Some(found) = observations.get_mut(kind) else {
            continue;
        };
        for resource in resources {
            if !found.iter().any(|o| o.component == resource.component) {
                found.push(resource.clone());
                added.entry(kind).or_default().push(resource.clone());
            }
        }
    }
    added
}

/// Whether AWS was still making any of `made` when it was last seen.
fn still_making(made: &[Observed]) -> bool {
    made.iter()
        .any(|o| matches!(o.status, Status::Pending(_) | Status::Deploying(_)))
}

/// What a following pass adds to shared answers: what this pass made,
/// and what it added itself and no answer has shown yet.
fn made_in<C: Clients>(
    graph: &Graph<C>,
    outcomes: &[NodeOutcome],
    mut unseen: BTreeMap<&'static str, Vec<Observed>>,
) -> BTreeMap<&'static str, Vec<Observed>> {
    for (node, out) in graph.nodes().iter().zip(outcomes) {
        if let Some(made) = &out.made {
            unseen
                .entry(node.kind().name())
                .or_default()
                .push(made.clone());
        }
    }
    unseen
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

/// Each node's position, by key.
fn index_by_key<C>(nodes: &[Node<C>]) -> BTreeMap<&str, usize> {
    nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.key.as_str(), i))
        .collect()
}

/// Whether an apply pass could reach node `i` of a `plan`: each of its
/// dependencies is usable, or would be created or updated by a node the
/// pass reaches (and may be usable once it is).
fn within_reach<C: Clients>(
    i: usize,
    nodes: &[Node<C>],
    index: &BTreeMap<&str, usize>,
    plan: &[NodeOutcome],
    memo: &mut [Option<bool>],
) -> bool {
    if let Some(known) = memo[i] {
        return known;
    }
    let reachable = nodes[i].depends_on.iter().all(|dep| {
        let d = index[dep.as_str()];
        usable(&plan[d])
            || (plan[d].action != Action::NoChange && within_reach(d, nodes, index, plan, memo))
    });
    memo[i] = Some(reachable);
    reachable
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

#[cfg(test)]
mod tests {
    //! Shared reads against a world whose kept answers lag AWS: which kinds
    //! a pass reads afresh, and that it never creates from a stale answer.

    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;

    use super::*;
    use crate::engine::calls::CallCounter;
    use crate::engine::{Fields, KindOps, StackIdentity};

    type World = BTreeMap<&'static str, Vec<Observed>>;

    /// AWS as it is, the answers kept from a while ago, and what the pass
    /// asked: reads are answered from `kept` until the pass reads afresh.
    #[derive(Clone, Default)]
    struct Lagging {
        calls: CallCounter,
        aws: Arc<Mutex<World>>,
        kept: Arc<World>,
        fresh: Arc<Mutex<bool>>,
        read_afresh: Arc<Mutex<Vec<&'static str>>>,
    }

    impl Clients for Lagging {
        fn calls(&self) -> &CallCounter {
            &self.calls
        }
        fn read_fresh(&self) {
            *self.fresh.lock().unwrap() = true;
        }
    }

    /// A kind: its name, rank, and whether AWS refuses a repeated create.
    struct Named(&'static str, u8, bool);

    static BALANCER: Named = Named("Balancer", 0, false);
    static CDN: Named = Named("Cdn", 1, false);
    static CDN_BY_REFERENCE: Named = Named("Cdn", 1, true);

    #[async_trait]
    impl KindOps<Lagging> for Named {
        fn name(&self) -> &'static str {
            self.0
        }
        fn rank(&self) -> u8 {
            self.1
        }
        fn creates_idempotently(&self) -> bool {
            self.2
        }
        async fn observe_all(&self, cx: &Context<Lagging>) -> Result<Vec<Observed>, AwsError> {
            let c = &cx.clients;
            if *c.fresh.lock().unwrap() {
                c.read_afresh.lock().unwrap().push(self.0);
                return Ok(c
                    .aws
                    .lock()
                    .unwrap()
                    .get(self.0)
                    .cloned()
                    .unwrap_or_default());
            }
            c.calls.record_shared();
            Ok(c.kept.get(self.0).cloned().unwrap_or_default())
        }
        async fn delete(&self, _: &Context<Lagging>, _: &Observed) -> Result<Deletion, AwsError> {
            Ok(Deletion::Done)
        }
    }

    struct Of(&'static Named);

    #[async_trait]
    impl super::super::resource::Resource<Lagging> for Of {
        fn kind(&self) -> Kind<Lagging> {
            self.0
        }
        fn desired(&self, _: &str, _: &Context<Lagging>, _: &Inputs) -> Fields {
            Fields::new()
        }
        async fn create(
            &self,
            key: &str,
            cx: &Context<Lagging>,
            _: &Inputs,
        ) -> Result<Observed, AwsError> {
            let made = found(key, Status::Ready);
            let mut aws = cx.clients.aws.lock().unwrap();
            let of_kind = aws.entry(self.0.0).or_default();
            // Refused as a repeat: the first one is the answer.
            if let Some(first) = of_kind.iter().find(|o| o.component == key)
                && self.0.2
            {
                return Ok(first.clone());
            }
            of_kind.push(made.clone());
            Ok(made)
        }
        fn create_calls(&self) -> Vec<&'static str> {
            vec!["Create"]
        }
        async fn update(
            &self,
            _: &str,
            _: &Context<Lagging>,
            _: &Inputs,
            _: &Observed,
            _: &[Change],
        ) -> Result<(), AwsError> {
            Ok(())
        }
    }

    fn found(key: &str, status: Status) -> Observed {
        Observed {
            component: key.into(),
            id: format!("id-{key}"),
            status,
            ..Observed::default()
        }
    }

    fn provisioning() -> Status {
        Status::Pending("provisioning".into())
    }

    /// A CDN in front of a load balancer.
    fn cdn_stack() -> Graph<Lagging> {
        stack_with(&CDN)
    }

    fn stack_with(cdn: &'static Named) -> Graph<Lagging> {
        Graph::new(vec![
            Node::new("lb", Of(&BALANCER)),
            Node::new("cdn", Of(cdn)).after(["lb"]),
        ])
        .unwrap()
    }

    fn context(aws: World, kept: World) -> Context<Lagging> {
        let identity = StackIdentity {
            namespace: "shop".into(),
            name: "web".into(),
            uid: "uid-web".into(),
            extra_tags: BTreeMap::new(),
        };
        let clients = Lagging {
            aws: Arc::new(Mutex::new(aws)),
            kept: Arc::new(kept),
            ..Lagging::default()
        };
        Context::new(identity, "eu-west-1", clients)
    }

    fn afresh(cx: &Context<Lagging>) -> Vec<&'static str> {
        cx.clients.read_afresh.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn a_change_waiting_for_its_dependency_reads_the_dependency_afresh_and_nothing_else() {
        let world = World::from([("Balancer", vec![found("lb", provisioning())])]);
        let cx = context(world.clone(), world);
        let pass = Engine::default().apply(&cx, &cdn_stack()).await;
        assert_eq!(afresh(&cx), ["Balancer"]);
        assert_eq!(pass.writes, 0);
        // Missing in a shared answer is never taken as read.
        assert!(!pass.settled.kinds().any(|k| k == "Cdn"));
    }

    #[tokio::test]
    async fn fresh_answers_bring_the_next_node_within_reach_and_it_is_read_afresh_too() {
        // Kept from before the load balancer was active and the CDN made.
        let kept = World::from([("Balancer", vec![found("lb", provisioning())])]);
        let aws = World::from([
            ("Balancer", vec![found("lb", Status::Ready)]),
            ("Cdn", vec![found("cdn", Status::Ready)]),
        ]);
        let cx = context(aws, kept);
        let pass = Engine::default().apply(&cx, &cdn_stack()).await;
        assert_eq!(afresh(&cx), ["Balancer", "Cdn"]);
        assert_eq!(pass.writes, 0, "no second CDN");
        assert!(pass.converged);
        assert_eq!(cx.clients.aws.lock().unwrap()["Cdn"].len(), 1);
    }

    #[tokio::test]
    async fn a_pass_with_nothing_to_do_reads_nothing_afresh() {
        let world = World::from([
            ("Balancer", vec![found("lb", Status::Ready)]),
            ("Cdn", vec![found("cdn", Status::Ready)]),
        ]);
        let cx = context(world.clone(), world);
        let pass = Engine::default().apply(&cx, &cdn_stack()).await;
        assert!(pass.converged && pass.writes == 0);
        assert!(afresh(&cx).is_empty());
    }

    #[tokio::test]
    async fn a_create_aws_refuses_to_repeat_needs_no_fresh_read() {
        let ready = World::from([("Balancer", vec![found("lb", Status::Ready)])]);
        // Missing in the kept answers: created, with nothing read afresh.
        let cx = context(ready.clone(), ready.clone());
        let pass = Engine::default()
            .apply(&cx, &stack_with(&CDN_BY_REFERENCE))
            .await;
        assert!(afresh(&cx).is_empty());
        assert_eq!(pass.writes, 1);
        assert_eq!(cx.clients.aws.lock().unwrap()["Cdn"].len(), 1);
        // Made by an earlier pass the kept answers predate: refused, found.
        let mut aws = ready.clone();
        aws.insert("Cdn", vec![found("cdn", Status::Ready)]);
        let cx = context(aws, ready);
        let pass = Engine::default()
            .apply(&cx, &stack_with(&CDN_BY_REFERENCE))
            .await;
        assert!(afresh(&cx).is_empty());
        assert!(pass.converged && pass.terminal.is_none());
        assert_eq!(
            cx.clients.aws.lock().unwrap()["Cdn"].len(),
            1,
            "no second CDN"
        );
        // A kind AWS would let make a second one is read afresh first.
        let cx = context(
            World::from([
                ("Balancer", vec![found("lb", Status::Ready)]),
                ("Cdn", vec![found("cdn", Status::Ready)]),
            ]),
            World::from([("Balancer", vec![found("lb", Status::Ready)])]),
        );
        Engine::default().apply(&cx, &cdn_stack()).await;
        assert_eq!(afresh(&cx), ["Cdn"]);
    }

    #[tokio::test]
    async fn what_a_pass_made_is_not_made_or_read_again_while_shared_answers_predate_it() {
        let kept = World::from([("Balancer", vec![found("lb", Status::Ready)])]);
        let cx = context(kept.clone(), kept.clone());
        let first = Engine::default().apply(&cx, &cdn_stack()).await;
        assert_eq!(first.writes, 1);
        let now = cx.clients.aws.lock().unwrap().clone();
        // The next look, with the answers kept from before the create.
        let cx = context(now, kept);
        let next = Engine::default()
            .apply_following(&cx, &cdn_stack(), &first)
            .await;
        assert!(afresh(&cx).is_empty(), "read afresh: {:?}", afresh(&cx));
        assert_eq!(next.writes, 0);
        assert!(next.converged);
        assert_eq!(cx.clients.aws.lock().unwrap()["Cdn"].len(), 1);
        // And the look after it still knows, while the answers lag.
        let then = Engine::default()
            .apply_following(&cx, &cdn_stack(), &next)
            .await;
        assert_eq!(then.writes, 0);
        assert!(afresh(&cx).is_empty());
    }

    #[tokio::test]
    async fn what_a_pass_made_while_aws_was_making_it_is_read_afresh() {
        let kept = World::from([("Balancer", vec![found("lb", Status::Ready)])]);
        let cx = context(kept.clone(), kept.clone());
        let mut first = Engine::default().apply(&cx, &cdn_stack()).await;
        // As CloudFront answers a create: deploying to the edge.
        let settled = Arc::make_mut(&mut first.settled);
        for made in settled.made.values_mut().flatten() {
            made.status = Status::Deploying("InProgress".into());
        }
        let now = cx.clients.aws.lock().unwrap().clone();
        let cx = context(now, kept);
        let next = Engine::default()
            .apply_following(&cx, &cdn_stack(), &first)
            .await;
        assert_eq!(afresh(&cx), ["Cdn"], "AWS alone says when it is done");
        assert!(next.converged && next.writes == 0);
    }
}
