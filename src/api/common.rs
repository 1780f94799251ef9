//! Building blocks shared by both stack kinds. Every field's doc comment is
//! its CRD description (what `kubectl explain` shows); defaults are chosen to
//! be safe for production and are stated on each field.
//!
//! Three kinds of checks live here, from cheapest to richest:
//! OpenAPI constraints (`schemars` ranges, patterns, lengths), CEL rules
//! (`x-kubernetes-validations`, evaluated by the API server at admission), and
//! nothing else: checks no schema can express are in `blueprint::validate`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Pattern of an IPv4 CIDR block with a prefix AWS accepts for a VPC (/16../28).
pub const VPC_CIDR_PATTERN: &str = r"^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])/(1[6-9]|2[0-8])$";
/// Pattern of an IPv4 CIDR block for a subnet (/16../28).
pub const SUBNET_CIDR_PATTERN: &str = VPC_CIDR_PATTERN;
/// An EC2 VPC id.
pub const VPC_ID_PATTERN: &str = r"^vpc-([0-9a-f]{8}|[0-9a-f]{17})$";
/// An EC2 subnet id.
pub const SUBNET_ID_PATTERN: &str = r"^subnet-([0-9a-f]{8}|[0-9a-f]{17})$";
/// Pattern of an AWS region name such as `eu-west-1` or `us-gov-west-1`.
pub const REGION_PATTERN: &str = r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$";
/// Pattern of an ACM certificate ARN.
pub const ACM_ARN_PATTERN: &str =
    r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]{1,64}$";
/// CEL rule on a stack's spec: the load balancer's certificate is in the
/// stack's region (ELB takes no other). Cross-field, so on the spec itself.
pub const LB_CERTIFICATE_IN_REGION: &str = "!has(self.loadBalancer) || !has(self.loadBalancer.certificateArn) || self.loadBalancer.certificateArn.split(':')[3] == self.region";
/// Message of [`LB_CERTIFICATE_IN_REGION`].
pub const LB_CERTIFICATE_IN_REGION_MESSAGE: &str =
    "the load balancer's certificate must be in the stack's region (spec.region)";
/// Pattern of a KMS key id, alias or ARN.
pub const KMS_KEY_PATTERN: &str = r"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[A-Za-z0-9/_-]{1,256}|alias/[A-Za-z0-9/_-]{1,250}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$";
/// Pattern of an SNS topic ARN.
pub const SNS_ARN_PATTERN: &str = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$";
/// Pattern of a DNS host name (aliases of a distribution), wildcard allowed in front.
pub const HOSTNAME_PATTERN: &str = r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$";
/// Pattern of a weekly window (`ddd:hh24:mi-ddd:hh24:mi`), as RDS takes it.
pub const WEEKLY_WINDOW_PATTERN: &str = r"^(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]-(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]$";
/// Pattern of a daily window (`hh24:mi-hh24:mi`), as RDS backups take it.
pub const DAILY_WINDOW_PATTERN: &str =
    r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$";

/// What happens to a data-bearing resource (database, cache, bucket) when
/// its stack is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Take a final snapshot, then delete (databases and caches only).
    Snapshot,
    /// Leave the resource in AWS, untouched, with what it needs to keep
    /// working (a database keeps its subnets, groups and VPC); stackops
    /// deletes everything else and forgets it. (Caches: unfinished,
    /// teardown waits.)
    Retain,
    /// Delete the resource and its data. Buckets are emptied first.
    Delete,
}

/// Whether stackops may change AWS resources to match the spec.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ManagementPolicy {
    /// Create what is missing and correct drift.
    #[default]
    Managed,
    /// Adopt and observe existing resources; report drift, never change AWS.
    ObserveOnly,
}

/// What deleting the stack does to its AWS resources (Crossplane's names).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum StackDeletionPolicy {
    /// Tear everything down, honouring the data's own deletion policies.
    #[default]
    Delete,
    /// Leave every AWS resource in place, still tagged; only the finalizer
    /// goes. For handing a stack to other tooling, or moving it.
    Orphan,
}

/// How private subnets reach the internet: the trade between cost and
/// availability.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NatMode {
    /// No NAT gateway: private subnets have no route to the internet (cheapest;
    /// instances still reach S3 through the gateway endpoint and AWS APIs
    /// through SSM only if VPC endpoints are added).
    None,
    /// One NAT gateway in the first AZ shared by all: one hourly charge, but
    /// private subnets lose egress if that AZ fails.
    Single,
    /// One NAT gateway per AZ: survives the loss of an AZ, one charge per AZ.
    PerAz,
}

/// Which traffic VPC flow logs record.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum FlowLogTraffic {
    /// Connections refused by a security group or network ACL.
    #[default]
    Reject,
    /// Accepted and refused connections.
    All,
}

impl FlowLogTraffic {
    /// The EC2 API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowLogTraffic::Reject => "REJECT",
            FlowLogTraffic::All => "ALL",
        }
    }
}

/// Settings every stack kind shares at the top of its spec.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StackSettings {
    /// AWS region the stack lives in. Immutable: a stack cannot move regions.
    #[schemars(regex(pattern = REGION_PATTERN), length(max = 32))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "region is immutable"}]))]
    pub region: String,
    /// `Managed` (default) corrects drift; `ObserveOnly` only reports it.
    #[serde(default)]
    pub management_policy: ManagementPolicy,
    /// When true, stackops makes no AWS write for this stack (it still observes
    /// and reports). Default false.
    #[serde(default)]
    pub paused: bool,
    /// `Delete` (default): deleting the stack tears its AWS resources down;
    /// `Orphan`: they all stay in AWS, still tagged, and only the
    /// Kubernetes object goes.
    #[serde(default)]
    pub deletion_policy: StackDeletionPolicy,
    /// Extra tags put on every AWS resource of the stack. Keys under `aws:` and
    /// `stackops.io/` are reserved.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 40))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self.all(k, !k.startsWith('aws:') && !k.startsWith('stackops.io/') && k.size() <= 128 && self[k].size() <= 256)", "message": "tag keys must not start with aws: or stackops.io/; keys are at most 128 and values at most 256 characters"}]))]
    pub tags: BTreeMap<String, String>,
    /// A monthly AWS Budget on the stack's cost-allocation tag.
    #[serde(default)]
    pub budget: BudgetSpec,
}

/// An AWS Budget on the stack's spend, read from its cost-allocation tag
/// `stackops.io/stack` (activated once per account). It notifies the
/// stack's alarm topic at 80 % of actual and at 100 % of forecast spend.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct BudgetSpec {
    /// Make the budget. Default true.
    pub enabled: bool,
    /// Monthly limit in USD, 1 to 10,000,000; omitted, the stack's
    /// estimated monthly cost plus `headroomPercent`, rounded up to ten
    /// dollars.
    #[serde(rename = "monthlyLimitUSD", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10_000_000))]
    pub monthly_limit_usd: Option<i64>,
    /// Headroom over the estimate when no limit is given, 0 to 1000
    /// percent. Default 20.
    #[schemars(range(min = 0, max = 1000))]
    pub headroom_percent: i32,
}

impl Default for BudgetSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            monthly_limit_usd: None,
            headroom_percent: 20,
        }
    }
}

impl BudgetSpec {
    /// The limit for an estimated monthly cost of `estimate` USD: the
    /// spec's, else the estimate with headroom rounded up to ten dollars
    /// (so a Spot price that moves a cent does not move the budget).
    pub fn limit_for(&self, estimate: Option<f64>) -> Option<i64> {
        if let Some(limit) = self.monthly_limit_usd {
            return Some(limit);
        }
        let with_headroom = estimate? * (1.0 + f64::from(self.headroom_percent) / 100.0);
        Some(((with_headroom / 10.0).ceil() as i64 * 10).max(10))
    }
}

/// The stack's own VPC.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!has(self.subnets) || (size(self.subnets.public) == self.azCount && size(self.subnets.app) == self.azCount && size(self.subnets.data) == self.azCount)", "message": "subnets must list exactly azCount CIDRs in each of public, app and data", "fieldPath": ".subnets"}, {"rule": "int(self.cidr.split('/')[1]) + (self.azCount > 4 ? 5 : 4) <= 28 || has(self.subnets) || has(self.existing)", "message": "the VPC CIDR is too small for azCount: three tiers of azCount subnets, each at least /28, must fit", "fieldPath": ".cidr"}, {"rule": "!has(self.existing) || (size(self.existing.publicSubnetIds) == self.azCount && size(self.existing.appSubnetIds) == self.azCount && size(self.existing.dataSubnetIds) == self.azCount)", "message": "existing must list exactly azCount subnet ids in each of publicSubnetIds, appSubnetIds and dataSubnetIds", "fieldPath": ".existing"}, {"rule": "!has(self.existing) || (!has(self.subnets) && !has(self.natMode))", "message": "an existing network brings its own subnets and NAT: subnets and natMode apply only to a VPC the stack creates", "fieldPath": ".existing"}, {"rule": "has(self.existing) == has(oldSelf.existing)", "message": "a stack cannot move between a VPC of its own and an existing one"}]))]
pub struct NetworkSpec {
    /// IPv4 CIDR of the VPC, /16 to /28. Default 10.0.0.0/16. Immutable.
    #[schemars(regex(pattern = VPC_CIDR_PATTERN), length(max = 18))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "the VPC CIDR is immutable"}]))]
    pub cidr: String,
    /// Number of availability zones to spread over, 2 to 6 (load balancers and
    /// RDS subnet groups need two). Default 2.
    #[schemars(range(min = 2, max = 6))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "azCount is immutable"}]))]
    pub az_count: i32,
    /// NAT gateways: `none`, `single` or `perAz`. Default: `single` for an
    /// EcommerceStack, `perAz` for a BookingPlatform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nat_mode: Option<NatMode>,
    /// Send VPC flow logs to a CloudWatch log group, kept as long as
    /// `monitoring.logRetentionDays`. Default true: the security alarms on
    /// rejected traffic read them.
    pub flow_logs: bool,
    /// What the flow logs record: `REJECT` (default: the connections the
    /// security groups and network ACLs refused, which the security alarms
    /// count, at a fraction of the volume) or `ALL` (accepted traffic too,
    /// for forensics; CloudWatch Logs ingestion grows with traffic).
    pub flow_log_traffic: FlowLogTraffic,
    /// Explicit subnet CIDRs instead of the computed plan; each list has one
    /// CIDR per AZ, all inside the VPC CIDR and not overlapping.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnets: Option<SubnetOverrides>,
    /// Build inside a VPC and subnets that already exist (a network team's)
    /// instead of creating them: the stack adds its security groups, load
    /// balancer, servers and subnet groups, and never changes or deletes
    /// the network. `cidr`, `subnets`, `natMode` and `flowLogs` are the
    /// network owner's then. Immutable.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "the existing network is immutable"}]))]
    pub existing: Option<ExistingNetwork>,
}

impl NetworkSpec {
    /// Whether the stack creates its own VPC (else it builds in `existing`).
    pub fn owns_vpc(&self) -> bool {
        self.existing.is_none()
    }
}

/// A VPC and subnets the stack uses but does not own: one subnet per AZ
/// and tier, `azCount` of each, in AZ order.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExistingNetwork {
    /// The VPC, e.g. `vpc-0a1b2c3d4e5f67890`.
    #[schemars(regex(pattern = VPC_ID_PATTERN), length(max = 21))]
    pub vpc_id: String,
    /// Subnets routed to an internet gateway: the load balancer's.
    #[schemars(length(min = 2, max = 6), inner(regex(pattern = SUBNET_ID_PATTERN), length(max = 24)))]
    pub public_subnet_ids: Vec<String>,
    /// Private subnets for the servers; no route to an internet gateway.
    #[schemars(length(min = 2, max = 6), inner(regex(pattern = SUBNET_ID_PATTERN), length(max = 24)))]
    pub app_subnet_ids: Vec<String>,
    /// Private subnets for the database and cache; no route to an internet
    /// gateway.
    #[schemars(length(min = 2, max = 6), inner(regex(pattern = SUBNET_ID_PATTERN), length(max = 24)))]
    pub data_subnet_ids: Vec<String>,
}

impl ExistingNetwork {
    /// Each tier's spec field and subnet ids, in AZ order.
    pub fn tiers(&self) -> [(&'static str, &'static str, &[String]); 3] {
        [
            ("public", "publicSubnetIds", &self.public_subnet_ids),
            ("app", "appSubnetIds", &self.app_subnet_ids),
            ("data", "dataSubnetIds", &self.data_subnet_ids),
        ]
    }
}

impl Default for NetworkSpec {
    fn default() -> Self {
        Self {
            cidr: "10.0.0.0/16".into(),
            az_count: 2,
            nat_mode: None,
            flow_logs: true,
            flow_log_traffic: FlowLogTraffic::Reject,
            subnets: None,
            existing: None,
        }
    }
}

/// Subnet CIDRs per tier, one per AZ, in AZ order.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct SubnetOverrides {
    /// Public subnets (load balancer, NAT gateways).
    #[schemars(length(min = 2, max = 6), inner(regex(pattern = SUBNET_CIDR_PATTERN), length(max = 18)))]
    pub public: Vec<String>,
    /// Private application subnets (instances).
    #[schemars(length(min = 2, max = 6), inner(regex(pattern = SUBNET_CIDR_PATTERN), length(max = 18)))]
    pub app: Vec<String>,
    /// Private data subnets (database, cache); no route to the internet.
    #[schemars(length(min = 2, max = 6), inner(regex(pattern = SUBNET_CIDR_PATTERN), length(max = 18)))]
    pub data: Vec<String>,
}

/// The Application Load Balancer in front of the servers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!has(self.domainName) || has(self.certificateArn)", "message": "domainName is the name the certificate covers: it needs certificateArn", "fieldPath": ".domainName"}]))]
pub struct LoadBalancerSpec {
    /// ACM certificate for HTTPS. When set the load balancer listens on 443
    /// with a modern TLS policy and redirects HTTP to HTTPS; otherwise it
    /// forwards plain HTTP on 80.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = ACM_ARN_PATTERN), length(max = 2048))]
    pub certificate_arn: Option<String>,
    /// A DNS name of yours that points at the load balancer (a CNAME or
    /// alias to its `LOAD_BALANCER_DNS` output) and that the certificate
    /// covers. With a CDN in front and a certificate, CloudFront reaches the
    /// load balancer over HTTPS at this name, and checks the certificate
    /// against it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(
        regex(pattern = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"),
        length(max = 253)
    )]
    pub domain_name: Option<String>,
    /// Idle connection timeout in seconds, 1 to 4000. Default 60.
    #[schemars(range(min = 1, max = 4000))]
    pub idle_timeout_seconds: i32,
    /// Seconds a deregistering target keeps draining, 0 to 3600. Default 30.
    #[schemars(range(min = 0, max = 3600))]
    pub deregistration_delay_seconds: i32,
    /// Protect the load balancer from deletion. Default false, so that
    /// deleting the stack can remove it.
    pub deletion_protection: bool,
    /// Write access logs to this S3 bucket (it must allow ELB log delivery).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_logs: Option<AccessLogs>,
}

impl Default for LoadBalancerSpec {
    fn default() -> Self {
        Self {
            certificate_arn: None,
            domain_name: None,
            idle_timeout_seconds: 60,
            deregistration_delay_seconds: 30,
            deletion_protection: false,
            access_logs: None,
        }
    }
}

/// Where the load balancer writes its access logs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct AccessLogs {
    /// Existing bucket name.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"))]
    pub bucket: String,
    /// Key prefix inside the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 200))]
    pub prefix: Option<String>,
}

/// The application servers: a launch template and an Auto Scaling group in
/// the private app subnets, behind the load balancer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "self.minSize <= self.maxSize", "message": "minSize must not exceed maxSize", "fieldPath": ".minSize"}, {"rule": "!has(self.desiredCapacity) || (self.desiredCapacity >= self.minSize && self.desiredCapacity <= self.maxSize)", "message": "desiredCapacity must lie between minSize and maxSize", "fieldPath": ".desiredCapacity"}, {"rule": "!has(self.purchase) || self.instanceType in self.purchase.instanceTypes", "message": "purchase.instanceTypes must include instanceType", "fieldPath": ".purchase.instanceTypes"}]))]
pub struct AppSpec {
    /// AMI id. When omitted, EC2 resolves the public SSM parameter
    /// `amiParameter` each time it launches a server, so new servers get the
    /// latest Amazon Linux 2023 without the fleet being replaced. Set it to
    /// pin an image; changing it replaces the servers (instance refresh).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^ami-[0-9a-f]{8,17}$"))]
    pub ami: Option<String>,
    /// Public SSM parameter naming the AMI to use when `ami` is omitted. Its
    /// image's root device must be `/dev/xvda`, as Amazon Linux's is.
    #[schemars(regex(pattern = r"^/aws/service/[A-Za-z0-9/._-]+$"), length(max = 512))]
    pub ami_parameter: String,
    /// EC2 instance type. Default t3.small. Changing it replaces the
    /// servers (instance refresh).
    #[schemars(regex(pattern = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"), length(max = 32))]
    pub instance_type: String,
    /// Fewest instances, 0 to 1000. Default 2.
    #[schemars(range(min = 0, max = 1000))]
    pub min_size: i32,
    /// Most instances, 1 to 1000. Default 4.
    #[schemars(range(min = 1, max = 1000))]
    pub max_size: i32,
    /// Instances to start with; omitted, Auto Scaling starts at minSize and
    /// stackops never fights the scaling policies over it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub desired_capacity: Option<i32>,
    /// Port the application listens on, 1 to 65535. Default 8080.
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Target-group health check.
    pub health_check: HealthCheck,
    /// Shell script or cloud-init run at boot, at most 16 KiB. Changing it
    /// replaces the servers (instance refresh).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16384))]
    pub user_data: Option<String>,
    /// Size of the encrypted gp3 root volume in GiB, 8 to 16384. Default 20.
    #[schemars(range(min = 8, max = 16384))]
    pub root_volume_gib: i32,
    /// Scaling policies and scheduled actions.
    pub scaling: ScalingSpec,
    /// Share of capacity kept healthy while an instance refresh replaces
    /// servers after a launch template change, 0 to 100. Default 90.
    #[schemars(range(min = 0, max = 100))]
    pub min_healthy_percent: i32,
    /// How the servers are bought; omitted, all On-Demand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchase: Option<PurchaseSpec>,
}

/// Spot above an On-Demand base: the group's MixedInstancesPolicy. Spot
/// servers come from the pools AWS expects to last longest at the lowest
/// price (`price-capacity-optimized`); capacity rebalancing replaces one
/// before its interruption. On-Demand servers take `instanceType` first.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct PurchaseSpec {
    /// Servers that are always On-Demand, 0 to 1000: the first the group
    /// launches. Default 0.
    #[schemars(range(min = 0, max = 1000))]
    pub on_demand_base_capacity: i32,
    /// Share of the servers above the base that are On-Demand, 0 to 100;
    /// the rest are Spot. Default 0 (all Spot above the base).
    #[schemars(range(min = 0, max = 100))]
    pub on_demand_percentage_above_base_capacity: i32,
    /// Interchangeable instance types (same architecture as the image, like
    /// size), 3 to 20, `instanceType` among them: more pools, fewer
    /// interruptions. Changing the list needs no server replaced.
    #[schemars(
        length(min = 3, max = 20),
        inner(regex(pattern = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"), length(max = 32))
    )]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub instance_types: Vec<String>,
}

impl PurchaseSpec {
    /// How many of `capacity` servers are On-Demand: the base, then the
    /// share above it rounded up, as Auto Scaling rounds in favour of
    /// On-Demand.
    pub fn on_demand_of(&self, capacity: i32) -> i32 {
        let base = self.on_demand_base_capacity.min(capacity).max(0);
        let above = (capacity - base).max(0);
        let share = (above * self.on_demand_percentage_above_base_capacity + 99) / 100;
        base + share
    }
}

impl Default for AppSpec {
    fn default() -> Self {
        Self {
            ami: None,
            ami_parameter: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
                .into(),
            instance_type: "t3.small".into(),
            min_size: 2,
            max_size: 4,
            desired_capacity: None,
            port: 8080,
            health_check: HealthCheck::default(),
            user_data: None,
            root_volume_gib: 20,
            scaling: ScalingSpec::default(),
            min_healthy_percent: 90,
            purchase: None,
        }
    }
}

/// How the load balancer decides an instance is healthy.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "self.timeoutSeconds < self.intervalSeconds", "message": "timeoutSeconds must be less than intervalSeconds", "fieldPath": ".timeoutSeconds"}]))]
pub struct HealthCheck {
    /// HTTP path probed on the application port. Default `/healthz`.
    #[schemars(
        regex(pattern = r"^/[A-Za-z0-9/._~%!$&'()*+,;=:@-]*$"),
        length(max = 1024)
    )]
    pub path: String,
    /// Seconds between probes, 5 to 300. Default 15.
    #[schemars(range(min = 5, max = 300))]
    pub interval_seconds: i32,
    /// Seconds before a probe fails, 2 to 120. Default 5.
    #[schemars(range(min = 2, max = 120))]
    pub timeout_seconds: i32,
    /// Successes before healthy, 2 to 10. Default 3.
    #[schemars(range(min = 2, max = 10))]
    pub healthy_threshold: i32,
    /// Failures before unhealthy, 2 to 10. Default 3.
    #[schemars(range(min = 2, max = 10))]
    pub unhealthy_threshold: i32,
    /// Seconds after launch before Auto Scaling acts on health checks,
    /// 0 to 7200. Default 300.
    #[schemars(range(min = 0, max = 7200))]
    pub grace_period_seconds: i32,
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            path: "/healthz".into(),
            interval_seconds: 15,
            timeout_seconds: 5,
            healthy_threshold: 3,
            unhealthy_threshold: 3,
            grace_period_seconds: 300,
        }
    }
}

/// Target tracking policies and scheduled actions of the Auto Scaling group.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ScalingSpec {
    /// Keep average CPU of the group near this percentage, 10 to 90. Default 50.
    #[schemars(range(min = 10, max = 90))]
    pub target_cpu_percent: i32,
    /// Also keep ALB requests per instance near this count (per minute);
    /// omitted, there is no request-count policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000000))]
    pub requests_per_target: Option<i32>,
    /// Scheduled capacity changes (for example business hours), at most 20.
    #[schemars(length(max = 20))]
    pub scheduled_actions: Vec<ScheduledAction>,
}

impl Default for ScalingSpec {
    fn default() -> Self {
        Self {
            target_cpu_percent: 50,
            requests_per_target: None,
            scheduled_actions: Vec::new(),
        }
    }
}

/// A recurring capacity change.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!has(self.minSize) || !has(self.maxSize) || self.minSize <= self.maxSize", "message": "minSize must not exceed maxSize", "fieldPath": ".minSize"}, {"rule": "has(self.minSize) || has(self.maxSize) || has(self.desiredCapacity)", "message": "a scheduled action must set minSize, maxSize or desiredCapacity"}]))]
pub struct ScheduledAction {
    /// Name, unique in the stack.
    #[schemars(regex(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"))]
    pub name: String,
    /// Cron expression in UTC (five fields), e.g. `0 8 * * 1-5`.
    #[schemars(regex(pattern = r"^(\S+\s+){4}\S+$"), length(max = 256))]
    pub recurrence: String,
    /// New minimum size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub min_size: Option<i32>,
    /// New maximum size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub max_size: Option<i32>,
    /// New desired capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub desired_capacity: Option<i32>,
}

/// Database engine. Immutable.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseEngine {
    Postgres,
    Mysql,
}

/// The relational database (RDS), in the private data subnets, reachable
/// only from the application servers. The master password is managed by RDS
/// in AWS Secrets Manager and never passes through stackops.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!has(self.maxAllocatedStorageGiB) || self.maxAllocatedStorageGiB >= self.allocatedStorageGiB", "message": "maxAllocatedStorageGiB must be at least allocatedStorageGiB", "fieldPath": ".maxAllocatedStorageGiB"}, {"rule": "self.readReplicas == 0 || self.backupRetentionDays >= 1", "message": "read replicas need automated backups: backupRetentionDays must be at least 1", "fieldPath": ".backupRetentionDays"}]))]
pub struct DatabaseSpec {
    /// `postgres` (default) or `mysql`. Immutable.
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "engine is immutable"}]))]
    pub engine: DatabaseEngine,
    /// Engine version, e.g. `16.4` or `8.0.39`; omitted, `17` (postgres) or
    /// `8.0` (mysql) at RDS's newest minor. Only upgrades are applied in
    /// place; minor upgrades RDS makes by itself are accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+){0,2}$"), length(max = 16))]
    pub engine_version: Option<String>,
    /// Instance class. Default db.t4g.medium. Changing it modifies in place.
    #[schemars(regex(pattern = r"^db\.[a-z0-9]+\.[a-z0-9]+$"), length(max = 32))]
    pub instance_class: String,
    /// Initial storage (gp3) in GiB, 20 to 65536. Default 20.
    #[serde(rename = "allocatedStorageGiB")]
    #[schemars(range(min = 20, max = 65536))]
    pub allocated_storage_gib: i32,
    /// Storage autoscaling ceiling in GiB; omitted, storage does not grow.
    #[serde(
        rename = "maxAllocatedStorageGiB",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 21, max = 65536))]
    pub max_allocated_storage_gib: Option<i32>,
    /// Standby in a second AZ with automatic failover. Default true.
    pub multi_az: bool,
    /// Days of automated backups, 0 to 35. Default 7.
    #[schemars(range(min = 0, max = 35))]
    pub backup_retention_days: i32,
    /// Daily backup window in UTC, `hh24:mi-hh24:mi`; omitted, AWS picks one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DAILY_WINDOW_PATTERN))]
    pub backup_window: Option<String>,
    /// Weekly maintenance window in UTC, `ddd:hh24:mi-ddd:hh24:mi`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = WEEKLY_WINDOW_PATTERN))]
    pub maintenance_window: Option<String>,
    /// Apply modifications now instead of in the next maintenance window.
    /// Default false.
    pub apply_immediately: bool,
    /// Refuse deletion while true; deleting the stack then stops before the
    /// data tier and says so. Default true.
    pub deletion_protection: bool,
    /// On stack deletion: `Snapshot` (default: final snapshot, then delete),
    /// `Retain` (left untouched with its subnets, groups and VPC) or `Delete`.
    pub deletion_policy: DeletionPolicy,
    /// KMS key for encryption at rest; omitted, the AWS managed key. Storage
    /// is always encrypted. Immutable.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = KMS_KEY_PATTERN))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "kmsKeyId is immutable"}]))]
    pub kms_key_id: Option<String>,
    /// Turn on Performance Insights (7 days, free tier). Default true.
    pub performance_insights: bool,
    /// Export the engine's logs to CloudWatch Logs, kept as long as
    /// `monitoring.logRetentionDays`: `postgresql` and `upgrade` for
    /// PostgreSQL, `error` and `slowquery` for MySQL. The
    /// authentication-failure alarm reads them. Default true.
    pub log_exports: bool,
    /// Name of the database created at launch. Default `app`.
    #[schemars(regex(pattern = r"^[A-Za-z][A-Za-z0-9_]{0,62}$"))]
    pub database_name: String,
    /// Master user name (its password is generated and kept by RDS in
    /// Secrets Manager). Default `app_admin`.
    #[schemars(regex(pattern = r"^[A-Za-z][A-Za-z0-9_]{0,15}$"))]
    pub master_username: String,
    /// Read replicas, 0 to 5, spread over the other AZs. Scaling down deletes
    /// the newest first. Default 0.
    #[schemars(range(min = 0, max = 5))]
    pub read_replicas: i32,
}

impl Default for DatabaseSpec {
    fn default() -> Self {
        Self {
            engine: DatabaseEngine::Postgres,
            engine_version: None,
            instance_class: "db.t4g.medium".into(),
            allocated_storage_gib: 20,
            max_allocated_storage_gib: None,
            multi_az: true,
            backup_retention_days: 7,
            backup_window: None,
            maintenance_window: None,
            apply_immediately: false,
            deletion_protection: true,
            deletion_policy: DeletionPolicy::Snapshot,
            kms_key_id: None,
            performance_insights: true,
            log_exports: true,
            database_name: "app".into(),
            master_username: "app_admin".into(),
            read_replicas: 0,
        }
    }
}

/// In-memory cache engine.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CacheEngine {
    Redis,
    Valkey,
}

/// ElastiCache replication group in the private data subnets, reachable only
/// from the application servers, encrypted at rest and in transit, with an
/// AUTH token generated by stackops and kept in AWS Secrets Manager.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!self.multiAz || self.replicas >= 1", "message": "multiAz needs at least one replica", "fieldPath": ".multiAz"}]))]
pub struct CacheSpec {
    /// `redis` (default) or `valkey`. Immutable.
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "engine is immutable"}]))]
    pub engine: CacheEngine,
    /// Engine version; omitted, `7.1` (redis) or `8.0` (valkey). Fixed at
    /// creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+){0,2}$"), length(max = 16))]
    pub engine_version: Option<String>,
    /// Node type. Default cache.t4g.small. Changing it modifies in place.
    #[schemars(regex(pattern = r"^cache\.[a-z0-9]+\.[a-z0-9]+$"), length(max = 32))]
    pub node_type: String,
    /// Replicas of the primary, 0 to 5. Default 1. Changes are in place.
    #[schemars(range(min = 0, max = 5))]
    pub replicas: i32,
    /// Replicas in other AZs with automatic failover. Default true.
    pub multi_az: bool,
    /// Days of automatic snapshots, 0 to 35. Default 7.
    #[schemars(range(min = 0, max = 35))]
    pub snapshot_retention_days: i32,
    /// What the cache evicts when memory is full. Default `volatile-lru`
    /// (keys with an expiry, least recently used first), as ElastiCache's.
    pub maxmemory_policy: MaxmemoryPolicy,
    /// On stack deletion: `Snapshot` (default), `Retain` or `Delete`.
    pub deletion_policy: DeletionPolicy,
    /// KMS key for encryption at rest; omitted, the AWS managed key. The
    /// cache is always encrypted at rest and in transit. Fixed at creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = KMS_KEY_PATTERN))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "kmsKeyId is immutable"}]))]
    pub kms_key_id: Option<String>,
}

/// Eviction policy of the cache (`maxmemory-policy`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MaxmemoryPolicy {
    #[default]
    VolatileLru,
    AllkeysLru,
    VolatileLfu,
    AllkeysLfu,
    VolatileRandom,
    AllkeysRandom,
    VolatileTtl,
    Noeviction,
}

impl MaxmemoryPolicy {
    /// The parameter's value, as the engine spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VolatileLru => "volatile-lru",
            Self::AllkeysLru => "allkeys-lru",
            Self::VolatileLfu => "volatile-lfu",
            Self::AllkeysLfu => "allkeys-lfu",
            Self::VolatileRandom => "volatile-random",
            Self::AllkeysRandom => "allkeys-random",
            Self::VolatileTtl => "volatile-ttl",
            Self::Noeviction => "noeviction",
        }
    }
}

impl Default for CacheSpec {
    fn default() -> Self {
        Self {
            engine: CacheEngine::Redis,
            engine_version: None,
            node_type: "cache.t4g.small".into(),
            replicas: 1,
            multi_az: true,
            snapshot_retention_days: 7,
            maxmemory_policy: MaxmemoryPolicy::VolatileLru,
            deletion_policy: DeletionPolicy::Snapshot,
            kms_key_id: None,
        }
    }
}

/// An S3 bucket of the stack: public access blocked, ACLs disabled,
/// encrypted, TLS-only.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!has(self.deletionPolicy) || self.deletionPolicy != 'Snapshot'", "message": "buckets have no snapshots: use Retain or Delete", "fieldPath": ".deletionPolicy"}]))]
pub struct BucketSpec {
    /// Keep every version of every object. Default true.
    pub versioning: bool,
    /// KMS key for SSE-KMS with a bucket key; omitted, SSE-S3.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = KMS_KEY_PATTERN))]
    pub kms_key_id: Option<String>,
    /// On stack deletion: `Retain` or `Delete` (empties the bucket first).
    /// Default: `Delete` for the web bucket (its content is a build
    /// artefact), `Retain` for the media bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
    /// Lifecycle rules, at most 50.
    #[schemars(length(max = 50))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self.all(r, self.exists_one(o, o.id == r.id))", "message": "lifecycle rule ids must be unique"}]))]
    pub lifecycle_rules: Vec<LifecycleRule>,
}

impl Default for BucketSpec {
    fn default() -> Self {
        Self {
            versioning: true,
            kms_key_id: None,
            deletion_policy: None,
            lifecycle_rules: Vec::new(),
        }
    }
}

/// Storage class an object moves to.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[allow(non_camel_case_types)]
pub enum StorageClass {
    STANDARD_IA,
    INTELLIGENT_TIERING,
    GLACIER_IR,
    GLACIER,
    DEEP_ARCHIVE,
}

/// One S3 lifecycle rule.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "has(self.transitions) || has(self.expirationDays) || has(self.noncurrentExpirationDays) || has(self.abortIncompleteMultipartUploadDays)", "message": "a lifecycle rule needs at least one action"}, {"rule": "!has(self.expirationDays) || !has(self.transitions) || self.transitions.all(t, t.days < self.expirationDays)", "message": "expirationDays must come after every transition", "fieldPath": ".expirationDays"}]))]
pub struct LifecycleRule {
    /// Rule id, unique in the bucket.
    #[schemars(regex(pattern = r"^[A-Za-z0-9._-]{1,255}$"))]
    pub id: String,
    /// Apply only to keys with this prefix; omitted, to the whole bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub prefix: Option<String>,
    /// Move objects to cheaper storage after N days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 5))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self.all(t, self.exists_one(o, o.days == t.days))", "message": "transition days must be distinct"}]))]
    pub transitions: Option<Vec<Transition>>,
    /// Delete current objects N days after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 36500))]
    pub expiration_days: Option<i32>,
    /// Delete noncurrent versions N days after they become noncurrent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 36500))]
    pub noncurrent_expiration_days: Option<i32>,
    /// Abort multipart uploads still incomplete after N days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 36500))]
    pub abort_incomplete_multipart_upload_days: Option<i32>,
}

/// A storage class transition.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "self.storageClass != 'STANDARD_IA' || self.days >= 30", "message": "S3 moves objects to STANDARD_IA no earlier than 30 days", "fieldPath": ".days"}]))]
pub struct Transition {
    /// Days after creation, 0 to 36500.
    #[schemars(range(min = 0, max = 36500))]
    pub days: i32,
    /// Target storage class.
    pub storage_class: StorageClass,
}

/// CloudFront price class: which edge locations serve the stack.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[allow(non_camel_case_types)]
pub enum PriceClass {
    /// North America and Europe (cheapest).
    PriceClass_100,
    /// Adds Asia, the Middle East and Africa.
    PriceClass_200,
    /// Every edge location.
    PriceClass_All,
}

/// The static front end: a private S3 bucket served through CloudFront with
/// origin access control, and API paths routed to the load balancer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FrontendSpec {
    /// The web bucket holding the static files.
    pub bucket: BucketSpec,
    /// The CloudFront distribution.
    pub cdn: CdnSpec,
}

/// The CloudFront distribution.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "size(self.aliases) == 0 || has(self.certificateArn)", "message": "aliases need an ACM certificate (certificateArn)", "fieldPath": ".certificateArn"}]))]
pub struct CdnSpec {
    /// Edge locations: `PriceClass_100` (default), `PriceClass_200`, `PriceClass_All`.
    pub price_class: PriceClass,
    /// Extra host names (CNAMEs) of the distribution, at most 10.
    #[schemars(length(max = 10), inner(regex(pattern = HOSTNAME_PATTERN), length(max = 253)))]
    pub aliases: Vec<String>,
    /// ACM certificate for the aliases; CloudFront takes certificates from
    /// us-east-1 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = ACM_ARN_PATTERN), length(max = 2048))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self.contains(':acm:us-east-1:')", "message": "CloudFront certificates must be in us-east-1"}]))]
    pub certificate_arn: Option<String>,
    /// Path patterns sent to the load balancer uncached. Default `["/api/*"]`.
    #[schemars(
        length(max = 10),
        inner(regex(pattern = r"^/[A-Za-z0-9/_.*?-]*$"), length(max = 255))
    )]
    pub api_paths: Vec<String>,
    /// Object served for `/`. Default `index.html`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9._-]{1,255}$"))]
    pub default_root_object: String,
    /// AWS WAF web ACL (ARN) attached to the distribution.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(
        regex(pattern = r"^arn:aws[a-z-]*:wafv2:us-east-1:[0-9]{12}:global/webacl/.+$"),
        length(max = 2048)
    )]
    pub web_acl_arn: Option<String>,
}

impl CdnSpec {
    /// Whether the distribution routes paths to the load balancer, which
    /// then answers only CloudFront (and only with the origin header).
    pub fn fronts_load_balancer(&self) -> bool {
        !self.api_paths.is_empty()
    }
}

impl Default for CdnSpec {
    fn default() -> Self {
        Self {
            price_class: PriceClass::PriceClass_100,
            aliases: Vec::new(),
            certificate_arn: None,
            api_paths: vec!["/api/*".into()],
            default_root_object: "index.html".into(),
            web_acl_arn: None,
        }
    }
}

/// Retention periods CloudWatch Logs accepts, in days.
pub const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// CloudWatch alarms, dashboard and application log group.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct MonitoringSpec {
    /// Alarm thresholds; every alarm has a default.
    pub alarms: AlarmThresholds,
    /// Who is told when an alarm fires.
    pub notifications: Notifications,
    /// One CloudWatch dashboard for the stack. Default true.
    pub dashboard: bool,
    /// Retention of the application log group in days; one of the values
    /// CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653). Default 30.
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self in [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]", "message": "logRetentionDays must be a value CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653"}]))]
    pub log_retention_days: i32,
}

impl Default for MonitoringSpec {
    fn default() -> Self {
        Self {
            alarms: AlarmThresholds::default(),
            notifications: Notifications::default(),
            dashboard: true,
            log_retention_days: 30,
        }
    }
}

/// Thresholds of the stack's alarms. Alarms for tiers a stack lacks (cache,
/// replicas) are not created.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct AlarmThresholds {
    /// Auto Scaling group average CPU percent. Default 80.
    #[schemars(range(min = 1, max = 100))]
    pub app_cpu_percent: i32,
    /// Load balancer 5xx responses per 5 minutes. Default 10.
    #[schemars(range(min = 1))]
    pub load_balancer_5xx_count: i32,
    /// Target response time, milliseconds (p90 over 5 minutes). Default 1000.
    #[schemars(range(min = 1, max = 600000))]
    pub target_response_time_ms: i32,
    /// Unhealthy targets at or above which the alarm fires. Default 1.
    #[schemars(range(min = 1))]
    pub unhealthy_hosts: i32,
    /// Database CPU percent. Default 80.
    #[schemars(range(min = 1, max = 100))]
    pub database_cpu_percent: i32,
    /// Database free storage floor in GiB. Default 5.
    #[serde(rename = "databaseFreeStorageGiB")]
    #[schemars(range(min = 1))]
    pub database_free_storage_gib: i32,
    /// Database connections ceiling. Default 200.
    #[schemars(range(min = 1))]
    pub database_connections: i32,
    /// Read replica lag ceiling in seconds. Default 30.
    #[schemars(range(min = 1))]
    pub replica_lag_seconds: i32,
    /// Cache engine CPU percent. Default 75.
    #[schemars(range(min = 1, max = 100))]
    pub cache_cpu_percent: i32,
    /// Cache memory usage percent. Default 80.
    #[schemars(range(min = 1, max = 100))]
    pub cache_memory_percent: i32,
    /// Cache evictions per 5 minutes. Default 100.
    #[schemars(range(min = 1))]
    pub cache_evictions: i32,
    /// Connections refused anywhere in the VPC per 5 minutes (flow logs).
    /// Default 500.
    #[schemars(range(min = 1))]
    pub rejected_flows: i32,
    /// Connections to the database port refused inside the VPC per 5
    /// minutes (flow logs): something that should not is trying the
    /// database. Default 10.
    #[schemars(range(min = 1))]
    pub database_port_rejects: i32,
    /// Failed database logins per 5 minutes (exported database logs).
    /// Default 5.
    #[schemars(range(min = 1))]
    pub database_auth_failures: i32,
}

impl Default for AlarmThresholds {
    fn default() -> Self {
        Self {
            app_cpu_percent: 80,
            load_balancer_5xx_count: 10,
            target_response_time_ms: 1000,
            unhealthy_hosts: 1,
            database_cpu_percent: 80,
            database_free_storage_gib: 5,
            database_connections: 200,
            replica_lag_seconds: 30,
            cache_cpu_percent: 75,
            cache_memory_percent: 80,
            cache_evictions: 100,
            rejected_flows: 500,
            database_port_rejects: 10,
            database_auth_failures: 5,
        }
    }
}

/// Alarm notifications: a new SNS topic with these email subscriptions, or
/// an existing topic.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.snsTopicArn) || size(self.emails) == 0", "message": "give either emails (stackops creates a topic) or snsTopicArn, not both", "fieldPath": ".emails"},
    {"rule": "!has(self.kmsKeyId) || size(self.emails) > 0", "message": "kmsKeyId encrypts the topic stackops creates for emails; an existing snsTopicArn keeps its own encryption", "fieldPath": ".kmsKeyId"},
]))]
pub struct Notifications {
    /// Email addresses subscribed to a topic stackops creates, at most 10.
    #[schemars(
        length(max = 10),
        inner(regex(pattern = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), length(max = 254))
    )]
    pub emails: Vec<String>,
    /// Existing SNS topic to notify instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = SNS_ARN_PATTERN))]
    pub sns_topic_arn: Option<String>,
    /// KMS key the topic for `emails` is encrypted under; its policy must
    /// let `cloudwatch.amazonaws.com` use it (kms:Decrypt,
    /// kms:GenerateDataKey*). Omitted, stackops makes a key for the stack
    /// (rotated yearly, deletion scheduled with a 30-day window on
    /// teardown).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = KMS_KEY_PATTERN))]
    pub kms_key_id: Option<String>,
}
