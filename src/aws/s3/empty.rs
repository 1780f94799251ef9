//! Emptying a bucket before deleting it: every object version and delete
//! marker, 1000 per call, a bounded number of batches per pass so a huge
//! bucket never holds a worker for long; then every incomplete multipart
//! upload, whose parts would otherwise keep the bucket from being deleted.

use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use crate::aws::built_wrongly;
use crate::aws::prelude::*;

/// Batches of 1000 removed per pass at most.
const BATCHES_PER_PASS: usize = 20;

/// Aborts the incomplete multipart uploads of `bucket` (1000 at most per
/// pass; a later pass takes the rest), returning how many.
async fn abort_uploads(cx: &Context, bucket: &str) -> Result<usize, AwsError> {
    let s3 = &cx.clients.s3;
    let found = s3
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .map_err(sdk("ListMultipartUploads"))?;
    let mut aborted = 0;
    for upload in found.uploads() {
        let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) else {
            continue;
        };
        s3.abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .send()
            .await
            .map_err(sdk("AbortMultipartUpload"))
            .or_gone()?;
        aborted += 1;
    }
    Ok(aborted)
}

/// Removes the objects of `bucket`, then the bucket once it is empty.
pub async fn empty_then_delete(cx: &Context, bucket: &str) -> Result<Deletion, AwsError> {
    let s3 = &cx.clients.s3;
    let mut removed = 0usize;
    for _ in 0..BATCHES_PER_PASS {
        let page = match s3
            .list_object_versions()
            .bucket(bucket)
            .max_keys(1000)
            .send()
            .await
            .map_err(sdk("ListObjectVersions"))
        {
            Ok(page) => page,
            Err(e) if e.code == "NoSuchBucket" => return Ok(Deletion::Done),
            Err(e) => return Err(e),
        };
        let versions = page
            .versions()
            .iter()
            .map(|v| (v.key(), v.version_id()))
            .chain(
                page.delete_markers()
                    .iter()
                    .map(|m| (m.key(), m.version_id())),
            );
        let objects = versions
            .filter_map(|(key, version)| {
                ObjectIdentifier::builder()
                    .key(key?)
                    .set_version_id(version.map(String::from))
                    .build()
                    .ok()
            })
            .collect::<Vec<_>>();
        if objects.is_empty() && removed > 0 {
            // Deleted on the next pass, so the count reaches status and events.
            tracing::info!(bucket, removed, "bucket emptied");
            return Ok(Deletion::InProgress(format!(
                "emptied bucket {bucket}: {removed} object versions removed"
            )));
        }
        if objects.is_empty() {
            let aborted = abort_uploads(cx, bucket).await?;
            if aborted > 0 {
                tracing::info!(bucket, aborted, "incomplete uploads aborted");
            }
            return s3
                .delete_bucket()
                .bucket(bucket)
                .send()
                .await
                .map_err(sdk("DeleteBucket"))
                .deleted();
        }
        let count = objects.len();
        let batch = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(built_wrongly("DeleteObjects"))?;
        let result = s3
            .delete_objects()
            .bucket(bucket)
            .delete(batch)
            .send()
            .await
            .map_err(sdk("DeleteObjects"))?;
        if let Some(failed) = result.errors().first() {
            return Err(AwsError::new(
                ErrorClass::Retryable,
                "DeleteObjects",
                failed.code().unwrap_or("Unknown"),
                format!(
                    "{} of {count} objects not deleted from {bucket}, e.g. {}: {}",
                    result.errors().len(),
                    failed.key().unwrap_or_default(),
                    failed.message().unwrap_or_default()
                ),
            ));
        }
        removed += count;
    }
    tracing::info!(bucket, removed, "emptying bucket, more to go");
    Ok(Deletion::InProgress(format!(
        "emptying bucket {bucket}: {removed} object versions removed this pass, more remain"
    )))
}
