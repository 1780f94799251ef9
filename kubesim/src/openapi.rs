//! OpenAPI v3 documents, as far as kubectl needs them: `kubectl apply|create`
//! fetch `/openapi/v3` to learn whether the server validates fields itself
//! (a `fieldValidation` query parameter on the PATCH operation of the kind).
//! When it does, kubectl sends `fieldValidation=Strict` instead of validating
//! client-side against full OpenAPI v2 schemas.
//!
//! Served: the root index, one document per group/version with the paths of
//! every resource, and component schemas for custom resources (their CRD
//! schema). Not served: schemas of built-in kinds (kubectl then falls back to
//! its compiled-in types for strategic merge patch metadata) and /openapi/v2.

use crate::resources::{Registry, ResourceInfo};
use serde_json::{Map, Value, json};
use std::hash::{Hash, Hasher};

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn group_versions(reg: &Registry) -> Vec<(String, String)> {
    let mut gvs: Vec<(String, String)> = Vec::new();
    for r in reg.all() {
        let gv = (r.group.clone(), r.version.clone());
        if !gvs.contains(&gv) {
            gvs.push(gv);
        }
    }
    gvs
}

fn hash(doc: &Value) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    doc.to_string().hash(&mut h);
    format!("{:016X}", h.finish())
}

pub fn root(reg: &Registry) -> Value {
    let mut paths = Map::new();
    for (g, v) in group_versions(reg) {
        let path = gv_path(&g, &v);
        let doc = group_version(reg, &g, &v).unwrap_or(Value::Null);
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={}", hash(&doc))}),
        );
    }
    json!({"paths": paths})
}

/// Component name upstream gives a CRD kind: reversed group, version, Kind.
fn schema_name(r: &ResourceInfo) -> String {
    let mut parts: Vec<&str> = r.group.split('.').collect();
    parts.reverse();
    format!("{}.{}.{}", parts.join("."), r.version, r.kind)
}

fn param(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
}

fn operation(r: &ResourceInfo, action: &str, write: bool) -> Value {
    let mut params = vec![param("pretty")];
    if write {
        params.extend([
            param("dryRun"),
            param("fieldManager"),
            param("fieldValidation"),
        ]);
    }
    json!({
        "operationId": format!("{action}{}", r.kind),
        "parameters": params,
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
    })
}

pub fn group_version(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let served: Vec<&ResourceInfo> = reg
        .all()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let base = format!("/{}", gv_path(group, version));
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for r in served {
        let collection = if r.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", r.plural)
        } else {
            format!("{base}/{}", r.plural)
        };
        paths.insert(
            collection.clone(),
            json!({"get": operation(r, "list", false), "post": operation(r, "post", true)}),
        );
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({
                "get": operation(r, "get", false),
                "put": operation(r, "put", true),
                "patch": operation(r, "patch", true),
                "delete": operation(r, "delete", true),
            }),
        );
        if r.status_subresource {
            paths.insert(
                format!("{collection}/{{name}}/status"),
                json!({
                    "get": operation(r, "get", false),
                    "put": operation(r, "put", true),
                    "patch": operation(r, "patch", true),
                }),
            );
        }
        if let Some(schema) = &r.schema {
            let mut s = schema.clone();
            s["properties"]["apiVersion"] = json!({"type": "string"});
            s["properties"]["kind"] = json!({"type": "string"});
            s["properties"]["metadata"] = json!({"type": "object"});
            s["x-kubernetes-group-version-kind"] =
                json!([{"group": r.group, "version": r.version, "kind": r.kind}]);
            schemas.insert(schema_name(r), s);
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}
