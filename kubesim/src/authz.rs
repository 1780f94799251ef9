//! RBAC authorization for impersonated users.
//!
//! kubesim has no authentication: a request acts as a cluster admin unless it
//! carries `Impersonate-User` (kubectl `--as`, kube-rs `impersonate` in the
//! kubeconfig), in which case it is authorized against the stored Roles,
//! ClusterRoles and their bindings as kube-apiserver's RBAC authorizer does.
//! Tests use this to check that the operator's RBAC manifests are sufficient.
//!
//! SelfSubjectAccessReview and SubjectAccessReview (`kubectl auth can-i`) are
//! answered by the same authorizer.
//!
//! Not implemented: ClusterRole aggregation, `nonResourceURLs` (non-resource
//! requests such as discovery are always allowed), the escalation checks on
//! writing RBAC objects, and SelfSubjectRulesReview (`kubectl auth can-i --list`).

use crate::error::{ApiError, Subject};
use crate::meta;
use crate::resources::GroupResource;
use crate::store::{ObjectKey, Store};
use serde_json::Value;

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

impl User {
    /// The user named by impersonation headers, with the groups upstream adds.
    pub fn impersonated(name: &str, groups: Vec<String>) -> User {
        let mut groups = groups;
        if let Some(rest) = name.strip_prefix("system:serviceaccount:")
            && let Some((ns, _)) = rest.split_once(':')
        {
            groups.push("system:serviceaccounts".into());
            groups.push(format!("system:serviceaccounts:{ns}"));
        }
        groups.push("system:authenticated".into());
        User {
            name: name.to_string(),
            groups,
        }
    }
}

/// What a resource request wants to do.
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    pub verb: &'a str,
    pub group: &'a str,
    pub resource: &'a str,
    pub subresource: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

fn rbac(resource: &str) -> GroupResource {
    GroupResource {
        group: "rbac.authorization.k8s.io".into(),
        resource: resource.into(),
    }
}

fn subject_matches(subject: &Value, binding_ns: &str, user: &User) -> bool {
    let name = subject["name"].as_str().unwrap_or("");
    match subject["kind"].as_str() {
        Some("User") => name == user.name,
        Some("Group") => user.groups.iter().any(|g| g == name),
        Some("ServiceAccount") => {
            let ns = subject["namespace"]
                .as_str()
                .filter(|s| !s.is_empty())
                .unwrap_or(binding_ns);
            user.name == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

fn contains(list: &Value, wanted: &str) -> bool {
    list.as_array().is_some_and(|a| {
        a.iter()
            .any(|v| v.as_str() == Some("*") || v.as_str() == Some(wanted))
    })
}

fn rule_allows(rule: &Value, a: &Attributes) -> bool {
    let resource_ok = rule["resources"].as_array().is_some_and(|list| {
        list.iter().filter_map(Value::as_str).any(|r| {
            if a.subresource.is_empty() {
                r == "*" || r == a.resource
            } else {
                r == "*"
                    || r == format!("{}/{}", a.resource, a.subresource)
                    || r == format!("*/{}", a.subresource)
            }
        })
    });
    let names = rule["resourceNames"].as_array().filter(|n| !n.is_empty());
    let name_ok = match names {
        None => true,
        Some(n) => !a.name.is_empty() && n.iter().any(|v| v.as_str() == Some(a.name)),
    };
    contains(&rule["verbs"], a.verb)
        && contains(&rule["apiGroups"], a.group)
        && resource_ok
        && name_ok
}

fn role_rules(store: &Store, role_ref: &Value, binding_ns: &str) -> Vec<Value> {
    let name = role_ref["name"].as_str().unwrap_or("").to_string();
    let key = match role_ref["kind"].as_str() {
        Some("ClusterRole") => ObjectKey {
            gr: rbac("clusterroles"),
            namespace: String::new(),
            name,
        },
        Some("Role") => ObjectKey {
            gr: rbac("roles"),
            namespace: binding_ns.to_string(),
            name,
        },
        _ => return Vec::new(),
    };
    store
        .get(&key)
        .and_then(|r| r["rules"].as_array().cloned())
        .unwrap_or_default()
}

/// Allows the request or answers 403 with upstream's message.
pub fn authorize(store: &Store, user: &User, a: &Attributes) -> Result<(), ApiError> {
    let (crbs, rbs) = (rbac("clusterrolebindings"), rbac("rolebindings"));
    let cluster = store.range(&crbs, None).map(|(_, b)| b);
    let namespaced = store
        .range(&rbs, Some(a.namespace))
        .filter(|_| !a.namespace.is_empty())
        .map(|(_, b)| b);
    for binding in cluster.chain(namespaced) {
        let binding_ns = meta::namespace(binding);
        let bound = binding["subjects"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| subject_matches(s, binding_ns, user)));
        if bound
            && role_rules(store, &binding["roleRef"], binding_ns)
                .iter()
                .any(|r| rule_allows(r, a))
        {
            return Ok(());
        }
    }
    let resource = if a.subresource.is_empty() {
        a.resource.to_string()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let scope = if a.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace \"{}\"", a.namespace)
    };
    let reason = format!(
        "User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
        user.name, a.verb, a.group
    );
    let qualified = if a.group.is_empty() {
        a.resource.to_string()
    } else {
        format!("{}.{}", a.resource, a.group)
    };
    let message = if a.name.is_empty() {
        format!("{qualified} is forbidden: {reason}")
    } else {
        format!("{qualified} \"{}\" is forbidden: {reason}", a.name)
    };
    Err(ApiError::Forbidden {
        subject: Subject {
            group: a.group.into(),
            kind: a.resource.into(),
            name: a.name.into(),
        },
        message,
    })
}

/// Answers a (Self)SubjectAccessReview: the body with `status.allowed` set.
/// `requester` is who sent a SelfSubjectAccessReview (None: cluster admin).
pub fn review(store: &Store, kind: &str, mut body: Value, requester: Option<&User>) -> Value {
    let spec = body["spec"].clone();
    let user = if kind == "SubjectAccessReview" {
        let groups = spec["groups"]
            .as_array()
            .map(|g| {
                g.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        Some(User::impersonated(
            spec["user"].as_str().unwrap_or(""),
            groups,
        ))
    } else {
        requester.cloned()
    };
    let ra = &spec["resourceAttributes"];
    let text = |k: &str| ra[k].as_str().unwrap_or("").to_string();
    let (verb, group, resource, sub, ns, name) = (
        text("verb"),
        text("group"),
        text("resource"),
        text("subresource"),
        text("namespace"),
        text("name"),
    );
    let attrs = Attributes {
        verb: &verb,
        group: &group,
        resource: &resource,
        subresource: &sub,
        namespace: &ns,
        name: &name,
    };
    let allowed = match &user {
        // Non-resource checks are allowed, as non-resource requests are.
        _ if ra.is_null() => true,
        None => true,
        Some(u) => authorize(store, u, &attrs).is_ok(),
    };
    body["status"] = serde_json::json!({"allowed": allowed});
    if allowed {
        body["status"]["reason"] = Value::String("allowed by RBAC".into());
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_match_verbs_groups_resources_and_names() {
        let rule = json!({"verbs": ["get", "patch"], "apiGroups": ["x.io"], "resources": ["widgets/status"], "resourceNames": ["a"]});
        let a = Attributes {
            verb: "patch",
            group: "x.io",
            resource: "widgets",
            subresource: "status",
            namespace: "ns",
            name: "a",
        };
        assert!(rule_allows(&rule, &a));
        assert!(!rule_allows(
            &rule,
            &Attributes {
                name: "b",
                ..a.clone()
            }
        ));
        assert!(!rule_allows(
            &rule,
            &Attributes {
                subresource: "",
                ..a.clone()
            }
        ));
        assert!(!rule_allows(
            &rule,
            &Attributes {
                verb: "delete",
                ..a
            }
        ));
    }

    #[test]
    fn service_accounts_get_their_groups() {
        let u = User::impersonated("system:serviceaccount:ops:op", vec![]);
        assert!(u.groups.contains(&"system:serviceaccounts:ops".to_string()));
        assert!(subject_matches(
            &json!({"kind": "ServiceAccount", "name": "op", "namespace": "ops"}),
            "",
            &u
        ));
        assert!(subject_matches(
            &json!({"kind": "Group", "name": "system:authenticated"}),
            "",
            &u
        ));
    }
}
