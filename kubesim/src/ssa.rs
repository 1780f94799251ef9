//! Field ownership (`metadata.managedFields`) and server-side apply for
//! custom resources, following structured-merge-diff: every write records
//! which manager set which fields; an apply merges the manager's
//! configuration by the schema's list and map types, removes fields the
//! manager stopped applying (unless someone else owns them), and refuses to
//! change a field another manager owns unless forced (409 Conflict).
//!
//! Scope: custom resources (their CRD schema carries the list types) and
//! every built-in kind kubesim stores (`builtin_schema` gives their list
//! types). Defaulted fields are attributed to the writer rather than left
//! unowned.

use crate::error::{ApiError, Subject};
use crate::fieldset::{self, FieldSet};
use crate::meta;
use crate::resources::ResourceInfo;
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: String,
    set: FieldSet,
}

impl Entry {
    fn is(&self, manager: &str, operation: &str, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }
}

fn entries(obj: &Value) -> Vec<Entry> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| Entry {
            manager: e["manager"].as_str().unwrap_or("").into(),
            operation: e["operation"].as_str().unwrap_or("").into(),
            api_version: e["apiVersion"].as_str().unwrap_or("").into(),
            time: e["time"].as_str().unwrap_or("").into(),
            subresource: e["subresource"].as_str().unwrap_or("").into(),
            set: FieldSet::from_fields_v1(&e["fieldsV1"]),
        })
        .collect()
}

fn to_json(entries: &[Entry]) -> Value {
    entries
        .iter()
        .filter(|e| !e.set.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": e.set.to_fields_v1(),
            });
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect()
}

fn fields(info: &ResourceInfo, obj: &Value, status: bool) -> FieldSet {
    let schema = info.apply_schema().unwrap_or(&Value::Null);
    fieldset::fields_of(obj, schema, status, info.status_subresource)
}

fn subresource(status: bool) -> &'static str {
    if status { "status" } else { "" }
}

/// Records a create or update by `manager`: the fields it changed become its
/// own (operation Update) and are taken from everyone else; removed fields
/// leave every set. `base` is the ownership to start from: the stored
/// `managedFields`, or what the client wrote into them (as kubectl does when
/// it migrates client-side-apply ownership). Returns the new `managedFields`.
pub fn track_update(
    info: &ResourceInfo,
    old: Option<&Value>,
    new: &Value,
    base: &Value,
    manager: &str,
    status: bool,
) -> Value {
    let empty = json!({});
    let old_obj = old.unwrap_or(&empty);
    let old_set = fields(info, old_obj, status);
    let new_set = fields(info, new, status);
    let mut changed = FieldSet::default();
    for p in new_set.paths() {
        if fieldset::value_at(old_obj, &p) != fieldset::value_at(new, &p) || !old_set.contains(&p) {
            changed.insert(&p);
        }
    }
    let removed = old_set.difference(&new_set);
    let mut list = entries(&json!({"metadata": {"managedFields": base}}));
    for e in list.iter_mut() {
        for p in removed.paths().iter().chain(changed.paths().iter()) {
            e.set.remove(p);
        }
    }
    let sub = subresource(status);
    if !changed.is_empty() {
        match list.iter_mut().find(|e| e.is(manager, "Update", sub)) {
            Some(e) => {
                for p in changed.paths() {
                    e.set.insert(&p);
                }
                e.time = meta::now();
                e.api_version = info.api_version();
            }
            None => list.push(Entry {
                manager: manager.into(),
                operation: "Update".into(),
                api_version: info.api_version(),
                time: meta::now(),
                subresource: sub.into(),
                set: changed,
            }),
        }
    }
    to_json(&list)
}

/// The part of an applied configuration a request may set.
fn applicable(info: &ResourceInfo, applied: &Value, status: bool) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in applied.as_object().into_iter().flatten() {
        let keep = match k.as_str() {
            "apiVersion" | "kind" => false,
            "status" if info.status_subresource => status,
            "metadata" => !status,
            _ => !status || !info.status_subresource,
        };
        if keep {
            out.insert(k.clone(), v.clone());
        }
    }
    if let Some(m) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in [
            "name",
            "namespace",
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "managedFields",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generateName",
        ] {
            m.remove(f);
        }
    }
    Value::Object(out)
}

/// Applies `applied` for `manager` onto `live` (None: the object is created).
/// Returns the merged object carrying its new `managedFields`.
pub fn apply(
    info: &ResourceInfo,
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    status: bool,
    force: bool,
) -> Result<Value, ApiError> {
    let schema = info.apply_schema().unwrap_or(&Value::Null);
    let part = applicable(info, applied, status);
    let applied_set = fieldset::fields_of(&part, schema, status, info.status_subresource);
    let empty = json!({});
    let live_obj = live.unwrap_or(&empty);
    let sub = subresource(status);
    let mut list = entries(live_obj);

    // Another manager's field may only be set to the value it already has.
    let mut conflicts: Vec<(String, String, String)> = Vec::new();
    // The same, as (manager, path): what a forced apply takes over.
    let mut taken = Vec::new();
    for p in applied_set.paths() {
        let item_membership = p
            .last()
            .is_some_and(|l| l.starts_with("k:") || l.starts_with("v:"));
        if item_membership || fieldset::value_at(live_obj, &p) == fieldset::value_at(&part, &p) {
            continue;
        }
        for e in list
            .iter()
            .filter(|e| !e.is(manager, "Apply", sub) && e.set.contains(&p))
        {
            conflicts.push((
                e.manager.clone(),
                e.api_version.clone(),
                fieldset::render_path(&p),
            ));
            taken.push((
                e.manager.clone(),
                e.operation.clone(),
                e.subresource.clone(),
                p.clone(),
            ));
        }
    }
    let force = force
        || (manager == KUBECTL
            && !conflicts.is_empty()
            && taken
                .iter()
                .all(|(_, _, _, p)| last_applied_holds(info, schema, live_obj, p)));
    if !conflicts.is_empty() && !force {
        return Err(conflict(info, meta::name(applied), &conflicts));
    }
    if force {
        // Only the conflicting fields change hands; a field another manager
        // set to the applied value stays shared, as upstream.
        for (owner, operation, subresource, p) in &taken {
            for e in list
                .iter_mut()
                .filter(|e| e.is(owner, operation, subresource))
            {
                e.set.remove(p);
            }
        }
    }

    let previous = list
        .iter()
        .find(|e| e.is(manager, "Apply", sub))
        .map(|e| e.set.clone())
        .unwrap_or_default();
    let mut merged = live.cloned().unwrap_or_else(|| json!({"metadata": {}}));
    fieldset::merge_object(&mut merged, &part, schema);
    // Fields this manager applied before but not now go, unless owned elsewhere.
    for p in previous.difference(&applied_set).paths() {
        let owned = list
            .iter()
            .any(|e| !e.is(manager, "Apply", sub) && e.set.touches(&p));
        if !owned {
            fieldset::remove_at(&mut merged, &p);
        }
    }
    match list.iter_mut().find(|e| e.is(manager, "Apply", sub)) {
        Some(e) => {
            if e.set != applied_set {
                e.time = meta::now();
            }
            e.set = applied_set;
            e.api_version = info.api_version();
        }
        None => list.push(Entry {
            manager: manager.into(),
            operation: "Apply".into(),
            api_version: info.api_version(),
            time: meta::now(),
            subresource: sub.into(),
            set: applied_set,
        }),
    }
    merged["metadata"]["managedFields"] = to_json(&list);
    Ok(merged)
}

/// The field manager of `kubectl apply --server-side`.
const KUBECTL: &str = "kubectl";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Whether client-side apply's last-applied annotation on `live` holds `path`
/// at its live value. Upstream's lastAppliedManager lets kubectl's first
/// server-side apply take such fields over without a conflict, which is how
/// `kubectl apply --server-side` moves an object off client-side apply.
fn last_applied_holds(info: &ResourceInfo, schema: &Value, live: &Value, path: &[String]) -> bool {
    let Some(text) = live["metadata"]["annotations"][LAST_APPLIED].as_str() else {
        return false;
    };
    let Ok(last_applied) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    let part = applicable(info, &last_applied, false);
    fieldset::fields_of(&part, schema, false, info.status_subresource).contains(path)
        && fieldset::value_at(&part, path) == fieldset::value_at(live, path)
}

fn conflict(info: &ResourceInfo, name: &str, conflicts: &[(String, String, String)]) -> ApiError {
    let message = match conflicts {
        [(m, v, p)] => {
            format!("Apply failed with 1 conflict: conflict with \"{m}\" using {v}: {p}")
        }
        many => {
            let mut by_manager: Vec<(String, String, Vec<String>)> = Vec::new();
            for (m, v, p) in many {
                match by_manager.iter_mut().find(|(bm, bv, _)| bm == m && bv == v) {
                    Some((_, _, paths)) => paths.push(p.clone()),
                    None => by_manager.push((m.clone(), v.clone(), vec![p.clone()])),
                }
            }
            let parts: Vec<String> = by_manager
                .iter()
                .map(|(m, v, paths)| {
                    let list: Vec<String> = paths.iter().map(|p| format!("- {p}")).collect();
                    format!("conflicts with \"{m}\" using {v}:\n{}", list.join("\n"))
                })
                .collect();
            format!(
                "Apply failed with {} conflicts: {}",
                many.len(),
                parts.join("\n")
            )
        }
    };
    ApiError::ApplyConflict {
        subject: Subject {
            group: info.group.clone(),
            kind: info.plural.clone(),
            name: name.to_string(),
        },
        message,
        causes: conflicts
            .iter()
            .map(|(m, v, p)| (format!("conflict with \"{m}\" using {v}"), p.clone()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    fn widget_info() -> ResourceInfo {
        let mut reg = Registry::new();
        reg.register_crd(&json!({"spec": {"group": "t.io", "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}}));
        reg.get("t.io", "v1", "widgets").cloned().unwrap()
    }

    #[test]
    fn apply_records_the_manager() {
        let info = widget_info();
        let applied = json!({"apiVersion": "t.io/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 2}});
        let merged = apply(&info, None, &applied, "alice", false, false).unwrap();
        assert_eq!(merged["spec"]["size"], 2);
        assert_eq!(merged["metadata"]["managedFields"][0]["manager"], "alice");
        assert_eq!(
            merged["metadata"]["managedFields"][0]["fieldsV1"],
            json!({"f:spec": {"f:size": {}}})
        );
    }
}
