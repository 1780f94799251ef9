//! AWS: one shared SDK configuration, one client per service built from
//! it, and one module per resource family implementing the engine's
//! resource traits.

pub mod acm;
pub mod assume_role;
pub mod autoscaling;
pub mod budgets;
pub mod call_budget;
pub mod calls;
pub mod cloudfront;
pub mod cloudwatch;
pub mod config;
pub mod ec2;
pub mod elasticache;
pub mod elbv2;
pub mod groups;
pub mod http;
pub mod iam;
pub mod kms;
pub mod logs;
pub mod preflight;
pub mod prelude;
pub mod pricing;
pub mod quotas;
pub mod rds;
pub mod registry;
pub mod role_boundary;
pub mod s3;
pub mod secrets;
pub mod shared;
pub mod shared_lists;
pub mod shared_reads;
pub mod sns;
pub mod ssm;
pub mod sts;
pub mod tagged;
pub mod zones;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub use config::{AwsClients, AwsSettings};

use crate::engine::calls::CallCounter;
use crate::engine::{AwsError, ErrorClass};

/// One pass's context, with the AWS clients.
pub type Context = crate::engine::Context<AwsClients>;
/// An AWS resource kind.
pub type Kind = crate::engine::Kind<AwsClients>;
/// A node of a stack's graph of AWS resources.
pub type Node = crate::engine::Node<AwsClients>;
/// A stack's graph of AWS resources.
pub type Graph = crate::engine::Graph<AwsClients>;

impl crate::engine::Clients for AwsClients {
    fn calls(&self) -> &CallCounter {
        &self.calls
    }

    fn read_fresh(&self) {
        self.reads.read_fresh();
    }
}

/// Maps an SDK error of `operation` to a classified error.
pub fn sdk<E>(operation: &'static str) -> impl FnOnce(SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    move |err| AwsError::from_sdk(operation, err)
}

/// A request stackops itself built wrongly (an SDK builder refused it): a
/// bug, never worth a retry.
pub fn built_wrongly(
    operation: &'static str,
) -> impl FnOnce(aws_smithy_types::error::operation::BuildError) -> AwsError {
    move |e| {
        AwsError::new(
            ErrorClass::Terminal,
            operation,
            "InvalidRequest",
            format!("internal: {e}"),
        )
    }
}

/// A create call answered without the resource it made: retry; the next
/// pass finds the resource by its tags or name.
pub fn missing(operation: &str) -> AwsError {
    AwsError::new(
        ErrorClass::Retryable,
        operation,
        "IncompleteResponse",
        "the response lacked the new resource",
    )
}

/// The ARN partition of `region` (the regions are listed in `api::region`).
pub(crate) fn partition(region: &str) -> &'static str {
    crate::api::region::partition(region)
}

/// Name of a final snapshot of `id`: the resource and the second it was
/// taken (databases and caches alike). The second, not the minute: a stack
/// torn down, re-created and torn down again within a minute must not meet
/// its earlier snapshot (and if it does within a second, the error is
/// retryable and the next pass draws a new name).
pub(crate) fn final_snapshot_name(id: &str) -> String {
    let now = jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S").to_string();
    format!("{id}-final-{now}")
}

/// Description of a parameter group (RDS or ElastiCache) of the stack. It
/// names the uid: neither service filters those groups by tag, so one list
/// call tells the stack's groups apart by it.
pub(crate) fn owned_description(cx: &Context) -> String {
    format!(
        "Managed by stackops for {} ({})",
        cx.identity.stack_tag(),
        cx.identity.uid
    )
}
