//! Structural schemas of the built-in kinds, generated from k8s-openapi's
//! types so that no field list is written by hand. They drive decoding
//! (type errors, unknown fields) and server-side apply of built-in kinds.
//!
//! The OpenAPI types lack what upstream reads from Go struct tags: which
//! lists are maps keyed by which fields (`+listType`, `+listMapKey`) and
//! which structs are atomic (`+structType=atomic`). Those come from
//! [`list_semantics`] and [`atomic_types`], copied from upstream's types.go.

use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};
use std::sync::{LazyLock, OnceLock};

/// Annotation naming the Go type a schema node was generated from, for
/// decoding errors (`Go struct field LeaseSpec.spec.holderIdentity`).
pub const GO_TYPE: &str = "x-kubesim-go-type";

/// The schema of a built-in resource, or None for resources kubesim serves
/// without one (access reviews). Each is generated on first use: a pod
/// template alone inlines to several hundred kilobytes.
pub fn of(group: &str, plural: &str) -> Option<&'static Value> {
    let index = KINDS
        .iter()
        .position(|(g, p, _)| *g == group && *p == plural)?;
    Some(CACHE[index].get_or_init(KINDS[index].2))
}

use k8s_openapi::api::{
    apps::v1 as apps, batch::v1 as batch, coordination::v1 as coordination, core::v1 as core,
    events::v1 as events, policy::v1 as policy, rbac::v1 as rbac,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apiregistration;

type Kind = (&'static str, &'static str, fn() -> Value);

const KINDS: [Kind; 21] = [
    ("", "namespaces", generate::<core::Namespace>),
    ("", "secrets", generate::<core::Secret>),
    ("", "configmaps", generate::<core::ConfigMap>),
    ("", "events", generate::<core::Event>),
    ("", "serviceaccounts", generate::<core::ServiceAccount>),
    ("", "services", generate::<core::Service>),
    ("", "pods", generate::<core::Pod>),
    ("", "nodes", generate::<core::Node>),
    (
        "",
        "replicationcontrollers",
        generate::<core::ReplicationController>,
    ),
    ("events.k8s.io", "events", generate::<events::Event>),
    (
        "coordination.k8s.io",
        "leases",
        generate::<coordination::Lease>,
    ),
    ("apps", "deployments", generate::<apps::Deployment>),
    ("apps", "daemonsets", generate::<apps::DaemonSet>),
    ("batch", "jobs", generate::<batch::Job>),
    ("rbac.authorization.k8s.io", "roles", generate::<rbac::Role>),
    (
        "rbac.authorization.k8s.io",
        "rolebindings",
        generate::<rbac::RoleBinding>,
    ),
    (
        "rbac.authorization.k8s.io",
        "clusterroles",
        generate::<rbac::ClusterRole>,
    ),
    (
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        generate::<rbac::ClusterRoleBinding>,
    ),
    (
        "policy",
        "poddisruptionbudgets",
        generate::<policy::PodDisruptionBudget>,
    ),
    (
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        generate::<apiextensions::CustomResourceDefinition>,
    ),
    (
        "apiregistration.k8s.io",
        "apiservices",
        generate::<apiregistration::APIService>,
    ),
];

static CACHE: [OnceLock<Value>; KINDS.len()] = [const { OnceLock::new() }; KINDS.len()];

/// The schema of ObjectMeta alone (custom resources' metadata is decoded by it).
pub fn object_meta() -> &'static Value {
    static META: LazyLock<Value> =
        LazyLock::new(generate::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>);
    &META
}

fn generate<T: JsonSchema>() -> Value {
    let mut generator = SchemaGenerator::default();
    let root = generator.root_schema_for::<T>().to_value();
    let defs = root["$defs"].as_object().cloned().unwrap_or_default();
    let name = T::schema_name().to_string();
    let mut root = root;
    if let Some(m) = root.as_object_mut() {
        m.remove("$defs");
        m.remove("$schema");
    }
    let mut stack = vec![name.clone()];
    inline(&root, &name, &defs, &mut stack)
}

/// Types kubesim does not look into: a CRD's JSON schemas (recursive, and
/// validated by the CRD's own admission) and free-form JSON.
const OPAQUE_TYPES: &[&str] = &[
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
];

/// Resolves every `$ref`, annotates object nodes with their Go type and adds
/// list semantics. `name` is the definition `node` was generated for.
fn inline(node: &Value, name: &str, defs: &Map<String, Value>, stack: &mut Vec<String>) -> Value {
    if let Some(target) = node["$ref"].as_str() {
        let target = target.trim_start_matches("#/$defs/").to_string();
        if OPAQUE_TYPES.contains(&target.as_str()) || stack.contains(&target) {
            return json!({"x-kubernetes-preserve-unknown-fields": true});
        }
        let Some(def) = defs.get(&target) else {
            return json!({"x-kubernetes-preserve-unknown-fields": true});
        };
        stack.push(target.clone());
        let resolved = inline(def, &target, defs, stack);
        stack.pop();
        return resolved;
    }
    let Some(map) = node.as_object() else {
        return node.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        let value = match key.as_str() {
            "description" => continue,
            "properties" => {
                let mut props = Map::new();
                for (field, schema) in value.as_object().into_iter().flatten() {
                    let mut schema = inline(schema, "", defs, stack);
                    if let (Some(semantics), Some(s)) =
                        (list_semantics(short(name), field), schema.as_object_mut())
                    {
                        s.extend(semantics);
                    }
                    props.insert(field.clone(), schema);
                }
                Value::Object(props)
            }
            "items" | "additionalProperties" if value.is_object() => inline(value, "", defs, stack),
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| inline(v, "", defs, stack))
                    .collect(),
            ),
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    if !name.is_empty() && out.get("type") == Some(&json!("object")) {
        out.insert(GO_TYPE.into(), json!(short(name)));
        if atomic_types().contains(&short(name)) {
            out.insert("x-kubernetes-map-type".into(), json!("atomic"));
        }
    }
    Value::Object(out)
}

/// `io.k8s.api.coordination.v1.LeaseSpec` → `LeaseSpec`.
fn short(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// Structs upstream marks `+structType=atomic`: applied and owned whole.
fn atomic_types() -> &'static [&'static str] {
    &[
        "LabelSelector",
        "LocalObjectReference",
        "ObjectFieldSelector",
        "ResourceFieldSelector",
        "ConfigMapKeySelector",
        "SecretKeySelector",
        "TypedLocalObjectReference",
        "TypedObjectReference",
        "ClientIPConfig",
        "SessionAffinityConfig",
    ]
}

/// A field's merge semantics, from upstream's Go struct tags (`+listType`,
/// `+listMapKey`, or a `patchMergeKey` where no list type is given, as
/// structured-merge-diff reads them; `+mapType=atomic`). Lists not named
/// here are atomic, as structured-merge-diff treats untagged lists.
fn list_semantics(owner: &str, field: &str) -> Option<Map<String, Value>> {
    let keys: &[&str] = match (owner, field) {
        ("ObjectMeta", "ownerReferences") => &["uid"],
        ("ObjectMeta", "finalizers") => return set(),
        (
            "PodSpec",
            "containers"
            | "initContainers"
            | "ephemeralContainers"
            | "volumes"
            | "imagePullSecrets"
            | "readinessGates"
            | "resourceClaims"
            | "schedulingGates",
        ) => match field {
            "readinessGates" => return None,
            _ => &["name"],
        },
        ("PodSpec", "hostAliases") => &["ip"],
        ("PodSpec", "topologySpreadConstraints") => &["topologyKey", "whenUnsatisfiable"],
        ("Container" | "EphemeralContainer", "ports") => &["containerPort", "protocol"],
        ("Container" | "EphemeralContainer", "env") => &["name"],
        ("Container" | "EphemeralContainer", "volumeMounts") => &["mountPath"],
        ("Container" | "EphemeralContainer", "volumeDevices") => &["devicePath"],
        ("Container" | "EphemeralContainer", "resizePolicy") => return None,
        ("ServiceSpec", "ports") => &["port", "protocol"],
        ("ServiceSpec", "clusterIPs" | "ipFamilies" | "externalIPs") => return None,
        ("ServiceAccount", "secrets") => &["name"],
        ("ServiceAccount", "imagePullSecrets") => &["name"],
        ("DeploymentStatus" | "DaemonSetStatus" | "ReplicationControllerStatus", "conditions") => {
            &["type"]
        }
        // JobStatus.conditions is `+listType=atomic` despite its merge key.
        ("PodStatus" | "NodeStatus" | "PodDisruptionBudgetStatus", "conditions") => &["type"],
        ("ResourceRequirements", "claims") => &["name"],
        ("PodSpec", "nodeSelector") | ("ServiceSpec", "selector") => {
            let mut m = Map::new();
            m.insert("x-kubernetes-map-type".into(), json!("atomic"));
            return Some(m);
        }
        ("APIServiceStatus" | "CustomResourceDefinitionStatus", "conditions") => &["type"],
        ("NodeStatus", "addresses") => &["type"],
        ("NodeSpec", "podCIDRs") => return set(),
        ("NamespaceSpec" | "NamespaceStatus", "conditions") => &["type"],
        _ => return None,
    };
    let mut m = Map::new();
    m.insert("x-kubernetes-list-type".into(), json!("map"));
    m.insert("x-kubernetes-list-map-keys".into(), json!(keys));
    Some(m)
}

fn set() -> Option<Map<String, Value>> {
    let mut m = Map::new();
    m.insert("x-kubernetes-list-type".into(), json!("set"));
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_builtin_has_a_schema() {
        let registry = crate::resources::Registry::new();
        for info in registry.all().filter(|r| !r.custom && !r.review) {
            let schema = of(&info.group, &info.plural)
                .unwrap_or_else(|| panic!("{}/{} has no schema", info.group, info.plural));
            assert_eq!(schema["type"], "object", "{}", info.plural);
            assert!(schema["properties"]["metadata"]["properties"]["name"].is_object());
        }
    }

    #[test]
    fn schemas_are_inlined_annotated_and_carry_list_semantics() {
        let lease = of("coordination.k8s.io", "leases").unwrap();
        let spec = &lease["properties"]["spec"];
        assert_eq!(spec[GO_TYPE], "LeaseSpec");
        assert_eq!(spec["properties"]["holderIdentity"]["type"], "string");
        assert_eq!(
            spec["properties"]["leaseDurationSeconds"]["format"],
            "int32"
        );
        let text = serde_json::to_string(lease).unwrap();
        assert!(!text.contains("$ref"));
        let deployment = of("apps", "deployments").unwrap();
        let pod = &deployment["properties"]["spec"]["properties"]["template"]["properties"]["spec"];
        let containers = &pod["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-list-type"], "map");
        assert_eq!(containers["x-kubernetes-list-map-keys"], json!(["name"]));
        assert_eq!(
            containers["items"]["properties"]["ports"]["x-kubernetes-list-map-keys"],
            json!(["containerPort", "protocol"])
        );
        let selector = &deployment["properties"]["spec"]["properties"]["selector"];
        assert_eq!(selector["x-kubernetes-map-type"], "atomic");
    }
}
