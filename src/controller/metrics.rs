//! Prometheus metrics and health endpoints of the operator, in the text
//! exposition format, on a small HTTP listener (`GET /metrics`, `/healthz`,
//! `/readyz`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::{info, warn};

use crate::aws::calls::CallCounter;

/// Upper bounds of the reconcile duration histogram, in seconds.
const BUCKETS: [f64; 9] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Values {
    reconciles: BTreeMap<(String, String), u64>,
    durations: BTreeMap<String, Histogram>,
    drift_corrections: BTreeMap<String, u64>,
    stacks: BTreeMap<String, BTreeMap<String, usize>>,
}

/// The operator's metrics; AWS calls come from the process-wide counter.
#[derive(Default)]
pub struct Metrics {
    values: Mutex<Values>,
    ready: AtomicBool,
}

impl Metrics {
    /// One reconcile of a `kind`, its result (`ok`, `error`) and duration.
    pub fn reconciled(&self, kind: &str, result: &str, took: Duration) {
        let mut v = self.values.lock().expect("metrics lock");
        *v.reconciles
            .entry((kind.into(), result.into()))
            .or_default() += 1;
        let h = v.durations.entry(kind.into()).or_default();
        let seconds = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.buckets[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// A stack of `kind` and how many AWS resources it has (0 when gone).
    pub fn stack_resources(&self, kind: &str, stack: &str, resources: Option<usize>) {
        let mut v = self.values.lock().expect("metrics lock");
        let stacks = v.stacks.entry(kind.into()).or_default();
        match resources {
            Some(n) => stacks.insert(stack.into(), n),
            None => stacks.remove(stack),
        };
    }

    pub fn drift_corrected(&self, kind: &str, count: usize) {
        if count > 0 {
            *self
                .values
                .lock()
                .expect("metrics lock")
                .drift_corrections
                .entry(kind.into())
                .or_default() += count as u64;
        }
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self, calls: &CallCounter) -> String {
        let v = self.values.lock().expect("metrics lock");
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP stackops_reconciles_total Reconciles by kind and result.\n# TYPE stackops_reconciles_total counter"
        );
        for ((kind, result), n) in &v.reconciles {
            let _ = writeln!(
                out,
                "stackops_reconciles_total{{kind=\"{kind}\",result=\"{result}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP stackops_reconcile_duration_seconds Reconcile duration by kind.\n# TYPE stackops_reconcile_duration_seconds histogram"
        );
        for (kind, h) in &v.durations {
            for (bound, n) in BUCKETS.iter().zip(h.buckets) {
                let _ = writeln!(
                    out,
                    "stackops_reconcile_duration_seconds_bucket{{kind=\"{kind}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "stackops_reconcile_duration_seconds_bucket{{kind=\"{kind}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "stackops_reconcile_duration_seconds_sum{{kind=\"{kind}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "stackops_reconcile_duration_seconds_count{{kind=\"{kind}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP stackops_aws_calls_total AWS calls by service, operation and outcome.\n# TYPE stackops_aws_calls_total counter"
        );
        for (key, n) in calls.snapshot() {
            let _ = writeln!(
                out,
                "stackops_aws_calls_total{{service=\"{}\",operation=\"{}\",outcome=\"{}\"}} {n}",
                key.service, key.operation, key.outcome
            );
        }
        let _ = writeln!(
            out,
            "# HELP stackops_aws_call_retries_total Attempts the AWS SDK retried.\n# TYPE stackops_aws_call_retries_total counter"
        );
        let _ = writeln!(out, "stackops_aws_call_retries_total {}", calls.retries());
        let _ = writeln!(
            out,
            "# HELP stackops_managed_stacks Stacks the operator manages, by kind.\n# TYPE stackops_managed_stacks gauge"
        );
        let _ = writeln!(
            out,
            "# HELP stackops_managed_resources AWS resources of the managed stacks, by kind.\n# TYPE stackops_managed_resources gauge"
        );
        for (kind, stacks) in &v.stacks {
            let _ = writeln!(
                out,
                "stackops_managed_stacks{{kind=\"{kind}\"}} {}",
                stacks.len()
            );
            let _ = writeln!(
                out,
                "stackops_managed_resources{{kind=\"{kind}\"}} {}",
                stacks.values().sum::<usize>()
            );
        }
        let _ = writeln!(
            out,
            "# HELP stackops_drift_corrections_total Resources brought back to their spec.\n# TYPE stackops_drift_corrections_total counter"
        );
        for (kind, n) in &v.drift_corrections {
            let _ = writeln!(
                out,
                "stackops_drift_corrections_total{{kind=\"{kind}\"}} {n}"
            );
        }
        out
    }
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `addr` until the process ends.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    calls: CallCounter,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    info!(%bound, "metrics and health endpoints listening");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (metrics, calls) = (metrics.clone(), calls.clone());
            tokio::spawn(async move {
                if let Err(e) = respond(stream, &metrics, &calls).await {
                    warn!(%e, "metrics request failed");
                }
            });
        }
    });
    Ok(bound)
}

async fn respond(
    mut stream: TcpStream,
    metrics: &Metrics,
    calls: &CallCounter,
) -> std::io::Result<()> {
    // Read the request head (a scrape is a small GET), bounded in size and time.
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") && buffer.len() < 8192 {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await??;
        if read == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let request = String::from_utf8_lossy(&buffer);
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/metrics" => ("200 OK", metrics.render(calls)),
        "/healthz" => ("200 OK", "ok\n".to_string()),
        "/readyz" if metrics.ready.load(Ordering::Relaxed) => ("200 OK", "ok\n".to_string()),
        "/readyz" => ("503 Service Unavailable", "starting\n".to_string()),
        _ => ("404 Not Found", "not found\n".to_string()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_in_prometheus_text_format() {
        let metrics = Metrics::default();
        metrics.reconciled("EcommerceStack", "ok", Duration::from_millis(300));
        metrics.stack_resources("EcommerceStack", "default/shop", Some(18));
        metrics.drift_corrected("EcommerceStack", 2);
        let text = metrics.render(&CallCounter::default());
        assert!(
            text.contains("stackops_reconciles_total{kind=\"EcommerceStack\",result=\"ok\"} 1")
        );
        assert!(text.contains(
            "stackops_reconcile_duration_seconds_bucket{kind=\"EcommerceStack\",le=\"0.25\"} 0"
        ));
        assert!(text.contains(
            "stackops_reconcile_duration_seconds_bucket{kind=\"EcommerceStack\",le=\"0.5\"} 1"
        ));
        assert!(text.contains("stackops_managed_resources{kind=\"EcommerceStack\"} 18"));
        assert!(text.contains("stackops_drift_corrections_total{kind=\"EcommerceStack\"} 2"));
    }
}
