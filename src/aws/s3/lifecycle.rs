//! Lifecycle rules: from the spec to S3's configuration, and both sides to
//! one comparable text, so a rule edited out of band is put back.

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
    LifecycleExpiration, LifecycleRule as AwsRule, LifecycleRuleFilter,
    NoncurrentVersionExpiration, Transition as AwsTransition, TransitionStorageClass,
};
use aws_smithy_types::error::operation::BuildError;

use crate::api::common::{LifecycleRule, StorageClass};

/// The comparable text of no rules.
const NONE: &str = "none";

fn storage_class(class: StorageClass) -> &'static str {
    match class {
        StorageClass::STANDARD_IA => "STANDARD_IA",
        StorageClass::INTELLIGENT_TIERING => "INTELLIGENT_TIERING",
        StorageClass::GLACIER_IR => "GLACIER_IR",
        StorageClass::GLACIER => "GLACIER",
        StorageClass::DEEP_ARCHIVE => "DEEP_ARCHIVE",
    }
}

/// One rule's text: `id prefix=p 30:STANDARD_IA,90:GLACIER expire=N
/// noncurrent=N abort-uploads=N`, the parts it has.
struct RuleText<'a> {
    id: &'a str,
    enabled: bool,
    prefix: &'a str,
    transitions: Vec<(i32, String)>,
    expiration: Option<i32>,
    noncurrent: Option<i32>,
    abort_uploads: Option<i32>,
}

impl RuleText<'_> {
    fn render(mut self) -> String {
        self.transitions.sort();
        let mut parts = vec![self.id.to_string()];
        if !self.enabled {
            parts.push("disabled".into());
        }
        parts.push(format!("prefix={}", self.prefix));
        if !self.transitions.is_empty() {
            let t: Vec<String> = self
                .transitions
                .iter()
                .map(|(days, class)| format!("{days}:{class}"))
                .collect();
            parts.push(t.join(","));
        }
        for (name, days) in [
            ("expire", self.expiration),
            ("noncurrent", self.noncurrent),
            ("abort-uploads", self.abort_uploads),
        ] {
            if let Some(days) = days {
                parts.push(format!("{name}={days}"));
            }
        }
        parts.join(" ")
    }
}

fn join(mut rules: Vec<String>) -> String {
    if rules.is_empty() {
        return NONE.into();
    }
    rules.sort();
    rules.join("; ")
}

/// The spec's rules as text.
pub fn desired(rules: &[LifecycleRule]) -> String {
    join(
        rules
            .iter()
            .map(|r| {
                RuleText {
                    id: &r.id,
                    enabled: true,
                    prefix: r.prefix.as_deref().unwrap_or_default(),
                    transitions: r
                        .transitions
                        .iter()
                        .flatten()
                        .map(|t| (t.days, storage_class(t.storage_class).to_string()))
                        .collect(),
                    expiration: r.expiration_days,
                    noncurrent: r.noncurrent_expiration_days,
                    abort_uploads: r.abort_incomplete_multipart_upload_days,
                }
                .render()
            })
            .collect(),
    )
}

/// S3's rules as text.
pub fn observed(rules: &[AwsRule]) -> String {
    join(
        rules
            .iter()
            .map(|r| {
                RuleText {
                    id: r.id().unwrap_or_default(),
                    enabled: r.status() == &ExpirationStatus::Enabled,
                    prefix: r
                        .filter()
                        .and_then(|f| f.prefix())
                        // Rules made before filters existed carry the prefix on the rule.
                        .or({
                            #[allow(deprecated)]
                            r.prefix()
                        })
                        .unwrap_or_default(),
                    transitions: r
                        .transitions()
                        .iter()
                        .map(|t| {
                            (
                                t.days().unwrap_or_default(),
                                t.storage_class()
                                    .map(|c| c.as_str().to_string())
                                    .unwrap_or_default(),
                            )
                        })
                        .collect(),
                    expiration: r.expiration().and_then(|e| e.days()),
                    noncurrent: r
                        .noncurrent_version_expiration()
                        .and_then(|e| e.noncurrent_days()),
                    abort_uploads: r
                        .abort_incomplete_multipart_upload()
                        .and_then(|a| a.days_after_initiation()),
                }
                .render()
            })
            .collect(),
    )
}

/// S3's configuration for the spec's rules; `None` when there are none.
pub fn configuration(
    rules: &[LifecycleRule],
) -> Result<Option<BucketLifecycleConfiguration>, BuildError> {
    if rules.is_empty() {
        return Ok(None);
    }
    let mut config = BucketLifecycleConfiguration::builder();
    for r in rules {
        let mut rule = AwsRule::builder()
            .id(&r.id)
            .status(ExpirationStatus::Enabled)
            .filter(
                LifecycleRuleFilter::builder()
                    .prefix(r.prefix.clone().unwrap_or_default())
                    .build(),
            );
        for t in r.transitions.iter().flatten() {
            rule = rule.transitions(
                AwsTransition::builder()
                    .days(t.days)
                    .storage_class(TransitionStorageClass::from(storage_class(t.storage_class)))
                    .build(),
            );
        }
        if let Some(days) = r.expiration_days {
            rule = rule.expiration(LifecycleExpiration::builder().days(days).build());
        }
        if let Some(days) = r.noncurrent_expiration_days {
            rule = rule.noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(days)
                    .build(),
            );
        }
        if let Some(days) = r.abort_incomplete_multipart_upload_days {
            rule = rule.abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(days)
                    .build(),
            );
        }
        config = config.rules(rule.build()?);
    }
    Ok(Some(config.build()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::Transition;

    fn archive_rule() -> LifecycleRule {
        LifecycleRule {
            id: "archive".into(),
            prefix: Some("uploads/".into()),
            transitions: Some(vec![
                Transition {
                    days: 90,
                    storage_class: StorageClass::GLACIER,
                },
                Transition {
                    days: 30,
                    storage_class: StorageClass::STANDARD_IA,
                },
            ]),
            expiration_days: Some(365),
            noncurrent_expiration_days: Some(30),
            abort_incomplete_multipart_upload_days: None,
        }
    }

    #[test]
    fn what_s3_is_given_reads_back_as_the_spec() {
        let rules = vec![archive_rule()];
        let config = configuration(&rules).unwrap().unwrap();
        assert_eq!(observed(config.rules()), desired(&rules));
        assert_eq!(
            desired(&rules),
            "archive prefix=uploads/ 30:STANDARD_IA,90:GLACIER expire=365 noncurrent=30"
        );
    }

    #[test]
    fn no_rules_is_no_configuration() {
        assert!(configuration(&[]).unwrap().is_none());
        assert_eq!(desired(&[]), observed(&[]));
    }
}
