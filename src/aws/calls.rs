//! Counts every AWS call by service, operation and outcome, and every attempt
//! AWS throttled, through an SDK interceptor on every client, into the
//! engine's call counters.

use std::fmt;

use aws_runtime::retries::classifiers::THROTTLING_ERRORS;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

pub use crate::engine::calls::{CallCounter, CallKey, is_mutating};

/// The interceptor that feeds one or more counters.
#[derive(Clone)]
pub struct CountingInterceptor {
    counters: Vec<CallCounter>,
}

impl fmt::Debug for CountingInterceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CountingInterceptor")
    }
}

impl CountingInterceptor {
    pub fn new(counters: Vec<CallCounter>) -> Self {
        Self { counters }
    }
}

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "stackops.CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        for counter in &self.counters {
            counter.record_attempt();
        }
        Ok(())
    }

    /// Once per attempt that got a response (its body is read by now).
    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if is_throttled(context.response()) {
            let (service, _) = call_name(cfg);
            for counter in &self.counters {
                counter.record_throttled(&service);
            }
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = call_name(cfg);
        if context.response().is_some_and(|r| {
            r.headers()
                .get(super::shared_reads::SHARED_HEADER)
                .is_some()
        }) {
            // Answered from a read another stack made: no call to AWS.
            for counter in &self.counters {
                counter.record_shared();
            }
            return Ok(());
        }
        let outcome = match (context.output_or_error(), context.response()) {
            (Some(Ok(_)), _) => "ok".to_string(),
            (_, Some(response)) => format!("error:{}", response.status().as_u16()),
            _ => "error:no-response".to_string(),
        };
        let key = CallKey {
            service,
            operation,
            outcome,
        };
        for counter in &self.counters {
            counter.record(key.clone());
        }
        Ok(())
    }
}

/// Service and operation of the call being made.
fn call_name(cfg: &ConfigBag) -> (String, String) {
    cfg.load::<Metadata>()
        .map(|m| (m.service().to_string(), m.name().to_string()))
        .unwrap_or_else(|| ("unknown".into(), "unknown".into()))
}

/// Whether AWS throttled this attempt: an error whose code is one the
/// SDK's own retry classifier treats as throttling.
fn is_throttled(response: &HttpResponse) -> bool {
    !response.status().is_success()
        && error_code(response).is_some_and(|code| THROTTLING_ERRORS.contains(&code.as_str()))
}

/// The error code of a failed response, in the shapes of the protocols the
/// clients speak: JSON protocols name it in `x-amzn-ErrorType` or the
/// body's `__type`/`code`, XML ones (Query, EC2, S3, CloudFront) in the
/// first `<Code>` element. The SDK's parsed error is type-erased here, so
/// the code is read from the response itself.
fn error_code(response: &HttpResponse) -> Option<String> {
    let raw = match response.headers().get("x-amzn-errortype") {
        Some(header) => header.to_string(),
        None => {
            let body = std::str::from_utf8(response.body().bytes()?).ok()?;
            match body.find("<Code>") {
                Some(start) => {
                    let code = &body[start + "<Code>".len()..];
                    code[..code.find("</Code>")?].to_string()
                }
                None => {
                    let json: serde_json::Value = serde_json::from_str(body).ok()?;
                    ["__type", "code", "Code"]
                        .iter()
                        .find_map(|key| json.get(key)?.as_str())?
                        .to_string()
                }
            }
        }
    };
    // `aws.api#ThrottlingException:http://internal...` is `ThrottlingException`.
    let code = raw.split(':').next()?.rsplit('#').next()?.trim();
    (!code.is_empty()).then(|| code.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::body::SdkBody;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        let mut response =
            HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body.to_string()));
        for (name, value) in headers {
            response
                .headers_mut()
                .insert(name.to_string(), value.to_string());
        }
        response
    }

    #[test]
    fn throttling_is_recognised_in_every_protocol() {
        let throttled = [
            // EC2 Query.
            response(
                503,
                &[],
                "<Response><Errors><Error><Code>RequestLimitExceeded</Code>\
                 <Message>Request limit exceeded.</Message></Error></Errors></Response>",
            ),
            // AWS Query (RDS, ELBv2, Auto Scaling, IAM, SNS, CloudWatch).
            response(
                400,
                &[],
                "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
                 <Message>Rate exceeded</Message></Error></ErrorResponse>",
            ),
            // S3.
            response(503, &[], "<Error><Code>SlowDown</Code></Error>"),
            // JSON protocols, by header or body.
            response(
                400,
                &[(
                    "x-amzn-ErrorType",
                    "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/",
                )],
                "{}",
            ),
            response(
                400,
                &[],
                r#"{"__type":"com.amazonaws.logs#ThrottlingException","message":"Rate exceeded"}"#,
            ),
            response(429, &[], r#"{"code":"TooManyRequestsException"}"#),
        ];
        for r in &throttled {
            assert!(is_throttled(r), "{r:?}");
        }
        let not_throttled = [
            response(
                400,
                &[],
                "<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code></Error></Errors></Response>",
            ),
            response(400, &[], r#"{"__type":"ResourceNotFoundException"}"#),
            response(500, &[], "not an AWS error"),
            response(404, &[], ""),
            // A successful answer that merely mentions a code.
            response(200, &[], "<Code>Throttling</Code>"),
        ];
        for r in &not_throttled {
            assert!(!is_throttled(r), "{r:?}");
        }
        assert_eq!(
            error_code(&throttled[4]).as_deref(),
            Some("ThrottlingException")
        );
    }

    #[test]
    fn mutating_operations_are_recognised() {
        assert!(is_mutating("CreateVpc"));
        assert!(is_mutating("AuthorizeSecurityGroupIngress"));
        assert!(!is_mutating("DescribeVpcs"));
        assert!(!is_mutating("GetResources"));
        assert!(!is_mutating("ListTagsForResource"));
    }
}
