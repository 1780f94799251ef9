//! The fault proxy against a real moto server and the operator's own EC2
//! client: calls are named and counted, injected faults look like AWS's own
//! to the SDK (so it retries them), and a simulated crash loses exactly one
//! response after moto has acted on the call.

mod support;

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use stackops::aws::AwsClients;
use support::moto::{MotoServer, settings_for};
use support::proxy::{FaultProxy, Faults};

const TEST_TAG: &str = "stackops.io/test";

/// Fails the test instead of hanging it.
async fn bounded<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(120), test)
        .await
        .expect("test finished within its time bound")
}

/// The operator's client, through `endpoint`, with `max_attempts` per call.
async fn clients(endpoint: &str, max_attempts: u32) -> AwsClients {
    let mut settings = settings_for(endpoint);
    settings.max_attempts = max_attempts;
    AwsClients::from_settings(&settings).await
}

async fn create_vpc(
    clients: &AwsClients,
    cidr: &str,
    label: &str,
) -> Result<
    aws_sdk_ec2::operation::create_vpc::CreateVpcOutput,
    SdkError<aws_sdk_ec2::operation::create_vpc::CreateVpcError>,
> {
    clients
        .ec2
        .create_vpc()
        .cidr_block(cidr)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Vpc)
                .tags(Tag::builder().key(TEST_TAG).value(label).build())
                .build(),
        )
        .send()
        .await
}

/// VPCs carrying our label; the default VPC moto may hold has none.
async fn count_vpcs(clients: &AwsClients, label: &str) -> usize {
    clients
        .ec2
        .describe_vpcs()
        .filters(
            Filter::builder()
                .name(format!("tag:{TEST_TAG}"))
                .values(label)
                .build(),
        )
        .send()
        .await
        .expect("DescribeVpcs")
        .vpcs()
        .len()
}

fn status<E>(error: &SdkError<E>) -> Option<u16> {
    error.raw_response().map(|r| r.status().as_u16())
}

#[tokio::test]
async fn passes_calls_through_and_names_them() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    bounded(async {
        let aws = clients(&proxy.endpoint, 3).await;

        aws.ec2.describe_vpcs().send().await.expect("DescribeVpcs");
        let stats = proxy.stats();
        assert_eq!((stats.requests, stats.forwarded, stats.mutating), (1, 1, 0));
        assert_eq!(
            stats.by_action.into_iter().collect::<Vec<_>>(),
            [("ec2:DescribeVpcs".to_string(), 1)]
        );

        proxy.reset_stats();
        create_vpc(&aws, "10.1.0.0/16", "passthrough")
            .await
            .expect("CreateVpc");
        let stats = proxy.stats();
        assert_eq!((stats.requests, stats.forwarded, stats.mutating), (1, 1, 1));
        assert_eq!(stats.by_action.get("ec2:CreateVpc"), Some(&1));
        assert_eq!(count_vpcs(&aws, "passthrough").await, 1);
    })
    .await;
}

#[tokio::test]
async fn throttling_is_ec2_request_limit_exceeded_and_retried() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    proxy.set_faults(Faults {
        throttle_rate: 1.0,
        seed: 1,
        ..Faults::default()
    });
    bounded(async {
        let aws = clients(&proxy.endpoint, 3).await;
        let error = aws.ec2.describe_vpcs().send().await.unwrap_err();
        assert_eq!(error.code(), Some("RequestLimitExceeded"), "{error:?}");
        assert_eq!(status(&error), Some(503));
        let stats = proxy.stats();
        assert_eq!(stats.requests, 3, "the SDK retried the throttling error");
        assert_eq!((stats.throttled, stats.forwarded), (3, 0));
    })
    .await;
}

#[tokio::test]
async fn retries_absorb_partial_throttling() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    proxy.set_faults(Faults {
        throttle_rate: 0.3,
        seed: 7,
        ..Faults::default()
    });
    bounded(async {
        let aws = clients(&proxy.endpoint, 10).await;
        for i in 0..20 {
            create_vpc(&aws, &format!("10.{i}.0.0/16"), "throttled")
                .await
                .unwrap_or_else(|e| panic!("CreateVpc {i}: {e:?}"));
        }
        let stats = proxy.stats();
        assert!(stats.throttled > 0, "{stats:?}");
        assert_eq!(stats.requests, 20 + stats.throttled);
        assert_eq!((stats.forwarded, stats.mutating), (20, 20));
        assert_eq!(stats.by_action.get("ec2:CreateVpc"), Some(&20));

        let direct = clients(&moto.endpoint, 1).await;
        assert_eq!(count_vpcs(&direct, "throttled").await, 20, "no duplicates");
    })
    .await;
}

#[tokio::test]
async fn server_errors_are_retried_then_surface_as_5xx() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    proxy.set_faults(Faults {
        server_error_rate: 1.0,
        seed: 2,
        ..Faults::default()
    });
    bounded(async {
        let aws = clients(&proxy.endpoint, 4).await;
        let error = aws.ec2.describe_vpcs().send().await.unwrap_err();
        assert_eq!(status(&error), Some(500), "{error:?}");
        assert_eq!(error.code(), Some("InternalError"));
        let stats = proxy.stats();
        assert_eq!((stats.requests, stats.server_errors), (4, 4));
    })
    .await;
}

#[tokio::test]
async fn resets_fail_the_call_before_it_reaches_moto() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    proxy.set_faults(Faults {
        reset_rate: 1.0,
        seed: 3,
        ..Faults::default()
    });
    bounded(async {
        let aws = clients(&proxy.endpoint, 2).await;
        let error = create_vpc(&aws, "10.3.0.0/16", "reset").await.unwrap_err();
        assert!(
            matches!(error, SdkError::DispatchFailure(_)),
            "no response at all: {error:?}"
        );
        let stats = proxy.stats();
        assert_eq!((stats.requests, stats.resets, stats.forwarded), (2, 2, 0));

        let direct = clients(&moto.endpoint, 1).await;
        assert_eq!(count_vpcs(&direct, "reset").await, 0);
    })
    .await;
}

#[tokio::test]
async fn latency_delays_every_call() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    proxy.set_faults(Faults {
        latency: Duration::from_millis(300),
        ..Faults::default()
    });
    bounded(async {
        let aws = clients(&proxy.endpoint, 1).await;
        let started = Instant::now();
        aws.ec2.describe_vpcs().send().await.expect("DescribeVpcs");
        assert!(started.elapsed() >= Duration::from_millis(300));
    })
    .await;
}

#[tokio::test]
async fn a_crash_loses_the_response_of_the_kth_mutation_only() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    proxy.crash_after_mutations(2);
    bounded(async {
        let aws = clients(&proxy.endpoint, 3).await;
        let direct = clients(&moto.endpoint, 1).await;

        create_vpc(&aws, "10.1.0.0/16", "crash")
            .await
            .expect("first CreateVpc");
        assert!(!proxy.has_crashed());

        let error = create_vpc(&aws, "10.2.0.0/16", "crash").await.unwrap_err();
        assert!(
            matches!(error, SdkError::DispatchFailure(_)),
            "the response was lost: {error:?}"
        );
        assert!(proxy.has_crashed());
        assert_eq!(count_vpcs(&direct, "crash").await, 2, "moto did create it");

        // The SDK retries a lost response; both retries were refused.
        let before = proxy.stats();
        assert_eq!(
            (before.requests, before.forwarded, before.mutating),
            (4, 2, 2)
        );

        let error = aws.ec2.describe_vpcs().send().await.unwrap_err();
        assert!(
            matches!(error, SdkError::DispatchFailure(_)),
            "refused: {error:?}"
        );
        let after = proxy.stats();
        assert_eq!(after.requests, before.requests + 3);
        assert_eq!(after.forwarded, before.forwarded, "nothing reached moto");

        proxy.recover();
        assert!(!proxy.has_crashed());
        assert_eq!(count_vpcs(&aws, "crash").await, 2);
        assert_eq!(proxy.stats().forwarded, 3);
    })
    .await;
}

#[tokio::test]
async fn throttled_attempts_are_counted_by_service_in_every_protocol() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint);
    bounded(async {
        let aws = clients(&proxy.endpoint, 2).await;
        let calls = || async {
            // EC2 Query, AWS Query, S3 (REST XML) and two JSON protocols.
            let _ = aws.ec2.describe_vpcs().send().await;
            let _ = aws.elb.describe_load_balancers().send().await;
            let _ = aws.s3.list_buckets().send().await;
            let _ = aws.logs.describe_log_groups().send().await;
            let _ = aws.secrets.list_secrets().send().await;
        };

        // A server error is not throttling.
        proxy.set_faults(Faults {
            server_error_rate: 1.0,
            seed: 3,
            ..Faults::default()
        });
        calls().await;
        assert!(
            aws.calls.throttled().is_empty(),
            "{:?}",
            aws.calls.throttled()
        );

        proxy.set_faults(Faults {
            throttle_rate: 1.0,
            seed: 3,
            ..Faults::default()
        });
        calls().await;
        let services: std::collections::BTreeSet<String> = aws
            .calls
            .snapshot()
            .keys()
            .map(|k| k.service.clone())
            .collect();
        assert_eq!(services.len(), 5, "{services:?}");
        let throttled = aws.calls.throttled();
        // Both attempts of each call, under the service's own name.
        assert_eq!(
            throttled,
            services.iter().map(|s| (s.clone(), 2)).collect(),
            "{throttled:?}"
        );

        // Answers that get through add nothing.
        proxy.set_faults(Faults::default());
        calls().await;
        assert_eq!(aws.calls.throttled(), throttled);
    })
    .await;
}
