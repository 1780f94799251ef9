//! Admission of custom resources against their CRD's `openAPIV3Schema`, in the
//! apiserver's order: prune unknown fields, apply defaults, validate the
//! structural schema, then evaluate `x-kubernetes-validations` CEL rules.
//!
//! Not implemented (accepted without checking): string formats other than
//! date-time, date, ipv4, ipv6, cidr, uuid, byte and (loosely) email, and
//! `uniqueItems` (which structural schemas forbid anyway).

use crate::error::Cause;
use serde_json::{Map, Value};

/// Prunes, defaults and validates `object` (a whole custom resource).
/// `old` is the stored object on update, for CEL transition rules (`oldSelf`).
/// Returns the paths of pruned unknown fields (for `fieldValidation=Strict|Warn`).
pub fn admit(
    schema: &Value,
    object: &mut Value,
    old: Option<&Value>,
) -> Result<Vec<String>, Vec<Cause>> {
    let mut pruned = Vec::new();
    prune_root(schema, object, &mut pruned);
    *object = kube_cel::apply_defaults(schema, object);
    let mut causes = Vec::new();
    validate(schema, object, "", &mut causes);
    causes.retain(|c| !unchanged(c, object, old));
    if !causes.is_empty() {
        // CEL rules assume a well-typed object; upstream reports both, but a
        // rule evaluated on mistyped data would only add noise here.
        return Err(causes);
    }
    let validator = kube_cel::Validator::new();
    if let Err(errors) = validator.validate(schema, object, old) {
        for e in errors.iter() {
            let type_name = rule_owner_type(schema, &e.field_path, &e.rule);
            let (reason, message) = match e.reason.as_deref() {
                Some("FieldValueRequired") => (
                    "FieldValueRequired",
                    format!("Required value: {}", e.message),
                ),
                Some("FieldValueForbidden") => {
                    ("FieldValueForbidden", format!("Forbidden: {}", e.message))
                }
                Some("FieldValueDuplicate") => (
                    "FieldValueDuplicate",
                    format!("Duplicate value: {}", e.message),
                ),
                _ => (
                    "FieldValueInvalid",
                    format!("Invalid value: \"{type_name}\": {}", e.message),
                ),
            };
            let cause = Cause {
                reason,
                field: e.field_path.clone(),
                message,
            };
            // Transition rules compare with the old object by design.
            if e.rule.contains("oldSelf") || !unchanged(&cause, object, old) {
                causes.push(cause);
            }
        }
    }
    if causes.is_empty() {
        Ok(pruned)
    } else {
        Err(causes)
    }
}

/// Validation ratcheting (on by default upstream since 1.30): on update, an
/// error about a value that did not change is not reported. Values are
/// compared up to the first list index of the path: items are not correlated
/// across lists as upstream does for map lists, so this ratchets less, never more.
fn unchanged(cause: &Cause, object: &Value, old: Option<&Value>) -> bool {
    let Some(old) = old else { return false };
    let mut path: Vec<&str> = cause
        .field
        .split('[')
        .next()
        .unwrap_or("")
        .split('.')
        .filter(|p| !p.is_empty())
        .collect();
    if cause.reason == "FieldValueRequired" {
        // A missing field is reported on the field; it belongs to the parent.
        path.pop();
    }
    let at = |root: &Value| -> Option<Value> {
        let mut cur = root;
        for p in &path {
            cur = cur.get(*p)?;
        }
        Some(cur.clone())
    };
    // Nothing to compare at the root: metadata always changes on update.
    !path.is_empty() && at(object) == at(old)
}

/// The type of the schema node that declares `rule`: upstream reports a CEL
/// failure as `Invalid value: "<that type>"`, also when the rule's fieldPath
/// points below it. Searched from the reported path upwards.
fn rule_owner_type<'a>(schema: &'a Value, path: &str, rule: &str) -> &'a str {
    let mut parts: Vec<&str> = path.split('.').filter(|p| !p.is_empty()).collect();
    loop {
        let joined = parts.join(".");
        if let Some(node) = schema_at(schema, &joined) {
            let declares = node["x-kubernetes-validations"]
                .as_array()
                .is_some_and(|rules| rules.iter().any(|r| r["rule"].as_str() == Some(rule)));
            if declares {
                return node["type"].as_str().unwrap_or("object");
            }
        }
        if parts.pop().is_none() {
            return "object";
        }
    }
}

/// The schema node at a dotted field path (`spec.items[0].name`), if any.
fn schema_at<'a>(schema: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = schema;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, indexed) = match part.find('[') {
            Some(i) => (&part[..i], true),
            None => (part, false),
        };
        cur = cur["properties"]
            .get(name)
            .or_else(|| cur.get("additionalProperties"))?;
        if indexed {
            cur = cur.get("items")?;
        }
    }
    Some(cur)
}

fn preserves_unknown(schema: &Value) -> bool {
    schema["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true)
}

fn prune_root(schema: &Value, object: &mut Value, pruned: &mut Vec<String>) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    for (key, value) in map.iter_mut() {
        if let Some(sub) = schema["properties"].get(key.as_str())
            && !matches!(key.as_str(), "apiVersion" | "kind" | "metadata")
        {
            prune(sub, value, key, pruned);
        }
    }
    if !preserves_unknown(schema) {
        map.retain(|k, _| {
            let keep = matches!(k.as_str(), "apiVersion" | "kind" | "metadata")
                || schema["properties"].get(k.as_str()).is_some();
            if !keep {
                pruned.push(k.clone());
            }
            keep
        });
    }
}

/// Drops fields the schema does not declare (unless preserved) and nulls the
/// schema does not allow: upstream prunes those before defaulting.
fn prune(schema: &Value, value: &mut Value, path: &str, pruned: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let props = schema["properties"].as_object();
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let embedded = schema["x-kubernetes-embedded-resource"] == Value::Bool(true);
            map.retain(|k, v| {
                let sub = props.and_then(|p| p.get(k)).or(additional);
                if v.is_null() && sub.is_some_and(|s| s["nullable"] != Value::Bool(true)) {
                    return false;
                }
                let keep = sub.is_some()
                    || preserves_unknown(schema)
                    || schema["additionalProperties"] == Value::Bool(true)
                    || (embedded && matches!(k.as_str(), "apiVersion" | "kind" | "metadata"));
                if !keep {
                    pruned.push(join(path, k));
                }
                keep
            });
            for (k, v) in map.iter_mut() {
                if let Some(sub) = props.and_then(|p| p.get(k)).or(additional) {
                    prune(sub, v, &join(path, k), pruned);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    prune(sub, item, &format!("{path}[{i}]"), pruned);
                }
            }
        }
        _ => {}
    }
}

/// How the apiserver prints a value in `Invalid value: ...`.
fn show(v: &Value) -> String {
    match v {
        Value::Object(_) => "\"object\"".into(),
        Value::Array(_) => "\"array\"".into(),
        Value::Null => "\"null\"".into(),
        other => other.to_string(),
    }
}

/// A schema bound as Go's `%v` prints a float64: `10`, not `10.0`.
fn bound(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => format!("{f}"),
        None => v.to_string(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(expected: &str, v: &Value) -> bool {
    match (expected, v) {
        ("object", Value::Object(_)) | ("array", Value::Array(_)) => true,
        ("string", Value::String(_)) | ("boolean", Value::Bool(_)) => true,
        ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

fn invalid(causes: &mut Vec<Cause>, path: &str, v: &Value, detail: String) {
    causes.push(Cause {
        reason: "FieldValueInvalid",
        field: path.to_string(),
        message: format!("Invalid value: {}: {path} in body {detail}", show(v)),
    });
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn validate(schema: &Value, value: &Value, path: &str, causes: &mut Vec<Cause>) {
    if value.is_null() {
        if schema["nullable"] != Value::Bool(true)
            && !path.is_empty()
            && let Some(t) = schema["type"].as_str()
        {
            invalid(
                causes,
                path,
                value,
                format!("must be of type {t}: \"null\""),
            );
        }
        return;
    }
    combinators(schema, value, path, causes);
    let int_or_string = schema["x-kubernetes-int-or-string"] == Value::Bool(true);
    if int_or_string {
        if !matches!(value, Value::String(_)) && !type_matches("integer", value) {
            invalid(
                causes,
                path,
                value,
                format!("must be of type int-or-string: \"{}\"", type_name(value)),
            );
            return;
        }
    } else if let Some(t) = schema["type"].as_str()
        && !type_matches(t, value)
    {
        invalid(
            causes,
            path,
            value,
            format!("must be of type {t}: \"{}\"", type_name(value)),
        );
        return;
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        let supported: Vec<String> = options.iter().map(|o| o.to_string()).collect();
        causes.push(Cause {
            reason: "FieldValueNotSupported",
            field: path.to_string(),
            message: format!(
                "Unsupported value: {}: supported values: {}",
                show(value),
                supported.join(", ")
            ),
        });
    }
    match value {
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or_default();
            let exclusive = |k: &str| schema[k] == Value::Bool(true);
            if let Some(max) = schema["maximum"].as_f64() {
                if exclusive("exclusiveMaximum") && x >= max {
                    invalid(
                        causes,
                        path,
                        value,
                        format!("should be less than {}", bound(&schema["maximum"])),
                    );
                } else if x > max {
                    invalid(
                        causes,
                        path,
                        value,
                        format!(
                            "should be less than or equal to {}",
                            bound(&schema["maximum"])
                        ),
                    );
                }
            }
            if let Some(min) = schema["minimum"].as_f64() {
                if exclusive("exclusiveMinimum") && x <= min {
                    invalid(
                        causes,
                        path,
                        value,
                        format!("should be greater than {}", bound(&schema["minimum"])),
                    );
                } else if x < min {
                    invalid(
                        causes,
                        path,
                        value,
                        format!(
                            "should be greater than or equal to {}",
                            bound(&schema["minimum"])
                        ),
                    );
                }
            }
            if let Some(m) = schema["multipleOf"].as_f64()
                && m != 0.0
                && (x / m).fract() != 0.0
            {
                invalid(
                    causes,
                    path,
                    value,
                    format!("should be a multiple of {}", bound(&schema["multipleOf"])),
                );
            }
        }
        Value::String(s) => {
            let len = s.chars().count() as u64;
            if let Some(max) = schema["maxLength"].as_u64()
                && len > max
            {
                causes.push(Cause {
                    reason: "FieldValueTooLong",
                    field: path.to_string(),
                    message: format!("Too long: may not be more than {max} bytes"),
                });
            }
            if let Some(min) = schema["minLength"].as_u64()
                && len < min
            {
                invalid(
                    causes,
                    path,
                    value,
                    format!("should be at least {min} chars long"),
                );
            }
            if let Some(pattern) = schema["pattern"].as_str() {
                match regex::Regex::new(pattern) {
                    Ok(re) if !re.is_match(s) => {
                        invalid(causes, path, value, format!("should match '{pattern}'"))
                    }
                    _ => {}
                }
            }
            if let Some(format) = schema["format"].as_str()
                && !format_matches(format, s)
            {
                invalid(
                    causes,
                    path,
                    value,
                    format!("must be of type {format}: {value}"),
                );
            }
        }
        Value::Array(items) => {
            duplicates(schema, items, path, causes);
            if let Some(max) = schema["maxItems"].as_u64()
                && items.len() as u64 > max
            {
                causes.push(Cause {
                    reason: "FieldValueTooMany",
                    field: path.to_string(),
                    message: format!("Too many: {}: must have at most {max} items", items.len()),
                });
            }
            if let Some(min) = schema["minItems"].as_u64()
                && (items.len() as u64) < min
            {
                invalid(
                    causes,
                    path,
                    value,
                    format!("should have at least {min} items"),
                );
            }
            if let Some(sub) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate(sub, item, &format!("{path}[{i}]"), causes);
                }
            }
        }
        Value::Object(map) => validate_object(schema, map, path, causes),
        _ => {}
    }
}

/// String formats of the apiserver's format registry; formats it does not
/// know (and the ones kubesim does not check: uri, hostname, email's full
/// grammar, ...) pass, as unknown formats do upstream.
fn format_matches(format: &str, s: &str) -> bool {
    use base64::Engine;
    match format {
        "date-time" => s.parse::<jiff::Timestamp>().is_ok(),
        "date" => s.parse::<jiff::civil::Date>().is_ok(),
        "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok(),
        "cidr" => s.split_once('/').is_some_and(|(ip, bits)| {
            let max = if ip.parse::<std::net::Ipv4Addr>().is_ok() {
                32
            } else if ip.parse::<std::net::Ipv6Addr>().is_ok() {
                128
            } else {
                return false;
            };
            bits.parse::<u8>().is_ok_and(|b| b <= max)
        }),
        "uuid" => uuid::Uuid::parse_str(s).is_ok() && s.len() == 36,
        "byte" => base64::engine::general_purpose::STANDARD.decode(s).is_ok(),
        "email" => s
            .split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.')),
        _ => true,
    }
}

/// `x-kubernetes-list-type: set` items and `map` keys must be unique.
fn duplicates(schema: &Value, items: &[Value], path: &str, causes: &mut Vec<Cause>) {
    let keys: Vec<&str> = schema["x-kubernetes-list-map-keys"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let identity = |item: &Value| -> Option<Value> {
        match schema["x-kubernetes-list-type"].as_str() {
            Some("set") => Some(item.clone()),
            Some("map") => Some(Value::Array(
                keys.iter().map(|k| item[*k].clone()).collect(),
            )),
            _ => None,
        }
    };
    let mut seen: Vec<Value> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(id) = identity(item) else { return };
        if seen.contains(&id) {
            let shown = match schema["x-kubernetes-list-type"].as_str() {
                Some("map") => {
                    let pairs: Vec<String> =
                        keys.iter().map(|k| format!("{k:?}:{}", item[*k])).collect();
                    format!("map[string]interface {{}}{{{}}}", pairs.join(", "))
                }
                _ => item.to_string(),
            };
            causes.push(Cause {
                reason: "FieldValueDuplicate",
                field: format!("{path}[{i}]"),
                message: format!("Duplicate value: {shown}"),
            });
        } else {
            seen.push(id);
        }
    }
}

/// `allOf`/`anyOf`/`oneOf`/`not`: in structural schemas their branches only
/// carry value validations, checked here against the same value.
fn combinators(schema: &Value, value: &Value, path: &str, causes: &mut Vec<Cause>) {
    let passes = |branch: &Value| {
        let mut errs = Vec::new();
        validate(branch, value, path, &mut errs);
        errs.is_empty()
    };
    let branches = |k: &str| schema[k].as_array().cloned().unwrap_or_default();
    let all_of = branches("allOf");
    if !all_of.is_empty() && !all_of.iter().all(passes) {
        invalid(
            causes,
            path,
            value,
            "must validate all the schemas (allOf)".into(),
        );
    }
    let any_of = branches("anyOf");
    if !any_of.is_empty() && !any_of.iter().any(passes) {
        invalid(
            causes,
            path,
            value,
            "must validate at least one schema (anyOf)".into(),
        );
    }
    let one_of = branches("oneOf");
    if !one_of.is_empty() && one_of.iter().filter(|b| passes(b)).count() != 1 {
        invalid(
            causes,
            path,
            value,
            "must validate one and only one schema (oneOf)".into(),
        );
    }
    if let Some(not) = schema.get("not")
        && passes(not)
    {
        invalid(
            causes,
            path,
            value,
            "must not validate the schema (not)".into(),
        );
    }
}

fn validate_object(schema: &Value, map: &Map<String, Value>, path: &str, causes: &mut Vec<Cause>) {
    if let Some(max) = schema["maxProperties"].as_u64()
        && map.len() as u64 > max
    {
        causes.push(Cause {
            reason: "FieldValueTooMany",
            field: path.to_string(),
            message: format!("Too many: {}: must have at most {max} items", map.len()),
        });
    }
    if let Some(min) = schema["minProperties"].as_u64()
        && (map.len() as u64) < min
    {
        let value = Value::Object(map.clone());
        invalid(
            causes,
            path,
            &value,
            format!("should have at least {min} properties"),
        );
    }
    for req in schema["required"].as_array().into_iter().flatten() {
        if let Some(name) = req.as_str()
            && !map.contains_key(name)
        {
            causes.push(Cause {
                reason: "FieldValueRequired",
                field: join(path, name),
                message: "Required value".into(),
            });
        }
    }
    let props = schema["properties"].as_object();
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    for (k, v) in map {
        // The root's metadata is ObjectMeta, validated by the generic code.
        if path.is_empty() && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        if let Some(sub) = props.and_then(|p| p.get(k)).or(additional) {
            validate(sub, v, &join(path, k), causes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["size"],
                    "x-kubernetes-validations": [{"rule": "self.size <= 5 || self.tier == 'large'", "message": "size above 5 needs tier large"}],
                    "properties": {
                        "size": {"type": "integer", "minimum": 1, "maximum": 10},
                        "tier": {"type": "string", "enum": ["small", "large"], "default": "small"},
                        "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }
            }
        })
    }

    #[test]
    fn prunes_and_defaults() {
        let mut obj = json!({"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "a"},
            "spec": {"size": 2, "junk": 1, "free": {"any": {"thing": 1}}}, "extra": true});
        let pruned = admit(&schema(), &mut obj, None).unwrap();
        assert_eq!(pruned, vec!["spec.junk".to_string(), "extra".to_string()]);
        assert_eq!(
            obj["spec"],
            json!({"size": 2, "tier": "small", "free": {"any": {"thing": 1}}})
        );
        assert!(obj.get("extra").is_none());
    }

    #[test]
    fn reports_field_paths() {
        let mut obj = json!({"spec": {"size": 11, "tier": "gold", "name": "ABCDEFG"}});
        let causes = admit(&schema(), &mut obj, None).unwrap_err();
        let fields: Vec<_> = causes.iter().map(|c| c.render()).collect();
        assert!(fields.contains(&"spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10".to_string()), "{fields:?}");
        assert!(
            fields.contains(
                &"spec.tier: Unsupported value: \"gold\": supported values: \"small\", \"large\""
                    .to_string()
            ),
            "{fields:?}"
        );
        assert!(
            fields.iter().any(|f| f.starts_with("spec.name: Too long")),
            "{fields:?}"
        );
        assert!(
            fields.iter().any(|f| f.contains("should match '^[a-z]+$'")),
            "{fields:?}"
        );
        let mut missing = json!({"spec": {}});
        let causes = admit(&schema(), &mut missing, None).unwrap_err();
        assert_eq!(causes[0].render(), "spec.size: Required value");
    }

    #[test]
    fn one_of_needs_exactly_one_branch() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}}});
        assert!(admit(&schema, &mut json!({"spec": {"a": "x"}}), None).is_ok());
        let causes = admit(&schema, &mut json!({"spec": {"a": "x", "b": "y"}}), None).unwrap_err();
        assert!(
            causes[0]
                .render()
                .ends_with("in body must validate one and only one schema (oneOf)"),
            "{:?}",
            causes
        );
    }

    #[test]
    fn list_types_forbid_duplicates() {
        let schema = json!({"type": "object", "properties": {
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                      "items": {"type": "object", "properties": {"name": {"type": "string"}}}}}});
        let mut obj = json!({"tags": ["a", "a"], "ports": [{"name": "x"}, {"name": "x"}]});
        let causes: Vec<String> = admit(&schema, &mut obj, None)
            .unwrap_err()
            .iter()
            .map(|c| c.render())
            .collect();
        assert_eq!(
            causes,
            [
                "ports[1]: Duplicate value: map[string]interface {}{\"name\":\"x\"}",
                "tags[1]: Duplicate value: \"a\"",
            ]
        );
    }

    #[test]
    fn unchanged_invalid_values_ratchet_on_update() {
        let old = json!({"spec": {"size": 20, "tier": "small"}});
        let mut same = json!({"spec": {"size": 20, "tier": "large"}});
        // size is still out of range but unchanged; tier changed and is valid.
        assert!(admit(&schema(), &mut same, Some(&old)).is_ok());
        let mut changed = json!({"spec": {"size": 21, "tier": "large"}});
        assert!(admit(&schema(), &mut changed, Some(&old)).is_err());
    }

    #[test]
    fn string_formats() {
        assert!(format_matches("date-time", "2024-01-02T03:04:05Z"));
        assert!(!format_matches("date-time", "yesterday"));
        assert!(format_matches("cidr", "10.0.0.0/16") && !format_matches("cidr", "10.0.0.0/33"));
        assert!(!format_matches("ipv4", "300.1.1.1"));
        assert!(format_matches("made-up", "anything"));
    }

    #[test]
    fn property_counts() {
        let schema = json!({"type": "object", "properties": {"tags": {"type": "object", "maxProperties": 1,
            "additionalProperties": {"type": "string"}}}});
        let mut obj = json!({"tags": {"a": "1", "b": "2"}});
        let causes = admit(&schema, &mut obj, None).unwrap_err();
        assert_eq!(
            causes[0].render(),
            "tags: Too many: 2: must have at most 1 items"
        );
    }

    #[test]
    fn cel_rules_run_after_schema() {
        let mut obj = json!({"spec": {"size": 7}});
        let causes = admit(&schema(), &mut obj, None).unwrap_err();
        assert_eq!(
            causes[0].render(),
            "spec: Invalid value: \"object\": size above 5 needs tier large"
        );
    }
}
