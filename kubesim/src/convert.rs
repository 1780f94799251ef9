//! Conversion between the stored form of an object and the version a client
//! asks for. CRDs use conversion `None` (only apiVersion changes). Events are
//! one resource served by two groups: stored as core/v1 Events, and converted
//! field by field for events.k8s.io/v1, as upstream does — an Event an
//! operator records through events.k8s.io shows up in `kubectl get events`.

use crate::resources::{GroupResource, ResourceInfo};
use serde_json::Value;

/// core/v1 field ↔ events.k8s.io/v1 field.
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
];

fn is_events_v1(info: &ResourceInfo) -> bool {
    info.group == "events.k8s.io" && info.plural == "events"
}

/// Where objects of `info` are stored.
pub fn storage_key(info: &ResourceInfo) -> GroupResource {
    if is_events_v1(info) {
        return GroupResource {
            group: String::new(),
            resource: "events".into(),
        };
    }
    GroupResource {
        group: info.group.clone(),
        resource: info.plural.clone(),
    }
}

fn rename(obj: &mut Value, from_core: bool) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    for (core, events) in EVENT_FIELDS {
        let (from, to) = if from_core {
            (core, events)
        } else {
            (events, core)
        };
        if let Some(v) = map.remove(*from) {
            map.insert((*to).to_string(), v);
        }
    }
}

/// The stored form of an object written through `info`.
pub fn to_storage(info: &ResourceInfo, obj: Value) -> Value {
    let mut out = obj;
    if is_events_v1(info) {
        rename(&mut out, false);
        out["apiVersion"] = Value::String("v1".into());
        out["kind"] = Value::String("Event".into());
    }
    out
}

/// A stored object presented at the version `info` serves.
pub fn present(info: &ResourceInfo, stored: &Value) -> Value {
    let mut out = stored.clone();
    if is_events_v1(info) {
        rename(&mut out, true);
    }
    out["apiVersion"] = Value::String(info.api_version());
    out["kind"] = Value::String(info.kind.clone());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;
    use serde_json::json;

    #[test]
    fn events_round_trip_between_groups() {
        let reg = Registry::new();
        let v1 = reg.get("events.k8s.io", "v1", "events").unwrap();
        let written = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"kind": "Widget", "name": "w"}, "note": "hello", "reason": "Ready",
            "reportingController": "stackops"});
        let stored = to_storage(v1, written.clone());
        assert_eq!(stored["involvedObject"]["name"], "w");
        assert_eq!(stored["message"], "hello");
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(present(v1, &stored), written);
        assert_eq!(
            storage_key(v1),
            storage_key(reg.get("", "v1", "events").unwrap())
        );
    }
}
