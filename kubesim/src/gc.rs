//! The controllers kube-controller-manager would run for deletion: the garbage
//! collector (ownerReferences: background, foreground and orphan propagation),
//! the namespace controller (empties a terminating namespace) and the CRD
//! cleanup controller (deletes a CRD's objects before the CRD goes).
//!
//! Simplification: foreground deletion waits for every dependent, not only
//! those with `blockOwnerDeletion: true`.

use crate::crd::CLEANUP_FINALIZER;
use crate::meta;
use crate::resources::GroupResource;
use crate::rest::{self, DeleteOptions};
use crate::store::{EventType, ObjectKey, Store};
use serde_json::Value;
use std::collections::HashMap;

/// Runs passes until nothing changes. Returns the number of writes made.
pub fn collect(store: &mut Store) -> usize {
    let mut total = 0;
    // Bounded: each pass deletes or edits at least one object to continue.
    for _ in 0..1000 {
        let n = pass(store);
        if n == 0 {
            break;
        }
        total += n;
    }
    total
}

/// The owner `uid` names for a dependent in `namespace`. Owners resolve in
/// the dependent's namespace (or are cluster-scoped); an owner elsewhere
/// counts as absent, as upstream's collector sees it.
fn owner<'a>(by_uid: &HashMap<&str, &'a Value>, uid: &str, namespace: &str) -> Option<&'a Value> {
    by_uid.get(uid).copied().filter(|o| {
        let ns = meta::namespace(o);
        ns.is_empty() || ns == namespace
    })
}

/// The uids an object's ownerReferences name.
fn owner_uids(obj: &Value) -> Vec<&str> {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["uid"].as_str()).collect())
        .unwrap_or_default()
}

/// Whether a pass could change anything: some object is being deleted, or
/// has an owner that is gone or being deleted. Looked up in place, so the
/// usual case (every owner present, nothing deleting) copies nothing.
fn has_work(store: &Store) -> bool {
    let by_uid: HashMap<&str, &Value> = store.iter().map(|(_, v)| (meta::uid(v), v)).collect();
    store.iter().any(|(key, obj)| {
        meta::is_deleting(obj)
            || owner_uids(obj)
                .into_iter()
                .any(|uid| owner(&by_uid, uid, &key.namespace).is_none_or(meta::is_deleting))
    })
}

fn pass(store: &mut Store) -> usize {
    if !has_work(store) {
        return 0;
    }
    // The pass writes to the store as it goes, so it works from a copy:
    // of the metadata alone (what ownership and deletion are made of), so a
    // pass over many large objects copies little; CRDs whole, whose spec
    // names the resource their cleanup empties.
    let objects: Vec<(ObjectKey, Value)> = store
        .iter()
        .map(|(k, v)| {
            let copy = if k.gr.group == "apiextensions.k8s.io" {
                v.clone()
            } else {
                serde_json::json!({"metadata": v["metadata"].clone()})
            };
            (k.clone(), copy)
        })
        .collect();
    let by_uid: HashMap<&str, &Value> = objects.iter().map(|(_, v)| (meta::uid(v), v)).collect();
    let mut writes = 0;

    for (key, obj) in &objects {
        let refs = owner_uids(obj);
        if refs.is_empty() {
            continue;
        }
        let owners: Vec<Option<&Value>> = refs
            .iter()
            .map(|u| owner(&by_uid, u, &key.namespace))
            .collect();
        let orphaned_by: Vec<&str> = owners
            .iter()
            .flatten()
            .filter(|o| meta::is_deleting(o) && meta::finalizers(o).iter().any(|f| f == "orphan"))
            .map(|o| meta::uid(o))
            .collect();
        if !orphaned_by.is_empty() {
            // The whole object, not the pass's copy of its metadata.
            let Some(mut next) = store.get(key).cloned() else {
                continue;
            };
            if let Some(list) = next["metadata"]["ownerReferences"].as_array_mut() {
                list.retain(|r| !orphaned_by.contains(&r["uid"].as_str().unwrap_or("")));
            }
            store.commit(EventType::Modified, key.clone(), next);
            writes += 1;
            continue;
        }
        let all_gone = owners.iter().all(Option::is_none);
        let foreground = owners.iter().flatten().any(|o| {
            meta::is_deleting(o)
                && meta::finalizers(o)
                    .iter()
                    .any(|f| f == "foregroundDeletion")
        });
        if (all_gone || foreground) && !meta::is_deleting(obj) {
            let policy = if foreground {
                "Foreground"
            } else {
                "Background"
            };
            writes += delete(store, key, policy);
        }
    }

    for (key, obj) in &objects {
        if !meta::is_deleting(obj) {
            continue;
        }
        let uid = meta::uid(obj);
        let has_dependents = objects.iter().any(|(_, d)| {
            d["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|a| a.iter().any(|r| r["uid"].as_str() == Some(uid)))
        });
        for f in ["foregroundDeletion", "orphan"] {
            if !has_dependents && meta::finalizers(obj).iter().any(|x| x == f) {
                writes += remove_finalizer(store, key, f);
            }
        }
        if key.gr.group.is_empty() && key.gr.resource == "namespaces" {
            writes += finalize_namespace(store, key, &objects);
        }
        if key.gr.group == "apiextensions.k8s.io" && key.gr.resource == "customresourcedefinitions"
        {
            writes += finalize_crd(store, key, obj, &objects);
        }
    }
    writes
}

fn delete(store: &mut Store, key: &ObjectKey, policy: &str) -> usize {
    let opts = DeleteOptions {
        propagation: Some(policy.to_string()),
        ..Default::default()
    };
    match store.registry.any_version(&key.gr).cloned() {
        Some(info) => {
            usize::from(rest::delete(store, &info, &key.namespace, &key.name, &opts).is_ok())
        }
        None => {
            // Its resource is no longer served (CRD gone): drop it outright.
            if let Some(obj) = store.get(key).cloned() {
                store.commit(EventType::Deleted, key.clone(), obj);
                return 1;
            }
            0
        }
    }
}

/// Removes one finalizer; a deleting object with none left is removed.
fn remove_finalizer(store: &mut Store, key: &ObjectKey, finalizer: &str) -> usize {
    let Some(mut obj) = store.get(key).cloned() else {
        return 0;
    };
    let mut list = meta::finalizers(&obj);
    list.retain(|f| f != finalizer);
    meta::set_finalizers(&mut obj, &list);
    if list.is_empty() && meta::is_deleting(&obj) {
        let gone = store.commit(EventType::Deleted, key.clone(), obj);
        if key.gr.resource == "customresourcedefinitions" {
            let group = gone["spec"]["group"].as_str().unwrap_or("").to_string();
            let plural = gone["spec"]["names"]["plural"]
                .as_str()
                .unwrap_or("")
                .to_string();
            store.unregister_crd(&group, &plural);
        }
    } else {
        store.commit(EventType::Modified, key.clone(), obj);
    }
    1
}

fn finalize_namespace(
    store: &mut Store,
    ns_key: &ObjectKey,
    objects: &[(ObjectKey, Value)],
) -> usize {
    let ns = &ns_key.name;
    let contents: Vec<&ObjectKey> = objects
        .iter()
        .map(|(k, _)| k)
        .filter(|k| &k.namespace == ns && !k.namespace.is_empty())
        .collect();
    let mut writes = 0;
    for k in &contents {
        if store.get(k).is_some_and(|o| !meta::is_deleting(o)) {
            writes += delete(store, k, "Background");
        }
    }
    if !contents.is_empty() {
        return writes;
    }
    let Some(mut obj) = store.get(ns_key).cloned() else {
        return writes;
    };
    if let Some(spec) = obj["spec"].as_object_mut() {
        spec.remove("finalizers");
    }
    if meta::finalizers(&obj).is_empty() {
        store.commit(EventType::Deleted, ns_key.clone(), obj);
        return writes + 1;
    }
    if store.get(ns_key) != Some(&obj) {
        store.commit(EventType::Modified, ns_key.clone(), obj);
        writes += 1;
    }
    writes
}

fn finalize_crd(
    store: &mut Store,
    crd_key: &ObjectKey,
    crd: &Value,
    objects: &[(ObjectKey, Value)],
) -> usize {
    if !meta::finalizers(crd).iter().any(|f| f == CLEANUP_FINALIZER) {
        return 0;
    }
    let gr = GroupResource {
        group: crd["spec"]["group"].as_str().unwrap_or("").into(),
        resource: crd["spec"]["names"]["plural"].as_str().unwrap_or("").into(),
    };
    let instances: Vec<&ObjectKey> = objects
        .iter()
        .map(|(k, _)| k)
        .filter(|k| k.gr == gr)
        .collect();
    let mut writes = 0;
    for k in &instances {
        if store.get(k).is_some_and(|o| !meta::is_deleting(o)) {
            writes += delete(store, k, "Background");
        }
    }
    if instances.is_empty() {
        writes += remove_finalizer(store, crd_key, CLEANUP_FINALIZER);
    }
    writes
}
