//! `stackops run`: both controllers in one process until SIGTERM/SIGINT.

use std::sync::Arc;

use futures::StreamExt;
use kube::runtime::Controller;
use kube::runtime::watcher;
use kube::{Api, Client};
use tracing::{info, warn};

use super::context::{OperatorContext, OperatorOptions};
use super::leader::LeaderElector;
use super::reconcile::{Stack, error_policy, reconcile};
use super::shards;
use crate::api::{BookingPlatform, EcommerceStack};

fn api<K: Stack>(client: &Client, namespace: Option<&str>) -> Api<K> {
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

async fn controller<K: Stack>(ctx: Arc<OperatorContext>) {
    let stacks: Api<K> = api(&ctx.client, ctx.options.namespace.as_deref());
    let config = kube::runtime::controller::Config::default().concurrency(ctx.options.concurrency);
    let mut watch = watcher::Config::default().any_semantic();
    if let Some(sharding) = &ctx.options.sharding {
        // This replica's stacks alone.
        watch = watch.labels(&sharding.selector());
    }
    Controller::new(stacks, watch)
        .with_config(config)
        .shutdown_on_signal()
        .run(reconcile::<K>, error_policy::<K>, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(stack = %object.name, "reconciled"),
                Err(error) => warn!(%error, "reconcile error"),
            }
        })
        .await;
}

/// Runs both controllers until a shutdown signal; with leader election,
/// only while this replica holds the lease; sharded, over this replica's
/// stacks while it holds its membership Lease (the leader assigning them).
pub async fn run(client: Client, options: OperatorOptions) {
    info!(namespace = ?options.namespace, resync = ?options.resync, "stackops operator starting");
    let elector = options
        .leader_election
        .clone()
        .map(|config| LeaderElector::new(client.clone(), config));
    let member = options
        .sharding
        .as_ref()
        .map(|sharding| LeaderElector::new(client.clone(), sharding.member_lease()));
    let ctx = Arc::new(OperatorContext::new(client, options));
    if let Some(addr) = ctx.options.metrics_addr
        && let Err(e) = super::metrics::serve(addr, ctx.metrics.clone(), ctx.calls.clone()).await
    {
        warn!(%e, %addr, "cannot serve metrics");
    }
    ctx.metrics.set_ready();
    let controllers = async {
        futures::join!(
            controller::<EcommerceStack>(ctx.clone()),
            controller::<BookingPlatform>(ctx.clone())
        );
    };
    let metrics = ctx.metrics.clone();
    if let (Some(member), Some(elector)) = (member, &elector) {
        run_sharded(ctx.clone(), member, elector, controllers).await;
        info!("stackops operator stopped");
        return;
    }
    match elector {
        None => {
            metrics.set_leader(true);
            controllers.await;
            metrics.set_leader(false);
        }
        Some(elector) => {
            tokio::select! {
                _ = elector.acquire() => {}
                _ = shutdown_signal() => {
                    info!("stopped before becoming leader");
                    return;
                }
            }
            metrics.set_leader(true);
            tokio::select! {
                // The controllers stop on SIGTERM/SIGINT after their in-flight reconciles.
                _ = controllers => {
                    metrics.set_leader(false);
                    elector.release().await;
                }
                _ = elector.hold() => {
                    metrics.set_leader(false);
                    warn!("lost the lease; stopping so that only the leader reconciles");
                    std::process::exit(1);
                }
            }
        }
    }
    info!("stackops operator stopped");
}

/// A member of the shards: its controllers run while it holds its
/// membership Lease; whichever member leads assigns the stacks.
async fn run_sharded(
    ctx: Arc<OperatorContext>,
    member: LeaderElector,
    elector: &LeaderElector,
    controllers: impl std::future::Future<Output = ()>,
) {
    tokio::select! {
        _ = member.acquire() => {}
        _ = shutdown_signal() => return,
    }
    let sharding = ctx.options.sharding.clone().expect("sharded");
    let namespace = ctx.options.namespace.clone();
    let leading = async {
        elector.acquire().await;
        ctx.metrics.set_leader(true);
        tokio::select! {
            _ = shards::run_sharder(
                ctx.client.clone(),
                sharding,
                api::<EcommerceStack>(&ctx.client, namespace.as_deref()),
                api::<BookingPlatform>(&ctx.client, namespace.as_deref()),
            ) => {}
            _ = elector.hold() => {
                warn!("lost the leader lease; stopping so that only one replica assigns stacks");
                std::process::exit(1);
            }
        }
    };
    tokio::select! {
        // The controllers stop on SIGTERM/SIGINT after their in-flight
        // reconciles; only then may another member take the stacks.
        _ = controllers => {
            member.release().await;
            elector.release().await;
            ctx.metrics.set_leader(false);
        }
        _ = member.hold() => {
            warn!("lost the membership lease; stopping so that no stack has two replicas");
            std::process::exit(1);
        }
        _ = leading => {}
    }
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
