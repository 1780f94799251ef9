//! The operator's Prometheus metrics and health endpoints: `GET /metrics`
//! in the OpenMetrics text format (prometheus-client), `/healthz` and
//! `/readyz`, served by axum. No HTTP or exposition code is written here.
//!
//! AWS calls are not copied into the registry: the process-wide
//! [`CallCounter`] already holds them (the engine and the tests read it
//! too), so a collector reads it at each scrape. One source of truth, exact
//! values, and nothing to keep in step.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::aws::calls::CallCounter;

/// Every metric name starts with this and `_`.
const PREFIX: &str = "stackops";

/// Upper bounds of the reconcile duration histogram, in seconds.
const BUCKETS: [f64; 9] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// What `/metrics` answers with; Prometheus asks for it first.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    kind: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StackLabels {
    kind: String,
    namespace: String,
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    service: String,
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: String,
}

fn duration_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// A stack by namespace and name.
type StackKey = (String, String);

/// The operator's own metrics; AWS calls come from the process-wide counter.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    durations: Family<KindLabels, Histogram, fn() -> Histogram>,
    drift_corrections: Family<KindLabels, Counter>,
    managed_stacks: Family<KindLabels, Gauge>,
    managed_resources: Family<KindLabels, Gauge>,
    stack_ready: Family<StackLabels, Gauge>,
    leader: Gauge,
    resync: Gauge,
    /// AWS resources of each stack, by kind: the per-kind gauges sum it.
    stacks: Mutex<BTreeMap<String, BTreeMap<StackKey, usize>>>,
    ready: AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        let durations = Family::new_with_constructor(duration_histogram as fn() -> Histogram);
        let drift_corrections = Family::<KindLabels, Counter>::default();
        let managed_stacks = Family::<KindLabels, Gauge>::default();
        let managed_resources = Family::<KindLabels, Gauge>::default();
        let stack_ready = Family::<StackLabels, Gauge>::default();
        let leader = Gauge::default();
        let resync = Gauge::default();

        let mut registry = Registry::with_prefix(PREFIX);
        registry.register(
            "reconciles",
            "Reconciles by kind and result (ok, error, deleting)",
            reconciles.clone(),
        );
        registry.register_with_unit(
            "reconcile_duration",
            "Reconcile duration by kind",
            Unit::Seconds,
            durations.clone(),
        );
        registry.register(
            "managed_stacks",
            "Stacks the operator manages, by kind",
            managed_stacks.clone(),
        );
        registry.register(
            "managed_resources",
            "AWS resources of the managed stacks, by kind",
            managed_resources.clone(),
        );
        registry.register(
            "stack_ready",
            "1 while a managed stack is Ready, else 0",
            stack_ready.clone(),
        );
        registry.register(
            "drift_corrections",
            "Resources brought back to their spec, by kind",
            drift_corrections.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica reconciles (holds the leader Lease, or leader election is off)",
            leader.clone(),
        );
        registry.register_with_unit(
            "ready_resync",
            "How long a Ready stack waits before it is looked at again: the resync interval, longer while the replica is behind",
            Unit::Seconds,
            resync.clone(),
        );
        Self {
            registry,
            reconciles,
            durations,
            drift_corrections,
            managed_stacks,
            managed_resources,
            stack_ready,
            leader,
            resync,
            stacks: Mutex::default(),
            ready: AtomicBool::new(false),
        }
    }
}

impl Metrics {
    /// One reconcile of a `kind`, its result (`ok`, `error`, `deleting`) and duration.
    pub fn reconciled(&self, kind: &str, result: &str, took: Duration) {
        self.reconciles
            .get_or_create(&ReconcileLabels {
                kind: kind.into(),
                result: result.into(),
            })
            .inc();
        self.durations
            .get_or_create(&KindLabels { kind: kind.into() })
            .observe(took.as_secs_f64());
    }

    /// A stack of `kind` and how many AWS resources its last pass saw.
    pub fn stack_resources(&self, kind: &str, namespace: &str, name: &str, resources: usize) {
        self.set_resources(kind, (namespace.into(), name.into()), Some(resources));
    }

    /// Whether a stack of `kind` is Ready, as its status now says.
    pub fn stack_ready(&self, kind: &str, namespace: &str, name: &str, ready: bool) {
        self.stack_ready
            .get_or_create(&stack_labels(kind, namespace, name))
            .set(i64::from(ready));
    }

    /// A stack whose AWS resources are all gone: its series go with it.
    pub fn stack_gone(&self, kind: &str, namespace: &str, name: &str) {
        self.stack_ready
            .remove(&stack_labels(kind, namespace, name));
        self.set_resources(kind, (namespace.into(), name.into()), None);
    }

    fn set_resources(&self, kind: &str, stack: StackKey, resources: Option<usize>) {
        let mut stacks = self.stacks.lock().expect("metrics lock");
        let of_kind = stacks.entry(kind.into()).or_default();
        match resources {
            Some(n) => of_kind.insert(stack, n),
            None => of_kind.remove(&stack),
        };
        // Set under the lock, so two reconciles cannot publish stale sums.
        let labels = KindLabels { kind: kind.into() };
        self.managed_stacks
            .get_or_create(&labels)
            .set(gauge_value(of_kind.len()));
        self.managed_resources
            .get_or_create(&labels)
            .set(gauge_value(of_kind.values().sum()));
    }

    /// Stacks of every kind that have had a pass here.
    pub fn held_stacks(&self) -> usize {
        let stacks = self.stacks.lock().expect("metrics lock");
        stacks.values().map(BTreeMap::len).sum()
    }

    /// The wait of a Ready stack before its next look.
    pub fn ready_resync(&self, wait: Duration) {
        self.resync
            .set(i64::try_from(wait.as_secs()).unwrap_or(i64::MAX));
    }

    pub fn drift_corrected(&self, kind: &str, count: usize) {
        if count > 0 {
            self.drift_corrections
                .get_or_create(&KindLabels { kind: kind.into() })
                .inc_by(count as u64);
        }
    }

    /// Whether this replica reconciles: it holds the leader Lease, or
    /// leader election is off.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The metrics, with the AWS calls of `calls`, in the OpenMetrics text
    /// format (ending in `# EOF`).
    pub fn render(&self, calls: &CallCounter) -> String {
        let mut aws = Registry::with_prefix(PREFIX);
        aws.register_collector(Box::new(AwsCalls(calls.clone())));
        let mut text = String::new();
        encode_registry(&mut text, &self.registry)
            .and_then(|()| encode_registry(&mut text, &aws))
            .and_then(|()| encode_eof(&mut text))
            // Writing to a String cannot fail, nor can these metric types.
            .expect("metrics encode");
        text
    }
}

fn stack_labels(kind: &str, namespace: &str, name: &str) -> StackLabels {
    StackLabels {
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
    }
}

fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The process-wide AWS call counts, read at each scrape.
#[derive(Debug)]
struct AwsCalls(CallCounter);

impl Collector for AwsCalls {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        // Descriptors are written even before the first call, so the
        // families are known (and documented) from the first scrape.
        let mut calls = encoder.encode_descriptor(
            "aws_calls",
            "AWS calls by service, operation and outcome (ok, or error:<HTTP status>), each counted once however many attempts it took.",
            None,
            MetricType::Counter,
        )?;
        for (key, n) in self.0.snapshot() {
            let labels = CallLabels {
                service: key.service,
                operation: key.operation,
                outcome: key.outcome,
            };
            ConstCounter::new(n).encode(calls.encode_family(&labels)?)?;
        }

        let retries = encoder.encode_descriptor(
            "aws_call_retries",
            "Attempts the AWS SDK retried.",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(self.0.retries()).encode(retries)?;

        let shared = encoder.encode_descriptor(
            "aws_reads_shared",
            "AWS reads answered from a read made for another stack (or an earlier pass) within the shared-read window: calls not made.",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(self.0.shared()).encode(shared)?;

        let delayed = self.0.delayed();
        let mut calls_delayed = encoder.encode_descriptor(
            "aws_calls_delayed",
            "AWS calls that waited for the call budget (calls a second per account, region and service), by service.",
            None,
            MetricType::Counter,
        )?;
        for (service, d) in &delayed {
            ConstCounter::new(d.calls).encode(calls_delayed.encode_family(&ServiceLabels {
                service: service.clone(),
            })?)?;
        }
        let mut waited = encoder.encode_descriptor(
            "aws_call_budget_wait",
            "Time AWS calls spent waiting for the call budget, by service.",
            Some(&Unit::Seconds),
            MetricType::Counter,
        )?;
        for (service, d) in &delayed {
            ConstCounter::new(d.waited.as_secs_f64()).encode(waited.encode_family(
                &ServiceLabels {
                    service: service.clone(),
                },
            )?)?;
        }

        let mut throttled = encoder.encode_descriptor(
            "aws_throttled",
            "AWS responses with a throttling error code, by service (every attempt counts).",
            None,
            MetricType::Counter,
        )?;
        for (service, n) in self.0.throttled() {
            ConstCounter::new(n).encode(throttled.encode_family(&ServiceLabels { service })?)?;
        }
        Ok(())
    }
}

#[derive(Clone)]
struct Endpoints {
    metrics: Arc<Metrics>,
    calls: CallCounter,
}

async fn scrape(State(endpoints): State<Endpoints>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        endpoints.metrics.render(&endpoints.calls),
    )
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// 503 until the operator has started its controllers.
async fn readyz(State(endpoints): State<Endpoints>) -> (StatusCode, &'static str) {
    if endpoints.metrics.is_ready() {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n")
    }
}

fn router(metrics: Arc<Metrics>, calls: CallCounter) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(Endpoints { metrics, calls })
}

/// Binds `addr` and serves `/metrics`, `/healthz` and `/readyz` there in
/// the background until the process ends; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    calls: CallCounter,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    info!(%bound, "metrics and health endpoints listening");
    let app = router(metrics, calls);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            warn!(%e, "metrics endpoint stopped");
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every sample line of `text` as (series with labels, value).
    fn samples(text: &str) -> Vec<(&str, &str)> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.rsplit_once(' ').expect("name and value"))
            .collect()
    }

    fn value<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        samples(text)
            .into_iter()
            .find(|(s, _)| *s == series)
            .map(|(_, v)| v)
    }

    #[test]
    fn metrics_render_in_openmetrics_text() {
        let metrics = Metrics::default();
        metrics.reconciled("EcommerceStack", "ok", Duration::from_millis(300));
        metrics.reconciled("EcommerceStack", "error", Duration::from_secs(40));
        metrics.stack_resources("EcommerceStack", "default", "shop", 18);
        metrics.stack_resources("EcommerceStack", "other", "shop", 4);
        metrics.stack_ready("EcommerceStack", "default", "shop", true);
        metrics.stack_ready("EcommerceStack", "other", "shop", false);
        metrics.drift_corrected("EcommerceStack", 2);
        metrics.set_leader(true);
        metrics.ready_resync(Duration::from_secs(412));
        assert_eq!(metrics.held_stacks(), 2);
        let calls = CallCounter::default();
        calls.record_shared();
        calls.record_shared();
        calls.record_delayed("ec2", Duration::from_millis(250));
        calls.record_delayed("ec2", Duration::from_millis(250));
        let text = metrics.render(&calls);
        assert_eq!(value(&text, "stackops_aws_reads_shared_total"), Some("2"));
        assert_eq!(value(&text, "stackops_ready_resync_seconds"), Some("412"));
        assert_eq!(
            value(&text, r#"stackops_aws_calls_delayed_total{service="ec2"}"#),
            Some("2")
        );
        assert_eq!(
            value(
                &text,
                r#"stackops_aws_call_budget_wait_seconds_total{service="ec2"}"#
            ),
            Some("0.5")
        );

        let expect = |series: &str, wanted: &str| {
            assert_eq!(value(&text, series), Some(wanted), "{series} in\n{text}");
        };
        expect(
            r#"stackops_reconciles_total{kind="EcommerceStack",result="ok"}"#,
            "1",
        );
        expect(
            r#"stackops_reconciles_total{kind="EcommerceStack",result="error"}"#,
            "1",
        );
        // The same buckets as ever; 40 s lands only in +Inf.
        for (le, n) in [
            ("0.05", "0"),
            ("0.25", "0"),
            ("0.5", "1"),
            ("1.0", "1"),
            ("30.0", "1"),
            ("+Inf", "2"),
        ] {
            expect(
                &format!(
                    r#"stackops_reconcile_duration_seconds_bucket{{le="{le}",kind="EcommerceStack"}}"#
                ),
                n,
            );
        }
        let buckets = samples(&text)
            .iter()
            .filter(|(s, _)| s.starts_with("stackops_reconcile_duration_seconds_bucket"))
            .count();
        assert_eq!(buckets, BUCKETS.len() + 1);
        expect(
            r#"stackops_reconcile_duration_seconds_count{kind="EcommerceStack"}"#,
            "2",
        );
        expect(
            r#"stackops_reconcile_duration_seconds_sum{kind="EcommerceStack"}"#,
            "40.3",
        );
        expect(r#"stackops_managed_stacks{kind="EcommerceStack"}"#, "2");
        expect(r#"stackops_managed_resources{kind="EcommerceStack"}"#, "22");
        expect(
            r#"stackops_stack_ready{kind="EcommerceStack",namespace="default",name="shop"}"#,
            "1",
        );
        expect(
            r#"stackops_stack_ready{kind="EcommerceStack",namespace="other",name="shop"}"#,
            "0",
        );
        expect(
            r#"stackops_drift_corrections_total{kind="EcommerceStack"}"#,
            "2",
        );
        expect("stackops_leader", "1");
        expect("stackops_aws_call_retries_total", "0");

        // OpenMetrics: typed families, a unit, and the end marker.
        for line in [
            "# TYPE stackops_reconciles counter",
            "# TYPE stackops_reconcile_duration_seconds histogram",
            "# UNIT stackops_reconcile_duration_seconds seconds",
            "# TYPE stackops_stack_ready gauge",
            "# TYPE stackops_leader gauge",
            "# TYPE stackops_aws_calls counter",
            "# TYPE stackops_aws_call_retries counter",
            "# TYPE stackops_aws_throttled counter",
            "# TYPE stackops_aws_reads_shared counter",
            "# TYPE stackops_aws_calls_delayed counter",
            "# TYPE stackops_aws_call_budget_wait_seconds counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert_eq!(text.matches("# EOF").count(), 1);
    }

    #[test]
    fn a_stack_that_is_gone_leaves_the_gauges() {
        let metrics = Metrics::default();
        metrics.stack_resources("BookingPlatform", "default", "hotel", 30);
        metrics.stack_ready("BookingPlatform", "default", "hotel", true);
        metrics.stack_gone("BookingPlatform", "default", "hotel");
        let text = metrics.render(&CallCounter::default());
        assert!(!text.contains("stackops_stack_ready{"), "{text}");
        assert_eq!(
            value(&text, r#"stackops_managed_stacks{kind="BookingPlatform"}"#),
            Some("0")
        );
        assert_eq!(
            value(
                &text,
                r#"stackops_managed_resources{kind="BookingPlatform"}"#
            ),
            Some("0")
        );
        // Not leading until told so.
        assert_eq!(value(&text, "stackops_leader"), Some("0"));
    }

    async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let content_type = head
            .lines()
            .find_map(|l| l.strip_prefix("content-type: "))
            .unwrap_or_default()
            .to_string();
        (status, content_type, body.to_string())
    }

    #[tokio::test]
    async fn endpoints_answer_over_http() {
        let metrics = Arc::new(Metrics::default());
        let addr = serve(
            ([127, 0, 0, 1], 0).into(),
            metrics.clone(),
            CallCounter::default(),
        )
        .await
        .unwrap();
        assert_eq!(get(addr, "/healthz").await.0, 200);
        assert_eq!(get(addr, "/readyz").await.0, 503);
        metrics.set_ready();
        assert_eq!(get(addr, "/readyz").await.0, 200);
        let (status, content_type, body) = get(addr, "/metrics").await;
        assert_eq!((status, content_type.as_str()), (200, CONTENT_TYPE));
        assert!(body.contains("stackops_aws_call_retries_total 0"), "{body}");
        assert!(body.ends_with("# EOF\n"));
        assert_eq!(get(addr, "/other").await.0, 404);
    }
}
