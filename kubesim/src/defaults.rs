//! Defaulting and normalisation the apiserver applies to a few built-in kinds
//! on every write. Only what clients observably depend on is reproduced.

use base64::Engine;
use serde_json::{Value, json};

/// Applies built-in defaults for `kind` (by group and plural) to `obj`.
/// `old` is the stored object on update.
pub fn apply(group: &str, plural: &str, obj: &mut Value, old: Option<&Value>) {
    match (group, plural) {
        ("", "secrets") => secret(obj),
        ("", "namespaces") => namespace(obj),
        ("", "services") => service(obj, old),
        _ => {}
    }
}

/// `stringData` is write-only: merged into base64 `data`, never stored.
fn secret(obj: &mut Value) {
    if let Some(Value::Object(string_data)) =
        obj.as_object_mut().and_then(|m| m.remove("stringData"))
    {
        if !obj["data"].is_object() {
            obj["data"] = json!({});
        }
        for (k, v) in string_data {
            let text = v.as_str().unwrap_or_default().to_string();
            obj["data"][k] = json!(base64::engine::general_purpose::STANDARD.encode(text));
        }
    }
    if obj["type"].as_str().unwrap_or("").is_empty() {
        obj["type"] = json!("Opaque");
    }
}

/// Every namespace carries its own name as a label (NamespaceDefaultLabelName).
fn namespace(obj: &mut Value) {
    let name = obj["metadata"]["name"].clone();
    if !obj["metadata"]["labels"].is_object() {
        obj["metadata"]["labels"] = json!({});
    }
    obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
}

/// type ClusterIP, a cluster IP (kept across updates), port protocol and
/// targetPort defaults, and an empty status on create. Allocated IPs are derived from the uid rather than
/// tracked, so two services could in principle collide.
fn service(obj: &mut Value, old: Option<&Value>) {
    // A new Service's status is reset to the empty one, written out as
    // `loadBalancer: {}` (ServiceStatus has no omitempty on it).
    if old.is_none() {
        obj["status"] = json!({"loadBalancer": {}});
    }
    let uid = obj["metadata"]["uid"].as_str().unwrap_or("").to_string();
    let spec = &mut obj["spec"];
    if !spec.is_object() {
        *spec = json!({});
    }
    if spec["type"].as_str().unwrap_or("").is_empty() {
        spec["type"] = json!("ClusterIP");
    }
    if spec["sessionAffinity"].is_null() {
        spec["sessionAffinity"] = json!("None");
    }
    let headless = spec["clusterIP"].as_str() == Some("None");
    if !headless && spec["type"] != json!("ExternalName") {
        let ip = old
            .and_then(|o| o["spec"]["clusterIP"].as_str().map(String::from))
            .or_else(|| {
                spec["clusterIP"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(String::from)
            })
            .unwrap_or_else(|| {
                let uid = uuid::Uuid::parse_str(&uid).unwrap_or_else(|_| uuid::Uuid::new_v4());
                let b = uid.as_bytes();
                format!("10.96.{}.{}", b[0], b[1].max(1))
            });
        let spec = &mut obj["spec"];
        spec["clusterIP"] = json!(ip);
        spec["clusterIPs"] = json!([ip]);
    }
    for port in obj["spec"]["ports"].as_array_mut().into_iter().flatten() {
        if port["protocol"].is_null() {
            port["protocol"] = json!("TCP");
        }
        if port["targetPort"].is_null() {
            port["targetPort"] = port["port"].clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_string_data_becomes_data() {
        let mut s = json!({"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}, "data": {"a": "Yg=="}});
        apply("", "secrets", &mut s, None);
        assert_eq!(s["data"], json!({"a": "Yg==", "password": "aHVudGVyMg=="}));
        assert!(s.get("stringData").is_none());
        assert_eq!(s["type"], "Opaque");
    }

    #[test]
    fn service_keeps_its_cluster_ip() {
        let mut s = json!({"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}});
        apply("", "services", &mut s, None);
        assert_eq!(s["status"], json!({"loadBalancer": {}}));
        let ip = s["spec"]["clusterIP"].clone();
        assert!(ip.as_str().unwrap().starts_with("10.96."));
        assert_eq!(
            s["spec"]["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80})
        );
        let mut update = json!({"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 81}]}});
        apply("", "services", &mut update, Some(&s));
        assert_eq!(update["spec"]["clusterIP"], ip);
    }
}
