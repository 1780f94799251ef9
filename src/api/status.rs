//! Status shared by both kinds: what stackops observed and did, in
//! Kubernetes conventions. Never holds a secret value.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of a stack.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StackStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The AWS account the stack lives in. Set by the first pass; a stack
    /// never follows its namespace's identity into another account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// `Ready`, `Progressing` and `Degraded`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Every AWS resource of the stack with its state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceStatus>,
    /// Endpoints and names users connect to.
    #[serde(default, skip_serializing_if = "StackOutputs::is_empty")]
    pub outputs: StackOutputs,
    /// The main endpoint (CDN domain, else load balancer DNS name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Secret in the stack's namespace holding connection details (endpoints,
    /// ports and the ARNs of the credential secrets; never a password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_secret: Option<String>,
    /// What the stack's fixed charges come to a month at AWS list prices,
    /// estimated for each new generation of the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_monthly_cost: Option<CostEstimate>,
}

/// An estimate of a stack's monthly cost.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CostEstimate {
    /// The sum of the fixed charges priced, two decimals, e.g. `412.37`.
    pub amount: String,
    /// ISO 4217 currency of `amount`, e.g. `USD`.
    pub currency: String,
    /// Effective date of the newest price used (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_date: Option<String>,
    /// False when some price could not be read: `amount` then leaves those
    /// charges out, and `message` names them.
    pub complete: bool,
    /// What is left out: charges that grow with use, and prices that
    /// could not be read.
    #[serde(default)]
    pub message: String,
}

/// A condition in the Kubernetes convention.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `Ready`, `Progressing` or `Degraded`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// One CamelCase word saying why.
    pub reason: String,
    /// What a person needs to know.
    #[serde(default)]
    pub message: String,
    /// The generation this condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When `status` last changed (RFC 3339).
    pub last_transition_time: String,
}

/// One AWS resource of the stack.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    /// Resource kind, e.g. `VPC`, `DBInstance`.
    pub kind: String,
    /// Node key in the stack's graph, e.g. `network/subnet-public-a`.
    pub key: String,
    /// AWS id (or name) once it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// AWS ARN where the resource has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Lifecycle state.
    pub state: ResourceState,
    /// Detail: drifted fields, pending changes, the AWS error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Lifecycle state of one AWS resource.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ResourceState {
    Pending,
    Creating,
    Updating,
    Ready,
    Drifted,
    Blocked,
    Deleting,
    Deleted,
    Retained,
    Failed,
}

/// What users connect to.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StackOutputs {
    /// CloudFront domain name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdn_domain: Option<String>,
    /// Load balancer DNS name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_dns: Option<String>,
    /// Database writer endpoint (host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_endpoint: Option<String>,
    /// Database reader endpoints (read replicas).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub database_reader_endpoints: Vec<String>,
    /// Database port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_port: Option<i32>,
    /// ARN of the Secrets Manager secret RDS keeps the master password in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_secret_arn: Option<String>,
    /// Cache primary endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_endpoint: Option<String>,
    /// Cache reader endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_reader_endpoint: Option<String>,
    /// Cache port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_port: Option<i32>,
    /// ARN of the Secrets Manager secret holding the cache AUTH token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_secret_arn: Option<String>,
    /// S3 bucket names by role (`web`, `media`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub buckets: BTreeMap<String, String>,
    /// CloudWatch dashboard name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard: Option<String>,
    /// CloudWatch alarm names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<String>,
    /// CloudWatch Logs group for the application's logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
    /// SSM Parameter Store path under which the servers read these outputs
    /// (`<path>/database/endpoint`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters_path: Option<String>,
}

impl StackOutputs {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}
