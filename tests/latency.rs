//! Creating a stack when AWS takes time: moto in latency mode keeps the
//! database, its replicas, the cache, the NAT gateways and the load
//! balancer in their building states for a few seconds (minutes in AWS),
//! and the passes are paced as the CLI and the operator pace them, scaled
//! down. What must hold: while AWS works, a look observes only what is
//! still moving, and the waits between looks grow.

mod support;

use std::time::{Duration, Instant};

use stackops::api::status::ResourceState;
use stackops::engine::{Pacer, PassOutcome};
use support::moto::MotoServer;
use support::stack::{TestStack, calls_of, disposable};

/// Seconds each service keeps a new resource building.
const LATENCY: &str = "rds=8,cache=3,nat=2,elb=2,cdn=2";
/// Waits at a tenth of the real pace: the database looked at after 3 s,
/// not 30 s.
const PACE_SCALE: f64 = 0.1;

struct Run {
    passes: Vec<PassOutcome>,
    waits: Vec<Duration>,
}

/// Passes as `stackops apply` makes them: the first full, each later one
/// following the one before, paced.
async fn create(stack: &TestStack) -> Run {
    let engine = stack.engine();
    let graph = &stack.blueprint.graph;
    let mut pacer = Pacer::new(PACE_SCALE);
    let mut run = Run {
        passes: Vec::new(),
        waits: Vec::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let pass = match run.passes.last() {
            Some(last) => engine.apply_following(&stack.cx, graph, last).await,
            None => engine.apply(&stack.cx, graph).await,
        };
        assert!(pass.terminal.is_none(), "{:?}", pass.terminal);
        let done = pass.converged;
        let wait = pacer.next(&pass);
        run.passes.push(pass);
        if done {
            return run;
        }
        assert!(Instant::now() < deadline, "no convergence in 180 s");
        run.waits.push(wait);
        tokio::time::sleep(wait).await;
    }
}

fn reads(pass: &PassOutcome) -> u64 {
    pass.calls.values().sum::<u64>() - pass.mutating_calls()
}

fn in_flight(pass: &PassOutcome, key: &str) -> bool {
    pass.node(key)
        .is_some_and(|n| n.state == ResourceState::Creating)
}

#[tokio::test]
async fn while_aws_builds_each_look_observes_only_what_is_still_moving() {
    let moto = MotoServer::start_with_latency(LATENCY);
    let stack = TestStack::new(&moto.endpoint, &disposable("booking.yaml"), "latency-1").await;
    let run = create(&stack).await;

    let full = reads(&run.passes[0]);
    for (i, p) in run.passes.iter().enumerate() {
        let moving: Vec<String> = p
            .nodes
            .iter()
            .filter(|n| n.state != ResourceState::Ready)
            .map(|n| format!("{}={:?}", n.key, n.state))
            .collect();
        eprintln!(
            "pass {i}: writes {} reads {} {moving:?}",
            p.writes,
            reads(p)
        );
    }
    // Looks after a look that wrote nothing while the primary was still
    // creating: everything else found settled is taken as read. (A look
    // after one that wrote observes what it wrote, once.)
    let waiting: Vec<&PassOutcome> = run
        .passes
        .windows(2)
        .filter(|w| w[0].writes == 0 && in_flight(&w[0], "data/database"))
        .map(|w| &w[1])
        .collect();
    assert!(
        !waiting.is_empty(),
        "latency mode kept the database creating across passes"
    );
    for pass in &waiting {
        assert!(
            reads(pass) * 4 <= full,
            "a look while waiting made {} reads; the full pass {full}",
            reads(pass)
        );
        assert!(
            !pass.calls.keys().any(|k| k.operation == "DescribeVpcs"),
            "the settled VPC was not observed again"
        );
        assert!(
            pass.calls
                .keys()
                .any(|k| k.operation == "DescribeDBInstances"),
            "the database AWS is building is looked at"
        );
    }
    // The waits follow the slowest things: the database's pace (30 s, here
    // 3 s) and growing while nothing changes.
    let longest = run.waits.iter().max().copied().unwrap_or_default();
    assert!(
        longest >= Duration::from_secs(3),
        "waits grew to the database's pace: {:?}",
        run.waits
    );
    // Every resource came up once: the follow-up passes created nothing twice.
    let last = run.passes.last().unwrap();
    assert!(last.converged);
    assert_eq!(calls_of(&stack.cx.clients.calls, "CreateDBInstance"), 1);
    assert_eq!(calls_of(&stack.cx.clients.calls, "CreateVpc"), 1);
    let total_reads: u64 = run.passes.iter().map(reads).sum();
    eprintln!(
        "{} passes, {} reads in all, first {full}, waits {:?}",
        run.passes.len(),
        total_reads,
        run.waits
    );
}

#[tokio::test]
async fn only_a_full_pass_looks_at_settled_kinds_again() {
    // Settled kinds are reused only between the looks of one wait; the
    // operator's resync (and every restart, or spec change) is a full pass
    // and sees what changed out of band.
    let moto = MotoServer::start_with_latency(LATENCY);
    let stack = TestStack::new(&moto.endpoint, &disposable("ecommerce.yaml"), "latency-2").await;
    let run = create(&stack).await;
    let last = run.passes.last().unwrap();
    assert!(last.settled.kinds().any(|k| k == "VPC"), "the VPC settled");
    let engine = stack.engine();
    let graph = &stack.blueprint.graph;
    let following = engine.apply_following(&stack.cx, graph, last).await;
    assert!(following.converged);
    assert!(
        !following
            .calls
            .keys()
            .any(|k| k.operation == "DescribeVpcs")
    );
    let full = engine.apply(&stack.cx, graph).await;
    assert!(full.converged);
    assert_eq!(full.writes, 0, "steady state writes nothing");
    assert!(
        full.calls.keys().any(|k| k.operation == "DescribeVpcs"),
        "a full pass observes every kind"
    );
}
