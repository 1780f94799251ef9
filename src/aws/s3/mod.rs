//! S3 buckets of the stack: the web bucket (static front end, read only by
//! the stack's CloudFront distribution) and the media bucket.
//!
//! A bucket's name is deterministic (`<stack>-<hash>-<role>`), so one
//! ListBuckets call finds the stack's buckets; S3 has no describe that
//! returns a bucket's settings, so each setting is one read, made
//! concurrently. Every setting is a field: public access block, object
//! ownership, default encryption, versioning, lifecycle rules, the bucket
//! policy and the tags (which carry the deletion policy, so teardown
//! without the spec still knows it).

mod bucket;
mod empty;
mod lifecycle;
pub(crate) mod policy;

pub use bucket::{Bucket, BucketRole};

use crate::api::common::DeletionPolicy;
use crate::aws::prelude::*;
use crate::identity::{NameRule, owned_stem, short_hash};

pub struct BucketKind;
pub static BUCKET: BucketKind = BucketKind;

/// Every S3 kind.
pub const KINDS: &[Kind] = &[&BUCKET];

/// Node key of the web bucket.
pub const WEB_BUCKET_KEY: &str = "edge/web-bucket";
/// Node key of the media bucket.
pub const MEDIA_BUCKET_KEY: &str = "storage/media-bucket";

/// Tag holding the bucket's deletion policy.
pub use super::rds::TAG_DELETION_POLICY;

/// The name of the bucket of node `key`: `stackops-<hash>-<stack>-<role>`,
/// within S3's 63 characters. The fixed prefix lets IAM scope the grants
/// to `stackops-*`; the hash makes the global name the stack's own.
pub fn bucket_name(cx: &Context, key: &str) -> String {
    name_for(&cx.identity, key)
}

/// The name of the bucket of node `key` of the stack `identity`.
pub fn name_for(identity: &StackIdentity, key: &str) -> String {
    let suffix = BucketRole::of(key).suffix();
    let mut stem = owned_stem(&identity.name, &identity.uid);
    stem.truncate(NameRule::Bucket.max_len() - suffix.len() - 1);
    format!("{}-{suffix}", stem.trim_end_matches('-'))
}

/// What teardown does with a bucket: the spec's word when teardown has the
/// spec, else the bucket's tag, else keep it (the safe choice).
fn deletion_policy(cx: &Context, observed: &Observed) -> DeletionPolicy {
    if let Some(policy) = cx.data.bucket_policies.get(&observed.component) {
        return *policy;
    }
    match observed
        .fields
        .get(&format!("tag:{TAG_DELETION_POLICY}"))
        .map(String::as_str)
    {
        Some("Delete") => DeletionPolicy::Delete,
        _ => DeletionPolicy::Retain,
    }
}

#[async_trait]
impl KindOps<AwsClients> for BucketKind {
    fn name(&self) -> &'static str {
        "S3Bucket"
    }

    /// Highest but one: the web bucket's policy names the distribution, so
    /// the bucket comes after it, and is deleted before it.
    fn rank(&self) -> u8 {
        5
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let wanted: Vec<(String, &str)> = [WEB_BUCKET_KEY, MEDIA_BUCKET_KEY]
            .into_iter()
            .map(|key| (bucket_name(cx, key), key))
            .collect();
        // Shared: every stack's buckets of this region (ListBuckets would
        // answer the whole account's from any region), one read for every
        // stack of the region; each keeps its own by name either way.
        let shared = cx.clients.reads.shares();
        let buckets = cx
            .clients
            .listed("s3:ListBuckets", || async {
                let mut buckets = Vec::new();
                let mut token = None;
                loop {
                    let page = cx
                        .clients
                        .s3
                        .list_buckets()
                        .prefix(if shared {
                            "stackops-".to_string()
                        } else {
                            format!("stackops-{}-", short_hash(&cx.identity.uid))
                        })
                        .set_bucket_region(shared.then(|| cx.region.clone()))
                        .set_continuation_token(token)
                        .send()
                        .await
                        .map_err(sdk("ListBuckets"))?;
                    token = page.continuation_token().map(String::from);
                    buckets.extend(page.buckets.unwrap_or_default());
                    if token.is_none() {
                        return Ok(buckets);
                    }
                }
            })
            .await?;
        let mut found = Vec::new();
        for b in buckets.iter() {
            let name = b.name().unwrap_or_default();
            if let Some((_, key)) = wanted.iter().find(|(n, _)| n == name) {
                found.push((name.to_string(), *key));
            }
        }
        let mut observed = Vec::with_capacity(found.len());
        for (name, key) in found {
            if let Some(o) = bucket::observe(cx, &name, key).await? {
                observed.push(o);
            }
        }
        Ok(observed)
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        if deletion_policy(cx, observed) == DeletionPolicy::Retain {
            return Ok(Deletion::Retained {
                message: format!(
                    "bucket {} retained (deletionPolicy Retain): it stays in AWS with its \
                     objects, settings and tags",
                    observed.id
                ),
                keep: Vec::new(),
            });
        }
        empty::empty_then_delete(cx, &observed.id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(name: &str) -> StackIdentity {
        StackIdentity {
            namespace: "default".into(),
            name: name.into(),
            uid: "0b9a6c1e-5d2f-4f7e-9a53-1c2d3e4f5a6b".into(),
            extra_tags: Default::default(),
        }
    }

    #[test]
    fn bucket_names_are_valid_owned_and_distinct() {
        let long = "a-very-long-stack-name-that-goes-on-and-on-and-on-beyond-any-limit";
        for name in ["shop", long, "Weird_Name.v2"] {
            let web = name_for(&identity(name), WEB_BUCKET_KEY);
            let media = name_for(&identity(name), MEDIA_BUCKET_KEY);
            for bucket in [&web, &media] {
                assert!(NameRule::Bucket.accepts(bucket), "{bucket}");
                assert!(bucket.starts_with("stackops-"), "{bucket}");
            }
            assert!(web.ends_with("-web") && media.ends_with("-media"));
        }
        assert_eq!(
            name_for(&identity("shop"), WEB_BUCKET_KEY),
            format!("stackops-{}-shop-web", short_hash(&identity("shop").uid))
        );
    }
}
