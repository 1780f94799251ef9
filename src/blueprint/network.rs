//! The network tier's nodes: VPC, subnets per tier and AZ, internet
//! gateway, NAT gateways with their Elastic IPs (per `NatMode`), route
//! tables, the security group chain, the S3 gateway endpoint and, when
//! asked for, VPC flow logs. In an existing network, only the security
//! groups: the VPC and subnets are borrowed, by id.

use std::collections::BTreeMap;

use crate::api::common::{ExistingNetwork, FlowLogTraffic, NatMode};
use crate::aws::Node;
use crate::aws::ec2::flow_log::{FLOW_LOG_GROUP_KEY, FLOW_LOG_KEY};
use crate::aws::ec2::security_group::CLOUDFRONT_ORIGIN_FACING;
use crate::aws::ec2::{
    Borrowed, ElasticIp, FlowLog, InternetGateway, NatGateway, RouteTable, Rule, SecurityGroup,
    Subnet, Vpc, VpcEndpoint,
};
use crate::aws::iam::{Grant, Role};
use crate::aws::logs::LogGroup;

use super::network_plan::SubnetPlan;

pub const VPC: &str = "network/vpc";
pub const IGW: &str = "network/igw";
pub const SG_LB: &str = "network/sg-lb";
pub const SG_APP: &str = "network/sg-app";
pub const SG_DB: &str = "network/sg-db";
pub const SG_CACHE: &str = "network/sg-cache";

pub fn subnet_key(tier: &str, az: usize) -> String {
    format!("network/subnet-{tier}-{az}")
}

/// What the network tier needs to know about the rest of the stack.
pub struct NetworkNeeds {
    pub nat: NatMode,
    pub app_port: i32,
    pub database_port: Option<i32>,
    pub cache_port: Option<i32>,
    /// Flow logs recording this traffic, kept this many days; `None`: off.
    pub flow_logs: Option<(FlowLogTraffic, i32)>,
    /// The port CloudFront reaches the load balancer on, when the CDN
    /// fronts it (routes paths to it): then only CloudFront may reach it, so
    /// nobody goes around the CDN and its firewall.
    pub cdn_origin_port: Option<i32>,
}

/// The nodes of the network tier. `zones` are the region's zone names; the
/// first `azCount` are used.
pub fn nodes(plan: &SubnetPlan, zones: &[String], needs: &NetworkNeeds) -> Vec<Node> {
    let mut nodes = vec![Node::new(
        VPC,
        Vpc {
            cidr: plan.vpc.to_string(),
        },
    )];
    let az_count = plan.public.len();
    for (tier, az, cidr) in plan.all() {
        nodes.push(
            Node::new(
                subnet_key(tier, az),
                Subnet {
                    vpc: VPC.into(),
                    cidr: cidr.to_string(),
                    zone: zones[az].clone(),
                },
            )
            .after([VPC]),
        );
    }
    nodes.push(Node::new(IGW, InternetGateway { vpc: VPC.into() }).after([VPC]));

    // NAT gateways live in public subnets; `nat_for(az)` is the one that AZ's
    // private subnet routes through.
    let nat_azs: Vec<usize> = match needs.nat {
        NatMode::None => Vec::new(),
        NatMode::Single => vec![0],
        NatMode::PerAz => (0..az_count).collect(),
    };
    for &az in &nat_azs {
        let eip = format!("network/eip-nat-{az}");
        nodes.push(Node::new(&eip, ElasticIp));
        nodes.push(
            Node::new(
                format!("network/nat-{az}"),
                NatGateway {
                    subnet: subnet_key("public", az),
                    address: eip.clone(),
                },
            )
            // The internet gateway must be attached before a NAT gateway works.
            .after([subnet_key("public", az), eip, IGW.to_string()]),
        );
    }
    let nat_for = |az: usize| match needs.nat {
        NatMode::None => None,
        NatMode::Single => Some("network/nat-0".to_string()),
        NatMode::PerAz => Some(format!("network/nat-{az}")),
    };

    let public_subnets: Vec<String> = (0..az_count).map(|az| subnet_key("public", az)).collect();
    nodes.push(
        Node::new(
            "network/rt-public",
            RouteTable {
                vpc: VPC.into(),
                routes: vec![("0.0.0.0/0".into(), IGW.into())],
                subnets: public_subnets.clone(),
            },
        )
        .after([VPC, IGW])
        .after(public_subnets),
    );
    let mut endpoint_tables = Vec::new();
    for az in 0..az_count {
        let key = format!("network/rt-app-{az}");
        let nat = nat_for(az);
        nodes.push(
            Node::new(
                &key,
                RouteTable {
                    vpc: VPC.into(),
                    routes: nat
                        .iter()
                        .map(|n| ("0.0.0.0/0".to_string(), n.clone()))
                        .collect(),
                    subnets: vec![subnet_key("app", az)],
                },
            )
            .after([VPC.to_string(), subnet_key("app", az)])
            .after(nat),
        );
        endpoint_tables.push(key);
    }
    let data_subnets: Vec<String> = (0..az_count).map(|az| subnet_key("data", az)).collect();
    nodes.push(
        Node::new(
            "network/rt-data",
            RouteTable {
                vpc: VPC.into(),
                routes: Vec::new(),
                subnets: data_subnets.clone(),
            },
        )
        .after([VPC])
        .after(data_subnets),
    );
    nodes.push(
        Node::new(
            "network/s3-endpoint",
            VpcEndpoint {
                vpc: VPC.into(),
                route_tables: endpoint_tables.clone(),
            },
        )
        .after([VPC])
        .after(endpoint_tables),
    );

    nodes.extend(security_groups(needs));
    if let Some((traffic, retention_days)) = needs.flow_logs {
        nodes.extend(flow_logs(traffic, retention_days));
    }
    nodes
}

/// The nodes of the network tier inside `existing`: the VPC and subnets
/// under the keys the other tiers refer to, and the stack's security groups.
/// No gateways, route tables, endpoint or flow logs: the network's owner
/// runs those.
pub fn existing_nodes(existing: &ExistingNetwork, needs: &NetworkNeeds) -> Vec<Node> {
    let mut nodes = vec![Node::new(VPC, Borrowed::vpc(&existing.vpc_id))];
    for (key, id) in borrowed(existing) {
        if key != VPC {
            nodes.push(Node::new(key, Borrowed::subnet(id)).after([VPC]));
        }
    }
    nodes.extend(security_groups(needs));
    nodes
}

/// The ids of `existing` by the node keys they stand in for.
pub fn borrowed(existing: &ExistingNetwork) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::from([(VPC.to_string(), existing.vpc_id.clone())]);
    for (tier, _, subnets) in existing.tiers() {
        for (az, id) in subnets.iter().enumerate() {
            ids.insert(subnet_key(tier, az), id.clone());
        }
    }
    ids
}

fn security_groups(needs: &NetworkNeeds) -> Vec<Node> {
    let group = |suffix: &str, description: &str, ingress: Vec<Rule>, egress: bool| SecurityGroup {
        vpc: VPC.into(),
        suffix: suffix.into(),
        description: description.into(),
        ingress,
        egress,
    };
    // CloudFront reaches the load balancer on one port (443 with a
    // certificate, else 80); a rule naming its prefix list weighs some 55
    // rules of the group's 60, so there is room for that one alone.
    let load_balancer_group = if let Some(port) = needs.cdn_origin_port {
        group(
            "lb",
            &format!("load balancer: port {port} from CloudFront only"),
            vec![Rule::from_prefix_list(port, CLOUDFRONT_ORIGIN_FACING)],
            true,
        )
    } else {
        group(
            "lb",
            "load balancer: HTTP and HTTPS from the internet",
            vec![
                Rule::from_cidr(80, "0.0.0.0/0"),
                Rule::from_cidr(443, "0.0.0.0/0"),
            ],
            true,
        )
    };
    let mut nodes = vec![
        Node::new(SG_LB, load_balancer_group).after([VPC]),
        Node::new(
            SG_APP,
            group(
                "app",
                "application servers: only from the load balancer",
                vec![Rule::from_group(needs.app_port, SG_LB)],
                true,
            ),
        )
        .after([VPC, SG_LB]),
    ];
    if let Some(port) = needs.database_port {
        nodes.push(
            Node::new(
                SG_DB,
                group(
                    "db",
                    "database: only from the application servers",
                    vec![Rule::from_group(port, SG_APP)],
                    false,
                ),
            )
            .after([VPC, SG_APP]),
        );
    }
    if let Some(port) = needs.cache_port {
        nodes.push(
            Node::new(
                SG_CACHE,
                group(
                    "cache",
                    "cache: only from the application servers",
                    vec![Rule::from_group(port, SG_APP)],
                    false,
                ),
            )
            .after([VPC, SG_APP]),
        );
    }
    nodes
}

/// Flow logs of `traffic` into a log group, through a role only the flow
/// log service may assume, allowed to write to that group alone.
fn flow_logs(traffic: FlowLogTraffic, retention_days: i32) -> Vec<Node> {
    const ROLE: &str = "network/flow-logs-role";
    vec![
        Node::new(FLOW_LOG_GROUP_KEY, LogGroup { retention_days }),
        Node::new(
            ROLE,
            Role {
                suffix: "flow-logs".into(),
                service: "vpc-flow-logs.amazonaws.com".into(),
                grants: vec![Grant {
                    actions: vec![
                        "logs:CreateLogStream".into(),
                        "logs:PutLogEvents".into(),
                        "logs:DescribeLogStreams".into(),
                    ],
                    on: vec![(FLOW_LOG_GROUP_KEY.into(), ":*".into())],
                    ..Grant::default()
                }],
                managed: Vec::new(),
            },
        )
        .after([FLOW_LOG_GROUP_KEY]),
        Node::new(
            FLOW_LOG_KEY,
            FlowLog {
                vpc: VPC.into(),
                traffic: traffic.as_str().into(),
                group: FLOW_LOG_GROUP_KEY.into(),
                role: ROLE.into(),
            },
        )
        .after([VPC, FLOW_LOG_GROUP_KEY, ROLE]),
    ]
}
