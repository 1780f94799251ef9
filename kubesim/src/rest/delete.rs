//! Deletion: finalizers, propagation policies, collections.

use super::*;

/// What delete returns: the object while it waits on finalizers, or a
/// success Status once it is gone (as upstream does for most resources).
pub enum Deleted {
    Pending(Value),
    Gone(Value),
}

pub fn delete(
    store: &mut Store,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
    opts: &DeleteOptions,
) -> Result<Deleted> {
    let k = key(info, ns, name);
    let old = store
        .get(&k)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(subject(info, name)))?;
    let precondition_failed = |what: &str, expected: &str, actual: &str| ApiError::Conflict {
        subject: subject(info, name),
        message: format!(
            "Precondition failed: {what} in precondition: {expected}, {what} in object meta: {actual}"
        ),
    };
    if let Some(uid) = &opts.precondition_uid
        && uid != meta::uid(&old)
    {
        return Err(precondition_failed("UID", uid, meta::uid(&old)));
    }
    let current_rv = old["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_string();
    if let Some(rv) = &opts.precondition_rv
        && rv != &current_rv
    {
        return Err(precondition_failed("ResourceVersion", rv, &current_rv));
    }
    let mut obj = old.clone();
    let mut finalizers = meta::finalizers(&obj);
    let extra = match opts.propagation.as_deref() {
        Some("Foreground") => Some("foregroundDeletion"),
        Some("Orphan") => Some("orphan"),
        _ => None,
    };
    if let Some(f) = extra
        && !finalizers.iter().any(|x| x == f)
    {
        finalizers.push(f.to_string());
        meta::set_finalizers(&mut obj, &finalizers);
    }
    let waits = !finalizers.is_empty()
        || is_namespace(info)
        || (is_crd(info) && has_instances(store, &old));
    if opts.dry_run {
        return Ok(if waits {
            Deleted::Pending(present(info, &old))
        } else {
            Deleted::Gone(deleted(info, &old))
        });
    }
    if waits {
        if !meta::is_deleting(&obj) {
            // Marking an object for deletion bumps its generation upstream.
            if let Some(g) = obj["metadata"]["generation"].as_i64().filter(|g| *g > 0) {
                obj["metadata"]["generation"] = json!(g + 1);
            }
            obj["metadata"]["deletionTimestamp"] = Value::String(meta::now());
            obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            if is_namespace(info) {
                obj["status"]["phase"] = json!("Terminating");
            }
        }
        if obj == old {
            return Ok(Deleted::Pending(present(info, &old)));
        }
        let stored = store.commit(EventType::Modified, k, obj);
        return Ok(Deleted::Pending(present(info, &stored)));
    }
    let gone = store.commit(EventType::Deleted, k, obj);
    after_removal(store, info, &gone);
    Ok(Deleted::Gone(deleted(info, &gone)))
}

/// What a completed DELETE answers: the object itself for the kinds whose
/// upstream store sets `ReturnDeletedObject` (Services, ServiceAccounts),
/// a `Status` of success for the rest.
fn deleted(info: &ResourceInfo, gone: &Value) -> Value {
    // Upstream's stores with ReturnDeletedObject (a namespace is never gone
    // at once: it waits on its `kubernetes` finalizer).
    let returns_object = info.group.is_empty()
        && matches!(
            info.plural.as_str(),
            "services" | "serviceaccounts" | "pods" | "namespaces"
        );
    if returns_object {
        present(info, gone)
    } else {
        success(info, gone)
    }
}

fn has_instances(store: &Store, crd: &Value) -> bool {
    let gr = crate::resources::GroupResource {
        group: crd["spec"]["group"].as_str().unwrap_or("").into(),
        resource: crd["spec"]["names"]["plural"].as_str().unwrap_or("").into(),
    };
    store.range(&gr, None).next().is_some()
}

pub(super) fn after_removal(store: &mut Store, info: &ResourceInfo, gone: &Value) {
    if is_crd(info) {
        let group = gone["spec"]["group"].as_str().unwrap_or("").to_string();
        let plural = gone["spec"]["names"]["plural"]
            .as_str()
            .unwrap_or("")
            .to_string();
        store.unregister_crd(&group, &plural);
    }
}

fn success(info: &ResourceInfo, gone: &Value) -> Value {
    let mut details =
        json!({"name": meta::name(gone), "kind": info.plural, "uid": meta::uid(gone)});
    if !info.group.is_empty() {
        details["group"] = json!(info.group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

/// DELETE on a collection: deletes every matching object, returns the list of
/// what was deleted or is now pending deletion.
pub fn delete_collection(
    store: &mut Store,
    info: &ResourceInfo,
    ns: Option<&str>,
    list_opts: &ListOptions,
    opts: &DeleteOptions,
) -> Result<Value> {
    let all = ListOptions {
        limit: None,
        continue_token: None,
        ..list_opts.clone()
    };
    let listed = list(store, info, ns, &all)?;
    let mut items = Vec::new();
    for item in listed["items"].as_array().into_iter().flatten() {
        match delete(store, info, meta::namespace(item), meta::name(item), opts) {
            Ok(Deleted::Pending(v)) => items.push(v),
            Ok(Deleted::Gone(_)) => items.push(item.clone()),
            Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(json!({
        "apiVersion": info.api_version(),
        "kind": info.list_kind,
        "metadata": {"resourceVersion": store.resource_version().to_string()},
        "items": items,
    }))
}
