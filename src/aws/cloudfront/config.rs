//! The distribution's configuration from the spec, and the comparable
//! fields of a distribution as a list call returns it.

use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CacheBehavior, CacheBehaviors, CachedMethods, CustomHeaders,
    CustomOriginConfig, DefaultCacheBehavior, DistributionConfig, DistributionSummary,
    GeoRestriction, GeoRestrictionType, HttpVersion, Method, MinimumProtocolVersion, Origin,
    OriginCustomHeader, OriginProtocolPolicy, OriginSslProtocols, Origins,
    PriceClass as AwsPriceClass, Restrictions, S3OriginConfig, SslProtocol, SslSupportMethod,
    ViewerCertificate, ViewerProtocolPolicy,
};
use aws_smithy_types::error::operation::BuildError;
use sha2::{Digest, Sha256};

use crate::api::common::{CdnSpec, PriceClass};
use crate::aws::prelude::*;
use crate::aws::secrets::value_digest;
use crate::aws::shared::ORIGIN_HEADER;

/// AWS managed cache policy "CachingOptimized" (static files).
pub const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
/// AWS managed cache policy "CachingDisabled" (the API).
pub const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
/// AWS managed origin request policy "AllViewerExceptHostHeader": the API
/// gets every header, cookie and query string, and the load balancer's own
/// host name.
pub const ALL_VIEWER_EXCEPT_HOST: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";
/// AWS managed response headers policy "SecurityHeadersPolicy" (HSTS,
/// nosniff, frame options, XSS protection, referrer policy) on static files.
pub const SECURITY_HEADERS: &str = "67f7725c-6f97-4210-82d7-5512b31e9d03";

pub const WEB_ORIGIN: &str = "web-bucket";
pub const API_ORIGIN: &str = "load-balancer";
/// TLS policy for viewers on the stack's own domain names.
const MIN_TLS: &str = "TLSv1.2_2021";

/// Where the distribution sends requests: resolved node outputs.
pub struct Origins2 {
    /// The web bucket's regional domain name.
    pub bucket_domain: String,
    pub access_control_id: String,
    /// The load balancer, when the API paths go to it.
    pub api: Option<ApiTarget>,
}

/// How CloudFront reaches the load balancer.
pub struct ApiTarget {
    /// The load balancer's AWS host name (HTTP), or with a certificate the
    /// name it covers (HTTPS).
    pub domain: String,
    pub https: bool,
    /// The origin header's value when building the configuration; its
    /// digest when comparing fields.
    pub header: String,
}

impl ApiTarget {
    fn protocol(&self) -> OriginProtocolPolicy {
        if self.https {
            OriginProtocolPolicy::HttpsOnly
        } else {
            OriginProtocolPolicy::HttpOnly
        }
    }
}

fn price_class(p: PriceClass) -> &'static str {
    match p {
        PriceClass::PriceClass_100 => "PriceClass_100",
        PriceClass::PriceClass_200 => "PriceClass_200",
        PriceClass::PriceClass_All => "PriceClass_All",
    }
}

/// First characters of the SHA-256 of `text`: a short, comparable stand-in.
fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The comment naming the owner: the list call returns comments, so the
/// stack's distribution is found without a tag lookup. It carries the
/// default root object's digest, the one setting the list call leaves out.
pub fn comment(cx: &Context, key: &str, spec: &CdnSpec) -> String {
    format!(
        "{}{key} root:{}",
        owner_prefix(cx),
        digest(&spec.default_root_object)
    )
}

/// How every comment of the stack's distributions starts.
pub fn owner_prefix(cx: &Context) -> String {
    format!("stackops {} ", cx.identity.uid)
}

fn viewer_certificate_field(spec: &CdnSpec) -> String {
    match &spec.certificate_arn {
        Some(arn) => format!("{arn} sni-only {MIN_TLS}"),
        None => "cloudfront default".into(),
    }
}

/// `load-balancer=<domain> https-only X-Origin-Verify=<digest>`.
fn origins_field(bucket_domain: &str, access_control: &str, api: Option<&ApiTarget>) -> String {
    let mut origins = vec![format!(
        "{WEB_ORIGIN}={bucket_domain} s3 oac:{access_control}"
    )];
    if let Some(api) = api {
        origins.push(format!(
            "{API_ORIGIN}={} {} {ORIGIN_HEADER}={}",
            api.domain,
            api.protocol().as_str(),
            api.header
        ));
    }
    origins.join(", ")
}

fn default_behavior_field() -> String {
    format!(
        "{WEB_ORIGIN} redirect-to-https cache:{CACHING_OPTIMIZED} headers:{SECURITY_HEADERS} compressed"
    )
}

fn api_behavior_field(path: &str) -> String {
    format!(
        "{path} -> {API_ORIGIN} redirect-to-https cache:{CACHING_DISABLED} request:{ALL_VIEWER_EXCEPT_HOST} compressed"
    )
}

/// The fields the spec asks for; `api.header` is the header's digest.
pub fn desired_fields(
    cx: &Context,
    key: &str,
    spec: &CdnSpec,
    bucket_domain: &str,
    access_control: &str,
    api_target: Option<&ApiTarget>,
) -> Fields {
    let api: Vec<String> = if api_target.is_some() {
        spec.api_paths
            .iter()
            .map(|p| api_behavior_field(p))
            .collect()
    } else {
        Vec::new()
    };
    Fields::from([
        ("enabled".into(), "true".into()),
        ("comment".into(), comment(cx, key, spec)),
        ("priceClass".into(), price_class(spec.price_class).into()),
        ("httpVersion".into(), "http2and3".into()),
        ("ipv6".into(), "true".into()),
        ("aliases".into(), set_field(spec.aliases.iter().cloned())),
        ("viewerCertificate".into(), viewer_certificate_field(spec)),
        (
            "webAcl".into(),
            spec.web_acl_arn.clone().unwrap_or_default(),
        ),
        (
            "origins".into(),
            origins_field(bucket_domain, access_control, api_target),
        ),
        ("defaultBehavior".into(), default_behavior_field()),
        ("apiBehaviors".into(), api.join("; ")),
    ])
}

/// The fields of a distribution as listed.
pub fn observed_fields(d: &DistributionSummary) -> Fields {
    let listed = d.origins().map(|o| o.items()).unwrap_or_default();
    // An origin without a custom (HTTP) configuration is an S3 origin.
    // Custom headers show as the digests of their values.
    let origin_text = |o: &aws_sdk_cloudfront::types::Origin| {
        let policy = o
            .custom_origin_config()
            .map(|c| c.origin_protocol_policy().as_str().to_string())
            .unwrap_or_else(|| "s3".into());
        let mut text = format!("{}={} {policy}", o.id(), o.domain_name());
        if let Some(oac) = o.origin_access_control_id().filter(|id| !id.is_empty()) {
            text.push_str(&format!(" oac:{oac}"));
        }
        for header in o.custom_headers().map(|h| h.items()).unwrap_or_default() {
            text.push_str(&format!(
                " {}={}",
                header.header_name(),
                value_digest(header.header_value())
            ));
        }
        text
    };
    let mut origins_text: Vec<String> = [WEB_ORIGIN, API_ORIGIN]
        .iter()
        .filter_map(|id| listed.iter().find(|o| o.id() == *id))
        .map(origin_text)
        .collect();
    // Origins other than the two stackops sets show up as a difference.
    let foreign = listed
        .iter()
        .filter(|o| o.id() != WEB_ORIGIN && o.id() != API_ORIGIN)
        .count();
    if foreign > 0 {
        origins_text.push(format!("{foreign} other origins"));
    }
    let default = d.default_cache_behavior().map(|b| {
        let mut text = format!(
            "{} {} cache:{}",
            b.target_origin_id(),
            b.viewer_protocol_policy().as_str(),
            b.cache_policy_id().unwrap_or("legacy")
        );
        if let Some(h) = b.response_headers_policy_id().filter(|h| !h.is_empty()) {
            text.push_str(&format!(" headers:{h}"));
        }
        if b.compress() == Some(true) {
            text.push_str(" compressed");
        }
        text
    });
    let api: Vec<String> = d
        .cache_behaviors()
        .map(|c| c.items())
        .unwrap_or_default()
        .iter()
        .map(|b| {
            let mut text = format!(
                "{} -> {} {} cache:{}",
                b.path_pattern(),
                b.target_origin_id(),
                b.viewer_protocol_policy().as_str(),
                b.cache_policy_id().unwrap_or("legacy")
            );
            if let Some(r) = b.origin_request_policy_id().filter(|r| !r.is_empty()) {
                text.push_str(&format!(" request:{r}"));
            }
            if b.compress() == Some(true) {
                text.push_str(" compressed");
            }
            text
        })
        .collect();
    let certificate = match d.viewer_certificate() {
        Some(v) if v.acm_certificate_arn().is_some_and(|a| !a.is_empty()) => format!(
            "{} {} {}",
            v.acm_certificate_arn().unwrap_or_default(),
            v.ssl_support_method().map(|m| m.as_str()).unwrap_or("none"),
            v.minimum_protocol_version()
                .map(|m| m.as_str())
                .unwrap_or("none")
        ),
        _ => "cloudfront default".into(),
    };
    Fields::from([
        ("enabled".into(), d.enabled().to_string()),
        ("comment".into(), d.comment().to_string()),
        ("priceClass".into(), d.price_class().as_str().to_string()),
        ("httpVersion".into(), d.http_version().as_str().to_string()),
        ("ipv6".into(), d.is_ipv6_enabled().to_string()),
        (
            "aliases".into(),
            set_field(
                d.aliases()
                    .map(|a| a.items())
                    .unwrap_or_default()
                    .iter()
                    .cloned(),
            ),
        ),
        ("viewerCertificate".into(), certificate),
        ("webAcl".into(), d.web_acl_id().to_string()),
        ("origins".into(), origins_text.join(", ")),
        ("defaultBehavior".into(), default.unwrap_or_default()),
        ("apiBehaviors".into(), api.join("; ")),
    ])
}

fn methods(items: &[Method]) -> Result<(Vec<Method>, i32), BuildError> {
    Ok((items.to_vec(), i32::try_from(items.len()).unwrap_or(0)))
}

/// The whole configuration of the distribution.
pub fn build(
    cx: &Context,
    key: &str,
    spec: &CdnSpec,
    origins: &Origins2,
    caller_reference: &str,
) -> Result<DistributionConfig, BuildError> {
    let mut items = vec![
        Origin::builder()
            .id(WEB_ORIGIN)
            .domain_name(&origins.bucket_domain)
            // Empty identity: access goes through the access control.
            .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
            .origin_access_control_id(&origins.access_control_id)
            .build()?,
    ];
    if let Some(api) = &origins.api {
        // HTTPS to the name the load balancer's certificate covers, or
        // without a certificate HTTP to its AWS host name; the header proves
        // to the listener that the request came through this distribution.
        let custom = CustomOriginConfig::builder()
            .http_port(80)
            .https_port(443)
            .origin_protocol_policy(api.protocol())
            .origin_ssl_protocols(
                OriginSslProtocols::builder()
                    .quantity(1)
                    .items(SslProtocol::TlSv12)
                    .build()?,
            )
            .origin_read_timeout(30)
            .origin_keepalive_timeout(5)
            .build()?;
        let header = OriginCustomHeader::builder()
            .header_name(ORIGIN_HEADER)
            .header_value(&api.header)
            .build()?;
        items.push(
            Origin::builder()
                .id(API_ORIGIN)
                .domain_name(&api.domain)
                .custom_origin_config(custom)
                .custom_headers(CustomHeaders::builder().quantity(1).items(header).build()?)
                .build()?,
        );
    }
    let origin_list = Origins::builder()
        .quantity(i32::try_from(items.len()).unwrap_or(0))
        .set_items(Some(items))
        .build()?;

    let (read, read_n) = methods(&[Method::Get, Method::Head])?;
    let default_behavior = DefaultCacheBehavior::builder()
        .target_origin_id(WEB_ORIGIN)
        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
        .cache_policy_id(CACHING_OPTIMIZED)
        .response_headers_policy_id(SECURITY_HEADERS)
        .compress(true)
        .allowed_methods(
            AllowedMethods::builder()
                .quantity(read_n)
                .set_items(Some(read.clone()))
                .cached_methods(
                    CachedMethods::builder()
                        .quantity(read_n)
                        .set_items(Some(read.clone()))
                        .build()?,
                )
                .build()?,
        )
        .build()?;

    let mut behaviors = Vec::new();
    if origins.api.is_some() {
        let (all, all_n) = methods(&[
            Method::Get,
            Method::Head,
            Method::Options,
            Method::Put,
            Method::Post,
            Method::Patch,
            Method::Delete,
        ])?;
        for path in &spec.api_paths {
            behaviors.push(
                CacheBehavior::builder()
                    .path_pattern(path)
                    .target_origin_id(API_ORIGIN)
                    .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                    .cache_policy_id(CACHING_DISABLED)
                    .origin_request_policy_id(ALL_VIEWER_EXCEPT_HOST)
                    .compress(true)
                    .allowed_methods(
                        AllowedMethods::builder()
                            .quantity(all_n)
                            .set_items(Some(all.clone()))
                            .cached_methods(
                                CachedMethods::builder()
                                    .quantity(read_n)
                                    .set_items(Some(read.clone()))
                                    .build()?,
                            )
                            .build()?,
                    )
                    .build()?,
            );
        }
    }

    let viewer_certificate = match &spec.certificate_arn {
        Some(arn) => ViewerCertificate::builder()
            .acm_certificate_arn(arn)
            .ssl_support_method(SslSupportMethod::SniOnly)
            .minimum_protocol_version(MinimumProtocolVersion::from(MIN_TLS))
            .build(),
        None => ViewerCertificate::builder()
            .cloud_front_default_certificate(true)
            .build(),
    };

    DistributionConfig::builder()
        .caller_reference(caller_reference)
        .comment(comment(cx, key, spec))
        .enabled(true)
        .aliases(
            Aliases::builder()
                .quantity(i32::try_from(spec.aliases.len()).unwrap_or(0))
                .set_items(Some(spec.aliases.clone()))
                .build()?,
        )
        .default_root_object(&spec.default_root_object)
        .origins(origin_list)
        .default_cache_behavior(default_behavior)
        .cache_behaviors(
            CacheBehaviors::builder()
                .quantity(i32::try_from(behaviors.len()).unwrap_or(0))
                .set_items(Some(behaviors))
                .build()?,
        )
        .price_class(AwsPriceClass::from(price_class(spec.price_class)))
        .http_version(HttpVersion::Http2and3)
        .is_ipv6_enabled(true)
        .viewer_certificate(viewer_certificate)
        .web_acl_id(spec.web_acl_arn.clone().unwrap_or_default())
        .restrictions(
            Restrictions::builder()
                .geo_restriction(
                    GeoRestriction::builder()
                        .restriction_type(GeoRestrictionType::None)
                        .quantity(0)
                        .build()?,
                )
                .build(),
        )
        .build()
}
