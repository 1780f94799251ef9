//! The origin access control: CloudFront signs every request to the web
//! bucket (SigV4, always), so the bucket can refuse everyone else.

use aws_sdk_cloudfront::types::{
    OriginAccessControlConfig, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols, OriginAccessControlSummary,
};

use crate::aws::prelude::*;
use crate::identity::owned_stem;

pub struct OriginAccessControlKind;
pub static ORIGIN_ACCESS_CONTROL: OriginAccessControlKind = OriginAccessControlKind;

/// The stack's access control to its web bucket.
pub struct OriginAccessControl;

/// Its name: deterministic, and how it is found (it takes no tags).
fn name(cx: &Context) -> String {
    // CloudFront allows 64 characters.
    let mut stem = owned_stem(&cx.identity.name, &cx.identity.uid);
    stem.truncate(60);
    format!("{}-web", stem.trim_end_matches('-'))
}

fn settings() -> Fields {
    Fields::from([
        ("signingProtocol".into(), "sigv4".into()),
        ("signingBehavior".into(), "always".into()),
        ("originType".into(), "s3".into()),
    ])
}

fn config(cx: &Context) -> Result<OriginAccessControlConfig, AwsError> {
    OriginAccessControlConfig::builder()
        .name(name(cx))
        .description(format!(
            "Web bucket of {} (stackops)",
            cx.identity.stack_tag()
        ))
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        .signing_behavior(OriginAccessControlSigningBehaviors::Always)
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
        .build()
        .map_err(built_wrongly("CloudFront"))
}

fn observed(summary: &OriginAccessControlSummary) -> Observed {
    Observed {
        component: super::OAC_KEY.into(),
        id: summary.id().to_string(),
        arn: None,
        fields: Fields::from([
            (
                "signingProtocol".into(),
                summary.signing_protocol().as_str().to_string(),
            ),
            (
                "signingBehavior".into(),
                summary.signing_behavior().as_str().to_string(),
            ),
            (
                "originType".into(),
                summary
                    .origin_access_control_origin_type()
                    .as_str()
                    .to_string(),
            ),
        ]),
        outputs: Fields::from([("id".into(), summary.id().to_string())]),
        status: Status::Ready,
    }
}

async fn find(cx: &Context) -> Result<Vec<Observed>, AwsError> {
    let wanted = name(cx);
    // Every access control of the account: shared, parsed once, by every
    // stack while reads are shared.
    let all = cx
        .clients
        .listed_account_wide("cloudfront:ListOriginAccessControls", || async {
            cx.clients
                .cloudfront
                .list_origin_access_controls()
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(sdk("ListOriginAccessControls"))
        })
        .await?;
    Ok(all
        .iter()
        .filter(|s| s.name() == wanted)
        .map(observed)
        .collect())
}

/// The ETag of access control `id`, which updates and deletes must name.
async fn etag(cx: &Context, id: &str) -> Result<String, AwsError> {
    let got = cx
        .clients
        .cloudfront
        .get_origin_access_control()
        .id(id)
        .send()
        .await
        .map_err(sdk("GetOriginAccessControl"))?;
    got.e_tag()
        .map(String::from)
        .ok_or_else(|| missing("GetOriginAccessControl"))
}

#[async_trait]
impl KindOps<AwsClients> for OriginAccessControlKind {
    fn name(&self) -> &'static str {
        "OriginAccessControl"
    }

    fn rank(&self) -> u8 {
        0
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        find(cx).await
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let tag = etag(cx, &observed.id).await?;
        cx.clients
            .cloudfront
            .delete_origin_access_control()
            .id(&observed.id)
            .if_match(tag)
            .send()
            .await
            .map_err(sdk("DeleteOriginAccessControl"))
            .deleted()
    }
}

#[async_trait]
impl Resource<AwsClients> for OriginAccessControl {
    fn kind(&self) -> Kind {
        &ORIGIN_ACCESS_CONTROL
    }

    fn desired(&self, _key: &str, _cx: &Context, _inputs: &Inputs) -> Fields {
        settings()
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateOriginAccessControl"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let created = cx
            .clients
            .cloudfront
            .create_origin_access_control()
            .origin_access_control_config(config(cx)?)
            .send()
            .await
            .map_err(sdk("CreateOriginAccessControl"));
        let id = match created {
            Ok(out) => out
                .origin_access_control()
                .map(|o| o.id().to_string())
                .ok_or_else(|| missing("CreateOriginAccessControl"))?,
            // Made by an earlier pass that did not live to see the answer.
            Err(e) if e.code == "OriginAccessControlAlreadyExists" => {
                find(cx).await?.into_iter().next().map(|o| o.id).ok_or(e)?
            }
            Err(e) => return Err(e),
        };
        Ok(Observed {
            component: key.to_string(),
            id: id.clone(),
            arn: None,
            fields: self.desired(key, cx, inputs),
            outputs: Fields::from([("id".into(), id)]),
            status: Status::Ready,
        })
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        _inputs: &Inputs,
        current: &Observed,
        _changes: &[Change],
    ) -> Result<(), AwsError> {
        let tag = etag(cx, &current.id).await?;
        cx.clients
            .cloudfront
            .update_origin_access_control()
            .id(&current.id)
            .if_match(tag)
            .origin_access_control_config(config(cx)?)
            .send()
            .await
            .map_err(sdk("UpdateOriginAccessControl"))?;
        Ok(())
    }
}
