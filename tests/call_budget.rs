//! The call budget against an AWS that throttles by request rate (the
//! proxy's per-service buckets, as AWS's): without a budget a stack's
//! create meets throttling and retries; with a budget under AWS's rate it
//! meets none, and the waits are counted instead.

mod support;

use std::collections::BTreeMap;

use stackops::aws::call_budget::{BudgetOptions, CallBudget};
use stackops::aws::calls::CallCounter;
use stackops::aws::http::operator_https_client;
use support::moto::MotoServer;
use support::proxy::{FaultProxy, Faults};
use support::stack::{TestStack, disposable};

/// Requests a second each service of the proxied AWS admits.
const AWS_RATE: f64 = 8.0;

#[tokio::test]
async fn a_budget_under_the_rate_of_aws_meets_no_throttling() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    proxy.set_faults(Faults {
        service_rate: Some(AWS_RATE),
        ..Faults::default()
    });

    // No budget: the create's bursts (every kind observed at once, a tier's
    // resources created together) run into the buckets.
    let unbudgeted = TestStack::new(&proxy.endpoint, &disposable("ecommerce.yaml"), "free").await;
    assert!(unbudgeted.converge(&unbudgeted.cx, 12).await.converged);
    let throttled = proxy.stats().throttled;
    assert!(
        throttled > 0,
        "the proxy throttled nothing: the test shows nothing"
    );

    // A budget a little under AWS's rate: no throttled answer, no retry.
    proxy.set_faults(Faults {
        service_rate: Some(AWS_RATE),
        ..Faults::default()
    });
    proxy.reset_stats();
    let waits = CallCounter::default();
    let budget = CallBudget::new(
        BudgetOptions {
            default_per_second: AWS_RATE as u32 - 2,
            per_service: BTreeMap::new(),
        },
        waits.clone(),
    );
    let http = operator_https_client(None, Some(budget));
    let budgeted = TestStack::through(
        &proxy.endpoint,
        &disposable("ecommerce.yaml"),
        "budgeted",
        Some(http),
    )
    .await;
    let pass = budgeted.converge(&budgeted.cx, 12).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    assert_eq!(proxy.stats().throttled, 0);
    assert_eq!(budgeted.cx.clients.calls.retries(), 0);
    let delayed = waits.delayed();
    assert!(
        delayed.get("ec2").is_some_and(|d| d.calls > 0),
        "the budget held nothing back: {delayed:?}"
    );
    eprintln!("unbudgeted: {throttled} throttled answers; budgeted: none, waits {delayed:?}");
}
