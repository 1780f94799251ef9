//! The stack's internet-facing Application Load Balancer and its attributes.

use aws_sdk_elasticloadbalancingv2::types::{
    LoadBalancerSchemeEnum, LoadBalancerStateEnum, LoadBalancerTypeEnum,
};

use crate::api::common::AccessLogs;
use crate::aws::prelude::*;

use super::{LOAD_BALANCER_KEY, arn_outputs, lb_name, tags};

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

pub(super) async fn describe_load_balancer(
    cx: &Context,
) -> Result<Option<aws_sdk_elasticloadbalancingv2::types::LoadBalancer>, AwsError> {
    // Shared: every load balancer of the account, not this one by name,
    // so one read serves every stack.
    let name = lb_name(cx);
    let by_name = (!cx.clients.reads.shares()).then(|| vec![name.clone()]);
    // Not found by name: none.
    let all = cx
        .clients
        .listed("elbv2:DescribeLoadBalancers", || async {
            cx.clients
                .elb
                .describe_load_balancers()
                .set_names(by_name)
                .page_size(400)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(sdk("DescribeLoadBalancers"))
                .found()
                .map(Option::unwrap_or_default)
        })
        .await?;
    Ok(all
        .iter()
        .find(|lb| lb.load_balancer_name() == Some(name.as_str()))
        .cloned())
}

#[async_trait]
impl KindOps<AwsClients> for LoadBalancerKind {
    fn name(&self) -> &'static str {
        "LoadBalancer"
    }

    fn rank(&self) -> u8 {
        2
    }

    /// A load balancer provisions in a few minutes.
    fn pace(&self) -> Pace {
        Pace::MINUTES
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
        let subnets = set_field(lb.availability_zones().iter().filter_map(|z| z.subnet_id()));
        fields.insert("subnets".into(), subnets);
        fields.insert(
            "securityGroups".into(),
            set_field(lb.security_groups().iter().map(String::as_str)),
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
        deleted.or_gone()?;
        Ok(Deletion::Done)
    }
}

#[async_trait]
impl Resource<AwsClients> for LoadBalancer {
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
            set_field(self.subnets.iter().map(|s| inputs.get(s, "id"))),
        );
        fields.insert(
            "securityGroups".into(),
            inputs.get(&self.security_group, "id"),
        );
        fields
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateLoadBalancer", "ModifyLoadBalancerAttributes"]
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
