//! What users connect to, read from the outputs of a pass's nodes.

use crate::api::status::StackOutputs;
use crate::aws::elbv2::LOAD_BALANCER_KEY;
use crate::engine::PassOutcome;

/// The stack's outputs and its main endpoint (CDN domain, else the load
/// balancer's DNS name). Only the load balancer is built so far; the other
/// outputs arrive with their tiers.
pub fn collect(pass: &PassOutcome) -> (StackOutputs, Option<String>) {
    let load_balancer_dns = pass
        .node(LOAD_BALANCER_KEY)
        .and_then(|n| n.outputs.get("dnsName"))
        .filter(|dns| !dns.is_empty())
        .cloned();
    let outputs = StackOutputs {
        load_balancer_dns: load_balancer_dns.clone(),
        ..StackOutputs::default()
    };
    let endpoint = outputs.cdn_domain.clone().or(load_balancer_dns);
    (outputs, endpoint)
}
