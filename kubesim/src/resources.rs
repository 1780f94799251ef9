//! The resource table: which resources the server serves, under which names.
//!
//! Built-in kinds are fixed; every CustomResourceDefinition stored through the
//! API adds (or replaces) its resources here, so discovery, routing, validation
//! and table output all read from one place.

use serde_json::Value;
use std::collections::BTreeMap;

/// One printer column of a resource (a CRD's `additionalPrinterColumns`).
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

/// Everything the server knows about one resource at one version.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceInfo {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub list_kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Has a `/status` subresource: the main resource never writes status.
    pub status_subresource: bool,
    /// `metadata.generation` is maintained (bumped on spec changes).
    pub has_generation: bool,
    pub printer_columns: Vec<PrinterColumn>,
    /// The CRD version's `openAPIV3Schema`; None for built-in kinds (not validated).
    pub schema: Option<Value>,
    /// Served by a CRD (merge patch only, schema validation, pruning).
    pub custom: bool,
    /// The CRD's storage version is this one.
    pub storage: bool,
    /// An access review: create-only, answered by the authorizer, never stored.
    pub review: bool,
    /// Field paths (besides metadata.name/namespace) field selectors may use.
    pub selectable_fields: Vec<String>,
}

impl ResourceInfo {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The schema server-side apply merges by: a CRD's schema (Null when it
    /// has none), or a built-in kind's, which carries upstream's list types.
    /// None for access reviews, which are never stored.
    pub fn apply_schema(&self) -> Option<&Value> {
        static NO_SCHEMA: Value = Value::Null;
        if self.custom {
            return Some(self.schema.as_ref().unwrap_or(&NO_SCHEMA));
        }
        crate::builtin_schema::of(&self.group, &self.plural)
    }

    /// Storage identity: every version of a resource shares one set of objects.
    pub fn storage_key(&self) -> GroupResource {
        crate::convert::storage_key(self)
    }
}

/// A resource independent of version: the key objects are stored under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

/// (group, version, plural, kind, namespaced, status subresource, generation, short names).
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    bool,
    bool,
    &'static [&'static str],
);

const BUILTINS: &[Builtin] = &[
    (
        "",
        "v1",
        "namespaces",
        "Namespace",
        false,
        true,
        false,
        &["ns"],
    ),
    ("", "v1", "secrets", "Secret", true, false, false, &[]),
    (
        "",
        "v1",
        "configmaps",
        "ConfigMap",
        true,
        false,
        false,
        &["cm"],
    ),
    ("", "v1", "events", "Event", true, false, false, &["ev"]),
    (
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        true,
        false,
        false,
        &["sa"],
    ),
    ("", "v1", "services", "Service", true, true, false, &["svc"]),
    ("", "v1", "pods", "Pod", true, true, false, &["po"]),
    ("", "v1", "nodes", "Node", false, true, false, &["no"]),
    (
        "",
        "v1",
        "replicationcontrollers",
        "ReplicationController",
        true,
        true,
        true,
        &["rc"],
    ),
    (
        "events.k8s.io",
        "v1",
        "events",
        "Event",
        true,
        false,
        false,
        &["ev"],
    ),
    (
        "coordination.k8s.io",
        "v1",
        "leases",
        "Lease",
        true,
        false,
        false,
        &[],
    ),
    (
        "apps",
        "v1",
        "deployments",
        "Deployment",
        true,
        true,
        true,
        &["deploy"],
    ),
    (
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        true,
        true,
        true,
        &["ds"],
    ),
    ("batch", "v1", "jobs", "Job", true, true, true, &[]),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "Role",
        true,
        false,
        false,
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
        false,
        false,
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
        false,
        false,
        &[],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
        false,
        false,
        &[],
    ),
    (
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
        true,
        true,
        &["pdb"],
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        true,
        true,
        &["crd", "crds"],
    ),
    (
        "apiregistration.k8s.io",
        "v1",
        "apiservices",
        "APIService",
        false,
        true,
        false,
        &[],
    ),
];

/// The field selectors upstream supports for the built-in kinds kubesim serves.
fn builtin_selectable_fields(group: &str, plural: &str) -> Vec<String> {
    let fields: &[&str] = match (group, plural) {
        ("", "secrets") => &["type"],
        ("", "namespaces") => &["status.phase"],
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        _ => &[],
    };
    fields.iter().map(|f| f.to_string()).collect()
}

#[derive(Debug, Clone)]
pub struct Registry {
    /// Keyed by (group, version, plural).
    resources: BTreeMap<(String, String, String), ResourceInfo>,
    /// Group preference order for discovery (`/apis`): insertion order of groups.
    group_order: Vec<String>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    pub fn new() -> Self {
        let mut reg = Registry {
            resources: BTreeMap::new(),
            group_order: Vec::new(),
        };
        for &(group, version, plural, kind, namespaced, status, generation, short) in BUILTINS {
            let categories = match plural {
                "deployments"
                | "services"
                | "pods"
                | "replicationcontrollers"
                | "daemonsets"
                | "jobs" => vec!["all".to_string()],
                _ => vec![],
            };
            reg.insert(ResourceInfo {
                group: group.into(),
                version: version.into(),
                plural: plural.into(),
                singular: kind.to_lowercase(),
                kind: kind.into(),
                list_kind: format!("{kind}List"),
                namespaced,
                short_names: short.iter().map(|s| s.to_string()).collect(),
                categories,
                status_subresource: status,
                has_generation: generation,
                printer_columns: vec![],
                schema: None,
                custom: false,
                storage: true,
                review: false,
                selectable_fields: builtin_selectable_fields(group, plural),
            });
        }
        for (plural, kind) in [
            ("selfsubjectaccessreviews", "SelfSubjectAccessReview"),
            ("subjectaccessreviews", "SubjectAccessReview"),
        ] {
            reg.insert(ResourceInfo {
                group: "authorization.k8s.io".into(),
                version: "v1".into(),
                plural: plural.into(),
                singular: kind.to_lowercase(),
                kind: kind.into(),
                list_kind: format!("{kind}List"),
                namespaced: false,
                short_names: vec![],
                categories: vec![],
                status_subresource: false,
                has_generation: false,
                printer_columns: vec![],
                schema: None,
                custom: false,
                storage: true,
                review: true,
                selectable_fields: vec![],
            });
        }
        reg
    }

    fn insert(&mut self, info: ResourceInfo) {
        if !self.group_order.contains(&info.group) {
            self.group_order.push(info.group.clone());
        }
        self.resources.insert(
            (
                info.group.clone(),
                info.version.clone(),
                info.plural.clone(),
            ),
            info,
        );
    }

    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceInfo> {
        self.resources
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
    }

    /// Any served version of a resource (used by GC to address owners and dependents).
    pub fn any_version(&self, gr: &GroupResource) -> Option<&ResourceInfo> {
        let candidates = self
            .resources
            .values()
            .filter(|r| r.group == gr.group && r.plural == gr.resource);
        let all: Vec<_> = candidates.collect();
        all.iter().find(|r| r.storage).or(all.first()).copied()
    }

    pub fn all(&self) -> impl Iterator<Item = &ResourceInfo> {
        self.resources.values()
    }

    /// Groups in discovery order, each with its versions (preferred first).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        self.group_order
            .iter()
            .filter(|g| !g.is_empty())
            .filter_map(|g| {
                let mut versions: Vec<(bool, String)> = Vec::new();
                for r in self.resources.values().filter(|r| &r.group == g) {
                    if !versions.iter().any(|(_, v)| v == &r.version) {
                        versions.push((r.storage, r.version.clone()));
                    }
                }
                if versions.is_empty() {
                    return None;
                }
                // Storage version first stands in for upstream's version priority.
                versions.sort_by(|a, b| b.0.cmp(&a.0).then(version_order(&a.1, &b.1)));
                Some((g.clone(), versions.into_iter().map(|(_, v)| v).collect()))
            })
            .collect()
    }

    /// Replaces the resources served by one CRD (`crd` is the stored object).
    pub fn register_crd(&mut self, crd: &Value) {
        let Some(spec) = crd.get("spec") else { return };
        let group = str_at(spec, &["group"]);
        let plural = str_at(spec, &["names", "plural"]);
        self.remove_crd(&group, &plural);
        let names = &spec["names"];
        let kind = str_at(names, &["kind"]);
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let namespaced = spec["scope"].as_str() != Some("Cluster");
        for version in spec["versions"].as_array().into_iter().flatten() {
            if version["served"] == Value::Bool(false) {
                continue;
            }
            let printer_columns = version["additionalPrinterColumns"]
                .as_array()
                .map(|cols| {
                    cols.iter()
                        .map(|c| PrinterColumn {
                            name: str_at(c, &["name"]),
                            type_: str_at(c, &["type"]),
                            format: str_at(c, &["format"]),
                            description: str_at(c, &["description"]),
                            priority: c["priority"].as_i64().unwrap_or(0),
                            json_path: str_at(c, &["jsonPath"]),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let singular = match str_at(names, &["singular"]) {
                s if s.is_empty() => kind.to_lowercase(),
                s => s,
            };
            self.insert(ResourceInfo {
                group: group.clone(),
                version: str_at(version, &["name"]),
                plural: plural.clone(),
                singular,
                kind: kind.clone(),
                list_kind: match str_at(names, &["listKind"]) {
                    s if s.is_empty() => format!("{kind}List"),
                    s => s,
                },
                namespaced,
                short_names: strings(&names["shortNames"]),
                categories: strings(&names["categories"]),
                status_subresource: version["subresources"].get("status").is_some(),
                has_generation: true,
                printer_columns,
                schema: version["schema"].get("openAPIV3Schema").cloned(),
                custom: true,
                storage: version["storage"] == Value::Bool(true),
                review: false,
                selectable_fields: version["selectableFields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f["jsonPath"].as_str())
                    .map(|p| p.trim_start_matches('.').to_string())
                    .collect(),
            });
        }
    }

    /// Stops serving a CRD's resources.
    pub fn remove_crd(&mut self, group: &str, plural: &str) {
        self.resources
            .retain(|_, r| !(r.custom && r.group == group && r.plural == plural));
    }
}

fn str_at(v: &Value, path: &[&str]) -> String {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or_default().to_string()
}

/// Kubernetes version priority: GA > beta > alpha, then higher numbers first.
pub fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn rank(v: &str) -> (u8, u32, u32) {
        static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            regex::Regex::new(r"^v(\d+)(?:(alpha|beta)(\d+))?$").expect("static regex")
        });
        match RE.captures(v) {
            Some(c) => {
                let major = c[1].parse().unwrap_or(0);
                let minor = c.get(3).and_then(|m| m.as_str().parse().ok()).unwrap_or(0);
                let stability = match c.get(2).map(|m| m.as_str()) {
                    None => 3,
                    Some("beta") => 2,
                    _ => 1,
                };
                (stability, major, minor)
            }
            None => (0, 0, 0),
        }
    }
    rank(b).cmp(&rank(a)).then_with(|| a.cmp(b))
}
