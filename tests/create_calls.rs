//! The honest baseline: each example converged against moto from nothing
//! makes exactly the mutating calls its blueprint declares (each node's
//! `Resource::create_calls`), by operation. A call no kind declares, a
//! duplicate create or a repeated follow-up fails here, and so does a
//! declaration the create no longer makes.

mod support;

use std::collections::BTreeMap;

use stackops::aws::calls::{CallCounter, is_mutating};
use support::moto::MotoServer;
use support::stack::{TestStack, disposable};

/// Mutating calls `counter` saw, by operation (every outcome: a failed
/// call was made all the same).
fn mutating_by_operation(counter: &CallCounter) -> BTreeMap<String, u64> {
    let mut made = BTreeMap::new();
    for (key, n) in counter.snapshot() {
        if is_mutating(&key.operation) {
            *made.entry(key.operation).or_default() += n;
        }
    }
    made
}

/// Converges example `name` from nothing and compares its calls with the
/// graph's declaration.
async fn made_as_declared(name: &str) {
    let moto = MotoServer::start();
    let stack = TestStack::new(&moto.endpoint, &disposable(name), &format!("calls-{name}")).await;
    let pass = stack.converge(&stack.cx, 12).await;
    assert!(pass.converged, "{name}: {:?}", pass.terminal);

    let declared: BTreeMap<String, u64> = stack
        .blueprint
        .graph
        .create_calls()
        .into_iter()
        .map(|(op, n)| (op.to_string(), n))
        .collect();
    let made = mutating_by_operation(&stack.cx.clients.calls);
    let beyond: Vec<String> = made
        .iter()
        .filter(|(op, n)| **n > declared.get(*op).copied().unwrap_or(0))
        .map(|(op, n)| {
            format!(
                "{op}: made {n}, declared {}",
                declared.get(op).unwrap_or(&0)
            )
        })
        .collect();
    assert!(
        beyond.is_empty(),
        "{name}: calls beyond what the blueprint declares (declare them in the kind's \
         `create_calls`, or stop making them):\n{}",
        beyond.join("\n")
    );
    // moto answers at once and leaves every setting unset, so each
    // declared call is made, once.
    assert_eq!(made, declared, "{name}: declared calls not made");
    eprintln!(
        "{name}: {} mutating calls over {} nodes, as declared",
        made.values().sum::<u64>(),
        stack.blueprint.graph.nodes().len()
    );
}

#[tokio::test]
async fn ecommerce_create_makes_exactly_the_declared_calls() {
    made_as_declared("ecommerce.yaml").await;
}

#[tokio::test]
async fn booking_create_makes_exactly_the_declared_calls() {
    made_as_declared("booking.yaml").await;
}
