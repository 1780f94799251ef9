//! What users connect to, read from the outputs of a pass's nodes. Only
//! addresses, ports and ARNs: never a secret value (none is ever an output).

use crate::api::status::StackOutputs;
use crate::aws::cloudfront::DISTRIBUTION_KEY;
use crate::aws::cloudwatch::{ALARMS_KEY, DASHBOARD_KEY};
use crate::aws::elasticache::{AUTH_TOKEN_KEY, REPLICATION_GROUP_KEY};
use crate::aws::elbv2::LOAD_BALANCER_KEY;
use crate::aws::rds::{MAX_REPLICAS, PRIMARY_KEY, replica_key};
use crate::aws::s3::{MEDIA_BUCKET_KEY, WEB_BUCKET_KEY};
use crate::aws::ssm::PARAMETERS_KEY;
use crate::engine::PassOutcome;

use super::monitoring::APP_LOG_GROUP_KEY;

/// The stack's outputs and its main endpoint (CDN domain, else the load
/// balancer's DNS name).
pub fn collect(pass: &PassOutcome) -> (StackOutputs, Option<String>) {
    let output = |key: &str, field: &str| {
        pass.node(key)
            .and_then(|n| n.outputs.get(field))
            .filter(|value| !value.is_empty())
            .cloned()
    };
    let port = |key: &str| output(key, "port").and_then(|p| p.parse().ok());
    let load_balancer_dns = output(LOAD_BALANCER_KEY, "dnsName");
    let outputs = StackOutputs {
        load_balancer_dns: load_balancer_dns.clone(),
        database_endpoint: output(PRIMARY_KEY, "address"),
        database_reader_endpoints: (1..=MAX_REPLICAS)
            .filter_map(|i| output(&replica_key(i), "address"))
            .collect(),
        database_port: port(PRIMARY_KEY),
        database_secret_arn: output(PRIMARY_KEY, "secretArn"),
        cache_endpoint: output(REPLICATION_GROUP_KEY, "address"),
        cache_reader_endpoint: output(REPLICATION_GROUP_KEY, "readerAddress"),
        cache_port: port(REPLICATION_GROUP_KEY),
        cache_secret_arn: output(AUTH_TOKEN_KEY, "arn"),
        cdn_domain: output(DISTRIBUTION_KEY, "domainName"),
        buckets: [("web", WEB_BUCKET_KEY), ("media", MEDIA_BUCKET_KEY)]
            .into_iter()
            .filter_map(|(role, key)| Some((role.to_string(), output(key, "name")?)))
            .collect(),
        dashboard: output(DASHBOARD_KEY, "id"),
        alarms: output(ALARMS_KEY, "names")
            .map(|names| names.split(',').map(String::from).collect())
            .unwrap_or_default(),
        log_group: output(APP_LOG_GROUP_KEY, "id"),
        parameters_path: output(PARAMETERS_KEY, "path"),
    };
    let endpoint = outputs.cdn_domain.clone().or(load_balancer_dns);
    (outputs, endpoint)
}
