//! The cost estimate of `stackops plan`, priced from the launcher's price
//! list (scripts/moto_prices.py: list prices of 2026-11-01) and its Spot
//! price history: each line's arithmetic, the total, what is left out, and
//! a price that cannot be read, which is named and stops nothing.

mod support;

use support::moto::MotoServer;

/// The amount of the estimate line whose description contains `what`.
fn amount(stdout: &str, what: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.contains(what) && l.trim_start().starts_with(['+', '~', '=', '-']))
        .unwrap_or_else(|| panic!("no line for {what:?} in\n{stdout}"));
    line.split_whitespace()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no amount in {line:?}"))
}

/// Every priced line's amount.
fn amounts(stdout: &str) -> Vec<f64> {
    let start = stdout.find("Cost (USD a month").expect("an estimate");
    stdout[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  ") && !l.starts_with("  of which"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

/// The total the estimate prints.
fn total(stdout: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Estimated monthly cost: "))
        .unwrap_or_else(|| panic!("no total in\n{stdout}"));
    line["Estimated monthly cost: ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn plan(moto: &MotoServer, text: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.yaml");
    std::fs::write(&file, text).unwrap();
    support::cli::stackops(moto, &["plan", "-f", file.to_str().unwrap()])
}

fn example(name: &str) -> String {
    std::fs::read_to_string(format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.006
}

/// A total against the sum of its lines, each rounded to the cent.
fn sums_to(lines: &[f64], total: f64) -> bool {
    (lines.iter().sum::<f64>() - total).abs() <= 0.005 * lines.len() as f64
}

#[test]
fn plan_prices_each_example_line_by_line() {
    let moto = MotoServer::start();

    let (code, stdout, stderr) = plan(&moto, &example("ecommerce.yaml"));
    assert_eq!(code, 2, "changes pending: {stdout}{stderr}");
    assert!(stdout.contains("(0 mutating"), "{stdout}");
    // eu-west-1 list prices: t3.small 0.0228/h, gp3 0.088/GB-month, ALB
    // 0.0252/h, NAT 0.048/h, public IPv4 0.005/h, db.t4g.medium
    // PostgreSQL Multi-AZ 0.144/h, Multi-AZ gp3 0.254/GB-month.
    for (what, expected) in [
        ("2 × t3.small On-Demand", 2.0 * 730.0 * 0.0228),
        ("3 × 20 GiB gp3 root volume", 60.0 * 0.088),
        ("Application Load Balancer", 730.0 * 0.0252),
        ("2 × public IPv4 address", 2.0 * 730.0 * 0.005),
        ("1 × NAT gateway", 730.0 * 0.048),
        ("db.t4g.medium PostgreSQL Multi-AZ", 730.0 * 0.144),
        ("20 GiB gp3 storage, Multi-AZ", 20.0 * 0.254),
        ("master password secret", 0.40),
    ] {
        let got = amount(&stdout, what);
        assert!(close(got, expected), "{what}: {got} != {expected:.2}");
    }
    // The third server is Spot, at the region's average over the three
    // types and zones: well under its On-Demand price.
    let spot = amount(&stdout, "1 × Spot (t3.small, t3a.small, t2.small)");
    assert!(spot > 0.0 && spot < 0.5 * 730.0 * 0.0228, "{spot}");
    let lines = amounts(&stdout);
    let ecommerce = total(&stdout);
    assert!(sums_to(&lines, ecommerce), "{ecommerce}: {lines:?}");
    assert!(
        stdout.contains("at AWS list prices of 2026-11-01."),
        "{stdout}"
    );
    // Nothing exists yet: the whole estimate is what this plan creates.
    assert!(
        stdout.contains(&format!(
            "of which {ecommerce:.2} USD for what this plan creates"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("Not included (grows with use): ")
            && stdout.contains("load balancer capacity units (LCUs)")
            && stdout.contains("CloudFront requests and data transfer out"),
        "{stdout}"
    );
    assert!(!stdout.contains("Not priced"), "{stdout}");

    let (code, stdout, stderr) = plan(&moto, &example("booking.yaml"));
    assert_eq!(code, 2, "{stdout}{stderr}");
    for (what, expected) in [
        ("3 × m7g.large On-Demand", 3.0 * 730.0 * 0.0892),
        ("3 × NAT gateway", 3.0 * 730.0 * 0.048),
        ("3 × Elastic IP of a NAT gateway", 3.0 * 730.0 * 0.005),
    ] {
        let got = amount(&stdout, what);
        assert!(close(got, expected), "{what}: {got} != {expected:.2}");
    }
    let booking = total(&stdout);
    let lines = amounts(&stdout);
    assert!(sums_to(&lines, booking), "{booking}: {lines:?}");
    eprintln!("estimates: ecommerce {ecommerce:.2} USD, booking {booking:.2} USD a month");
}

#[test]
fn a_price_that_cannot_be_read_is_named_and_stops_nothing() {
    let moto = MotoServer::start();
    // Types the launcher's price list does not carry.
    let text = example("ecommerce.yaml")
        .replace("instanceType: t3.small", "instanceType: m5.large")
        .replace(
            "instanceTypes: [t3.small, t3a.small, t2.small]",
            "instanceTypes: [m5.large, m5a.large, m4.large]",
        );
    let (code, stdout, stderr) = plan(&moto, &text);
    assert_eq!(code, 2, "a plan as usual: {stdout}{stderr}");
    assert!(
        stdout.contains(
            "Not priced: 2 × m5.large On-Demand (Linux): no such product in the price list"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("Not priced: 1 × Spot (m5.large, m5a.large, m4.large)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("(incomplete: some prices could not be read)"),
        "{stdout}"
    );
    // What could be priced still is.
    assert!(close(
        amount(&stdout, "Application Load Balancer"),
        730.0 * 0.0252
    ));
}

/// The ecommerce example (its data deletable) with its budget's limit
/// derived from an estimate of `estimate` USD a month.
async fn priced(
    moto: &MotoServer,
    stack: &stackops::api::StackManifest,
    estimate: Option<f64>,
) -> support::stack::TestStack {
    let support::stack::TestStack { blueprint, cx } =
        support::stack::TestStack::new(&moto.endpoint, stack, "uid-budget").await;
    support::stack::TestStack {
        blueprint: blueprint.with_estimate(estimate).unwrap(),
        cx,
    }
}

/// The account's budgets as (name, limit amount, filter key and values).
async fn budgets(cx: &stackops::aws::Context) -> Vec<(String, String, String, Vec<String>)> {
    let found = cx
        .clients
        .budgets
        .describe_budgets()
        .account_id(ACCOUNT)
        .send()
        .await
        .unwrap();
    found
        .budgets()
        .iter()
        .map(|b| {
            let tags = b.filter_expression().and_then(|f| f.tags()).unwrap();
            (
                b.budget_name().to_string(),
                b.budget_limit().unwrap().amount().to_string(),
                tags.key().unwrap().to_string(),
                tags.values().to_vec(),
            )
        })
        .collect()
}

/// moto's account.
const ACCOUNT: &str = "123456789012";

#[tokio::test]
async fn a_budget_follows_the_estimate_notifies_the_alarm_topic_and_goes_with_the_stack() {
    use aws_sdk_budgets::types::NotificationType;
    use support::stack::{calls_of, node_id};

    let moto = MotoServer::start();
    let mut stack = support::stack::disposable("ecommerce.yaml");
    let test = priced(&moto, &stack, Some(224.42)).await;
    let pass = test.converge(&test.cx, 8).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    let name = format!(
        "stackops-{}-shop",
        stackops::identity::short_hash("uid-budget")
    );
    // 224.42 with 20 % headroom is 269.30: rounded up to ten dollars.
    assert_eq!(
        budgets(&test.cx).await,
        [(
            name.clone(),
            "270".to_string(),
            "stackops.io/stack".to_string(),
            vec!["default/shop".to_string()]
        )]
    );
    let budgets_client = &test.cx.clients.budgets;
    let notifications = budgets_client
        .describe_notifications_for_budget()
        .account_id(ACCOUNT)
        .budget_name(&name)
        .send()
        .await
        .unwrap();
    let mut seen: Vec<(String, f64)> = Vec::new();
    let topic = node_id(&pass, "monitoring/alarm-topic");
    for n in notifications.notifications() {
        seen.push((n.notification_type().as_str().to_string(), n.threshold()));
        let subscribers = budgets_client
            .describe_subscribers_for_notification()
            .account_id(ACCOUNT)
            .budget_name(&name)
            .notification(n.clone())
            .send()
            .await
            .unwrap();
        let addresses: Vec<&str> = subscribers
            .subscribers()
            .iter()
            .map(|s| s.address())
            .collect();
        assert_eq!(addresses, [topic.as_str()], "{n:?}");
    }
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        [
            (NotificationType::Actual.as_str().to_string(), 80.0),
            (NotificationType::Forecasted.as_str().to_string(), 100.0)
        ]
    );

    // A new estimate moves the limit with one call.
    let dearer = priced(&moto, &stack, Some(300.0)).await;
    assert!(dearer.converge(&dearer.cx, 3).await.converged);
    let calls = &dearer.cx.clients.calls;
    assert_eq!(calls_of(calls, "UpdateBudget"), 1);
    assert_eq!(calls.mutating(), 1, "{:?}", calls.mutating_calls());
    assert_eq!(budgets(&dearer.cx).await[0].1, "360");

    // No estimate (the Price List cannot be read): the budget is left as
    // it is, neither pruned nor changed, and nothing waits for prices.
    let unpriced = priced(&moto, &stack, None).await;
    assert!(unpriced.converge(&unpriced.cx, 3).await.converged);
    assert_eq!(unpriced.cx.clients.calls.mutating(), 0);
    assert_eq!(budgets(&unpriced.cx).await[0].1, "360");

    // Turned off: deleted. A limit of the spec's own needs no estimate.
    let settings = match &mut stack {
        stackops::api::StackManifest::Ecommerce(s) => &mut s.spec.settings,
        stackops::api::StackManifest::Booking(s) => &mut s.spec.settings,
    };
    settings.budget.enabled = false;
    let off = priced(&moto, &stack, Some(300.0)).await;
    assert!(off.converge(&off.cx, 3).await.converged);
    assert_eq!(calls_of(&off.cx.clients.calls, "DeleteBudget"), 1);
    assert!(budgets(&off.cx).await.is_empty());
    let settings = match &mut stack {
        stackops::api::StackManifest::Ecommerce(s) => &mut s.spec.settings,
        stackops::api::StackManifest::Booking(s) => &mut s.spec.settings,
    };
    settings.budget.enabled = true;
    settings.budget.monthly_limit_usd = Some(500);
    let fixed = priced(&moto, &stack, None).await;
    assert!(fixed.converge(&fixed.cx, 3).await.converged);
    assert_eq!(budgets(&fixed.cx).await[0].1, "500");

    // Teardown takes it with the stack.
    let gone = fixed.destroy(&fixed.cx, 12).await;
    assert!(gone.converged, "{:?}", gone.nodes);
    assert!(budgets(&fixed.cx).await.is_empty());
}
