//! Counts every AWS call by service, operation and outcome, through an SDK
//! interceptor on every client. The counts feed the engine's outcome, the
//! operator's metrics and the tests' "no write at steady state" checks.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

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
}

impl CallCounter {
    fn record(&self, key: CallKey) {
        let mut counts = self.inner.lock().expect("counter lock");
        *counts.calls.entry(key).or_default() += 1;
    }

    fn record_attempt(&self) {
        self.inner.lock().expect("counter lock").attempts += 1;
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

/// The interceptor that feeds one or more counters.
#[derive(Clone)]
pub struct CountingInterceptor {
    counters: Vec<CallCounter>,
}

impl fmt::Debug for CountingInterceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CountingInterceptor")
    }
}

impl CountingInterceptor {
    pub fn new(counters: Vec<CallCounter>) -> Self {
        Self { counters }
    }
}

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "stackops.CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        for counter in &self.counters {
            counter.record_attempt();
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        let outcome = match (context.output_or_error(), context.response()) {
            (Some(Ok(_)), _) => "ok".to_string(),
            (_, Some(response)) => format!("error:{}", response.status().as_u16()),
            _ => "error:no-response".to_string(),
        };
        let key = CallKey {
            service,
            operation,
            outcome,
        };
        for counter in &self.counters {
            counter.record(key.clone());
        }
        Ok(())
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
