//! `EcommerceStack`: an online shop. Static front end in S3 behind
//! CloudFront, application servers in an Auto Scaling group behind an
//! Application Load Balancer, and an RDS database, in the stack's own VPC.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{
    AppSpec, DatabaseSpec, FrontendSpec, LB_CERTIFICATE_IN_REGION,
    LB_CERTIFICATE_IN_REGION_MESSAGE, LoadBalancerSpec, MonitoringSpec, NetworkSpec, StackSettings,
};
use super::status::StackStatus;

/// An online shop on AWS: VPC, load balancer, auto-scaled servers, RDS
/// database, and a static front end served through CloudFront.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "stackops.io",
    version = "v1alpha1",
    kind = "EcommerceStack",
    namespaced,
    status = "StackStatus",
    shortname = "ecstack",
    category = "stackops",
    doc = "An online shop on AWS: VPC, load balancer, auto-scaled servers, RDS database and a static front end behind CloudFront.",
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Reason", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].reason"),
    printcolumn(name = "Serving", type_ = "string", json_path = ".status.conditions[?(@.type==\"Serving\")].status"),
    printcolumn(name = "Endpoint", type_ = "string", json_path = ".status.endpoint"),
    printcolumn(name = "Cost/Month", type_ = "string", json_path = ".status.estimatedMonthlyCost.amount"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("size(self.metadata.name) <= 40").message("metadata.name must be at most 40 characters, so derived AWS names fit their limits").field_path(".metadata.name")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(LB_CERTIFICATE_IN_REGION).message(LB_CERTIFICATE_IN_REGION_MESSAGE).field_path(".loadBalancer.certificateArn"))]
pub struct EcommerceStackSpec {
    #[serde(flatten)]
    pub settings: StackSettings,
    /// The stack's VPC.
    #[serde(default)]
    pub network: NetworkSpec,
    /// The Application Load Balancer.
    #[serde(default)]
    pub load_balancer: LoadBalancerSpec,
    /// The application servers.
    #[serde(default)]
    pub app: AppSpec,
    /// The relational database.
    #[serde(default)]
    pub database: DatabaseSpec,
    /// The static front end (web bucket and CloudFront).
    #[serde(default)]
    pub frontend: FrontendSpec,
    /// CloudWatch alarms, dashboard and logs; omitted, none are created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<MonitoringSpec>,
}
