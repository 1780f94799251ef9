//! Sets of named members under the stack's Auto Scaling group: its scaling
//! policies and its scheduled actions. Neither carries tags, so both are
//! found by the group's name, and the members stackops owns are the ones
//! named `stackops-<stack hash>-*`; others are left alone. One resource
//! stands for the whole set: a field per member (`<member>:<name>`) and the
//! list of names. Members named by an earlier release (`stackops-<name>`)
//! are listed as `legacy` and deleted by the next update.

use std::marker::PhantomData;

use crate::aws::prelude::*;

use super::{LEGACY_PREFIX, group_name, owned_prefix};

/// One kind of member: how to list, write and delete members of a group.
#[async_trait]
pub trait MemberSet: Send + Sync + Sized + 'static {
    /// Kind name, as status and metrics show it.
    const KIND: &'static str;
    /// Node key of the set.
    const KEY: &'static str;
    /// Field prefix of one member (`policy`, `action`).
    const MEMBER: &'static str;
    /// Field listing the members' names (`policies`, `actions`).
    const LIST: &'static str;
    /// The operation `put` calls (`PutScalingPolicy`, ...).
    const PUT: &'static str;

    /// The kind, for `Resource::kind`.
    fn kind() -> &'static MembersKind<Self>;
    /// Every member of `group`: full name and canonical value.
    async fn list(cx: &Context, group: &str) -> Result<Vec<(String, String)>, AwsError>;
    /// Deletes member `name` (full name) of `group`.
    async fn delete(cx: &Context, group: &str, name: &str) -> Result<(), AwsError>;

    /// The group node the set belongs to.
    fn group_node(&self) -> &str;
    /// Wanted members: name (without the owned prefix) and canonical value.
    fn wanted(&self, inputs: &Inputs) -> Vec<(String, String)>;
    /// Creates or overwrites member `name` (full name) as wanted.
    async fn put(
        &self,
        cx: &Context,
        inputs: &Inputs,
        short: &str,
        name: &str,
    ) -> Result<(), AwsError>;
}

pub struct MembersKind<S>(PhantomData<S>);

impl<S> MembersKind<S> {
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<S> Default for MembersKind<S> {
    fn default() -> Self {
        Self::new()
    }
}

fn member_field<S: MemberSet>(name: &str) -> String {
    format!("{}:{name}", S::MEMBER)
}

fn owned(cx: &Context, name: &str) -> String {
    format!("{}{name}", owned_prefix(cx))
}

/// Field listing members named by an earlier release, by full name.
const LEGACY: &str = "legacy";

/// The names listed in `fields`.
fn listed<S: MemberSet>(fields: &Fields) -> Vec<&str> {
    set_items(fields.get(S::LIST).map_or("", String::as_str))
}

async fn delete_member<S: MemberSet>(
    cx: &Context,
    group: &str,
    name: &str,
) -> Result<(), AwsError> {
    S::delete(cx, group, name).await.or_gone()
}

/// Deletes the legacy members listed in `fields`.
async fn delete_legacy<S: MemberSet>(
    cx: &Context,
    group: &str,
    fields: &Fields,
) -> Result<(), AwsError> {
    for name in set_items(fields.get(LEGACY).map_or("", String::as_str)) {
        delete_member::<S>(cx, group, name).await?;
    }
    Ok(())
}

#[async_trait]
impl<S: MemberSet> KindOps<AwsClients> for MembersKind<S> {
    fn name(&self) -> &'static str {
        S::KIND
    }

    fn rank(&self) -> u8 {
        5
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let group = group_name(cx);
        let members = S::list(cx, &group).await.found()?.unwrap_or_default();
        let prefix = owned_prefix(cx);
        let mut fields = Fields::new();
        let (mut names, mut legacy) = (Vec::new(), Vec::new());
        for (name, value) in members {
            if let Some(short) = name.strip_prefix(&prefix) {
                fields.insert(member_field::<S>(short), value);
                names.push(short.to_string());
            } else if name.starts_with(LEGACY_PREFIX) {
                // The group is this stack's alone: a `stackops-` name not
                // under this stack's prefix was written by an earlier release.
                legacy.push(name);
            }
        }
        if names.is_empty() && legacy.is_empty() {
            return Ok(Vec::new());
        }
        fields.insert(S::LIST.into(), set_field(names));
        fields.insert(LEGACY.into(), set_field(legacy));
        Ok(vec![created(S::KEY, &group, fields, Fields::new())])
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        for name in listed::<S>(&observed.fields) {
            delete_member::<S>(cx, &observed.id, &owned(cx, name)).await?;
        }
        delete_legacy::<S>(cx, &observed.id, &observed.fields).await?;
        Ok(Deletion::Done)
    }
}

#[async_trait]
impl<S: MemberSet> Resource<AwsClients> for S {
    fn kind(&self) -> Kind {
        S::kind()
    }

    fn desired(&self, _key: &str, _cx: &Context, inputs: &Inputs) -> Fields {
        let wanted = self.wanted(inputs);
        let mut fields: Fields = wanted
            .iter()
            .map(|(name, value)| (member_field::<S>(name), value.clone()))
            .collect();
        fields.insert(
            S::LIST.into(),
            set_field(wanted.iter().map(|(name, _)| name.as_str())),
        );
        fields.insert(LEGACY.into(), String::new());
        fields
    }

    /// One put per member. How many members there are is the spec's
    /// business alone: the inputs only fill in their values.
    fn create_calls(&self) -> Vec<&'static str> {
        vec![S::PUT; self.wanted(&Inputs::default()).len()]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        inputs.require(self.group_node(), "id")?;
        for (name, _) in self.wanted(inputs) {
            self.put(cx, inputs, &name, &owned(cx, &name)).await?;
        }
        let fields = self.desired(key, cx, inputs);
        Ok(created(key, &group_name(cx), fields, Fields::new()))
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        let wanted = self.wanted(inputs);
        for (name, _) in &wanted {
            if changes.touches(&member_field::<S>(name)) {
                self.put(cx, inputs, name, &owned(cx, name)).await?;
            }
        }
        for name in listed::<S>(&current.fields) {
            if !wanted.iter().any(|(w, _)| w == name) {
                delete_member::<S>(cx, &current.id, &owned(cx, name)).await?;
            }
        }
        delete_legacy::<S>(cx, &current.id, &current.fields).await?;
        Ok(())
    }
}
