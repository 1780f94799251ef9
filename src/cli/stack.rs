//! `plan`, `apply` and `destroy`: the engine driven from the command line,
//! against the AWS account and region of the standard AWS environment.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::api::StackManifest;
use crate::api::common::StackDeletionPolicy;
use crate::api::manifest;
use crate::aws::Context;
use crate::aws::calls::CallCounter;
use crate::aws::pricing::{CURRENCY, Estimate};
use crate::aws::role_boundary::RoleBoundary;
use crate::aws::{AwsClients, AwsSettings, config, zones};
use crate::blueprint::{self, Blueprint};
use crate::engine::{Action, Engine, Pacer, PassOutcome};

/// Which command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Plan,
    Apply,
    Destroy,
}

/// Options shared by the three commands.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub endpoint_url: Option<String>,
    pub timeout: Duration,
    /// Permissions boundary of the roles the stack's blueprint creates.
    pub role_boundary: RoleBoundary,
    /// Named profile of the shared AWS config files.
    pub profile: Option<String>,
    /// Work as this role, assumed with the standard chain's identity.
    pub role: Option<crate::aws::assume_role::RoleToAssume>,
}

pub fn run(verb: Verb, file: &Path, options: &RunOptions) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let stacks = match manifest::load(&text) {
        Ok(stacks) if !stacks.is_empty() => stacks,
        Ok(_) => {
            eprintln!("{}: no stack in this file", file.display());
            return ExitCode::FAILURE;
        }
        Err(errors) => {
            for error in errors {
                eprintln!("{}: {error}", file.display());
            }
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut code = 0u8;
    for stack in &stacks {
        code = code.max(runtime.block_on(run_stack(verb, stack, options)));
    }
    ExitCode::from(code)
}

/// The uid the CLI tags a stack's resources with: the uid the
/// `stackops.io/adopt-uid` annotation names, else `metadata.uid` when the
/// manifest has one (a stack exported from a cluster), otherwise derived
/// from namespace and name so every run finds the same resources.
pub fn cli_uid(stack: &StackManifest) -> String {
    let adopted = stack
        .metadata()
        .annotations
        .as_ref()
        .and_then(|a| a.get(crate::controller::adoption::ADOPT_ANNOTATION))
        .map(|uid| uid.trim().to_string())
        .filter(|uid| !uid.is_empty());
    adopted
        .or_else(|| stack.metadata().uid.clone())
        .unwrap_or_else(|| {
            let digest = Sha256::digest(format!("{}/{}", stack.namespace(), stack.name()));
            let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
            format!("cli-{hex}")
        })
}

async fn run_stack(verb: Verb, stack: &StackManifest, options: &RunOptions) -> u8 {
    let region = stack.settings().region.clone();
    println!(
        "{} {}/{} in {region}",
        stack.kind(),
        stack.namespace(),
        stack.name()
    );
    let settings = AwsSettings {
        region: Some(region.clone()),
        endpoint_url: options.endpoint_url.clone(),
        profile: options.profile.clone(),
        role: options.role.clone(),
        ..AwsSettings::default()
    };
    // Every check that needs no AWS call comes before the first one.
    let prepared = match blueprint::prepare(stack) {
        Ok(prepared) => prepared,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    if verb == Verb::Destroy && stack.settings().deletion_policy == StackDeletionPolicy::Orphan {
        println!(
            "deletionPolicy is Orphan: nothing is deleted; every AWS resource of the stack \
             stays, tagged stackops.io/uid={}.",
            cli_uid(stack)
        );
        return 0;
    }
    let sdk = config::sdk_config(&settings).await;
    let calls = CallCounter::default();
    let clients = AwsClients::counted(&sdk, calls.clone(), &[])
        .with_role_boundary(options.role_boundary.clone());
    let zones = match zones::for_stack(&clients, &region, stack.network().existing.as_ref()).await {
        Ok(zones) => zones,
        Err(e) => {
            eprintln!("error: cannot list availability zones: {e}");
            return 1;
        }
    };
    let blueprint = match prepared.build(&cli_uid(stack), &zones) {
        Ok(blueprint) => blueprint,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    if verb != Verb::Destroy && blueprint.options.managed && !blueprint.options.paused {
        match crate::aws::preflight::check(&clients, &blueprint.preflight, &cli_uid(stack)).await {
            Ok(problems) if problems.is_empty() => {}
            Ok(problems) => {
                eprintln!(
                    "error: preflight: the account cannot build this spec; nothing was changed"
                );
                for problem in problems {
                    eprintln!("  {problem}");
                }
                println!("AWS calls: {} (0 mutating)", calls.total());
                return 1;
            }
            Err(e) => {
                eprintln!("error: preflight: {e}");
                return 1;
            }
        }
    }
    // Priced before anything is built; a price that cannot be read is
    // named in the estimate and never stops the command.
    let estimate = match verb {
        Verb::Destroy => None,
        _ => Some(crate::aws::pricing::estimate(&clients, &region, &blueprint.charges).await),
    };
    let priced = estimate
        .as_ref()
        .filter(|e| e.is_complete())
        .map(Estimate::total);
    let blueprint = match blueprint.with_estimate(priced) {
        Ok(blueprint) => blueprint,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let cx = Context::new(blueprint.identity.clone(), region, clients)
        .with_data_intent(blueprint::stack::data_intent(stack));
    // Teardown works from the stack's tags alone, as the operator's does:
    // a network the stack borrowed is not even looked at.
    let cx = if verb == Verb::Destroy {
        cx
    } else {
        cx.with_borrowed(blueprint.borrowed.clone())
    };
    let engine = Engine::new(blueprint.options.clone());
    let code = match verb {
        Verb::Plan => plan(&engine, &cx, &blueprint, estimate.as_ref()).await,
        Verb::Apply => {
            let code = apply(&engine, &cx, &blueprint, options.timeout).await;
            if let Some(estimate) = estimate.as_ref().filter(|_| code == 0) {
                println!("{}", estimate_total(estimate));
            }
            code
        }
        Verb::Destroy => destroy(&engine, &cx, options.timeout).await,
    };
    if !blueprint.not_implemented.is_empty() && verb != Verb::Destroy {
        println!(
            "Not yet implemented, nothing is created for: {}.",
            blueprint.not_implemented.join(", ")
        );
    }
    println!(
        "AWS calls: {} ({} mutating, {} retries)",
        calls.total(),
        calls.mutating(),
        calls.retries()
    );
    code
}

async fn plan(
    engine: &Engine,
    cx: &Context,
    blueprint: &Blueprint,
    estimate: Option<&Estimate>,
) -> u8 {
    let pass = engine.plan(cx, &blueprint.graph).await;
    let mut counts = [0usize; 4];
    for node in &pass.nodes {
        let (sign, verb, slot) = match &node.action {
            Action::Create => ("+", "create", 0),
            Action::Update(_) => ("~", "update", 1),
            Action::Delete => ("-", "delete", 2),
            Action::NoChange => ("=", "no change", 3),
            Action::Drift(_) | Action::None => ("?", "unknown", 3),
        };
        counts[slot] += 1;
        let id = node
            .id
            .as_deref()
            .map(|id| format!(" ({id})"))
            .unwrap_or_default();
        println!("  {sign} {:<28} {:<15} {verb}{id}", node.key, node.kind);
        if let Action::Update(changes) = &node.action {
            for change in changes {
                println!("      {change}");
            }
        }
        if let Some(error) = &node.error {
            println!("      error: {error}");
        }
    }
    println!(
        "Plan: {} to create, {} to update, {} to delete, {} unchanged.",
        counts[0], counts[1], counts[2], counts[3]
    );
    if let Some(estimate) = estimate {
        print_estimate(estimate, &pass);
    }
    if pass.nodes.iter().any(|n| n.error.is_some()) {
        1
    } else if pass.has_changes() {
        2
    } else {
        0
    }
}

/// The estimate's line for people: total, price date, completeness.
fn estimate_total(estimate: &Estimate) -> String {
    let date = estimate.price_date.as_deref().unwrap_or("an unknown date");
    let partial = if estimate.is_complete() {
        ""
    } else {
        " (incomplete: some prices could not be read)"
    };
    format!(
        "Estimated monthly cost: {:.2} {CURRENCY} at AWS list prices of {date}{partial}.",
        estimate.total()
    )
}

/// The estimate line by line, each marked with what the plan does to the
/// resource that bears it, and what the plan's new resources add.
fn print_estimate(estimate: &Estimate, pass: &crate::engine::PassOutcome) {
    let action_of = |component: &str| {
        pass.nodes
            .iter()
            .find(|n| n.key == component)
            .map(|n| &n.action)
    };
    println!("Cost ({CURRENCY} a month, fixed charges at list prices):");
    for line in estimate.lines.iter().filter(|l| !l.usage_only) {
        let sign = match action_of(&line.component) {
            Some(Action::Create) => "+",
            Some(Action::Update(_)) => "~",
            Some(Action::Delete) => "-",
            _ => "=",
        };
        let amount = line
            .monthly
            .map_or_else(|| "unpriced".to_string(), |m| format!("{m:.2}"));
        println!(
            "  {sign} {amount:>10}  {:<28} {}",
            line.component, line.what
        );
    }
    let created = estimate.total_of(|c| matches!(action_of(c), Some(Action::Create)));
    println!("{}", estimate_total(estimate));
    println!("  of which {created:.2} {CURRENCY} for what this plan creates.");
    let usage = estimate.not_included();
    if !usage.is_empty() {
        println!("  Not included (grows with use): {}.", usage.join("; "));
    }
    for unpriced in &estimate.unpriced {
        println!("  Not priced: {unpriced}");
    }
}

async fn apply(engine: &Engine, cx: &Context, blueprint: &Blueprint, timeout: Duration) -> u8 {
    let graph = &blueprint.graph;
    let last = repeat_passes(timeout, |last: Option<PassOutcome>| async move {
        match last {
            Some(last) => engine.apply_following(cx, graph, &last).await,
            None => engine.apply(cx, graph).await,
        }
    })
    .await;
    if last.converged {
        let live = last
            .nodes
            .iter()
            .filter(|n| n.state != crate::api::status::ResourceState::Deleted);
        println!("Ready: {} resources.", live.count());
        let (outputs, _) = crate::blueprint::outputs::collect(&last);
        if let Some(domain) = &outputs.cdn_domain {
            println!("Site (CloudFront): https://{domain}");
        }
        if let Some(dns) = &outputs.load_balancer_dns {
            println!("Load balancer: http://{dns}");
        }
        for (role, bucket) in &outputs.buckets {
            println!("Bucket ({role}): {bucket}");
        }
        for node in last
            .nodes
            .iter()
            .filter(|n| n.state != crate::api::status::ResourceState::Deleted)
        {
            if let Some(id) = &node.id {
                println!("  {:<28} {id}", node.key);
            }
        }
        0
    } else {
        report_unfinished(&last, "apply");
        1
    }
}

async fn destroy(engine: &Engine, cx: &Context, timeout: Duration) -> u8 {
    let kinds = crate::aws::registry::all_kinds();
    let kinds = &kinds;
    let last = repeat_passes(timeout, |_| engine.destroy(cx, kinds)).await;
    if last.converged {
        let kept: Vec<_> = last
            .nodes
            .iter()
            .filter(|n| n.state == crate::api::status::ResourceState::Retained)
            .collect();
        if kept.is_empty() {
            println!("Destroyed: nothing tagged with this stack is left.");
        } else {
            println!("Destroyed, except what the spec retains:");
            for node in kept {
                println!(
                    "  {:<28} {}",
                    node.key,
                    node.message.as_deref().unwrap_or("retained")
                );
            }
        }
        0
    } else {
        report_unfinished(&last, "destroy");
        1
    }
}

/// Runs passes until one converges, a terminal error, or the timeout,
/// each given the one before, waiting between them at the pace of what AWS
/// is working on (no hot loop, and no more looks while AWS takes minutes).
/// Prints the AWS calls they made.
async fn repeat_passes<'a, F, Fut>(timeout: Duration, mut pass: F) -> PassOutcome
where
    F: FnMut(Option<PassOutcome>) -> Fut,
    Fut: std::future::Future<Output = PassOutcome> + 'a,
{
    let started = Instant::now();
    let mut pacer = Pacer::default();
    let mut number = 1;
    let mut last = None;
    let (mut calls, mut mutating) = (0, 0);
    loop {
        let outcome = pass(last.take()).await;
        calls += outcome.calls.values().sum::<u64>();
        mutating += outcome.mutating_calls();
        for node in &outcome.nodes {
            let what = match &node.action {
                Action::Create if node.error.is_none() => "created",
                Action::Update(_) if node.error.is_none() => "updated",
                Action::Delete if node.error.is_none() => "deleted",
                _ => continue,
            };
            let id = node.id.as_deref().unwrap_or("-");
            let detail = node
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            println!(
                "  [pass {number}] {what} {} {} ({id}){detail}",
                node.kind, node.key
            );
        }
        // A pass that changed nothing while something refuses deletion
        // (deletion protection) would be repeated to no end.
        let stuck = outcome.writes == 0
            && outcome
                .nodes
                .iter()
                .any(|n| n.state == crate::api::status::ResourceState::Blocked);
        if outcome.converged || outcome.terminal.is_some() || stuck || started.elapsed() >= timeout
        {
            println!("AWS calls: {calls} ({mutating} mutating) in {number} passes.");
            return outcome;
        }
        tokio::time::sleep(pacer.next(&outcome)).await;
        last = Some(outcome);
        number += 1;
    }
}

fn report_unfinished(pass: &PassOutcome, verb: &str) {
    let blocked = pass
        .nodes
        .iter()
        .any(|n| n.state == crate::api::status::ResourceState::Blocked);
    match &pass.terminal {
        Some(error) => eprintln!("{verb} stopped: {error}"),
        None if blocked => eprintln!("{verb} stopped: a resource refuses deletion (see below)"),
        None => eprintln!("{verb} did not finish in time"),
    }
    for node in pass
        .nodes
        .iter()
        .filter(|n| n.message.is_some() || n.error.is_some())
    {
        eprintln!(
            "  {} {} [{:?}]: {}",
            node.kind,
            node.key,
            node.state,
            node.message.as_deref().unwrap_or_default()
        );
    }
}
