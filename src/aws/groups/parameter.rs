//! A parameter group per engine family with the stack's parameters set. Its
//! description names the stack's uid (`aws::owned_description`): neither
//! service filters parameter groups by tag, and the description is how one
//! list call tells the stack's groups apart.

use std::marker::PhantomData;

use crate::aws::owned_description;
use crate::aws::prelude::*;

/// A parameter group as a list call returns it.
pub struct ParameterGroupInfo {
    pub name: String,
    pub family: String,
    pub arn: Option<String>,
    pub description: Option<String>,
}

/// One service's parameter group calls.
#[async_trait]
pub trait ParameterGroupApi: Send + Sync + Sized + 'static {
    /// Kind name, as status and metrics show it.
    const KIND: &'static str;
    /// The operations `create` and `set_parameters` call.
    const CREATE: &'static str;
    const SET_PARAMETERS: &'static str;

    /// The kind, for `Resource::kind`.
    fn kind() -> &'static ParameterGroupKind<Self>;
    /// Node key of the group of `family`.
    fn key(family: &str) -> String;
    /// The deterministic name of the stack's group of `family`.
    fn name(cx: &Context, family: &str) -> String;
    /// Every parameter group of the account and region.
    /// Every parameter group of the account (neither service filters them
    /// by tag); shared, parsed once, by every stack while reads are shared.
    async fn list(cx: &Context) -> Result<std::sync::Arc<Vec<ParameterGroupInfo>>, AwsError>;
    /// The parameters set on group `name` (source `user`), as `name=value`.
    async fn user_parameters(cx: &Context, name: &str) -> Result<Vec<String>, AwsError>;
    /// Creates group `name` of `family`, tagged as node `key`.
    async fn create(
        cx: &Context,
        key: &str,
        name: &str,
        family: &str,
        description: String,
    ) -> Result<(), AwsError>;
    async fn set_parameters(
        cx: &Context,
        name: &str,
        parameters: &[(String, String)],
    ) -> Result<(), AwsError>;
    /// Deletes it (an error when it is gone already).
    async fn delete(cx: &Context, name: &str) -> Result<(), AwsError>;
}

pub struct ParameterGroupKind<A>(PhantomData<A>);

impl<A> ParameterGroupKind<A> {
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<A> Default for ParameterGroupKind<A> {
    fn default() -> Self {
        Self::new()
    }
}

/// A group of `family` with `parameters` set (name, value).
pub struct ParameterGroup<A> {
    pub family: String,
    pub parameters: Vec<(String, String)>,
    service: PhantomData<A>,
}

impl<A> ParameterGroup<A> {
    pub fn new(family: impl Into<String>, parameters: Vec<(String, String)>) -> Self {
        Self {
            family: family.into(),
            parameters,
            service: PhantomData,
        }
    }

    fn wanted(&self) -> String {
        set_field(self.parameters.iter().map(|(k, v)| format!("{k}={v}")))
    }
}

#[async_trait]
impl<A: ParameterGroupApi> KindOps<AwsClients> for ParameterGroupKind<A> {
    fn name(&self) -> &'static str {
        A::KIND
    }

    fn rank(&self) -> u8 {
        1
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let ours = owned_description(cx);
        let mut found = Vec::new();
        for group in A::list(cx).await?.iter() {
            if group.description.as_deref() != Some(ours.as_str()) {
                continue;
            }
            let parameters = set_field(A::user_parameters(cx, &group.name).await?);
            found.push(Observed {
                component: A::key(&group.family),
                id: group.name.clone(),
                arn: group.arn.clone(),
                fields: Fields::from([
                    ("family".to_string(), group.family.clone()),
                    ("parameters".into(), parameters),
                ]),
                outputs: id_outputs(&group.name),
                status: Status::Ready,
            });
        }
        Ok(found)
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        A::delete(cx, &observed.id).await.deleted()
    }
}

#[async_trait]
impl<A: ParameterGroupApi> Resource<AwsClients> for ParameterGroup<A> {
    fn kind(&self) -> Kind {
        A::kind()
    }

    fn desired(&self, _key: &str, _cx: &Context, _inputs: &Inputs) -> Fields {
        Fields::from([
            ("family".to_string(), self.family.clone()),
            ("parameters".into(), self.wanted()),
        ])
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec![A::CREATE, A::SET_PARAMETERS]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let name = A::name(cx, &self.family);
        A::create(cx, key, &name, &self.family, owned_description(cx)).await?;
        // A crash here leaves the group with the defaults: the next pass
        // sees `parameters` differ and sets them.
        A::set_parameters(cx, &name, &self.parameters).await?;
        Ok(created(
            key,
            &name,
            self.desired(key, cx, inputs),
            id_outputs(&name),
        ))
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        _inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        if changes.touches("parameters") {
            A::set_parameters(cx, &current.id, &self.parameters).await?;
        }
        Ok(())
    }
}
