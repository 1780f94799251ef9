//! The verbs — get, list, create, update, patch, delete — applied to the store,
//! with the generic registry rules of kube-apiserver: optimistic concurrency,
//! status subresource separation, generation, finalizers and CRD admission.

use crate::error::{ApiError, Cause, Result, Subject};
use crate::meta;
use crate::patch::{self, PatchType};
use crate::resources::ResourceInfo;
use crate::schema;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::ssa;
use crate::store::{EventType, ObjectKey, Store};
use base64::Engine;
use serde_json::{Value, json};

mod delete;
mod write;

pub use delete::{Deleted, delete, delete_collection};
pub use write::{PatchBody, apply, create, patch, update};

/// Which part of an object a write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    Main,
    Status,
}

#[derive(Debug, Default, Clone)]
pub struct ListOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    /// `resourceVersion` with `resourceVersionMatch=Exact`: list the past.
    pub exact_resource_version: Option<u64>,
}

/// Query parameters every write accepts.
#[derive(Debug, Default, Clone)]
pub struct WriteOptions {
    pub dry_run: bool,
    /// `fieldValidation`: what unknown and duplicate fields cost.
    pub field_validation: crate::decode::FieldValidation,
    /// Keys the request body repeats, found before the body was parsed.
    pub body_fields: crate::decode::BodyFields,
    /// Where warnings for the response's `Warning` headers go.
    pub warnings: crate::decode::Warnings,
    /// The field manager: `fieldManager`, else the User-Agent's product name.
    pub field_manager: String,
    /// `fieldManager` was given explicitly (server-side apply requires it).
    pub field_manager_given: bool,
    /// `force=true` on an apply patch.
    pub force: bool,
    /// The body already carries the managedFields to store (apply did them).
    pub managed_fields_set: bool,
}

#[derive(Debug, Default, Clone)]
pub struct DeleteOptions {
    pub propagation: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    /// Reads a `DeleteOptions` body (kube-rs and kubectl send one).
    pub fn from_body(body: &Value) -> Self {
        DeleteOptions {
            propagation: body["propagationPolicy"].as_str().map(String::from),
            precondition_uid: body["preconditions"]["uid"].as_str().map(String::from),
            precondition_rv: body["preconditions"]["resourceVersion"]
                .as_str()
                .map(String::from),
            dry_run: body["dryRun"].as_array().is_some_and(|a| !a.is_empty()),
        }
    }
}

/// `details` for errors about an object: upstream names the resource (plural).
pub fn subject(info: &ResourceInfo, name: &str) -> Subject {
    Subject {
        group: info.group.clone(),
        kind: info.plural.clone(),
        name: name.to_string(),
    }
}

/// `Invalid` errors name the Kind instead (`Widget.example.com "x" is invalid`).
fn invalid(info: &ResourceInfo, name: &str, causes: Vec<Cause>) -> ApiError {
    ApiError::Invalid {
        subject: Subject {
            group: info.group.clone(),
            kind: info.kind.clone(),
            name: name.to_string(),
        },
        causes,
    }
}

fn key(info: &ResourceInfo, namespace: &str, name: &str) -> ObjectKey {
    ObjectKey {
        gr: info.storage_key(),
        namespace: if info.namespaced {
            namespace.to_string()
        } else {
            String::new()
        },
        name: name.to_string(),
    }
}

/// Presents a stored object at the requested version (CRD conversion `None`
/// only rewrites apiVersion, which is all kubesim supports).
pub fn present(info: &ResourceInfo, obj: &Value) -> Value {
    crate::convert::present(info, obj)
}

pub fn get(store: &Store, info: &ResourceInfo, ns: &str, name: &str) -> Result<Value> {
    store
        .get(&key(info, ns, name))
        .map(|o| present(info, o))
        .ok_or_else(|| ApiError::NotFound(subject(info, name)))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: u64,
    /// `namespace/name` of the last item returned.
    after: String,
}

pub fn list(
    store: &Store,
    info: &ResourceInfo,
    ns: Option<&str>,
    opts: &ListOptions,
) -> Result<Value> {
    let current = store.resource_version();
    let (list_rv, after) = match &opts.continue_token {
        Some(token) => {
            let bad = || ApiError::BadRequest("continue key is not valid: invalid token".into());
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .map_err(|_| bad())?;
            let t: ContinueToken = serde_json::from_slice(&raw).map_err(|_| bad())?;
            (t.rv, Some(t.after))
        }
        None => (opts.exact_resource_version.unwrap_or(current), None),
    };
    if list_rv > current {
        // Upstream waits briefly for a future version, then answers 504.
        return Err(ApiError::BadRequest(format!(
            "Too large resource version: {list_rv}, current: {current}"
        )));
    }
    let gr = info.storage_key();
    // Every page of a list reads the same snapshot, as etcd serves it.
    let snapshot = store
        .snapshot(&gr, ns, list_rv)
        .ok_or_else(|| match &after {
            // Upstream hands out a token for the rest of the list at the
            // latest version, with the 410.
            Some(after) => ApiError::ExpiredContinue {
                next: encode_continue(&ContinueToken {
                    rv: current,
                    after: after.clone(),
                }),
            },
            None => {
                ApiError::Expired("The resourceVersion for the provided list is too old.".into())
            }
        })?;
    let matching: Vec<(&ObjectKey, &Value)> = snapshot
        .into_iter()
        .filter(|(k, _)| {
            after
                .as_ref()
                .is_none_or(|a| &format!("{}/{}", k.namespace, k.name) > a)
        })
        .filter(|(_, o)| opts.labels.matches(&o["metadata"]["labels"]) && opts.fields.matches(o))
        .collect();
    let take = opts
        .limit
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX)
        .min(matching.len());
    let (page, rest) = matching.split_at(take);
    let items: Vec<Value> = page.iter().map(|(_, o)| present(info, o)).collect();
    let mut metadata = json!({"resourceVersion": list_rv.to_string()});
    if let (false, Some((last, _))) = (rest.is_empty(), page.last()) {
        let token = ContinueToken {
            rv: list_rv,
            after: format!("{}/{}", last.namespace, last.name),
        };
        metadata["continue"] = Value::String(encode_continue(&token));
        metadata["remainingItemCount"] = json!(rest.len());
    }
    Ok(json!({
        "apiVersion": info.api_version(),
        "kind": info.list_kind,
        "metadata": metadata,
        "items": items,
    }))
}

/// Checks the body's apiVersion/kind against the endpoint it was sent to.
pub(crate) fn check_type(info: &ResourceInfo, body: &Value) -> Result<()> {
    if let Some(v) = body["apiVersion"].as_str()
        && v != info.api_version()
    {
        return Err(ApiError::BadRequest(format!(
            "the API version in the data ({v}) does not match the expected API version ({})",
            info.api_version()
        )));
    }
    if let Some(k) = body["kind"].as_str()
        && k != info.kind
    {
        return Err(ApiError::BadRequest(format!(
            "the kind in the data ({k}) does not match the expected kind ({})",
            info.kind
        )));
    }
    Ok(())
}

fn check_namespace_writable(
    store: &Store,
    info: &ResourceInfo,
    ns: &str,
    name: &str,
) -> Result<()> {
    if !info.namespaced {
        return Ok(());
    }
    let ns_info = store
        .registry
        .get("", "v1", "namespaces")
        .cloned()
        .expect("namespaces are built in");
    match store.get(&key(&ns_info, "", ns)) {
        None => Err(ApiError::NotFound(subject(&ns_info, ns))),
        Some(n) if meta::is_deleting(n) => Err(ApiError::Forbidden {
            subject: subject(info, name),
            message: format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                qualified(info)
            ),
        }),
        Some(_) => Ok(()),
    }
}

fn qualified(info: &ResourceInfo) -> String {
    if info.group.is_empty() {
        info.plural.clone()
    } else {
        format!("{}.{}", info.plural, info.group)
    }
}

fn encode_continue(token: &ContinueToken) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(token).unwrap_or_default())
}

fn is_crd(info: &ResourceInfo) -> bool {
    info.group == "apiextensions.k8s.io" && info.plural == "customresourcedefinitions"
}

fn is_namespace(info: &ResourceInfo) -> bool {
    info.group.is_empty() && info.plural == "namespaces"
}
