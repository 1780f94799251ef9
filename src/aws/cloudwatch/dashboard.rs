//! The stack's CloudWatch dashboard: a graph per tier it has (load
//! balancer traffic, errors and latency, servers' CPU, database, cache,
//! CDN, the CDN's firewall, the security metrics). Found by
//! `ListDashboards` with the stack's name prefix; its body is read back
//! and compared by SHA-256 digest of its canonical JSON, so an edit out of
//! band is put back by one `PutDashboard`.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{CLOUDFRONT_METRICS_REGION, Sources, node_label, stem};
use crate::aws::prelude::*;

pub struct DashboardKind;
pub static DASHBOARD: DashboardKind = DashboardKind;

/// The dashboard of the tiers in `sources`.
pub struct Dashboard {
    pub sources: Sources,
}

/// Width and height of a graph (the grid is 24 wide): two per row.
const WIDTH: i64 = 12;
const HEIGHT: i64 = 6;

/// The stack's dashboard name: the stem itself.
fn name(cx: &Context) -> String {
    stem(cx)
}

/// SHA-256 (hex) of the body's canonical JSON (keys sorted, no spaces), so
/// formatting AWS may change is not taken for drift.
pub fn digest(body: &str) -> String {
    let canonical = serde_json::from_str::<Value>(body)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| body.to_string());
    Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One metric line of a graph: namespace, metric, dimension pairs, and
/// options (statistic, label).
fn metric(namespace: &str, name: &str, dimensions: &[(&str, &str)], options: Value) -> Value {
    let mut line = vec![json!(namespace), json!(name)];
    for (k, v) in dimensions {
        line.push(json!(k));
        line.push(json!(v));
    }
    line.push(options);
    Value::Array(line)
}

/// The name in a web ACL's ARN (`...:global/webacl/<name>/<id>`), which
/// WAF's metrics are published by.
fn web_acl_name(arn: &str) -> Option<&str> {
    let mut parts = arn.rsplit('/');
    parts.next()?;
    parts.next()
}

impl Dashboard {
    /// The dashboard body for the resources named in `inputs`.
    fn body(&self, cx: &Context, inputs: &Inputs) -> String {
        let s = &self.sources;
        let lb = inputs.get(&s.load_balancer, "arnSuffix");
        let tg = inputs.get(&s.target_group, "arnSuffix");
        let group = inputs.get(&s.group, "id");
        let lb_dims = [("LoadBalancer", lb.as_str())];
        let elb = "AWS/ApplicationELB";
        let mut graphs: Vec<(String, Option<&str>, Vec<Value>)> = vec![
            (
                "Load balancer: requests and 5xx (sum / 5 min)".into(),
                None,
                vec![
                    metric(elb, "RequestCount", &lb_dims, json!({"stat": "Sum"})),
                    metric(
                        elb,
                        "HTTPCode_ELB_5XX_Count",
                        &lb_dims,
                        json!({"stat": "Sum"}),
                    ),
                    metric(
                        elb,
                        "HTTPCode_Target_5XX_Count",
                        &lb_dims,
                        json!({"stat": "Sum"}),
                    ),
                ],
            ),
            (
                "Load balancer: target response time (s)".into(),
                None,
                ["p50", "p90", "p99"]
                    .iter()
                    .map(|p| metric(elb, "TargetResponseTime", &lb_dims, json!({"stat": p})))
                    .collect(),
            ),
            (
                "Targets: healthy and unhealthy".into(),
                None,
                ["HealthyHostCount", "UnHealthyHostCount"]
                    .iter()
                    .map(|m| {
                        metric(
                            elb,
                            m,
                            &[("TargetGroup", tg.as_str()), ("LoadBalancer", lb.as_str())],
                            json!({"stat": "Maximum"}),
                        )
                    })
                    .collect(),
            ),
            (
                "Application servers: CPU (%)".into(),
                None,
                vec![metric(
                    "AWS/EC2",
                    "CPUUtilization",
                    &[("AutoScalingGroupName", group.as_str())],
                    json!({"stat": "Average"}),
                )],
            ),
        ];
        let mut databases = vec![("primary".to_string(), inputs.get(&s.database, "id"))];
        for (i, replica) in s.replicas.iter().enumerate() {
            databases.push((format!("replica {}", i + 1), inputs.get(replica, "id")));
        }
        for (title, name, stat) in [
            ("Database: CPU (%)", "CPUUtilization", "Average"),
            ("Database: connections", "DatabaseConnections", "Maximum"),
            (
                "Database: free storage (bytes)",
                "FreeStorageSpace",
                "Minimum",
            ),
        ] {
            graphs.push((
                title.into(),
                None,
                databases
                    .iter()
                    .map(|(label, id)| {
                        metric(
                            "AWS/RDS",
                            name,
                            &[("DBInstanceIdentifier", id.as_str())],
                            json!({"stat": stat, "label": label}),
                        )
                    })
                    .collect(),
            ));
        }
        if databases.len() > 1 {
            graphs.push((
                "Database: replica lag (s)".into(),
                None,
                databases[1..]
                    .iter()
                    .map(|(label, id)| {
                        metric(
                            "AWS/RDS",
                            "ReplicaLag",
                            &[("DBInstanceIdentifier", id.as_str())],
                            json!({"stat": "Maximum", "label": label}),
                        )
                    })
                    .collect(),
            ));
        }
        if let Some(cache) = &s.cache {
            let cache_id = inputs.get(cache, "id");
            let nodes = s.cache_nodes(inputs);
            for (title, name) in [
                ("Cache: engine CPU (%)", "EngineCPUUtilization"),
                ("Cache: memory used (%)", "DatabaseMemoryUsagePercentage"),
            ] {
                graphs.push((
                    title.into(),
                    None,
                    nodes
                        .iter()
                        .map(|node| {
                            metric(
                                "AWS/ElastiCache",
                                name,
                                &[("CacheClusterId", node.as_str())],
                                json!({"stat": "Average", "label": node_label(&cache_id, node)}),
                            )
                        })
                        .collect(),
                ));
            }
        }
        if let Some(distribution) = &s.distribution {
            let id = inputs.get(distribution, "id");
            let dims = [("DistributionId", id.as_str()), ("Region", "Global")];
            let cdn = "AWS/CloudFront";
            graphs.push((
                "CDN: requests (sum / 5 min)".into(),
                Some(CLOUDFRONT_METRICS_REGION),
                vec![metric(cdn, "Requests", &dims, json!({"stat": "Sum"}))],
            ));
            graphs.push((
                "CDN: error rate (%)".into(),
                Some(CLOUDFRONT_METRICS_REGION),
                ["4xxErrorRate", "5xxErrorRate", "TotalErrorRate"]
                    .iter()
                    .map(|m| metric(cdn, m, &dims, json!({"stat": "Average"})))
                    .collect(),
            ));
        }
        if !s.security.is_empty() {
            graphs.push((
                "Security: refused connections, failed logins (sum / 5 min)".into(),
                None,
                s.security
                    .iter()
                    .map(|(m, filter)| {
                        metric(
                            &inputs.get(filter, "namespace"),
                            m.name,
                            &[],
                            json!({"stat": "Sum"}),
                        )
                    })
                    .collect(),
            ));
        }
        if let Some(web_acl) = s.web_acl.as_deref().and_then(web_acl_name) {
            // A CloudFront web ACL's metrics live in us-east-1, like the CDN's.
            graphs.push((
                "CDN firewall: blocked and allowed requests (sum / 5 min)".into(),
                Some(CLOUDFRONT_METRICS_REGION),
                ["BlockedRequests", "AllowedRequests"]
                    .iter()
                    .map(|m| {
                        metric(
                            "AWS/WAFV2",
                            m,
                            &[("WebACL", web_acl), ("Rule", "ALL")],
                            json!({"stat": "Sum"}),
                        )
                    })
                    .collect(),
            ));
        }
        let mut widgets = vec![json!({
            "type": "text",
            "x": 0, "y": 0, "width": 24, "height": 1,
            "properties": {"markdown": format!("## {} (managed by stackops)", cx.identity.stack_tag())},
        })];
        for (i, (title, region, metrics)) in graphs.into_iter().enumerate() {
            let i = i as i64;
            widgets.push(json!({
                "type": "metric",
                "x": (i % 2) * WIDTH,
                "y": 1 + (i / 2) * HEIGHT,
                "width": WIDTH,
                "height": HEIGHT,
                "properties": {
                    "title": title,
                    "region": region.unwrap_or(cx.region.as_str()),
                    "view": "timeSeries",
                    "stacked": false,
                    "period": 300,
                    "metrics": metrics,
                },
            }));
        }
        json!({"widgets": widgets}).to_string()
    }

    async fn put(&self, cx: &Context, inputs: &Inputs) -> Result<(), AwsError> {
        cx.clients
            .cloudwatch
            .put_dashboard()
            .dashboard_name(name(cx))
            .dashboard_body(self.body(cx, inputs))
            .send()
            .await
            .map_err(sdk("PutDashboard"))?;
        Ok(())
    }
}

fn outputs(name: &str) -> Fields {
    Fields::from([("id".to_string(), name.to_string())])
}

/// The body of dashboard `name`, or `None` when it is gone.
async fn read_body(cx: &Context, name: &str) -> Result<Option<String>, AwsError> {
    let found = cx
        .clients
        .cloudwatch
        .get_dashboard()
        .dashboard_name(name)
        .send()
        .await
        .map_err(sdk("GetDashboard"))
        .found()?;
    Ok(found.map(|f| f.dashboard_body().unwrap_or_default().to_string()))
}

#[async_trait]
impl KindOps<AwsClients> for DashboardKind {
    fn name(&self) -> &'static str {
        "Dashboard"
    }

    /// Above everything it graphs (the Auto Scaling group and replicas are
    /// 4, the distribution 3).
    fn rank(&self) -> u8 {
        6
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let name = name(cx);
        let entries = cx
            .clients
            .listed("cloudwatch:ListDashboards", || async {
                cx.clients
                    .cloudwatch
                    .list_dashboards()
                    // The prefix also matches longer names; only the exact one is ours.
                    .dashboard_name_prefix(super::listed(cx))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("ListDashboards"))
            })
            .await?;
        let Some(entry) = entries
            .iter()
            .find(|e| e.dashboard_name() == Some(name.as_str()))
        else {
            return Ok(Vec::new());
        };
        // Every PutDashboard changes the entry's last-modified time, so the
        // body is read again only when the shared list shows a change.
        let modified = entry.last_modified().map(|t| (t.secs(), t.subsec_nanos()));
        let witness = crate::aws::shared_lists::witness(&(modified, entry.size()));
        let body = cx
            .clients
            .read_while_witnessed(&format!("cloudwatch:GetDashboard {name}"), witness, || {
                read_body(cx, &name)
            })
            .await?;
        // None: deleted between the two calls.
        let Some(body) = body else {
            return Ok(Vec::new());
        };
        Ok(vec![Observed {
            component: super::DASHBOARD_KEY.into(),
            id: name.clone(),
            arn: entry.dashboard_arn().map(String::from),
            fields: Fields::from([("bodyDigest".to_string(), digest(&body))]),
            outputs: outputs(&name),
            status: Status::Ready,
        }])
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let deleted = cx
            .clients
            .cloudwatch
            .delete_dashboards()
            .dashboard_names(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteDashboards"));
        deleted.deleted()
    }
}

#[async_trait]
impl Resource<AwsClients> for Dashboard {
    fn kind(&self) -> Kind {
        &DASHBOARD
    }

    fn desired(&self, _key: &str, cx: &Context, inputs: &Inputs) -> Fields {
        Fields::from([("bodyDigest".to_string(), digest(&self.body(cx, inputs)))])
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["PutDashboard"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        if let Some(cache) = &self.sources.cache {
            inputs.require(cache, "memberClusters")?;
        }
        self.put(cx, inputs).await?;
        let name = name(cx);
        Ok(Observed {
            component: key.into(),
            id: name.clone(),
            arn: None,
            fields: self.desired(key, cx, inputs),
            outputs: outputs(&name),
            status: Status::Ready,
        })
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        inputs: &Inputs,
        _current: &Observed,
        _changes: &[Change],
    ) -> Result<(), AwsError> {
        if let Some(cache) = &self.sources.cache {
            inputs.require(cache, "memberClusters")?;
        }
        self.put(cx, inputs).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_ignores_formatting_and_key_order() {
        assert_eq!(
            digest(r#"{"widgets": [], "b": 1}"#),
            digest(r#"{"b":1,"widgets":[]}"#)
        );
        assert_ne!(digest(r#"{"widgets":[]}"#), digest(r#"{"widgets":[1]}"#));
    }

    #[test]
    fn waf_metrics_are_named_by_the_web_acls_name() {
        let arn = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/shop-acl/a1b2c3";
        assert_eq!(web_acl_name(arn), Some("shop-acl"));
        assert_eq!(web_acl_name("no-slash"), None);
    }
}
