//! Counts of calls to the cloud by service, operation and outcome. The
//! AWS layer feeds them (an SDK interceptor on every client); the engine
//! reads them into each pass's outcome, the operator into its metrics and
//! the tests into their "no write at steady state" checks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Service, operation and outcome (`ok`, or `error:<HTTP status>`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CallKey {
    pub service: String,
    pub operation: String,
    pub outcome: String,
}

/// Operation-name prefixes of calls that change something in AWS.
const MUTATING_PREFIXES: &[&str] = &[
    "Create",
    "Delete",
    "Modify",
    "Put",
    "Update",
    "Associate",
    "Disassociate",
    "Attach",
    "Detach",
    "Allocate",
    "Release",
    "Authorize",
    "Revoke",
    "Replace",
    "Register",
    "Deregister",
    "Add",
    "Remove",
    "Set",
    "Start",
    "Stop",
    "Reboot",
    "Enable",
    "Disable",
    "Tag",
    "Untag",
    "Run",
    "Terminate",
    "Copy",
    "Restore",
    "Reset",
    "Promote",
    "Failover",
    "Execute",
    "Cancel",
    "Increase",
    "Decrease",
    // SNS.
    "Subscribe",
    "Unsubscribe",
];

/// Whether an operation changes something (by AWS's naming convention).
pub fn is_mutating(operation: &str) -> bool {
    MUTATING_PREFIXES.iter().any(|p| operation.starts_with(p))
}

/// Shared, cheap to clone counters of calls and attempts.
#[derive(Clone, Debug, Default)]
pub struct CallCounter {
    inner: Arc<Mutex<Counts>>,
}

#[derive(Debug, Default)]
struct Counts {
    calls: BTreeMap<CallKey, u64>,
    attempts: u64,
    /// Attempts answered with a throttling error, by service.
    throttled: BTreeMap<String, u64>,
    /// Reads answered from what another stack's read fetched: not calls.
    shared: u64,
    /// Of those, lists served already parsed (`aws::shared_lists`).
    served: u64,
    /// Calls that waited for the call budget, by service.
    delayed: BTreeMap<String, Delayed>,
}

/// Calls of one service that waited for the call budget, and how long.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Delayed {
    pub calls: u64,
    pub waited: std::time::Duration,
}

impl CallCounter {
    /// Counts one call (the AWS layer's interceptor calls it).
    pub fn record(&self, key: CallKey) {
        let mut counts = self.inner.lock().expect("counter lock");
        *counts.calls.entry(key).or_default() += 1;
    }

    /// Counts one attempt of a call, retries included.
    pub fn record_attempt(&self) {
        self.inner.lock().expect("counter lock").attempts += 1;
    }

    /// Counts one read answered without a call (shared with other stacks).
    pub fn record_shared(&self) {
        let mut counts = self.inner.lock().expect("counter lock");
        counts.shared += 1;
        // Its attempt never reached the cloud: not a retry either.
        counts.attempts = counts.attempts.saturating_sub(1);
    }

    /// Counts one list answered from a list another stack fetched and
    /// parsed: a shared read that never became a request.
    pub fn record_served(&self) {
        let mut counts = self.inner.lock().expect("counter lock");
        counts.shared += 1;
        counts.served += 1;
    }

    /// Shared reads that were parsed lists (a part of `shared`).
    pub fn served(&self) -> u64 {
        self.inner.lock().expect("counter lock").served
    }

    /// Reads answered without a call.
    pub fn shared(&self) -> u64 {
        self.inner.lock().expect("counter lock").shared
    }

    /// Counts one call of `service` that waited `waited` for its budget.
    pub fn record_delayed(&self, service: &str, waited: std::time::Duration) {
        let mut counts = self.inner.lock().expect("counter lock");
        let delayed = counts.delayed.entry(service.to_string()).or_default();
        delayed.calls += 1;
        delayed.waited += waited;
    }

    /// Calls that waited for the budget, by service.
    pub fn delayed(&self) -> BTreeMap<String, Delayed> {
        self.inner.lock().expect("counter lock").delayed.clone()
    }

    /// Counts one attempt the cloud throttled.
    pub fn record_throttled(&self, service: &str) {
        let mut counts = self.inner.lock().expect("counter lock");
        *counts.throttled.entry(service.to_string()).or_default() += 1;
    }

    /// Attempts the cloud answered with a throttling error code, by service.
    pub fn throttled(&self) -> BTreeMap<String, u64> {
        self.inner.lock().expect("counter lock").throttled.clone()
    }

    /// Calls by service, operation and outcome.
    pub fn snapshot(&self) -> BTreeMap<CallKey, u64> {
        self.inner.lock().expect("counter lock").calls.clone()
    }

    /// Calls made (each counted once, however many attempts it took).
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }

    /// Calls that change something.
    pub fn mutating(&self) -> u64 {
        self.snapshot()
            .iter()
            .filter(|(k, _)| is_mutating(&k.operation))
            .map(|(_, n)| n)
            .sum()
    }

    /// Attempts beyond the first of each call: retries made by the SDK.
    pub fn retries(&self) -> u64 {
        let counts = self.inner.lock().expect("counter lock");
        counts.attempts.saturating_sub(counts.calls.values().sum())
    }

    /// Mutating calls as `service:Operation` with counts, for messages.
    pub fn mutating_calls(&self) -> Vec<(String, u64)> {
        self.snapshot()
            .into_iter()
            .filter(|(k, _)| is_mutating(&k.operation))
            .map(|(k, n)| (format!("{}:{}", k.service, k.operation), n))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutating_operations_are_recognised() {
        assert!(is_mutating("CreateVpc"));
        assert!(is_mutating("AuthorizeSecurityGroupIngress"));
        assert!(!is_mutating("DescribeVpcs"));
        assert!(!is_mutating("GetResources"));
        assert!(!is_mutating("ListTagsForResource"));
    }
}
