//! The application servers' launch template. A spec change adds a version
//! to the one template (never a new template); the Auto Scaling group pins
//! the version by number and rolls the fleet to it with an instance refresh.
//!
//! Observed state is the template's tags plus its latest version's data:
//! two describe calls per pass.

use aws_sdk_ec2::types::{
    LaunchTemplate as AwsLaunchTemplate, LaunchTemplateBlockDeviceMappingRequest,
    LaunchTemplateEbsBlockDeviceRequest, LaunchTemplateHttpTokensState,
    LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataEndpointState, LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData, ResourceType,
    ResponseLaunchTemplateData, Tag, VolumeType,
};
use sha2::{Digest, Sha256};

use super::{component, owned_filter, retag, tag_map, tag_spec};
use crate::aws::prelude::*;
use crate::identity::NameRule;

pub struct LaunchTemplateKind;
pub static LAUNCH_TEMPLATE: LaunchTemplateKind = LaunchTemplateKind;

/// Root device of Amazon Linux images (and of the default `amiParameter`).
const DEFAULT_ROOT_DEVICE: &str = "/dev/xvda";

/// Instance metadata: IMDSv2 only, unreachable from containers on the host.
const METADATA: &str = "tokens=required,hops=1";

/// Component tag of the instances and volumes launched from the template.
pub const SERVERS_COMPONENT: &str = "app/servers";

/// Servers of `instance_type` from `image` (an AMI id, or `resolve:ssm:`
/// and a public parameter), in security group node `security_group`, with
/// the instance profile node `instance_profile`.
pub struct LaunchTemplate {
    pub image: String,
    pub instance_type: String,
    pub security_group: String,
    pub instance_profile: String,
    pub user_data: Option<String>,
    pub root_volume_gib: i32,
}

/// Short digest of the user data: compared without ever being shown.
fn user_data_digest(script: &str) -> String {
    if script.is_empty() {
        return String::new();
    }
    let digest = Sha256::digest(script.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn root_volume(gib: i32) -> String {
    format!("gp3,{gib}GiB,encrypted")
}

/// The tags instances and volumes are launched with, as one field.
fn launch_tags(cx: &Context) -> String {
    set_field(
        cx.identity
            .tags(SERVERS_COMPONENT)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}")),
    )
}

/// The comparable fields of a version's launch data.
fn data_fields(data: &ResponseLaunchTemplateData) -> Fields {
    let user_data = data
        .user_data()
        .and_then(|encoded| aws_smithy_types::base64::decode(encoded).ok())
        .map(|bytes| user_data_digest(&String::from_utf8_lossy(&bytes)))
        .unwrap_or_default();
    let metadata = data.metadata_options().map_or(String::new(), |m| {
        format!(
            "tokens={},hops={}",
            m.http_tokens().map(|t| t.as_str()).unwrap_or_default(),
            m.http_put_response_hop_limit().unwrap_or_default()
        )
    });
    let root = data
        .block_device_mappings()
        .first()
        .and_then(|m| m.ebs())
        .map_or(String::new(), |ebs| {
            let kind = ebs.volume_type().map(|t| t.as_str()).unwrap_or_default();
            let size = ebs.volume_size().unwrap_or_default();
            let encrypted = if ebs.encrypted() == Some(true) {
                "encrypted"
            } else {
                "unencrypted"
            };
            format!("{kind},{size}GiB,{encrypted}")
        });
    let tags = data
        .tag_specifications()
        .iter()
        .find(|t| t.resource_type() == Some(&ResourceType::Instance))
        .map(|t| {
            set_field(t.tags().iter().map(|tag| {
                format!(
                    "{}={}",
                    tag.key().unwrap_or_default(),
                    tag.value().unwrap_or_default()
                )
            }))
        })
        .unwrap_or_default();
    Fields::from([
        ("image".into(), data.image_id().unwrap_or_default().into()),
        (
            "instanceType".into(),
            data.instance_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
        ),
        (
            "securityGroups".into(),
            set_field(data.security_group_ids().iter().map(String::as_str)),
        ),
        (
            "instanceProfile".into(),
            data.iam_instance_profile()
                .and_then(|p| p.arn())
                .unwrap_or_default()
                .into(),
        ),
        ("userData".into(), user_data),
        ("metadata".into(), metadata),
        ("rootVolume".into(), root),
        ("launchTags".into(), tags),
    ])
}

fn outputs(id: &str, version: i64) -> Fields {
    Fields::from([
        ("id".into(), id.to_string()),
        ("version".into(), version.to_string()),
    ])
}

impl LaunchTemplate {
    /// The launch data of a new version, for the dependencies' `inputs`.
    async fn data(
        &self,
        cx: &Context,
        inputs: &Inputs,
    ) -> Result<RequestLaunchTemplateData, AwsError> {
        let tags: Vec<Tag> = cx
            .identity
            .tags(SERVERS_COMPONENT)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let mut data = RequestLaunchTemplateData::builder()
            .image_id(&self.image)
            .instance_type(self.instance_type.as_str().into())
            .security_group_ids(inputs.require(&self.security_group, "id")?)
            .iam_instance_profile(
                LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                    .arn(inputs.require(&self.instance_profile, "arn")?)
                    .build(),
            )
            .metadata_options(
                LaunchTemplateInstanceMetadataOptionsRequest::builder()
                    .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::Enabled)
                    .http_tokens(LaunchTemplateHttpTokensState::Required)
                    .http_put_response_hop_limit(1)
                    .build(),
            )
            .block_device_mappings(
                LaunchTemplateBlockDeviceMappingRequest::builder()
                    .device_name(self.root_device(cx).await?)
                    .ebs(
                        LaunchTemplateEbsBlockDeviceRequest::builder()
                            .volume_type(VolumeType::Gp3)
                            .volume_size(self.root_volume_gib)
                            .encrypted(true)
                            .delete_on_termination(true)
                            .build(),
                    )
                    .build(),
            );
        for resource in [ResourceType::Instance, ResourceType::Volume] {
            data = data.tag_specifications(
                LaunchTemplateTagSpecificationRequest::builder()
                    .resource_type(resource)
                    .set_tags(Some(tags.clone()))
                    .build(),
            );
        }
        if let Some(script) = self.user_data.as_deref().filter(|s| !s.is_empty()) {
            data = data.user_data(aws_smithy_types::base64::encode(script));
        }
        Ok(data.build())
    }

    /// The root device name of the image: asked of EC2 for a pinned AMI
    /// (only when writing a version), the Amazon Linux one otherwise.
    async fn root_device(&self, cx: &Context) -> Result<String, AwsError> {
        if !self.image.starts_with("ami-") {
            return Ok(DEFAULT_ROOT_DEVICE.into());
        }
        let not_found = || {
            AwsError::new(
                ErrorClass::Terminal,
                "DescribeImages",
                "InvalidAMIID.NotFound",
                format!(
                    "spec.app.ami: image {} does not exist in {}",
                    self.image, cx.region
                ),
            )
        };
        let Some(images) = cx
            .clients
            .ec2
            .describe_images()
            .image_ids(&self.image)
            .send()
            .await
            .map_err(sdk("DescribeImages"))
            .found()?
        else {
            return Err(not_found());
        };
        let device = images
            .images()
            .first()
            .and_then(|i| i.root_device_name())
            .ok_or_else(not_found)?;
        Ok(device.to_string())
    }

    /// Adds a version with the desired data; returns its number.
    async fn add_version(&self, cx: &Context, id: &str, inputs: &Inputs) -> Result<i64, AwsError> {
        let created = cx
            .clients
            .ec2
            .create_launch_template_version()
            .launch_template_id(id)
            .launch_template_data(self.data(cx, inputs).await?)
            .send()
            .await
            .map_err(sdk("CreateLaunchTemplateVersion"))?;
        created
            .launch_template_version()
            .and_then(|v| v.version_number())
            .ok_or_else(|| missing("CreateLaunchTemplateVersion"))
    }
}

async fn observed(
    cx: &Context,
    template: &AwsLaunchTemplate,
) -> Result<Option<Observed>, AwsError> {
    let tags = tag_map(template.tags());
    let (Some(component), Some(id)) = (component(cx, &tags), template.launch_template_id()) else {
        return Ok(None);
    };
    let versions = cx
        .clients
        .ec2
        .describe_launch_template_versions()
        .launch_template_id(id)
        .versions("$Latest")
        .send()
        .await
        .map_err(sdk("DescribeLaunchTemplateVersions"))?;
    let latest = versions.launch_template_versions().first();
    let mut fields = tag_fields(&tags);
    if let Some(data) = latest.and_then(|v| v.launch_template_data()) {
        fields.extend(data_fields(data));
    }
    let version = latest
        .and_then(|v| v.version_number())
        .or(template.latest_version_number())
        .unwrap_or(1);
    Ok(Some(Observed {
        component,
        id: id.to_string(),
        arn: None,
        fields,
        outputs: outputs(id, version),
        status: Status::Ready,
    }))
}

#[async_trait]
impl KindOps<AwsClients> for LaunchTemplateKind {
    fn name(&self) -> &'static str {
        "LaunchTemplate"
    }

    fn rank(&self) -> u8 {
        3
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let templates = cx
            .clients
            .listed("ec2:DescribeLaunchTemplates", || async {
                cx.clients
                    .ec2
                    .describe_launch_templates()
                    .filters(owned_filter(cx))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeLaunchTemplates"))
            })
            .await?;
        let mut found = Vec::new();
        for template in templates.iter() {
            found.extend(observed(cx, template).await?);
        }
        Ok(found)
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let deleted = cx
            .clients
            .ec2
            .delete_launch_template()
            .launch_template_id(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteLaunchTemplate"));
        deleted.deleted()
    }
}

#[async_trait]
impl Resource<AwsClients> for LaunchTemplate {
    fn kind(&self) -> Kind {
        &LAUNCH_TEMPLATE
    }

    fn desired(&self, key: &str, cx: &Context, inputs: &Inputs) -> Fields {
        with_tags(
            cx,
            key,
            [
                ("image", self.image.clone()),
                ("instanceType", self.instance_type.clone()),
                ("securityGroups", inputs.get(&self.security_group, "id")),
                ("instanceProfile", inputs.get(&self.instance_profile, "arn")),
                (
                    "userData",
                    user_data_digest(self.user_data.as_deref().unwrap_or_default()),
                ),
                ("metadata", METADATA.to_string()),
                ("rootVolume", root_volume(self.root_volume_gib)),
                ("launchTags", launch_tags(cx)),
            ],
        )
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateLaunchTemplate"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let created = cx
            .clients
            .ec2
            .create_launch_template()
            .launch_template_name(cx.identity.resource_name("app", NameRule::Generic))
            .version_description("stackops")
            .launch_template_data(self.data(cx, inputs).await?)
            .tag_specifications(tag_spec(cx, ResourceType::LaunchTemplate, key))
            .send()
            .await
            .map_err(sdk("CreateLaunchTemplate"))?;
        let template = created
            .launch_template()
            .ok_or_else(|| missing("CreateLaunchTemplate"))?;
        let id = template
            .launch_template_id()
            .ok_or_else(|| missing("CreateLaunchTemplate"))?;
        Ok(Observed {
            component: key.into(),
            id: id.to_string(),
            arn: None,
            fields: self.desired(key, cx, inputs),
            outputs: outputs(id, template.latest_version_number().unwrap_or(1)),
            status: Status::Ready,
        })
    }

    async fn update(
        &self,
        key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        self.apply_update(key, cx, inputs, current, changes)
            .await
            .map(|_| ())
    }

    async fn apply_update(
        &self,
        _key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<Updated, AwsError> {
        retag(cx, &current.id, changes).await?;
        if changes.except_tags().next().is_none() {
            return Ok(Updated::default());
        }
        let version = self.add_version(cx, &current.id, inputs).await?;
        tracing::info!(template = %current.id, version, "new launch template version");
        Ok(Updated {
            outputs: Some(outputs(&current.id, version)),
            in_progress: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_is_compared_by_digest_only() {
        let digest = user_data_digest("#!/bin/sh\necho secret=hunter2\n");
        assert!(digest.starts_with("sha256:"));
        assert!(!digest.contains("hunter2"));
        assert_eq!(user_data_digest(""), "");
        assert_ne!(digest, user_data_digest("#!/bin/sh\n"));
    }
}
