//! The web bucket, the CloudFront distribution in front of it and the media
//! bucket against a real moto server: private buckets readable only through
//! the stack's distribution, lifecycle rules as the spec says, drift put
//! back with one call per setting, CDN changes under the ETag, and teardown
//! that disables the distribution before deleting it, empties buckets whose
//! policy is Delete and keeps the ones whose policy is Retain. (Crash safety
//! of these kinds: `network_tier.rs` crashes the whole ecommerce stack,
//! edge included, after every mutating call.)

mod support;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use serde_json::Value;
use stackops::api::StackManifest;
use stackops::api::common::{DeletionPolicy, PriceClass};
use stackops::api::status::ResourceState;
use stackops::aws::Context;
use stackops::blueprint::outputs;
use stackops::engine::PassOutcome;
use support::moto::MotoServer;
use support::stack::{TestStack, calls_of, disposable, node_id as id};

async fn created(moto: &MotoServer, stack: &StackManifest, uid: &str) -> (TestStack, PassOutcome) {
    let test = TestStack::new(&moto.endpoint, stack, uid).await;
    let pass = test.converge(&test.cx, 8).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    (test, pass)
}

async fn bucket_policy(cx: &Context, bucket: &str) -> Value {
    let policy = cx
        .clients
        .s3
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    serde_json::from_str(policy.policy().unwrap()).unwrap()
}

/// Statements of `policy` as a list, whichever form S3 returned.
fn statements(policy: &Value) -> Vec<Value> {
    match &policy["Statement"] {
        Value::Array(items) => items.clone(),
        one => vec![one.clone()],
    }
}

/// Puts `keys` in `bucket`. moto enforces the bucket's TLS-only policy and
/// these tests speak plain HTTP to it, so the policy goes first (teardown
/// does not depend on it).
async fn put_objects(cx: &Context, bucket: &str, keys: &[&str]) {
    cx.clients
        .s3
        .delete_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    for key in keys {
        cx.clients
            .s3
            .put_object()
            .bucket(bucket)
            .key(*key)
            .body(ByteStream::from_static(b"<html></html>"))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_web_bucket_is_private_and_readable_only_through_the_distribution() {
    let moto = MotoServer::start();
    let (stack, pass) = created(&moto, &disposable("ecommerce.yaml"), "uid-web").await;
    let cx = &stack.cx;
    let s3 = &cx.clients.s3;
    let bucket = id(&pass, "edge/web-bucket");
    let distribution_id = id(&pass, "edge/distribution");

    // No public path: every public access block on, ACLs disabled.
    let block = s3
        .get_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let block = block.public_access_block_configuration().unwrap();
    assert_eq!(block.block_public_acls(), Some(true));
    assert_eq!(block.ignore_public_acls(), Some(true));
    assert_eq!(block.block_public_policy(), Some(true));
    assert_eq!(block.restrict_public_buckets(), Some(true));
    let ownership = s3
        .get_bucket_ownership_controls()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ownership.ownership_controls().unwrap().rules()[0]
            .object_ownership()
            .as_str(),
        "BucketOwnerEnforced"
    );
    let encryption = s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let rule = &encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "AES256"
    );
    let versioning = s3
        .get_bucket_versioning()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(versioning.status(), Some(&BucketVersioningStatus::Enabled));

    // The one Allow is CloudFront's, for this distribution only; anything
    // over plain HTTP is denied.
    let distribution = cx
        .clients
        .cloudfront
        .get_distribution()
        .id(&distribution_id)
        .send()
        .await
        .unwrap();
    let distribution = distribution.distribution().unwrap();
    let policy = bucket_policy(cx, &bucket).await;
    let allows: Vec<Value> = statements(&policy)
        .into_iter()
        .filter(|s| s["Effect"] == "Allow")
        .collect();
    assert_eq!(allows.len(), 1, "{policy}");
    assert_eq!(
        allows[0]["Principal"]["Service"],
        "cloudfront.amazonaws.com"
    );
    assert_eq!(allows[0]["Action"], "s3:GetObject");
    assert_eq!(
        allows[0]["Condition"]["StringEquals"]["AWS:SourceArn"],
        distribution.arn()
    );
    let deny = statements(&policy)
        .into_iter()
        .find(|s| s["Effect"] == "Deny")
        .unwrap();
    assert_eq!(deny["Principal"], "*");
    assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");

    // moto enforces bucket policies: a request over plain HTTP is refused.
    let refused = cx
        .clients
        .s3
        .put_object()
        .bucket(&bucket)
        .key("index.html")
        .body(ByteStream::from_static(b"<html></html>"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        refused.raw_response().map(|r| r.status().as_u16()),
        Some(403)
    );

    // The distribution: the bucket through the access control, the API
    // uncached to the load balancer, HTTPS only, HTTP/2 and 3, compressed.
    let config = distribution.distribution_config().unwrap();
    let origins = config.origins().unwrap().items();
    let web = origins.iter().find(|o| o.id() == "web-bucket").unwrap();
    assert_eq!(
        web.domain_name(),
        format!("{bucket}.s3.eu-west-1.amazonaws.com")
    );
    assert!(web.s3_origin_config().is_some());
    assert_eq!(
        web.origin_access_control_id(),
        Some(id(&pass, "edge/origin-access-control").as_str()),
        "the bucket is reached through the access control"
    );
    let api = origins.iter().find(|o| o.id() == "load-balancer").unwrap();
    assert_eq!(
        api.domain_name(),
        pass.node("app/load-balancer").unwrap().outputs["dnsName"]
    );
    let default = config.default_cache_behavior().unwrap();
    assert_eq!(default.target_origin_id(), "web-bucket");
    assert_eq!(
        default.viewer_protocol_policy().as_str(),
        "redirect-to-https"
    );
    assert_eq!(
        default.cache_policy_id(),
        Some("658327ea-f89d-4fab-a63d-7e88639e58f6")
    );
    assert_eq!(default.compress(), Some(true));
    let behaviors = config.cache_behaviors().unwrap().items();
    assert_eq!(behaviors.len(), 1);
    assert_eq!(behaviors[0].path_pattern(), "/api/*");
    assert_eq!(behaviors[0].target_origin_id(), "load-balancer");
    assert_eq!(
        behaviors[0].cache_policy_id(),
        Some("4135ea2d-6df8-44a3-9df3-4b5a84be39ad")
    );
    assert_eq!(
        behaviors[0].viewer_protocol_policy().as_str(),
        "redirect-to-https"
    );
    assert_eq!(config.http_version().map(|v| v.as_str()), Some("http2and3"));
    assert_eq!(
        config.price_class().map(|p| p.as_str()),
        Some("PriceClass_100")
    );
    assert_eq!(config.default_root_object(), Some("index.html"));
    assert!(config.enabled());
    let oac = cx
        .clients
        .cloudfront
        .get_origin_access_control()
        .id(id(&pass, "edge/origin-access-control"))
        .send()
        .await
        .unwrap();
    let oac = oac
        .origin_access_control()
        .unwrap()
        .origin_access_control_config()
        .unwrap();
    assert_eq!(oac.signing_behavior().as_str(), "always");
    assert_eq!(oac.signing_protocol().as_str(), "sigv4");

    // Tagged with the stack, and its domain is the stack's main endpoint.
    let tags = cx
        .clients
        .cloudfront
        .list_tags_for_resource()
        .resource(distribution.arn())
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .unwrap()
            .items()
            .iter()
            .any(|t| t.key() == "stackops.io/uid" && t.value() == Some("uid-web"))
    );
    let (outputs, endpoint) = outputs::collect(&pass);
    assert_eq!(
        outputs.cdn_domain.as_deref(),
        Some(distribution.domain_name())
    );
    assert_eq!(endpoint.as_deref(), Some(distribution.domain_name()));
    assert_eq!(outputs.buckets.get("web"), Some(&bucket));

    // Steady state: reads only.
    let again = stack.reconnect(&moto.endpoint).await;
    let second = stack.converge(&again, 1).await;
    assert!(second.converged);
    assert_eq!(
        again.clients.calls.mutating(),
        0,
        "{:?}",
        again.clients.calls.mutating_calls()
    );
    assert_eq!(calls_of(&again.clients.calls, "ListBuckets"), 1);
    assert_eq!(calls_of(&again.clients.calls, "ListDistributions"), 1);
}

#[tokio::test]
async fn drift_of_buckets_and_the_distribution_is_put_back_one_call_per_setting() {
    let moto = MotoServer::start();
    let (stack, pass) = created(&moto, &disposable("ecommerce.yaml"), "uid-drift").await;
    let cx = &stack.cx;
    let s3 = &cx.clients.s3;
    let bucket = id(&pass, "edge/web-bucket");
    let distribution_id = id(&pass, "edge/distribution");

    // Out of band: the public access block removed, the policy removed,
    // versioning suspended, the distribution served everywhere over HTTP/2 only.
    s3.delete_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    s3.delete_bucket_policy()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let current = cx
        .clients
        .cloudfront
        .get_distribution_config()
        .id(&distribution_id)
        .send()
        .await
        .unwrap();
    let mut changed = current.distribution_config.clone().unwrap();
    changed.price_class = Some(aws_sdk_cloudfront::types::PriceClass::PriceClassAll);
    cx.clients
        .cloudfront
        .update_distribution()
        .id(&distribution_id)
        .if_match(current.e_tag().unwrap())
        .distribution_config(changed)
        .send()
        .await
        .unwrap();

    let fix = stack.reconnect(&moto.endpoint).await;
    let corrected = stack.engine().apply(&fix, &stack.blueprint.graph).await;
    let calls = &fix.clients.calls;
    assert_eq!(calls_of(calls, "PutPublicAccessBlock"), 1);
    assert_eq!(calls_of(calls, "PutBucketPolicy"), 1);
    assert_eq!(calls_of(calls, "PutBucketVersioning"), 1);
    assert_eq!(calls_of(calls, "UpdateDistribution"), 1);
    assert_eq!(
        calls.mutating(),
        4,
        "one call per drifted setting: {:?}",
        calls.mutating_calls()
    );
    // The distribution is deploying its corrected configuration.
    assert_eq!(
        corrected.node("edge/distribution").unwrap().state,
        ResourceState::Updating
    );

    let settled = stack.reconnect(&moto.endpoint).await;
    let pass = stack.converge(&settled, 4).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    assert_eq!(settled.clients.calls.mutating(), 0);
    let block = s3
        .get_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        block
            .public_access_block_configuration()
            .unwrap()
            .restrict_public_buckets(),
        Some(true)
    );
    let config = cx
        .clients
        .cloudfront
        .get_distribution_config()
        .id(&distribution_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        config
            .distribution_config()
            .unwrap()
            .price_class()
            .map(|p| p.as_str()),
        Some("PriceClass_100")
    );
}

#[tokio::test]
async fn a_cdn_change_in_the_spec_is_one_update_under_the_etag() {
    let moto = MotoServer::start();
    let mut manifest = disposable("ecommerce.yaml");
    let (stack, _) = created(&moto, &manifest, "uid-cdn").await;
    if let StackManifest::Ecommerce(s) = &mut manifest {
        s.spec.frontend.cdn.price_class = PriceClass::PriceClass_200;
        s.spec.frontend.cdn.api_paths = vec!["/api/*".into(), "/auth/*".into()];
        s.spec.frontend.cdn.default_root_object = "app.html".into();
    }
    let changed = TestStack::new(&moto.endpoint, &manifest, "uid-cdn").await;
    let pass = changed.converge(&changed.cx, 4).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    let calls = &changed.cx.clients.calls;
    assert_eq!(calls_of(calls, "UpdateDistribution"), 1);
    assert_eq!(calls.mutating(), 1, "{:?}", calls.mutating_calls());
    let config = changed
        .cx
        .clients
        .cloudfront
        .get_distribution_config()
        .id(id(&pass, "edge/distribution"))
        .send()
        .await
        .unwrap();
    let config = config.distribution_config().unwrap();
    assert_eq!(
        config.price_class().map(|p| p.as_str()),
        Some("PriceClass_200")
    );
    assert_eq!(config.default_root_object(), Some("app.html"));
    let paths: Vec<&str> = config
        .cache_behaviors()
        .unwrap()
        .items()
        .iter()
        .map(|b| b.path_pattern())
        .collect();
    assert_eq!(paths, ["/api/*", "/auth/*"]);
    drop(stack);
}

#[tokio::test]
async fn media_lifecycle_rules_follow_the_spec() {
    let moto = MotoServer::start();
    let mut manifest = disposable("booking.yaml");
    let (stack, pass) = created(&moto, &manifest, "uid-media").await;
    let bucket = id(&pass, "storage/media-bucket");
    let s3 = &stack.cx.clients.s3;

    let lifecycle = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let rules = lifecycle.rules();
    assert_eq!(rules.len(), 2);
    let archive = rules
        .iter()
        .find(|r| r.id() == Some("archive-uploads"))
        .unwrap();
    assert_eq!(archive.filter().and_then(|f| f.prefix()), Some("uploads/"));
    let transitions: Vec<(i32, &str)> = archive
        .transitions()
        .iter()
        .map(|t| (t.days().unwrap(), t.storage_class().unwrap().as_str()))
        .collect();
    assert_eq!(
        transitions,
        [(30, "STANDARD_IA"), (90, "GLACIER"), (365, "DEEP_ARCHIVE")]
    );
    assert_eq!(archive.expiration().and_then(|e| e.days()), Some(2555));
    assert_eq!(
        archive
            .noncurrent_version_expiration()
            .and_then(|e| e.noncurrent_days()),
        Some(30)
    );
    let abort = rules
        .iter()
        .find(|r| r.id() == Some("abort-multipart"))
        .unwrap();
    assert_eq!(
        abort
            .abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation()),
        Some(7)
    );
    // The media bucket refuses plain HTTP and lets no one else in.
    let policy = bucket_policy(&stack.cx, &bucket).await;
    assert!(statements(&policy).iter().all(|s| s["Effect"] == "Deny"));

    // One rule dropped and a KMS key given: exactly two puts on the bucket,
    // and the servers' role rewritten to use the key through S3 (the role
    // writes its policies and their digest together).
    if let StackManifest::Booking(s) = &mut manifest {
        s.spec
            .media
            .lifecycle_rules
            .retain(|r| r.id != "abort-multipart");
        s.spec.media.kms_key_id = Some("alias/media".into());
    }
    let changed = TestStack::new(&moto.endpoint, &manifest, "uid-media").await;
    let pass = changed.converge(&changed.cx, 3).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    let calls = &changed.cx.clients.calls;
    assert_eq!(calls_of(calls, "PutBucketLifecycleConfiguration"), 1);
    assert_eq!(calls_of(calls, "PutBucketEncryption"), 1);
    assert_eq!(
        calls.mutating_calls(),
        [
            ("IAM:AttachRolePolicy".to_string(), 1),
            ("IAM:PutRolePolicy".to_string(), 1),
            ("IAM:UpdateRole".to_string(), 1),
            ("S3:PutBucketEncryption".to_string(), 1),
            ("S3:PutBucketLifecycleConfiguration".to_string(), 1),
        ]
    );
    let role = id(&pass, "app/instance-role");
    let role_policy = changed
        .cx
        .clients
        .iam
        .get_role_policy()
        .role_name(&role)
        .policy_name("stackops")
        .send()
        .await
        .unwrap();
    let document = role_policy.policy_document();
    let document = percent_encoding::percent_decode_str(document).decode_utf8_lossy();
    let document: Value = serde_json::from_str(&document).unwrap();
    let key_grant = statements(&document)
        .into_iter()
        .find(|s| s["Action"].to_string().contains("kms:Decrypt"))
        .expect("a grant on the media key");
    assert_eq!(
        key_grant["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"],
        "alias/media"
    );
    assert_eq!(
        key_grant["Condition"]["StringEquals"]["kms:ViaService"],
        "s3.eu-west-1.amazonaws.com"
    );
    let encryption = s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let rule = &encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules()[0];
    assert_eq!(rule.bucket_key_enabled(), Some(true));
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .kms_master_key_id(),
        Some("alias/media")
    );
}

#[tokio::test]
async fn teardown_disables_the_cdn_first_empties_delete_buckets_and_keeps_retained_ones() {
    let moto = MotoServer::start();
    // The web bucket goes with the stack (its default); the media bucket
    // of the booking stack stays (its default).
    let (shop, shop_pass) = created(&moto, &disposable("ecommerce.yaml"), "uid-gone").await;
    let mut kept_media = disposable("booking.yaml");
    if let StackManifest::Booking(s) = &mut kept_media {
        s.spec.media.deletion_policy = None;
    }
    let (booking, booking_pass) = created(&moto, &kept_media, "uid-kept").await;
    let web = id(&shop_pass, "edge/web-bucket");
    let media = id(&booking_pass, "storage/media-bucket");
    // Two versions of two pages and a delete marker: five versions in all.
    put_objects(&shop.cx, &web, &["index.html", "app.js", "index.html"]).await;
    put_objects(&shop.cx, &web, &["app.js"]).await;
    shop.cx
        .clients
        .s3
        .delete_object()
        .bucket(&web)
        .key("app.js")
        .send()
        .await
        .unwrap();
    put_objects(&booking.cx, &media, &["uploads/a.jpg"]).await;
    // An upload someone started and never finished: its parts would keep
    // the bucket from being deleted.
    shop.cx
        .clients
        .s3
        .create_multipart_upload()
        .bucket(&web)
        .key("big.bin")
        .send()
        .await
        .unwrap();

    let engine = shop.engine();
    let kinds = stackops::aws::registry::all_kinds();
    let mut messages = Vec::new();
    let mut converged = false;
    for _ in 0..12 {
        let pass = engine.destroy(&shop.cx, &kinds).await;
        messages.extend(pass.nodes.iter().filter_map(|n| n.message.clone()));
        if pass.converged {
            converged = true;
            break;
        }
    }
    assert!(converged, "{messages:?}");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("5 object versions removed")),
        "{messages:?}"
    );
    let calls = &shop.cx.clients.calls;
    // Disabled (one update), then deleted once deployed.
    assert_eq!(calls_of(calls, "UpdateDistribution"), 1);
    assert_eq!(calls_of(calls, "DeleteDistribution"), 1);
    assert_eq!(calls_of(calls, "AbortMultipartUpload"), 1);
    assert_eq!(calls_of(calls, "DeleteBucket"), 1);
    let buckets = shop.cx.clients.s3.list_buckets().send().await.unwrap();
    let names: Vec<&str> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    assert!(!names.contains(&web.as_str()), "{names:?}");
    let left = shop
        .cx
        .clients
        .cloudfront
        .list_distributions()
        .send()
        .await
        .unwrap();
    assert!(
        left.distribution_list().unwrap().items().is_empty(),
        "{left:?}"
    );

    // Retained: the media bucket and its objects stay; teardown still ends.
    let gone = booking.destroy(&booking.cx, 12).await;
    assert!(gone.converged, "{:?}", gone.nodes);
    let kept = gone.node("storage/media-bucket").unwrap();
    assert_eq!(kept.state, ResourceState::Retained);
    let objects = booking
        .cx
        .clients
        .s3
        .list_objects_v2()
        .bucket(&media)
        .send()
        .await
        .unwrap();
    assert_eq!(objects.key_count(), Some(1));
    assert_eq!(
        booking.cx.data.bucket_policies.get("storage/media-bucket"),
        Some(&DeletionPolicy::Retain)
    );
}

/// (port, CIDRs, prefix list ids) of each ingress permission of group `id`.
async fn ingress(cx: &Context, id: &str) -> Vec<(i32, Vec<String>, Vec<String>)> {
    let found = cx
        .clients
        .ec2
        .describe_security_groups()
        .group_ids(id)
        .send()
        .await
        .unwrap();
    let mut rules: Vec<_> = found.security_groups()[0]
        .ip_permissions()
        .iter()
        .map(|p| {
            (
                p.from_port().unwrap_or_default(),
                p.ip_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ip().map(String::from))
                    .collect(),
                p.prefix_list_ids()
                    .iter()
                    .filter_map(|l| l.prefix_list_id().map(String::from))
                    .collect(),
            )
        })
        .collect();
    rules.sort();
    rules
}

#[tokio::test]
async fn behind_the_cdn_the_load_balancer_admits_cloudfront_alone() {
    let moto = MotoServer::start();
    let (stack, pass) = created(&moto, &disposable("ecommerce.yaml"), "uid-origin-facing").await;
    let cx = &stack.cx;
    let lists = cx
        .clients
        .ec2
        .describe_managed_prefix_lists()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("prefix-list-name")
                .values("com.amazonaws.global.cloudfront.origin-facing")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let cloudfront = lists.prefix_lists()[0]
        .prefix_list_id()
        .unwrap()
        .to_string();
    // Port 80 (CloudFront's origin protocol) from CloudFront's addresses;
    // nothing from the internet.
    let lb = id(&pass, "network/sg-lb");
    assert_eq!(
        ingress(cx, &lb).await,
        [(80, Vec::new(), vec![cloudfront.clone()])]
    );

    // Steady: the list is known by name, nothing to write, no new look-up.
    let fresh = stack.reconnect(&moto.endpoint).await;
    assert!(stack.converge(&fresh, 2).await.converged);
    assert_eq!(fresh.clients.calls.mutating(), 0);
    assert_eq!(
        calls_of(&fresh.clients.calls, "DescribeManagedPrefixLists"),
        0
    );

    // Someone opens the load balancer to the internet: closed again.
    cx.clients
        .ec2
        .authorize_security_group_ingress()
        .group_id(&lb)
        .ip_protocol("tcp")
        .from_port(443)
        .to_port(443)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    let again = stack.reconnect(&moto.endpoint).await;
    assert!(stack.converge(&again, 2).await.converged);
    assert_eq!(
        calls_of(&again.clients.calls, "RevokeSecurityGroupIngress"),
        1
    );
    assert_eq!(ingress(cx, &lb).await, [(80, Vec::new(), vec![cloudfront])]);

    // Without a CDN (booking has no front end), the internet reaches it.
    let booking =
        TestStack::new(&moto.endpoint, &disposable("booking.yaml"), "uid-public-lb").await;
    let pass = booking.converge(&booking.cx, 8).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    let public = ingress(cx, &id(&pass, "network/sg-lb")).await;
    assert_eq!(
        public,
        [
            (80, vec!["0.0.0.0/0".to_string()], Vec::new()),
            (443, vec!["0.0.0.0/0".to_string()], Vec::new()),
        ]
    );
    assert!(stack.destroy(&again, 10).await.converged);
    assert!(booking.destroy(&booking.cx, 10).await.converged);
}

/// The listeners of the load balancer of `pass`: (protocol, port, default
/// action type, fixed status) and their rules (header name, values, target).
async fn listeners(
    cx: &Context,
    pass: &PassOutcome,
) -> (
    Vec<(String, i32, String, Option<String>)>,
    Vec<(String, Vec<String>, String)>,
) {
    let found = cx
        .clients
        .elb
        .describe_listeners()
        .load_balancer_arn(id(pass, "app/load-balancer"))
        .send()
        .await
        .unwrap();
    let mut shapes = Vec::new();
    let mut rules = Vec::new();
    for listener in found.listeners() {
        let action = &listener.default_actions()[0];
        shapes.push((
            listener.protocol().unwrap().as_str().to_string(),
            listener.port().unwrap(),
            action.r#type().unwrap().as_str().to_string(),
            action
                .fixed_response_config()
                .and_then(|f| f.status_code())
                .map(String::from),
        ));
        let found = cx
            .clients
            .elb
            .describe_rules()
            .listener_arn(listener.listener_arn().unwrap())
            .send()
            .await
            .unwrap();
        for rule in found
            .rules()
            .iter()
            .filter(|r| r.is_default() != Some(true))
        {
            let header = rule.conditions()[0].http_header_config().unwrap();
            rules.push((
                header.http_header_name().unwrap().to_string(),
                header.values().to_vec(),
                rule.actions()[0].target_group_arn().unwrap().to_string(),
            ));
        }
    }
    (shapes, rules)
}

/// The distribution's API origin: domain, protocol policy, custom headers.
async fn api_origin(cx: &Context, pass: &PassOutcome) -> (String, String, Vec<(String, String)>) {
    let got = cx
        .clients
        .cloudfront
        .get_distribution_config()
        .id(id(pass, "edge/distribution"))
        .send()
        .await
        .unwrap();
    let config = got.distribution_config().unwrap();
    let origin = config
        .origins()
        .unwrap()
        .items()
        .iter()
        .find(|o| o.id() == "load-balancer")
        .unwrap()
        .clone();
    let headers = origin
        .custom_headers()
        .map(|h| h.items().to_vec())
        .unwrap_or_default()
        .iter()
        .map(|h| (h.header_name().to_string(), h.header_value().to_string()))
        .collect();
    (
        origin.domain_name().to_string(),
        origin
            .custom_origin_config()
            .unwrap()
            .origin_protocol_policy()
            .as_str()
            .to_string(),
        headers,
    )
}

#[tokio::test]
async fn behind_the_cdn_the_load_balancer_forwards_only_what_carries_the_origin_header() {
    let moto = MotoServer::start();
    let mut manifest = disposable("ecommerce.yaml");
    let (stack, pass) = created(&moto, &manifest, "uid-origin-header").await;
    let cx = &stack.cx;
    let secret_arn = id(&pass, "edge/origin-secret");
    let value = cx
        .clients
        .secrets
        .get_secret_value()
        .secret_id(&secret_arn)
        .send()
        .await
        .unwrap()
        .secret_string()
        .unwrap()
        .to_string();
    assert_eq!(value.len(), 48);
    let target_group = id(&pass, "app/target-group");

    // Requests without the header get 403; the one rule forwards the rest.
    let (shapes, rules) = listeners(cx, &pass).await;
    assert_eq!(
        shapes,
        [(
            "HTTP".to_string(),
            80,
            "fixed-response".to_string(),
            Some("403".to_string())
        )]
    );
    let forwarding = vec![(
        "X-Origin-Verify".to_string(),
        vec![value.clone()],
        target_group.clone(),
    )];
    assert_eq!(rules, forwarding);
    // CloudFront sends it, over HTTP to the balancer's AWS name (no certificate).
    let lb_dns = pass.node("app/load-balancer").unwrap().outputs["dnsName"].clone();
    assert_eq!(
        api_origin(cx, &pass).await,
        (
            lb_dns,
            "http-only".to_string(),
            vec![("X-Origin-Verify".to_string(), value.clone())]
        )
    );
    // The value never reaches what the engine reports.
    assert!(!format!("{pass:?}").contains(&value));

    // Steady: one DescribeRules, no secret read, no write.
    let fresh = stack.reconnect(&moto.endpoint).await;
    let steady = stack.converge(&fresh, 2).await;
    assert!(steady.converged);
    assert_eq!(fresh.clients.calls.mutating(), 0);
    assert_eq!(calls_of(&fresh.clients.calls, "DescribeRules"), 1);
    assert_eq!(calls_of(&fresh.clients.calls, "GetSecretValue"), 0);
    assert!(!format!("{steady:?}").contains(&value));

    // The rule deleted out of band (the balancer now refuses everything):
    // put back with one read of the secret and one CreateRule.
    let rule_arn = cx
        .clients
        .elb
        .describe_rules()
        .listener_arn(
            cx.clients
                .elb
                .describe_listeners()
                .load_balancer_arn(id(&pass, "app/load-balancer"))
                .send()
                .await
                .unwrap()
                .listeners()[0]
                .listener_arn()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .rules()
        .iter()
        .find(|r| r.is_default() != Some(true))
        .unwrap()
        .rule_arn()
        .unwrap()
        .to_string();
    cx.clients
        .elb
        .delete_rule()
        .rule_arn(rule_arn)
        .send()
        .await
        .unwrap();
    let again = stack.reconnect(&moto.endpoint).await;
    assert!(stack.converge(&again, 2).await.converged);
    assert_eq!(calls_of(&again.clients.calls, "CreateRule"), 1);
    assert_eq!(calls_of(&again.clients.calls, "GetSecretValue"), 1);
    assert_eq!(again.clients.calls.mutating(), 1);
    assert_eq!(listeners(cx, &pass).await.1, forwarding);

    // With a certificate: HTTPS alone, from CloudFront alone on 443, and
    // CloudFront dials the name the certificate covers.
    let issued = moto.json_call(
        &cx.region,
        "acm",
        "CertificateManager.RequestCertificate",
        &serde_json::json!({"DomainName": "origin.shop.example.com"}),
    );
    let certificate = issued["CertificateArn"].as_str().unwrap().to_string();
    if let StackManifest::Ecommerce(s) = &mut manifest {
        s.spec.load_balancer.certificate_arn = Some(certificate);
        s.spec.load_balancer.domain_name = Some("origin.shop.example.com".into());
    }
    let tls = TestStack::new(&moto.endpoint, &manifest, "uid-origin-header").await;
    let pass = tls.converge(&tls.cx, 6).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    // The HTTP listener went with its rule: no call for the rule alone.
    assert_eq!(calls_of(&tls.cx.clients.calls, "DeleteListener"), 1);
    assert_eq!(calls_of(&tls.cx.clients.calls, "DeleteRule"), 0);
    let (shapes, rules) = listeners(cx, &pass).await;
    assert_eq!(
        shapes,
        [(
            "HTTPS".to_string(),
            443,
            "fixed-response".to_string(),
            Some("403".to_string())
        )]
    );
    assert_eq!(rules, forwarding);
    assert_eq!(
        api_origin(cx, &pass).await,
        (
            "origin.shop.example.com".to_string(),
            "https-only".to_string(),
            vec![("X-Origin-Verify".to_string(), value.clone())]
        )
    );
    let ports: Vec<i32> = ingress(cx, &id(&pass, "network/sg-lb"))
        .await
        .iter()
        .map(|(port, cidrs, lists)| {
            assert!(cidrs.is_empty() && lists.len() == 1);
            *port
        })
        .collect();
    assert_eq!(ports, [443]);
    let settled = tls.reconnect(&moto.endpoint).await;
    assert!(tls.converge(&settled, 2).await.converged);
    assert_eq!(settled.clients.calls.mutating(), 0);

    // Teardown takes the secret with the rest.
    assert!(tls.destroy(&settled, 10).await.converged);
    let gone = cx
        .clients
        .secrets
        .describe_secret()
        .secret_id(&secret_arn)
        .send()
        .await;
    assert!(
        gone.is_err() || gone.unwrap().deleted_date().is_some(),
        "the origin secret outlived the stack"
    );
}
