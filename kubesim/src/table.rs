//! `meta.k8s.io/v1` Table responses (`Accept: application/json;as=Table;...`),
//! which `kubectl get` renders: Name plus the CRD's additionalPrinterColumns
//! (or Age), and for built-in kinds the main columns of upstream's printers
//! (priority-0 columns only).

use crate::resources::{PrinterColumn, ResourceInfo};
use jsonpath_rust::JsonPath;
use serde_json::{Value, json};

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

fn columns(info: &ResourceInfo) -> Vec<PrinterColumn> {
    if info.custom && !info.printer_columns.is_empty() {
        // An explicit column list replaces the default Age column upstream.
        return info.printer_columns.clone();
    }
    vec![PrinterColumn {
        name: "Age".into(),
        type_: "date".into(),
        format: String::new(),
        description: "CreationTimestamp is a timestamp representing the server time when this object was created.".into(),
        priority: 0,
        json_path: ".metadata.creationTimestamp".into(),
    }]
}

/// A computed column of a built-in kind's printer.
type Computed = (&'static str, &'static str, fn(&Value) -> Value);

fn count(v: &Value) -> Value {
    json!(v.as_object().map_or(0, |m| m.len()) + v.as_array().map_or(0, |a| a.len()))
}

fn or_none(v: &Value) -> Value {
    match v.as_str() {
        Some(s) if !s.is_empty() => json!(s),
        _ => json!("<none>"),
    }
}

fn created_at(o: &Value) -> Value {
    o["metadata"]["creationTimestamp"].clone()
}

fn age(o: &Value) -> Value {
    match o["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
    {
        Some(t) => json!(human_duration(
            jiff::Timestamp::now().as_second() - t.as_second()
        )),
        None => json!("<unknown>"),
    }
}

/// Upstream's printers (pkg/printers/internalversion) for the built-in kinds kubesim serves.
fn builtin_columns(info: &ResourceInfo) -> Option<Vec<Computed>> {
    let cols: Vec<Computed> = match (info.group.as_str(), info.plural.as_str()) {
        ("", "namespaces") => vec![
            ("Status", "string", |o| o["status"]["phase"].clone()),
            ("Age", "string", age),
        ],
        ("", "configmaps") => vec![
            ("Data", "integer", |o| {
                json!(
                    count(&o["data"]).as_u64().unwrap_or(0)
                        + count(&o["binaryData"]).as_u64().unwrap_or(0)
                )
            }),
            ("Age", "string", age),
        ],
        ("", "secrets") => vec![
            ("Type", "string", |o| o["type"].clone()),
            ("Data", "integer", |o| count(&o["data"])),
            ("Age", "string", age),
        ],
        ("", "serviceaccounts") => vec![
            ("Secrets", "integer", |o| count(&o["secrets"])),
            ("Age", "string", age),
        ],
        ("", "services") => vec![
            ("Type", "string", |o| o["spec"]["type"].clone()),
            ("Cluster-IP", "string", |o| or_none(&o["spec"]["clusterIP"])),
            ("External-IP", "string", |o| {
                let ips: Vec<String> = o["spec"]["externalIPs"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|i| i.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                if ips.is_empty() {
                    json!("<none>")
                } else {
                    json!(ips.join(","))
                }
            }),
            ("Port(s)", "string", |o| {
                let ports: Vec<String> = o["spec"]["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP")))
                    .collect();
                if ports.is_empty() {
                    json!("<none>")
                } else {
                    json!(ports.join(","))
                }
            }),
            ("Age", "string", age),
        ],
        ("apps", "deployments") => vec![
            ("Ready", "string", |o| {
                let ready = o["status"]["readyReplicas"].as_i64().unwrap_or(0);
                json!(format!(
                    "{ready}/{}",
                    o["spec"]["replicas"].as_i64().unwrap_or(1)
                ))
            }),
            ("Up-to-date", "integer", |o| {
                json!(o["status"]["updatedReplicas"].as_i64().unwrap_or(0))
            }),
            ("Available", "integer", |o| {
                json!(o["status"]["availableReplicas"].as_i64().unwrap_or(0))
            }),
            ("Age", "string", age),
        ],
        ("", "events") => vec![
            ("Last Seen", "string", |o| {
                let seen = [
                    &o["series"]["lastObservedTime"],
                    &o["lastTimestamp"],
                    &o["eventTime"],
                    &o["metadata"]["creationTimestamp"],
                ]
                .into_iter()
                .find_map(|t| t.as_str().and_then(|s| s.parse::<jiff::Timestamp>().ok()));
                match seen {
                    Some(t) => json!(human_duration(
                        jiff::Timestamp::now().as_second() - t.as_second()
                    )),
                    None => json!("<unknown>"),
                }
            }),
            ("Type", "string", |o| o["type"].clone()),
            ("Reason", "string", |o| o["reason"].clone()),
            ("Object", "string", |o| {
                let kind = o["involvedObject"]["kind"]
                    .as_str()
                    .unwrap_or("")
                    .to_lowercase();
                json!(format!(
                    "{kind}/{}",
                    o["involvedObject"]["name"].as_str().unwrap_or("")
                ))
            }),
            ("Message", "string", |o| {
                json!(o["message"].as_str().unwrap_or("").trim())
            }),
        ],
        ("coordination.k8s.io", "leases") => {
            vec![
                ("Holder", "string", |o| o["spec"]["holderIdentity"].clone()),
                ("Age", "string", age),
            ]
        }
        ("apiextensions.k8s.io", "customresourcedefinitions")
        | ("rbac.authorization.k8s.io", "roles" | "clusterroles") => {
            vec![("Created At", "date", created_at)]
        }
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => vec![
            ("Role", "string", |o| {
                json!(format!(
                    "{}/{}",
                    o["roleRef"]["kind"].as_str().unwrap_or(""),
                    o["roleRef"]["name"].as_str().unwrap_or("")
                ))
            }),
            ("Age", "string", age),
        ],
        ("policy", "poddisruptionbudgets") => vec![
            ("Min Available", "string", |o| {
                or_none(&Value::String(value_text(&o["spec"]["minAvailable"])))
            }),
            ("Max Unavailable", "string", |o| {
                or_none(&Value::String(value_text(&o["spec"]["maxUnavailable"])))
            }),
            ("Allowed Disruptions", "integer", |o| {
                json!(o["status"]["disruptionsAllowed"].as_i64().unwrap_or(0))
            }),
            ("Age", "string", age),
        ],
        _ => return None,
    };
    Some(cols)
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Builds a Table from a list response (or a single object).
pub fn to_table(info: &ResourceInfo, list_or_object: &Value) -> Value {
    if !info.custom
        && let Some(cols) = builtin_columns(info)
    {
        return builtin_table(&cols, list_or_object);
    }
    let cols = columns(info);
    let mut defs = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": NAME_DESCRIPTION, "priority": 0}),
    ];
    defs.extend(cols.iter().map(|c| {
        json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority})
    }));
    let rows = rows_of(list_or_object)
        .into_iter()
        .map(|obj| {
            let mut cells = vec![obj["metadata"]["name"].clone()];
            cells.extend(cols.iter().map(|c| cell(c, obj)));
            row(cells, obj)
        })
        .collect();
    table(defs, rows, list_or_object)
}

fn rows_of(list_or_object: &Value) -> Vec<&Value> {
    match list_or_object["items"].as_array() {
        Some(items) => items.iter().collect(),
        None => vec![list_or_object],
    }
}

fn row(cells: Vec<Value>, obj: &Value) -> Value {
    json!({
        "cells": cells,
        "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]},
    })
}

fn table(defs: Vec<Value>, rows: Vec<Value>, list_or_object: &Value) -> Value {
    let mut metadata = json!({"resourceVersion": list_or_object["metadata"]["resourceVersion"]});
    if let Some(c) = list_or_object["metadata"].get("continue") {
        metadata["continue"] = c.clone();
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "columnDefinitions": defs, "rows": rows})
}

fn builtin_table(cols: &[Computed], list_or_object: &Value) -> Value {
    // Event printers lead with Last Seen; their Name is a wide column.
    let with_name = cols.first().is_none_or(|(name, _, _)| *name != "Last Seen");
    let mut defs = Vec::new();
    if with_name {
        defs.push(json!({"name": "Name", "type": "string", "format": "name", "description": NAME_DESCRIPTION, "priority": 0}));
    }
    defs.extend(cols.iter().map(|(name, type_, _)| json!({"name": name, "type": type_, "format": "", "description": "", "priority": 0})));
    let rows = rows_of(list_or_object)
        .into_iter()
        .map(|obj| {
            let mut cells = Vec::new();
            if with_name {
                cells.push(obj["metadata"]["name"].clone());
            }
            cells.extend(cols.iter().map(|(_, _, f)| f(obj)));
            row(cells, obj)
        })
        .collect();
    table(defs, rows, list_or_object)
}

/// One cell: the first JSONPath result, typed like upstream's tableconvertor.
fn cell(col: &PrinterColumn, obj: &Value) -> Value {
    let path = format!(
        "${}",
        col.json_path
            .trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
            .trim_start_matches('$')
    );
    let found = obj
        .query(&path)
        .ok()
        .and_then(|r| r.first().map(|v| (*v).clone()));
    let Some(value) = found else {
        return Value::Null;
    };
    match col.type_.as_str() {
        "date" => match value
            .as_str()
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        {
            Some(t) => json!(human_duration(
                jiff::Timestamp::now().as_second() - t.as_second()
            )),
            None => json!("<invalid>"),
        },
        "string" => match value {
            Value::String(s) => json!(s),
            other => json!(other.to_string()),
        },
        "integer" => value.as_i64().map(|i| json!(i)).unwrap_or(Value::Null),
        "number" => value.as_f64().map(|f| json!(f)).unwrap_or(Value::Null),
        "boolean" => value.as_bool().map(|b| json!(b)).unwrap_or(Value::Null),
        _ => value,
    }
}

/// apimachinery's `duration.HumanDuration`, which kubectl's AGE shows.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_match_apimachinery() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(125), "2m5s");
        assert_eq!(human_duration(3600 * 3 + 60), "3h1m");
        assert_eq!(human_duration(3600 * 24 * 3), "3d");
    }

    #[test]
    fn printer_column_with_filter() {
        let col = PrinterColumn {
            name: "Ready".into(),
            type_: "string".into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            json_path: ".status.conditions[?(@.type==\"Ready\")].status".into(),
        };
        let obj = json!({"status": {"conditions": [{"type": "Other", "status": "x"}, {"type": "Ready", "status": "True"}]}});
        assert_eq!(cell(&col, &obj), json!("True"));
    }
}
