//! Admission as the Kubernetes API server performs it for our CRDs, done
//! offline: the OpenAPI schema (types, patterns, ranges, enums, required
//! fields, unknown fields as with `kubectl --validate=strict`) and the CEL
//! rules (`x-kubernetes-validations`). `stackops validate` and the CLI run it
//! so a manifest is checked the same way with or without a cluster.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Map, Value};

use super::FieldError;
use super::crds;

/// Admission checks for one CRD, compiled once.
pub struct Admission {
    crd_kind: String,
    crd_group: String,
    schema: Value,
    spec_validator: jsonschema::Validator,
}

impl Admission {
    pub fn new(crd: &CustomResourceDefinition) -> Self {
        let schema = crds::schema_of(crd);
        let spec_schema = strict(&schema["properties"]["spec"]);
        let spec_validator = jsonschema::validator_for(&spec_schema)
            .expect("generated CRD schemas are valid JSON schemas");
        Self {
            crd_kind: crd.spec.names.kind.clone(),
            crd_group: crd.spec.group.clone(),
            schema,
            spec_validator,
        }
    }

    /// Kind this admission checks.
    pub fn kind(&self) -> &str {
        &self.crd_kind
    }

    /// Every problem with `object` (a whole manifest), as the API server
    /// would report it on create. With `old`, transition rules (immutable
    /// fields) are checked as on update.
    pub fn check(&self, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let mut errors = check_metadata(object);
        match object.get("spec") {
            None | Some(Value::Null) => {
                errors.push(FieldError::new("spec", "Required value"));
                return errors;
            }
            Some(spec) => errors.extend(self.schema_errors(spec)),
        }
        // CEL rules assume a structurally valid object, as in the API server.
        if errors.is_empty() {
            errors.extend(self.cel_errors(object, old));
        }
        errors
    }

    fn schema_errors(&self, spec: &Value) -> Vec<FieldError> {
        self.spec_validator
            .iter_errors(spec)
            .flat_map(|e| {
                let path = field_path("spec", e.instance_path().as_str());
                server_wording(&path, &e)
            })
            .collect()
    }

    fn cel_errors(&self, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let validator = kube_cel::Validator::new();
        match validator.validate(&self.schema, object, old) {
            Ok(()) => Vec::new(),
            Err(errors) => errors
                .into_iter()
                .map(|e| {
                    let path = e.field_path.trim_start_matches('.').to_string();
                    let message = match e.reason.as_deref() {
                        Some("FieldValueRequired") => format!("Required value: {}", e.message),
                        Some("FieldValueForbidden") => format!("Forbidden: {}", e.message),
                        Some("FieldValueDuplicate") => format!("Duplicate value: {}", e.message),
                        _ => format!(
                            "Invalid value: \"{}\": {}",
                            rule_owner_type(&self.schema, &path, &e.rule),
                            e.message
                        ),
                    };
                    FieldError::new(path, message)
                })
                .collect(),
        }
    }

    /// `<Kind>.<group> "<name>" is invalid`, the API server's prefix.
    pub fn describe(&self, name: &str) -> String {
        format!(
            "{}.{} \"{}\" is invalid",
            self.crd_kind, self.crd_group, name
        )
    }
}

/// The type of the schema node declaring `rule`, the deepest on `path`:
/// the API server reports a failed rule as `Invalid value: "<that type>"`,
/// also when its `fieldPath` points below that node.
fn rule_owner_type<'a>(schema: &'a Value, path: &str, rule: &str) -> &'a str {
    let declares = |node: &Value| {
        node["x-kubernetes-validations"]
            .as_array()
            .is_some_and(|rules| rules.iter().any(|r| r["rule"].as_str() == Some(rule)))
    };
    let mut node = schema;
    let mut owner = declares(node).then_some(node);
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (name, indexed) = match segment.split_once('[') {
            Some((name, _)) => (name, true),
            None => (segment, false),
        };
        node = &node["properties"][name];
        if indexed {
            node = &node["items"];
        }
        if node.is_null() {
            break;
        }
        if declares(node) {
            owner = Some(node);
        }
    }
    owner.and_then(|n| n["type"].as_str()).unwrap_or("object")
}

/// A schema violation as the API server words it (kube-openapi's messages
/// through apiextensions), so offline refusals read like `kubectl apply`'s;
/// the rarer kinds keep the JSON schema library's wording.
fn server_wording(path: &str, error: &jsonschema::ValidationError<'_>) -> Vec<FieldError> {
    let value = error.instance().as_ref();
    let invalid = |detail: String| {
        vec![FieldError::new(
            path,
            format!("Invalid value: {}: {path} in body {detail}", shown(value)),
        )]
    };
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|field| FieldError::new(format!("{path}.{field}"), "unknown field"))
            .collect(),
        // A missing field is named itself, not its parent.
        ValidationErrorKind::Required { property } => vec![FieldError::new(
            format!("{path}.{}", property.as_str().unwrap_or_default()),
            "Required value",
        )],
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => t.to_string(),
                // `nullable` fields are `[type, null]` here; name the type.
                TypeKind::Multiple(set) => set
                    .iter()
                    .map(|t| t.to_string())
                    .find(|t| t != "null")
                    .unwrap_or_default(),
            };
            let actual = type_name(value);
            vec![FieldError::new(
                path,
                format!(
                    "Invalid value: \"{actual}\": {path} in body must be of type {expected}: \"{actual}\""
                ),
            )]
        }
        ValidationErrorKind::Enum { options } => {
            let supported = options
                .as_array()
                .into_iter()
                .flatten()
                .filter(|o| !o.is_null())
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            vec![FieldError::new(
                path,
                format!("Unsupported value: {value}: supported values: {supported}"),
            )]
        }
        ValidationErrorKind::Pattern { pattern } => invalid(format!("should match '{pattern}'")),
        ValidationErrorKind::Minimum { limit } => {
            invalid(format!("should be greater than or equal to {limit}"))
        }
        ValidationErrorKind::Maximum { limit } => {
            invalid(format!("should be less than or equal to {limit}"))
        }
        _ => vec![FieldError::new(path, error.to_string())],
    }
}

/// How the API server prints a value in `Invalid value: ...`.
fn shown(value: &Value) -> String {
    match value {
        Value::Object(_) | Value::Array(_) | Value::Null => format!("\"{}\"", type_name(value)),
        other => other.to_string(),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Names the API server accepts for these objects: DNS-1123 subdomains.
fn check_metadata(object: &Value) -> Vec<FieldError> {
    let name = object.pointer("/metadata/name").and_then(Value::as_str);
    match name {
        None | Some("") => vec![FieldError::new("metadata.name", "Required value")],
        Some(name) if !is_dns_subdomain(name) => vec![FieldError::new(
            "metadata.name",
            format!(
                "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            ),
        )],
        Some(_) => Vec::new(),
    }
}

fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// `/app/healthCheck/path` -> `spec.app.healthCheck.path`, `/x/0` -> `spec.x[0]`.
fn field_path(root: &str, pointer: &str) -> String {
    let mut path = root.to_string();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.parse::<usize>().is_ok() {
            path.push_str(&format!("[{segment}]"));
        } else {
            path.push('.');
            path.push_str(&segment);
        }
    }
    path
}

/// The OpenAPI schema as a strict JSON schema: `nullable` becomes a `null`
/// type, and objects with declared properties reject unknown fields (the API
/// server would prune them silently; kubectl's strict validation, its
/// default, rejects them, and so do we: a typo must not vanish).
fn strict(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out: Map<String, Value> = map
                .iter()
                .map(|(k, v)| {
                    let v = match k.as_str() {
                        "properties" => Value::Object(
                            v.as_object()
                                .map(|props| {
                                    props.iter().map(|(p, s)| (p.clone(), strict(s))).collect()
                                })
                                .unwrap_or_default(),
                        ),
                        "items" | "additionalProperties" => strict(v),
                        _ => v.clone(),
                    };
                    (k.clone(), v)
                })
                .collect();
            if out.get("nullable") == Some(&Value::Bool(true))
                && let Some(Value::String(t)) = out.get("type").cloned()
            {
                out.insert("type".into(), serde_json::json!([t, "null"]));
                if let Some(Value::Array(values)) = out.get_mut("enum") {
                    values.push(Value::Null);
                }
            }
            let preserves =
                out.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
            if out.contains_key("properties")
                && !out.contains_key("additionalProperties")
                && !preserves
            {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_field_paths() {
        assert_eq!(field_path("spec", ""), "spec");
        assert_eq!(field_path("spec", "/app/minSize"), "spec.app.minSize");
        assert_eq!(
            field_path("spec", "/media/lifecycleRules/0/transitions/1/days"),
            "spec.media.lifecycleRules[0].transitions[1].days"
        );
    }

    #[test]
    fn names_follow_rfc_1123() {
        assert!(is_dns_subdomain("shop"));
        assert!(is_dns_subdomain("shop.prod-1"));
        assert!(!is_dns_subdomain("Shop"));
        assert!(!is_dns_subdomain("-shop"));
        assert!(!is_dns_subdomain("shop..x"));
    }

    #[test]
    fn strict_schema_rejects_unknown_fields_and_accepts_null() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {"a": {"type": "string", "nullable": true}}
        });
        let validator = jsonschema::validator_for(&strict(&schema)).unwrap();
        assert!(validator.is_valid(&serde_json::json!({"a": null})));
        assert!(!validator.is_valid(&serde_json::json!({"b": 1})));
    }
}
