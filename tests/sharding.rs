//! Replicas sharing the stacks (`--shard`): every stack is reconciled by
//! the replica its label names, chosen by rendezvous hashing over the live
//! members; no stack is ever reconciled by two replicas at once (each
//! replica's log of passes, kubesim's request log and the log of AWS calls
//! show it); a killed replica's stacks move within its Lease; a new replica
//! takes only its share, each through the drain handshake.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kube::ResourceExt;
use kube::api::{Api, PostParams};
use stackops::api::{EcommerceStack, StackManifest};
use stackops::controller::shards::{DRAIN_LABEL, SHARD_LABEL, SHARDER_MANAGER, owner};
use support::cluster::{Cluster, Operator};
use support::moto::{MotoServer, free_port};
use support::proxy::FaultProxy;
use support::stack::disposable;

const TIMEOUT: Duration = Duration::from_secs(300);
const LEASE_SECONDS: u64 = 3;
const STACKS: usize = 4;

/// A replica whose AWS calls go through `aws` (a recording proxy) and
/// carry its name as the SDK's app id.
fn replica(
    kubeconfig: &Path,
    moto: &MotoServer,
    aws: &FaultProxy,
    name: &'static str,
    log: &Path,
) -> Operator {
    let mut env = moto.env();
    env.retain(|(key, _)| *key != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL", aws.endpoint.clone()));
    env.push(("AWS_SDK_UA_APP_ID", name.to_string()));
    env.push(("POD_NAME", name.to_string()));
    let metrics = format!("127.0.0.1:{}", free_port());
    let lease = LEASE_SECONDS.to_string();
    Operator::start(
        kubeconfig,
        env,
        Some(log),
        &[
            "--shard",
            "--lease-seconds",
            &lease,
            "--resync-seconds",
            "2",
            "--metrics-addr",
            &metrics,
        ],
    )
}

/// The passes a replica's log records: (stack, seconds since the epoch).
fn passes(log: &Path) -> Vec<(String, f64)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|entry| entry["fields"]["message"] == "pass done")
        .filter_map(|entry| {
            let stack = entry["span"]["stack"].as_str()?.to_string();
            let at: jiff::Timestamp = entry["timestamp"].as_str()?.parse().ok()?;
            Some((stack, at.as_millisecond() as f64 / 1000.0))
        })
        .collect()
}

/// Each stack's first and last pass in `log`.
fn spans(log: &Path) -> BTreeMap<String, (f64, f64)> {
    let mut spans: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (stack, at) in passes(log) {
        let span = spans.entry(stack).or_insert((at, at));
        span.0 = span.0.min(at);
        span.1 = span.1.max(at);
    }
    spans
}

/// The stacks' shard labels (`None` while unassigned or draining).
async fn labels(api: &Api<EcommerceStack>) -> BTreeMap<String, (String, Option<String>)> {
    api.list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|s| {
            let uid = s.uid().unwrap();
            let settled = (!s.labels().contains_key(DRAIN_LABEL))
                .then(|| s.labels().get(SHARD_LABEL).cloned())
                .flatten();
            (s.name_any(), (uid, settled))
        })
        .collect()
}

/// Waits until every stack is labelled with its owner among `members`;
/// returns how long that took.
async fn settled_on(api: &Api<EcommerceStack>, members: &[&str]) -> Duration {
    let members: Vec<String> = members.iter().map(|m| m.to_string()).collect();
    let started = Instant::now();
    loop {
        let now = labels(api).await;
        if now.len() == STACKS
            && now
                .values()
                .all(|(uid, label)| label.as_deref() == owner(uid, &members))
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "not settled on {members:?}: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn all_ready(api: &Api<EcommerceStack>) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let stacks = api.list(&Default::default()).await.unwrap().items;
        let ready = stacks.iter().filter(|s| {
            s.status.as_ref().is_some_and(|st| {
                st.observed_generation == s.metadata.generation
                    && st
                        .conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        });
        if ready.count() == STACKS {
            return;
        }
        assert!(Instant::now() < deadline, "not all Ready");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// No stack has passes in two logs whose spans overlap.
fn no_overlap(logs: &[&PathBuf]) {
    let spans: Vec<BTreeMap<String, (f64, f64)>> = logs.iter().map(|l| spans(l)).collect();
    for (i, a) in spans.iter().enumerate() {
        for b in &spans[i + 1..] {
            for (stack, (a_first, a_last)) in a {
                if let Some((b_first, b_last)) = b.get(stack) {
                    assert!(
                        a_last < b_first || b_last < a_first,
                        "{stack} reconciled by two replicas at once: {a_first}..{a_last} and {b_first}..{b_last}"
                    );
                }
            }
        }
    }
}

/// Runs of the same replica in `actors` (in order): `a a b a` → `a b a`.
fn runs(actors: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut runs: Vec<String> = Vec::new();
    for actor in actors {
        if runs.last() != Some(&actor) {
            runs.push(actor);
        }
    }
    runs
}

/// Whether `runs` follows `owners` in order (each run a later owner): two
/// replicas working on one stack at once would interleave, `a b a`, which
/// no sequence of owners explains.
fn follows(runs: &[String], owners: &[String]) -> bool {
    let mut rest = owners.iter();
    runs.iter().all(|run| rest.any(|owner| owner == run))
}

#[test]
fn interleaved_replicas_do_not_follow_their_owners() {
    let owners = ["a", "b"].map(String::from);
    let (ab, aba) = (
        ["a", "b"].map(String::from),
        ["a", "b", "a"].map(String::from),
    );
    assert!(follows(&ab, &owners));
    assert!(follows(&ab[1..], &owners));
    assert!(!follows(&aba, &owners));
    assert_eq!(runs(["a", "a", "b", "a"].map(String::from)), aba);
}

/// Per stack, which replica made each of kubesim's requests on it (its
/// User-Agent names the replica); the leader's label writes are
/// assignments, not reconciles, and are left out.
fn kube_actors(sim: &kubesim::Handle, name: &str) -> Vec<String> {
    let object = format!("/ecommercestacks/{name}");
    sim.requests()
        .into_iter()
        .filter(|r| {
            (r.path.ends_with(&object) || r.path.ends_with(&format!("{object}/status")))
                && !r.query.contains(&format!("fieldManager={SHARDER_MANAGER}"))
        })
        .filter_map(|r| {
            let replica = r.user_agent.strip_prefix("stackops/")?.split_once(" (")?.1;
            Some(replica.trim_end_matches(')').to_string())
        })
        .collect()
}

/// Per stack, which replica made each AWS call naming its uid (tag filters
/// and the tags of creates carry it).
fn aws_actors(aws: &FaultProxy, uid: &str) -> Vec<String> {
    aws.calls()
        .into_iter()
        .filter(|call| call.text.contains(uid))
        .map(|call| call.app)
        .collect()
}

#[tokio::test]
async fn replicas_share_the_stacks_hand_them_over_and_never_both_reconcile_one() {
    let moto = MotoServer::start();
    let cluster = Cluster::start().await;
    let (client, kubeconfig, dir) = (cluster.client.clone(), &cluster.kubeconfig, &cluster.dir);
    let api: Api<EcommerceStack> = Api::namespaced(client.clone(), "default");
    let log = |name: &str| dir.path().join(format!("{name}.log"));
    let (log_a, log_b, log_c) = (log("replica-a"), log("replica-b"), log("replica-c"));

    let aws = FaultProxy::start(&moto.endpoint);
    aws.record_calls();
    let mut a = Some(replica(kubeconfig, &moto, &aws, "replica-a", &log_a));
    let _b = replica(kubeconfig, &moto, &aws, "replica-b", &log_b);
    let StackManifest::Ecommerce(template) = disposable("ecommerce.yaml") else {
        unreachable!()
    };
    for i in 0..STACKS {
        let mut stack = (*template).clone();
        stack.metadata.name = Some(format!("shard-{i}"));
        api.create(&PostParams::default(), &stack).await.unwrap();
    }
    settled_on(&api, &["replica-a", "replica-b"]).await;
    all_ready(&api).await;

    // Each stack's passes are in its owner's log alone.
    let assigned = labels(&api).await;
    let mut owners: BTreeMap<String, Vec<String>> = assigned
        .iter()
        .map(|(name, (_, owner))| (name.clone(), owner.iter().cloned().collect()))
        .collect();
    let record_owners = |owners: &mut BTreeMap<String, Vec<String>>,
                         now: &BTreeMap<String, (String, Option<String>)>| {
        for (name, (_, owner)) in now {
            let history = owners.entry(name.clone()).or_default();
            if let Some(owner) = owner
                && history.last() != Some(owner)
            {
                history.push(owner.clone());
            }
        }
    };
    let (passes_a, passes_b) = (spans(&log_a), spans(&log_b));
    for (name, (_, owner)) in &assigned {
        let stack = format!("default/{name}");
        let (mine, other) = match owner.as_deref() {
            Some("replica-a") => (&passes_a, &passes_b),
            _ => (&passes_b, &passes_a),
        };
        assert!(mine.contains_key(&stack), "{stack}: no pass by its owner");
        assert!(
            !other.contains_key(&stack),
            "{stack}: a pass by the other replica"
        );
    }

    // replica-a dies without a word: its stacks move once its Lease lapses.
    drop(a.take());
    let moved_in = settled_on(&api, &["replica-b"]).await;
    assert!(
        moved_in < Duration::from_secs(LEASE_SECONDS * 2),
        "moved after {moved_in:?}"
    );
    eprintln!("a dead replica's stacks moved within {moved_in:?}");
    all_ready(&api).await;
    record_owners(&mut owners, &labels(&api).await);

    // A third replica joins: only the stacks it owns now move, each let go
    // by replica-b before replica-c takes it.
    let before = labels(&api).await;
    let _c = replica(kubeconfig, &moto, &aws, "replica-c", &log_c);
    settled_on(&api, &["replica-b", "replica-c"]).await;
    let after = labels(&api).await;
    record_owners(&mut owners, &after);
    let moved: BTreeSet<&String> = before
        .keys()
        .filter(|name| before[*name].1 != after[*name].1)
        .collect();
    for name in &moved {
        assert_eq!(after[*name].1.as_deref(), Some("replica-c"), "{name}");
    }
    // Let every stack have a pass by its owner now.
    tokio::time::sleep(Duration::from_secs(4)).await;
    all_ready(&api).await;
    for name in &moved {
        assert!(
            spans(&log_c).contains_key(&format!("default/{name}")),
            "{name}: replica-c never reconciled it"
        );
    }
    // The proof: per stack, the replicas' spans of passes never overlap;
    // in kubesim's request log and in the AWS call log, the replicas that
    // worked on a stack follow its owners in order, never interleaved.
    no_overlap(&[&log_a, &log_b, &log_c]);
    for (name, (uid, _)) in &after {
        let history = &owners[name];
        let kube = runs(kube_actors(&cluster.sim, name));
        let calls = runs(aws_actors(&aws, uid));
        assert!(
            !kube.is_empty() && !calls.is_empty(),
            "{name}: no requests seen"
        );
        eprintln!(
            "{name}: owners {history:?}; kubesim: {} requests by {kube:?}; AWS: {} calls by {calls:?}",
            kube_actors(&cluster.sim, name).len(),
            aws_actors(&aws, uid).len()
        );
        assert!(
            follows(&kube, history),
            "{name}: kubesim saw {kube:?} for owners {history:?}"
        );
        assert!(
            follows(&calls, history),
            "{name}: AWS saw {calls:?} for owners {history:?}"
        );
    }
    eprintln!(
        "{} of {STACKS} stacks moved to the new replica",
        moved.len()
    );
    cluster.shutdown().await;
}
