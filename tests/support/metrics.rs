//! Reading the operator's `/metrics` endpoint.

use std::collections::BTreeMap;
use std::io::{Read, Write};

/// `GET path` on 127.0.0.1:`port`: (status line, body).
pub fn get(port: u16, path: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    // The server keeps connections alive unless asked not to; this reads to EOF.
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

/// AWS calls the operator on `metrics_port` made, by operation, summed over
/// services and outcomes.
pub fn calls_by_operation(metrics_port: u16) -> BTreeMap<String, u64> {
    let (_, body) = get(metrics_port, "/metrics");
    assert!(body.ends_with("# EOF\n"), "incomplete /metrics: {body}");
    let mut calls = BTreeMap::new();
    for line in body.lines() {
        let Some(rest) = line.strip_prefix("stackops_aws_calls_total{") else {
            continue;
        };
        let (labels, value) = rest.split_once("} ").unwrap();
        let operation = labels
            .split(',')
            .find_map(|l| l.strip_prefix("operation=\""))
            .unwrap()
            .trim_end_matches('"')
            .to_string();
        *calls.entry(operation).or_insert(0) += value.trim().parse::<u64>().unwrap();
    }
    calls
}
