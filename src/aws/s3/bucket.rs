//! One bucket: its settings as fields, read concurrently, and the one put
//! call per setting that differs.

use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, VersioningConfiguration,
};

use super::{BUCKET, TAG_DELETION_POLICY, bucket_name, lifecycle, policy};
use crate::api::common::{BucketSpec, DeletionPolicy};
use crate::aws::prelude::*;

/// What a bucket is for: it decides its name and its default deletion policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketRole {
    /// Static front end: a build artefact, deleted with the stack by default.
    Web,
    /// User uploads: kept when the stack is deleted, unless the spec says otherwise.
    Media,
}

impl BucketRole {
    pub fn of(key: &str) -> Self {
        if key == super::WEB_BUCKET_KEY {
            Self::Web
        } else {
            Self::Media
        }
    }

    pub fn suffix(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Media => "media",
        }
    }

    /// The deletion policy when the spec names none.
    pub fn default_policy(self) -> DeletionPolicy {
        match self {
            Self::Web => DeletionPolicy::Delete,
            Self::Media => DeletionPolicy::Retain,
        }
    }
}

/// A bucket as the spec describes it. The web bucket names the node of the
/// distribution that alone may read it.
pub struct Bucket {
    pub spec: BucketSpec,
    pub role: BucketRole,
    pub reader_distribution: Option<String>,
}

impl Bucket {
    pub fn deletion_policy(&self) -> DeletionPolicy {
        self.spec
            .deletion_policy
            .unwrap_or_else(|| self.role.default_policy())
    }
}

const ALL_BLOCKED: &str = "all blocked";
const OWNER_ENFORCED: &str = "BucketOwnerEnforced";
const VERSIONING_OFF: &str = "off";

fn policy_tag(policy: DeletionPolicy) -> &'static str {
    match policy {
        DeletionPolicy::Delete => "Delete",
        // Buckets have no snapshots; the schema refuses Snapshot for them.
        DeletionPolicy::Retain | DeletionPolicy::Snapshot => "Retain",
    }
}

fn encryption_field(kms_key: Option<&str>) -> String {
    match kms_key {
        Some(key) => format!("aws:kms {key} with bucket key"),
        None => "AES256".into(),
    }
}

fn outputs(cx: &Context, name: &str) -> Fields {
    Fields::from([
        ("id".into(), name.to_string()),
        ("name".into(), name.to_string()),
        (
            "arn".into(),
            format!("arn:{}:s3:::{name}", super::super::partition(&cx.region)),
        ),
        (
            "regionalDomainName".into(),
            format!("{name}.s3.{}.amazonaws.com", cx.region),
        ),
    ])
}

/// A setting S3 answers "not configured" for: `None`. A bucket gone in the
/// meantime stays an error.
fn setting<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() && e.code != "NoSuchBucket" => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads every setting of bucket `name` (node `key`); `None` if it is gone.
pub(super) async fn observe(
    cx: &Context,
    name: &str,
    key: &str,
) -> Result<Option<Observed>, AwsError> {
    let s3 = &cx.clients.s3;
    let reads = tokio::try_join!(
        async {
            setting(
                s3.get_bucket_tagging()
                    .bucket(name)
                    .send()
                    .await
                    .map_err(sdk("GetBucketTagging")),
            )
        },
        async {
            setting(
                s3.get_public_access_block()
                    .bucket(name)
                    .send()
                    .await
                    .map_err(sdk("GetPublicAccessBlock")),
            )
        },
        async {
            setting(
                s3.get_bucket_ownership_controls()
                    .bucket(name)
                    .send()
                    .await
                    .map_err(sdk("GetBucketOwnershipControls")),
            )
        },
        async {
            setting(
                s3.get_bucket_encryption()
                    .bucket(name)
                    .send()
                    .await
                    .map_err(sdk("GetBucketEncryption")),
            )
        },
        async {
            s3.get_bucket_versioning()
                .bucket(name)
                .send()
                .await
                .map_err(sdk("GetBucketVersioning"))
        },
        async {
            setting(
                s3.get_bucket_lifecycle_configuration()
                    .bucket(name)
                    .send()
                    .await
                    .map_err(sdk("GetBucketLifecycleConfiguration")),
            )
        },
        async {
            setting(
                s3.get_bucket_policy()
                    .bucket(name)
                    .send()
                    .await
                    .map_err(sdk("GetBucketPolicy")),
            )
        },
    );
    let (tagging, access, ownership, encryption, versioning, lifecycle_rules, bucket_policy) =
        match reads {
            Ok(r) => r,
            Err(e) if e.code == "NoSuchBucket" => return Ok(None),
            Err(e) => return Err(e),
        };

    let tags: BTreeMap<String, String> = tagging
        .iter()
        .flat_map(|t| t.tag_set())
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    let mut fields = tag_fields(&tags);
    let blocked = access
        .as_ref()
        .and_then(|a| a.public_access_block_configuration())
        .map(|c| {
            [
                ("BlockPublicAcls", c.block_public_acls()),
                ("IgnorePublicAcls", c.ignore_public_acls()),
                ("BlockPublicPolicy", c.block_public_policy()),
                ("RestrictPublicBuckets", c.restrict_public_buckets()),
            ]
            .into_iter()
            .filter(|(_, on)| *on != Some(true))
            .map(|(name, _)| name)
            .collect::<Vec<_>>()
        });
    fields.insert(
        "publicAccessBlock".into(),
        match blocked {
            Some(open) if open.is_empty() => ALL_BLOCKED.into(),
            Some(open) => format!("not blocked: {}", open.join(", ")),
            None => "none".into(),
        },
    );
    fields.insert(
        "objectOwnership".into(),
        ownership
            .as_ref()
            .and_then(|o| o.ownership_controls())
            .and_then(|c| c.rules().first())
            .map(|r| r.object_ownership().as_str().to_string())
            .unwrap_or_else(|| "ACLs enabled".into()),
    );
    let rule = encryption
        .as_ref()
        .and_then(|e| e.server_side_encryption_configuration())
        .and_then(|c| c.rules().first());
    fields.insert(
        "encryption".into(),
        match rule.and_then(|r| r.apply_server_side_encryption_by_default()) {
            Some(d) if d.sse_algorithm() == &ServerSideEncryption::AwsKms => {
                let key = d.kms_master_key_id().unwrap_or("aws/s3");
                if rule.and_then(|r| r.bucket_key_enabled()) == Some(true) {
                    encryption_field(Some(key))
                } else {
                    format!("aws:kms {key}")
                }
            }
            Some(d) => d.sse_algorithm().as_str().to_string(),
            None => "none".into(),
        },
    );
    fields.insert(
        "versioning".into(),
        match versioning.status() {
            Some(BucketVersioningStatus::Enabled) => "Enabled".into(),
            _ => VERSIONING_OFF.into(),
        },
    );
    fields.insert(
        "lifecycleRules".into(),
        lifecycle::observed(lifecycle_rules.as_ref().map_or(&[][..], |l| l.rules())),
    );
    fields.insert(
        "policy".into(),
        bucket_policy
            .as_ref()
            .and_then(|p| p.policy())
            .map_or_else(|| "none".into(), policy::canonical),
    );
    let outputs = outputs(cx, name);
    Ok(Some(Observed {
        component: key.to_string(),
        id: name.to_string(),
        arn: outputs.get("arn").cloned(),
        outputs,
        fields,
        status: Status::Ready,
    }))
}

#[async_trait]
impl Resource<AwsClients> for Bucket {
    fn kind(&self) -> Kind {
        &BUCKET
    }

    fn desired(&self, key: &str, cx: &Context, inputs: &Inputs) -> Fields {
        let name = bucket_name(cx, key);
        let reader = self
            .reader_distribution
            .as_ref()
            .map(|d| inputs.get(d, "arn"));
        let mut fields = cx.identity.tag_fields(key);
        fields.insert(
            format!("tag:{TAG_DELETION_POLICY}"),
            policy_tag(self.deletion_policy()).into(),
        );
        fields.extend([
            ("publicAccessBlock".into(), ALL_BLOCKED.into()),
            ("objectOwnership".into(), OWNER_ENFORCED.into()),
            (
                "encryption".into(),
                encryption_field(self.spec.kms_key_id.as_deref()),
            ),
            (
                "versioning".into(),
                if self.spec.versioning {
                    "Enabled".into()
                } else {
                    VERSIONING_OFF.into()
                },
            ),
            (
                "lifecycleRules".into(),
                lifecycle::desired(&self.spec.lifecycle_rules),
            ),
            (
                "policy".into(),
                policy::canonical(&policy::document(
                    &outputs(cx, &name)["arn"],
                    reader.as_deref(),
                )),
            ),
        ]);
        fields
    }

    /// CreateBucket takes no setting but the ownership: tags, public access
    /// block, encryption, versioning, lifecycle and policy are one put each.
    /// Since 2023 AWS blocks public access and encrypts (SSE-S3) new buckets
    /// by default, so there the create skips those two puts (unless the
    /// spec names a KMS key); an emulator or an older partition may not.
    fn create_calls(&self) -> Vec<&'static str> {
        let mut calls = vec![
            "CreateBucket",
            "PutBucketTagging",
            "PutPublicAccessBlock",
            "PutBucketEncryption",
        ];
        if self.spec.versioning {
            calls.push("PutBucketVersioning");
        }
        if !self.spec.lifecycle_rules.is_empty() {
            calls.push("PutBucketLifecycleConfiguration");
        }
        calls.push("PutBucketPolicy");
        calls
    }

    /// Creates the bucket (ACLs disabled in the same call), then puts only
    /// the settings S3 did not give it by default.
    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let name = bucket_name(cx, key);
        let mut create = cx
            .clients
            .s3
            .create_bucket()
            .bucket(&name)
            .object_ownership(ObjectOwnership::BucketOwnerEnforced);
        // us-east-1 is the one region S3 wants without a location constraint.
        if cx.region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(cx.region.as_str()))
                    .build(),
            );
        }
        match create.send().await.map_err(sdk("CreateBucket")) {
            Ok(_) => {}
            // Made by an earlier pass that did not live to see the answer.
            Err(e) if e.code == "BucketAlreadyOwnedByYou" => {}
            Err(e) if e.code == "BucketAlreadyExists" => {
                return Err(AwsError::new(
                    ErrorClass::Terminal,
                    "CreateBucket",
                    &e.code,
                    format!(
                        "bucket name {name} belongs to another AWS account; bucket names are \
                         global (rename the stack or recreate it for a new uid)"
                    ),
                ));
            }
            Err(e) => return Err(e),
        }
        let current = observe(cx, &name, key)
            .await?
            .ok_or_else(|| missing("CreateBucket"))?;
        let desired = self.desired(key, cx, inputs);
        let changes = crate::engine::diff(&desired, &current.fields);
        self.update(key, cx, inputs, &current, &changes).await?;
        Ok(Observed {
            fields: desired,
            ..current
        })
    }

    async fn update(
        &self,
        key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        let s3 = &cx.clients.s3;
        let name = current.id.as_str();
        let changed = |field: &str| changes.touches(field);
        let desired = self.desired(key, cx, inputs);
        // Tags first: they carry the deletion policy teardown relies on.
        if changes.tags().next().is_some() {
            // Tags set out of band (cost allocation...) are kept.
            let mut tags: BTreeMap<&str, &str> = current
                .fields
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("tag:")?, v.as_str())))
                .collect();
            tags.extend(
                desired
                    .iter()
                    .filter_map(|(k, v)| Some((k.strip_prefix("tag:")?, v.as_str()))),
            );
            let tag_set = tags
                .into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(built_wrongly("S3"))?;
            s3.put_bucket_tagging()
                .bucket(name)
                .tagging(
                    Tagging::builder()
                        .set_tag_set(Some(tag_set))
                        .build()
                        .map_err(built_wrongly("S3"))?,
                )
                .send()
                .await
                .map_err(sdk("PutBucketTagging"))?;
        }
        if changed("publicAccessBlock") {
            s3.put_public_access_block()
                .bucket(name)
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(true)
                        .ignore_public_acls(true)
                        .block_public_policy(true)
                        .restrict_public_buckets(true)
                        .build(),
                )
                .send()
                .await
                .map_err(sdk("PutPublicAccessBlock"))?;
        }
        if changed("objectOwnership") {
            let rule = OwnershipControlsRule::builder()
                .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                .build()
                .map_err(built_wrongly("S3"))?;
            s3.put_bucket_ownership_controls()
                .bucket(name)
                .ownership_controls(
                    OwnershipControls::builder()
                        .rules(rule)
                        .build()
                        .map_err(built_wrongly("S3"))?,
                )
                .send()
                .await
                .map_err(sdk("PutBucketOwnershipControls"))?;
        }
        if changed("encryption") {
            let by_default = match &self.spec.kms_key_id {
                Some(key) => ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::AwsKms)
                    .kms_master_key_id(key),
                None => ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256),
            }
            .build()
            .map_err(built_wrongly("S3"))?;
            let rule = ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(by_default)
                .set_bucket_key_enabled(self.spec.kms_key_id.as_ref().map(|_| true))
                .build();
            s3.put_bucket_encryption()
                .bucket(name)
                .server_side_encryption_configuration(
                    ServerSideEncryptionConfiguration::builder()
                        .rules(rule)
                        .build()
                        .map_err(built_wrongly("S3"))?,
                )
                .send()
                .await
                .map_err(sdk("PutBucketEncryption"))?;
        }
        if changed("versioning") {
            // Versioning once on can only be suspended, never removed.
            let status = if self.spec.versioning {
                BucketVersioningStatus::Enabled
            } else {
                BucketVersioningStatus::Suspended
            };
            s3.put_bucket_versioning()
                .bucket(name)
                .versioning_configuration(VersioningConfiguration::builder().status(status).build())
                .send()
                .await
                .map_err(sdk("PutBucketVersioning"))?;
        }
        if changed("lifecycleRules") {
            match lifecycle::configuration(&self.spec.lifecycle_rules)
                .map_err(built_wrongly("S3"))?
            {
                Some(config) => {
                    s3.put_bucket_lifecycle_configuration()
                        .bucket(name)
                        .lifecycle_configuration(config)
                        .send()
                        .await
                        .map_err(sdk("PutBucketLifecycleConfiguration"))?;
                }
                None => {
                    s3.delete_bucket_lifecycle()
                        .bucket(name)
                        .send()
                        .await
                        .map_err(sdk("DeleteBucketLifecycle"))?;
                }
            }
        }
        if changed("policy") {
            let reader = self
                .reader_distribution
                .as_ref()
                .map(|d| inputs.require(d, "arn"))
                .transpose()?;
            s3.put_bucket_policy()
                .bucket(name)
                .policy(policy::document(
                    &outputs(cx, name)["arn"],
                    reader.as_deref(),
                ))
                .send()
                .await
                .map_err(sdk("PutBucketPolicy"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_buckets_go_with_the_stack_and_media_buckets_stay() {
        let web = Bucket {
            spec: BucketSpec::default(),
            role: BucketRole::Web,
            reader_distribution: None,
        };
        assert_eq!(web.deletion_policy(), DeletionPolicy::Delete);
        let media = Bucket {
            spec: BucketSpec::default(),
            role: BucketRole::Media,
            reader_distribution: None,
        };
        assert_eq!(media.deletion_policy(), DeletionPolicy::Retain);
        let emptied = Bucket {
            spec: BucketSpec {
                deletion_policy: Some(DeletionPolicy::Delete),
                ..BucketSpec::default()
            },
            role: BucketRole::Media,
            reader_distribution: None,
        };
        assert_eq!(emptied.deletion_policy(), DeletionPolicy::Delete);
    }
}
