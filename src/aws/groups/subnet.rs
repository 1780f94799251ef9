//! A subnet group over the stack's data subnets, found by its deterministic
//! name (neither service filters subnet groups by tag).

use std::marker::PhantomData;

use crate::aws::prelude::*;

/// One service's subnet group calls.
#[async_trait]
pub trait SubnetGroupApi: Send + Sync + Sized + 'static {
    /// Kind name, as status and metrics show it.
    const KIND: &'static str;
    /// Node key of the stack's one subnet group.
    const KEY: &'static str;
    /// The operation `create` calls.
    const CREATE: &'static str;

    /// The kind, for `Resource::kind`.
    fn kind() -> &'static SubnetGroupKind<Self>;
    /// The group's deterministic name.
    fn name(cx: &Context) -> String;
    /// The group named `name`: its ARN and subnet ids, `None` when absent.
    async fn describe(
        cx: &Context,
        name: &str,
    ) -> Result<Option<(Option<String>, Vec<String>)>, AwsError>;
    /// Creates it, tagged as node `key`.
    async fn create(
        cx: &Context,
        key: &str,
        name: &str,
        description: String,
        subnets: Vec<String>,
    ) -> Result<(), AwsError>;
    async fn modify(cx: &Context, name: &str, subnets: Vec<String>) -> Result<(), AwsError>;
    /// Deletes it (an error when it is gone already).
    async fn delete(cx: &Context, name: &str) -> Result<(), AwsError>;
}

pub struct SubnetGroupKind<A>(PhantomData<A>);

impl<A> SubnetGroupKind<A> {
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<A> Default for SubnetGroupKind<A> {
    fn default() -> Self {
        Self::new()
    }
}

/// A subnet group of the subnet nodes `subnets`.
pub struct SubnetGroup<A> {
    pub subnets: Vec<String>,
    service: PhantomData<A>,
}

impl<A> SubnetGroup<A> {
    pub fn new(subnets: Vec<String>) -> Self {
        Self {
            subnets,
            service: PhantomData,
        }
    }
}

fn observed(key: &str, name: &str, arn: Option<String>, subnets: String) -> Observed {
    Observed {
        component: key.into(),
        id: name.to_string(),
        arn,
        fields: Fields::from([("subnets".to_string(), subnets)]),
        outputs: id_outputs(name),
        status: Status::Ready,
    }
}

#[async_trait]
impl<A: SubnetGroupApi> KindOps<AwsClients> for SubnetGroupKind<A> {
    fn name(&self) -> &'static str {
        A::KIND
    }

    fn rank(&self) -> u8 {
        2
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let name = A::name(cx);
        Ok(A::describe(cx, &name)
            .await?
            .into_iter()
            .map(|(arn, subnets)| observed(A::KEY, &name, arn, set_field(subnets)))
            .collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        A::delete(cx, &observed.id).await.deleted()
    }
}

#[async_trait]
impl<A: SubnetGroupApi> Resource<AwsClients> for SubnetGroup<A> {
    fn kind(&self) -> Kind {
        A::kind()
    }

    fn desired(&self, _key: &str, _cx: &Context, inputs: &Inputs) -> Fields {
        Fields::from([(
            "subnets".to_string(),
            set_field(self.subnets.iter().map(|s| inputs.get(s, "id"))),
        )])
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec![A::CREATE]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let name = A::name(cx);
        let subnets = self
            .subnets
            .iter()
            .map(|s| inputs.require(s, "id"))
            .collect::<Result<Vec<_>, _>>()?;
        let description = format!("Managed by stackops for {}", cx.identity.stack_tag());
        A::create(cx, key, &name, description, subnets).await?;
        let fields = self.desired(key, cx, inputs);
        Ok(observed(key, &name, None, fields["subnets"].clone()))
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        _inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        let Some(change) = changes.at("subnets") else {
            return Ok(());
        };
        let subnets = set_items(&change.to)
            .into_iter()
            .map(String::from)
            .collect();
        A::modify(cx, &current.id, subnets).await
    }
}
