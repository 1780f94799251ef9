//! A stack built inside a network it did not create: a network team's VPC,
//! made beforehand with plain EC2 calls, used by id. The stack adds only
//! its own resources, refuses subnets that do not fit before any write, and
//! its teardown leaves the network as it found it.

mod support;

use aws_sdk_ec2::types::Filter;
use stackops::aws::{AwsClients, config};
use support::moto::{MotoServer, settings_for};

const REGION: &str = "eu-west-1";

/// The network team's VPC: public subnets routed to an internet gateway,
/// app and data subnets on the main route table (local traffic only), one
/// of each per zone.
struct TeamNetwork {
    vpc: String,
    public: Vec<String>,
    app: Vec<String>,
    data: Vec<String>,
    public_table: String,
}

async fn clients(moto: &MotoServer) -> AwsClients {
    let mut settings = settings_for(&moto.endpoint);
    settings.region = Some(REGION.into());
    AwsClients::new(&config::sdk_config(&settings).await)
}

async fn subnet(ec2: &aws_sdk_ec2::Client, vpc: &str, cidr: &str, zone: &str) -> String {
    ec2.create_subnet()
        .vpc_id(vpc)
        .cidr_block(cidr)
        .availability_zone(zone)
        .send()
        .await
        .unwrap()
        .subnet()
        .and_then(|s| s.subnet_id())
        .unwrap()
        .to_string()
}

async fn team_network(ec2: &aws_sdk_ec2::Client) -> TeamNetwork {
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.40.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap()
        .to_string();
    let igw = ec2
        .create_internet_gateway()
        .send()
        .await
        .unwrap()
        .internet_gateway()
        .and_then(|g| g.internet_gateway_id())
        .unwrap()
        .to_string();
    ec2.attach_internet_gateway()
        .vpc_id(&vpc)
        .internet_gateway_id(&igw)
        .send()
        .await
        .unwrap();
    let public_table = ec2
        .create_route_table()
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .route_table()
        .and_then(|t| t.route_table_id())
        .unwrap()
        .to_string();
    ec2.create_route()
        .route_table_id(&public_table)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .unwrap();
    let mut network = TeamNetwork {
        vpc: vpc.clone(),
        public: Vec::new(),
        app: Vec::new(),
        data: Vec::new(),
        public_table: public_table.clone(),
    };
    for (i, zone) in ["a", "b"].iter().enumerate() {
        let zone = format!("{REGION}{zone}");
        let public = subnet(ec2, &vpc, &format!("10.40.{i}.0/24"), &zone).await;
        ec2.associate_route_table()
            .route_table_id(&public_table)
            .subnet_id(&public)
            .send()
            .await
            .unwrap();
        network.public.push(public);
        network
            .app
            .push(subnet(ec2, &vpc, &format!("10.40.1{i}.0/24"), &zone).await);
        network
            .data
            .push(subnet(ec2, &vpc, &format!("10.40.2{i}.0/24"), &zone).await);
    }
    network
}

/// The ecommerce example (its database deletable) in `network`.
fn stack_in(network: &TeamNetwork) -> String {
    let list = |ids: &[String]| format!("[{}]", ids.join(", "));
    let text = std::fs::read_to_string(format!(
        "{}/examples/ecommerce.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let own = "  network:\n    cidr: 10.20.0.0/16\n    azCount: 2\n    natMode: single            # one NAT gateway: cheaper, egress depends on one AZ\n";
    assert!(text.contains(own), "the example's network block moved");
    text.replace(
        own,
        &format!(
            "  network:\n    azCount: 2\n    existing:\n      vpcId: {}\n      publicSubnetIds: {}\n      appSubnetIds: {}\n      dataSubnetIds: {}\n",
            network.vpc,
            list(&network.public),
            list(&network.app),
            list(&network.data),
        ),
    )
    .replace("deletionProtection: true", "deletionProtection: false")
    .replace("deletionPolicy: Snapshot", "deletionPolicy: Delete")
}

/// `stackops VERB -f FILE` against `moto`: (exit code, stdout, stderr).
fn cli(moto: &MotoServer, verb: &str, file: &str) -> (i32, String, String) {
    support::cli::stackops(moto, &[verb, "-f", file])
}

/// Subnet ids of `vpc`, sorted.
async fn subnets_of(ec2: &aws_sdk_ec2::Client, vpc: &str) -> Vec<String> {
    let found = ec2
        .describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await
        .unwrap();
    let mut ids: Vec<String> = found
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[String]) -> Vec<String> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_stack_builds_in_a_network_it_did_not_create_and_leaves_it_as_it_was() {
    let moto = MotoServer::start();
    let aws = clients(&moto).await;
    let network = team_network(&aws.ec2).await;
    let vpcs_before = aws.ec2.describe_vpcs().send().await.unwrap().vpcs().len();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shop.yaml").to_string_lossy().to_string();
    std::fs::write(&file, stack_in(&network)).unwrap();

    // The network is read, never planned: its seven parts are unchanged.
    let (code, stdout, stderr) = cli(&moto, "plan", &file);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stdout.contains("0 to update, 0 to delete, 7 unchanged."),
        "{stdout}"
    );
    for own in ["network/igw", "network/nat-0", "network/rt-", "flow-log"] {
        assert!(!stdout.contains(own), "{own} is the network's: {stdout}");
    }

    let (code, stdout, stderr) = cli(&moto, "apply", &file);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("Ready:"), "{stdout}");
    for kind in [
        "VPC",
        "Subnet",
        "InternetGateway",
        "NatGateway",
        "RouteTable",
    ] {
        assert!(
            !stdout.contains(&format!("created {kind} ")),
            "{kind}: {stdout}"
        );
    }
    assert_eq!(
        aws.ec2.describe_vpcs().send().await.unwrap().vpcs().len(),
        vpcs_before
    );
    let mut all = [
        network.public.clone(),
        network.app.clone(),
        network.data.clone(),
    ]
    .concat();
    all.sort();
    assert_eq!(subnets_of(&aws.ec2, &network.vpc).await, all);

    // Each tier landed in its subnets.
    let balancers = aws.elb.describe_load_balancers().send().await.unwrap();
    let balancer = &balancers.load_balancers()[0];
    assert_eq!(balancer.vpc_id(), Some(network.vpc.as_str()));
    let lb_subnets: Vec<String> = balancer
        .availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id().map(str::to_string))
        .collect();
    assert_eq!(sorted(&lb_subnets), sorted(&network.public));
    let groups = aws
        .autoscaling
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap();
    let zone_identifier = groups.auto_scaling_groups()[0]
        .vpc_zone_identifier()
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect::<Vec<_>>();
    assert_eq!(sorted(&zone_identifier), sorted(&network.app));
    let subnet_groups = aws.rds.describe_db_subnet_groups().send().await.unwrap();
    let db_subnets: Vec<String> = subnet_groups.db_subnet_groups()[0]
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_string))
        .collect();
    assert_eq!(sorted(&db_subnets), sorted(&network.data));

    let (code, stdout, _) = cli(&moto, "plan", &file);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("0 to create, 0 to update, 0 to delete"),
        "{stdout}"
    );

    // Teardown removes the stack and leaves the network.
    let (code, stdout, stderr) = cli(&moto, "destroy", &file);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("Destroyed: nothing tagged with this stack is left."),
        "{stdout}"
    );
    assert_eq!(subnets_of(&aws.ec2, &network.vpc).await, all);
    let tables = aws
        .ec2
        .describe_route_tables()
        .route_table_ids(&network.public_table)
        .send()
        .await
        .unwrap();
    assert_eq!(tables.route_tables()[0].associations().len(), 2);
    let groups = aws
        .ec2
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("vpc-id")
                .values(&network.vpc)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = groups
        .security_groups()
        .iter()
        .filter_map(|g| g.group_name())
        .collect();
    assert_eq!(names, ["default"], "only the VPC's own group is left");
}

#[tokio::test]
async fn subnets_that_do_not_fit_are_refused_before_any_write() {
    let moto = MotoServer::start();
    let aws = clients(&moto).await;
    let network = team_network(&aws.ec2).await;
    let ec2 = &aws.ec2;
    let zone_a = format!("{REGION}a");
    // An app subnet on the public route table, a second data subnet in the
    // first one's zone, a "public" subnet with no way out, and a subnet of
    // the region's default VPC.
    let exposed = subnet(ec2, &network.vpc, "10.40.30.0/24", &format!("{REGION}b")).await;
    ec2.associate_route_table()
        .route_table_id(&network.public_table)
        .subnet_id(&exposed)
        .send()
        .await
        .unwrap();
    let same_zone = subnet(ec2, &network.vpc, "10.40.31.0/24", &zone_a).await;
    // A data subnet whose table sends one narrow range to the gateway: any
    // route to an internet gateway exposes a private tier, not only 0.0.0.0/0.
    let narrow = subnet(ec2, &network.vpc, "10.40.33.0/24", &zone_a).await;
    let igw = ec2
        .describe_internet_gateways()
        .filters(
            Filter::builder()
                .name("attachment.vpc-id")
                .values(&network.vpc)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .internet_gateways()[0]
        .internet_gateway_id()
        .unwrap()
        .to_string();
    let narrow_table = ec2
        .create_route_table()
        .vpc_id(&network.vpc)
        .send()
        .await
        .unwrap()
        .route_table()
        .and_then(|t| t.route_table_id())
        .unwrap()
        .to_string();
    ec2.create_route()
        .route_table_id(&narrow_table)
        .destination_cidr_block("203.0.113.0/24")
        .gateway_id(&igw)
        .send()
        .await
        .unwrap();
    ec2.associate_route_table()
        .route_table_id(&narrow_table)
        .subnet_id(&narrow)
        .send()
        .await
        .unwrap();
    let closed = subnet(ec2, &network.vpc, "10.40.32.0/24", &format!("{REGION}b")).await;
    let default_vpc = ec2
        .describe_subnets()
        .filters(
            Filter::builder()
                .name("default-for-az")
                .values("true")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .subnets()[0]
        .clone();
    let foreign = default_vpc.subnet_id().unwrap().to_string();
    let broken = TeamNetwork {
        vpc: network.vpc.clone(),
        public: vec![network.public[0].clone(), closed.clone()],
        app: vec![foreign.clone(), exposed.clone()],
        data: vec![narrow.clone(), same_zone],
        public_table: network.public_table.clone(),
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shop.yaml").to_string_lossy().to_string();
    std::fs::write(&file, stack_in(&broken)).unwrap();
    for verb in ["plan", "apply"] {
        let (code, stdout, stderr) = cli(&moto, verb, &file);
        assert_eq!(code, 1, "{verb}: {stdout}{stderr}");
        for expected in [
            format!(
                "spec.network.existing.publicSubnetIds[1]: {closed} has no default route to an internet gateway"
            ),
            format!(
                "spec.network.existing.appSubnetIds[0]: {foreign} is in {}, not in {}",
                default_vpc.vpc_id().unwrap(),
                network.vpc
            ),
            format!(
                "spec.network.existing.appSubnetIds[1]: {exposed} routes 0.0.0.0/0 to internet gateway igw-"
            ),
            format!(
                "spec.network.existing.dataSubnetIds[0]: {narrow} routes 203.0.113.0/24 to internet gateway {igw}"
            ),
            format!(
                "spec.network.existing.dataSubnetIds: every data subnet is in {zone_a}; the tier must cover at least two availability zones"
            ),
        ] {
            assert!(
                stderr.contains(&expected),
                "{verb}: missing {expected:?} in\n{stderr}"
            );
        }
        assert!(stdout.contains("(0 mutating)"), "{stdout}");
    }

    // A VPC that does not exist, and a subnet named twice (found offline).
    let missing = stack_in(&network).replace(&network.vpc, "vpc-0123456789abcdef0");
    std::fs::write(&file, missing).unwrap();
    let (code, _, stderr) = cli(&moto, "plan", &file);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "spec.network.existing.vpcId: vpc-0123456789abcdef0 does not exist in this account and region"
        ),
        "{stderr}"
    );
    let twice = stack_in(&network).replace(&network.data[1], &network.app[1]);
    std::fs::write(&file, twice).unwrap();
    let (code, stdout, stderr) = cli(&moto, "plan", &file);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "spec.network.existing.dataSubnetIds[1]: Duplicate value: {:?} is also spec.network.existing.appSubnetIds[1]",
            network.app[1]
        )),
        "{stderr}"
    );
    assert!(
        !stdout.contains("AWS calls"),
        "refused before any call: {stdout}"
    );
}
