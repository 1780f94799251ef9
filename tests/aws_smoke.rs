//! The operator's own AWS client construction against a real moto server:
//! create a tagged VPC, find it by tag filter, delete it; bounded retries;
//! one pooled connection for clients built again and again.

mod support;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use stackops::aws::AwsClients;
use stackops::aws::config::sdk_config;
use support::moto::MotoServer;
use support::proxy::FaultProxy;

#[tokio::test]
async fn tagged_vpc_is_created_found_by_tag_and_deleted() {
    let moto = MotoServer::start();
    let clients = AwsClients::from_settings(&moto.settings()).await;
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();

    let created = clients
        .ec2
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Vpc)
                .tags(tag("stackops.io/stack", "default/smoke"))
                .tags(tag("stackops.io/component", "network/vpc"))
                .build(),
        )
        .send()
        .await
        .expect("CreateVpc");
    let vpc_id = created.vpc().and_then(|v| v.vpc_id()).unwrap().to_string();

    let by_tag = || {
        clients
            .ec2
            .describe_vpcs()
            .filters(
                Filter::builder()
                    .name("tag:stackops.io/stack")
                    .values("default/smoke")
                    .build(),
            )
            .send()
    };
    let found = by_tag().await.expect("DescribeVpcs");
    let ids: Vec<_> = found.vpcs().iter().filter_map(|v| v.vpc_id()).collect();
    assert_eq!(ids, [vpc_id.as_str()], "exactly the tagged VPC is found");

    clients
        .ec2
        .delete_vpc()
        .vpc_id(&vpc_id)
        .send()
        .await
        .expect("DeleteVpc");
    assert!(by_tag().await.unwrap().vpcs().is_empty(), "the VPC is gone");
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_after_bounded_retries() {
    // A port nothing listens on: connection refused is retryable, so the
    // SDK tries again, exactly as often as the retry policy allows.
    let mut settings = support::moto::settings_for("http://127.0.0.1:9");
    settings.max_attempts = 3;
    let calls = stackops::aws::calls::CallCounter::default();
    let clients = AwsClients::counted(&sdk_config(&settings).await, calls.clone(), &[]);
    let started = std::time::Instant::now();
    let error = clients
        .ec2
        .describe_vpcs()
        .send()
        .await
        .map_err(stackops::aws::sdk("DescribeVpcs"))
        .expect_err("nothing listens there");
    assert!(error.is_retryable(), "{error}");
    assert_eq!(
        calls.retries(),
        2,
        "three attempts: the first and two retries"
    );
    assert_eq!(calls.total(), 1, "one call, however many attempts");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[tokio::test]
async fn clients_built_per_pass_share_one_connection() {
    // The operator builds its service clients for every pass, from one
    // configuration per region, every region sharing one HTTP client: calls
    // of any service, pass or region reuse one pooled connection rather
    // than opening one per client.
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    let http = stackops::aws::http::shared_https_client();
    let mut configs = Vec::new();
    for region in ["us-east-1", "eu-west-1"] {
        let mut settings = support::moto::settings_for(&proxy.endpoint);
        settings.region = Some(region.into());
        settings.http_client = Some(http.clone());
        configs.push(sdk_config(&settings).await);
    }
    for _pass in 0..3 {
        for config in &configs {
            let clients = AwsClients::new(config);
            clients
                .ec2
                .describe_vpcs()
                .send()
                .await
                .expect("DescribeVpcs");
            clients.iam.list_roles().send().await.expect("ListRoles");
            clients.s3.list_buckets().send().await.expect("ListBuckets");
        }
    }
    let stats = proxy.stats();
    assert_eq!(stats.requests, 18);
    assert_eq!(
        stats.connections, 1,
        "18 calls one after another, one connection"
    );
}

/// The emulator answers as AWS does past its first page: every launch
/// template of a shared list comes back (moto alone cut it at 15 with no
/// NextToken), and each resource carries its own tags (the emulator looks
/// them up by id, not by scanning the region's tags).
#[tokio::test]
async fn a_list_of_many_launch_templates_is_whole_and_each_has_its_own_tags() {
    use aws_sdk_ec2::types::RequestLaunchTemplateData;
    let moto = MotoServer::start();
    let clients = AwsClients::from_settings(&moto.settings()).await;
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
    for i in 0..20 {
        clients
            .ec2
            .create_launch_template()
            .launch_template_name(format!("stackops-t{i}"))
            .launch_template_data(
                RequestLaunchTemplateData::builder()
                    .image_id("ami-12c6146b")
                    .build(),
            )
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::LaunchTemplate)
                    .tags(tag("stackops.io/uid", &format!("uid-{i}")))
                    .build(),
            )
            .send()
            .await
            .expect("CreateLaunchTemplate");
    }
    let by_tag_key = Filter::builder()
        .name("tag-key")
        .values("stackops.io/uid")
        .build();
    let whole = clients
        .ec2
        .describe_launch_templates()
        .filters(by_tag_key.clone())
        .send()
        .await
        .expect("DescribeLaunchTemplates");
    assert_eq!(
        whole.launch_templates().len(),
        20,
        "no MaxResults: every one"
    );
    assert!(whole.next_token().is_none());
    for template in whole.launch_templates() {
        let name = template.launch_template_name().unwrap();
        let uids: Vec<_> = template.tags().iter().filter_map(|t| t.value()).collect();
        assert_eq!(
            uids,
            [name.replace("stackops-t", "uid-")],
            "{name}'s own tag"
        );
    }
    let first = clients
        .ec2
        .describe_launch_templates()
        .filters(by_tag_key.clone())
        .max_results(7)
        .send()
        .await
        .unwrap();
    assert_eq!(first.launch_templates().len(), 7);
    assert!(first.next_token().is_some(), "a page names the rest");
    let paged: Vec<String> = clients
        .ec2
        .describe_launch_templates()
        .filters(by_tag_key)
        .max_results(7)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|t| t.unwrap().launch_template_name().unwrap().to_string())
        .collect();
    assert_eq!(paged.len(), 20, "pages add up to the whole list");
}

/// An origin access control named `name`.
fn access_control(name: &str) -> aws_sdk_cloudfront::types::OriginAccessControlConfig {
    use aws_sdk_cloudfront::types::{
        OriginAccessControlConfig, OriginAccessControlOriginTypes,
        OriginAccessControlSigningBehaviors, OriginAccessControlSigningProtocols,
    };
    OriginAccessControlConfig::builder()
        .name(name)
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        .signing_behavior(OriginAccessControlSigningBehaviors::Always)
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
        .build()
        .unwrap()
}

/// Past 100 origin access controls the emulator's list pages as
/// CloudFront's does (moto handed every request its first page again), so
/// a stack among many finds its own control.
#[tokio::test]
async fn origin_access_controls_page_past_the_first_hundred() {
    let moto = MotoServer::start();
    let clients = AwsClients::from_settings(&moto.settings()).await;
    for i in 0..105 {
        clients
            .cloudfront
            .create_origin_access_control()
            .origin_access_control_config(access_control(&format!("stackops-oac-{i}")))
            .send()
            .await
            .expect("CreateOriginAccessControl");
    }
    let names: std::collections::BTreeSet<String> = clients
        .cloudfront
        .list_origin_access_controls()
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|c| c.unwrap().name().to_string())
        .collect();
    assert_eq!(names.len(), 105, "every page, each control once");
    assert!(names.contains("stackops-oac-104"));
}

/// As CloudFront does, the emulator refuses a second origin access control
/// under a name in use (moto made another), which is what lets a stack
/// create its control without listing the account's first.
#[tokio::test]
async fn a_second_origin_access_control_of_one_name_is_refused() {
    let moto = MotoServer::start();
    let clients = AwsClients::from_settings(&moto.settings()).await;
    let create = || {
        clients
            .cloudfront
            .create_origin_access_control()
            .origin_access_control_config(access_control("stackops-shop-web"))
            .send()
    };
    create().await.expect("the first");
    let refused = create().await.expect_err("a second of the same name");
    assert_eq!(
        refused.into_service_error().meta().code(),
        Some("OriginAccessControlAlreadyExists")
    );
    let listed = clients
        .cloudfront
        .list_origin_access_controls()
        .send()
        .await
        .unwrap();
    let controls = listed.origin_access_control_list().unwrap();
    assert_eq!(controls.items().len(), 1);
}
