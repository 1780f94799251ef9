//! Just enough of the Kubernetes protobuf encoding for what kubectl sends as
//! protobuf only: access reviews (`kubectl auth can-i`) and the objects of
//! `kubectl create configmap|secret|namespace|serviceaccount`. A body with any
//! field this decoder does not know is refused (415) rather than stored without it.

use serde_json::{Map, Value, json};

/// `k8s\0`: the prefix of every protobuf-encoded Kubernetes object.
const MAGIC: &[u8] = b"k8s\x00";

/// Fields of one message: (field number, payload). Varints are returned as
/// their value's little-endian bytes; only length-delimited fields matter here.
fn fields(mut buf: &[u8]) -> Option<Vec<(u64, Vec<u8>)>> {
    fn varint(buf: &mut &[u8]) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = buf.split_first()?;
            *buf = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    let mut out = Vec::new();
    while !buf.is_empty() {
        let tag = varint(&mut buf)?;
        let (number, wire) = (tag >> 3, tag & 7);
        match wire {
            0 => out.push((number, varint(&mut buf)?.to_le_bytes().to_vec())),
            1 => {
                out.push((number, buf.get(..8)?.to_vec()));
                buf = &buf[8..];
            }
            2 => {
                let len = usize::try_from(varint(&mut buf)?).ok()?;
                out.push((number, buf.get(..len)?.to_vec()));
                buf = &buf[len..];
            }
            5 => {
                out.push((number, buf.get(..4)?.to_vec()));
                buf = &buf[4..];
            }
            _ => return None,
        }
    }
    Some(out)
}

fn strings(msg: &[u8], names: &[(u64, &str)]) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    for (n, bytes) in fields(msg)? {
        if let Some((_, name)) = names.iter().find(|(k, _)| *k == n) {
            out.insert((*name).into(), json!(String::from_utf8(bytes).ok()?));
        }
    }
    Some(out)
}

/// Go's protobuf encoder writes unset strings, zero numbers and empty
/// messages (a zero `Time` is `seconds: 0, nanos: 0`) too; those carry
/// nothing and are skipped. Only a field this decoder does not read as a
/// string or map is tested as a message: any short string also parses as
/// one (`h0` is field 13 with the number 48), so testing strings this way
/// would drop them.
fn is_unset(b: &[u8]) -> bool {
    let zero = |b: &[u8]| b.iter().all(|x| *x == 0);
    zero(b) || fields(b).is_some_and(|f| f.iter().all(|(_, v)| zero(v)))
}

fn utf8(bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|_| "invalid UTF-8 in a string field".to_string())
}

/// A `map<string, string|bytes>` entry (key = 1, value = 2).
fn map_entry(entry: &[u8], bytes_value: bool) -> Result<(String, Value), String> {
    let (mut key, mut value) = (String::new(), Vec::new());
    for (n, b) in fields(entry).ok_or("malformed map entry")? {
        match n {
            1 => key = utf8(b)?,
            2 => value = b,
            _ => return Err(format!("unknown map entry field {n}")),
        }
    }
    let value = if bytes_value {
        use base64::Engine;
        json!(base64::engine::general_purpose::STANDARD.encode(value))
    } else {
        json!(utf8(value)?)
    };
    Ok((key, value))
}

fn insert_entry(
    obj: &mut Value,
    field: &str,
    entry: &[u8],
    bytes_value: bool,
) -> Result<(), String> {
    let (k, v) = map_entry(entry, bytes_value)?;
    if !obj[field].is_object() {
        obj[field] = json!({});
    }
    obj[field][k] = v;
    Ok(())
}

fn object_meta(msg: &[u8]) -> Result<Value, String> {
    let mut meta = json!({});
    for (n, b) in fields(msg).ok_or("malformed metadata")? {
        match n {
            1..=3 if b.is_empty() => {}
            1 => meta["name"] = json!(utf8(b)?),
            2 => meta["generateName"] = json!(utf8(b)?),
            3 => meta["namespace"] = json!(utf8(b)?),
            11 => insert_entry(&mut meta, "labels", &b, false)?,
            12 => insert_entry(&mut meta, "annotations", &b, false)?,
            14 => {
                let list = meta["finalizers"].as_array().cloned().unwrap_or_default();
                let mut list = list;
                list.push(json!(utf8(b)?));
                meta["finalizers"] = Value::Array(list);
            }
            _ if is_unset(&b) => {}
            _ => return Err(format!("metadata field {n} is not decoded by kubesim")),
        }
    }
    Ok(meta)
}

/// Decodes the protobuf objects of kubectl's `create` generators.
/// None: not a protobuf object kubesim reads; Err: a field it does not know.
pub fn object(body: &[u8]) -> Option<Result<Value, String>> {
    let unknown = fields(body.strip_prefix(MAGIC)?)?;
    let type_meta = unknown
        .iter()
        .find(|(n, _)| *n == 1)
        .map(|(_, b)| b.as_slice())
        .unwrap_or_default();
    let type_meta = strings(type_meta, &[(1, "apiVersion"), (2, "kind")])?;
    let kind = type_meta.get("kind")?.as_str()?.to_string();
    let raw = unknown.iter().find(|(n, _)| *n == 2)?.1.clone();
    let decode = || -> Result<Value, String> {
        let mut obj = Value::Object(type_meta.clone());
        for (n, b) in fields(&raw).ok_or("malformed object")? {
            match (kind.as_str(), n) {
                (_, 1) => obj["metadata"] = object_meta(&b)?,
                ("ConfigMap", 2) => insert_entry(&mut obj, "data", &b, false)?,
                ("ConfigMap", 3) => insert_entry(&mut obj, "binaryData", &b, true)?,
                ("Secret", 2) => insert_entry(&mut obj, "data", &b, true)?,
                ("Secret", 3) if b.is_empty() => {}
                ("Secret", 3) => obj["type"] = json!(utf8(b)?),
                ("Secret", 4) => insert_entry(&mut obj, "stringData", &b, false)?,
                _ if is_unset(&b) => {}
                _ => return Err(format!("{kind} field {n} is not decoded by kubesim")),
            }
        }
        Ok(obj)
    };
    match kind.as_str() {
        "ConfigMap" | "Secret" | "Namespace" | "ServiceAccount" => Some(decode()),
        _ => None,
    }
}

/// Decodes a protobuf (Self)SubjectAccessReview into its JSON form.
pub fn access_review(body: &[u8]) -> Option<Value> {
    let unknown = fields(body.strip_prefix(MAGIC)?)?;
    let type_meta = unknown
        .iter()
        .find(|(n, _)| *n == 1)
        .map(|(_, b)| b.as_slice())
        .unwrap_or_default();
    let type_meta = strings(type_meta, &[(1, "apiVersion"), (2, "kind")])?;
    let raw = &unknown.iter().find(|(n, _)| *n == 2)?.1;
    let mut spec = Map::new();
    for (n, bytes) in fields(raw)? {
        if n != 2 {
            continue;
        }
        for (sn, sb) in fields(&bytes)? {
            match sn {
                1 => {
                    let names = [
                        (1, "namespace"),
                        (2, "verb"),
                        (3, "group"),
                        (4, "version"),
                        (5, "resource"),
                        (6, "subresource"),
                        (7, "name"),
                    ];
                    spec.insert(
                        "resourceAttributes".into(),
                        Value::Object(strings(&sb, &names)?),
                    );
                }
                2 => {
                    spec.insert(
                        "nonResourceAttributes".into(),
                        Value::Object(strings(&sb, &[(1, "path"), (2, "verb")])?),
                    );
                }
                3 => {
                    spec.insert("user".into(), json!(String::from_utf8(sb).ok()?));
                }
                4 => {
                    let groups = spec.entry("groups").or_insert_with(|| json!([]));
                    groups
                        .as_array_mut()?
                        .push(json!(String::from_utf8(sb).ok()?));
                }
                _ => {}
            }
        }
    }
    let mut review = Value::Object(type_meta);
    review["spec"] = Value::Object(spec);
    Some(review)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_config_map_and_refuses_unknown_fields() {
        let meta = field(1, &field(1, b"cm"));
        let data = field(2, &[field(1, b"a"), field(2, b"b")].concat());
        let type_meta = [field(1, b"v1"), field(2, b"ConfigMap")].concat();
        let body = [
            MAGIC.to_vec(),
            field(1, &type_meta),
            field(2, &[meta.clone(), data].concat()),
        ]
        .concat();
        let cm = object(&body).unwrap().unwrap();
        assert_eq!(
            cm,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "b"}})
        );
        let odd = [
            MAGIC.to_vec(),
            field(1, &type_meta),
            field(2, &[meta, field(9, b"x")].concat()),
        ]
        .concat();
        assert!(object(&odd).unwrap().is_err());
    }

    /// Strings of characters whose low three bits are zero (`h`, `p`, `x`,
    /// `0`, `8`) also parse as protobuf messages of zero numbers; they are
    /// names, keys and values all the same.
    #[test]
    fn short_strings_are_kept_whatever_their_bytes() {
        let type_meta = [field(1, b"v1"), field(2, b"ConfigMap")].concat();
        // A zero creationTimestamp, as kubectl sends it: skipped.
        let empty_time = [8u8 << 3 | 2, 4, 0x08, 0x00, 0x10, 0x00];
        for text in ["h0", "hh", "0h", "p8", "x", "8"] {
            let meta = [field(1, text.as_bytes()), empty_time.to_vec()].concat();
            let data = field(
                2,
                &[field(1, text.as_bytes()), field(2, text.as_bytes())].concat(),
            );
            let body = [
                MAGIC.to_vec(),
                field(1, &type_meta),
                field(2, &[field(1, &meta), data].concat()),
            ]
            .concat();
            let cm = object(&body).unwrap().unwrap();
            assert_eq!(cm["metadata"], json!({"name": text}), "{text}");
            assert_eq!(cm["data"], json!({text: text}), "{text}");
        }
        let secret_meta = field(2, b"Secret");
        let body = [
            MAGIC.to_vec(),
            field(1, &[field(1, b"v1"), secret_meta].concat()),
            field(
                2,
                &[
                    field(1, &field(1, b"s")),
                    field(2, &[field(1, b"hh"), field(2, b"0h")].concat()),
                ]
                .concat(),
            ),
        ]
        .concat();
        let secret = object(&body).unwrap().unwrap();
        assert_eq!(secret["data"], json!({"hh": "MGg="}));
    }

    fn field(n: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![(n << 3) | 2, payload.len() as u8];
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn decodes_a_self_subject_access_review() {
        let attrs = [
            field(1, b"default"),
            field(2, b"patch"),
            field(5, b"widgets"),
            field(6, b"status"),
        ]
        .concat();
        let raw = field(2, &field(1, &attrs));
        let type_meta = [
            field(1, b"authorization.k8s.io/v1"),
            field(2, b"SelfSubjectAccessReview"),
        ]
        .concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta), field(2, &raw)].concat();
        let review = access_review(&body).unwrap();
        assert_eq!(review["kind"], "SelfSubjectAccessReview");
        assert_eq!(
            review["spec"]["resourceAttributes"],
            json!({"namespace": "default", "verb": "patch", "resource": "widgets", "subresource": "status"})
        );
    }
}
