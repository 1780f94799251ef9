//! The load balancer's listeners and their rules, as one resource.

use std::collections::btree_map::Entry;

use crate::aws::prelude::*;
use crate::aws::secrets;
use crate::aws::shared::ORIGIN_HEADER;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, HttpHeaderConditionConfig,
    Listener, ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum, Rule,
    RuleCondition,
};

use super::load_balancer::describe_load_balancer;
use super::{LISTENERS_KEY, TLS_POLICY, tags};

pub struct ListenersKind;
pub static LISTENERS: ListenersKind = ListenersKind;

/// The load balancer's listeners, as one resource: HTTP forwarding to the
/// target group, or with a certificate HTTPS forwarding plus an HTTP
/// listener that redirects to HTTPS.
///
/// Behind a CDN (`origin_secret`) the load balancer answers 403 to any
/// request without the CDN's origin header and forwards the rest through a
/// rule, so that no one, not even another CloudFront distribution, goes
/// around the CDN and its WAF. The listener is then HTTPS alone with a
/// certificate, HTTP alone without.
pub struct Listeners {
    pub load_balancer: String,
    pub target_group: String,
    pub certificate_arn: Option<String>,
    /// Node of the secret whose value CloudFront sends as `ORIGIN_HEADER`.
    pub origin_secret: Option<String>,
}

/// What a request without the origin header gets.
const REFUSED: &str = "403";
/// Priority of the rule that forwards requests with the origin header.
const HEADER_RULE_PRIORITY: i32 = 1;

/// Canonical text of one listener: `HTTP:80>forward:<tg>`,
/// `HTTP:80>redirect:HTTPS:443`, `HTTPS:443>forward:<tg>;<policy>;<cert>`.
/// `HTTP:80>fixed:403`: the default of a listener behind a CDN.
fn describe_listener(listener: &Listener) -> String {
    let action = listener.default_actions().first();
    let what = match action.and_then(|a| a.r#type()) {
        Some(ActionTypeEnum::FixedResponse) => format!(
            "fixed:{}",
            action
                .and_then(|a| a.fixed_response_config())
                .and_then(|f| f.status_code())
                .unwrap_or_default()
        ),
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
    let protocol = listener.protocol().map(|p| p.as_str()).unwrap_or_default();
    let mut text = format!("{}>{what}", listener_port(listener));
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

/// `HTTPS:443`: how rules name their listener.
fn listener_port(listener: &Listener) -> String {
    format!(
        "{}:{}",
        listener.protocol().map(|p| p.as_str()).unwrap_or_default(),
        listener.port().unwrap_or_default()
    )
}

/// Canonical text of a listener's rule:
/// `HTTPS:443#1 X-Origin-Verify=<digest>>forward:<tg>`, with the digest of
/// the header value, never the value.
fn describe_rule(port: &str, rule: &Rule) -> String {
    let headers: Vec<String> = rule
        .conditions()
        .iter()
        .filter_map(|c| c.http_header_config())
        .map(|h| {
            let values: Vec<String> = h
                .values()
                .iter()
                .map(|v| secrets::value_digest(v))
                .collect();
            format!(
                "{}={}",
                h.http_header_name().unwrap_or_default(),
                values.join("|")
            )
        })
        .collect();
    let target = rule
        .actions()
        .first()
        .and_then(|a| a.target_group_arn())
        .unwrap_or_default();
    format!(
        "{port}#{} {}>forward:{target}",
        rule.priority().unwrap_or_default(),
        headers.join(" ")
    )
}

/// The rules (other than the default) of each listener that refuses by
/// default: one DescribeRules per such listener, none for the others.
async fn observe_rules(
    cx: &Context,
    listeners: &[Listener],
    outputs: &mut Fields,
) -> Result<Vec<String>, AwsError> {
    let mut texts = Vec::new();
    for listener in listeners {
        let refuses = listener
            .default_actions()
            .iter()
            .any(|a| a.r#type() == Some(&ActionTypeEnum::FixedResponse));
        let Some(arn) = listener.listener_arn().filter(|_| refuses) else {
            continue;
        };
        let found = cx
            .clients
            .elb
            .describe_rules()
            .listener_arn(arn)
            .send()
            .await
            .map_err(sdk("DescribeRules"))?;
        for rule in found.rules() {
            if rule.is_default() == Some(true) {
                continue;
            }
            let text = describe_rule(&listener_port(listener), rule);
            if let Some(rule_arn) = rule.rule_arn() {
                outputs.insert(format!("rule:{text}"), rule_arn.to_string());
            }
            texts.push(text);
        }
    }
    Ok(texts)
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
        let rules = observe_rules(cx, found.listeners(), &mut outputs).await?;
        let set = set_field(found.listeners().iter().map(describe_listener));
        Ok(vec![Observed {
            component: LISTENERS_KEY.into(),
            id: lb_arn.to_string(),
            arn: None,
            outputs,
            fields: Fields::from([
                ("listeners".to_string(), set),
                ("rules".to_string(), set_field(rules)),
            ]),
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
        let https = |action: &str| format!("HTTPS:443>{action};{TLS_POLICY};");
        match (&self.certificate_arn, &self.origin_secret) {
            (None, None) => vec![format!("HTTP:80>forward:{tg}")],
            (Some(certificate), None) => vec![
                "HTTP:80>redirect:HTTPS:443".to_string(),
                format!("{}{certificate}", https(&format!("forward:{tg}"))),
            ],
            (None, Some(_)) => vec![format!("HTTP:80>fixed:{REFUSED}")],
            (Some(certificate), Some(_)) => {
                vec![format!(
                    "{}{certificate}",
                    https(&format!("fixed:{REFUSED}"))
                )]
            }
        }
    }

    /// Behind a CDN, the one rule that forwards requests carrying the
    /// origin header (named by the digest of its value).
    fn wanted_rules(&self, inputs: &Inputs) -> Vec<String> {
        let Some(secret) = &self.origin_secret else {
            return Vec::new();
        };
        let port = if self.certificate_arn.is_some() {
            "HTTPS:443"
        } else {
            "HTTP:80"
        };
        vec![format!(
            "{port}#{HEADER_RULE_PRIORITY} {ORIGIN_HEADER}={}>forward:{}",
            inputs.get(secret, "digest"),
            inputs.get(&self.target_group, "arn")
        )]
    }

    /// The origin header's value, read from its secret for the call that
    /// writes it into a rule.
    async fn origin_header_value(&self, cx: &Context, inputs: &Inputs) -> Result<String, AwsError> {
        let secret = self
            .origin_secret
            .as_ref()
            .ok_or_else(|| missing("origin secret"))?;
        secrets::read(cx, &inputs.require(secret, "arn")?).await
    }

    async fn create_listener(
        &self,
        cx: &Context,
        lb: &str,
        spec: &str,
        tg: &str,
    ) -> Result<String, AwsError> {
        let elb = &cx.clients.elb;
        let default_action = if spec.contains(">redirect:") {
            Action::builder()
                .r#type(ActionTypeEnum::Redirect)
                .redirect_config(
                    RedirectActionConfig::builder()
                        .protocol("HTTPS")
                        .port("443")
                        .status_code(RedirectActionStatusCodeEnum::Http301)
                        .build(),
                )
                .build()
        } else if spec.contains(">fixed:") {
            Action::builder()
                .r#type(ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    FixedResponseActionConfig::builder()
                        .status_code(REFUSED)
                        .content_type("text/plain")
                        .message_body("Forbidden")
                        .build(),
                )
                .build()
        } else {
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(tg)
                .build()
        };
        let call = match &self.certificate_arn {
            Some(certificate) if spec.starts_with("HTTPS") => elb
                .create_listener()
                .protocol(ProtocolEnum::Https)
                .port(443)
                .ssl_policy(TLS_POLICY)
                .certificates(Certificate::builder().certificate_arn(certificate).build()),
            _ => elb.create_listener().protocol(ProtocolEnum::Http).port(80),
        };
        let created = call
            .default_actions(default_action)
            .load_balancer_arn(lb)
            .set_tags(Some(tags(cx, LISTENERS_KEY)))
            .send()
            .await
            .map_err(sdk("CreateListener"))?;
        created
            .listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .map(String::from)
            .ok_or_else(|| missing("CreateListener"))
    }

    /// The rule forwarding requests whose origin header carries `value`.
    async fn create_header_rule(
        &self,
        cx: &Context,
        listener: &str,
        value: &str,
        tg: &str,
    ) -> Result<(), AwsError> {
        cx.clients
            .elb
            .create_rule()
            .listener_arn(listener)
            .priority(HEADER_RULE_PRIORITY)
            .conditions(
                RuleCondition::builder()
                    .field("http-header")
                    .http_header_config(
                        HttpHeaderConditionConfig::builder()
                            .http_header_name(ORIGIN_HEADER)
                            .values(value)
                            .build(),
                    )
                    .build(),
            )
            .actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .target_group_arn(tg)
                    .build(),
            )
            .send()
            .await
            .map_err(sdk("CreateRule"))?;
        Ok(())
    }
}

/// The listener (by its `listener:` output) a rule text belongs to.
fn listener_of<'a>(outputs: &'a Fields, rule: &str) -> Option<&'a String> {
    let port = rule.split('#').next().unwrap_or_default();
    outputs
        .iter()
        .find(|(key, _)| key.starts_with(&format!("listener:{port}>")))
        .map(|(_, arn)| arn)
}

#[async_trait]
impl Resource<AwsClients> for Listeners {
    fn kind(&self) -> Kind {
        &LISTENERS
    }

    fn desired(&self, _key: &str, _cx: &Context, inputs: &Inputs) -> Fields {
        Fields::from([
            ("listeners".to_string(), set_field(self.wanted(inputs))),
            ("rules".to_string(), set_field(self.wanted_rules(inputs))),
        ])
    }

    /// HTTP alone, HTTP redirecting to HTTPS and HTTPS, or behind a CDN one
    /// refusing listener and its forwarding rule.
    fn create_calls(&self) -> Vec<&'static str> {
        match (&self.certificate_arn, &self.origin_secret) {
            (_, Some(_)) => vec!["CreateListener", "CreateRule"],
            (Some(_), None) => vec!["CreateListener"; 2],
            (None, None) => vec!["CreateListener"],
        }
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let lb = inputs.require(&self.load_balancer, "arn")?;
        let current = Observed {
            component: key.into(),
            id: lb.clone(),
            arn: None,
            outputs: Fields::from([("id".into(), lb.clone())]),
            fields: Fields::new(),
            status: Status::Ready,
        };
        self.update(key, cx, inputs, &current, &[]).await?;
        Ok(Observed {
            fields: self.desired(key, cx, inputs),
            outputs: Fields::from([("id".into(), lb)]),
            ..current
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
        // Listeners and rules are cheap and few: remove the ones not
        // wanted (a listener takes its rules with it), add the missing.
        let lb = inputs.require(&self.load_balancer, "arn")?;
        let tg = inputs.require(&self.target_group, "arn")?;
        let wanted = self.wanted(inputs);
        let wanted_rules = self.wanted_rules(inputs);
        let mut outputs = current.outputs.clone();
        for (key, arn) in &current.outputs {
            if let Some(spec) = key.strip_prefix("listener:")
                && !wanted.iter().any(|w| w == spec)
            {
                let deleted = cx
                    .clients
                    .elb
                    .delete_listener()
                    .listener_arn(arn)
                    .send()
                    .await
                    .map_err(sdk("DeleteListener"));
                deleted.or_gone()?;
                let port = spec.split('>').next().unwrap_or_default();
                outputs.retain(|k, _| k != key && !k.starts_with(&format!("rule:{port}#")));
            } else if let Some(rule) = key.strip_prefix("rule:")
                // Not gone already with its listener, above.
                && outputs.contains_key(key)
                && !wanted_rules.iter().any(|w| w == rule)
            {
                let deleted = cx
                    .clients
                    .elb
                    .delete_rule()
                    .rule_arn(arn)
                    .send()
                    .await
                    .map_err(sdk("DeleteRule"));
                deleted.or_gone()?;
                outputs.remove(key);
            }
        }
        for spec in &wanted {
            if let Entry::Vacant(slot) = outputs.entry(format!("listener:{spec}")) {
                slot.insert(self.create_listener(cx, &lb, spec, &tg).await?);
            }
        }
        let missing_rules: Vec<&String> = wanted_rules
            .iter()
            .filter(|rule| !outputs.contains_key(&format!("rule:{rule}")))
            .collect();
        if !missing_rules.is_empty() {
            let value = self.origin_header_value(cx, inputs).await?;
            for rule in missing_rules {
                let listener =
                    listener_of(&outputs, rule).ok_or_else(|| missing("CreateListener"))?;
                self.create_header_rule(cx, listener, &value, &tg).await?;
            }
        }
        Ok(())
    }
}
