//! Service Quotas: the account's applied value of one quota, for preflight.

use crate::engine::AwsError;

use super::{AwsClients, sdk};

/// The applied value of quota `code` of `service` (e.g. `vpc`,
/// `L-F678F1CE`); `None` when Service Quotas does not know it.
pub async fn applied(
    clients: &AwsClients,
    service: &str,
    code: &str,
) -> Result<Option<f64>, AwsError> {
    match clients
        .quotas
        .get_service_quota()
        .service_code(service)
        .quota_code(code)
        .send()
        .await
    {
        Ok(answer) => Ok(answer.quota().and_then(|q| q.value())),
        Err(e) => {
            let error = sdk("GetServiceQuota")(e);
            if error.is_not_found() {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}
