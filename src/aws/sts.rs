//! The account of the credentials, for ARNs stackops names before anything
//! of that account exists (the roles' permissions boundary). STS
//! `GetCallerIdentity` needs no permission: nothing in the IAM policy.

use crate::engine::AwsError;

use super::{AwsClients, missing, sdk};

/// The AWS account id the clients' credentials belong to.
pub async fn caller_account(clients: &AwsClients) -> Result<String, AwsError> {
    let identity = clients
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(sdk("GetCallerIdentity"))?;
    identity
        .account()
        .map(String::from)
        .ok_or_else(|| missing("GetCallerIdentity"))
}
