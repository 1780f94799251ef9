//! ObjectMeta validation every kind gets upstream (ValidateObjectMeta): names,
//! label and annotation keys and values, finalizer names, owner references.
//! Messages follow apimachinery's `validation` package.

use crate::error::Cause;
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

const QUALIFIED_NAME: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const DNS_SUBDOMAIN: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
/// Upstream caps the total size of all annotations.
const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

fn full(re: &str) -> Regex {
    Regex::new(&format!("^(?:{re})$")).expect("static regex")
}

static QUALIFIED_NAME_RE: LazyLock<Regex> = LazyLock::new(|| full(QUALIFIED_NAME));
static LABEL_VALUE_RE: LazyLock<Regex> = LazyLock::new(|| full(LABEL_VALUE));
static DNS_SUBDOMAIN_RE: LazyLock<Regex> = LazyLock::new(|| full(DNS_SUBDOMAIN));

fn invalid(field: &str, value: &str, detail: String) -> Cause {
    Cause {
        reason: "FieldValueInvalid",
        field: field.to_string(),
        message: format!("Invalid value: {value:?}: {detail}"),
    }
}

/// Errors for a qualified name such as a label key (`prefix/name`).
pub(crate) fn qualified_name(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if name.contains('/') {
        errs.push(format!(
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end \
             with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation \
             is '{QUALIFIED_NAME}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ));
        return errs;
    }
    if let Some(p) = prefix {
        if p.is_empty() {
            errs.push("prefix part must be non-empty".into());
        } else if p.len() > 253 || !DNS_SUBDOMAIN_RE.is_match(p) {
            errs.push(format!(
                "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' \
                 or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for \
                 validation is '{DNS_SUBDOMAIN}')"
            ));
        }
    }
    if name.is_empty() {
        errs.push("name part must be non-empty".into());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".into());
    } else if !QUALIFIED_NAME_RE.is_match(name) {
        errs.push(format!(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an \
             alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is \
             '{QUALIFIED_NAME}')"
        ));
    }
    errs
}

fn label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".into());
    }
    if !LABEL_VALUE_RE.is_match(value) {
        errs.push(format!(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must \
             start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used \
             for validation is '{LABEL_VALUE}')"
        ));
    }
    errs
}

/// Validates `metadata` of any object.
pub fn object_meta(obj: &Value) -> Vec<Cause> {
    let meta = &obj["metadata"];
    let mut causes = Vec::new();
    if let Some(labels) = meta["labels"].as_object() {
        for (k, v) in labels {
            for e in qualified_name(k) {
                causes.push(invalid("metadata.labels", k, e));
            }
            let v = v.as_str().unwrap_or_default();
            for e in label_value(v) {
                causes.push(invalid("metadata.labels", v, e));
            }
        }
    }
    if let Some(annotations) = meta["annotations"].as_object() {
        let mut total = 0;
        for (k, v) in annotations {
            for e in qualified_name(&k.to_lowercase()) {
                causes.push(invalid("metadata.annotations", k, e));
            }
            total += k.len() + v.as_str().map_or(0, str::len);
        }
        if total > ANNOTATIONS_MAX_BYTES {
            causes.push(Cause {
                reason: "FieldValueTooLong",
                field: "metadata.annotations".into(),
                message: format!("Too long: may not be more than {ANNOTATIONS_MAX_BYTES} bytes"),
            });
        }
    }
    for (i, f) in meta["finalizers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let f = f.as_str().unwrap_or_default();
        for e in qualified_name(f) {
            causes.push(invalid(&format!("metadata.finalizers[{i}]"), f, e));
        }
    }
    let controllers = meta["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["controller"] == Value::Bool(true))
        .count();
    if controllers > 1 {
        causes.push(Cause {
            reason: "FieldValueInvalid",
            field: "metadata.ownerReferences".into(),
            message: "Invalid value: \"array\": Only one reference can have Controller set to true"
                .into(),
        });
    }
    for (i, r) in meta["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for field in ["apiVersion", "kind", "name", "uid"] {
            if r[field].as_str().unwrap_or("").is_empty() {
                let message = match field {
                    "uid" => "Invalid value: \"\": uid must not be empty".to_string(),
                    _ => format!("Invalid value: \"\": {field} must not be empty"),
                };
                causes.push(Cause {
                    reason: "FieldValueInvalid",
                    field: format!("metadata.ownerReferences[{i}].{field}"),
                    message,
                });
            }
        }
    }
    causes
}

/// RBAC objects are named by path segment rules (`system:controller:x` is
/// valid), not DNS rules.
pub fn is_path_segment_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('%')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_values_with_slashes_are_rejected() {
        let causes =
            object_meta(&json!({"metadata": {"labels": {"stackops.io/stack": "ns/name"}}}));
        assert_eq!(causes.len(), 1);
        assert!(
            causes[0]
                .render()
                .starts_with("metadata.labels: Invalid value: \"ns/name\": a valid label")
        );
    }

    #[test]
    fn one_controller_reference_at_most() {
        let r = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "a", "uid": "1", "controller": true});
        let mut r2 = r.clone();
        r2["uid"] = json!("2");
        assert_eq!(
            object_meta(&json!({"metadata": {"ownerReferences": [r, r2]}})).len(),
            1
        );
    }

    #[test]
    fn qualified_keys_and_finalizers() {
        assert!(object_meta(&json!({"metadata": {"labels": {"app.kubernetes.io/name": "x", "a": ""},
            "finalizers": ["stackops.io/cleanup"], "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}}})).is_empty());
        assert_eq!(
            object_meta(&json!({"metadata": {"labels": {"Bad_Prefix/x": "y"}}})).len(),
            1
        );
        assert_eq!(
            object_meta(&json!({"metadata": {"finalizers": ["a b"]}})).len(),
            1
        );
    }
}
