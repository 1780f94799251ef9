//! AWS errors, classified once, here: what the engine does next depends
//! only on the class.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use thiserror::Error;

/// What to do about an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throttling, 5xx, timeouts, connection failures: try again later with
    /// backoff (the SDK already retried within the call).
    Retryable,
    /// Another resource must change first (still attached, still in use,
    /// not yet available): try again on the next pass.
    DependencyNotReady,
    /// Validation, quota and permission errors: nothing will change until
    /// the spec or the account does. Reported; retried slowly.
    Terminal,
}

/// An AWS call that failed, with its class and AWS's own code and message.
#[derive(Clone, Debug, Error)]
#[error("{operation}: {code}: {message}")]
pub struct AwsError {
    pub class: ErrorClass,
    pub operation: String,
    pub code: String,
    pub message: String,
}

impl AwsError {
    pub fn new(class: ErrorClass, operation: &str, code: &str, message: impl Into<String>) -> Self {
        Self {
            class,
            operation: operation.into(),
            code: code.into(),
            message: message.into(),
        }
    }

    /// An SDK error from `operation`, classified.
    pub fn from_sdk<E>(operation: &str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        match &err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                let code = e.code().unwrap_or("Unknown").to_string();
                let message = e.message().unwrap_or_default().to_string();
                Self::new(classify(&code, status), operation, &code, message)
            }
            SdkError::TimeoutError(_) => Self::new(
                ErrorClass::Retryable,
                operation,
                "Timeout",
                "the call timed out",
            ),
            SdkError::DispatchFailure(f) => Self::new(
                ErrorClass::Retryable,
                operation,
                "DispatchFailure",
                format!("could not send the request: {:?}", f.as_connector_error()),
            ),
            SdkError::ResponseError(_) => Self::new(
                ErrorClass::Retryable,
                operation,
                "ResponseError",
                format!("unreadable response (HTTP {})", status.unwrap_or(0)),
            ),
            // With its causes: e.g. credentials that could not be had
            // (an assumed role STS refused) say why only in their source.
            other => Self::new(
                ErrorClass::Terminal,
                operation,
                "ClientError",
                aws_smithy_types::error::display::DisplayErrorContext(other).to_string(),
            ),
        }
    }

    /// Whether AWS said the thing does not exist (deleting it is then done).
    pub fn is_not_found(&self) -> bool {
        self.code.contains("NotFound")
            || self.code.contains("NoSuch")
            // Auto Scaling says so in a ValidationError's message.
            || (self.code == "ValidationError" && self.message.contains("not found"))
    }

    pub fn is_retryable(&self) -> bool {
        self.class != ErrorClass::Terminal
    }
}

/// The class of an AWS error code (and HTTP status, when there was one).
pub fn classify(code: &str, status: Option<u16>) -> ErrorClass {
    const THROTTLING: &[&str] = &[
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "RequestThrottled",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "BandwidthLimitExceeded",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "TransactionInProgressException",
    ];
    const TRANSIENT: &[&str] = &[
        "InternalError",
        "InternalFailure",
        "InternalServiceError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "Unavailable",
        "RequestTimeout",
        "RequestTimeoutException",
        "IDPCommunicationError",
        // A final snapshot whose name is taken: the next pass names it anew.
        "DBSnapshotAlreadyExists",
        "DBSnapshotAlreadyExistsFault",
        "SnapshotAlreadyExistsFault",
    ];
    const DEPENDENCY: &[&str] = &[
        "DependencyViolation",
        "IncorrectState",
        "IncorrectInstanceState",
        "InvalidGroup.InUse",
        "ResourceInUse",
        "ResourceInUseException",
        "InvalidDBInstanceState",
        "InvalidDBInstanceStateFault",
        "InvalidDBSubnetGroupStateFault",
        "InvalidDBParameterGroupState",
        "InvalidCacheClusterState",
        "InvalidReplicationGroupState",
        "InvalidReplicationGroupStateFault",
        "CacheSubnetGroupInUse",
        "InvalidCacheParameterGroupState",
        "OperationAborted",
        "Gateway.NotAttached",
        "InvalidNetworkInterface.InUse",
        "InvalidIPAddress.InUse",
        "AuthFailure.ServiceLinkedRoleCreationNotPermitted",
        "DeleteConflict",
        "ScalingActivityInProgress",
        "InstanceRefreshInProgress",
        "ResourceContention",
    ];
    if THROTTLING.contains(&code) || TRANSIENT.contains(&code) {
        ErrorClass::Retryable
    } else if DEPENDENCY.contains(&code) {
        ErrorClass::DependencyNotReady
    } else if status.is_some_and(|s| s >= 500) {
        ErrorClass::Retryable
    } else {
        ErrorClass::Terminal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified() {
        assert_eq!(
            classify("RequestLimitExceeded", Some(503)),
            ErrorClass::Retryable
        );
        assert_eq!(classify("Throttling", Some(400)), ErrorClass::Retryable);
        // A taken final snapshot name is cured by the next pass's new name.
        assert_eq!(
            classify("DBSnapshotAlreadyExists", Some(400)),
            ErrorClass::Retryable
        );
        assert_eq!(
            classify("SnapshotAlreadyExistsFault", Some(400)),
            ErrorClass::Retryable
        );
        assert_eq!(classify("SomethingNew", Some(502)), ErrorClass::Retryable);
        assert_eq!(
            classify("DependencyViolation", Some(400)),
            ErrorClass::DependencyNotReady
        );
        assert_eq!(
            classify("InvalidVpc.Range", Some(400)),
            ErrorClass::Terminal
        );
        assert_eq!(
            classify("VpcLimitExceeded", Some(400)),
            ErrorClass::Terminal
        );
        assert_eq!(
            classify("UnauthorizedOperation", Some(403)),
            ErrorClass::Terminal
        );
    }

    #[test]
    fn not_found_codes_are_recognised() {
        let e = AwsError::new(
            ErrorClass::Terminal,
            "DeleteVpc",
            "InvalidVpcID.NotFound",
            "gone",
        );
        assert!(e.is_not_found());
        let e = AwsError::new(
            ErrorClass::Terminal,
            "DeleteVpc",
            "InvalidParameterValue",
            "bad",
        );
        assert!(!e.is_not_found());
        let e = AwsError::new(
            ErrorClass::Terminal,
            "DeletePolicy",
            "ValidationError",
            "AutoScalingGroup name not found - AutoScalingGroup 'x' not found",
        );
        assert!(e.is_not_found(), "Auto Scaling's way of saying it");
    }
}
