//! One reconcile of one stack: validate, one engine pass, status, events,
//! and when to look again.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event as KubeEvent, EventType};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tracing::{Instrument, info, warn};

use super::adoption;
use super::conditions;
use super::connection::Ensured;
use super::context::OperatorContext;
use super::following::Follow;
use super::tenancy;
use super::{Error, FINALIZER};
use crate::api::common::{ManagementPolicy, StackDeletionPolicy};
use crate::api::status::StackStatus;
use crate::api::{BookingPlatform, EcommerceStack, StackManifest};
use crate::aws::Context;
use crate::aws::zones;
use crate::blueprint::{self, BlueprintError};
use crate::engine::{Action as NodeAction, Engine, EngineOptions, Pacer, PassOutcome};

/// A stack custom resource the operator reconciles.
pub trait Stack:
    Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
    + Clone
    + Serialize
    + DeserializeOwned
    + Debug
    + Send
    + Sync
    + 'static
{
    fn manifest(&self) -> StackManifest;
    fn stack_status(&self) -> Option<&StackStatus>;
}

impl Stack for EcommerceStack {
    fn manifest(&self) -> StackManifest {
        StackManifest::Ecommerce(Box::new(self.clone()))
    }

    fn stack_status(&self) -> Option<&StackStatus> {
        self.status.as_ref()
    }
}

impl Stack for BookingPlatform {
    fn manifest(&self) -> StackManifest {
        StackManifest::Booking(Box::new(self.clone()))
    }

    fn stack_status(&self) -> Option<&StackStatus> {
        self.status.as_ref()
    }
}

/// Delay before looking again when the finalizer machinery itself failed.
const PROGRESS_REQUEUE: Duration = Duration::from_secs(5);
/// Reason of the Degraded condition while another Secret holds the
/// connection Secret's name.
const SECRET_CONFLICT: &str = "SecretConflict";
/// Reason of the conditions while preflight finds the account cannot
/// build the spec.
const PREFLIGHT_FAILED: &str = "PreflightFailed";
/// Requeue while preflight fails.
const PREFLIGHT_REQUEUE: Duration = Duration::from_secs(120);
/// Requeue while servers start and pass their first health checks.
const SERVING_REQUEUE: Duration = Duration::from_secs(30);

pub async fn reconcile<K: Stack>(obj: Arc<K>, ctx: Arc<OperatorContext>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let metrics = ctx.metrics.clone();
    let result = reconcile_stack(obj, ctx).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(Error::TeardownPending(..)) => "deleting",
        Err(_) => "error",
    };
    metrics.reconciled(&K::kind(&()), outcome, started.elapsed());
    result
}

async fn reconcile_stack<K: Stack>(
    obj: Arc<K>,
    ctx: Arc<OperatorContext>,
) -> Result<Action, Error> {
    let namespace = obj.namespace().ok_or(Error::Incomplete("namespace"))?;
    let span = tracing::info_span!("reconcile", stack = %format!("{namespace}/{}", obj.name_any()));
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    // Asked to let the stack go to another replica: nothing else happens
    // here, and the stack leaves this replica's watch.
    if ctx.options.sharding.is_some() && super::shards::let_go_if_draining(&api, &*obj).await? {
        return Ok(Action::await_change());
    }
    let finalizer_api = api.clone();
    finalizer(&finalizer_api, FINALIZER, obj, move |event| {
        // Owned values only: the future must be Send for every lifetime.
        let (api, ctx) = (api.clone(), ctx.clone());
        async move {
            match event {
                Finalizer::Apply(obj) => apply(api, obj, ctx).await,
                Finalizer::Cleanup(obj) => cleanup(api, obj, ctx).await,
            }
        }
    })
    .instrument(span)
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        kube::runtime::finalizer::Error::AddFinalizer(e)
        | kube::runtime::finalizer::Error::RemoveFinalizer(e) => Error::Kube(e),
        other => Error::TeardownPending(other.to_string(), PROGRESS_REQUEUE),
    })
}

/// How long to wait after a failed reconcile; never a hot loop.
pub fn error_policy<K: Stack>(_obj: Arc<K>, error: &Error, _ctx: Arc<OperatorContext>) -> Action {
    match error {
        Error::TeardownPending(_, wait) => Action::requeue(*wait),
        other => {
            warn!(%other, "reconcile failed");
            Action::requeue(Duration::from_secs(30))
        }
    }
}

/// Boxed so the future is proven `Send` here, where its types are concrete
/// enough; inside the controller's generic stream the compiler cannot.
fn apply<K: Stack>(
    api: Api<K>,
    obj: Arc<K>,
    ctx: Arc<OperatorContext>,
) -> BoxFuture<'static, Result<Action, Error>> {
    async move { apply_stack(&api, obj.as_ref(), ctx.as_ref()).await }.boxed()
}

fn cleanup<K: Stack>(
    api: Api<K>,
    obj: Arc<K>,
    ctx: Arc<OperatorContext>,
) -> BoxFuture<'static, Result<Action, Error>> {
    async move { cleanup_stack(&api, obj.as_ref(), ctx.as_ref()).await }.boxed()
}

async fn apply_stack<K: Stack>(
    api: &Api<K>,
    obj: &K,
    ctx: &OperatorContext,
) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let manifest = obj.manifest();
    let generation = obj.meta().generation;
    let uid = obj.meta().uid.clone().ok_or(Error::Incomplete("uid"))?;
    // The uid the AWS resources carry: the adopted one, else the object's.
    let aws_uid = adoption::aws_uid(obj).unwrap_or_else(|| uid.clone());
    let old = obj.stack_status();

    // Checks no schema can express, before any AWS call.
    let prepared = match blueprint::prepare(&manifest) {
        Ok(prepared) => prepared,
        Err(error) => {
            let problems = match error {
                BlueprintError::Invalid(problems) => problems,
                other => vec![crate::api::FieldError::new("spec", other.to_string())],
            };
            let status = conditions::invalid(&problems, old, generation);
            observe_readiness(ctx, obj, &status);
            write_status(api, obj, old, status).await?;
            let note = problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            publish(ctx, obj, EventType::Warning, "InvalidSpec", &note).await;
            return Ok(Action::await_change());
        }
    };

    // Which account: the namespace's role (if allowed) or the operator's own.
    let namespace = obj.namespace().ok_or(Error::Incomplete("namespace"))?;
    let access = match tenancy::resolve(&ctx.client, &namespace, &ctx.options.tenancy).await? {
        Ok(access) => access,
        Err(refusal) => return refuse(api, obj, ctx, refusal).await,
    };
    let region = manifest.settings().region.clone();
    let clients = ctx.clients(&region, &access).await;
    let account = match ctx.account(&access, &clients).await {
        Ok(account) => account,
        Err(error) => return not_assumable(api, obj, ctx, &access, error).await,
    };
    let pinned = old.and_then(|o| o.account_id.as_deref());
    if let Some(refusal) = tenancy::account_change(pinned, &account) {
        return refuse(api, obj, ctx, refusal).await;
    }
    let zones =
        match zones::for_stack(&clients, &region, manifest.network().existing.as_ref()).await {
            Ok(zones) => zones,
            Err(error) => return not_assumable(api, obj, ctx, &access, error).await,
        };
    let blueprint = match prepared.build(&aws_uid, &zones) {
        Ok(blueprint) => blueprint,
        // Too few zones in the region: the account or region must change.
        Err(other) => {
            let problem = crate::api::FieldError::new("spec", other.to_string());
            let status = conditions::invalid(&[problem], old, generation);
            observe_readiness(ctx, obj, &status);
            write_status(api, obj, old, status).await?;
            return Ok(Action::requeue(ctx.options.resync));
        }
    };
    // Adopting what a deleted stack left: checked once, before the first
    // pass under this object (afterwards the stack's account is pinned).
    if aws_uid != uid && pinned.is_none() {
        let others: Vec<(String, Option<String>)> = api
            .list(&kube::api::ListParams::default())
            .await?
            .items
            .iter()
            .filter(|other| other.meta().uid.as_deref() != Some(uid.as_str()))
            .map(|other| {
                let adopted = other.annotations().get(adoption::ADOPT_ANNOTATION).cloned();
                (other.meta().uid.clone().unwrap_or_default(), adopted)
            })
            .collect();
        let stack = format!("{namespace}/{}", obj.name_any());
        // The nodes, and the servers the launch template tags as theirs.
        let components = blueprint
            .graph
            .nodes()
            .iter()
            .map(|node| node.key.clone())
            .chain([crate::aws::ec2::launch_template::SERVERS_COMPONENT.to_string()])
            .collect();
        if let Some(refusal) =
            adoption::refusal(&clients, &stack, &aws_uid, &components, &others).await?
        {
            return refuse(api, obj, ctx, refusal).await;
        }
    }
    // Preflight, for each new generation (and again while it fails): what
    // the account can tell before the first write. ObserveOnly and paused
    // stacks write nothing, so they need none.
    let new_generation = old.and_then(|o| o.observed_generation) != generation
        || old.is_some_and(|o| conditions::degraded_for(o, PREFLIGHT_FAILED));
    if new_generation && blueprint.options.managed && !blueprint.options.paused {
        let problems =
            crate::aws::preflight::check(&clients, &blueprint.preflight, &aws_uid).await?;
        if !problems.is_empty() {
            let message = problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            let refusal = tenancy::Refusal {
                reason: PREFLIGHT_FAILED,
                message,
            };
            refuse(api, obj, ctx, refusal).await?;
            // A certificate being validated or a quota being raised can
            // change within minutes: look again sooner than a resync.
            return Ok(Action::requeue(PREFLIGHT_REQUEUE.min(ctx.options.resync)));
        }
    }
    // The estimate, once per generation: list prices are cached for the
    // process, and a Spot price that moves is no reason to rewrite status.
    let estimate = match old.and_then(|o| o.estimated_monthly_cost.clone()) {
        Some(kept) if !new_generation => kept,
        _ => crate::aws::pricing::estimate(&clients, &region, &blueprint.charges)
            .await
            .to_status(),
    };
    let priced = estimate
        .complete
        .then(|| estimate.amount.parse::<f64>().ok())
        .flatten();
    let blueprint = blueprint.with_estimate(priced)?;
    let cx = Context::new(blueprint.identity.clone(), region, clients)
        .with_data_intent(blueprint::stack::data_intent(&manifest))
        .with_borrowed(blueprint.borrowed.clone());
    let engine = Engine::new(blueprint.options.clone());
    // While AWS works on the stack, each look continues from the last pass
    // and observes only what is still moving; a resync looks at everything.
    let follow = ctx.following.take(&uid, generation, ctx.options.resync);
    let pass = match &follow {
        Some(follow) => {
            engine
                .apply_following(&cx, &blueprint.graph, &follow.last)
                .await
        }
        None => engine.apply(&cx, &blueprint.graph).await,
    };
    publish_pass(ctx, obj, &pass).await;
    info!(
        converged = pass.converged,
        writes = pass.writes,
        calls = pass.calls.values().sum::<u64>(),
        "pass done"
    );

    ctx.metrics.stack_resources(
        &K::kind(&()),
        manifest.namespace(),
        manifest.name(),
        pass.nodes.len(),
    );
    let corrected = pass
        .nodes
        .iter()
        .filter(|n| matches!(n.action, NodeAction::Update(_)) && n.error.is_none())
        .count();
    ctx.metrics.drift_corrected(&K::kind(&()), corrected);
    let status = conditions::after_apply(
        &pass,
        &blueprint.options,
        old,
        generation,
        &blueprint.not_implemented,
    );
    let mut status = status;
    status.account_id = Some(account);
    let before = old.and_then(|o| o.estimated_monthly_cost.as_ref());
    if before.is_none_or(|b| b.amount != estimate.amount) {
        let note = match before {
            Some(b) => format!(
                "estimated monthly cost {} {} (was {} {}, list prices of {})",
                estimate.amount,
                estimate.currency,
                b.amount,
                b.currency,
                estimate.price_date.as_deref().unwrap_or("unknown date")
            ),
            None => format!(
                "estimated monthly cost {} {} (list prices of {})",
                estimate.amount,
                estimate.currency,
                estimate.price_date.as_deref().unwrap_or("unknown date")
            ),
        };
        publish(ctx, obj, EventType::Normal, "CostEstimated", &note).await;
    }
    status.estimated_monthly_cost = Some(estimate);
    observe_readiness(ctx, obj, &status);
    let serving = serving_reason(Some(&status)).map(String::from);
    let serving = serving.as_deref();
    if serving == Some("NoHealthyServers") && serving_reason(old) != serving {
        let note = condition_message(&status, conditions::SERVING);
        publish(ctx, obj, EventType::Warning, "ServersUnhealthy", &note).await;
    }
    match super::connection::ensure(ctx.client.clone(), obj, &status.outputs).await? {
        Ensured::Written => info!("connection secret written"),
        Ensured::Unchanged => {}
        Ensured::Conflict(message) => {
            let known = old.is_some_and(|o| conditions::degraded_for(o, SECRET_CONFLICT));
            conditions::degrade(&mut status, SECRET_CONFLICT, &message);
            if !known {
                publish(ctx, obj, EventType::Warning, SECRET_CONFLICT, &message).await;
            }
        }
    }
    write_status(api, obj, old, status).await?;
    Ok(if !pass.converged && pass.terminal.is_none() {
        let (mut pacer, full_pass_at) = match follow {
            Some(follow) => (follow.pacer, follow.full_pass_at),
            None => (Pacer::default(), Instant::now()),
        };
        let wait = pacer.next(&pass);
        let follow = Follow {
            generation,
            last: pass,
            pacer,
            full_pass_at,
        };
        ctx.following.keep(uid, follow);
        Action::requeue(wait)
    } else if matches!(serving, Some("Waiting" | "ServersStarting")) {
        // Servers boot and pass their first checks within minutes: look
        // again sooner than a resync, not as often as while building.
        Action::requeue(SERVING_REQUEUE.min(ctx.options.resync))
    } else {
        Action::requeue(ready_resync(ctx, &uid, started))
    })
}

/// When a Ready stack whose pass began at `started` looks again: the
/// resync, stretched while this replica is behind (see `resync`).
fn ready_resync(ctx: &OperatorContext, uid: &str, started: std::time::Instant) -> Duration {
    let pace = &ctx.resync_pace;
    pace.passed(started.elapsed());
    let (resync, held) = (ctx.options.resync, ctx.metrics.held_stacks());
    let concurrency = ctx.options.concurrency;
    let interval = pace.interval(resync, held, concurrency);
    ctx.metrics.ready_resync(interval);
    interval + super::resync::spread(uid, interval)
}

/// Writes a refusal (no identity, or the wrong account) as the stack's
/// status, with an event when it is news; looks again at the next resync,
/// since the namespace's annotations or the operator's flags may change.
async fn refuse<K: Stack>(
    api: &Api<K>,
    obj: &K,
    ctx: &OperatorContext,
    refusal: tenancy::Refusal,
) -> Result<Action, Error> {
    let old = obj.stack_status();
    let known = old.is_some_and(|o| conditions::degraded_for(o, refusal.reason));
    let status = conditions::refused(
        refusal.reason,
        refusal.message.clone(),
        old,
        obj.meta().generation,
    );
    observe_readiness(ctx, obj, &status);
    write_status(api, obj, old, status).await?;
    if !known {
        publish(
            ctx,
            obj,
            EventType::Warning,
            refusal.reason,
            &refusal.message,
        )
        .await;
    }
    Ok(Action::requeue(ctx.options.resync))
}

/// A first call that failed: when the stack works in an assumed role and
/// STS refused it, a condition says so; anything else is retried.
async fn not_assumable<K: Stack>(
    api: &Api<K>,
    obj: &K,
    ctx: &OperatorContext,
    access: &tenancy::Access,
    error: crate::engine::AwsError,
) -> Result<Action, Error> {
    let Some(role) = access.role() else {
        return Err(error.into());
    };
    if !error.to_string().contains("AssumeRole") {
        return Err(error.into());
    }
    let refusal = tenancy::Refusal {
        reason: "RoleNotAssumable",
        message: format!(
            "the operator cannot assume {} (check the role's trust policy and external id): {error}",
            role.arn
        ),
    };
    refuse(api, obj, ctx, refusal).await
}

/// The reason of the Serving condition while it is False.
fn serving_reason(status: Option<&StackStatus>) -> Option<&str> {
    status?
        .conditions
        .iter()
        .find(|c| c.type_ == conditions::SERVING && c.status == "False")
        .map(|c| c.reason.as_str())
}

fn condition_message(status: &StackStatus, type_: &str) -> String {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

async fn cleanup_stack<K: Stack>(
    api: &Api<K>,
    obj: &K,
    ctx: &OperatorContext,
) -> Result<Action, Error> {
    let manifest = obj.manifest();
    let uid = obj.meta().uid.clone().ok_or(Error::Incomplete("uid"))?;
    let aws_uid = adoption::aws_uid(obj).unwrap_or_else(|| uid.clone());
    let settings = manifest.settings();
    let region = settings.region.clone();
    // Either way the resources stay in AWS, still tagged: an observed
    // stack was never stackops' to delete, an orphaned one is handed on.
    let orphaned = if settings.management_policy == ManagementPolicy::ObserveOnly {
        Some("managementPolicy is ObserveOnly")
    } else if settings.deletion_policy == StackDeletionPolicy::Orphan {
        Some("deletionPolicy is Orphan")
    } else {
        None
    };
    if let Some(why) = orphaned {
        ctx.metrics
            .stack_gone(&K::kind(&()), manifest.namespace(), manifest.name());
        let note = format!(
            "{why}: every AWS resource of the stack is left in AWS, tagged stackops.io/uid={aws_uid} \
             (a new stack of this namespace and name takes them over with the annotation \
             {}: {aws_uid})",
            adoption::ADOPT_ANNOTATION
        );
        publish(ctx, obj, EventType::Normal, "Orphaned", &note).await;
        return Ok(Action::await_change());
    }
    // Tear down only in the account the stack was built in.
    let old = obj.stack_status();
    let pinned = old.and_then(|o| o.account_id.clone());
    // An adoption never verified (refused, or not yet looked at) took
    // nothing over: the resources it named are another stack's business.
    if aws_uid != uid && pinned.is_none() {
        ctx.metrics
            .stack_gone(&K::kind(&()), manifest.namespace(), manifest.name());
        let note = format!(
            "the stack never took over the resources tagged stackops.io/uid={aws_uid}: \
             nothing deleted"
        );
        publish(ctx, obj, EventType::Normal, "Deleted", &note).await;
        return Ok(Action::await_change());
    }
    let namespace = obj.namespace().ok_or(Error::Incomplete("namespace"))?;
    let access = tenancy::resolve(&ctx.client, &namespace, &ctx.options.tenancy).await?;
    let clients = match &access {
        Ok(access) => {
            let clients = ctx.clients(&region, access).await;
            let account = ctx.account(access, &clients).await?;
            match tenancy::account_change(pinned.as_deref(), &account) {
                None => Ok(clients),
                Some(refusal) => Err(refusal),
            }
        }
        Err(refusal) => Err(refusal.clone()),
    };
    let clients = match clients {
        Ok(clients) => clients,
        // Never built anywhere: nothing to delete in any account.
        Err(refusal) if pinned.is_none() => {
            ctx.metrics
                .stack_gone(&K::kind(&()), manifest.namespace(), manifest.name());
            let note = format!(
                "{}; the stack was never built, nothing to delete",
                refusal.message
            );
            publish(ctx, obj, EventType::Normal, "Deleted", &note).await;
            return Ok(Action::await_change());
        }
        Err(refusal) => {
            refuse(api, obj, ctx, refusal.clone()).await?;
            return Err(Error::TeardownPending(refusal.message, ctx.options.resync));
        }
    };
    let identity = blueprint::stack::identity(&manifest, &aws_uid);
    let engine = Engine::new(EngineOptions {
        paused: settings.paused,
        ..EngineOptions::default()
    });
    let cx = Context::new(identity, region.clone(), clients)
        .with_data_intent(blueprint::stack::data_intent(&manifest));
    let pass = engine
        .destroy(&cx, &crate::aws::registry::all_kinds())
        .await;
    publish_pass(ctx, obj, &pass).await;
    let teardown = format!("{uid}/teardown");
    ctx.following.forget(&uid);
    if pass.converged {
        ctx.following.forget(&teardown);
        ctx.metrics
            .stack_gone(&K::kind(&()), manifest.namespace(), manifest.name());
        publish(
            ctx,
            obj,
            EventType::Normal,
            "Deleted",
            "every AWS resource of the stack is gone",
        )
        .await;
        return Ok(Action::await_change());
    }
    write_status(
        api,
        obj,
        old,
        conditions::deleting(&pass, old, obj.meta().generation),
    )
    .await?;
    let left = pass.nodes.len();
    // Deleting a database or a distribution takes minutes: look at the
    // pace of what AWS is deleting, not every few seconds.
    let mut pacer = ctx
        .following
        .take(&teardown, None, Duration::MAX)
        .map_or_else(Pacer::default, |follow| follow.pacer);
    let wait = pacer.next(&pass);
    let follow = Follow {
        generation: None,
        last: PassOutcome::default(),
        pacer,
        full_pass_at: Instant::now(),
    };
    ctx.following.keep(teardown, follow);
    Err(Error::TeardownPending(
        format!("{left} resources left"),
        wait,
    ))
}

/// Publishes whether the stack is Ready, as the status about to be written says.
fn observe_readiness<K: Stack>(ctx: &OperatorContext, obj: &K, status: &StackStatus) {
    let namespace = obj.namespace().unwrap_or_default();
    ctx.metrics.stack_ready(
        &K::kind(&()),
        &namespace,
        &obj.name_any(),
        conditions::is_ready(status),
    );
}

/// Merge-patches the status subresource, only when it changed.
async fn write_status<K: Stack>(
    api: &Api<K>,
    obj: &K,
    old: Option<&StackStatus>,
    status: StackStatus,
) -> Result<(), Error> {
    if old == Some(&status) {
        return Ok(());
    }
    let patch = json!({ "status": status });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

/// One event per kind of change in a pass (a list of what changed), and
/// one per terminal error: readable in `kubectl describe` without flooding it.
async fn publish_pass<K: Stack>(ctx: &OperatorContext, obj: &K, pass: &PassOutcome) {
    let mut created = Vec::new();
    let mut corrected = Vec::new();
    let mut deleted = Vec::new();
    for node in &pass.nodes {
        let id = node
            .id
            .as_deref()
            .map(|id| format!(" ({id})"))
            .unwrap_or_default();
        match (&node.action, &node.error) {
            (_, Some(error)) if error.class == crate::engine::ErrorClass::Terminal => {
                let note = format!("{} {}: {error}", node.kind, node.key);
                publish(ctx, obj, EventType::Warning, "AwsError", &note).await;
            }
            (NodeAction::Create, None) => created.push(format!("{} {}{id}", node.kind, node.key)),
            (NodeAction::Update(changes), None) => {
                let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
                corrected.push(format!(
                    "{} {}{id}: {}",
                    node.kind,
                    node.key,
                    fields.join(", ")
                ));
            }
            (NodeAction::Delete, None) => deleted.push(format!("{} {}{id}", node.kind, node.key)),
            _ => {}
        }
    }
    for (reason, items) in [
        ("Created", created),
        ("DriftCorrected", corrected),
        ("Deleted", deleted),
    ] {
        if !items.is_empty() {
            let note = format!("{} resources: {}", items.len(), items.join(", "));
            publish(ctx, obj, EventType::Normal, reason, &note).await;
        }
    }
}

async fn publish<K: Stack>(
    ctx: &OperatorContext,
    obj: &K,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    let event = KubeEvent {
        type_,
        reason: reason.into(),
        note: Some(note.chars().take(1000).collect()),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &obj.object_ref(&())).await {
        warn!(%e, "could not publish an event");
    }
}
