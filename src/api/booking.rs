//! `BookingPlatform`: a booking service. A VPC segmented into public,
//! private and data subnets across AZs, an ALB, an Auto Scaling group with
//! scaling policies, Multi-AZ RDS with read replicas, ElastiCache, a media
//! bucket with lifecycle rules, and CloudWatch alarms, dashboard and logs.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{
    AppSpec, BucketSpec, CacheSpec, DatabaseSpec, FrontendSpec, LB_CERTIFICATE_IN_REGION,
    LB_CERTIFICATE_IN_REGION_MESSAGE, LoadBalancerSpec, MonitoringSpec, NetworkSpec, StackSettings,
};
use super::status::StackStatus;

/// A booking service on AWS: multi-AZ VPC, load balancer, auto-scaled
/// servers, Multi-AZ RDS with read replicas, ElastiCache, a media bucket with
/// lifecycle rules, and CloudWatch alarms, dashboard and logs.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "stackops.io",
    version = "v1alpha1",
    kind = "BookingPlatform",
    namespaced,
    status = "StackStatus",
    shortname = "booking",
    category = "stackops",
    doc = "A booking service on AWS: multi-AZ VPC, load balancer, auto-scaled servers, Multi-AZ RDS with read replicas, ElastiCache, media bucket with lifecycle rules, CloudWatch alarms and dashboard.",
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
pub struct BookingPlatformSpec {
    #[serde(flatten)]
    pub settings: StackSettings,
    /// The stack's VPC; NAT defaults to one gateway per AZ.
    #[serde(default)]
    pub network: NetworkSpec,
    /// The Application Load Balancer.
    #[serde(default)]
    pub load_balancer: LoadBalancerSpec,
    /// The application servers and their scaling policies.
    #[serde(default)]
    pub app: AppSpec,
    /// The relational database (Multi-AZ by default) and its read replicas.
    #[serde(default)]
    pub database: DatabaseSpec,
    /// The cache; omitted, no cache is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheSpec>,
    /// The media bucket (user uploads) with its lifecycle rules.
    #[serde(default)]
    pub media: BucketSpec,
    /// A static front end behind CloudFront; omitted, none is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend: Option<FrontendSpec>,
    /// CloudWatch alarms, dashboard and logs (on by default).
    #[serde(default)]
    pub monitoring: MonitoringSpec,
}
