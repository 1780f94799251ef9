//! CustomResourceDefinition admission: the checks and defaults the
//! apiextensions-apiserver applies before a CRD is stored, and the status it
//! reports once the names are accepted (kubesim establishes CRDs at once).
//!
//! Not checked: structural-schema rules, name conflicts between CRDs, CEL rule
//! compilation cost, conversion webhooks (only `strategy: None` is served).

use crate::error::Cause;
use crate::store::Store;
use serde_json::{Value, json};

pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

pub fn admit(_store: &Store, crd: &mut Value, old: Option<&Value>) -> Result<(), Vec<Cause>> {
    let mut causes = Vec::new();
    let spec = crd["spec"].clone();
    let group = spec["group"].as_str().unwrap_or("").to_string();
    let plural = spec["names"]["plural"].as_str().unwrap_or("").to_string();
    let kind = spec["names"]["kind"].as_str().unwrap_or("").to_string();
    let required = |field: &str| Cause {
        reason: "FieldValueRequired",
        field: field.into(),
        message: "Required value".into(),
    };
    if group.is_empty() {
        causes.push(required("spec.group"));
    }
    if plural.is_empty() {
        causes.push(required("spec.names.plural"));
    }
    if kind.is_empty() {
        causes.push(required("spec.names.kind"));
    }
    let name = crd["metadata"]["name"].as_str().unwrap_or("");
    if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
        causes.push(Cause {
            reason: "FieldValueInvalid",
            field: "metadata.name".into(),
            message: format!(
                "Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"
            ),
        });
    }
    match spec["scope"].as_str() {
        Some("Namespaced") | Some("Cluster") => {}
        other => causes.push(Cause {
            reason: "FieldValueNotSupported",
            field: "spec.scope".into(),
            message: format!(
                "Unsupported value: {}: supported values: \"Cluster\", \"Namespaced\"",
                other
                    .map(|s| format!("{s:?}"))
                    .unwrap_or_else(|| "\"\"".into())
            ),
        }),
    }
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    if versions.is_empty() {
        causes.push(Cause {
            reason: "FieldValueInvalid",
            field: "spec.versions".into(),
            message:
                "Invalid value: \"null\": must have exactly one version marked as storage version"
                    .into(),
        });
    } else if versions
        .iter()
        .filter(|v| v["storage"] == Value::Bool(true))
        .count()
        != 1
    {
        causes.push(Cause {
            reason: "FieldValueInvalid",
            field: "spec.versions".into(),
            message:
                "Invalid value: \"array\": must have exactly one version marked as storage version"
                    .into(),
        });
    }
    for (i, v) in versions.iter().enumerate() {
        if let Some(schema) = v["schema"].get("openAPIV3Schema") {
            let path = format!("spec.versions[{i}].schema.openAPIV3Schema");
            check_rules(schema, &path, &mut causes);
        }
    }
    if !causes.is_empty() {
        return Err(causes);
    }

    // Defaults upstream fills in.
    if spec["names"]["singular"].as_str().unwrap_or("").is_empty() {
        crd["spec"]["names"]["singular"] = json!(kind.to_lowercase());
    }
    if spec["names"]["listKind"].as_str().unwrap_or("").is_empty() {
        crd["spec"]["names"]["listKind"] = json!(format!("{kind}List"));
    }
    if crd["spec"].get("conversion").is_none() {
        crd["spec"]["conversion"] = json!({"strategy": "None"});
    }
    let storage = versions
        .iter()
        .find(|v| v["storage"] == Value::Bool(true))
        .and_then(|v| v["name"].as_str())
        .unwrap_or("")
        .to_string();
    match old {
        None => {
            let mut finalizers = crate::meta::finalizers(crd);
            if !finalizers.iter().any(|f| f == CLEANUP_FINALIZER) {
                finalizers.push(CLEANUP_FINALIZER.into());
                crate::meta::set_finalizers(crd, &finalizers);
            }
            let now = crate::meta::now();
            crd["status"] = json!({
                "acceptedNames": crd["spec"]["names"].clone(),
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                     "message": "no conflicts found", "lastTransitionTime": now},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                     "message": "the initial names have been accepted", "lastTransitionTime": now},
                ],
                "storedVersions": [storage],
            });
        }
        Some(_) => {
            crd["status"]["acceptedNames"] = crd["spec"]["names"].clone();
            let stored = crd["status"]["storedVersions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !stored.iter().any(|v| v.as_str() == Some(&storage)) {
                let mut stored = stored;
                stored.push(json!(storage));
                crd["status"]["storedVersions"] = Value::Array(stored);
            }
        }
    }
    Ok(())
}

/// Rejects CEL rules that do not compile, as upstream does when the CRD is
/// written (not when objects are). Type checking of rules is not done.
fn check_rules(schema: &Value, path: &str, causes: &mut Vec<Cause>) {
    if let Some(rules) = schema["x-kubernetes-validations"].as_array() {
        let node = json!({"type": schema["type"], "x-kubernetes-validations": rules});
        let compiled = kube_cel::compile_schema(&node);
        for (j, result) in compiled.validations.iter().enumerate() {
            if let Err(e) = result {
                let rule = rules.get(j).and_then(|r| r["rule"].as_str()).unwrap_or("");
                causes.push(Cause {
                    reason: "FieldValueInvalid",
                    field: format!("{path}.x-kubernetes-validations[{j}].rule"),
                    message: format!("Invalid value: {rule:?}: compilation failed: {e}"),
                });
            }
        }
    }
    if let Some(props) = schema["properties"].as_object() {
        for (k, sub) in props {
            check_rules(sub, &format!("{path}.properties[{k}]"), causes);
        }
    }
    if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
        check_rules(items, &format!("{path}.items"), causes);
    }
    if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        check_rules(extra, &format!("{path}.additionalProperties"), causes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_that_do_not_parse_are_refused() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
            "x-kubernetes-validations": [{"rule": "self.a >"}, {"rule": "self.a > 1"}]}}});
        let mut causes = Vec::new();
        check_rules(&schema, "s", &mut causes);
        assert_eq!(causes.len(), 1);
        assert_eq!(
            causes[0].field,
            "s.properties[spec].x-kubernetes-validations[0].rule"
        );
    }
}
