//! Per-kind validation of the built-in kinds the operator writes besides
//! ObjectMeta: Leases (pkg/apis/coordination/validation) and Events
//! (pkg/apis/core/validation/events.go), with upstream's rules and messages.
//! Other built-in kinds get ObjectMeta validation and decoding only.

use crate::error::Cause;
use crate::resources::ResourceInfo;
use serde_json::Value;

/// Upstream's length limits of Event fields.
const REPORTING_INSTANCE_MAX: usize = 128;
const ACTION_MAX: usize = 128;
const REASON_MAX: usize = 128;
const NOTE_MAX: usize = 1024;

/// Causes for `obj` (at the requested version); `old` on update.
pub fn validate(info: &ResourceInfo, obj: &mut Value, old: Option<&Value>) -> Vec<Cause> {
    match (info.group.as_str(), info.plural.as_str()) {
        ("coordination.k8s.io", "leases") => lease(obj, old),
        ("", "events") => event(obj, old, EventApi::Core),
        ("events.k8s.io", "events") => {
            // Upstream validates the internal (core) form, so its messages
            // name core fields: `message`, not `note`.
            let core = crate::convert::to_storage(info, obj.clone());
            event(
                &core,
                old.map(|o| crate::convert::to_storage(info, o.clone()))
                    .as_ref(),
                EventApi::EventsV1,
            )
        }
        _ => Vec::new(),
    }
}

fn required(field: &str) -> Cause {
    Cause {
        reason: "FieldValueRequired",
        field: field.into(),
        message: "Required value".into(),
    }
}

fn invalid(field: &str, shown: String, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid",
        field: field.into(),
        message: format!("Invalid value: {shown}: {detail}"),
    }
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

/// ValidateLeaseSpec. `strategy` and `preferredHolder` belong to the
/// CoordinatedLeaderElection feature, off by default in 1.33: upstream drops
/// them on create, and on update unless the stored Lease has them.
fn lease(obj: &mut Value, old: Option<&Value>) -> Vec<Cause> {
    for field in ["strategy", "preferredHolder"] {
        let kept_before = old.is_some_and(|o| !o["spec"][field].is_null());
        if !kept_before && let Some(spec) = obj["spec"].as_object_mut() {
            spec.remove(field);
        }
    }
    let spec = &obj["spec"];
    let mut causes = Vec::new();
    if let Some(d) = spec["leaseDurationSeconds"].as_i64()
        && d <= 0
    {
        causes.push(invalid(
            "spec.leaseDurationSeconds",
            d.to_string(),
            "must be greater than 0",
        ));
    }
    if let Some(t) = spec["leaseTransitions"].as_i64()
        && t < 0
    {
        causes.push(invalid(
            "spec.leaseTransitions",
            t.to_string(),
            "must be greater than or equal to 0",
        ));
    }
    causes
}

#[derive(Clone, Copy, PartialEq)]
enum EventApi {
    Core,
    EventsV1,
}

fn text<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj[field].as_str().unwrap_or("")
}

/// ValidateEventCreate / ValidateEventUpdate on the core form of an Event.
fn event(e: &Value, old: Option<&Value>, api: EventApi) -> Vec<Cause> {
    let mut causes = legacy_event(e, api);
    if api == EventApi::Core {
        return causes;
    }
    if let Some(series) = e["series"].as_object() {
        let series_changed = old.is_none_or(|o| o["series"] != e["series"]);
        if series_changed {
            let count = series.get("count").and_then(Value::as_i64).unwrap_or(0);
            if count < 2 {
                causes.push(invalid("series.count", quoted(""), "should be at least 2"));
            }
            if series.get("lastObservedTime").is_none_or(Value::is_null) {
                causes.push(required("series.lastObservedTime"));
            }
        }
    }
    if e["eventTime"].is_null() {
        causes.push(required("eventTime"));
    }
    let kind = text(e, "type");
    if kind != "Normal" && kind != "Warning" {
        causes.push(invalid(
            "type",
            quoted(""),
            &format!("has invalid value: {kind}"),
        ));
    }
    for field in ["firstTimestamp", "lastTimestamp"] {
        if !e[field].is_null() {
            causes.push(invalid(field, quoted(""), "needs to be unset"));
        }
    }
    if e["count"].as_i64().is_some_and(|c| c != 0) {
        causes.push(invalid("count", quoted(""), "needs to be unset"));
    }
    if !text(&e["source"], "component").is_empty() || !text(&e["source"], "host").is_empty() {
        causes.push(invalid("source", quoted(""), "needs to be unset"));
    }
    if let Some(old) = old {
        for field in [
            "involvedObject",
            "reason",
            "message",
            "source",
            "firstTimestamp",
            "lastTimestamp",
            "count",
            "type",
            "eventTime",
            "action",
            "related",
            "reportingComponent",
            "reportingInstance",
        ] {
            if e[field] != old[field] {
                let shown = match &e[field] {
                    Value::String(s) => quoted(s),
                    Value::Null => "null".into(),
                    other => other.to_string(),
                };
                let name = if field == "reportingComponent" {
                    "reportingController"
                } else {
                    field
                };
                causes.push(invalid(name, shown, "field is immutable"));
            }
        }
    }
    causes
}

/// legacyValidateEvent: the rules both APIs share.
fn legacy_event(e: &Value, api: EventApi) -> Vec<Cause> {
    let mut causes = Vec::new();
    let namespace = e["metadata"]["namespace"].as_str().unwrap_or("");
    let involved_ns = text(&e["involvedObject"], "namespace");
    let mismatch = || {
        invalid(
            "involvedObject.namespace",
            quoted(involved_ns),
            "does not match event.namespace",
        )
    };
    if e["eventTime"].is_null() {
        let ok = if involved_ns.is_empty() {
            namespace.is_empty() || namespace == "default"
        } else {
            namespace == involved_ns
        };
        if !ok {
            causes.push(mismatch());
        }
    } else {
        if involved_ns.is_empty() && namespace != "default" && namespace != "kube-system" {
            causes.push(mismatch());
        }
        let controller_field = match api {
            EventApi::Core => "reportingComponent",
            EventApi::EventsV1 => "reportingController",
        };
        let controller = text(e, "reportingComponent");
        if controller.is_empty() {
            causes.push(required(controller_field));
        }
        for detail in crate::validation::qualified_name(controller) {
            causes.push(invalid(controller_field, quoted(controller), &detail));
        }
        for (field, max) in [
            ("reportingInstance", REPORTING_INSTANCE_MAX),
            ("action", ACTION_MAX),
            ("reason", REASON_MAX),
        ] {
            let value = text(e, field);
            if value.is_empty() {
                causes.push(required(field));
            }
            if value.len() > max {
                causes.push(invalid(
                    field,
                    quoted(""),
                    &format!("can have at most {max} characters"),
                ));
            }
        }
    }
    if text(e, "message").len() > NOTE_MAX {
        causes.push(invalid(
            "message",
            quoted(""),
            &format!("can have at most {NOTE_MAX} characters"),
        ));
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info(group: &str, plural: &str) -> ResourceInfo {
        crate::resources::Registry::new()
            .all()
            .find(|r| r.group == group && r.plural == plural)
            .cloned()
            .unwrap()
    }

    fn rendered(causes: &[Cause]) -> Vec<String> {
        causes.iter().map(Cause::render).collect()
    }

    #[test]
    fn lease_durations_must_be_positive_and_strategies_are_dropped() {
        let lease = info("coordination.k8s.io", "leases");
        let mut obj = json!({"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0,
            "leaseTransitions": -1, "strategy": "OldestEmulationVersion", "preferredHolder": "x"}});
        assert_eq!(
            rendered(&validate(&lease, &mut obj, None)),
            vec![
                "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"
            ]
        );
        assert!(obj["spec"].get("strategy").is_none());
        assert!(obj["spec"].get("preferredHolder").is_none());
    }

    fn event_v1() -> Value {
        json!({"metadata": {"name": "e", "namespace": "ns"}, "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "stackops", "reportingInstance": "pod-1", "action": "Reconcile",
            "reason": "Ready", "type": "Normal", "note": "ok",
            "regarding": {"kind": "EcommerceStack", "namespace": "ns", "name": "shop"}})
    }

    #[test]
    fn a_complete_event_passes() {
        let events = info("events.k8s.io", "events");
        assert!(validate(&events, &mut event_v1(), None).is_empty());
    }

    #[test]
    fn events_need_their_reporting_fields_and_a_short_note() {
        let events = info("events.k8s.io", "events");
        let mut e = event_v1();
        let m = e.as_object_mut().unwrap();
        m.remove("eventTime");
        m.remove("reportingController");
        m.remove("action");
        m.insert("note".into(), json!("x".repeat(1025)));
        let causes = rendered(&validate(&events, &mut e, None));
        assert!(
            causes.contains(&"eventTime: Required value".to_string()),
            "{causes:?}"
        );
        assert!(
            causes.contains(
                &"message: Invalid value: \"\": can have at most 1024 characters".to_string()
            ),
            "{causes:?}"
        );
        // Without eventTime the reporting fields are not required (an "old" event) ...
        assert!(!causes.iter().any(|c| c.starts_with("action")));
        // ... with it they are.
        let mut e = event_v1();
        e.as_object_mut().unwrap().remove("action");
        e.as_object_mut().unwrap().remove("reportingController");
        let causes = rendered(&validate(&events, &mut e, None));
        assert!(
            causes.contains(&"action: Required value".to_string()),
            "{causes:?}"
        );
        assert!(
            causes.contains(&"reportingController: Required value".to_string()),
            "{causes:?}"
        );
    }

    #[test]
    fn events_v1_fields_are_immutable_but_series_may_grow() {
        let events = info("events.k8s.io", "events");
        let old = event_v1();
        let mut changed = event_v1();
        changed["note"] = json!("other");
        changed["series"] = json!({"count": 2, "lastObservedTime": "2026-01-01T00:00:01.000000Z"});
        let causes = rendered(&validate(&events, &mut changed, Some(&old)));
        assert_eq!(
            causes,
            vec!["message: Invalid value: \"other\": field is immutable"]
        );
    }
}
