//! Discovery documents: /version; the legacy /api, /api/v1, /apis,
//! /apis/{group} and /apis/{group}/{version}; and aggregated discovery
//! (apidiscovery.k8s.io/v2) on /api and /apis for clients that ask for it.

use crate::resources::{Registry, ResourceInfo};
use serde_json::{Value, json};

/// The Kubernetes version kubesim reports: the k8s-openapi API level it serves.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-kubesim",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
    })
}

fn group_doc(name: &str, versions: &[String]) -> Value {
    let gv = |v: &String| json!({"groupVersion": format!("{name}/{v}"), "version": v});
    json!({
        "name": name,
        "versions": versions.iter().map(gv).collect::<Vec<_>>(),
        "preferredVersion": gv(&versions[0]),
    })
}

pub fn groups(reg: &Registry) -> Value {
    let groups: Vec<Value> = reg
        .groups()
        .iter()
        .map(|(g, vs)| group_doc(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn group(reg: &Registry, name: &str) -> Option<Value> {
    reg.groups().iter().find(|(g, _)| g == name).map(|(g, vs)| {
        let mut doc = group_doc(g, vs);
        doc["kind"] = json!("APIGroup");
        doc["apiVersion"] = json!("v1");
        doc
    })
}

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn resource_docs(r: &ResourceInfo) -> Vec<Value> {
    let mut main = json!({
        "name": r.plural,
        "singularName": r.singular,
        "namespaced": r.namespaced,
        "kind": r.kind,
        "verbs": if r.review { &["create"][..] } else { &VERBS[..] },
    });
    if !r.short_names.is_empty() {
        main["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        main["categories"] = json!(r.categories);
    }
    let mut docs = vec![main];
    if r.status_subresource {
        docs.push(json!({
            "name": format!("{}/status", r.plural),
            "singularName": "",
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": ["get", "patch", "update"],
        }));
    }
    docs
}

/// APIResourceList for one group/version; None when nothing is served there.
pub fn resources(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let served: Vec<&ResourceInfo> = reg
        .all()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let resources: Vec<Value> = served.into_iter().flat_map(resource_docs).collect();
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

/// The media type of aggregated discovery (apidiscovery.k8s.io/v2), which
/// kubectl and client-go ask for first on /api and /apis.
pub const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// True when an Accept header lists aggregated discovery v2.
pub fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').any(|t| {
        let t = t.replace(' ', "");
        t.contains("g=apidiscovery.k8s.io")
            && t.contains(";v=v2;")
            && t.contains("as=APIGroupDiscoveryList")
    })
}

fn aggregated_resource(r: &ResourceInfo) -> Value {
    let kind = json!({"group": r.group, "version": r.version, "kind": r.kind});
    let mut doc = json!({
        "resource": r.plural,
        "responseKind": kind,
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": if r.review { &["create"][..] } else { &VERBS[..] },
    });
    if !r.short_names.is_empty() {
        doc["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        doc["categories"] = json!(r.categories);
    }
    if r.status_subresource {
        doc["subresources"] = json!([{"subresource": "status", "responseKind": kind, "verbs": ["get", "patch", "update"]}]);
    }
    doc
}

/// APIGroupDiscoveryList for /api (`core`) or /apis.
pub fn aggregated(reg: &Registry, core: bool) -> Value {
    let version_doc = |group: &str, version: &str| {
        let resources: Vec<Value> = reg
            .all()
            .filter(|r| r.group == group && r.version == version)
            .map(aggregated_resource)
            .collect();
        json!({"version": version, "resources": resources, "freshness": "Current"})
    };
    let items: Vec<Value> = if core {
        vec![json!({"metadata": {"creationTimestamp": null}, "versions": [version_doc("", "v1")]})]
    } else {
        reg.groups()
            .iter()
            .map(|(g, vs)| {
                let versions: Vec<Value> = vs.iter().map(|v| version_doc(g, v)).collect();
                json!({"metadata": {"name": g, "creationTimestamp": null}, "versions": versions})
            })
            .collect()
    };
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}
