//! Rolling the servers onto a new launch template version with an instance
//! refresh. The refresh carries the new version as its desired
//! configuration: AWS moves the group to it when the refresh succeeds, so
//! until then the group still shows the old version, the group node stays
//! changed, and each pass looks at the refresh instead of starting another.

use aws_sdk_autoscaling::types::{
    DesiredConfiguration, InstanceRefresh, InstanceRefreshStatus, LaunchTemplateSpecification,
    MixedInstancesPolicy, RefreshPreferences,
};

use crate::aws::prelude::*;

/// How the refresh replaces servers.
pub struct Preferences {
    /// Share of capacity kept in service while servers are replaced.
    pub min_healthy_percent: i32,
    /// Seconds a new server gets before it counts as healthy capacity.
    pub warmup_seconds: i32,
}

/// Brings group `name` to `template` (inside `policy` for a group that
/// buys Spot: a refresh must carry the group's whole policy): reports the refresh already doing so
/// (as a retryable error carrying its progress), cancels one heading
/// elsewhere, or starts one and says so.
pub async fn roll_to(
    cx: &Context,
    name: &str,
    template: LaunchTemplateSpecification,
    policy: Option<MixedInstancesPolicy>,
    preferences: &Preferences,
) -> Result<String, AwsError> {
    match latest(cx, name).await? {
        Some(refresh) if is_active(&refresh) => {
            if targets(&refresh, &template) {
                Err(in_progress(&refresh, &template))
            } else {
                cancel(cx, name).await?;
                Err(AwsError::new(
                    ErrorClass::DependencyNotReady,
                    "InstanceRefresh",
                    "Superseded",
                    "cancelling the instance refresh to an older launch template version; \
                     the new one starts once it has stopped",
                ))
            }
        }
        Some(refresh) if targets(&refresh, &template) && has_failed(&refresh) => {
            Err(failed(&refresh, &template))
        }
        // Finished since this pass observed the group: the next pass sees
        // the new version.
        Some(refresh)
            if targets(&refresh, &template)
                && refresh.status() == Some(&InstanceRefreshStatus::Successful) =>
        {
            Err(AwsError::new(
                ErrorClass::DependencyNotReady,
                "InstanceRefresh",
                "Finished",
                format!(
                    "{}; confirming the group's version",
                    describe(&refresh, &template)
                ),
            ))
        }
        _ => start(cx, name, template, policy, preferences).await,
    }
}

async fn latest(cx: &Context, name: &str) -> Result<Option<InstanceRefresh>, AwsError> {
    let found = cx
        .clients
        .autoscaling
        .describe_instance_refreshes()
        .auto_scaling_group_name(name)
        .max_records(1)
        .send()
        .await
        .map_err(sdk("DescribeInstanceRefreshes"))?;
    Ok(found.instance_refreshes().first().cloned())
}

async fn start(
    cx: &Context,
    name: &str,
    template: LaunchTemplateSpecification,
    policy: Option<MixedInstancesPolicy>,
    preferences: &Preferences,
) -> Result<String, AwsError> {
    let desired = match policy {
        Some(policy) => DesiredConfiguration::builder().mixed_instances_policy(policy),
        None => DesiredConfiguration::builder().launch_template(template.clone()),
    };
    let started = cx
        .clients
        .autoscaling
        .start_instance_refresh()
        .auto_scaling_group_name(name)
        .desired_configuration(desired.build())
        .preferences(
            RefreshPreferences::builder()
                .min_healthy_percentage(preferences.min_healthy_percent)
                .instance_warmup(preferences.warmup_seconds)
                // Servers already on the new version stay; a failed
                // refresh puts the old version back.
                .skip_matching(true)
                .auto_rollback(true)
                .build(),
        )
        .send()
        .await
        .map_err(sdk("StartInstanceRefresh"))?;
    let id = started.instance_refresh_id().unwrap_or_default();
    let version = template.version().unwrap_or_default();
    tracing::info!(
        group = name,
        refresh = id,
        version,
        "instance refresh started"
    );
    Ok(format!(
        "instance refresh {id} started: replacing servers with launch template version {version}"
    ))
}

async fn cancel(cx: &Context, name: &str) -> Result<(), AwsError> {
    let cancelled = cx
        .clients
        .autoscaling
        .cancel_instance_refresh()
        .auto_scaling_group_name(name)
        .send()
        .await
        .map_err(sdk("CancelInstanceRefresh"));
    match cancelled {
        Err(e) if e.code != "ActiveInstanceRefreshNotFound" => Err(e),
        _ => Ok(()),
    }
}

fn is_active(refresh: &InstanceRefresh) -> bool {
    matches!(
        refresh.status(),
        Some(
            InstanceRefreshStatus::Pending
                | InstanceRefreshStatus::InProgress
                | InstanceRefreshStatus::Cancelling
                | InstanceRefreshStatus::RollbackInProgress
                | InstanceRefreshStatus::Baking
        )
    )
}

fn has_failed(refresh: &InstanceRefresh) -> bool {
    matches!(
        refresh.status(),
        Some(
            InstanceRefreshStatus::Failed
                | InstanceRefreshStatus::Cancelled
                | InstanceRefreshStatus::RollbackSuccessful
                | InstanceRefreshStatus::RollbackFailed
        )
    )
}

/// Whether `refresh` moves the group to `template`.
fn targets(refresh: &InstanceRefresh, template: &LaunchTemplateSpecification) -> bool {
    let desired = refresh.desired_configuration();
    desired
        .and_then(|d| d.launch_template())
        .or_else(|| {
            desired?
                .mixed_instances_policy()?
                .launch_template()?
                .launch_template_specification()
        })
        .is_some_and(|t| {
            t.launch_template_id() == template.launch_template_id()
                && t.version() == template.version()
        })
}

fn describe(refresh: &InstanceRefresh, template: &LaunchTemplateSpecification) -> String {
    format!(
        "instance refresh {} to launch template version {}: {}",
        refresh.instance_refresh_id().unwrap_or_default(),
        template.version().unwrap_or_default(),
        refresh.status().map(|s| s.as_str()).unwrap_or("unknown"),
    )
}

fn in_progress(refresh: &InstanceRefresh, template: &LaunchTemplateSpecification) -> AwsError {
    AwsError::new(
        ErrorClass::DependencyNotReady,
        "InstanceRefresh",
        "InProgress",
        format!(
            "{}, {}% done, {} servers to replace",
            describe(refresh, template),
            refresh.percentage_complete().unwrap_or(0),
            refresh.instances_to_update().unwrap_or(0)
        ),
    )
}

fn failed(refresh: &InstanceRefresh, template: &LaunchTemplateSpecification) -> AwsError {
    AwsError::new(
        ErrorClass::Terminal,
        "InstanceRefresh",
        "RefreshFailed",
        format!(
            "{} ({}); the servers stay on the previous version. stackops does not retry \
             the same version: fix the cause and change spec.app, or start a refresh by hand",
            describe(refresh, template),
            refresh.status_reason().unwrap_or("no reason given"),
        ),
    )
}
