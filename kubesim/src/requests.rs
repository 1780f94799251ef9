//! The request log tests read to assert what a client did (e.g. that a
//! steady-state reconcile made no writes).

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RequestRecord {
    pub method: String,
    /// Kubernetes verb: get, list, watch, create, update, patch, delete,
    /// deletecollection; `discovery` and `other` for non-resource paths.
    pub verb: String,
    pub path: String,
    pub query: String,
    pub code: u16,
    /// Resource (plural) and subresource, for resource requests.
    pub resource: String,
    pub subresource: String,
    /// Content-Type of a PATCH (which patch flavour a client used).
    pub patch_type: String,
    /// The client's User-Agent, to tell e.g. an operator's requests from a test's.
    pub user_agent: String,
    /// `Impersonate-User`, when the request acted as someone.
    pub user: String,
}

impl RequestRecord {
    pub fn is_write(&self) -> bool {
        matches!(
            self.verb.as_str(),
            "create" | "update" | "patch" | "delete" | "deletecollection"
        )
    }
}

#[derive(Debug, Default)]
pub struct RequestLog {
    records: Vec<RequestRecord>,
}

impl RequestLog {
    pub fn push(&mut self, r: RequestRecord) {
        self.records.push(r);
    }

    pub fn records(&self) -> Vec<RequestRecord> {
        self.records.clone()
    }

    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for r in &self.records {
            *counts.entry(r.verb.clone()).or_insert(0) += 1;
        }
        counts
    }

    pub fn clear(&mut self) {
        self.records.clear();
    }
}
