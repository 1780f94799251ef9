//! Benchmarks of both example stacks against moto (and kubesim for the
//! operator): create, steady-state resync and teardown with their AWS
//! calls; create under injected throttling; many stacks on one operator
//! (time, peak RSS, CPU, calls per stack); the operator killed at random
//! points of create and teardown (chaos). Prints a Markdown report and
//! writes it, with the raw figures as JSON, to `docs/benchmarks.md` and
//! `docs/benchmarks.json`.
//!
//! Run: `scripts/bench.sh` (or `cargo bench --bench stacks --profile dev --
//! [--scale 1,10,100]`). Figures are wall-clock on whatever machine runs
//! it: they are printed, never asserted.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use stackops::api::{EcommerceStack, StackManifest};
use stackops::aws::calls::{CallCounter, is_mutating};
use stackops::engine::{Pacer, PassOutcome};
use support::cluster::{Cluster, Operator};
use support::moto::{MotoServer, free_port};
use support::proxy::{FaultProxy, Faults};
use support::stack::{TestStack, disposable};

fn counts(calls: &CallCounter) -> (u64, u64, BTreeMap<String, u64>) {
    let mut by_operation = BTreeMap::new();
    for (key, n) in calls.snapshot() {
        *by_operation.entry(key.operation.clone()).or_insert(0) += n;
    }
    let mutating = calls.mutating();
    (calls.total(), mutating, by_operation)
}

async fn converge(stack: &TestStack) -> (PassOutcome, usize, Duration) {
    let started = Instant::now();
    let engine = stack.engine();
    let graph = &stack.blueprint.graph;
    let mut last: Option<PassOutcome> = None;
    for pass in 1..=12 {
        // As `stackops apply` and the operator: each pass after the first
        // follows the one before.
        let outcome = match &last {
            Some(last) => engine.apply_following(&stack.cx, graph, last).await,
            None => engine.apply(&stack.cx, graph).await,
        };
        if outcome.converged || outcome.terminal.is_some() {
            return (outcome, pass, started.elapsed());
        }
        last = Some(outcome);
    }
    panic!("no convergence in 12 passes");
}

/// Create, resync and teardown of one example.
async fn lifecycle(name: &str) -> Value {
    let moto = MotoServer::start();
    let manifest = disposable(name);
    let stack = TestStack::new(&moto.endpoint, &manifest, &format!("bench-{name}")).await;
    let (created, passes, took) = converge(&stack).await;
    let resources = created.nodes.len() as u64;
    let (total, mutating, by_operation) = counts(&stack.cx.clients.calls);
    // The minimum comes from the blueprint, not from the calls made: each
    // node's declared create calls (`Resource::create_calls`), so a
    // duplicate create or a repeated follow-up shows as calls beyond it.
    let declared = stack.blueprint.graph.create_calls();
    let minimal: u64 = declared.values().sum();
    let extra: BTreeMap<&String, u64> = by_operation
        .iter()
        .filter(|(op, _)| is_mutating(op))
        .filter_map(|(op, n)| {
            let beyond = n.saturating_sub(declared.get(op.as_str()).copied().unwrap_or(0));
            (beyond > 0).then_some((op, beyond))
        })
        .collect();

    let cx = stack.reconnect(&moto.endpoint).await;
    let started = Instant::now();
    let steady = stack.engine().apply(&cx, &stack.blueprint.graph).await;
    let steady_took = started.elapsed();
    let (steady_total, steady_mutating, steady_ops) = counts(&cx.clients.calls);
    let most_per_operation = steady_ops.values().copied().max().unwrap_or(0);

    let cx = stack.reconnect(&moto.endpoint).await;
    let started = Instant::now();
    let mut teardown_passes = 0;
    loop {
        teardown_passes += 1;
        let pass = stack.destroy(&cx, 1).await;
        if pass.converged || teardown_passes >= 30 {
            break;
        }
    }
    let teardown_took = started.elapsed();
    let (teardown_total, teardown_mutating, _) = counts(&cx.clients.calls);
    json!({
        "stack": name,
        "resources": resources,
        "create": {
            "seconds": took.as_secs_f64(), "passes": passes, "calls": total,
            "mutating": mutating, "reads": total - mutating,
            "minimal_mutating": minimal,
            "ratio": mutating as f64 / minimal.max(1) as f64,
            "beyond_minimal": extra,
        },
        "steady": {
            "seconds": steady_took.as_secs_f64(), "calls": steady_total,
            "mutating": steady_mutating, "writes": steady.writes,
            "most_calls_of_one_operation": most_per_operation,
        },
        "teardown": {
            "seconds": teardown_took.as_secs_f64(), "passes": teardown_passes,
            "calls": teardown_total, "mutating": teardown_mutating,
        },
    })
}

/// Seconds each service keeps a new resource building in latency mode:
/// real times scaled down (a Multi-AZ database takes 10 to 40 minutes).
const LATENCY: &str = "rds=120,cache=60,nat=30,elb=60,cdn=60";

/// Creates `name` as `stackops apply` does (the first pass full, each
/// later one following the one before, paced), against `moto`.
async fn paced_create(moto: &MotoServer, name: &str, uid: &str) -> Value {
    let stack = TestStack::new(&moto.endpoint, &disposable(name), uid).await;
    let engine = stack.engine();
    let graph = &stack.blueprint.graph;
    let mut pacer = Pacer::new(1.0);
    let started = Instant::now();
    let mut last: Option<PassOutcome> = None;
    let mut passes = 0;
    let mut waited = Duration::ZERO;
    loop {
        let pass = match &last {
            Some(last) => engine.apply_following(&stack.cx, graph, last).await,
            None => engine.apply(&stack.cx, graph).await,
        };
        passes += 1;
        if pass.converged || pass.terminal.is_some() || passes >= 400 {
            break;
        }
        let wait = pacer.next(&pass);
        waited += wait;
        tokio::time::sleep(wait).await;
        last = Some(pass);
    }
    let (total, mutating, _) = counts(&stack.cx.clients.calls);
    json!({
        "seconds": started.elapsed().as_secs_f64(), "passes": passes,
        "calls": total, "mutating": mutating, "reads": total - mutating,
    })
}

/// Calls to create `name` when AWS is instant and when it takes time.
async fn pacing(name: &str) -> Value {
    let instant = MotoServer::start();
    let slow = MotoServer::start_with_latency(LATENCY);
    let (fast_uid, slow_uid) = (format!("pace-{name}"), format!("pace-slow-{name}"));
    let (fast_run, slow_run) = tokio::join!(
        paced_create(&instant, name, &fast_uid),
        paced_create(&slow, name, &slow_uid),
    );
    let ratio = slow_run["calls"].as_f64().unwrap() / fast_run["calls"].as_f64().unwrap();
    json!({"stack": name, "latency": LATENCY, "instant": fast_run, "slow": slow_run, "ratio": ratio})
}

/// Create of the ecommerce example with `rate` of requests throttled.
async fn throttled(rate: f64) -> Value {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    proxy.set_faults(Faults {
        throttle_rate: rate,
        seed: 7,
        ..Faults::default()
    });
    let manifest = disposable("ecommerce.yaml");
    let stack = TestStack::new(&proxy.endpoint, &manifest, "bench-throttle").await;
    let started = Instant::now();
    let engine = stack.engine();
    let mut passes = 0;
    let converged = loop {
        passes += 1;
        let pass = engine.apply(&stack.cx, &stack.blueprint.graph).await;
        if pass.converged {
            break true;
        }
        if passes >= 40 {
            break false;
        }
    };
    let took = started.elapsed();
    let direct = stack.reconnect(&moto.endpoint).await;
    let found = stack.count_by_kind(&direct).await;
    let nodes = stack.blueprint.graph.nodes().len();
    let stats = proxy.stats();
    json!({
        "throttle_rate": rate, "converged": converged, "seconds": took.as_secs_f64(),
        "passes": passes, "retries": stack.cx.clients.calls.retries(),
        "throttled": stats.throttled,
        "resources_found": found.values().sum::<usize>(), "resources_wanted": nodes,
    })
}

/// Memory of a process, in KiB, from `/proc/<pid>/status`.
struct Memory {
    /// Peak resident memory (VmHWM).
    peak_kib: u64,
    /// Resident anonymous pages now (heap, stacks): they grow with the stacks.
    anon_kib: u64,
    /// Resident file-backed pages now (mostly the binary's code): they do not.
    file_kib: u64,
}

/// Memory and CPU seconds of process `pid`.
fn footprint(pid: u32) -> (Memory, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let memory = Memory {
        peak_kib: kib("VmHWM:"),
        anon_kib: kib("RssAnon:"),
        file_kib: kib("RssFile:"),
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    (memory, ticks / 100.0)
}

/// The body of GET `path` on 127.0.0.1:`port`.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    );
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

/// The sum of a metric's series in a complete OpenMetrics exposition.
fn metric_sum(body: &str, name: &str) -> u64 {
    assert!(body.ends_with("# EOF\n"), "incomplete /metrics: {body:?}");
    body.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
        .map(|l| {
            l.rsplit_once(' ')
                .and_then(|(_, v)| v.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("{name}: {l}"))
        })
        .sum()
}

/// AWS calls so far by operation, from a complete OpenMetrics exposition.
fn calls_by_operation(body: &str) -> BTreeMap<String, u64> {
    let mut calls = BTreeMap::new();
    for line in body
        .lines()
        .filter(|l| l.starts_with("stackops_aws_calls_total{"))
    {
        let operation = line
            .split("operation=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next());
        let value = line
            .rsplit_once(' ')
            .and_then(|(_, v)| v.parse::<u64>().ok());
        if let (Some(operation), Some(value)) = (operation, value) {
            *calls.entry(operation.to_string()).or_default() += value;
        }
    }
    calls
}

/// The operations that made the most calls between two expositions, with
/// their calls per pass: what the steady state still asks AWS.
fn top_operations(before: &str, after: &str, passes: u64) -> Value {
    let before = calls_by_operation(before);
    let mut deltas: Vec<(String, u64)> = calls_by_operation(after)
        .into_iter()
        .map(|(op, n)| {
            let delta = n - before.get(&op).copied().unwrap_or(0);
            (op, delta)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    deltas.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    deltas
        .into_iter()
        .take(12)
        .map(|(op, n)| json!({"operation": op, "calls": n, "per_pass": n as f64 / passes.max(1) as f64}))
        .collect()
}

/// Polls until `count` stacks are Ready or `deadline` passes; how many are.
async fn wait_ready(api: &Api<EcommerceStack>, count: usize, deadline: Instant) -> usize {
    // Listing a thousand stacks costs the API server (the benchmark's own
    // process) more than the operator's writes: ask less often for many.
    let every = Duration::from_millis(if count > 100 { 5000 } else { 500 });
    loop {
        let stacks = api.list(&Default::default()).await.unwrap();
        // A stack the operator refuses never gets Ready: say which, now,
        // rather than after the deadline.
        for stack in &stacks.items {
            let refused = stack.status.as_ref().and_then(|st| {
                st.conditions.iter().find(|c| {
                    c.type_ == "Ready"
                        && matches!(c.reason.as_str(), "PreflightFailed" | "InvalidSpec")
                })
            });
            if let Some(condition) = refused {
                panic!(
                    "{} refused ({}): {}",
                    stack.metadata.name.as_deref().unwrap_or_default(),
                    condition.reason,
                    condition.message
                );
            }
        }
        let ready = stacks
            .items
            .iter()
            .filter(|s| {
                s.status.as_ref().is_some_and(|st| {
                    st.conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                })
            })
            .count();
        if ready == count || Instant::now() > deadline {
            return ready;
        }
        tokio::time::sleep(every).await;
    }
}

/// `count` ecommerce stacks on one operator until all are Ready.
/// Stacks per moto server in the scale run: moto is one Python process
/// whose calls slow down as its state grows, so many stacks get several
/// servers, one per group of regions, behind a proxy that routes each call
/// by the region it is signed for. The operator still sees one endpoint.
const STACKS_PER_MOTO: usize = 10;

/// Regions the scale run spreads stacks over, `STACKS_PER_MOTO` per region
/// up to 100 stacks; past that, the stacks are spread evenly over all of
/// them (40 per region at 1,000).
const SCALE_REGIONS: &[&str] = &[
    "eu-west-1",
    "eu-west-2",
    "eu-central-1",
    "us-east-2",
    "us-west-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ca-central-1",
    // The first ten take the full example, whose Spot pool includes
    // t3a.small and t2.small: the emulator sells neither in eu-north-1.
    "eu-west-3",
    "eu-north-1",
    "eu-south-1",
    "eu-central-2",
    "us-west-1",
    "ap-south-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-3",
    "sa-east-1",
    "ca-west-1",
    "af-south-1",
    // Not me-central-1: the emulator sells no t3.small there, so preflight
    // (rightly) refuses every stack placed in it.
    "me-south-1",
    "il-central-1",
    "ap-south-2",
    "eu-south-2",
];

/// What the scale run builds past 100 stacks, named in its report: the
/// ecommerce example without its NAT gateway and monitoring tier, one
/// On-Demand server (at most two) and a single-AZ database: 36 resources
/// rather than 48, so 1,000 stacks fit the emulators of one machine.
const LIGHT_SPEC: &str = "ecommerce.yaml, light: no NAT gateway, no monitoring tier, 1 On-Demand server (max 2), single-AZ database";

fn lighten(stack: &mut EcommerceStack) {
    let spec = &mut stack.spec;
    spec.network.nat_mode = Some(stackops::api::common::NatMode::None);
    spec.monitoring = None;
    spec.app.min_size = 1;
    spec.app.max_size = 2;
    spec.app.purchase = None;
    spec.database.multi_az = false;
}

/// Moto servers (one per region) for `count` stacks.
fn scale_servers(count: usize) -> usize {
    if count <= 100 {
        count.div_ceil(STACKS_PER_MOTO).max(1)
    } else {
        SCALE_REGIONS.len()
    }
}

/// Resync interval of the scale run, and how many resyncs apart each
/// resource's settings are read (the operator's default): steady state is
/// measured over one such cycle. Past 100 stacks the resync is longer, so
/// the lists every replica reads per region and window do not crowd out
/// the emulators' work of creating stacks (the operator's own default is
/// 600 s; 60 s keeps the settings cycle at 12 minutes).
fn scale_resync_seconds(count: usize) -> u64 {
    if count <= 100 { 30 } else { 60 }
}

/// Resyncs between reads of each resource's settings: the operator's
/// default (12) up to 100 stacks; past them 4, so the steady cycle is 4
/// minutes, not 12 (more settings reads per resync: a dearer figure).
fn scale_settings_every(count: usize) -> u32 {
    if count <= 100 { 12 } else { 4 }
}

/// Stacks each replica reconciles at once (`--concurrency`): the default
/// (4) up to 100 stacks; past them 8. Sixteen created no faster than four
/// against the emulators (270 and 276 Ready after 12 minutes) and held
/// more answers in flight at once.
fn scale_concurrency(count: usize) -> u16 {
    if count <= 100 { 4 } else { 8 }
}
/// Lease of each replica when several share the stacks (the chart's).
const SCALE_LEASE_SECONDS: u64 = 15;

async fn scale(count: usize, replicas: usize) -> Value {
    let shards = scale_servers(count);
    let servers: Vec<MotoServer> = (0..shards).map(|_| MotoServer::start()).collect();
    let routes: Vec<(String, String)> = SCALE_REGIONS[..shards]
        .iter()
        .zip(&servers)
        .map(|(region, server)| (region.to_string(), server.endpoint.clone()))
        .collect();
    // Global services (IAM, CloudFront) sign for us-east-1: the first server.
    let proxy = FaultProxy::start_routed(&servers[0].endpoint, &routes);
    let aws_env: Vec<(&'static str, String)> = servers[0]
        .env()
        .into_iter()
        .map(|(k, v)| match k {
            "AWS_ENDPOINT_URL" => (k, proxy.endpoint.clone()),
            _ => (k, v),
        })
        .collect();
    let cluster = Cluster::start().await;
    let (client, kubeconfig) = (cluster.client.clone(), cluster.kubeconfig.clone());
    let resync_seconds = scale_resync_seconds(count);
    let lease_arg = SCALE_LEASE_SECONDS.to_string();
    let resync = Duration::from_secs(resync_seconds);
    let settings_every = scale_settings_every(count);
    let concurrency = scale_concurrency(count);
    let (resync_arg, every_arg) = (resync_seconds.to_string(), settings_every.to_string());
    let concurrency_arg = concurrency.to_string();
    // One replica alone, or several sharing the stacks (the chart's way).
    let metrics_ports: Vec<u16> = (0..replicas).map(|_| free_port()).collect();
    let mut operators: Vec<Option<Operator>> = metrics_ports
        .iter()
        .enumerate()
        .map(|(i, port)| {
            let mut env = aws_env.clone();
            env.push(("POD_NAME", format!("bench-{i}")));
            let addr = format!("127.0.0.1:{port}");
            let mut args = vec![
                "--metrics-addr",
                addr.as_str(),
                "--resync-seconds",
                resync_arg.as_str(),
                "--settings-read-every",
                every_arg.as_str(),
                "--concurrency",
                concurrency_arg.as_str(),
            ];
            if replicas > 1 {
                args.extend(["--shard", "--lease-seconds", &lease_arg]);
            }
            // STACKOPS_BENCH_LOG_DIR keeps each replica's log (with
            // RUST_LOG, e.g. why passes read afresh).
            let log = std::env::var_os("STACKOPS_BENCH_LOG_DIR")
                .map(|dir| Path::new(&dir).join(format!("bench-{i}.log")));
            Some(Operator::start(&kubeconfig, env, log.as_deref(), &args))
        })
        .collect();
    let api: Api<EcommerceStack> = Api::namespaced(client.clone(), "default");
    let StackManifest::Ecommerce(template) = disposable("ecommerce.yaml") else {
        unreachable!()
    };
    let started = Instant::now();
    for i in 0..count {
        let mut stack = (*template).clone();
        stack.metadata.name = Some(format!("shop-{i}"));
        let region = if count <= 100 {
            (i / STACKS_PER_MOTO) % shards
        } else {
            i % shards
        };
        stack.spec.settings.region = SCALE_REGIONS[region].to_string();
        if count > 100 {
            lighten(&mut stack);
        }
        api.create(&PostParams::default(), &stack).await.unwrap();
    }
    let ready = wait_ready(&api, count, started + Duration::from_secs(60 * 60)).await;
    let took = started.elapsed();
    // CPU to all Ready (memory is taken again after the steady state).
    let cpu_to_ready: f64 = operators
        .iter()
        .flatten()
        .map(|o| footprint(o.id()).1)
        .sum();
    let (mut calls, mut retries) = (0, 0);
    for port in &metrics_ports {
        let body = http_get(*port, "/metrics");
        calls += metric_sum(&body, "stackops_aws_calls_total");
        retries += metric_sum(&body, "stackops_aws_call_retries_total");
    }
    // Steady state over one settings cycle, once every stack is past its
    // first passes: AWS calls per pass, and writes to AWS and to the API
    // server about the stacks (leases left out).
    tokio::time::sleep(resync * 2).await;
    let counts = || {
        metrics_ports
            .iter()
            .map(|port| steady_counts(&http_get(*port, "/metrics")))
            .fold([0u64; 4], |sum, c| std::array::from_fn(|i| sum[i] + c[i]))
    };
    let before = counts();
    cluster.sim.reset_counters();
    tokio::time::sleep(resync * settings_every).await;
    let after = counts();
    let [steady_calls, steady_mutating, steady_shared, steady_passes] =
        std::array::from_fn(|i| after[i] - before[i]);
    let steady_kube_writes = cluster
        .sim
        .requests()
        .iter()
        .filter(|r| r.is_write() && r.resource != "leases")
        .count();
    let footprints: Vec<Memory> = operators
        .iter()
        .flatten()
        .map(|o| footprint(o.id()).0)
        .collect();
    // Sharded: the first replica killed without a word; how long until
    // every stack it had is assigned to another, and how long after its
    // Lease lapsed (the earliest the leader may move them).
    let (move_seconds, move_after_lapse) = if replicas > 1 {
        let leases: Api<Lease> = Api::namespaced(client.clone(), "default");
        let member_lease = stackops::controller::shards::ShardConfig {
            namespace: "default".into(),
            identity: "bench-0".into(),
            duration: Duration::from_secs(SCALE_LEASE_SECONDS),
        }
        .member_lease()
        .name;
        drop(operators[0].take());
        let killed = Instant::now();
        let killed_at = jiff::Timestamp::now();
        let took = loop {
            let stacks = api.list(&Default::default()).await.unwrap().items;
            let moved = stacks.iter().all(|s| {
                s.labels()
                    .get(stackops::controller::shards::SHARD_LABEL)
                    .is_some_and(|owner| owner != "bench-0")
            });
            if moved || killed.elapsed() > Duration::from_secs(300) {
                break killed.elapsed().as_secs_f64();
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let lapsed = leases
            .get(&member_lease)
            .await
            .ok()
            .and_then(|lease| lease.spec?.renew_time)
            .map(|renewed| {
                let lapse = renewed.0 + jiff::SignedDuration::from_secs(SCALE_LEASE_SECONDS as i64);
                lapse.duration_since(killed_at).as_secs_f64()
            });
        (Some(took), lapsed.map(|lapsed| took - lapsed))
    } else {
        (None, None)
    };
    drop(operators);
    cluster.shutdown().await;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let peak = footprints
        .iter()
        .map(|m| mib(m.peak_kib))
        .fold(0.0, f64::max);
    let first = &footprints[0];
    json!({
        "stacks": count, "replicas": replicas, "moto_servers": shards, "ready": ready,
        "spec": if count > 100 { LIGHT_SPEC } else { "ecommerce.yaml" },
        "seconds_to_all_ready": took.as_secs_f64(),
        "peak_rss_mib": peak,
        "peak_rss_mib_per_replica": footprints.iter().map(|m| mib(m.peak_kib)).collect::<Vec<_>>(),
        "cpu_seconds": cpu_to_ready,
        "rss_heap_mib": mib(first.anon_kib), "rss_code_mib": mib(first.file_kib),
        "aws_calls": calls, "retries": retries, "calls_per_stack": calls as f64 / count as f64,
        "seconds_to_move_after_a_kill": move_seconds,
        "seconds_to_move_after_the_lease_lapsed": move_after_lapse,
        "lease_seconds": (replicas > 1).then_some(SCALE_LEASE_SECONDS),
        "resync_seconds": resync_seconds, "settings_read_every": settings_every,
        "concurrency": concurrency,
        "steady_passes": steady_passes, "steady_calls": steady_calls,
        "steady_mutating_calls": steady_mutating, "steady_reads_answered_shared": steady_shared,
        "steady_calls_per_stack_per_resync": steady_calls as f64 / steady_passes.max(1) as f64,
        "steady_kube_writes": steady_kube_writes,
        "operator_binary": Operator::binary(),
    })
}

/// AWS calls (all, and mutating), shared reads and reconciles so far, from
/// a complete OpenMetrics exposition.
fn steady_counts(body: &str) -> [u64; 4] {
    let mutating = calls_by_operation(body)
        .into_iter()
        .filter(|(operation, _)| is_mutating(operation))
        .map(|(_, calls)| calls)
        .sum();
    [
        metric_sum(body, "stackops_aws_calls_total"),
        mutating,
        metric_sum(body, "stackops_aws_reads_shared_total"),
        metric_sum(body, "stackops_reconciles_total"),
    ]
}

/// Steady-state reads of `count` ecommerce stacks in one account and
/// region on one operator resyncing every `resync` seconds: AWS calls per
/// stack per resync (per reconcile, each one a full pass), measured over a
/// whole settings cycle (`settings_every` resyncs), with reads shared and
/// then, on the same stacks, without.
async fn resync_reads(count: usize, resync: u64, settings_every: u32) -> Value {
    let moto = MotoServer::start();
    let cluster = Cluster::start().await;
    let (client, kubeconfig) = (cluster.client.clone(), cluster.kubeconfig.clone());
    let api: Api<EcommerceStack> = Api::namespaced(client.clone(), "default");
    let StackManifest::Ecommerce(template) = disposable("ecommerce.yaml") else {
        unreachable!()
    };
    let resync_arg = resync.to_string();
    let every_arg = settings_every.to_string();
    let metrics_port = free_port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    // A generous budget: the figure is about reads, not about how fast
    // one emulator process can take a thousand creates.
    let common = [
        "--metrics-addr",
        metrics_addr.as_str(),
        "--resync-seconds",
        resync_arg.as_str(),
        "--settings-read-every",
        every_arg.as_str(),
        "--aws-calls-per-second",
        "1000",
    ];
    let mut runs = Vec::new();
    for sharing in [true, false] {
        let mut args = common.to_vec();
        args.extend([
            "--shared-read-seconds",
            if sharing { resync_arg.as_str() } else { "0" },
        ]);
        // The operator's log, one file per run, when asked for.
        let log = std::env::var("STACKOPS_BENCH_OPERATOR_LOG")
            .ok()
            .map(|path| {
                std::path::PathBuf::from(format!(
                    "{path}.{}",
                    if sharing { "shared" } else { "own" }
                ))
            });
        let operator = Operator::start(&kubeconfig, moto.env(), log.as_deref(), &args);
        let started = Instant::now();
        if sharing {
            for i in 0..count {
                let mut stack = (*template).clone();
                stack.metadata.name = Some(format!("shop-{i}"));
                api.create(&PostParams::default(), &stack).await.unwrap();
            }
        }
        wait_ready(&api, count, started + Duration::from_secs(60 * 30)).await;
        let to_ready = started.elapsed();
        // Past the first passes of a starting operator: every stack on its
        // resync cadence.
        tokio::time::sleep(Duration::from_secs(resync * 2)).await;
        let before_body = http_get(metrics_port, "/metrics");
        let before = steady_counts(&before_body);
        let (_, cpu_before) = footprint(operator.id());
        let window = Duration::from_secs(resync * u64::from(settings_every));
        tokio::time::sleep(window).await;
        let after_body = http_get(metrics_port, "/metrics");
        let after = steady_counts(&after_body);
        let (memory, cpu_after) = footprint(operator.id());
        drop(operator);
        let [calls, mutating, shared, passes] = [0, 1, 2, 3].map(|i| after[i] - before[i]);
        runs.push(json!({
            "shared_reads": sharing, "seconds_to_all_ready": to_ready.as_secs_f64(),
            "window_seconds": window.as_secs(), "passes": passes,
            "calls": calls, "mutating_calls": mutating, "reads_answered_shared": shared,
            "calls_per_stack_per_resync": calls as f64 / passes.max(1) as f64,
            "top_operations": top_operations(&before_body, &after_body, passes),
            "peak_rss_mib": memory.peak_kib as f64 / 1024.0,
            // What parsing costs: shared answers are parsed by every stack
            // unless they are shared parsed (`aws::shared_lists`).
            "operator_cpu_ms_per_pass": (cpu_after - cpu_before) * 1000.0 / passes.max(1) as f64,
        }));
    }
    cluster.shutdown().await;
    json!({
        "stacks": count, "resync_seconds": resync, "settings_read_every": settings_every,
        "runs": runs, "operator_binary": Operator::binary(),
    })
}

/// Seeded pseudo-random delays (ms) in `[low, high)`.
fn delays(seed: u64, count: usize, low: u64, high: u64) -> Vec<u64> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            low + (state >> 33) % (high - low)
        })
        .collect()
}

/// Starts `stackops run` against `kubeconfig` and `moto`.
fn operator(kubeconfig: &Path, moto: &MotoServer) -> Operator {
    let args = ["--resync-seconds", "5", "--metrics-addr", "127.0.0.1:0"];
    Operator::start(kubeconfig, moto.env(), None, &args)
}

/// Kills the operator at `rounds` random points of the create, then of the
/// teardown, of one example stack; checks it converges with no duplicates
/// and leaves nothing behind.
async fn chaos(name: &str, rounds: usize, seed: u64) -> Value {
    let moto = MotoServer::start();
    let cluster = Cluster::start().await;
    let (client, kubeconfig) = (cluster.client.clone(), cluster.kubeconfig.clone());
    let manifest = disposable(name);
    let (kind, plural) = match &manifest {
        StackManifest::Ecommerce(_) => ("EcommerceStack", "ecommercestacks"),
        StackManifest::Booking(_) => ("BookingPlatform", "bookingplatforms"),
    };
    let resource = kube::api::ApiResource {
        group: "stackops.io".into(),
        version: "v1alpha1".into(),
        api_version: "stackops.io/v1alpha1".into(),
        kind: kind.into(),
        plural: plural.into(),
    };
    let api: Api<kube::api::DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &resource);
    let value = match &manifest {
        StackManifest::Ecommerce(s) => serde_json::to_value(s),
        StackManifest::Booking(s) => serde_json::to_value(s),
    };
    let object: kube::api::DynamicObject = serde_json::from_value(value.unwrap()).unwrap();
    let created = api.create(&PostParams::default(), &object).await.unwrap();
    let stack_name = created.metadata.name.clone().unwrap();
    let uid = created.metadata.uid.clone().unwrap();

    let create_kills = delays(seed, rounds, 100, 2500);
    for millis in &create_kills {
        let child = operator(&kubeconfig, &moto);
        tokio::time::sleep(Duration::from_millis(*millis)).await;
        drop(child);
    }
    let child = operator(&kubeconfig, &moto);
    let deadline = Instant::now() + Duration::from_secs(180);
    let (ready, wanted) = loop {
        let stack = api.get(&stack_name).await.unwrap();
        let status = &stack.data["status"];
        let is_ready = status["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        });
        if is_ready || Instant::now() > deadline {
            break (is_ready, status["resources"].as_array().map_or(0, Vec::len));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let aws = TestStack::new(&moto.endpoint, &manifest, &uid).await;
    let found: usize = aws.count_by_kind(&aws.cx).await.values().sum();
    drop(child);

    api.delete(&stack_name, &Default::default()).await.unwrap();
    let teardown_kills = delays(seed ^ 0x9e37_79b9, rounds, 100, 2500);
    for millis in &teardown_kills {
        let child = operator(&kubeconfig, &moto);
        tokio::time::sleep(Duration::from_millis(*millis)).await;
        drop(child);
    }
    let child = operator(&kubeconfig, &moto);
    let deadline = Instant::now() + Duration::from_secs(180);
    let deleted = loop {
        if api.get_opt(&stack_name).await.unwrap().is_none() {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    drop(child);
    let left: usize = aws.count_by_kind(&aws.cx).await.values().sum();
    let tagged = aws.tagged_arns(&aws.cx).await.len();
    cluster.shutdown().await;
    json!({
        "stack": name, "rounds": rounds,
        "create_kills_ms": create_kills, "teardown_kills_ms": teardown_kills,
        "ready": ready, "resources_found": found, "resources_in_status": wanted,
        "deleted": deleted, "left_after_teardown": left, "tagged_after_teardown": tagged,
    })
}

/// What the create columns measure against.
const MINIMAL: &str = "**minimal** comes from the blueprint alone, not from the calls made: one create per node \
     plus the follow-up calls each kind declares its create makes (`Resource::create_calls`: \
     a VPC's two DNS attributes, a security group's rules, a route table's routes and \
     associations, a bucket's settings, one call per alarm, a role's policies and its \
     description written last), summed by operation. **beyond minimal** is, operation by \
     operation, what was made beyond the declaration, so a duplicate create or a repeated \
     follow-up shows there. `tests/create_calls.rs` checks that each example, converged from \
     nothing against moto, makes exactly the declared calls. Real AWS blocks public access \
     and encrypts new buckets by default, so there a bucket's create skips those two puts \
     (the encryption one only without a KMS key) and the ratio may fall below 1.\n\n";

fn markdown(report: &Value, command: &str) -> String {
    let mut md = format!(
        "# Benchmarks\n\nMeasured against moto (through `scripts/moto_server.py`) and kubesim on \
         this machine (2 cores); engine figures from a debug build, operator figures from `{}`. \
         Reproduce with:\n\n",
        report["operator_binary"]
            .as_str()
            .unwrap_or("the debug build")
    );
    md.push_str(&format!(
        "```sh\n{command}\n```\n\nRaw figures: `docs/benchmarks.json`.\n\n"
    ));
    md.push_str("## Create, steady-state resync, teardown (engine, one stack)\n\n");
    md.push_str(MINIMAL);
    md.push_str("| stack | resources | create s | create calls | mutating | minimal | ratio | beyond minimal | resync calls | resync writes | max calls of one operation | teardown s | teardown calls |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for s in report["lifecycle"].as_array().unwrap() {
        md.push_str(&format!(
            "| {} | {} | {:.1} | {} | {} | {} | {:.2} | {} | {} | {} | {} | {:.1} | {} |\n",
            s["stack"].as_str().unwrap(),
            s["resources"],
            s["create"]["seconds"].as_f64().unwrap(),
            s["create"]["calls"],
            s["create"]["mutating"],
            s["create"]["minimal_mutating"],
            s["create"]["ratio"].as_f64().unwrap(),
            s["create"]["beyond_minimal"],
            s["steady"]["calls"],
            s["steady"]["writes"],
            s["steady"]["most_calls_of_one_operation"],
            s["teardown"]["seconds"].as_f64().unwrap(),
            s["teardown"]["calls"],
        ));
    }
    md.push_str(&format!("\n## Create when AWS takes time (engine, paced as `stackops apply`)\n\nThe same create against instant moto and against moto in latency mode (`{LATENCY}`: seconds a new resource of each service stays building; replicas wait for their primary, so the database tier takes twice its figure). Passes wait at the pace of what AWS is building and observe only what is not settled, so the calls do not grow with how long AWS takes.\n\n| stack | instant: s, passes, calls (mutating) | latency mode: s, passes, calls (mutating) | ratio |\n|---|---|---|---|\n"));
    for p in report["pacing"].as_array().unwrap() {
        let run = |r: &Value| {
            format!(
                "{:.0} s, {} passes, {} ({})",
                r["seconds"].as_f64().unwrap(),
                r["passes"],
                r["calls"],
                r["mutating"]
            )
        };
        md.push_str(&format!(
            "| {} | {} | {} | {:.2}x |\n",
            p["stack"].as_str().unwrap(),
            run(&p["instant"]),
            run(&p["slow"]),
            p["ratio"].as_f64().unwrap()
        ));
    }
    md.push_str("\n## Create under throttling (ecommerce, engine)\n\n| throttled share | converged | seconds | passes | SDK retries | throttled answers | resources found / wanted |\n|---|---|---|---|---|---|---|\n");
    for t in report["throttling"].as_array().unwrap() {
        md.push_str(&format!(
            "| {:.0}% | {} | {:.1} | {} | {} | {} | {} / {} |\n",
            t["throttle_rate"].as_f64().unwrap() * 100.0,
            t["converged"],
            t["seconds"].as_f64().unwrap(),
            t["passes"],
            t["retries"],
            t["throttled"],
            t["resources_found"],
            t["resources_wanted"],
        ));
    }
    md.push_str("\n## Many stacks on one operator, or on replicas sharing them (ecommerce)\n\nUp to 100 stacks: 10 per region, each region's calls to its own moto server; past 100: all 25 regions, stacks round-robin, and the lighter spec the table names. Each row names its resync interval (30 s up to 100 stacks, 60 s past them, so the lists every replica reads per region and window leave the emulators time to create stacks; the operator's default is 600 s), how many resyncs apart each resource's settings are read (the default 12 up to 100 stacks; 4 past them, to keep the steady cycle short, which makes the steady figure dearer) and how many stacks a replica reconciles at once (`--concurrency`: the default 4 up to 100 stacks, 8 past them). A routing proxy sends each region to its server (global services to the first), so the figures measure the operator rather than one emulator process. With several replicas they share the stacks (`--shard`, 15 s Leases). Peak RSS is the largest replica's, heap and code the first replica's at the end (heap: anonymous pages, which grow with the stacks; code: pages of the binary and its libraries, which do not); CPU to all Ready is summed over replicas. After all are Ready and two resyncs have passed, steady state is counted over one settings cycle (every resource's settings read once): AWS calls per reconcile (each a full pass of one stack), mutating AWS calls, and writes to the API server about the stacks (Leases left out); a row with fewer stacks Ready than it made ran out of the benchmark's hour, so its steady columns count a window in which stacks were still being created, not a steady state. Then the first replica is killed (SIGKILL) and the time until every one of its stacks is assigned to another is measured, from the kill and from the moment its Lease lapsed (unrenewed, a Lease lapses 10 to 15 s after its holder dies: it is renewed every third of its 15 s).\n\n| stacks | spec | replicas | moto servers | resync s | settings every | at once | Ready | seconds to all Ready | peak RSS MiB | heap MiB at end | code MiB at end | CPU s to Ready | AWS calls to Ready | steady: calls per stack per resync | steady: mutating AWS calls | steady: API server writes | seconds to move a killed replica's stacks | of which after its Lease lapsed |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for s in report["scale"].as_array().unwrap() {
        let steady = |key: &str| s[key].as_u64().map_or("-".to_string(), |n| n.to_string());
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} | {} | {} |\n",
            s["stacks"],
            s["spec"].as_str().unwrap_or("ecommerce.yaml"),
            s["replicas"].as_u64().unwrap_or(1),
            s["moto_servers"],
            steady("resync_seconds"),
            steady("settings_read_every"),
            s["concurrency"].as_u64().unwrap_or(4),
            s["ready"],
            s["seconds_to_all_ready"].as_f64().unwrap(),
            s["peak_rss_mib"].as_f64().unwrap(),
            s["rss_heap_mib"].as_f64().unwrap(),
            s["rss_code_mib"].as_f64().unwrap(),
            s["cpu_seconds"].as_f64().unwrap(),
            s["aws_calls"],
            s["steady_calls_per_stack_per_resync"]
                .as_f64()
                .map_or("-".to_string(), |r| format!("{r:.2}")),
            steady("steady_mutating_calls"),
            steady("steady_kube_writes"),
            s["seconds_to_move_after_a_kill"]
                .as_f64()
                .map_or("-".to_string(), |t| format!("{t:.1}")),
            s["seconds_to_move_after_the_lease_lapsed"]
                .as_f64()
                .map_or("-".to_string(), |t| format!("{t:.1}")),
        ));
    }
    for s in report["scale"].as_array().unwrap() {
        if let Some(binary) = s["operator_binary"].as_str() {
            md.push_str(&format!(
                "\n{} stacks, {} replica(s): the operator binary `{binary}`.\n",
                s["stacks"],
                s["replicas"].as_u64().unwrap_or(1)
            ));
        }
    }
    md.push_str("\n## Steady-state reads per stack per resync (ecommerce, one account and region, one operator)\n\nEvery stack in one region on one moto server, as in one AWS account; the operator resyncs every stack every `resync` seconds and re-reads each resource's settings every `settings` resyncs. Calls are counted over one whole settings cycle after all are Ready and divided two ways: by the reconciles (each a full pass) made in it (calls per pass), and by the stacks times the resync intervals in the cycle (calls per stack per resync interval, what AWS sees). The two agree when every stack is reconciled once a resync; when the operator cannot keep up (the unshared run, paced by the call budget's EC2 rate, 20 a second), it makes fewer passes and the second is lower. Then the same stacks under a new operator that shares nothing. The budget is raised to 1,000 calls a second so the create is not paced by it.\n\n| stacks | resync s | settings every | shared reads | seconds to all Ready | passes in the cycle | AWS calls | mutating | answered from shared reads | calls per pass | calls per stack per resync interval | operator CPU ms per pass | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    let resync_runs = report["resync"].as_array().cloned().unwrap_or_default();
    for r in &resync_runs {
        for run in r["runs"].as_array().unwrap() {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {:.2} | {:.2} | {} | {:.1} |\n",
                r["stacks"],
                r["resync_seconds"],
                r["settings_read_every"],
                if run["shared_reads"].as_bool().unwrap() {
                    "on"
                } else {
                    "off"
                },
                run["seconds_to_all_ready"].as_f64().unwrap(),
                run["passes"],
                run["calls"],
                run["mutating_calls"],
                run["reads_answered_shared"],
                run["calls_per_stack_per_resync"].as_f64().unwrap(),
                run["calls"].as_f64().unwrap()
                    / (r["stacks"].as_f64().unwrap() * r["settings_read_every"].as_f64().unwrap()),
                run["operator_cpu_ms_per_pass"]
                    .as_f64()
                    .map_or("not measured".to_string(), |ms| format!("{ms:.0}")),
                run["peak_rss_mib"].as_f64().unwrap(),
            ));
        }
    }
    for r in &resync_runs {
        for run in r["runs"].as_array().unwrap() {
            let Some(top) = run["top_operations"].as_array() else {
                continue;
            };
            let listed: Vec<String> = top
                .iter()
                .map(|t| {
                    format!(
                        "`{}` {:.2}",
                        t["operation"].as_str().unwrap_or_default(),
                        t["per_pass"].as_f64().unwrap_or_default()
                    )
                })
                .collect();
            md.push_str(&format!(
                "\n{} stacks, shared reads {}: the operations that made the most calls in the cycle, calls per pass: {}.\n",
                r["stacks"],
                if run["shared_reads"] == true { "on" } else { "off" },
                listed.join(", ")
            ));
        }
    }
    for r in &resync_runs {
        let binary = r["operator_binary"].as_str().unwrap_or_default();
        let build = if binary.contains("/release/") {
            "release"
        } else {
            "debug"
        };
        md.push_str(&format!(
            "\n{stacks} stacks: the operator's {build} build (`{binary}`), from `scripts/bench.sh --only resync --resync-stacks {stacks} --update`.\n",
            stacks = r["stacks"]
        ));
    }
    md.push_str("\n## Chaos: the operator killed (SIGKILL) at random points of create and teardown\n\n| stack | rounds | kills during create (ms after start) | Ready | resources found / in status | kills during teardown | deleted | left / tagged after teardown |\n|---|---|---|---|---|---|---|---|\n");
    for c in report["chaos"].as_array().unwrap() {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} / {} | {} | {} | {} / {} |\n",
            c["stack"].as_str().unwrap(),
            c["rounds"],
            c["create_kills_ms"],
            c["ready"],
            c["resources_found"],
            c["resources_in_status"],
            c["teardown_kills_ms"],
            c["deleted"],
            c["left_after_teardown"],
            c["tagged_after_teardown"],
        ));
    }
    md.push_str(&targets(report));
    md
}

/// Each target of the project, met or not, from the figures.
fn targets(report: &Value) -> String {
    let lifecycle = report["lifecycle"].as_array().unwrap();
    let throttling = report["throttling"].as_array().unwrap();
    let verdict = |met: bool| if met { "met" } else { "NOT met" };
    let mut md = String::from("\n## Targets\n\n| target | figure | verdict |\n|---|---|---|\n");
    let steady_writes: u64 = lifecycle
        .iter()
        .map(|s| {
            s["steady"]["mutating"].as_u64().unwrap() + s["steady"]["writes"].as_u64().unwrap()
        })
        .sum();
    md.push_str(&format!(
        "| zero mutating AWS calls at steady state | {steady_writes} | {} |\n",
        verdict(steady_writes == 0)
    ));
    md.push_str("| zero status writes at steady state | not measured here: `tests/operator.rs` asserts the operator makes no write to the API server across resyncs | met (tested) |\n");
    let worst_ratio = lifecycle
        .iter()
        .map(|s| s["create"]["ratio"].as_f64().unwrap())
        .fold(0.0, f64::max);
    md.push_str(&format!(
        "| mutating calls on create at most 1.1x the minimal | worst {worst_ratio:.2}x | {} |\n",
        verdict(worst_ratio <= 1.1)
    ));
    if let Some(worst) = report["pacing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ratio"].as_f64().unwrap())
        .reduce(f64::max)
    {
        md.push_str(&format!(
            "| calls to create in latency mode at most 1.5x the instant calls | worst {worst:.2}x | {} |\n",
            verdict(worst <= 1.5)
        ));
    }
    let base = throttling[0]["seconds"].as_f64().unwrap();
    if let Some(worst) = throttling.last() {
        let factor = worst["seconds"].as_f64().unwrap() / base;
        let clean = worst["converged"].as_bool().unwrap()
            && worst["resources_found"] == worst["resources_wanted"];
        md.push_str(&format!(
            "| 30% throttling converges, no duplicates, at most 3x the time | {factor:.1}x, {} / {} resources | {} |\n",
            worst["resources_found"],
            worst["resources_wanted"],
            verdict(clean && factor <= 3.0)
        ));
    }
    match report["scale"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stacks"] == 100 && s["replicas"].as_u64().unwrap_or(1) == 1)
    {
        Some(hundred) => {
            let rss = hundred["peak_rss_mib"].as_f64().unwrap();
            md.push_str(&format!(
                "| peak operator RSS under 64 MiB with 100 stacks | {rss:.1} MiB | {} |\n",
                verdict(rss < 64.0)
            ));
        }
        None => {
            // The largest count run already tells when the target is missed.
            let largest = report["scale"].as_array().unwrap().last();
            let (count, rss) = largest.map_or((0, 0.0), |s| {
                (
                    s["stacks"].as_u64().unwrap(),
                    s["peak_rss_mib"].as_f64().unwrap(),
                )
            });
            let verdict = if rss >= 64.0 {
                "NOT met (already above at fewer stacks)"
            } else {
                "not measured (pass `--scale 1,10,100`)"
            };
            md.push_str(&format!(
                "| peak operator RSS under 64 MiB with 100 stacks | {rss:.1} MiB with {count} stacks; 100 not run | {verdict} |\n"
            ));
        }
    }
    let sharded = report["scale"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stacks"] == 1000 && s["replicas"] == 3);
    match sharded {
        Some(run) => {
            let rss = run["peak_rss_mib"].as_f64().unwrap();
            md.push_str(&format!(
                "| peak RSS per replica at most 64 MiB with 1,000 stacks over 3 replicas | {rss:.1} MiB | {} |\n",
                verdict(rss <= 64.0)
            ));
        }
        None => md.push_str(
            "| peak RSS per replica at most 64 MiB with 1,000 stacks over 3 replicas | not measured (`--scale 1000 --replicas 1,3`) | not measured |\n",
        ),
    }
    for run in report["scale"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["stacks"] == 1000)
    {
        let replicas = run["replicas"].as_u64().unwrap_or(1);
        let ready = run["ready"].as_u64().unwrap_or(0);
        if ready < 1000 {
            // Stacks still being created: what followed was no steady state.
            md.push_str(&format!(
                "| 1,000 stacks on {replicas} replica(s): reads per stack per resync at most 3, zero writes at steady state | no steady state: {ready} of 1,000 Ready at the deadline | not measured |\n"
            ));
            continue;
        }
        if let (Some(reads), Some(mutating), Some(writes)) = (
            run["steady_calls_per_stack_per_resync"].as_f64(),
            run["steady_mutating_calls"].as_u64(),
            run["steady_kube_writes"].as_u64(),
        ) {
            md.push_str(&format!(
                "| 1,000 stacks on {replicas} replica(s): reads per stack per resync at most 3 | {reads:.2} | {} |\n",
                verdict(reads <= 3.0)
            ));
            md.push_str(&format!(
                "| 1,000 stacks on {replicas} replica(s): zero writes at steady state | {mutating} to AWS, {writes} to the API server | {} |\n",
                verdict(mutating == 0 && writes == 0)
            ));
        }
    }
    let shared_run = report["resync"]
        .as_array()
        .and_then(|r| r.first())
        .and_then(|r| {
            let run = r["runs"]
                .as_array()?
                .iter()
                .find(|run| run["shared_reads"] == true)?;
            Some((
                r["stacks"].as_u64()?,
                run["calls_per_stack_per_resync"].as_f64()?,
                run["mutating_calls"].as_u64()?,
            ))
        });
    match shared_run {
        Some((stacks, reads, writes)) => {
            // Judged per pass: per resync interval the figure is lower
            // whenever the operator falls behind, which is no merit.
            md.push_str(&format!(
                "| steady-state reads per stack per resync at most 3 (shared reads, one account and region; per pass) | {reads:.2} with {stacks} stacks | {} |\n",
                verdict(reads <= 3.0 && stacks >= 100)
            ));
            md.push_str(&format!(
                "| zero writes at steady state with shared reads | {writes} | {} |\n",
                verdict(writes == 0)
            ));
        }
        None => md.push_str("| steady-state reads per stack per resync at most 3 | not measured (part `resync`) | not measured |\n"),
    }
    md
}

/// Scale runs replace the recorded run of the same stacks and replicas and
/// keep the others, so each size can be measured on its own (a 1,000-stack
/// run takes long).
fn merge_scale_runs(recorded: &mut Value, runs: Value) {
    let key = |s: &Value| (s["stacks"].as_u64(), s["replicas"].as_u64().unwrap_or(1));
    let mut all: Vec<Value> = recorded.as_array().cloned().unwrap_or_default();
    for run in runs.as_array().cloned().unwrap_or_default() {
        all.retain(|s| key(s) != key(&run));
        all.push(run);
    }
    all.sort_by_key(key);
    *recorded = Value::Array(all);
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scale_counts: Vec<usize> = args
        .iter()
        .position(|a| a == "--scale")
        .and_then(|i| args.get(i + 1))
        .map_or(vec![1, 10], |list| {
            list.split(',').filter_map(|n| n.parse().ok()).collect()
        });
    // `--only scale` (or lifecycle, pacing, throttling, resync, chaos, or several
    // joined by commas): those parts alone, printed as JSON and not written
    // to docs/ (for quick comparisons). With `--update` they replace their
    // parts of docs/benchmarks.json instead, and docs/benchmarks.md is
    // written anew from the merged figures.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let update = args.iter().any(|a| a == "--update");
    let runs = |part: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|p| p == part))
    };
    let mut lifecycle_runs = Vec::new();
    for name in ["ecommerce.yaml", "booking.yaml"]
        .into_iter()
        .filter(|_| runs("lifecycle"))
    {
        eprintln!("lifecycle {name}");
        lifecycle_runs.push(lifecycle(name).await);
    }
    let mut pacing_runs = Vec::new();
    for name in ["ecommerce.yaml", "booking.yaml"]
        .into_iter()
        .filter(|_| runs("pacing"))
    {
        eprintln!("pacing {name}");
        pacing_runs.push(pacing(name).await);
    }
    let mut throttling = Vec::new();
    for rate in [0.0, 0.1, 0.3].into_iter().filter(|_| runs("throttling")) {
        eprintln!("throttling {rate}");
        throttling.push(throttled(rate).await);
    }
    let mut scaling = Vec::new();
    let replica_counts: Vec<usize> = args
        .iter()
        .position(|a| a == "--replicas")
        .and_then(|i| args.get(i + 1))
        .map_or(vec![1], |list| {
            list.split(',').filter_map(|n| n.parse().ok()).collect()
        });
    for count in scale_counts.iter().filter(|_| runs("scale")) {
        for replicas in &replica_counts {
            eprintln!("scale {count}, {replicas} replicas");
            scaling.push(scale(*count, *replicas).await);
        }
    }
    let resync_stacks: usize = args
        .iter()
        .position(|a| a == "--resync-stacks")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let mut resync = Vec::new();
    if runs("resync") {
        eprintln!("resync reads, {resync_stacks} stacks");
        resync.push(resync_reads(resync_stacks, 10, 12).await);
    }
    let mut chaos_runs = Vec::new();
    for (i, name) in ["ecommerce.yaml", "booking.yaml"]
        .into_iter()
        .enumerate()
        .filter(|_| runs("chaos"))
    {
        eprintln!("chaos {name}");
        chaos_runs.push(chaos(name, 4, 17 + i as u64).await);
    }
    let mut report = json!({
        "lifecycle": lifecycle_runs, "pacing": pacing_runs, "throttling": throttling, "scale": scaling,
        "resync": resync, "chaos": chaos_runs, "operator_binary": Operator::binary(),
    });
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    if let Some(parts) = &only {
        if !update {
            println!("{}", serde_json::to_string_pretty(&report).unwrap());
            return;
        }
        let recorded = std::fs::read_to_string(docs.join("benchmarks.json")).unwrap();
        let mut merged: Value = serde_json::from_str(&recorded).unwrap();
        // A name that is no part (`--only none --update`) measures
        // nothing and writes docs/benchmarks.md anew from the figures.
        for part in parts.split(',') {
            if part == "scale" {
                merge_scale_runs(&mut merged["scale"], report["scale"].take());
            } else if report.get(part).is_some() {
                merged[part] = report[part].take();
            }
        }
        report = merged;
    }
    // The command that reproduces the figures on record (after `--update`
    // some of them come from an earlier full run).
    let mut list: Vec<String> = report["scale"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stacks"].to_string())
        .collect();
    list.dedup();
    let mut replicas: Vec<String> = report["scale"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["replicas"].as_u64().unwrap_or(1).to_string())
        .collect();
    replicas.sort();
    replicas.dedup();
    let release = report["operator_binary"]
        .as_str()
        .is_some_and(|b| b.contains("/release/"));
    let prefix = if release {
        "cargo build --release --bin stackops && STACKOPS_BIN=$CARGO_TARGET_DIR/release/stackops "
    } else {
        ""
    };
    let command = format!(
        "{prefix}scripts/bench.sh --scale {} --replicas {}",
        list.join(","),
        replicas.join(",")
    );
    let md = markdown(&report, &command);
    println!("{md}");
    std::fs::write(
        docs.join("benchmarks.json"),
        serde_json::to_string_pretty(&report).unwrap() + "\n",
    )
    .unwrap();
    std::fs::write(docs.join("benchmarks.md"), md).unwrap();
}
