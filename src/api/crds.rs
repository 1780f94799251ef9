//! The CustomResourceDefinitions, generated from the Rust types: the
//! checked-in `crds/` directory is this output (a test keeps them equal).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use super::{BookingPlatform, EcommerceStack};

/// Both CRDs, in a stable order.
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![EcommerceStack::crd(), BookingPlatform::crd()]
}

/// File name of a CRD in `crds/`: `<plural>.<group>.yaml`.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or("unnamed"))
}

/// A CRD as YAML, the way `crds/` stores it.
pub fn to_yaml(crd: &CustomResourceDefinition) -> String {
    serde_yaml_ng::to_string(crd).expect("a CRD always serialises")
}

/// The openAPIV3Schema of the served version of a CRD, as JSON.
pub fn schema_of(crd: &CustomResourceDefinition) -> serde_json::Value {
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .expect("derived CRDs carry a schema");
    serde_json::to_value(schema).expect("a schema always serialises")
}
