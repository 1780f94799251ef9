//! Small helpers over `metadata` of untyped objects.

use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// RFC 3339 with second precision, as `metav1.Time` serialises.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub fn name(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or("")
}

pub fn namespace(obj: &Value) -> &str {
    obj["metadata"]["namespace"].as_str().unwrap_or("")
}

pub fn uid(obj: &Value) -> &str {
    obj["metadata"]["uid"].as_str().unwrap_or("")
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub fn set_finalizers(obj: &mut Value, finalizers: &[String]) {
    let meta = obj["metadata"]
        .as_object_mut()
        .expect("metadata is an object");
    if finalizers.is_empty() {
        meta.remove("finalizers");
    } else {
        meta.insert(
            "finalizers".into(),
            finalizers.iter().cloned().map(Value::String).collect(),
        );
    }
}

pub fn is_deleting(obj: &Value) -> bool {
    obj["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// `generateName` suffix: 5 characters from the alphabet upstream uses
/// (no vowels, no easily confused digits).
pub fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes[..5]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// RFC 1123 subdomain, the rule for most object names.
pub fn is_dns_subdomain(name: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
            .expect("static regex")
    });
    name.len() <= 253 && RE.is_match(name)
}

/// RFC 1123 label, the rule for namespace names.
pub fn is_dns_label(name: &str) -> bool {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").expect("static regex"));
    name.len() <= 63 && RE.is_match(name)
}

/// The object without `metadata` and (when it is a subresource) `status`:
/// what `metadata.generation` tracks.
pub fn spec_part(obj: &Value, status_is_subresource: bool) -> Value {
    let mut v = obj.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove("metadata");
        if status_is_subresource {
            map.remove("status");
        }
    }
    v
}
