//! Taking over what a deleted stack left in AWS: a stack deleted with
//! `deletionPolicy: Orphan`, a cluster restored from backup, or an object
//! re-created by Argo CD comes back with a new uid. Annotated with the uid
//! its resources carry, the new object works on them as they are — the
//! same names, the same tags — and creates nothing that exists.
//!
//! Resources keep the uid they were built with: names derive from it, so
//! re-tagging them could not make them the new object's anyway. What the
//! operator checks, once, before the first pass: the resources carrying
//! that uid name this very stack (namespace and name), no other live
//! object holds them, and the new spec has every one of them (adopting
//! never deletes: a spec of another kind, or one that dropped a tier,
//! would prune what it lacks on its first pass).

use kube::ResourceExt;

use super::tenancy::Refusal;
use crate::aws::{AwsClients, tagged};
use crate::engine::AwsError;
use crate::identity::TAG_UID;

/// Annotation naming the uid whose AWS resources the stack takes over.
pub const ADOPT_ANNOTATION: &str = "stackops.io/adopt-uid";

/// The uid the stack's AWS resources carry: the adopted one, else its own.
pub fn aws_uid<K: kube::Resource>(obj: &K) -> Option<String> {
    obj.annotations()
        .get(ADOPT_ANNOTATION)
        .map(|uid| uid.trim().to_string())
        .filter(|uid| !uid.is_empty())
        .or_else(|| obj.meta().uid.clone())
}

/// Whether the stack `namespace/name`, whose blueprint has the nodes
/// `components`, may take over the resources tagged `uid`, given the other
/// live objects of its kind in its namespace (their uid and the uid they
/// adopt). `None`: it may.
pub async fn refusal(
    clients: &AwsClients,
    stack: &str,
    uid: &str,
    components: &std::collections::BTreeSet<String>,
    others: &[(String, Option<String>)],
) -> Result<Option<Refusal>, AwsError> {
    let refuse = |message: String| {
        Ok(Some(Refusal {
            reason: "AdoptionRefused",
            message,
        }))
    };
    if let Some((holder, _)) = others
        .iter()
        .find(|(own, adopted)| own == uid || adopted.as_deref() == Some(uid))
    {
        return refuse(format!(
            "{ADOPT_ANNOTATION}: {uid} is held by another live stack ({holder}); delete it first"
        ));
    }
    let found = tagged::resources_of_uid(clients, uid).await?;
    let stacks = &found.stacks;
    if stacks.is_empty() {
        return refuse(format!(
            "{ADOPT_ANNOTATION}: no AWS resource in the stack's region carries {TAG_UID}={uid}"
        ));
    }
    if let Some(other) = stacks.keys().find(|s| s.as_str() != stack) {
        return refuse(format!(
            "{ADOPT_ANNOTATION}: the resources carrying {TAG_UID}={uid} belong to stack {other:?}, \
             not {stack}: a stack takes over only what was built under its own namespace and name"
        ));
    }
    let missing: Vec<&str> = found
        .components
        .iter()
        .filter(|c| !components.contains(*c))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return refuse(format!(
            "{ADOPT_ANNOTATION}: the resources carrying {TAG_UID}={uid} include {} that this \
             spec does not have, so adopting would delete them; adopt with a spec that has them \
             (the orphaned stack's), then change it",
            missing.join(", ")
        ));
    }
    Ok(None)
}
