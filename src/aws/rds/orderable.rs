//! What RDS can build in the region, for preflight: the engine versions
//! orderable with an instance class.

use crate::engine::AwsError;

use super::super::{AwsClients, sdk};

/// Engine versions of `engine` orderable as `class` in a VPC.
pub async fn versions(
    clients: &AwsClients,
    engine: &str,
    class: &str,
) -> Result<Vec<String>, AwsError> {
    let mut versions = Vec::new();
    let mut pages = clients
        .rds
        .describe_orderable_db_instance_options()
        .engine(engine)
        .db_instance_class(class)
        .vpc(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(sdk("DescribeOrderableDBInstanceOptions"))?;
        versions.extend(
            page.orderable_db_instance_options()
                .iter()
                .filter_map(|o| o.engine_version().map(String::from)),
        );
    }
    versions.sort();
    versions.dedup();
    Ok(versions)
}

/// Whether `wanted` (`17`, `16.4`) names one of `versions`: itself, or a
/// version under it (`17` is met by `17.2`).
pub fn offers(versions: &[String], wanted: &str) -> bool {
    let under = format!("{wanted}.");
    versions
        .iter()
        .any(|v| v == wanted || v.starts_with(&under))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_major_version_is_met_by_any_minor_under_it() {
        let versions = vec!["16.4".to_string(), "17.2".to_string()];
        assert!(offers(&versions, "17"));
        assert!(offers(&versions, "16.4"));
        assert!(!offers(&versions, "16.3"));
        assert!(!offers(&versions, "1"));
        assert!(!offers(&versions, "18"));
    }
}
