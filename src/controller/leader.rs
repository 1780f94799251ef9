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

    /// Waits until this replica holds the lease. While another holds it,
    /// tries again the moment it would lapse (or after a third of a lease,
    /// whichever is sooner), so a dead holder's work moves on at once.
    pub async fn acquire(&self) {
        let mut logged = false;
        loop {
            let mut wait = self.config.duration / 3;
            match self.try_acquire().await {
                Ok(Attempt::Held) => {
                    info!(identity = %self.config.identity, lease = %self.config.name, "became leader");
                    return;
                }
                Ok(Attempt::HeldByAnother { lapses_in }) => {
                    if !logged {
                        info!(lease = %self.config.name, "another replica leads; waiting");
                        logged = true;
                    }
                    wait = wait.min(lapses_in + LAPSE_MARGIN);
                }
                Err(e) => warn!(%e, "leader election failed; retrying"),
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Renews the lease until it cannot; returns when leadership is lost.
    pub async fn hold(&self) {
        let mut failures = 0;
        loop {
            tokio::time::sleep(self.config.duration / 3).await;
            match self.try_acquire().await {
                Ok(Attempt::Held) => failures = 0,
                Ok(Attempt::HeldByAnother { .. }) => return,
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
    async fn try_acquire(&self) -> Result<Attempt, kube::Error> {
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
                Ok(_) => Ok(Attempt::Held),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::RACED),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let mine = spec.holder_identity.as_deref() == Some(self.config.identity.as_str());
        let lapses_in = lapses_in(spec, now);
        let free = spec.holder_identity.as_deref().is_none_or(str::is_empty);
        if !mine && !lapses_in.is_zero() && !free {
            return Ok(Attempt::HeldByAnother { lapses_in });
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
            Ok(_) => Ok(Attempt::Held),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::RACED),
            Err(e) => Err(e),
        }
    }
}

/// How a try for the lease went.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    Held,
    /// Another holds it; unrenewed, it lapses in `lapses_in`.
    HeldByAnother {
        lapses_in: Duration,
    },
}

impl Attempt {
    /// Another replica wrote the lease first: look again soon.
    const RACED: Self = Self::HeldByAnother {
        lapses_in: Duration::from_millis(200),
    };
}

/// Tried a little after a lease's lapse, so clocks a few milliseconds apart
/// do not find it still held.
pub const LAPSE_MARGIN: Duration = Duration::from_millis(100);

/// How long until `lease` lapses unless renewed (zero once it has, or when
/// it was never renewed).
pub fn lapses_in(lease: &LeaseSpec, now: Timestamp) -> Duration {
    let (Some(MicroTime(renewed)), Some(seconds)) =
        (&lease.renew_time, lease.lease_duration_seconds)
    else {
        return Duration::ZERO;
    };
    let lapses = renewed.saturating_add(jiff::SignedDuration::from_secs(i64::from(seconds)));
    match lapses.map(|lapses| lapses.duration_since(now)) {
        Ok(left) if left.is_positive() => left.unsigned_abs(),
        _ => Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(renewed: Timestamp, seconds: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some("a".into()),
            renew_time: Some(MicroTime(renewed)),
            lease_duration_seconds: Some(seconds),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn a_lease_lapses_its_duration_after_its_last_renewal() {
        let now = Timestamp::now();
        let renewed = now - jiff::SignedDuration::from_millis(10_500);
        assert_eq!(
            lapses_in(&lease(renewed, 15), now),
            Duration::from_millis(4_500)
        );
        assert_eq!(lapses_in(&lease(renewed, 10), now), Duration::ZERO);
        assert_eq!(lapses_in(&LeaseSpec::default(), now), Duration::ZERO);
    }
}
