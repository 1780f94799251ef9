//! The verbs — get, list, create, update, patch, delete — applied to the store,
//! with the generic registry rules of kube-apiserver: optimistic concurrency,
//! status subresource separation, generation, finalizers and CRD admission.

use crate::error::{ApiError, Cause, Result, Subject};
use crate::meta;
use crate::patch::{self, PatchType};
use crate::resources::ResourceInfo;
use crate::schema;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::ssa;
use crate::store::{EventType, ObjectKey, Store};
use base64::Engine;
use serde_json::{Value, json};

/// Which part of an object a write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    Main,
    Status,
}

#[derive(Debug, Default, Clone)]
pub struct ListOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

/// Query parameters every write accepts.
#[derive(Debug, Default, Clone)]
pub struct WriteOptions {
    pub dry_run: bool,
    /// `fieldValidation=Strict`: unknown fields are an error instead of pruned.
    pub strict: bool,
    /// The field manager: `fieldManager`, else the User-Agent's product name.
    pub field_manager: String,
    /// `fieldManager` was given explicitly (server-side apply requires it).
    pub field_manager_given: bool,
    /// `force=true` on an apply patch.
    pub force: bool,
    /// The body already carries the managedFields to store (apply did them).
    pub managed_fields_set: bool,
}

#[derive(Debug, Default, Clone)]
pub struct DeleteOptions {
    pub propagation: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    /// Reads a `DeleteOptions` body (kube-rs and kubectl send one).
    pub fn from_body(body: &Value) -> Self {
        DeleteOptions {
            propagation: body["propagationPolicy"].as_str().map(String::from),
            precondition_uid: body["preconditions"]["uid"].as_str().map(String::from),
            precondition_rv: body["preconditions"]["resourceVersion"]
                .as_str()
                .map(String::from),
            dry_run: body["dryRun"].as_array().is_some_and(|a| !a.is_empty()),
        }
    }
}

/// `details` for errors about an object: upstream names the resource (plural).
pub fn subject(info: &ResourceInfo, name: &str) -> Subject {
    Subject {
        group: info.group.clone(),
        kind: info.plural.clone(),
        name: name.to_string(),
    }
}

/// `Invalid` errors name the Kind instead (`Widget.example.com "x" is invalid`).
fn invalid(info: &ResourceInfo, name: &str, causes: Vec<Cause>) -> ApiError {
    ApiError::Invalid {
        subject: Subject {
            group: info.group.clone(),
            kind: info.kind.clone(),
            name: name.to_string(),
        },
        causes,
    }
}

fn key(info: &ResourceInfo, namespace: &str, name: &str) -> ObjectKey {
    ObjectKey {
        gr: info.storage_key(),
        namespace: if info.namespaced {
            namespace.to_string()
        } else {
            String::new()
        },
        name: name.to_string(),
    }
}

/// Presents a stored object at the requested version (CRD conversion `None`
/// only rewrites apiVersion, which is all kubesim supports).
pub fn present(info: &ResourceInfo, obj: &Value) -> Value {
    let mut out = obj.clone();
    out["apiVersion"] = Value::String(info.api_version());
    out["kind"] = Value::String(info.kind.clone());
    out
}

pub fn get(store: &Store, info: &ResourceInfo, ns: &str, name: &str) -> Result<Value> {
    store
        .get(&key(info, ns, name))
        .map(|o| present(info, o))
        .ok_or_else(|| ApiError::NotFound(subject(info, name)))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: u64,
    /// `namespace/name` of the last item returned.
    after: String,
}

pub fn list(
    store: &Store,
    info: &ResourceInfo,
    ns: Option<&str>,
    opts: &ListOptions,
) -> Result<Value> {
    let (list_rv, after) = match &opts.continue_token {
        Some(token) => {
            let bad = || ApiError::BadRequest("continue key is not valid: invalid token".into());
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .map_err(|_| bad())?;
            let t: ContinueToken = serde_json::from_slice(&raw).map_err(|_| bad())?;
            if t.rv < store.compacted() {
                return Err(ApiError::Expired(
                    "The provided continue parameter is too old to display a consistent list result. \
                     You can start a new list without the continue parameter, or use the continue token \
                     in this response to retrieve the remainder of the results. Continuing with the \
                     provided token results in an inconsistent list - objects that were created, \
                     modified, or deleted between the time the first chunk was returned and now may \
                     show up in the list."
                        .into(),
                ));
            }
            (t.rv, Some(t.after))
        }
        None => (store.resource_version(), None),
    };
    let gr = info.storage_key();
    // Pages after the first read the current state, not a snapshot at `list_rv`
    // as etcd would: objects changed between pages may show their newer state.
    let matching: Vec<(&ObjectKey, &Value)> = store
        .range(&gr, ns)
        .filter(|(k, _)| {
            after
                .as_ref()
                .is_none_or(|a| &format!("{}/{}", k.namespace, k.name) > a)
        })
        .filter(|(_, o)| opts.labels.matches(&o["metadata"]["labels"]) && opts.fields.matches(o))
        .collect();
    let take = opts
        .limit
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX)
        .min(matching.len());
    let (page, rest) = matching.split_at(take);
    let items: Vec<Value> = page.iter().map(|(_, o)| present(info, o)).collect();
    let mut metadata = json!({"resourceVersion": list_rv.to_string()});
    if let (false, Some((last, _))) = (rest.is_empty(), page.last()) {
        let token = ContinueToken {
            rv: list_rv,
            after: format!("{}/{}", last.namespace, last.name),
        };
        metadata["continue"] = Value::String(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(&token).unwrap_or_default()),
        );
        metadata["remainingItemCount"] = json!(rest.len());
    }
    Ok(json!({
        "apiVersion": info.api_version(),
        "kind": info.list_kind,
        "metadata": metadata,
        "items": items,
    }))
}

/// Checks the body's apiVersion/kind against the endpoint it was sent to.
fn check_type(info: &ResourceInfo, body: &Value) -> Result<()> {
    if let Some(v) = body["apiVersion"].as_str()
        && v != info.api_version()
    {
        return Err(ApiError::BadRequest(format!(
            "the API version in the data ({v}) does not match the expected API version ({})",
            info.api_version()
        )));
    }
    if let Some(k) = body["kind"].as_str()
        && k != info.kind
    {
        return Err(ApiError::BadRequest(format!(
            "the kind in the data ({k}) does not match the expected kind ({})",
            info.kind
        )));
    }
    Ok(())
}

fn check_namespace_writable(
    store: &Store,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
) -> Result<()> {
    if !info.namespaced {
        return Ok(());
    }
    let ns_info = store
        .registry
        .get("", "v1", "namespaces")
        .cloned()
        .expect("namespaces are built in");
    match store.get(&key(&ns_info, "", ns)) {
        None => Err(ApiError::NotFound(subject(&ns_info, ns))),
        Some(n) if meta::is_deleting(n) => Err(ApiError::Forbidden {
            subject: subject(info, name),
            message: format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                qualified(info)
            ),
        }),
        Some(_) => Ok(()),
    }
}

fn qualified(info: &ResourceInfo) -> String {
    if info.group.is_empty() {
        info.plural.clone()
    } else {
        format!("{}.{}", info.plural, info.group)
    }
}

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
    admit(store, info, &mut obj, None, opts.strict)?;
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
    let stored = store.commit(EventType::Added, k, obj);
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

fn is_crd(info: &ResourceInfo) -> bool {
    info.group == "apiextensions.k8s.io" && info.plural == "customresourcedefinitions"
}

fn is_namespace(info: &ResourceInfo) -> bool {
    info.group.is_empty() && info.plural == "namespaces"
}

/// Kind-specific admission: CR schema, CRD shape and status, namespace defaults.
fn admit(
    store: &Store,
    info: &ResourceInfo,
    obj: &mut Value,
    old: Option<&Value>,
    strict: bool,
) -> Result<()> {
    let name = meta::name(obj).to_string();
    let meta_causes = crate::validation::object_meta(obj);
    if !meta_causes.is_empty() {
        return Err(invalid(info, &name, meta_causes));
    }
    if info.custom
        && let Some(schema) = &info.schema
    {
        let pruned =
            schema::admit(schema, obj, old).map_err(|causes| invalid(info, &name, causes))?;
        if strict && !pruned.is_empty() {
            let fields: Vec<String> = pruned
                .iter()
                .map(|p| format!("unknown field \"{p}\""))
                .collect();
            return Err(ApiError::BadRequest(format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
                fields.join(", "),
                kind = info.kind,
                version = info.version
            )));
        }
    }
    if is_crd(info) {
        crate::crd::admit(store, obj, old).map_err(|causes| invalid(info, &name, causes))?;
    }
    if !info.custom {
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
    // Custom resources refuse unconditional updates (AllowUnconditionalUpdate
    // is false for them upstream); PATCH is unaffected.
    if info.custom
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
    let old = store
        .get(&k)
        .cloned()
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
    admit(
        store,
        info,
        &mut next,
        Some(&old),
        opts.strict && sub == Sub::Main,
    )?;
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
    if without_managed_fields(&next) == without_managed_fields(&present(info, &old))
        && base_managed == old_managed
    {
        // A no-op write is not persisted: no new resourceVersion, no event,
        // and field ownership stays as it was.
        return Ok(present(info, &old));
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
        let gone = store.commit(EventType::Deleted, k, next);
        after_removal(store, info, &gone);
        return Ok(present(info, &gone));
    }
    let stored = store.commit(EventType::Modified, k, next);
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
            Deleted::Gone(success(info, &old))
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
    Ok(Deleted::Gone(success(info, &gone)))
}

fn has_instances(store: &Store, crd: &Value) -> bool {
    let gr = crate::resources::GroupResource {
        group: crd["spec"]["group"].as_str().unwrap_or("").into(),
        resource: crd["spec"]["names"]["plural"].as_str().unwrap_or("").into(),
    };
    store.range(&gr, None).next().is_some()
}

fn after_removal(store: &mut Store, info: &ResourceInfo, gone: &Value) {
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
