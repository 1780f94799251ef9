//! The application servers against a real moto server: a hardened launch
//! template, the Auto Scaling group in the private subnets, its scaling
//! policies and scheduled actions, one template version and one instance
//! refresh per server change, in-place capacity changes, drift correction.

mod support;

use stackops::api::StackManifest;
use stackops::api::status::ResourceState;
use stackops::aws::Context;
use stackops::engine::{Action, PassOutcome};
use support::moto::MotoServer;
use support::stack::{TestStack, calls_of, disposable as example, node_id as id};

fn with_app(name: &str, change: impl FnOnce(&mut stackops::api::common::AppSpec)) -> StackManifest {
    let mut stack = example(name);
    match &mut stack {
        StackManifest::Ecommerce(s) => change(&mut s.spec.app),
        StackManifest::Booking(s) => change(&mut s.spec.app),
    }
    stack
}

/// The AWS name of a policy or scheduled action of the stack with `uid`.
fn member(uid: &str, name: &str) -> String {
    format!("stackops-{}-{name}", stackops::identity::short_hash(uid))
}

async fn created(moto: &MotoServer, stack: &StackManifest, uid: &str) -> (TestStack, PassOutcome) {
    let test = TestStack::new(&moto.endpoint, stack, uid).await;
    let pass = test.converge(&test.cx, 6).await;
    assert!(pass.converged, "{:?}", pass.terminal);
    (test, pass)
}

/// Launch template versions of the group, newest first, and its pinned one.
async fn group_template(cx: &Context, group: &str) -> (String, String) {
    let found = cx
        .clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .unwrap();
    let group = &found.auto_scaling_groups()[0];
    // A group buying Spot names its template inside its mixed policy.
    let spec = group
        .mixed_instances_policy()
        .and_then(|p| p.launch_template()?.launch_template_specification())
        .or(group.launch_template())
        .unwrap();
    (
        spec.launch_template_id().unwrap().to_string(),
        spec.version().unwrap().to_string(),
    )
}

#[tokio::test]
async fn servers_launch_from_a_hardened_template_in_the_private_subnets() {
    let moto = MotoServer::start();
    let (stack, pass) = created(&moto, &example("ecommerce.yaml"), "uid-servers").await;
    let cx = &stack.cx;

    // Launch template: IMDSv2 only, encrypted gp3 root, the app security
    // group, the instance profile, no key pair, Amazon Linux resolved at
    // launch, tags for instances and volumes.
    let template = id(&pass, "app/launch-template");
    let versions = cx
        .clients
        .ec2
        .describe_launch_template_versions()
        .launch_template_id(&template)
        .versions("$Latest")
        .send()
        .await
        .unwrap();
    let data = versions.launch_template_versions()[0]
        .launch_template_data()
        .unwrap();
    assert_eq!(
        data.image_id(),
        Some("resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")
    );
    assert_eq!(data.instance_type().map(|t| t.as_str()), Some("t3.small"));
    let metadata = data.metadata_options().unwrap();
    assert_eq!(metadata.http_tokens().map(|t| t.as_str()), Some("required"));
    assert_eq!(metadata.http_put_response_hop_limit(), Some(1));
    let root = data.block_device_mappings()[0].ebs().unwrap();
    assert_eq!(root.volume_type().map(|t| t.as_str()), Some("gp3"));
    assert_eq!(root.encrypted(), Some(true));
    assert_eq!(root.volume_size(), Some(20));
    assert_eq!(data.key_name(), None, "no key pair: Session Manager only");
    assert_eq!(
        data.security_group_ids(),
        [id(&pass, "network/sg-app")].as_slice()
    );
    let profile_arn = data.iam_instance_profile().and_then(|p| p.arn()).unwrap();
    assert!(data.user_data().is_some());
    let instance_tags = data
        .tag_specifications()
        .iter()
        .find(|t| t.resource_type().map(|r| r.as_str()) == Some("instance"))
        .unwrap();
    assert!(
        instance_tags
            .tags()
            .iter()
            .any(|t| t.key() == Some("stackops.io/uid") && t.value() == Some("uid-servers"))
    );

    // The instance profile holds the role, which Session Manager may use.
    let profile = cx
        .clients
        .iam
        .get_instance_profile()
        .instance_profile_name(id(&pass, "app/instance-profile"))
        .send()
        .await
        .unwrap();
    let profile = profile.instance_profile().unwrap();
    assert_eq!(profile.arn(), profile_arn);
    let role = profile.roles()[0].role_name().to_string();
    assert_eq!(role, id(&pass, "app/instance-role"));
    let attached = cx
        .clients
        .iam
        .list_attached_role_policies()
        .role_name(&role)
        .send()
        .await
        .unwrap();
    let policies: Vec<&str> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_name())
        .collect();
    assert_eq!(policies, ["AmazonSSMManagedInstanceCore"]);

    // No port 22 anywhere on the servers' security group.
    let groups = cx
        .clients
        .ec2
        .describe_security_groups()
        .group_ids(id(&pass, "network/sg-app"))
        .send()
        .await
        .unwrap();
    for rule in groups.security_groups()[0].ip_permissions() {
        let (from, to) = (rule.from_port().unwrap_or(0), rule.to_port().unwrap_or(0));
        assert!(!(from..=to).contains(&22), "{rule:?}");
    }

    // The group: private app subnets of both AZs, the target group, ELB
    // health checks, capacity rebalance, pinned to version 1.
    let found = cx
        .clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(id(&pass, "app/auto-scaling-group"))
        .send()
        .await
        .unwrap();
    let group = &found.auto_scaling_groups()[0];
    let mut subnets: Vec<&str> = group.vpc_zone_identifier().unwrap().split(',').collect();
    subnets.sort_unstable();
    let mut private = vec![
        id(&pass, "network/subnet-app-0"),
        id(&pass, "network/subnet-app-1"),
    ];
    private.sort();
    assert_eq!(subnets, private);
    assert_eq!(
        group.target_group_arns(),
        [id(&pass, "app/target-group")].as_slice()
    );
    assert_eq!(group.health_check_type(), Some("ELB"));
    assert_eq!(group.capacity_rebalance(), Some(true));
    assert_eq!((group.min_size(), group.max_size()), (Some(3), Some(6)));
    assert_eq!(group.instances().len(), 3, "moto launched minSize servers");
    // The example buys Spot above two On-Demand servers: a mixed policy over
    // the launch template, the template's own type first for On-Demand.
    let policy = group.mixed_instances_policy().expect("a mixed policy");
    let template = policy.launch_template().unwrap();
    assert_eq!(
        template
            .launch_template_specification()
            .and_then(|t| t.version()),
        Some("1")
    );
    let types: Vec<&str> = template
        .overrides()
        .iter()
        .filter_map(|o| o.instance_type())
        .collect();
    assert_eq!(types, ["t3.small", "t3a.small", "t2.small"]);
    let distribution = policy.instances_distribution().unwrap();
    assert_eq!(distribution.on_demand_base_capacity(), Some(2));
    assert_eq!(
        distribution.on_demand_percentage_above_base_capacity(),
        Some(0)
    );
    assert_eq!(
        distribution.spot_allocation_strategy(),
        Some("price-capacity-optimized")
    );
    assert_eq!(
        distribution.on_demand_allocation_strategy(),
        Some("prioritized")
    );

    // Average CPU target tracking; no request-count policy in this example.
    let policies = cx
        .clients
        .autoscaling
        .describe_policies()
        .auto_scaling_group_name(group.auto_scaling_group_name().unwrap())
        .send()
        .await
        .unwrap();
    let policies = policies.scaling_policies();
    assert_eq!(policies.len(), 1);
    assert_eq!(
        policies[0].policy_name(),
        Some(member("uid-servers", "cpu").as_str())
    );
    let tracking = policies[0].target_tracking_configuration().unwrap();
    assert_eq!(tracking.target_value(), Some(50.0));
}

#[tokio::test]
async fn servers_may_write_their_log_group_and_the_media_objects_and_nothing_more() {
    let moto = MotoServer::start();
    let (stack, pass) = created(&moto, &example("booking.yaml"), "uid-grants").await;
    let policy = stack
        .cx
        .clients
        .iam
        .get_role_policy()
        .role_name(id(&pass, "app/instance-role"))
        .policy_name("stackops")
        .send()
        .await
        .unwrap();
    let document = policy.policy_document();
    let document = percent_encoding::percent_decode_str(document).decode_utf8_lossy();
    let document: serde_json::Value = serde_json::from_str(&document).unwrap();
    let statements = document["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "{document}");
    let log_group = pass.node("app/logs").unwrap().outputs["arn"].clone();
    assert_eq!(
        statements[0]["Action"],
        serde_json::json!(["logs:CreateLogStream", "logs:PutLogEvents"])
    );
    assert_eq!(
        statements[0]["Resource"],
        serde_json::json!([format!("{}:*", log_group.trim_end_matches(":*"))])
    );
    let media = id(&pass, "storage/media-bucket");
    assert_eq!(
        statements[1]["Action"],
        serde_json::json!(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
    );
    assert_eq!(
        statements[1]["Resource"],
        serde_json::json!([format!("arn:aws:s3:::{media}/*")])
    );
}

#[tokio::test]
async fn booking_scales_on_cpu_and_requests_and_on_a_schedule() {
    let moto = MotoServer::start();
    let (stack, pass) = created(&moto, &example("booking.yaml"), "uid-scaling").await;
    let autoscaling = &stack.cx.clients.autoscaling;
    let group = id(&pass, "app/auto-scaling-group");

    let policies = autoscaling
        .describe_policies()
        .auto_scaling_group_name(&group)
        .send()
        .await
        .unwrap();
    let mut found: Vec<(String, String, f64)> = policies
        .scaling_policies()
        .iter()
        .map(|p| {
            let tracking = p.target_tracking_configuration().unwrap();
            let metric = tracking.predefined_metric_specification().unwrap();
            (
                p.policy_name().unwrap().to_string(),
                metric.resource_label().unwrap_or_default().to_string(),
                tracking.target_value().unwrap(),
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(
        (found[0].0.clone(), found[0].2),
        (member("uid-scaling", "cpu"), 55.0)
    );
    assert_eq!(
        (found[1].0.clone(), found[1].2),
        (member("uid-scaling", "requests"), 1000.0)
    );
    // The label names this stack's load balancer and target group.
    let label = &found[1].1;
    let lb = id(&pass, "app/load-balancer");
    let tg = id(&pass, "app/target-group");
    assert!(
        label.starts_with("app/") && lb.ends_with(label.split("/targetgroup/").next().unwrap())
    );
    assert!(
        tg.ends_with(
            label
                .split('/')
                .skip(3)
                .collect::<Vec<_>>()
                .join("/")
                .as_str()
        )
    );

    let actions = autoscaling
        .describe_scheduled_actions()
        .auto_scaling_group_name(&group)
        .send()
        .await
        .unwrap();
    let mut actions: Vec<(String, String, Option<i32>)> = actions
        .scheduled_update_group_actions()
        .iter()
        .map(|a| {
            (
                a.scheduled_action_name().unwrap().to_string(),
                a.recurrence().unwrap().to_string(),
                a.min_size(),
            )
        })
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            (
                member("uid-scaling", "business-hours"),
                "0 7 * * 1-5".to_string(),
                Some(6)
            ),
            (
                member("uid-scaling", "night"),
                "0 20 * * *".to_string(),
                Some(3)
            ),
        ]
    );

    // Removing the request policy and one action deletes exactly those.
    let trimmed = with_app("booking.yaml", |app| {
        app.scaling.requests_per_target = None;
        app.scaling.scheduled_actions.truncate(1);
    });
    let changed = TestStack::new(&moto.endpoint, &trimmed, "uid-scaling").await;
    assert!(changed.converge(&changed.cx, 4).await.converged);
    let calls = &changed.cx.clients.calls;
    assert_eq!(calls_of(calls, "DeletePolicy"), 1);
    assert_eq!(calls_of(calls, "DeleteScheduledAction"), 1);
    assert_eq!(calls.mutating(), 2, "{:?}", calls.mutating_calls());
    let left = autoscaling
        .describe_scheduled_actions()
        .auto_scaling_group_name(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(left.scheduled_update_group_actions().len(), 1);
}

#[tokio::test]
async fn changing_the_instance_type_adds_one_version_and_one_refresh() {
    let moto = MotoServer::start();
    let (stack, pass) = created(&moto, &example("ecommerce.yaml"), "uid-refresh").await;
    let group = id(&pass, "app/auto-scaling-group");

    let bigger = with_app("ecommerce.yaml", |app| {
        app.instance_type = "t3.large".into()
    });
    let changed = TestStack::new(&moto.endpoint, &bigger, "uid-refresh").await;
    let engine = changed.engine();
    let mut passes = Vec::new();
    for _ in 0..6 {
        let pass = engine.apply(&changed.cx, &changed.blueprint.graph).await;
        let done = pass.converged;
        passes.push(pass);
        if done {
            break;
        }
    }
    assert!(passes.last().unwrap().converged, "{:?}", passes.last());

    // The first pass adds the version and starts the refresh; later passes
    // report the refresh on the group's node until it has finished.
    let first = passes[0].node("app/auto-scaling-group").unwrap();
    assert_eq!(first.state, ResourceState::Updating);
    assert!(
        first
            .message
            .as_deref()
            .unwrap()
            .contains("instance refresh"),
        "{first:?}"
    );
    assert!(passes.len() >= 2);

    let calls = &changed.cx.clients.calls;
    assert_eq!(calls_of(calls, "CreateLaunchTemplateVersion"), 1);
    assert_eq!(calls_of(calls, "StartInstanceRefresh"), 1);
    assert_eq!(calls_of(calls, "CreateLaunchTemplate"), 0);
    assert_eq!(calls.mutating(), 2, "{:?}", calls.mutating_calls());

    let (template, version) = group_template(&stack.cx, &group).await;
    assert_eq!(template, id(&pass, "app/launch-template"));
    assert_eq!(version, "2");
    let refreshes = stack
        .cx
        .clients
        .autoscaling
        .describe_instance_refreshes()
        .auto_scaling_group_name(&group)
        .send()
        .await
        .unwrap();
    let refreshes = refreshes.instance_refreshes();
    assert_eq!(refreshes.len(), 1);
    assert_eq!(
        refreshes[0].status().map(|s| s.as_str()),
        Some("Successful")
    );
    let preferences = refreshes[0].preferences().unwrap();
    assert_eq!(preferences.min_healthy_percentage(), Some(90));
    assert_eq!(preferences.skip_matching(), Some(true));

    let counts = changed.count_by_kind(&changed.cx).await;
    assert_eq!(counts["LaunchTemplate"], 1);

    // Steady again: nothing more to write.
    let cx = changed.reconnect(&moto.endpoint).await;
    let again = changed.engine().apply(&cx, &changed.blueprint.graph).await;
    assert!(again.converged);
    assert_eq!(cx.clients.calls.mutating(), 0);
}

#[tokio::test]
async fn a_second_change_during_a_refresh_supersedes_it() {
    let moto = MotoServer::start();
    let (stack, pass) = created(&moto, &example("ecommerce.yaml"), "uid-supersede").await;
    let group = id(&pass, "app/auto-scaling-group");

    let large = with_app("ecommerce.yaml", |app| {
        app.instance_type = "t3.large".into()
    });
    let first = TestStack::new(&moto.endpoint, &large, "uid-supersede").await;
    let started = first
        .engine()
        .apply(&first.cx, &first.blueprint.graph)
        .await;
    assert_eq!(
        started.node("app/auto-scaling-group").unwrap().state,
        ResourceState::Updating
    );

    // Before that refresh finishes, the spec changes again.
    let xlarge = with_app("ecommerce.yaml", |app| {
        app.instance_type = "t3.xlarge".into()
    });
    let second = TestStack::new(&moto.endpoint, &xlarge, "uid-supersede").await;
    assert!(second.converge(&second.cx, 8).await.converged);

    let (_, version) = group_template(&stack.cx, &group).await;
    assert_eq!(version, "3");
    let refreshes = stack
        .cx
        .clients
        .autoscaling
        .describe_instance_refreshes()
        .auto_scaling_group_name(&group)
        .send()
        .await
        .unwrap();
    let statuses: Vec<(&str, &str)> = refreshes
        .instance_refreshes()
        .iter()
        .map(|r| {
            (
                r.status().map(|s| s.as_str()).unwrap(),
                r.desired_configuration()
                    .and_then(|d| {
                        // A group buying Spot refreshes to its whole policy.
                        d.launch_template().or(d
                            .mixed_instances_policy()?
                            .launch_template()?
                            .launch_template_specification())
                    })
                    .and_then(|t| t.version())
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(statuses, [("Successful", "3"), ("Cancelled", "2")]);
    assert_eq!(
        calls_of(&second.cx.clients.calls, "CancelInstanceRefresh"),
        1
    );
}

#[tokio::test]
async fn capacity_changes_update_the_group_in_place() {
    let moto = MotoServer::start();
    let (stack, pass) = created(&moto, &example("ecommerce.yaml"), "uid-capacity").await;
    let group = id(&pass, "app/auto-scaling-group");

    let wider = with_app("ecommerce.yaml", |app| {
        app.max_size = 10;
        app.scaling.target_cpu_percent = 40;
    });
    let changed = TestStack::new(&moto.endpoint, &wider, "uid-capacity").await;
    let outcome = changed.converge(&changed.cx, 3).await;
    assert!(outcome.converged);
    let calls = &changed.cx.clients.calls;
    assert_eq!(calls_of(calls, "UpdateAutoScalingGroup"), 1);
    assert_eq!(calls_of(calls, "PutScalingPolicy"), 1);
    // The sizes just applied, recorded on the group for the next change.
    assert_eq!(calls_of(calls, "CreateOrUpdateTags"), 1);
    assert_eq!(calls.mutating(), 3, "{:?}", calls.mutating_calls());
    let found = stack
        .cx
        .clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(found.auto_scaling_groups()[0].max_size(), Some(10));
    let (_, version) = group_template(&stack.cx, &group).await;
    assert_eq!(version, "1", "no new template version, no refresh");
}

#[tokio::test]
async fn drift_in_the_group_and_its_scaling_is_corrected() {
    let moto = MotoServer::start();
    let (stack, pass) = created(&moto, &example("booking.yaml"), "uid-app-drift").await;
    let group = id(&pass, "app/auto-scaling-group");
    let autoscaling = &stack.cx.clients.autoscaling;

    // Out of band: the maximum raised, the CPU policy and the night action
    // deleted.
    autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(&group)
        .max_size(50)
        .send()
        .await
        .unwrap();
    autoscaling
        .delete_policy()
        .auto_scaling_group_name(&group)
        .policy_name(member("uid-app-drift", "cpu"))
        .send()
        .await
        .unwrap();
    autoscaling
        .delete_scheduled_action()
        .auto_scaling_group_name(&group)
        .scheduled_action_name(member("uid-app-drift", "night"))
        .send()
        .await
        .unwrap();

    let cx = stack.reconnect(&moto.endpoint).await;
    let plan = stack.engine().plan(&cx, &stack.blueprint.graph).await;
    for key in [
        "app/auto-scaling-group",
        "app/scaling-policies",
        "app/scheduled-actions",
    ] {
        assert!(
            matches!(plan.node(key).unwrap().action, Action::Update(_)),
            "{key}: {:?}",
            plan.node(key)
        );
    }
    assert_eq!(cx.clients.calls.mutating(), 0, "a plan writes nothing");

    let fixed = stack.converge(&cx, 3).await;
    assert!(fixed.converged);
    let found = autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(found.auto_scaling_groups()[0].max_size(), Some(12));
    let policies = autoscaling
        .describe_policies()
        .auto_scaling_group_name(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(policies.scaling_policies().len(), 2);
    let actions = autoscaling
        .describe_scheduled_actions()
        .auto_scaling_group_name(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(actions.scheduled_update_group_actions().len(), 2);
}

/// The group's desired capacity and bounds as AWS has them.
async fn sizes(cx: &Context, group: &str) -> (i32, i32, i32) {
    let found = cx
        .clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .unwrap();
    let g = &found.auto_scaling_groups()[0];
    (
        g.desired_capacity().unwrap(),
        g.min_size().unwrap(),
        g.max_size().unwrap(),
    )
}

#[tokio::test]
async fn capacity_that_aws_actors_move_is_left_alone_and_spec_changes_still_apply() {
    let moto = MotoServer::start();
    let (stack, pass) = created(&moto, &example("booking.yaml"), "uid-actors").await;
    let group = id(&pass, "app/auto-scaling-group");
    let autoscaling = &stack.cx.clients.autoscaling;
    assert_eq!(
        sizes(&stack.cx, &group).await,
        (3, 3, 12),
        "the spec's sizes at create"
    );

    // A target-tracking scale-out raises the desired capacity, and the
    // business-hours action (it sets minSize) raises the minimum.
    autoscaling
        .set_desired_capacity()
        .auto_scaling_group_name(&group)
        .desired_capacity(8)
        .send()
        .await
        .unwrap();
    autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(&group)
        .min_size(6)
        .send()
        .await
        .unwrap();

    // Resyncs leave both alone: no write at all.
    let cx = stack.reconnect(&moto.endpoint).await;
    for _ in 0..2 {
        let pass = stack.engine().apply(&cx, &stack.blueprint.graph).await;
        assert!(pass.converged, "{:?}", pass.terminal);
    }
    assert_eq!(
        cx.clients.calls.mutating(),
        0,
        "{:?}",
        cx.clients.calls.mutating_calls()
    );
    assert_eq!(sizes(&cx, &group).await, (8, 6, 12));

    // A spec change to the maximum applies the maximum alone: the scale-out
    // and the scheduled minimum stay.
    let wider = with_app("booking.yaml", |app| app.max_size = 14);
    let changed = TestStack::new(&moto.endpoint, &wider, "uid-actors").await;
    assert!(changed.converge(&changed.cx, 3).await.converged);
    let calls = &changed.cx.clients.calls;
    assert_eq!(calls_of(calls, "UpdateAutoScalingGroup"), 1);
    assert_eq!(
        calls_of(calls, "CreateOrUpdateTags"),
        1,
        "the applied sizes recorded"
    );
    assert_eq!(calls.mutating(), 2, "{:?}", calls.mutating_calls());
    assert_eq!(sizes(&changed.cx, &group).await, (8, 6, 14));

    // A bound no scheduled action sets is the spec's: a change out of band
    // is drift and put back, without touching the desired capacity.
    autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(&group)
        .max_size(40)
        .send()
        .await
        .unwrap();
    let cx = changed.reconnect(&moto.endpoint).await;
    assert!(changed.converge(&cx, 3).await.converged);
    assert_eq!(calls_of(&cx.clients.calls, "UpdateAutoScalingGroup"), 1);
    assert_eq!(sizes(&cx, &group).await, (8, 6, 14));
}

#[tokio::test]
async fn stacks_sharing_an_account_keep_their_own_scaling_and_resync_without_writes() {
    // AWS scopes policy and scheduled action names per group, moto per
    // account: names carry the stack's hash, so neither overwrites the other.
    let moto = MotoServer::start();
    let (first, _) = created(&moto, &example("booking.yaml"), "uid-first").await;
    let (second, _) = created(&moto, &example("booking.yaml"), "uid-second").await;
    for stack in [&first, &second] {
        let cx = stack.reconnect(&moto.endpoint).await;
        let pass = stack.engine().apply(&cx, &stack.blueprint.graph).await;
        assert!(pass.converged, "{:?}", pass.terminal);
        assert_eq!(
            cx.clients.calls.mutating(),
            0,
            "{:?}",
            cx.clients.calls.mutating_calls()
        );
    }
}

#[tokio::test]
async fn serving_follows_the_load_balancer_health_checks_of_the_servers() {
    use stackops::controller::conditions;
    let moto = MotoServer::start();
    let (stack, pass) = created(&moto, &example("ecommerce.yaml"), "uid-serving").await;
    let serving = |pass: &PassOutcome| {
        let status = conditions::after_apply(pass, &stack.blueprint.options, None, Some(1), &[]);
        let c = status
            .conditions
            .into_iter()
            .find(|c| c.type_ == conditions::SERVING)
            .unwrap();
        (c.status, c.reason, c.message)
    };
    // moto registers the group's servers and finds them healthy.
    let cx = stack.reconnect(&moto.endpoint).await;
    let resync = stack.engine().apply(&cx, &stack.blueprint.graph).await;
    let (status, reason, message) = serving(&resync);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "Serving"),
        "{message}"
    );
    assert!(message.starts_with("3 of 3 servers"), "{message}");
    assert_eq!(
        cx.clients.calls.mutating(),
        0,
        "health is read, never written"
    );

    // Servers that stop answering: the stack is still as specified, but
    // nothing serves, and AWS's reason is named.
    let group = id(&pass, "app/auto-scaling-group");
    let found = cx
        .clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&group)
        .send()
        .await
        .unwrap();
    let servers: Vec<String> = found.auto_scaling_groups()[0]
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(String::from))
        .collect();
    cx.clients
        .ec2
        .stop_instances()
        .set_instance_ids(Some(servers))
        .send()
        .await
        .unwrap();
    let after = stack.engine().apply(&cx, &stack.blueprint.graph).await;
    assert!(after.converged);
    let (status, reason, message) = serving(&after);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "NoHealthyServers")
    );
    assert!(message.contains("stopped"), "{message}");
}

#[tokio::test]
async fn the_purchase_option_moves_between_on_demand_and_spot_in_place() {
    let moto = MotoServer::start();
    let on_demand = with_app("ecommerce.yaml", |app| app.purchase = None);
    let (stack, pass) = created(&moto, &on_demand, "uid-purchase").await;
    let group = id(&pass, "app/auto-scaling-group");
    let describe = |cx: Context| {
        let group = group.clone();
        async move {
            cx.clients
                .autoscaling
                .describe_auto_scaling_groups()
                .auto_scaling_group_names(group)
                .send()
                .await
                .unwrap()
                .auto_scaling_groups()[0]
                .clone()
        }
    };
    assert!(
        describe(stack.cx.clone())
            .await
            .mixed_instances_policy()
            .is_none()
    );

    // To Spot above a base: one update on the template version the group
    // has, no new version, no refresh.
    let spot = example("ecommerce.yaml");
    let changed = TestStack::new(&moto.endpoint, &spot, "uid-purchase").await;
    let outcome = changed.converge(&changed.cx, 3).await;
    assert!(outcome.converged, "{:?}", outcome.terminal);
    let calls = &changed.cx.clients.calls;
    assert_eq!(calls_of(calls, "UpdateAutoScalingGroup"), 1);
    assert_eq!(calls_of(calls, "StartInstanceRefresh"), 0);
    assert_eq!(calls.mutating(), 1, "{:?}", calls.mutating_calls());
    let found = describe(stack.cx.clone()).await;
    let policy = found.mixed_instances_policy().expect("now mixed");
    assert_eq!(
        policy
            .instances_distribution()
            .and_then(|d| d.on_demand_base_capacity()),
        Some(2)
    );
    let (_, version) = group_template(&stack.cx, &group).await;
    assert_eq!(version, "1");

    // A later resize or health check change keeps the policy (AWS keeps it
    // through updates that do not name it).
    let wider = with_app("ecommerce.yaml", |app| app.max_size = 9);
    let wider = TestStack::new(&moto.endpoint, &wider, "uid-purchase").await;
    assert!(wider.converge(&wider.cx, 3).await.converged);
    let found = describe(stack.cx.clone()).await;
    assert_eq!(found.max_size(), Some(9));
    assert!(found.mixed_instances_policy().is_some(), "policy kept");

    // A new instance type under Spot: one version, one refresh carrying the
    // whole policy, and the group on the new version with the new type first.
    let bigger = with_app("ecommerce.yaml", |app| {
        app.max_size = 9;
        app.instance_type = "t3.medium".into();
        app.purchase.as_mut().unwrap().instance_types =
            vec!["t3.medium".into(), "t3a.medium".into(), "t2.medium".into()];
    });
    let bigger = TestStack::new(&moto.endpoint, &bigger, "uid-purchase").await;
    assert!(bigger.converge(&bigger.cx, 6).await.converged);
    let calls = &bigger.cx.clients.calls;
    assert_eq!(calls_of(calls, "StartInstanceRefresh"), 1);
    assert_eq!(calls_of(calls, "UpdateAutoScalingGroup"), 0);
    let found = describe(stack.cx.clone()).await;
    let types: Vec<&str> = found
        .mixed_instances_policy()
        .and_then(|p| p.launch_template())
        .map(|t| t.overrides())
        .unwrap_or_default()
        .iter()
        .filter_map(|o| o.instance_type())
        .collect();
    assert_eq!(types, ["t3.medium", "t3a.medium", "t2.medium"]);
    let (_, version) = group_template(&stack.cx, &group).await;
    assert_eq!(version, "2");

    // Back to On-Demand only: the launch template alone replaces the policy.
    let back = with_app("ecommerce.yaml", |app| {
        app.max_size = 9;
        app.instance_type = "t3.medium".into();
        app.purchase = None;
    });
    let back = TestStack::new(&moto.endpoint, &back, "uid-purchase").await;
    assert!(back.converge(&back.cx, 3).await.converged);
    assert_eq!(
        calls_of(&back.cx.clients.calls, "UpdateAutoScalingGroup"),
        1
    );
    let found = describe(stack.cx.clone()).await;
    assert!(found.mixed_instances_policy().is_none(), "{found:?}");
    assert_eq!(group_template(&stack.cx, &group).await.1, "2");

    // Steady: nothing more to write.
    let cx = back.reconnect(&moto.endpoint).await;
    let again = back.engine().apply(&cx, &back.blueprint.graph).await;
    assert!(again.converged);
    assert_eq!(
        cx.clients.calls.mutating(),
        0,
        "{:?}",
        cx.clients.calls.mutating_calls()
    );
}
