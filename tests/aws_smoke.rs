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
