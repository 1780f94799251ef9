//! Counts every AWS call by service, operation and outcome, through an SDK
//! interceptor on every client, into the engine's call counters.

use std::fmt;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

pub use crate::engine::calls::{CallCounter, CallKey, is_mutating};

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
