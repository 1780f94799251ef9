//! Writes: create, update, patch and server-side apply, sharing one path
//! for admission, concurrency, status separation, generation and field
//! ownership.

use super::*;

pub fn create(
    store: &mut Store,
    info: &ResourceInfo,
    ns: &str,
    mut obj: Value,
    opts: &WriteOptions,
) -> Result<Value> {
    if !obj.is_object() {
        return Err(ApiError::BadRequest(
            "the body of the request must be a JSON object".into(),
        ));
    }
    check_type(info, &obj)?;
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    let body_ns = meta::namespace(&obj).to_string();
    if info.namespaced {
        if !body_ns.is_empty() && body_ns != ns {
            return Err(ApiError::BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request".into(),
            ));
        }
        obj["metadata"]["namespace"] = Value::String(ns.to_string());
    } else if let Some(m) = obj["metadata"].as_object_mut() {
        m.remove("namespace");
    }
    let mut name = meta::name(&obj).to_string();
    if name.is_empty() {
        match obj["metadata"]["generateName"].as_str() {
            Some(prefix) if !prefix.is_empty() => {
                name = format!("{prefix}{}", meta::random_suffix());
                obj["metadata"]["name"] = Value::String(name.clone());
            }
            _ => {
                return Err(invalid(
                    info,
                    "",
                    vec![Cause {
                        reason: "FieldValueRequired",
                        field: "metadata.name".into(),
                        message: "Required value: name or generateName is required".into(),
                    }],
                ));
            }
        }
    }
    validate_name(info, &name)?;
    check_namespace_writable(store, info, ns, &name)?;
    let k = key(info, ns, &name);
    if store.get(&k).is_some() {
        return Err(ApiError::AlreadyExists(subject(info, &name)));
    }
    obj["apiVersion"] = Value::String(info.api_version());
    obj["kind"] = Value::String(info.kind.clone());
    {
        let m = obj["metadata"]
            .as_object_mut()
            .expect("metadata is an object");
        for field in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            m.remove(field);
        }
        if !opts.managed_fields_set {
            m.remove("managedFields");
        }
        m.insert(
            "uid".into(),
            Value::String(uuid::Uuid::new_v4().to_string()),
        );
        m.insert("creationTimestamp".into(), Value::String(meta::now()));
        if info.has_generation {
            m.insert("generation".into(), json!(1));
        }
    }
    if info.status_subresource
        && let Some(m) = obj.as_object_mut()
    {
        // A create never sets status when status is a subresource.
        m.remove("status");
    }
    admit(store, info, &mut obj, None, opts, true)?;
    if info.apply_schema().is_some() && !opts.managed_fields_set {
        obj["metadata"]["managedFields"] =
            ssa::track_update(info, None, &obj, &json!([]), &opts.field_manager, false);
    }
    if opts.dry_run {
        return Ok(obj);
    }
    if is_crd(info) {
        store.registry.register_crd(&obj);
    }
    let stored = store.commit(EventType::Added, k, crate::convert::to_storage(info, obj));
    if info.plural == "namespaces" && info.group.is_empty() {
        crate::namespace_defaults::populate(store, &name);
    }
    Ok(present(info, &stored))
}

fn validate_name(info: &ResourceInfo, name: &str) -> Result<()> {
    let ok = if info.plural == "namespaces" && info.group.is_empty() {
        meta::is_dns_label(name)
    } else if info.group == "rbac.authorization.k8s.io" {
        crate::validation::is_path_segment_name(name)
    } else {
        meta::is_dns_subdomain(name)
    };
    if ok {
        return Ok(());
    }
    Err(invalid(
        info,
        name,
        vec![Cause {
            reason: "FieldValueInvalid",
            field: "metadata.name".into(),
            message: format!(
                "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
             characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', \
             regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ),
        }],
    ))
}

/// Kind-specific admission: decoding (types, unknown and duplicate fields),
/// CR schema, CRD shape and status, per-kind validation, defaults.
/// `check_fields` is false for status writes, which keep the rest as stored.
fn admit(
    store: &Store,
    info: &ResourceInfo,
    obj: &mut Value,
    old: Option<&Value>,
    opts: &WriteOptions,
    check_fields: bool,
) -> Result<()> {
    let name = meta::name(obj).to_string();
    let mut problems = crate::decode::FieldProblems {
        body: opts.body_fields.clone(),
        ..Default::default()
    };
    let decoded = match crate::builtin_schema::of(&info.group, &info.plural) {
        Some(schema) if !info.custom => crate::decode::decode(schema, obj),
        _ => crate::decode::decode_metadata(obj),
    };
    problems.unknown = decoded.map_err(|e| crate::decode::cannot_handle(info, &e))?;
    let meta_causes = crate::validation::object_meta(obj);
    if !meta_causes.is_empty() {
        return Err(invalid(info, &name, meta_causes));
    }
    if info.custom
        && let Some(schema) = &info.schema
    {
        let pruned =
            schema::admit(schema, obj, old).map_err(|causes| invalid(info, &name, causes))?;
        problems.unknown.extend(pruned);
    }
    if check_fields {
        problems.report(info, opts.field_validation, &opts.warnings)?;
    }
    if is_crd(info) {
        crate::crd::admit(store, obj, old).map_err(|causes| invalid(info, &name, causes))?;
    }
    if !info.custom {
        let causes = crate::builtin_validation::validate(info, obj, old);
        if !causes.is_empty() {
            return Err(invalid(info, &name, causes));
        }
        crate::defaults::apply(&info.group, &info.plural, obj, old);
    }
    if is_namespace(info) && old.is_none() {
        obj["spec"]["finalizers"] = json!(["kubernetes"]);
        obj["status"] = json!({"phase": "Active"});
    }
    Ok(())
}

pub fn update(
    store: &mut Store,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
    body: Value,
    sub: Sub,
    opts: &WriteOptions,
) -> Result<Value> {
    if !body.is_object() {
        return Err(ApiError::BadRequest(
            "the body of the request must be a JSON object".into(),
        ));
    }
    check_type(info, &body)?;
    let body_name = meta::name(&body);
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::BadRequest(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    // Custom resources and CRDs refuse unconditional updates
    // (AllowUnconditionalUpdate is false for both upstream); PATCH is
    // unaffected.
    if (info.custom || super::is_crd(info))
        && body["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("")
            .is_empty()
    {
        return Err(ApiError::Invalid {
            subject: subject(info, name),
            causes: vec![Cause {
                reason: "FieldValueInvalid",
                field: "metadata.resourceVersion".into(),
                message: "Invalid value: 0x0: must be specified for an update".into(),
            }],
        });
    }
    let body_ns = meta::namespace(&body);
    if info.namespaced && !body_ns.is_empty() && body_ns != ns {
        return Err(ApiError::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        ));
    }
    write(store, info, ns, name, body, sub, opts)
}

/// A PATCH request body and its flavour (from the Content-Type).
pub struct PatchBody<'a> {
    pub kind: PatchType,
    pub body: &'a [u8],
}

pub fn patch(
    store: &mut Store,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
    body: PatchBody<'_>,
    sub: Sub,
    opts: &WriteOptions,
) -> Result<Value> {
    if body.kind == PatchType::Apply {
        return apply(store, info, ns, name, body.body, sub, opts);
    }
    let current = get(store, info, ns, name)?;
    let mut patched = patch::apply(body.kind, &current, body.body)?;
    if !patched.is_object() {
        return Err(ApiError::BadRequest(
            "the patch produced a value that is not an object".into(),
        ));
    }
    // A patch that does not mention resourceVersion is unconditional.
    if patched["metadata"]["resourceVersion"] == current["metadata"]["resourceVersion"]
        && let Some(m) = patched["metadata"].as_object_mut()
    {
        m.remove("resourceVersion");
    }
    if meta::name(&patched) != name {
        return Err(invalid(
            info,
            name,
            vec![Cause {
                reason: "FieldValueInvalid",
                field: "metadata.name".into(),
                message: format!(
                    "Invalid value: \"{}\": field is immutable",
                    meta::name(&patched)
                ),
            }],
        ));
    }
    write(store, info, ns, name, patched, sub, opts)
}

/// The shared update path: concurrency check, subresource rules, admission,
/// generation, and finalization of objects being deleted.
fn write(
    store: &mut Store,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
    mut new: Value,
    sub: Sub,
    opts: &WriteOptions,
) -> Result<Value> {
    let k = key(info, ns, name);
    // What the client sent as managedFields: an apply's result, or a
    // client's own edit (an empty list resets ownership, as upstream).
    let sent_managed = new["metadata"].get("managedFields").cloned();
    // The whole update works on the requested version; storage form at commit.
    let old = store
        .get(&k)
        .map(|o| present(info, o))
        .ok_or_else(|| ApiError::NotFound(subject(info, name)))?;
    if let Some(rv) = new["metadata"]["resourceVersion"].as_str()
        && !rv.is_empty()
        && Some(rv) != old["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::Conflict {
            subject: subject(info, name),
            message: "the object has been modified; please apply your changes to the latest version and try again".into(),
        });
    }
    if !new["metadata"].is_object() {
        new["metadata"] = json!({});
    }
    let mut next = match sub {
        // Only status moves on the status subresource; everything else is kept.
        Sub::Status => {
            let mut n = old.clone();
            match new.get("status") {
                Some(s) => n["status"] = s.clone(),
                None => {
                    n.as_object_mut().expect("object").remove("status");
                }
            }
            n
        }
        Sub::Main => {
            let mut n = new;
            if info.status_subresource {
                match old.get("status") {
                    Some(s) => n["status"] = s.clone(),
                    None => {
                        n.as_object_mut().expect("object").remove("status");
                    }
                }
            }
            n
        }
    };
    next["apiVersion"] = Value::String(info.api_version());
    next["kind"] = Value::String(info.kind.clone());
    // System-owned metadata is not writable by clients.
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "managedFields",
    ] {
        match old["metadata"].get(field) {
            Some(v) => next["metadata"][field] = v.clone(),
            None => {
                next["metadata"]
                    .as_object_mut()
                    .expect("object")
                    .remove(field);
            }
        }
    }
    if meta::is_deleting(&old) {
        let before = meta::finalizers(&old);
        let added: Vec<String> = meta::finalizers(&next)
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        if !added.is_empty() {
            return Err(invalid(
                info,
                name,
                vec![Cause {
                    reason: "FieldValueForbidden",
                    field: "metadata.finalizers".into(),
                    message: format!(
                        "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                        added
                            .iter()
                            .map(|f| format!("{f:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }],
            ));
        }
    }
    // Strictness applies to what the client sent, not to the stored status.
    admit(store, info, &mut next, Some(&old), opts, sub == Sub::Main)?;
    if info.has_generation
        && meta::spec_part(&next, info.status_subresource)
            != meta::spec_part(&old, info.status_subresource)
    {
        let generation = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        next["metadata"]["generation"] = json!(generation);
    }
    next["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
    let tracked = info.apply_schema().is_some();
    let old_managed = old["metadata"]
        .get("managedFields")
        .cloned()
        .unwrap_or(json!([]));
    let base_managed = match &sent_managed {
        Some(v) if tracked && !v.is_null() && *v != old_managed => v.clone(),
        _ => old_managed.clone(),
    };
    if without_managed_fields(&next) == without_managed_fields(&old) && base_managed == old_managed
    {
        // A no-op write is not persisted: no new resourceVersion, no event,
        // and field ownership stays as it was.
        return Ok(old);
    }
    if tracked {
        next["metadata"]["managedFields"] = if opts.managed_fields_set {
            sent_managed.unwrap_or(json!([]))
        } else {
            ssa::track_update(
                info,
                Some(&old),
                &next,
                &base_managed,
                &opts.field_manager,
                sub == Sub::Status,
            )
        };
    }
    if opts.dry_run {
        return Ok(next);
    }
    if is_crd(info) {
        store.registry.register_crd(&next);
    }
    if meta::is_deleting(&next) && meta::finalizers(&next).is_empty() {
        let gone = store.commit(
            EventType::Deleted,
            k,
            crate::convert::to_storage(info, next),
        );
        super::delete::after_removal(store, info, &gone);
        return Ok(present(info, &gone));
    }
    let stored = store.commit(
        EventType::Modified,
        k,
        crate::convert::to_storage(info, next),
    );
    Ok(present(info, &stored))
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
    v
}

/// Server-side apply of a custom resource: merges the manager's configuration
/// (creating the object if needed) and records field ownership.
pub fn apply(
    store: &mut Store,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
    body: &[u8],
    sub: Sub,
    opts: &WriteOptions,
) -> Result<Value> {
    if !opts.field_manager_given {
        return Err(ApiError::BadRequest(
            "PATCH, fieldManager is required for apply requests".into(),
        ));
    }
    let applied: Value = serde_json::from_slice(body)
        .or_else(|_| serde_yaml_ng::from_slice(body))
        .map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}")))?;
    if !applied.is_object() {
        return Err(ApiError::BadRequest("apply patch must be an object".into()));
    }
    if applied["apiVersion"].as_str().unwrap_or("").is_empty()
        || applied["kind"].as_str().unwrap_or("").is_empty()
    {
        return Err(ApiError::BadRequest(
            "invalid object type: apiVersion and kind must be set in an apply patch".into(),
        ));
    }
    check_type(info, &applied)?;
    let body_name = meta::name(&applied);
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::BadRequest(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let live = store.get(&key(info, ns, name)).map(|o| present(info, o));
    let mut merged = ssa::apply(
        info,
        live.as_ref(),
        &applied,
        &opts.field_manager,
        sub == Sub::Status,
        opts.force,
    )?;
    let write_opts = WriteOptions {
        managed_fields_set: true,
        ..opts.clone()
    };
    merged["apiVersion"] = json!(info.api_version());
    merged["kind"] = json!(info.kind);
    match live {
        None if sub == Sub::Status => Err(ApiError::NotFound(subject(info, name))),
        None => {
            merged["metadata"]["name"] = json!(name);
            create(store, info, ns, merged, &write_opts)
        }
        Some(_) => {
            // Apply is unconditional unless the configuration names a resourceVersion.
            match applied["metadata"]["resourceVersion"].as_str() {
                Some(rv) if !rv.is_empty() => merged["metadata"]["resourceVersion"] = json!(rv),
                _ => {
                    if let Some(m) = merged["metadata"].as_object_mut() {
                        m.remove("resourceVersion");
                    }
                }
            }
            write(store, info, ns, name, merged, sub, &write_opts)
        }
    }
}
