//! A client-side budget of AWS calls: at most so many calls a second per
//! (credentials, region, service), whatever the number of stacks, so the
//! operator stays under AWS's request-rate buckets and leaves room for the
//! account's other tools. A call over budget waits for its token (no error,
//! no retry); the waits show in metrics (`aws_calls_delayed`,
//! `aws_call_budget_wait_seconds`).
//!
//! The buckets themselves are `governor`'s (GCRA); this module only picks
//! one per scope and counts the waits.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::shared_reads::Scope;
use crate::engine::calls::CallCounter;

/// Calls a second per service (the SigV4 name: `ec2`, `rds`,
/// `elasticloadbalancing`, ...), and for every other service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetOptions {
    pub default_per_second: u32,
    pub per_service: BTreeMap<String, u32>,
}

impl Default for BudgetOptions {
    /// Well under AWS's published refill rates (EC2's describe bucket
    /// refills 20 a second, most Query APIs 10 or more), leaving room
    /// for other tools in the account.
    fn default() -> Self {
        Self {
            default_per_second: 10,
            per_service: BTreeMap::from([("ec2".to_string(), 20)]),
        }
    }
}

impl BudgetOptions {
    /// Parses `service=N,service=N`, over the defaults.
    pub fn with_overrides(mut self, spec: &str) -> Result<Self, String> {
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (service, rate) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected service=calls-per-second"))?;
            let rate: u32 = rate
                .trim()
                .parse()
                .ok()
                .filter(|r| *r > 0)
                .ok_or_else(|| format!("`{part}`: the rate must be a whole number above 0"))?;
            self.per_service.insert(service.trim().to_string(), rate);
        }
        Ok(self)
    }

    fn rate(&self, service: &str) -> NonZeroU32 {
        let rate = self
            .per_service
            .get(service)
            .copied()
            .unwrap_or(self.default_per_second);
        NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN)
    }
}

/// The buckets of a process, one per scope, and where waits are counted.
pub struct CallBudget {
    options: BudgetOptions,
    buckets: Mutex<HashMap<Scope, Arc<DefaultDirectRateLimiter>>>,
    counter: CallCounter,
}

impl fmt::Debug for CallBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallBudget")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl CallBudget {
    /// A budget whose waits are counted in `counter`.
    pub fn new(options: BudgetOptions, counter: CallCounter) -> Arc<Self> {
        Arc::new(Self {
            options,
            buckets: Mutex::new(HashMap::new()),
            counter,
        })
    }

    /// `inner`, each call waiting for its token first.
    pub fn connector(self: &Arc<Self>, inner: SharedHttpConnector) -> SharedHttpConnector {
        SharedHttpConnector::new(BudgetedConnector {
            budget: self.clone(),
            inner,
        })
    }

    fn bucket(&self, scope: &Scope) -> Arc<DefaultDirectRateLimiter> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets
            .entry(scope.clone())
            .or_insert_with(|| {
                // A second's worth of burst: a pass's concurrent reads go
                // out together, a storm does not.
                let rate = self.options.rate(&scope.service);
                Arc::new(RateLimiter::direct(Quota::per_second(rate)))
            })
            .clone()
    }

    /// Waits until a call in `scope` is within budget.
    async fn admit(&self, scope: &Scope) {
        let bucket = self.bucket(scope);
        if bucket.check().is_ok() {
            return;
        }
        let started = Instant::now();
        bucket.until_ready().await;
        self.counter
            .record_delayed(&scope.service, started.elapsed());
    }
}

#[derive(Debug)]
struct BudgetedConnector {
    budget: Arc<CallBudget>,
    inner: SharedHttpConnector,
}

impl HttpConnector for BudgetedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let Some(scope) = Scope::of(&request) else {
            return self.inner.call(request);
        };
        let budget = self.budget.clone();
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            budget.admit(&scope).await;
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_set_per_service_over_the_defaults() {
        let options = BudgetOptions::default()
            .with_overrides("rds=5, elasticloadbalancing=8")
            .unwrap();
        assert_eq!(options.rate("rds").get(), 5);
        assert_eq!(options.rate("elasticloadbalancing").get(), 8);
        assert_eq!(options.rate("ec2").get(), 20);
        assert_eq!(options.rate("kms").get(), 10);
        assert!(BudgetOptions::default().with_overrides("rds").is_err());
        assert!(BudgetOptions::default().with_overrides("rds=0").is_err());
    }

    #[tokio::test]
    async fn calls_over_budget_wait_and_are_counted() {
        let counter = CallCounter::default();
        let budget = CallBudget::new(
            BudgetOptions {
                default_per_second: 20,
                per_service: BTreeMap::new(),
            },
            counter.clone(),
        );
        let scope = Scope {
            access_key: "AKID".into(),
            region: "eu-west-1".into(),
            service: "rds".into(),
        };
        let started = Instant::now();
        for _ in 0..30 {
            budget.admit(&scope).await;
        }
        // 20 a second with a burst of 20: the last 10 wait about half a second.
        assert!(started.elapsed() >= std::time::Duration::from_millis(400));
        let delayed = counter.delayed();
        assert_eq!(delayed.get("rds").map(|d| d.calls), Some(10));
        // Another scope has its own bucket.
        let other = Scope {
            service: "ec2".into(),
            ..scope
        };
        budget.admit(&other).await;
        assert_eq!(counter.delayed().get("ec2"), None);
    }
}
