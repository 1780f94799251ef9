//! Sets of field paths in the `FieldsV1` shape of `metadata.managedFields`
//! (structured-merge-diff): `f:<field>`, `k:<key object>` for items of map
//! lists, `v:<value>` for items of set lists, and `.` for an item itself.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSet {
    /// The path ending here is a member (a leaf field, or `.` of an item).
    pub this: bool,
    pub children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        !self.this && self.children.values().all(FieldSet::is_empty)
    }

    pub fn child(&mut self, key: String) -> &mut FieldSet {
        self.children.entry(key).or_default()
    }

    pub fn from_fields_v1(v: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        if let Some(map) = v.as_object() {
            if map.is_empty() {
                set.this = true;
            }
            for (k, c) in map {
                if k == "." {
                    set.this = true;
                } else {
                    set.children.insert(k.clone(), FieldSet::from_fields_v1(c));
                }
            }
        }
        set
    }

    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.this && self.children.values().any(|c| !c.is_empty()) {
            map.insert(".".into(), json!({}));
        }
        for (k, c) in &self.children {
            if !c.is_empty() {
                map.insert(k.clone(), c.to_fields_v1());
            }
        }
        Value::Object(map)
    }

    /// Every member path.
    pub fn paths(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        self.walk(&mut Vec::new(), &mut out);
        out
    }

    fn walk(&self, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if self.this {
            out.push(prefix.clone());
        }
        for (k, c) in &self.children {
            prefix.push(k.clone());
            c.walk(prefix, out);
            prefix.pop();
        }
    }

    pub fn contains(&self, path: &[String]) -> bool {
        match path.split_first() {
            None => self.this,
            Some((head, rest)) => self.children.get(head).is_some_and(|c| c.contains(rest)),
        }
    }

    /// True if the set has `path` or anything below it.
    pub fn touches(&self, path: &[String]) -> bool {
        match path.split_first() {
            None => !self.is_empty(),
            Some((head, rest)) => self.children.get(head).is_some_and(|c| c.touches(rest)),
        }
    }

    pub fn insert(&mut self, path: &[String]) {
        match path.split_first() {
            None => self.this = true,
            Some((head, rest)) => self.child(head.clone()).insert(rest),
        }
    }

    pub fn remove(&mut self, path: &[String]) {
        match path.split_first() {
            None => self.this = false,
            Some((head, rest)) => {
                if let Some(c) = self.children.get_mut(head) {
                    c.remove(rest);
                    if c.is_empty() {
                        self.children.remove(head);
                    }
                }
            }
        }
    }

    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        for p in other.paths() {
            out.remove(&p);
        }
        out
    }
}

/// The metadata fields a field manager can own, typed as upstream types them.
fn metadata_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            "finalizers": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
            "ownerReferences": {"type": "array", "items": {"type": "object"},
                "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["uid"]},
        }
    })
}

/// Fields owned by the system, never by a manager.
const SYSTEM_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "generateName",
];

/// Schema of a child field (Null when the schema does not say). Borrowed:
/// a built-in kind's schema is large, and this is asked for every field.
pub fn child_schema<'a>(schema: &'a Value, key: &str) -> &'a Value {
    static UNKNOWN: Value = Value::Null;
    schema["properties"]
        .get(key)
        .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()))
        .unwrap_or(&UNKNOWN)
}

fn list_type(schema: &Value) -> &str {
    schema["x-kubernetes-list-type"]
        .as_str()
        .unwrap_or("atomic")
}

fn map_keys(schema: &Value) -> Vec<String> {
    schema["x-kubernetes-list-map-keys"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn is_atomic_map(schema: &Value) -> bool {
    schema["x-kubernetes-map-type"].as_str() == Some("atomic")
}

/// `k:{"name":"x"}` for an item of a map list (keys sorted, as Go encodes them).
pub fn item_key(schema: &Value, item: &Value) -> String {
    let mut keys = map_keys(schema);
    keys.sort();
    let parts: Vec<String> = keys
        .iter()
        .map(|k| format!("{}:{}", Value::String(k.clone()), item[k]))
        .collect();
    format!("k:{{{}}}", parts.join(","))
}

/// The set of fields `obj` sets, under the root `schema` (a CRD's
/// openAPIV3Schema). `part` chooses the main resource or the status.
pub fn fields_of(
    obj: &Value,
    schema: &Value,
    status_only: bool,
    status_separate: bool,
) -> FieldSet {
    let mut set = FieldSet::default();
    let Some(map) = obj.as_object() else {
        return set;
    };
    for (k, v) in map {
        let in_part = match k.as_str() {
            "apiVersion" | "kind" => false,
            "status" if status_separate => status_only,
            "metadata" => !status_only,
            _ => !status_only || !status_separate,
        };
        if !in_part {
            continue;
        }
        let node = set.child(format!("f:{k}"));
        if k == "metadata" {
            let mut meta = v.clone();
            if let Some(m) = meta.as_object_mut() {
                m.retain(|f, _| !SYSTEM_METADATA.contains(&f.as_str()));
            }
            if meta.as_object().is_some_and(|m| !m.is_empty()) {
                collect(&meta, &metadata_schema(), node);
            }
        } else {
            collect(v, child_schema(schema, k), node);
        }
    }
    set.children.retain(|_, c| !c.is_empty());
    set
}

fn collect(v: &Value, schema: &Value, node: &mut FieldSet) {
    match v {
        Value::Object(map) if !is_atomic_map(schema) && !map.is_empty() => {
            for (k, c) in map {
                collect(c, child_schema(schema, k), node.child(format!("f:{k}")));
            }
        }
        Value::Array(items) if !items.is_empty() => match list_type(schema) {
            "set" => {
                for item in items {
                    node.child(format!("v:{item}")).this = true;
                }
            }
            "map" => {
                let item_schema = &schema["items"];
                for item in items {
                    let sub = node.child(item_key(schema, item));
                    sub.this = true;
                    if let Some(fields) = item.as_object() {
                        for (k, c) in fields {
                            collect(c, child_schema(item_schema, k), sub.child(format!("f:{k}")));
                        }
                    }
                }
            }
            _ => node.this = true,
        },
        _ => node.this = true,
    }
}

/// The value at a path, if present.
pub fn value_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = obj;
    for el in path {
        cur = if let Some(f) = el.strip_prefix("f:") {
            cur.get(f)?
        } else if let Some(v) = el.strip_prefix("v:") {
            let want: Value = serde_json::from_str(v).ok()?;
            cur.as_array()?.iter().find(|i| **i == want)?
        } else if let Some(k) = el.strip_prefix("k:") {
            let want: Map<String, Value> = serde_json::from_str(k).ok()?;
            cur.as_array()?
                .iter()
                .find(|i| want.iter().all(|(wk, wv)| &i[wk] == wv))?
        } else {
            return None;
        };
    }
    Some(cur)
}

/// Removes the value at a path (a field, or a list item).
pub fn remove_at(obj: &mut Value, path: &[String]) {
    let Some((last, parent_path)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for el in parent_path {
        let next = if let Some(f) = el.strip_prefix("f:") {
            cur.get_mut(f)
        } else {
            let idx = value_at(cur, std::slice::from_ref(el))
                .and_then(|found| cur.as_array()?.iter().position(|i| std::ptr::eq(i, found)));
            match idx {
                Some(i) => cur.get_mut(i),
                None => None,
            }
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Some(m) = cur.as_object_mut() {
            m.remove(f);
        }
    } else if let Some(found) = value_at(cur, std::slice::from_ref(last)).cloned()
        && let Some(items) = cur.as_array_mut()
    {
        items.retain(|i| *i != found);
    }
}

/// `.spec.items[name="x"].value`: how conflicts name a path.
pub fn render_path(path: &[String]) -> String {
    let mut out = String::new();
    for el in path {
        if let Some(f) = el.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(v) = el.strip_prefix("v:") {
            out.push_str(&format!("[={v}]"));
        } else if let Some(k) = el.strip_prefix("k:") {
            let keys: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let parts: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", parts.join(",")));
        }
    }
    out
}

/// Merges an applied object into the live one: `metadata` by the types of
/// the metadata fields a manager can own, the rest by the root `schema`.
pub fn merge_object(live: &mut Value, applied: &Value, schema: &Value) {
    let Some(fields) = applied.as_object() else {
        return merge(live, applied, schema);
    };
    if !live.is_object() {
        *live = Value::Object(Map::new());
    }
    let target = live.as_object_mut().expect("object ensured");
    for (k, v) in fields {
        if v.is_null() {
            target.remove(k);
            continue;
        }
        let slot = target.entry(k.clone()).or_insert(Value::Null);
        if k == "metadata" {
            merge(slot, v, &metadata_schema());
        } else {
            merge(slot, v, child_schema(schema, k));
        }
    }
}

/// Merges an applied configuration into the live object, by schema:
/// granular maps field by field, map lists by key, set lists as unions,
/// everything else replaced.
pub fn merge(live: &mut Value, applied: &Value, schema: &Value) {
    match applied {
        Value::Object(fields) if !is_atomic_map(schema) => {
            if !live.is_object() {
                *live = Value::Object(Map::new());
            }
            let target = live.as_object_mut().expect("object ensured");
            for (k, v) in fields {
                if v.is_null() {
                    target.remove(k);
                    continue;
                }
                let slot = target.entry(k.clone()).or_insert(Value::Null);
                merge(slot, v, child_schema(schema, k));
            }
        }
        Value::Array(items) => match (list_type(schema), live.as_array_mut()) {
            ("set", Some(existing)) => {
                for i in items {
                    if !existing.contains(i) {
                        existing.push(i.clone());
                    }
                }
            }
            ("map", Some(existing)) => {
                let item_schema = &schema["items"];
                let keys = map_keys(schema);
                for i in items {
                    let pos = existing
                        .iter()
                        .position(|e| keys.iter().all(|k| e[k] == i[k]));
                    match pos {
                        Some(p) => merge(&mut existing[p], i, item_schema),
                        None => existing.push(i.clone()),
                    }
                }
            }
            _ => *live = applied.clone(),
        },
        _ => *live = applied.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "size": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
            "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                      "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
            "args": {"type": "array", "items": {"type": "string"}}
        }}}})
    }

    #[test]
    fn fields_v1_shape() {
        let obj = json!({"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "a", "labels": {"x": "y"}},
            "spec": {"size": 1, "tags": ["a"], "ports": [{"name": "http", "port": 80}], "args": ["-v"]}});
        let set = fields_of(&obj, &schema(), false, true);
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:labels": {"f:x": {}}},
                "f:spec": {"f:size": {}, "f:tags": {"v:\"a\"": {}}, "f:args": {},
                           "f:ports": {"k:{\"name\":\"http\"}": {".": {}, "f:name": {}, "f:port": {}}}}
            })
        );
        assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()), set);
        let p: Vec<String> = vec![
            "f:spec".into(),
            "f:ports".into(),
            "k:{\"name\":\"http\"}".into(),
            "f:port".into(),
        ];
        assert_eq!(value_at(&obj, &p), Some(&json!(80)));
        assert_eq!(render_path(&p), ".spec.ports[name=\"http\"].port");
    }

    #[test]
    fn merge_by_list_type() {
        let mut live = json!({"spec": {"tags": ["a"], "ports": [{"name": "http", "port": 80}], "args": ["x"]}});
        merge(
            &mut live,
            &json!({"spec": {"tags": ["b"], "ports": [{"name": "http", "port": 81}, {"name": "m", "port": 9}], "args": ["y"]}}),
            &schema(),
        );
        assert_eq!(
            live,
            json!({"spec": {"tags": ["a", "b"], "ports": [{"name": "http", "port": 81}, {"name": "m", "port": 9}], "args": ["y"]}})
        );
        let p: Vec<String> = vec![
            "f:spec".into(),
            "f:ports".into(),
            "k:{\"name\":\"m\"}".into(),
        ];
        remove_at(&mut live, &p);
        assert_eq!(live["spec"]["ports"], json!([{"name": "http", "port": 81}]));
    }
}
