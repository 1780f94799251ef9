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
    Controller::new(stacks, watcher::Config::default().any_semantic())
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
/// only while this replica holds the lease.
pub async fn run(client: Client, options: OperatorOptions) {
    info!(namespace = ?options.namespace, resync = ?options.resync, "stackops operator starting");
    let elector = options
        .leader_election
        .clone()
        .map(|config| LeaderElector::new(client.clone(), config));
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

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
