//! Replicas share the stacks. Each replica holds a membership Lease of its
//! own; the leader (the one replica holding `stackops-leader`) assigns every
//! stack to a live member by rendezvous hashing of its uid and writes the
//! choice into the stack's `stackops.io/shard` label; each replica watches
//! only the stacks labelled with its name.
//!
//! A stack never has two reconcilers:
//! - a stack moves away from a live member only through a handshake: the
//!   leader labels it `stackops.io/drain`, the owner sees that in its next
//!   reconcile (its controller runs one reconcile per stack at a time, so
//!   none is in flight), removes both labels and stops watching it, and only
//!   then does the leader assign it to the new member;
//! - a member that stops renewing its Lease exits (as a leader does), before
//!   the Lease expires; the leader reassigns the stacks of an expired member
//!   directly, and a member shutting down releases its Lease first, after its
//!   in-flight reconciles.
//!
//! Rendezvous hashing moves only what must move: a new member takes about
//! 1/N of the stacks, from every other member alike, and a member gone
//! hands on its own and nothing else.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use futures::StreamExt;

use super::leader::{LAPSE_MARGIN, LeaseConfig};
use crate::identity::short_hash;

/// The label naming the replica that reconciles a stack.
pub const SHARD_LABEL: &str = "stackops.io/shard";
/// The label asking a stack's replica to let it go.
pub const DRAIN_LABEL: &str = "stackops.io/drain";
/// The label of every membership Lease.
pub const MEMBER_LABEL: &str = "stackops.io/shard-member";

/// Sharding of one replica: who it is and where the Leases live.
#[derive(Clone, Debug)]
pub struct ShardConfig {
    pub namespace: String,
    pub identity: String,
    /// How long a member's Lease lasts without renewal.
    pub duration: Duration,
}

impl ShardConfig {
    /// This replica's membership Lease.
    pub fn member_lease(&self) -> LeaseConfig {
        LeaseConfig {
            namespace: self.namespace.clone(),
            name: member_lease_name(&self.identity),
            identity: self.identity.clone(),
            duration: self.duration,
            labels: BTreeMap::from([(MEMBER_LABEL.to_string(), "true".to_string())]),
        }
    }

    /// The label selector of this replica's stacks.
    pub fn selector(&self) -> String {
        format!("{SHARD_LABEL}={}", label_value(&self.identity))
    }
}

/// `stackops-shard-<name>-<hash>`, a valid Lease name for any identity.
fn member_lease_name(identity: &str) -> String {
    let mut name: String = identity
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    name.truncate(30);
    format!(
        "stackops-shard-{}-{}",
        name.trim_matches('-'),
        short_hash(identity)
    )
}

/// An identity as a label value (63 characters, alphanumerics, `-_.`).
pub fn label_value(identity: &str) -> String {
    let mut value: String = identity
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    value.truncate(63);
    value
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// The member that owns stack `uid`: the one whose hash with the uid is
/// highest (rendezvous hashing).
pub fn owner<'a>(uid: &str, members: &'a [String]) -> Option<&'a str> {
    members
        .iter()
        .max_by_key(|member| short_hash(&format!("{member}\n{uid}")))
        .map(String::as_str)
}

/// The members whose Lease is live, and when the first of them lapses
/// unless renewed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Members {
    /// Their identities as label values, sorted.
    pub live: Vec<String>,
    /// How long until the soonest of their Leases lapses.
    pub next_lapse: Option<Duration>,
}

/// The members whose Lease is live.
pub async fn live_members(leases: &Api<Lease>) -> Result<Members, kube::Error> {
    let now = Timestamp::now();
    let list = leases
        .list(&ListParams::default().labels(MEMBER_LABEL))
        .await?;
    let mut members = Members::default();
    for lease in &list.items {
        let Some(spec) = lease.spec.as_ref() else {
            continue;
        };
        let Some(holder) = spec.holder_identity.as_deref().filter(|h| !h.is_empty()) else {
            continue;
        };
        let lapses_in = super::leader::lapses_in(spec, now);
        if lapses_in.is_zero() {
            continue;
        }
        members.live.push(label_value(holder));
        members.next_lapse = Some(members.next_lapse.map_or(lapses_in, |n| n.min(lapses_in)));
    }
    members.live.sort();
    members.live.dedup();
    Ok(members)
}

/// What the leader does to one stack's labels, from the live members.
#[derive(Debug, PartialEq, Eq)]
pub enum Assignment {
    /// Labelled right already.
    Keep,
    /// Give it to this member (unassigned, or its member is gone).
    Assign(String),
    /// Ask its live member to let it go (it belongs elsewhere now).
    Drain,
    /// A drain no longer wanted (the owner is right again).
    Undrain,
}

/// The step that brings a stack labelled `current` (and `draining`)
/// towards its owner among `members`.
pub fn assignment(
    uid: &str,
    current: Option<&str>,
    draining: bool,
    members: &[String],
) -> Option<Assignment> {
    let wanted = owner(uid, members)?;
    Some(match current {
        Some(current) if current == wanted => {
            if draining {
                Assignment::Undrain
            } else {
                Assignment::Keep
            }
        }
        Some(current) if members.iter().any(|m| m == current) => {
            if draining {
                Assignment::Keep
            } else {
                Assignment::Drain
            }
        }
        _ => Assignment::Assign(wanted.to_string()),
    })
}

/// Label patches the leader sends at once: a dead member's stacks move in
/// a few round trips rather than one after another.
const CONCURRENT_ASSIGNMENTS: usize = 16;

/// Brings every stack of `api` one step towards its owner; returns how many
/// were labelled.
pub async fn assign_all<K>(api: &Api<K>, members: &[String]) -> Result<usize, kube::Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    // Names, uids and labels are all it needs: the metadata alone, not
    // every stack's spec and status.
    let stacks = api.list_metadata(&ListParams::default()).await?;
    let patches = stacks.items.iter().filter_map(|stack| {
        let uid = stack.uid()?;
        let labels = stack.labels();
        let step = assignment(
            &uid,
            labels.get(SHARD_LABEL).map(String::as_str),
            labels.contains_key(DRAIN_LABEL),
            members,
        );
        let patch = match step? {
            Assignment::Keep => return None,
            Assignment::Assign(member) => {
                info!(stack = %stack.name_any(), %member, "assigned");
                json!({"metadata": {"labels": {SHARD_LABEL: member, DRAIN_LABEL: null}}})
            }
            Assignment::Drain => {
                info!(stack = %stack.name_any(), "asked its replica to let it go");
                json!({"metadata": {"labels": {DRAIN_LABEL: "true"}}})
            }
            Assignment::Undrain => json!({"metadata": {"labels": {DRAIN_LABEL: null}}}),
        };
        let namespaced: Api<K> = match stack.namespace() {
            Some(ns) => Api::namespaced(api.clone().into_client(), &ns),
            None => api.clone(),
        };
        Some(async move {
            namespaced
                .patch(
                    &stack.name_any(),
                    &PatchParams {
                        field_manager: Some(SHARDER_MANAGER.into()),
                        ..Default::default()
                    },
                    &Patch::Merge(&patch),
                )
                .await
        })
    });
    let results: Vec<_> = futures::stream::iter(patches)
        .buffer_unordered(CONCURRENT_ASSIGNMENTS)
        .collect()
        .await;
    let changed = results.len();
    results.into_iter().try_for_each(|r| r.map(drop))?;
    Ok(changed)
}

/// The field manager of the leader's label writes: they are the leader's
/// assignments, not a reconcile, and audit logs (and tests) tell them apart.
pub const SHARDER_MANAGER: &str = "stackops-sharder";

/// The owner's side of the handshake: a stack it is asked to let go loses
/// both labels (and so leaves this replica's watch) without a reconcile.
/// True when the stack was let go.
pub async fn let_go_if_draining<K>(api: &Api<K>, stack: &K) -> Result<bool, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    if !stack.labels().contains_key(DRAIN_LABEL) {
        return Ok(false);
    }
    let patch = json!({"metadata": {"labels": {SHARD_LABEL: null, DRAIN_LABEL: null}}});
    api.patch(
        &stack.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    info!(stack = %stack.name_any(), "let go for another replica");
    Ok(true)
}

/// The leader's loop: every third of a Lease, and the moment a member's
/// Lease lapses, each stack one step towards its owner among the live
/// members.
pub async fn run_sharder<A, B>(client: Client, config: ShardConfig, first: Api<A>, second: Api<B>)
where
    A: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    B: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let leases: Api<Lease> = Api::namespaced(client, &config.namespace);
    let mut last_members = Vec::new();
    loop {
        let mut wait = config.duration / 3;
        match live_members(&leases).await {
            Ok(Members {
                live: members,
                next_lapse,
            }) => {
                if members != last_members {
                    info!(?members, "shard members");
                    last_members.clone_from(&members);
                }
                if let Some(lapse) = next_lapse {
                    wait = wait.min(lapse + LAPSE_MARGIN);
                }
                for result in [
                    assign_all(&first, &members).await,
                    assign_all(&second, &members).await,
                ] {
                    if let Err(e) = result {
                        warn!(%e, "could not assign stacks");
                    }
                }
            }
            Err(e) => warn!(%e, "could not list the shard members"),
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("stackops-{i}")).collect()
    }

    fn uids() -> Vec<String> {
        (0..2000).map(|i| format!("uid-{i:05}")).collect()
    }

    #[test]
    fn a_new_member_takes_about_a_share_and_only_for_itself() {
        let (three, four) = (members(3), members(4));
        let mut moved = 0;
        for uid in uids() {
            let before = owner(&uid, &three).unwrap();
            let after = owner(&uid, &four).unwrap();
            if before != after {
                assert_eq!(after, "stackops-3", "a stack moved between old members");
                moved += 1;
            }
        }
        // A quarter of 2,000, give or take.
        assert!((400..600).contains(&moved), "{moved} moved");
    }

    #[test]
    fn a_member_gone_hands_on_its_own_stacks_alone() {
        let three = members(3);
        let two: Vec<String> = three
            .iter()
            .filter(|m| *m != "stackops-1")
            .cloned()
            .collect();
        for uid in uids() {
            let before = owner(&uid, &three).unwrap();
            if before != "stackops-1" {
                assert_eq!(owner(&uid, &two).unwrap(), before);
            }
        }
    }

    #[test]
    fn a_stack_moves_from_a_live_member_only_through_a_drain() {
        let two = members(2);
        let uid = (0..)
            .map(|i| format!("uid-{i}"))
            .find(|u| owner(u, &two) == Some("stackops-1"))
            .unwrap();
        let step = |current, draining| assignment(&uid, current, draining, &two);
        assert_eq!(
            step(None, false),
            Some(Assignment::Assign("stackops-1".into()))
        );
        assert_eq!(step(Some("stackops-1"), false), Some(Assignment::Keep));
        // Owned by a live member that is not the owner: drain, then wait.
        assert_eq!(step(Some("stackops-0"), false), Some(Assignment::Drain));
        assert_eq!(step(Some("stackops-0"), true), Some(Assignment::Keep));
        // Owned by a member that is gone: assigned at once.
        assert_eq!(
            step(Some("stackops-9"), false),
            Some(Assignment::Assign("stackops-1".into()))
        );
        assert_eq!(step(Some("stackops-1"), true), Some(Assignment::Undrain));
        assert_eq!(assignment(&uid, None, false, &[]), None);
    }

    #[test]
    fn lease_names_and_label_values_are_valid_for_any_identity() {
        let name = member_lease_name("Stackops_Pod.7f9/xyz");
        assert!(name.len() <= 63, "{name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{name}"
        );
        assert_eq!(label_value("pod/7"), "pod-7");
        assert_eq!(label_value(&"a".repeat(80)).len(), 63);
    }
}
