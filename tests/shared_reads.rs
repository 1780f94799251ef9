//! Reads shared between stacks, as the operator makes them: one list read
//! per (account, region, kind) serves every stack, each stack sees only its
//! own resources in it, a stale shared read never causes a second resource, and drift
//! made by others is found once the window has passed.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::SharedHttpClient;
use stackops::api::StackManifest;
use stackops::aws::Context;
use stackops::aws::budgets::BUDGET_KEY;
use stackops::aws::calls::CallCounter;
use stackops::aws::http::operator_https_client;
use stackops::aws::shared_lists::SharedLists;
use stackops::aws::shared_reads::{SETTINGS_OPERATIONS, SharedReads, SharingOptions};
use stackops::engine::PassOutcome;
use support::moto::MotoServer;
use support::stack::{TestStack, calls_of, disposable};

/// An ecommerce stack named `name`, with a budget of its own.
fn shop(name: &str) -> StackManifest {
    let mut stack = disposable("ecommerce.yaml");
    if let StackManifest::Ecommerce(s) = &mut stack {
        s.metadata.name = Some(name.to_string());
        s.spec.settings.budget.monthly_limit_usd = Some(500);
    }
    stack
}

/// What the operator shares between stacks: answers on the wire (its HTTP
/// client) and parsed lists.
struct Sharing {
    http: SharedHttpClient,
    lists: Arc<SharedLists>,
}

/// Shared reads kept for `window`.
fn sharing_for(window: Duration) -> Sharing {
    sharing_with(window, window)
}

/// Lists kept for `lists`, each resource's settings for `settings`.
fn sharing_with(lists: Duration, settings: Duration) -> Sharing {
    Sharing {
        http: operator_https_client(
            Some(SharedReads::new(SharingOptions {
                lists,
                settings,
                max_bytes: 64 << 20,
            })),
            None,
        ),
        lists: SharedLists::new(lists, settings, CallCounter::default()),
    }
}

/// Shared reads kept for ten minutes.
fn sharing_client() -> Sharing {
    sharing_for(Duration::from_secs(600))
}

/// Calls that reached AWS, by operation.
fn made(counter: &CallCounter) -> BTreeMap<String, u64> {
    let mut made = BTreeMap::new();
    for (key, n) in counter.snapshot() {
        *made.entry(key.operation).or_default() += n;
    }
    made
}

/// A context for `stack` whose reads are shared through `sharing`.
async fn sharing(stack: &TestStack, moto: &MotoServer, sharing: &Sharing) -> Context {
    let cx = stack
        .reconnect_through(&moto.endpoint, Some(sharing.http.clone()))
        .await;
    cx.clients.reads.share();
    let scope = format!("{}|operator", cx.region);
    cx.clients
        .reads
        .share_lists(sharing.lists.clone(), scope.into());
    cx
}

/// Two converged stacks, each with a context reading through `http`.
async fn two_shops(moto: &MotoServer, http: &Sharing) -> [(TestStack, Context); 2] {
    let mut out = Vec::new();
    for name in ["share-a", "share-b"] {
        let stack = TestStack::new(&moto.endpoint, &shop(name), &format!("uid-{name}")).await;
        assert!(stack.converge(&stack.cx, 12).await.converged, "{name}");
        let cx = sharing(&stack, moto, http).await;
        out.push((stack, cx));
    }
    out.try_into().ok().expect("two")
}

#[tokio::test]
async fn a_second_stack_reads_its_lists_from_the_first_and_sees_only_its_own() {
    let moto = MotoServer::start();
    let http = sharing_client();
    let [(a, cx_a), (b, cx_b)] = two_shops(&moto, &http).await;

    let first = a.engine().apply(&cx_a, &a.blueprint.graph).await;
    assert!(first.converged && first.writes == 0, "{first:?}");
    // The budget's notifications came from the account's list (had they
    // not been found there, the pass would have written them).
    assert!(
        a.blueprint
            .graph
            .nodes()
            .iter()
            .any(|n| n.key == BUDGET_KEY)
    );
    let budget_calls = |op| calls_of(&cx_a.clients.calls, op);
    assert_eq!(budget_calls("DescribeBudgetNotificationsForAccount"), 1);
    assert_eq!(budget_calls("DescribeNotificationsForBudget"), 0);
    let second = b.engine().apply(&cx_b, &b.blueprint.graph).await;
    // The other stack's resources are in every shared answer: were any of
    // them taken as this stack's, they would be orphans, and deleted.
    assert!(second.converged, "{:?}", second.terminal);
    assert_eq!(second.writes, 0);
    assert_eq!(cx_b.clients.calls.mutating(), 0);
    assert_eq!(
        second.nodes.len(),
        b.blueprint.graph.nodes().len(),
        "no orphan"
    );

    // What the second stack still asked AWS: reads of its own resources'
    // settings, and its targets' health; every list came from the first.
    let lists_made: Vec<(String, u64)> = made(&cx_b.clients.calls)
        .into_iter()
        .filter(|(op, _)| !SETTINGS_OPERATIONS.contains(&op.as_str()))
        .filter(|(op, _)| op != "DescribeTargetHealth")
        .collect();
    assert!(
        lists_made.is_empty(),
        "list reads not shared: {lists_made:?}"
    );
    let shared = cx_b.clients.calls.shared();
    assert!(shared >= 25, "only {shared} reads shared");
    // The EC2 kinds' lists were parsed once, by the first stack.
    let parsed_once = cx_b.clients.calls.served();
    assert!(parsed_once >= 10, "only {parsed_once} lists served parsed");
    eprintln!(
        "first stack: {} calls; second: {} calls, {shared} answered from the first's ({parsed_once} of them parsed lists)",
        cx_a.clients.calls.total(),
        cx_b.clients.calls.total()
    );

    // A resync within the window asks AWS nothing at all.
    let again = sharing(&a, &moto, &http).await;
    let resync = a.engine().apply(&again, &a.blueprint.graph).await;
    assert!(resync.converged && resync.writes == 0);
    assert_eq!(made(&again.clients.calls), BTreeMap::new());
    assert!(again.clients.calls.shared() > 50);
}

#[tokio::test]
async fn account_wide_lists_serve_every_region_and_buckets_are_listed_by_region() {
    let moto = MotoServer::start();
    let http = sharing_client();
    let mut stacks = Vec::new();
    for (name, region) in [("wide-a", "eu-west-1"), ("wide-b", "us-east-2")] {
        let mut manifest = shop(name);
        if let StackManifest::Ecommerce(s) = &mut manifest {
            s.spec.settings.region = region.to_string();
        }
        let stack = TestStack::new(&moto.endpoint, &manifest, &format!("uid-{name}")).await;
        assert!(stack.converge(&stack.cx, 12).await.converged, "{name}");
        stacks.push(stack);
    }
    let cx_a = sharing(&stacks[0], &moto, &http).await;
    let first = stacks[0]
        .engine()
        .apply(&cx_a, &stacks[0].blueprint.graph)
        .await;
    assert!(first.converged && first.writes == 0, "{first:?}");
    let cx_b = sharing(&stacks[1], &moto, &http).await;
    let second = stacks[1]
        .engine()
        .apply(&cx_b, &stacks[1].blueprint.graph)
        .await;
    assert!(second.converged && second.writes == 0, "{second:?}");
    assert_eq!(cx_b.clients.calls.mutating(), 0);

    // IAM, CloudFront and Budgets answer the whole account from any region:
    // the stack in the other region asked none of them again.
    let made_b = made(&cx_b.clients.calls);
    for account_wide in [
        "GetAccountAuthorizationDetails",
        "ListInstanceProfiles",
        "ListDistributions",
        "ListOriginAccessControls",
        "DescribeBudgets",
        "DescribeBudgetNotificationsForAccount",
    ] {
        assert_eq!(
            calls_of(&cx_a.clients.calls, account_wide),
            1,
            "{account_wide}"
        );
        assert!(
            !made_b.contains_key(account_wide),
            "{account_wide}: {made_b:?}"
        );
    }
    // Buckets are listed per region, each list holding its region's own:
    // each stack found its buckets in its region's list and read nothing
    // afresh (a pass that had missed them would have asked for its own
    // roles one by one before writing).
    assert_eq!(made_b.get("ListBuckets"), Some(&1), "{made_b:?}");
    for own_question in ["ListRoles", "GetRole"] {
        assert!(
            !made_b.contains_key(own_question),
            "{own_question}: {made_b:?}"
        );
    }
    // Each stack has one bucket here; unfiltered, each list would hold both.
    let (buckets_a, buckets_b) = (
        shared_list_len(&http, "eu-west-1", "s3:ListBuckets"),
        shared_list_len(&http, "us-east-2", "s3:ListBuckets"),
    );
    assert_eq!((buckets_a, buckets_b), (Some(1), Some(1)));
}

/// How many items the shared list `question` of `region` holds.
fn shared_list_len(sharing: &Sharing, region: &str, question: &str) -> Option<usize> {
    sharing
        .lists
        .kept_len(&format!("{region}|operator").into(), question)
}

#[tokio::test]
async fn a_stale_shared_read_never_causes_a_create() {
    let moto = MotoServer::start();
    let http = sharing_client();
    let a = TestStack::new(&moto.endpoint, &shop("stale-a"), "uid-stale-a").await;
    assert!(a.converge(&a.cx, 12).await.converged);
    let cx_a = sharing(&a, &moto, &http).await;
    assert!(a.engine().apply(&cx_a, &a.blueprint.graph).await.converged);

    // Another replica (not sharing this process's reads) creates a stack:
    // every list kept here is now stale for it.
    let b = TestStack::new(&moto.endpoint, &shop("stale-b"), "uid-stale-b").await;
    assert!(b.converge(&b.cx, 12).await.converged);

    let cx_b = sharing(&b, &moto, &http).await;
    let pass = b.engine().apply(&cx_b, &b.blueprint.graph).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    assert_eq!(pass.writes, 0, "{:?}", cx_b.clients.calls.mutating_calls());
    assert_eq!(cx_b.clients.calls.mutating(), 0);
    // The stale answers were served, found wanting, and read again.
    assert!(cx_b.clients.calls.shared() > 0);
    assert!(calls_of(&cx_b.clients.calls, "DescribeVpcs") >= 1);
}

/// Deletes `stack`'s public route to the internet behind its back.
async fn delete_route_to_the_internet(stack: &TestStack, converged: &PassOutcome) {
    let route_table = support::stack::node_id(converged, "network/rt-public");
    support::stack::delete_route_to_the_internet(&stack.cx, &route_table).await;
}

#[tokio::test]
async fn drift_out_of_band_is_found_once_the_window_has_passed() {
    let moto = MotoServer::start();
    let window = Duration::from_secs(2);
    let http = sharing_for(window);
    let a = TestStack::new(&moto.endpoint, &shop("window-a"), "uid-window-a").await;
    let converged = a.converge(&a.cx, 12).await;
    assert!(converged.converged);
    let pass = |cx: Context| {
        let a = &a;
        async move {
            let out = a.engine().apply(&cx, &a.blueprint.graph).await;
            (out, cx)
        }
    };
    let (first, _) = pass(sharing(&a, &moto, &http).await).await;
    assert!(first.converged && first.writes == 0);

    // Another tool deletes the route to the internet.
    delete_route_to_the_internet(&a, &converged).await;

    // Within the window the kept route tables still show it: nothing to do.
    let (within, _) = pass(sharing(&a, &moto, &http).await).await;
    assert_eq!(within.writes, 0);
    // Past it, the next pass reads them again, finds the drift and puts
    // the route back, with one write.
    tokio::time::sleep(window + Duration::from_millis(200)).await;
    let (after, cx) = pass(sharing(&a, &moto, &http).await).await;
    assert!(after.converged);
    assert_eq!(after.writes, 1, "{:?}", cx.clients.calls.mutating_calls());
    assert!(
        cx.clients
            .calls
            .mutating_calls()
            .iter()
            .all(|(op, _)| op.ends_with("CreateRoute"))
    );
}

#[tokio::test]
async fn a_change_reads_afresh_only_the_kinds_the_pass_acts_on() {
    let moto = MotoServer::start();
    let http = sharing_client();
    let [(a, _), (b, _)] = two_shops(&moto, &http).await;
    // Another tool deletes the first stack's route to the internet...
    let converged = a.converge(&a.cx, 12).await;
    delete_route_to_the_internet(&a, &converged).await;
    // ...before the second stack's pass fills the shared lists.
    let cx_b = sharing(&b, &moto, &http).await;
    assert!(b.engine().apply(&cx_b, &b.blueprint.graph).await.converged);

    // The first stack's pass sees the missing route in the shared route
    // tables, reads them afresh and puts the route back; no other kind is
    // read again, least of all the account's CloudFront lists, which
    // cannot be filtered to one stack.
    let cx_a = sharing(&a, &moto, &http).await;
    let pass = a.engine().apply(&cx_a, &a.blueprint.graph).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    assert_eq!(pass.writes, 1, "{:?}", cx_a.clients.calls.mutating_calls());
    let asked: Vec<String> = made(&cx_a.clients.calls)
        .into_keys()
        .filter(|op| !SETTINGS_OPERATIONS.contains(&op.as_str()))
        .filter(|op| op != "DescribeTargetHealth")
        .collect();
    assert_eq!(asked, ["CreateRoute", "DescribeRouteTables"]);
}

#[tokio::test]
async fn a_new_stack_is_in_the_shared_lists_after_one_window_not_after_the_settings_lifetime() {
    let moto = MotoServer::start();
    let window = Duration::from_secs(2);
    let kept = sharing_with(window, Duration::from_secs(600));
    let a = TestStack::new(&moto.endpoint, &shop("late-a"), "uid-late-a").await;
    assert!(a.converge(&a.cx, 12).await.converged);
    let cx_a = sharing(&a, &moto, &kept).await;
    assert!(a.engine().apply(&cx_a, &a.blueprint.graph).await.converged);

    // A stack built out of sight of the kept lists, then one window.
    let b = TestStack::new(&moto.endpoint, &shop("late-b"), "uid-late-b").await;
    assert!(b.converge(&b.cx, 12).await.converged);
    tokio::time::sleep(window + Duration::from_millis(300)).await;

    // Its pass finds itself in the lists fetched anew for every stack
    // (metric filters included, though they are kept as long as settings
    // on the wire), so it has no reason to read afresh.
    let cx_b = sharing(&b, &moto, &kept).await;
    let pass = b.engine().apply(&cx_b, &b.blueprint.graph).await;
    assert!(pass.converged && pass.writes == 0, "{:?}", pass.terminal);
    let calls = &cx_b.clients.calls;
    assert_eq!(
        calls_of(calls, "DescribeMetricFilters"),
        1,
        "{:?}",
        made(calls)
    );
    assert_eq!(
        calls_of(calls, "DescribeVpcs"),
        1,
        "read afresh: {:?}",
        made(calls)
    );
}

#[tokio::test]
async fn target_health_is_read_again_when_the_groups_servers_change_not_on_every_pass() {
    let moto = MotoServer::start();
    let window = Duration::from_secs(2);
    let kept = sharing_with(window, Duration::from_secs(600));
    let a = TestStack::new(&moto.endpoint, &shop("health-a"), "uid-health-a").await;
    let converged = a.converge(&a.cx, 12).await;
    assert!(converged.converged);
    // One operator pass: how often it asked for the targets' health, and
    // what it reported of them.
    let pass = || async {
        let cx = sharing(&a, &moto, &kept).await;
        let out = a.engine().apply(&cx, &a.blueprint.graph).await;
        assert!(out.converged && out.writes == 0, "{:?}", out.terminal);
        let outputs = out.node("app/target-group").unwrap().outputs.clone();
        (calls_of(&cx.clients.calls, "DescribeTargetHealth"), outputs)
    };
    let (reads, healthy) = pass().await;
    assert_eq!(reads, 1);
    assert_eq!(healthy.get("healthyTargets"), healthy.get("targets"));

    // Lists read again past their window, the group's servers as they
    // were: the health read is kept.
    tokio::time::sleep(window + Duration::from_millis(300)).await;
    let (reads, again) = pass().await;
    assert_eq!(reads, 0, "read though nothing changed");
    assert_eq!(again, healthy);

    // A server stops; the group's health check marks it Unhealthy, and
    // once the group is listed again its health is read again.
    let group = support::stack::node_id(&converged, "app/auto-scaling-group");
    let found =
        a.cx.clients
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&group)
            .send()
            .await
            .unwrap();
    let server = found.auto_scaling_groups()[0].instances()[0]
        .instance_id()
        .unwrap()
        .to_string();
    a.cx.clients
        .ec2
        .stop_instances()
        .instance_ids(&server)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(window + Duration::from_millis(300)).await;
    let (reads, after) = pass().await;
    assert_eq!(reads, 1);
    let issue = after.get("targetIssue").expect("the stopped server named");
    assert!(issue.starts_with(&server), "{issue}");

    // While not every target is healthy, every pass reads it.
    let (reads, _) = pass().await;
    assert_eq!(reads, 1);
}

#[tokio::test]
async fn a_roles_policies_changed_out_of_band_are_put_back_with_no_read_per_role() {
    let moto = MotoServer::start();
    let window = Duration::from_secs(2);
    let kept = sharing_with(window, Duration::from_secs(600));
    let a = TestStack::new(&moto.endpoint, &shop("roles-a"), "uid-roles-a").await;
    let converged = a.converge(&a.cx, 12).await;
    assert!(converged.converged);
    let pass = || async {
        let cx = sharing(&a, &moto, &kept).await;
        let out = a.engine().apply(&cx, &a.blueprint.graph).await;
        assert!(out.converged, "{:?}", out.terminal);
        (out, cx)
    };

    // Both roles, their policies and boundaries come from one read of the
    // account's details: nothing is read role by role.
    let (first, cx) = pass().await;
    assert_eq!(first.writes, 0, "{:?}", cx.clients.calls.mutating_calls());
    let calls = &cx.clients.calls;
    assert_eq!(calls_of(calls, "GetAccountAuthorizationDetails"), 1);
    for per_role in ["GetRole", "GetRolePolicy", "ListAttachedRolePolicies"] {
        assert_eq!(
            calls_of(calls, per_role),
            0,
            "{per_role}: {:?}",
            made(calls)
        );
    }

    // Another tool widens the servers' inline policy and detaches their
    // managed policy.
    let role = support::stack::node_id(&converged, "app/instance-role");
    let iam = &a.cx.clients.iam;
    let wide = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    iam.put_role_policy()
        .role_name(&role)
        .policy_name("stackops")
        .policy_document(wide)
        .send()
        .await
        .unwrap();
    let attached = iam
        .list_attached_role_policies()
        .role_name(&role)
        .send()
        .await
        .unwrap();
    let managed = attached.attached_policies()[0]
        .policy_arn()
        .unwrap()
        .to_string();
    iam.detach_role_policy()
        .role_name(&role)
        .policy_arn(&managed)
        .send()
        .await
        .unwrap();

    // Past the window, the next pass sees it and puts both back.
    tokio::time::sleep(window + Duration::from_millis(300)).await;
    let (after, cx) = pass().await;
    let wrote: Vec<String> = cx
        .clients
        .calls
        .mutating_calls()
        .into_iter()
        .map(|(op, _)| op)
        .collect();
    assert!(after.writes >= 1, "{wrote:?}");
    assert!(
        wrote.iter().any(|op| op.ends_with("PutRolePolicy")),
        "{wrote:?}"
    );
    assert!(
        wrote.iter().any(|op| op.ends_with("AttachRolePolicy")),
        "{wrote:?}"
    );
    let policy = iam
        .get_role_policy()
        .role_name(&role)
        .policy_name("stackops")
        .send()
        .await
        .unwrap();
    let document =
        percent_encoding::percent_decode_str(policy.policy_document()).decode_utf8_lossy();
    assert!(!document.contains("s3:*"), "{document}");
    let attached = iam
        .list_attached_role_policies()
        .role_name(&role)
        .send()
        .await
        .unwrap();
    assert!(
        attached
            .attached_policies()
            .iter()
            .any(|p| p.policy_arn() == Some(managed.as_str()))
    );

    // And the pass after that finds nothing to do.
    let (settled, cx) = pass().await;
    assert_eq!(settled.writes, 0, "{:?}", cx.clients.calls.mutating_calls());
}

#[tokio::test]
async fn a_dashboard_body_is_read_again_only_when_the_shared_list_shows_a_change() {
    let moto = MotoServer::start();
    // Settings kept as briefly as lists: the body outlives both.
    let window = Duration::from_secs(2);
    let kept = sharing_with(window, window);
    let a = TestStack::new(&moto.endpoint, &shop("board-a"), "uid-board-a").await;
    let converged = a.converge(&a.cx, 12).await;
    assert!(converged.converged);
    let pass = || async {
        let cx = sharing(&a, &moto, &kept).await;
        let out = a.engine().apply(&cx, &a.blueprint.graph).await;
        assert!(out.converged, "{:?}", out.terminal);
        (out, cx)
    };
    let (first, cx) = pass().await;
    assert_eq!(first.writes, 0);
    assert_eq!(calls_of(&cx.clients.calls, "GetDashboard"), 1);

    tokio::time::sleep(window + Duration::from_millis(300)).await;
    let (unchanged, cx) = pass().await;
    assert_eq!(unchanged.writes, 0);
    assert_eq!(
        calls_of(&cx.clients.calls, "GetDashboard"),
        0,
        "read though the list shows no change"
    );
    assert!(calls_of(&cx.clients.calls, "ListDashboards") >= 1);

    // Another tool empties the dashboard: the list shows it, the body is
    // read again and put back.
    let name = support::stack::node_id(&converged, "monitoring/dashboard");
    a.cx.clients
        .cloudwatch
        .put_dashboard()
        .dashboard_name(&name)
        .dashboard_body(r#"{"widgets":[]}"#)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(window + Duration::from_millis(300)).await;
    let (changed, cx) = pass().await;
    assert!(calls_of(&cx.clients.calls, "GetDashboard") >= 1);
    assert_eq!(changed.writes, 1, "{:?}", cx.clients.calls.mutating_calls());
    assert_eq!(calls_of(&cx.clients.calls, "PutDashboard"), 1);
}
