//! Everything one pass over one stack needs: who the stack is and the AWS
//! clients (whose calls are counted for this pass).

use std::collections::BTreeMap;

use crate::api::common::DeletionPolicy;
use crate::aws::AwsClients;
use crate::blueprint::naming::{self, NameRule, TAG_COMPONENT, TAG_STACK, TAG_UID};

use super::resource::Fields;

/// The identity every AWS resource of a stack carries in its tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackIdentity {
    pub namespace: String,
    pub name: String,
    /// The custom resource's uid (the CLI derives a stable one).
    pub uid: String,
    /// User tags from the spec, put on every resource.
    pub extra_tags: BTreeMap<String, String>,
}

impl StackIdentity {
    /// Value of the `stackops.io/stack` tag.
    pub fn stack_tag(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// All tags of the resource for node `component`, identity last so user
    /// tags can never override it.
    pub fn tags(&self, component: &str) -> Vec<(String, String)> {
        let mut tags: Vec<(String, String)> = self
            .extra_tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        tags.push((
            "Name".into(),
            format!("{}-{}", self.name, component.replace('/', "-")),
        ));
        tags.push((TAG_STACK.into(), self.stack_tag()));
        tags.push((TAG_UID.into(), self.uid.clone()));
        tags.push((TAG_COMPONENT.into(), component.into()));
        tags
    }

    /// The tags as comparable fields (`tag:<key>`), for drift detection.
    pub fn tag_fields(&self, component: &str) -> Fields {
        self.tags(component)
            .into_iter()
            .map(|(k, v)| (format!("tag:{k}"), v))
            .collect()
    }

    /// A deterministic, length-safe AWS name for one of the stack's resources.
    pub fn resource_name(&self, suffix: &str, rule: NameRule) -> String {
        naming::resource_name(&self.name, &self.uid, suffix, rule)
    }
}

/// What the spec says about deleting data, when teardown has the spec.
/// Teardown otherwise works from AWS alone: the database's own deletion
/// protection flag and its `stackops.io/deletion-policy` tag.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataIntent {
    /// `spec.database.deletionProtection`: false lets teardown turn AWS's
    /// flag off, so a protected database can be released by editing the
    /// spec of a stack already being deleted.
    pub database_protection: Option<bool>,
    /// `spec.database.deletionPolicy`, over the tag.
    pub database_policy: Option<DeletionPolicy>,
    /// `spec.cache.deletionPolicy`; without the spec, a final snapshot.
    pub cache_policy: Option<DeletionPolicy>,
    /// Each bucket's deletion policy, by node key, over the bucket's tag.
    pub bucket_policies: BTreeMap<String, DeletionPolicy>,
}

/// One pass's view of the world.
#[derive(Clone, Debug)]
pub struct Context {
    pub identity: StackIdentity,
    pub region: String,
    pub clients: AwsClients,
    pub data: DataIntent,
}

impl Context {
    pub fn new(identity: StackIdentity, region: impl Into<String>, clients: AwsClients) -> Self {
        Self {
            identity,
            region: region.into(),
            clients,
            data: DataIntent::default(),
        }
    }

    /// The same context, with the spec's word on deleting data.
    pub fn with_data_intent(mut self, data: DataIntent) -> Self {
        self.data = data;
        self
    }
}
