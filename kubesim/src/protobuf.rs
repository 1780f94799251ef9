//! Just enough of the Kubernetes protobuf encoding to read access reviews:
//! `kubectl auth can-i` sends SelfSubjectAccessReview as protobuf only.
//! Other protobuf bodies are refused (415) by the server.

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
