//! Leader election through a coordination.k8s.io Lease, so several replicas
//! can run and exactly one of them reconciles. The leader renews the lease
//! every `duration / 3`; a replica takes it over only once it has not been
//! renewed for `duration`. A leader that cannot renew stops reconciling at
//! once (the process exits and its Deployment restarts it as a follower);
//! on shutdown the leader releases the lease so another takes over without
//! waiting.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use tracing::{info, warn};

/// Where the lease lives and who this replica is.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    pub duration: Duration,
    /// Labels of the Lease when this replica creates it.
    pub labels: BTreeMap<String, String>,
}

pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
}

impl LeaderElector {
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
        }
    }

    /// Waits until this replica holds the lease.
    pub async fn acquire(&self) {
        let mut logged = false;
        loop {
            match self.try_acquire().await {
                Ok(true) => {
                    info!(identity = %self.config.identity, lease = %self.config.name, "became leader");
                    return;
                }
                Ok(false) if !logged => {
                    info!(lease = %self.config.name, "another replica leads; waiting");
                    logged = true;
                }
                Ok(false) => {}
                Err(e) => warn!(%e, "leader election failed; retrying"),
            }
            tokio::time::sleep(self.config.duration / 3).await;
        }
    }

    /// Renews the lease until it cannot; returns when leadership is lost.
    pub async fn hold(&self) {
        let mut failures = 0;
        loop {
            tokio::time::sleep(self.config.duration / 3).await;
            match self.try_acquire().await {
                Ok(true) => failures = 0,
                Ok(false) => return,
                // Transient API errors are tolerated until the lease would expire.
                Err(e) => {
                    failures += 1;
                    warn!(%e, failures, "could not renew the lease");
                    if failures >= 2 {
                        return;
                    }
                }
            }
        }
    }

    /// Gives the lease up, so another replica need not wait for it to expire.
    pub async fn release(&self) {
        if let Ok(mut lease) = self.api.get(&self.config.name).await
            && let Some(spec) = lease.spec.as_mut()
            && spec.holder_identity.as_deref() == Some(self.config.identity.as_str())
        {
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
            match self
                .api
                .replace(&self.config.name, &PostParams::default(), &lease)
                .await
            {
                Ok(_) => info!("released the lease"),
                Err(e) => warn!(%e, "could not release the lease"),
            }
        }
    }

    /// Takes or renews the lease if it is ours or free. Optimistic
    /// concurrency (resourceVersion) makes two replicas racing for an
    /// expired lease end with one holder.
    async fn try_acquire(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let seconds = i32::try_from(self.config.duration.as_secs())
            .unwrap_or(i32::MAX)
            .max(1);
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    labels: (!self.config.labels.is_empty()).then(|| self.config.labels.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.config.identity.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let mine = spec.holder_identity.as_deref() == Some(self.config.identity.as_str());
        let expired = match (&spec.renew_time, spec.lease_duration_seconds) {
            (Some(MicroTime(renewed)), Some(duration)) => {
                now.as_second() > renewed.as_second() + i64::from(duration)
            }
            _ => true,
        };
        let free = spec.holder_identity.as_deref().is_none_or(str::is_empty);
        if !mine && !expired && !free {
            return Ok(false);
        }
        if !mine {
            spec.holder_identity = Some(self.config.identity.clone());
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.lease_duration_seconds = Some(seconds);
        spec.renew_time = Some(MicroTime(now));
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }
}
