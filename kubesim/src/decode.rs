//! Decoding a written object as kube-apiserver's codecs do: a value that does
//! not fit its Go type is a 400; unknown fields are dropped; unknown and
//! duplicate fields are, by `fieldValidation`, ignored, sent back as
//! `Warning` headers (the default) or refused (Strict).

use crate::builtin_schema::GO_TYPE;
use crate::error::{ApiError, Cause, Subject};
use crate::resources::ResourceInfo;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::sync::{Arc, LazyLock, Mutex};

static INDEX: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"\[\d+\]").expect("static regex"));

/// The `fieldValidation` query parameter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    /// Upstream's default when the parameter is absent.
    #[default]
    Warn,
    Strict,
}

impl FieldValidation {
    /// Parses the parameter; `options_kind` names the options object upstream
    /// validates it in (`CreateOptions`, `UpdateOptions`, `PatchOptions`).
    pub fn parse(value: Option<&str>, options_kind: &str) -> Result<Self, ApiError> {
        match value {
            None | Some("") | Some("Warn") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some("Strict") => Ok(Self::Strict),
            Some(other) => Err(ApiError::Invalid {
                subject: Subject {
                    group: "meta.k8s.io".into(),
                    kind: options_kind.into(),
                    name: String::new(),
                },
                causes: vec![Cause {
                    reason: "FieldValueNotSupported",
                    field: "fieldValidation".into(),
                    message: format!(
                        "Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
                    ),
                }],
            }),
        }
    }
}

/// Warnings a request sends back, one `Warning: 299 - "..."` header each.
#[derive(Debug, Clone, Default)]
pub struct Warnings(Arc<Mutex<Vec<String>>>);

impl Warnings {
    pub fn add(&self, text: String) {
        let mut all = self.0.lock().expect("warnings lock");
        if !all.contains(&text) {
            all.push(text);
        }
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("warnings lock"))
    }

    /// The header value upstream sends: code 299, agent `-`, quoted text.
    pub fn header_value(text: &str) -> String {
        format!(
            "299 - \"{}\"",
            text.replace('\\', "\\\\").replace('"', "\\\"")
        )
    }
}

/// What reading the raw request body found: keys given twice, and every
/// key path in document order (to report problems in that order).
#[derive(Debug, Clone, Default)]
pub struct BodyFields {
    pub duplicate: Vec<String>,
    /// Empty for patches: upstream reports a patch's duplicates first.
    pub order: Vec<String>,
}

/// Unknown and duplicate fields found while decoding, as upstream words them.
#[derive(Debug, Default)]
pub struct FieldProblems {
    pub unknown: Vec<String>,
    pub body: BodyFields,
}

impl FieldProblems {
    fn messages(&self) -> Vec<String> {
        let under_unknown = |p: &str| {
            self.unknown.iter().any(|u| {
                p == u || p.starts_with(&format!("{u}.")) || p.starts_with(&format!("{u}["))
            })
        };
        // (position in the document, message); a field both unknown and
        // repeated is reported once, as unknown.
        let nth = |p: &str, n: usize| {
            self.body
                .order
                .iter()
                .enumerate()
                .filter(|(_, q)| q.as_str() == p)
                .nth(n)
                .map_or(usize::MAX, |(i, _)| i)
        };
        let mut duplicate: Vec<(usize, String)> = self
            .body
            .duplicate
            .iter()
            .filter(|p| !under_unknown(p))
            .map(|p| (nth(p, 1), format!("duplicate field \"{p}\"")))
            .collect();
        let unknown = self
            .unknown
            .iter()
            .map(|p| (nth(p, 0), format!("unknown field \"{p}\"")));
        duplicate.extend(unknown);
        if !self.body.order.is_empty() {
            duplicate.sort_by_key(|(position, _)| *position);
        }
        duplicate.into_iter().map(|(_, m)| m).collect()
    }

    /// Applies `fieldValidation`: Strict refuses the object, Warn warns.
    pub fn report(
        &self,
        info: &ResourceInfo,
        mode: FieldValidation,
        warnings: &Warnings,
    ) -> Result<(), ApiError> {
        let messages = self.messages();
        if messages.is_empty() {
            return Ok(());
        }
        match mode {
            FieldValidation::Ignore => Ok(()),
            FieldValidation::Warn => {
                messages.into_iter().for_each(|m| warnings.add(m));
                Ok(())
            }
            FieldValidation::Strict => Err(cannot_handle(
                info,
                &format!("strict decoding error: {}", messages.join(", ")),
            )),
        }
    }
}

/// The 400 upstream answers for a body its codec could not decode.
pub fn cannot_handle(info: &ResourceInfo, detail: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "{kind} in version \"{version}\" cannot be handled as a {kind}: {detail}",
        kind = info.kind,
        version = info.version
    ))
}

/// Reads the key paths of a JSON `body`: which repeat within one object
/// (the last value wins, as upstream keeps it) and in what order they come.
/// Empty when `body` is not JSON.
pub fn body_fields(body: &[u8], keep_order: bool) -> BodyFields {
    let mut fields = BodyFields::default();
    let mut de = serde_json::Deserializer::from_slice(body);
    let walked = DuplicateWalk {
        path: String::new(),
        fields: &mut fields,
    }
    .deserialize(&mut de);
    if walked.is_err() {
        return BodyFields::default();
    }
    if !keep_order {
        fields.order.clear();
    }
    fields
}

struct DuplicateWalk<'a> {
    path: String,
    fields: &'a mut BodyFields,
}

impl<'de> DeserializeSeed<'de> for DuplicateWalk<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DuplicateWalk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = join(&self.path, &key);
            self.fields.order.push(path.clone());
            if !seen.insert(key) {
                self.fields.duplicate.push(path.clone());
            }
            map.next_value_seed(DuplicateWalk {
                path,
                fields: &mut *self.fields,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while seq
            .next_element_seed(DuplicateWalk {
                path: format!("{}[{i}]", self.path),
                fields: &mut *self.fields,
            })?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Decodes `obj` against a built-in kind's `schema`: drops unknown fields
/// (returning their paths) or fails with Go's type error on the first value
/// that does not fit, as `json.Unmarshal` into the kind's struct would.
pub fn decode(schema: &Value, obj: &mut Value) -> Result<Vec<String>, String> {
    let mut unknown = Vec::new();
    let root_type = schema[GO_TYPE].as_str().unwrap_or("Object").to_string();
    walk(schema, obj, "", &root_type, &mut unknown)?;
    Ok(unknown)
}

/// Decodes the metadata of a custom resource against ObjectMeta.
pub fn decode_metadata(obj: &mut Value) -> Result<Vec<String>, String> {
    let mut unknown = Vec::new();
    if obj["metadata"].is_object() {
        let schema = crate::builtin_schema::object_meta();
        walk(
            schema,
            &mut obj["metadata"],
            "metadata",
            "ObjectMeta",
            &mut unknown,
        )?;
    }
    Ok(unknown)
}

/// `owner` is the Go struct holding the field at `path` (for error messages).
fn walk(
    schema: &Value,
    value: &mut Value,
    path: &str,
    owner: &str,
    unknown: &mut Vec<String>,
) -> Result<(), String> {
    if value.is_null() || schema["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true) {
        return Ok(());
    }
    if schema["x-kubernetes-int-or-string"] == Value::Bool(true) {
        return match value {
            Value::String(_) | Value::Number(_) => Ok(()),
            other => Err(type_error(other, owner, path, "intstr.IntOrString")),
        };
    }
    if let Some(variants) = schema["oneOf"].as_array() {
        // A field of several shapes (a CRD's `additionalProperties: bool|schema`).
        return if variants.iter().any(|v| fits(v, value)) {
            Ok(())
        } else {
            Err(type_error(value, owner, path, &go_type(schema)))
        };
    }
    match (schema["type"].as_str(), value) {
        (Some("object"), Value::Object(map)) => {
            let struct_name = schema[GO_TYPE].as_str().unwrap_or(owner).to_string();
            if let Some(props) = schema["properties"].as_object() {
                walk_struct(props, map, path, &struct_name, unknown)
            } else if schema["additionalProperties"].is_object() {
                for (k, v) in map.iter_mut() {
                    walk(
                        &schema["additionalProperties"],
                        v,
                        &join(path, k),
                        owner,
                        unknown,
                    )?;
                }
                Ok(())
            } else {
                Ok(())
            }
        }
        (Some("array"), Value::Array(items)) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(
                    &schema["items"],
                    item,
                    &format!("{path}[{i}]"),
                    owner,
                    unknown,
                )?;
            }
            Ok(())
        }
        (Some(_), v) if fits(schema, v) => Ok(()),
        (Some(_), v) => Err(type_error(v, owner, path, &go_type(schema))),
        (None, _) => Ok(()),
    }
}

fn walk_struct(
    props: &Map<String, Value>,
    map: &mut Map<String, Value>,
    path: &str,
    struct_name: &str,
    unknown: &mut Vec<String>,
) -> Result<(), String> {
    let mut dropped = Vec::new();
    for (k, v) in map.iter_mut() {
        match props.get(k) {
            Some(field) => walk(field, v, &join(path, k), struct_name, unknown)?,
            None => dropped.push(k.clone()),
        }
    }
    for k in dropped {
        map.remove(&k);
        unknown.push(join(path, &k));
    }
    Ok(())
}

/// Whether a scalar (or any value, for composite types) has the schema's type.
fn fits(schema: &Value, v: &Value) -> bool {
    match schema["type"].as_str() {
        Some("string") => v.is_string(),
        Some("boolean") => v.is_boolean(),
        Some("number") => v.is_number(),
        Some("integer") => match schema["format"].as_str() {
            Some("int32") => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            _ => v.is_i64() || v.is_u64(),
        },
        Some("object") => v.is_object(),
        Some("array") => v.is_array(),
        _ => true,
    }
}

/// Go's name for the type a schema node decodes into.
fn go_type(schema: &Value) -> String {
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (Some("string"), Some("byte")) => "[]uint8".into(),
        (Some("string"), Some("date-time")) => "v1.Time".into(),
        (Some("string"), _) => "string".into(),
        (Some("boolean"), _) => "bool".into(),
        (Some("integer"), Some("int32")) => "int32".into(),
        (Some("integer"), _) => "int64".into(),
        (Some("number"), _) => "float64".into(),
        (Some("array"), _) => format!("[]{}", go_type(&schema["items"])),
        (Some("object"), _) => match schema[GO_TYPE].as_str() {
            Some(name) => format!("v1.{name}"),
            None => format!("map[string]{}", go_type(&schema["additionalProperties"])),
        },
        _ => "interface {}".into(),
    }
}

/// `json: cannot unmarshal <what> into Go struct field <Owner>.<path> of type <T>`.
fn type_error(v: &Value, owner: &str, path: &str, target: &str) -> String {
    let what = match v {
        Value::String(_) => "string".to_string(),
        Value::Bool(_) => "bool".to_string(),
        // Go names the number when it is the number, not its kind, that does not fit.
        Value::Number(n) if target.starts_with("int") => format!("number {n}"),
        Value::Number(_) => "number".to_string(),
        Value::Array(_) => "array".to_string(),
        Value::Object(_) => "object".to_string(),
        Value::Null => "null".to_string(),
    };
    // Go's field stack names struct fields and map keys, not list indices.
    let fields = INDEX.replace_all(path, "");
    format!("json: cannot unmarshal {what} into Go struct field {owner}.{fields} of type {target}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lease() -> &'static Value {
        crate::builtin_schema::of("coordination.k8s.io", "leases").unwrap()
    }

    #[test]
    fn a_value_of_the_wrong_type_is_named_as_go_names_it() {
        let mut obj = json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": 5}});
        assert_eq!(
            decode(lease(), &mut obj).unwrap_err(),
            "json: cannot unmarshal number into Go struct field LeaseSpec.spec.holderIdentity of type string"
        );
        let mut obj = json!({"spec": {"leaseDurationSeconds": "abc"}});
        assert_eq!(
            decode(lease(), &mut obj).unwrap_err(),
            "json: cannot unmarshal string into Go struct field LeaseSpec.spec.leaseDurationSeconds of type int32"
        );
        let mut obj = json!({"spec": {"leaseDurationSeconds": 1.5}});
        assert!(
            decode(lease(), &mut obj)
                .unwrap_err()
                .contains("number 1.5")
        );
        let mut obj = json!({"metadata": {"labels": {"a": 1}}});
        assert_eq!(
            decode(lease(), &mut obj).unwrap_err(),
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels.a of type string"
        );
    }

    #[test]
    fn unknown_fields_are_dropped_and_named_by_path() {
        let mut obj = json!({
            "metadata": {"name": "l", "colour": "red"},
            "spec": {"holderIdentity": "me", "extra": {"x": 1}},
            "status": {}
        });
        let unknown = decode(lease(), &mut obj).unwrap();
        assert_eq!(unknown, vec!["metadata.colour", "spec.extra", "status"]);
        assert_eq!(
            obj,
            json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "me"}})
        );
    }

    #[test]
    fn duplicate_keys_are_found_at_any_depth() {
        let body = br#"{"a": 1, "b": {"c": [{"d": 1, "d": 2}], "c": []}, "a": 2}"#;
        assert_eq!(
            body_fields(body, false).duplicate,
            vec!["b.c[0].d", "b.c", "a"]
        );
        assert!(
            body_fields(br#"{"a": {"a": 1}}"#, true)
                .duplicate
                .is_empty()
        );
    }

    #[test]
    fn problems_are_reported_in_document_order_and_once() {
        let body = br#"{"metadata": {"name": "a", "x": 1, "name": "a"},
            "spec": {"holderIdentity": "h", "u": 1, "u": 2, "holderIdentity": "h"}}"#;
        let mut obj: Value = serde_json::from_slice(body).unwrap();
        let problems = FieldProblems {
            unknown: decode(lease(), &mut obj).unwrap(),
            body: body_fields(body, true),
        };
        assert_eq!(
            problems.messages(),
            vec![
                "unknown field \"metadata.x\"",
                "duplicate field \"metadata.name\"",
                "unknown field \"spec.u\"",
                "duplicate field \"spec.holderIdentity\""
            ]
        );
    }

    #[test]
    fn field_validation_values_are_checked() {
        assert_eq!(
            FieldValidation::parse(None, "CreateOptions").unwrap(),
            FieldValidation::Warn
        );
        assert_eq!(
            FieldValidation::parse(Some("Strict"), "CreateOptions").unwrap(),
            FieldValidation::Strict
        );
        let err = FieldValidation::parse(Some("strict"), "CreateOptions").unwrap_err();
        assert_eq!(err.code(), 422);
        assert!(err.to_string().contains("Unsupported value: \"strict\""));
    }

    #[test]
    fn warning_headers_quote_their_text() {
        assert_eq!(
            Warnings::header_value("unknown field \"spec.x\""),
            "299 - \"unknown field \\\"spec.x\\\"\""
        );
    }
}
