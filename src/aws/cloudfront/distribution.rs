//! The distribution. Created with its tags in one call, under a
//! deterministic caller reference (a retried create finds the first one);
//! changed with the ETag of the configuration it replaces; deleted by
//! disabling it, waiting on later passes until the disabled configuration
//! is deployed, then deleting it: no worker ever waits on CloudFront.

use aws_sdk_cloudfront::types::{DistributionConfigWithTags, DistributionSummary, Tag, Tags};

use super::config::{self, ApiTarget, Origins2};
use crate::api::common::CdnSpec;
use crate::aws::prelude::*;
use crate::aws::{built_wrongly, missing, s3, secrets};

pub struct DistributionKind;
pub static DISTRIBUTION: DistributionKind = DistributionKind;

/// The stack's distribution, reading the access control node and, for the
/// API paths, the load balancer and origin secret nodes.
pub struct Distribution {
    pub spec: CdnSpec,
    pub access_control: String,
    pub api_origin: Option<ApiOrigin>,
}

/// Where the API paths go: the load balancer node, reached over HTTPS at
/// `https_domain` when set (a name its certificate covers), else over HTTP
/// at its AWS host name; every request carries the header from `secret`.
pub struct ApiOrigin {
    pub load_balancer: String,
    pub secret: String,
    pub https_domain: Option<String>,
}

impl ApiOrigin {
    /// The target, with `header` as given (the value, or its digest).
    fn target(&self, dns: String, header: String) -> ApiTarget {
        ApiTarget {
            domain: self.https_domain.clone().unwrap_or(dns),
            https: self.https_domain.is_some(),
            header,
        }
    }
}

/// CloudFront's state once a configuration is live everywhere.
const DEPLOYED: &str = "Deployed";

fn caller_reference(cx: &Context, key: &str) -> String {
    format!("stackops-{}-{key}", cx.identity.uid)
}

/// The web bucket's domain: from its deterministic name, so the bucket
/// (whose policy names this distribution) can come after it.
fn bucket_domain(cx: &Context) -> String {
    format!(
        "{}.s3.{}.amazonaws.com",
        s3::bucket_name(cx, s3::WEB_BUCKET_KEY),
        cx.region
    )
}

/// A distribution as the list shows it, kept in the compared form: the
/// list is the account's and shared by every stack, and CloudFront's
/// summaries (origins, behaviours) are tens of kilobytes each parsed.
struct Listed {
    comment: String,
    observed: Observed,
}

/// A distribution as AWS names it, its state, and `fields` to compare.
struct Seen<'a> {
    id: &'a str,
    arn: &'a str,
    domain: &'a str,
    status: &'a str,
}

impl Seen<'_> {
    fn observed(&self, component: String, fields: Fields) -> Observed {
        Observed {
            component,
            id: self.id.to_string(),
            arn: Some(self.arn.to_string()),
            outputs: Fields::from([
                ("id".into(), self.id.to_string()),
                ("arn".into(), self.arn.to_string()),
                ("domainName".into(), self.domain.to_string()),
            ]),
            status: if self.status == DEPLOYED {
                Status::Ready
            } else {
                Status::Deploying(self.status.to_string())
            },
            fields,
        }
    }
}

fn listed(d: &DistributionSummary) -> Listed {
    let mut fields = config::observed_fields(d);
    fields.insert("status".into(), d.status().to_string());
    let seen = Seen {
        id: d.id(),
        arn: d.arn(),
        domain: d.domain_name(),
        status: d.status(),
    };
    Listed {
        comment: d.comment().to_string(),
        observed: seen.observed(String::new(), fields),
    }
}

/// The stack's own, with its node key from the comment.
fn observed(cx: &Context, d: &Listed) -> Option<Observed> {
    let rest = d.comment.strip_prefix(&config::owner_prefix(cx))?;
    let mut observed = d.observed.clone();
    observed.component = rest.split(' ').next().unwrap_or_default().to_string();
    Some(observed)
}

async fn list(cx: &Context) -> Result<Vec<Observed>, AwsError> {
    // Every distribution of the account (CloudFront filters by nothing):
    // shared, parsed once, by every stack while reads are shared.
    let all = cx
        .clients
        .listed_account_wide("cloudfront:ListDistributions", || async {
            let summaries: Vec<DistributionSummary> = cx
                .clients
                .cloudfront
                .list_distributions()
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(sdk("ListDistributions"))?;
            Ok(summaries.iter().map(listed).collect::<Vec<_>>())
        })
        .await?;
    Ok(all.iter().filter_map(|d| observed(cx, d)).collect())
}

impl Distribution {
    /// The origins, with the header's value read from its secret.
    async fn origins(&self, cx: &Context, inputs: &Inputs) -> Result<Origins2, AwsError> {
        let api = match &self.api_origin {
            Some(origin) => {
                let value = secrets::read(cx, &inputs.require(&origin.secret, "arn")?).await?;
                Some(origin.target(inputs.require(&origin.load_balancer, "dnsName")?, value))
            }
            None => None,
        };
        Ok(Origins2 {
            bucket_domain: bucket_domain(cx),
            access_control_id: inputs.require(&self.access_control, "id")?,
            api,
        })
    }
}

#[async_trait]
impl KindOps<AwsClients> for DistributionKind {
    fn name(&self) -> &'static str {
        "Distribution"
    }

    /// Above the load balancer it routes the API to.
    fn rank(&self) -> u8 {
        3
    }

    /// CloudFront deploys a configuration to every edge in 5 to 15 minutes.
    fn pace(&self) -> Pace {
        Pace::SLOW
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        list(cx).await
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let enabled = observed.fields.get("enabled").map(String::as_str) == Some("true");
        let deployed = observed.fields.get("status").map(String::as_str) == Some(DEPLOYED);
        if !enabled && !deployed {
            return Ok(Deletion::InProgress(
                "disabled; waiting for CloudFront to deploy that before deleting".into(),
            ));
        }
        let cloudfront = &cx.clients.cloudfront;
        let got = cloudfront
            .get_distribution_config()
            .id(&observed.id)
            .send()
            .await
            .map_err(sdk("GetDistributionConfig"))?;
        let etag = got
            .e_tag()
            .map(String::from)
            .ok_or_else(|| missing("GetDistributionConfig"))?;
        if enabled {
            // CloudFront deletes only disabled, deployed distributions.
            let mut disabled = got
                .distribution_config
                .ok_or_else(|| missing("GetDistributionConfig"))?;
            disabled.enabled = false;
            cloudfront
                .update_distribution()
                .id(&observed.id)
                .if_match(etag)
                .distribution_config(disabled)
                .send()
                .await
                .map_err(sdk("UpdateDistribution"))?;
            return Ok(Deletion::InProgress(
                "disabling; deleted once CloudFront has deployed that".into(),
            ));
        }
        cloudfront
            .delete_distribution()
            .id(&observed.id)
            .if_match(etag)
            .send()
            .await
            .map_err(sdk("DeleteDistribution"))
            .deleted()
    }
}

#[async_trait]
impl Resource<AwsClients> for Distribution {
    fn kind(&self) -> Kind {
        &DISTRIBUTION
    }

    fn desired(&self, key: &str, cx: &Context, inputs: &Inputs) -> Fields {
        let api = self.api_origin.as_ref().map(|origin| {
            origin.target(
                inputs.get(&origin.load_balancer, "dnsName"),
                inputs.get(&origin.secret, "digest"),
            )
        });
        let access_control = inputs.get(&self.access_control, "id");
        config::desired_fields(
            cx,
            key,
            &self.spec,
            &bucket_domain(cx),
            &access_control,
            api.as_ref(),
        )
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateDistributionWithTags"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let reference = caller_reference(cx, key);
        let distribution = config::build(
            cx,
            key,
            &self.spec,
            &self.origins(cx, inputs).await?,
            &reference,
        )
        .map_err(built_wrongly("CloudFront"))?;
        let tags = cx
            .identity
            .tags(key)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(built_wrongly("CloudFront"))?;
        let created = cx
            .clients
            .cloudfront
            .create_distribution_with_tags()
            .distribution_config_with_tags(
                DistributionConfigWithTags::builder()
                    .distribution_config(distribution)
                    .tags(Tags::builder().set_items(Some(tags)).build())
                    .build(),
            )
            .send()
            .await
            .map_err(sdk("CreateDistributionWithTags"));
        let created = match created {
            Ok(created) => created,
            // The same caller reference: an earlier pass made it, perhaps
            // with other settings since; found as it is, a later pass
            // corrects what differs.
            Err(e) if e.code == "DistributionAlreadyExists" => {
                return list(cx)
                    .await?
                    .into_iter()
                    .find(|o| o.component == key)
                    .ok_or_else(|| missing("CreateDistributionWithTags"));
            }
            Err(e) => return Err(e),
        };
        // The answer names the new distribution: no list of the account's.
        let made = created
            .distribution()
            .ok_or_else(|| missing("CreateDistributionWithTags"))?;
        let seen = Seen {
            id: made.id(),
            arn: made.arn(),
            domain: made.domain_name(),
            status: made.status(),
        };
        Ok(seen.observed(key.to_string(), self.desired(key, cx, inputs)))
    }

    async fn update(
        &self,
        key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        self.apply_update(key, cx, inputs, current, changes)
            .await
            .map(|_| ())
    }

    /// The whole configuration, replaced under the ETag of the one read:
    /// a concurrent change makes the call fail rather than be overwritten.
    async fn apply_update(
        &self,
        key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        _changes: &[Change],
    ) -> Result<Updated, AwsError> {
        let cloudfront = &cx.clients.cloudfront;
        let got = cloudfront
            .get_distribution_config()
            .id(&current.id)
            .send()
            .await
            .map_err(sdk("GetDistributionConfig"))?;
        let etag = got
            .e_tag()
            .map(String::from)
            .ok_or_else(|| missing("GetDistributionConfig"))?;
        // CloudFront refuses a changed caller reference.
        let reference = got
            .distribution_config()
            .map(|c| c.caller_reference().to_string())
            .unwrap_or_else(|| caller_reference(cx, key));
        let distribution = config::build(
            cx,
            key,
            &self.spec,
            &self.origins(cx, inputs).await?,
            &reference,
        )
        .map_err(built_wrongly("CloudFront"))?;
        cloudfront
            .update_distribution()
            .id(&current.id)
            .if_match(etag)
            .distribution_config(distribution)
            .send()
            .await
            .map_err(sdk("UpdateDistribution"))?;
        Ok(Updated {
            outputs: None,
            in_progress: Some("deploying the new configuration to the edge".into()),
        })
    }
}
