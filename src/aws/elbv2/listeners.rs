//! The load balancer's listeners, as one resource.

use crate::aws::prelude::*;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, ProtocolEnum, RedirectActionConfig,
    RedirectActionStatusCodeEnum,
};

use super::load_balancer::describe_load_balancer;
use super::{LISTENERS_KEY, TLS_POLICY, tags};

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
impl KindOps<AwsClients> for ListenersKind {
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
        let set = set_field(found.listeners().iter().map(describe_listener));
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
                deleted.or_gone()?;
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
impl Resource<AwsClients> for Listeners {
    fn kind(&self) -> Kind {
        &LISTENERS
    }

    fn desired(&self, _key: &str, _cx: &Context, inputs: &Inputs) -> Fields {
        Fields::from([("listeners".to_string(), set_field(self.wanted(inputs)))])
    }

    /// HTTP alone, or HTTP redirecting to HTTPS and HTTPS.
    fn create_calls(&self) -> Vec<&'static str> {
        let listeners = if self.certificate_arn.is_some() { 2 } else { 1 };
        vec!["CreateListener"; listeners]
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
