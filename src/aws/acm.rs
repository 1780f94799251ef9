//! ACM certificates, as preflight sees them: whether one exists in its
//! region and is issued. stackops never creates or changes a certificate.

use crate::engine::AwsError;

use super::{AwsClients, sdk};

/// The status of the certificate `arn` (e.g. `ISSUED`,
/// `PENDING_VALIDATION`, `EXPIRED`), asked in `region`; `None` when ACM
/// has no such certificate there.
pub async fn certificate_status(
    clients: &AwsClients,
    arn: &str,
    region: &str,
) -> Result<Option<String>, AwsError> {
    let config = clients
        .acm
        .config()
        .to_builder()
        .region(aws_types::region::Region::new(region.to_string()))
        .build();
    let acm = aws_sdk_acm::Client::from_conf(config);
    match acm.describe_certificate().certificate_arn(arn).send().await {
        Ok(answer) => Ok(Some(
            answer
                .certificate()
                .and_then(|c| c.status())
                .map_or_else(|| "UNKNOWN".to_string(), |s| s.as_str().to_string()),
        )),
        Err(e) => {
            let error = sdk("DescribeCertificate")(e);
            if error.is_not_found() {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}
