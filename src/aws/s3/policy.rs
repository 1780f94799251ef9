//! The bucket policy: TLS only, and for the web bucket, reads by the
//! stack's CloudFront distribution alone (origin access control, scoped by
//! the distribution's ARN).

use serde_json::{Value, json};

/// The policy document of the bucket `bucket_arn`, readable by the
/// distribution `reader` when there is one.
pub fn document(bucket_arn: &str, reader: Option<&str>) -> String {
    let objects = format!("{bucket_arn}/*");
    let mut statements = vec![json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, objects],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    })];
    if let Some(distribution) = reader {
        statements.push(json!({
            "Sid": "AllowStackDistributionRead",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": objects,
            "Condition": {"StringEquals": {"AWS:SourceArn": distribution}},
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// A policy in one comparable form: keys sorted, no whitespace, one-element
/// lists as their element (S3 may hand a policy back in either form).
pub fn canonical(policy: &str) -> String {
    match serde_json::from_str::<Value>(policy) {
        Ok(value) => simplify(value).to_string(),
        Err(_) => policy.to_string(),
    }
}

fn simplify(value: Value) -> Value {
    match value {
        Value::Array(mut items) if items.len() == 1 => simplify(items.remove(0)),
        Value::Array(items) => Value::Array(items.into_iter().map(simplify).collect()),
        // Sorted keys whatever the map type (serde_json may keep insertion order).
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, simplify(v)))
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_iter()
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_web_bucket_is_read_only_by_its_distribution() {
        let doc: Value = serde_json::from_str(&document(
            "arn:aws:s3:::shop-1a2b3c4d-web",
            Some("arn:aws:cloudfront::123456789012:distribution/E1"),
        ))
        .unwrap();
        let allow = &doc["Statement"][1];
        assert_eq!(allow["Effect"], "Allow");
        assert_eq!(allow["Principal"]["Service"], "cloudfront.amazonaws.com");
        assert_eq!(allow["Action"], "s3:GetObject");
        assert_eq!(
            allow["Condition"]["StringEquals"]["AWS:SourceArn"],
            "arn:aws:cloudfront::123456789012:distribution/E1"
        );
        let deny = &doc["Statement"][0];
        assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
    }

    #[test]
    fn media_buckets_only_refuse_plain_http() {
        let doc: Value = serde_json::from_str(&document("arn:aws:s3:::b", None)).unwrap();
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn reformatted_policies_compare_equal() {
        let ours = document("arn:aws:s3:::b", None);
        let theirs = r#"{ "Statement": { "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"], "Action": ["s3:*"],
            "Principal": "*", "Effect": "Deny", "Sid": "DenyInsecureTransport" },
            "Version": "2012-10-17" }"#;
        assert_eq!(canonical(&ours), canonical(theirs));
    }
}
