//! PATCH bodies: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and
//! strategic merge patch for built-in kinds. Server-side apply lives in
//! `ssa.rs` and serves custom resources and simple built-in kinds; for the
//! others it is refused (415) rather than approximated, since kubesim lacks
//! their list-type schemas.

use crate::error::ApiError;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    /// Server-side apply (kinds with an apply schema).
    Apply,
}

impl PatchType {
    /// Maps the request's Content-Type; `custom` resources do not accept
    /// strategic merge patch upstream (there is no Go struct to read strategies from).
    pub fn from_content_type(
        content_type: &str,
        custom: bool,
        apply: bool,
    ) -> Result<Self, ApiError> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        let accepted = if custom {
            "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        } else {
            "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json"
        };
        match media {
            "application/json-patch+json" => Ok(PatchType::Json),
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/strategic-merge-patch+json" if !custom => Ok(PatchType::Strategic),
            "application/apply-patch+yaml" if apply => Ok(PatchType::Apply),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                Err(ApiError::UnsupportedMediaType(
                    "server-side apply (application/apply-patch+yaml) is implemented by kubesim for custom \
                     resources and simple built-in kinds only (not this one); use a strategic merge, \
                     JSON merge or JSON patch"
                        .into(),
                ))
            }
            _ => Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: {accepted}"
            ))),
        }
    }
}

/// Applies `patch` to a copy of `current`.
pub fn apply(patch_type: PatchType, current: &Value, body: &[u8]) -> Result<Value, ApiError> {
    let mut doc = current.clone();
    match patch_type {
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
            // Upstream answers a failed operation (including `test`) with a
            // generic 422 whose cause carries the patch library's message.
            for op in ops.0.iter() {
                // As upstream (evanphx/json-patch), `test` treats a missing
                // member as null; kube-runtime's finalizer helper relies on it.
                if let json_patch::PatchOperation::Test(t) = op
                    && t.value.is_null()
                    && doc.pointer(t.path.as_str()).is_none()
                {
                    continue;
                }
                json_patch::patch(&mut doc, std::slice::from_ref(op))
                    .map_err(|e| ApiError::UnprocessablePatch(e.to_string()))?;
            }
        }
        PatchType::Merge => {
            let p: Value = parse(body)?;
            json_patch::merge(&mut doc, &p);
        }
        PatchType::Apply => {
            return Err(ApiError::Internal(
                "apply patches are handled by ssa".into(),
            ));
        }
        PatchType::Strategic => {
            let p: Value = parse(body)?;
            if !p.is_object() {
                return Err(ApiError::BadRequest(
                    "strategic merge patch must be a JSON object".into(),
                ));
            }
            strategic_merge(&mut doc, &p);
        }
    }
    Ok(doc)
}

fn parse(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))
}

/// List fields merged by a key rather than replaced, by field name. Upstream
/// reads this from Go struct tags per type; the field names below cover the
/// kinds kubesim serves (pod templates, services, metadata).
fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "ownerReferences" => Some("uid"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        "ports" if items.iter().any(|i| i.get("containerPort").is_some()) => Some("containerPort"),
        "ports" => Some("port"),
        _ => None,
    }
}

/// Lists of scalars merged as sets (patchStrategy=merge on a primitive list).
fn is_merged_primitive_list(field: &str) -> bool {
    field == "finalizers"
}

pub fn strategic_merge(doc: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *doc = patch.clone();
        return;
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            *doc = Value::Object(without_directives(p));
            return;
        }
        Some("delete") => {
            *doc = Value::Null;
            return;
        }
        _ => {}
    }
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    let target = doc.as_object_mut().expect("object ensured above");
    if let Some(retain) = p.get("$retainKeys").and_then(Value::as_array) {
        target.retain(|k, _| retain.iter().any(|r| r.as_str() == Some(k)));
    }
    for (key, value) in p {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(remove)) =
                (target.get_mut(field), value.as_array())
            {
                list.retain(|v| !remove.contains(v));
            }
            continue;
        }
        if key.starts_with('$') {
            // $setElementOrder/* only orders merged lists; $patch/$retainKeys handled above.
            continue;
        }
        match value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(_) => {
                let slot = target.entry(key.clone()).or_insert(Value::Null);
                strategic_merge(slot, value);
                if slot.is_null() {
                    target.remove(key);
                }
            }
            Value::Array(items) => {
                let merged = match target.get(key) {
                    Some(Value::Array(existing)) => merge_list(key, existing, items),
                    _ => items
                        .iter()
                        .filter(|i| i.get("$patch").is_none())
                        .cloned()
                        .collect(),
                };
                target.insert(key.clone(), Value::Array(merged));
            }
            scalar => {
                target.insert(key.clone(), scalar.clone());
            }
        }
    }
}

fn merge_list(field: &str, existing: &[Value], patch: &[Value]) -> Vec<Value> {
    if is_merged_primitive_list(field) {
        let mut out = existing.to_vec();
        for v in patch {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
        return out;
    }
    let all_objects = patch.iter().all(Value::is_object) && !patch.is_empty();
    let Some(key) = merge_key(field, existing).filter(|_| all_objects) else {
        return patch.to_vec();
    };
    let mut out = existing.to_vec();
    for item in patch {
        let id = &item[key];
        let pos = out.iter().position(|e| &e[key] == id);
        match (item.get("$patch").and_then(Value::as_str), pos) {
            (Some("delete"), Some(i)) => {
                out.remove(i);
            }
            (Some("delete"), None) => {}
            (_, Some(i)) => strategic_merge(&mut out[i], item),
            (_, None) => {
                let mut fresh = Value::Object(Map::new());
                strategic_merge(&mut fresh, item);
                out.push(fresh);
            }
        }
    }
    out
}

fn without_directives(p: &Map<String, Value>) -> Map<String, Value> {
    p.iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merges_containers_by_name() {
        let mut doc = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]},
                             "metadata": {"finalizers": ["f1"]}});
        strategic_merge(
            &mut doc,
            &json!({"spec": {"containers": [{"name": "b", "image": "z"}]},
                                          "metadata": {"finalizers": ["f2"]}}),
        );
        assert_eq!(doc["spec"]["containers"][1]["image"], "z");
        assert_eq!(doc["spec"]["containers"][0]["image"], "x");
        assert_eq!(doc["metadata"]["finalizers"], json!(["f1", "f2"]));
    }

    #[test]
    fn strategic_replaces_unkeyed_lists_and_deletes_nulls() {
        let mut doc = json!({"spec": {"versions": [{"name": "v1"}], "x": 1}});
        strategic_merge(
            &mut doc,
            &json!({"spec": {"versions": [{"name": "v2"}], "x": null}}),
        );
        assert_eq!(doc, json!({"spec": {"versions": [{"name": "v2"}]}}));
    }

    #[test]
    fn json_patch_test_op_failure_is_reported() {
        let doc = json!({"metadata": {"finalizers": ["a"]}});
        let body = br#"[{"op":"test","path":"/metadata/finalizers","value":["b"]},{"op":"remove","path":"/metadata/finalizers/0"}]"#;
        assert!(apply(PatchType::Json, &doc, body).is_err());
    }

    #[test]
    fn json_patch_test_of_missing_member_against_null_passes() {
        let doc = json!({"metadata": {}});
        let body = br#"[{"op":"test","path":"/metadata/finalizers","value":null},{"op":"add","path":"/metadata/finalizers","value":["f"]}]"#;
        let out = apply(PatchType::Json, &doc, body).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["f"]));
    }

    #[test]
    fn apply_patch_is_refused_for_builtin_kinds() {
        let err =
            PatchType::from_content_type("application/apply-patch+yaml", false, false).unwrap_err();
        assert_eq!(err.code(), 415);
        assert_eq!(
            PatchType::from_content_type("application/apply-patch+yaml", true, true).unwrap(),
            PatchType::Apply
        );
    }
}
