//! The Application Load Balancer, its target group and its listeners. There
//! is one of each per stack, so each is found by its deterministic name in
//! one describe call (ELBv2 cannot filter by tag; reading tags would cost a
//! call per resource).

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, LoadBalancerSchemeEnum, LoadBalancerStateEnum,
    LoadBalancerTypeEnum, Matcher, ProtocolEnum, RedirectActionConfig,
    RedirectActionStatusCodeEnum, Tag, TargetTypeEnum,
};

use super::{missing, sdk};
use crate::api::common::{AccessLogs, HealthCheck};
use crate::blueprint::naming::NameRule;
use crate::engine::{
    AwsError, Change, Context, Deletion, ErrorClass, Fields, Inputs, Kind, KindOps, Observed,
    Resource, Status,
};

pub const TARGET_GROUP_KEY: &str = "app/target-group";
pub const LOAD_BALANCER_KEY: &str = "app/load-balancer";
pub const LISTENERS_KEY: &str = "app/listeners";

/// TLS policy of HTTPS listeners: TLS 1.3 and 1.2 with forward secrecy.
pub const TLS_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/// Outputs of a load balancer or target group: id and ARN, and the ARN's
/// suffix (`app/<name>/<id>`, `targetgroup/<name>/<id>`), which CloudWatch
/// metrics name them by.
fn arn_outputs(arn: &str) -> Fields {
    let suffix = arn
        .split_once(":loadbalancer/")
        .map(|(_, rest)| rest)
        .or_else(|| arn.rsplit_once(':').map(|(_, rest)| rest))
        .unwrap_or(arn);
    Fields::from([
        ("id".into(), arn.to_string()),
        ("arn".into(), arn.to_string()),
        ("arnSuffix".into(), suffix.to_string()),
    ])
}

fn lb_name(cx: &Context) -> String {
    cx.identity.resource_name("alb", NameRule::LoadBalancer)
}

fn tg_name(cx: &Context) -> String {
    cx.identity.resource_name("app", NameRule::LoadBalancer)
}

fn tags(cx: &Context, key: &str) -> Vec<Tag> {
    cx.identity
        .tags(key)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn not_found(error: AwsError) -> Result<(), AwsError> {
    if error.is_not_found() {
        Ok(())
    } else {
        Err(error)
    }
}

// ---------------------------------------------------------------- target group

pub struct TargetGroupKind;
pub static TARGET_GROUP: TargetGroupKind = TargetGroupKind;

/// Instance targets on `port` in VPC node `vpc`, health-checked per `health`.
pub struct TargetGroup {
    pub vpc: String,
    pub port: i32,
    pub health: HealthCheck,
    pub deregistration_delay: i32,
}

#[async_trait]
impl KindOps for TargetGroupKind {
    fn name(&self) -> &'static str {
        "TargetGroup"
    }

    fn rank(&self) -> u8 {
        1
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let elb = &cx.clients.elb;
        let found = match elb
            .describe_target_groups()
            .names(tg_name(cx))
            .send()
            .await
            .map_err(sdk("DescribeTargetGroups"))
        {
            Ok(found) => found,
            Err(e) if e.is_not_found() => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for group in found.target_groups() {
            let Some(arn) = group.target_group_arn() else {
                continue;
            };
            let attributes = elb
                .describe_target_group_attributes()
                .target_group_arn(arn)
                .send()
                .await
                .map_err(sdk("DescribeTargetGroupAttributes"))?;
            let delay = attributes
                .attributes()
                .iter()
                .find(|a| a.key() == Some("deregistration_delay.timeout_seconds"))
                .and_then(|a| a.value())
                .unwrap_or_default();
            let number = |n: Option<i32>| n.map(|n| n.to_string()).unwrap_or_default();
            let fields = Fields::from([
                (
                    "vpc".to_string(),
                    group.vpc_id().unwrap_or_default().to_string(),
                ),
                ("port".into(), number(group.port())),
                (
                    "healthPath".into(),
                    group.health_check_path().unwrap_or_default().into(),
                ),
                (
                    "healthInterval".into(),
                    number(group.health_check_interval_seconds()),
                ),
                (
                    "healthTimeout".into(),
                    number(group.health_check_timeout_seconds()),
                ),
                (
                    "healthyThreshold".into(),
                    number(group.healthy_threshold_count()),
                ),
                (
                    "unhealthyThreshold".into(),
                    number(group.unhealthy_threshold_count()),
                ),
                ("deregistrationDelay".into(), delay.to_string()),
            ]);
            out.push(Observed {
                component: TARGET_GROUP_KEY.into(),
                id: arn.to_string(),
                arn: Some(arn.to_string()),
                outputs: arn_outputs(arn),
                fields,
                status: Status::Ready,
            });
        }
        Ok(out)
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let deleted = cx
            .clients
            .elb
            .delete_target_group()
            .target_group_arn(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteTargetGroup"));
        deleted.map(|_| ()).or_else(not_found)?;
        Ok(Deletion::Done)
    }
}

impl TargetGroup {
    async fn set_delay(&self, cx: &Context, arn: &str) -> Result<(), AwsError> {
        cx.clients
            .elb
            .modify_target_group_attributes()
            .target_group_arn(arn)
            .attributes(
                aws_sdk_elasticloadbalancingv2::types::TargetGroupAttribute::builder()
                    .key("deregistration_delay.timeout_seconds")
                    .value(self.deregistration_delay.to_string())
                    .build(),
            )
            .send()
            .await
            .map_err(sdk("ModifyTargetGroupAttributes"))?;
        Ok(())
    }
}

#[async_trait]
impl Resource for TargetGroup {
    fn kind(&self) -> Kind {
        &TARGET_GROUP
    }

    fn desired(&self, _key: &str, _cx: &Context, inputs: &Inputs) -> Fields {
        let h = &self.health;
        Fields::from([
            ("vpc".to_string(), inputs.get(&self.vpc, "id")),
            ("port".into(), self.port.to_string()),
            ("healthPath".into(), h.path.clone()),
            ("healthInterval".into(), h.interval_seconds.to_string()),
            ("healthTimeout".into(), h.timeout_seconds.to_string()),
            ("healthyThreshold".into(), h.healthy_threshold.to_string()),
            (
                "unhealthyThreshold".into(),
                h.unhealthy_threshold.to_string(),
            ),
            (
                "deregistrationDelay".into(),
                self.deregistration_delay.to_string(),
            ),
        ])
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let h = &self.health;
        let created = cx
            .clients
            .elb
            .create_target_group()
            .name(tg_name(cx))
            .protocol(ProtocolEnum::Http)
            .port(self.port)
            .vpc_id(inputs.require(&self.vpc, "id")?)
            .target_type(TargetTypeEnum::Instance)
            .health_check_path(&h.path)
            .health_check_interval_seconds(h.interval_seconds)
            .health_check_timeout_seconds(h.timeout_seconds)
            .healthy_threshold_count(h.healthy_threshold)
            .unhealthy_threshold_count(h.unhealthy_threshold)
            .matcher(Matcher::builder().http_code("200-399").build())
            .set_tags(Some(tags(cx, key)))
            .send()
            .await
            .map_err(sdk("CreateTargetGroup"))?;
        let arn = created
            .target_groups()
            .first()
            .and_then(|g| g.target_group_arn())
            .ok_or_else(|| missing("CreateTargetGroup"))?
            .to_string();
        self.set_delay(cx, &arn).await?;
        Ok(Observed {
            component: key.into(),
            id: arn.clone(),
            arn: Some(arn.clone()),
            outputs: arn_outputs(&arn),
            fields: self.desired(key, cx, inputs),
            status: Status::Ready,
        })
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        _inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        if changes
            .iter()
            .any(|c| c.field == "vpc" || c.field == "port")
        {
            // Port and VPC of a target group are fixed: replace it. Its
            // listeners are recreated against the new one.
            return Err(AwsError::new(
                ErrorClass::Terminal,
                "UpdateTargetGroup",
                "ImmutableField",
                "the target group's port or VPC changed; delete the target group to let stackops recreate it",
            ));
        }
        if changes
            .iter()
            .any(|c| c.field.starts_with("health") || c.field.ends_with("Threshold"))
        {
            let h = &self.health;
            cx.clients
                .elb
                .modify_target_group()
                .target_group_arn(&current.id)
                .health_check_path(&h.path)
                .health_check_interval_seconds(h.interval_seconds)
                .health_check_timeout_seconds(h.timeout_seconds)
                .healthy_threshold_count(h.healthy_threshold)
                .unhealthy_threshold_count(h.unhealthy_threshold)
                .send()
                .await
                .map_err(sdk("ModifyTargetGroup"))?;
        }
        if changes.iter().any(|c| c.field == "deregistrationDelay") {
            self.set_delay(cx, &current.id).await?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- load balancer

pub struct LoadBalancerKind;
pub static LOAD_BALANCER: LoadBalancerKind = LoadBalancerKind;

/// An internet-facing ALB across the public subnet nodes `subnets`.
pub struct LoadBalancer {
    pub subnets: Vec<String>,
    pub security_group: String,
    pub idle_timeout: i32,
    pub deletion_protection: bool,
    pub access_logs: Option<AccessLogs>,
}

/// Attribute key -> stackops field name.
const LB_ATTRIBUTES: [(&str, &str); 5] = [
    ("idle_timeout.timeout_seconds", "idleTimeout"),
    (
        "routing.http.drop_invalid_header_fields.enabled",
        "dropInvalidHeaders",
    ),
    ("deletion_protection.enabled", "deletionProtection"),
    ("access_logs.s3.enabled", "accessLogs"),
    ("access_logs.s3.bucket", "accessLogsBucket"),
];

impl LoadBalancer {
    fn attributes(&self) -> Vec<(&'static str, String)> {
        let logs = self.access_logs.as_ref();
        vec![
            (
                "idle_timeout.timeout_seconds",
                self.idle_timeout.to_string(),
            ),
            (
                "routing.http.drop_invalid_header_fields.enabled",
                "true".into(),
            ),
            (
                "deletion_protection.enabled",
                self.deletion_protection.to_string(),
            ),
            ("access_logs.s3.enabled", logs.is_some().to_string()),
            (
                "access_logs.s3.bucket",
                logs.map(|l| l.bucket.clone()).unwrap_or_default(),
            ),
            (
                "access_logs.s3.prefix",
                logs.and_then(|l| l.prefix.clone()).unwrap_or_default(),
            ),
        ]
    }

    async fn set_attributes(&self, cx: &Context, arn: &str) -> Result<(), AwsError> {
        let attributes = self
            .attributes()
            .into_iter()
            .map(|(k, v)| {
                aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute::builder()
                    .key(k)
                    .value(v)
                    .build()
            })
            .collect();
        cx.clients
            .elb
            .modify_load_balancer_attributes()
            .load_balancer_arn(arn)
            .set_attributes(Some(attributes))
            .send()
            .await
            .map_err(sdk("ModifyLoadBalancerAttributes"))?;
        Ok(())
    }
}

async fn describe_load_balancer(
    cx: &Context,
) -> Result<Option<aws_sdk_elasticloadbalancingv2::types::LoadBalancer>, AwsError> {
    let found = cx
        .clients
        .elb
        .describe_load_balancers()
        .names(lb_name(cx))
        .send()
        .await
        .map_err(sdk("DescribeLoadBalancers"));
    match found {
        Ok(found) => Ok(found.load_balancers().first().cloned()),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl KindOps for LoadBalancerKind {
    fn name(&self) -> &'static str {
        "LoadBalancer"
    }

    fn rank(&self) -> u8 {
        2
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let Some(lb) = describe_load_balancer(cx).await? else {
            return Ok(Vec::new());
        };
        let Some(arn) = lb.load_balancer_arn() else {
            return Ok(Vec::new());
        };
        let attributes = cx
            .clients
            .elb
            .describe_load_balancer_attributes()
            .load_balancer_arn(arn)
            .send()
            .await
            .map_err(sdk("DescribeLoadBalancerAttributes"))?;
        let mut fields = Fields::new();
        for (key, field) in LB_ATTRIBUTES {
            let value = attributes
                .attributes()
                .iter()
                .find(|a| a.key() == Some(key))
                .and_then(|a| a.value());
            fields.insert(field.into(), value.unwrap_or_default().to_string());
        }
        let subnets =
            super::ec2::set_field(lb.availability_zones().iter().filter_map(|z| z.subnet_id()));
        fields.insert("subnets".into(), subnets);
        fields.insert(
            "securityGroups".into(),
            super::ec2::set_field(lb.security_groups().iter().map(String::as_str)),
        );
        let dns = lb.dns_name().unwrap_or_default().to_string();
        let status = match lb.state().and_then(|s| s.code()) {
            Some(LoadBalancerStateEnum::Active) | None => Status::Ready,
            Some(other) => Status::Pending(other.as_str().to_string()),
        };
        Ok(vec![Observed {
            component: LOAD_BALANCER_KEY.into(),
            id: arn.to_string(),
            arn: Some(arn.to_string()),
            outputs: {
                let mut outputs = arn_outputs(arn);
                outputs.insert("dnsName".into(), dns);
                outputs
            },
            fields,
            status,
        }])
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        if observed
            .fields
            .get("deletionProtection")
            .map(String::as_str)
            == Some("true")
        {
            return Ok(Deletion::Blocked(
                "the load balancer has deletion protection: set spec.loadBalancer.deletionProtection to false to delete it".into(),
            ));
        }
        let deleted = cx
            .clients
            .elb
            .delete_load_balancer()
            .load_balancer_arn(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteLoadBalancer"));
        deleted.map(|_| ()).or_else(not_found)?;
        Ok(Deletion::Done)
    }
}

#[async_trait]
impl Resource for LoadBalancer {
    fn kind(&self) -> Kind {
        &LOAD_BALANCER
    }

    fn desired(&self, _key: &str, _cx: &Context, inputs: &Inputs) -> Fields {
        let mut fields: Fields = LB_ATTRIBUTES
            .iter()
            .filter_map(|(key, field)| {
                self.attributes()
                    .into_iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| (field.to_string(), v))
            })
            .collect();
        fields.insert(
            "subnets".into(),
            super::ec2::set_field(self.subnets.iter().map(|s| inputs.get(s, "id"))),
        );
        fields.insert(
            "securityGroups".into(),
            inputs.get(&self.security_group, "id"),
        );
        fields
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let subnets = self
            .subnets
            .iter()
            .map(|s| inputs.require(s, "id"))
            .collect::<Result<Vec<_>, _>>()?;
        let created = cx
            .clients
            .elb
            .create_load_balancer()
            .name(lb_name(cx))
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(LoadBalancerSchemeEnum::InternetFacing)
            .set_subnets(Some(subnets))
            .security_groups(inputs.require(&self.security_group, "id")?)
            .set_tags(Some(tags(cx, key)))
            .send()
            .await
            .map_err(sdk("CreateLoadBalancer"))?;
        let lb = created
            .load_balancers()
            .first()
            .ok_or_else(|| missing("CreateLoadBalancer"))?;
        let arn = lb
            .load_balancer_arn()
            .ok_or_else(|| missing("CreateLoadBalancer"))?
            .to_string();
        self.set_attributes(cx, &arn).await?;
        let dns = lb.dns_name().unwrap_or_default().to_string();
        Ok(Observed {
            component: key.into(),
            id: arn.clone(),
            arn: Some(arn.clone()),
            outputs: {
                let mut outputs = arn_outputs(&arn);
                outputs.insert("dnsName".into(), dns);
                outputs
            },
            fields: self.desired(key, cx, inputs),
            // New load balancers provision for a while before they serve.
            status: Status::Pending("provisioning".into()),
        })
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        let elb = &cx.clients.elb;
        for change in changes {
            match change.field.as_str() {
                "subnets" => {
                    let subnets = self
                        .subnets
                        .iter()
                        .map(|s| inputs.require(s, "id"))
                        .collect::<Result<Vec<_>, _>>()?;
                    elb.set_subnets()
                        .load_balancer_arn(&current.id)
                        .set_subnets(Some(subnets))
                        .send()
                        .await
                        .map_err(sdk("SetSubnets"))?;
                }
                "securityGroups" => {
                    elb.set_security_groups()
                        .load_balancer_arn(&current.id)
                        .security_groups(inputs.require(&self.security_group, "id")?)
                        .send()
                        .await
                        .map_err(sdk("SetSecurityGroups"))?;
                }
                _ => {}
            }
        }
        if changes
            .iter()
            .any(|c| LB_ATTRIBUTES.iter().any(|(_, f)| *f == c.field))
        {
            self.set_attributes(cx, &current.id).await?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- listeners

pub struct ListenersKind;
pub static LISTENERS: ListenersKind = ListenersKind;

/// The load balancer's listeners, as one resource: HTTP forwarding to the
/// target group, or with a certificate HTTPS forwarding plus an HTTP
/// listener that redirects to HTTPS.
pub struct Listeners {
    pub load_balancer: String,
    pub target_group: String,
    pub certificate_arn: Option<String>,
}

/// Canonical text of one listener: `HTTP:80>forward:<tg>`,
/// `HTTP:80>redirect:HTTPS:443`, `HTTPS:443>forward:<tg>;<policy>;<cert>`.
fn describe_listener(listener: &aws_sdk_elasticloadbalancingv2::types::Listener) -> String {
    let protocol = listener.protocol().map(|p| p.as_str()).unwrap_or_default();
    let port = listener.port().unwrap_or_default();
    let action = listener.default_actions().first();
    let what = match action.and_then(|a| a.r#type()) {
        Some(ActionTypeEnum::Redirect) => {
            let redirect = action.and_then(|a| a.redirect_config());
            format!(
                "redirect:{}:{}",
                redirect.and_then(|r| r.protocol()).unwrap_or_default(),
                redirect.and_then(|r| r.port()).unwrap_or_default()
            )
        }
        _ => format!(
            "forward:{}",
            action
                .and_then(|a| a.target_group_arn())
                .unwrap_or_default()
        ),
    };
    let mut text = format!("{protocol}:{port}>{what}");
    if protocol == "HTTPS" {
        let certificate = listener
            .certificates()
            .first()
            .and_then(|c| c.certificate_arn())
            .unwrap_or_default();
        text.push_str(&format!(
            ";{};{certificate}",
            listener.ssl_policy().unwrap_or_default()
        ));
    }
    text
}

#[async_trait]
impl KindOps for ListenersKind {
    fn name(&self) -> &'static str {
        "Listeners"
    }

    fn rank(&self) -> u8 {
        3
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let Some(lb) = describe_load_balancer(cx).await? else {
            return Ok(Vec::new());
        };
        let Some(lb_arn) = lb.load_balancer_arn() else {
            return Ok(Vec::new());
        };
        let found = cx
            .clients
            .elb
            .describe_listeners()
            .load_balancer_arn(lb_arn)
            .send()
            .await
            .map_err(sdk("DescribeListeners"))?;
        if found.listeners().is_empty() {
            return Ok(Vec::new());
        }
        let mut outputs = Fields::from([("id".to_string(), lb_arn.to_string())]);
        for listener in found.listeners() {
            if let Some(arn) = listener.listener_arn() {
                outputs.insert(
                    format!("listener:{}", describe_listener(listener)),
                    arn.to_string(),
                );
            }
        }
        let set = super::ec2::set_field(found.listeners().iter().map(describe_listener));
        Ok(vec![Observed {
            component: LISTENERS_KEY.into(),
            id: lb_arn.to_string(),
            arn: None,
            outputs,
            fields: Fields::from([("listeners".to_string(), set)]),
            status: Status::Ready,
        }])
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        for (key, arn) in &observed.outputs {
            if key.starts_with("listener:") {
                let deleted = cx
                    .clients
                    .elb
                    .delete_listener()
                    .listener_arn(arn)
                    .send()
                    .await
                    .map_err(sdk("DeleteListener"));
                deleted.map(|_| ()).or_else(not_found)?;
            }
        }
        Ok(Deletion::Done)
    }
}

impl Listeners {
    fn wanted(&self, inputs: &Inputs) -> Vec<String> {
        let tg = inputs.get(&self.target_group, "arn");
        match &self.certificate_arn {
            None => vec![format!("HTTP:80>forward:{tg}")],
            Some(certificate) => vec![
                "HTTP:80>redirect:HTTPS:443".to_string(),
                format!("HTTPS:443>forward:{tg};{TLS_POLICY};{certificate}"),
            ],
        }
    }

    async fn create_listener(
        &self,
        cx: &Context,
        lb: &str,
        spec: &str,
        tg: &str,
    ) -> Result<(), AwsError> {
        let elb = &cx.clients.elb;
        let call = if spec.starts_with("HTTP:80>redirect") {
            let redirect = RedirectActionConfig::builder()
                .protocol("HTTPS")
                .port("443")
                .status_code(RedirectActionStatusCodeEnum::Http301)
                .build();
            elb.create_listener()
                .protocol(ProtocolEnum::Http)
                .port(80)
                .default_actions(
                    Action::builder()
                        .r#type(ActionTypeEnum::Redirect)
                        .redirect_config(redirect)
                        .build(),
                )
        } else {
            let forward = Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(tg)
                .build();
            match &self.certificate_arn {
                Some(certificate) if spec.starts_with("HTTPS") => elb
                    .create_listener()
                    .protocol(ProtocolEnum::Https)
                    .port(443)
                    .ssl_policy(TLS_POLICY)
                    .certificates(Certificate::builder().certificate_arn(certificate).build())
                    .default_actions(forward),
                _ => elb
                    .create_listener()
                    .protocol(ProtocolEnum::Http)
                    .port(80)
                    .default_actions(forward),
            }
        };
        call.load_balancer_arn(lb)
            .set_tags(Some(tags(cx, LISTENERS_KEY)))
            .send()
            .await
            .map_err(sdk("CreateListener"))?;
        Ok(())
    }
}

#[async_trait]
impl Resource for Listeners {
    fn kind(&self) -> Kind {
        &LISTENERS
    }

    fn desired(&self, _key: &str, _cx: &Context, inputs: &Inputs) -> Fields {
        Fields::from([(
            "listeners".to_string(),
            super::ec2::set_field(self.wanted(inputs)),
        )])
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let lb = inputs.require(&self.load_balancer, "arn")?;
        let tg = inputs.require(&self.target_group, "arn")?;
        for spec in self.wanted(inputs) {
            self.create_listener(cx, &lb, &spec, &tg).await?;
        }
        Ok(Observed {
            component: key.into(),
            id: lb.clone(),
            arn: None,
            outputs: Fields::from([("id".into(), lb)]),
            fields: self.desired(key, cx, inputs),
            status: Status::Ready,
        })
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        _changes: &[Change],
    ) -> Result<(), AwsError> {
        // Listeners are cheap and few: remove the ones not wanted, add the missing.
        let lb = inputs.require(&self.load_balancer, "arn")?;
        let tg = inputs.require(&self.target_group, "arn")?;
        let wanted = self.wanted(inputs);
        for (key, arn) in &current.outputs {
            if let Some(spec) = key.strip_prefix("listener:")
                && !wanted.iter().any(|w| w == spec)
            {
                cx.clients
                    .elb
                    .delete_listener()
                    .listener_arn(arn)
                    .send()
                    .await
                    .map_err(sdk("DeleteListener"))?;
            }
        }
        for spec in &wanted {
            if !current.outputs.contains_key(&format!("listener:{spec}")) {
                self.create_listener(cx, &lb, spec, &tg).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_suffixes_are_what_cloudwatch_names() {
        let lb =
            "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/shop-alb/50dc6c495c0c9188";
        let tg = "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/shop-app/943f017f100becff";
        assert_eq!(
            arn_outputs(lb)["arnSuffix"],
            "app/shop-alb/50dc6c495c0c9188"
        );
        assert_eq!(
            arn_outputs(tg)["arnSuffix"],
            "targetgroup/shop-app/943f017f100becff"
        );
    }
}
