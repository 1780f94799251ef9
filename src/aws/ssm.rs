//! The stack's outputs in SSM Parameter Store, where its servers read them:
//! String parameters under `/stackops/<stack hash>/<stack name>/` (endpoints,
//! ports, names and the ARNs of secrets, never a secret's value). One
//! resource stands for the whole set, like the Auto Scaling member sets: a
//! field per parameter (`param:<name>`) and the list of names. One recursive
//! path read (GetParametersByPath) finds them all; a value changed out of
//! band is put back with an overwrite of that parameter alone; parameters
//! no longer wanted are deleted in batches.

use aws_sdk_ssm::types::{Parameter as AwsParameter, ParameterType, Tag};

use crate::aws::prelude::*;
use crate::identity::short_hash;

pub struct ParametersKind;
pub static PARAMETERS: ParametersKind = ParametersKind;

/// Every SSM kind.
pub const KINDS: &[Kind] = &[&PARAMETERS];

/// Node key of the stack's parameter set (it carries no tag of its own to
/// name it: one set per stack, found by its path).
pub const PARAMETERS_KEY: &str = "app/parameters";

/// Field listing the parameters' names (relative to the path).
const NAMES: &str = "names";

/// Most names one DeleteParameters call takes.
const DELETE_BATCH: usize = 10;

/// One parameter: its name under the stack's path and where its value
/// comes from, `(node, output field)` pairs joined with commas (the read
/// replicas' endpoints in one parameter). A parameter whose sources have
/// no value is not written.
#[derive(Clone, Debug)]
pub struct Parameter {
    pub name: String,
    pub from: Vec<(String, String)>,
}

/// The stack's parameters.
pub struct Parameters {
    pub parameters: Vec<Parameter>,
}

/// `/stackops/<stack hash>/<stack name>`: the stack's parameter path. The
/// hash keeps stacks of one name (in two namespaces) apart; the name is for
/// people reading the console. Kubernetes names use only characters SSM
/// accepts in a parameter name.
pub fn path(identity: &StackIdentity) -> String {
    format!("/stackops/{}/{}", short_hash(&identity.uid), identity.name)
}

fn param_field(name: &str) -> String {
    format!("param:{name}")
}

impl Parameters {
    /// The wanted parameters with a value: name and value.
    fn wanted(&self, inputs: &Inputs) -> Vec<(String, String)> {
        self.parameters
            .iter()
            .filter_map(|p| {
                let values: Vec<String> = p
                    .from
                    .iter()
                    .filter_map(|(node, field)| inputs.require(node, field).ok())
                    .filter(|v| !v.is_empty())
                    .collect();
                (!values.is_empty()).then(|| (p.name.clone(), values.join(",")))
            })
            .collect()
    }

    async fn put(
        &self,
        cx: &Context,
        key: &str,
        name: &str,
        value: &str,
        exists: bool,
    ) -> Result<(), AwsError> {
        let mut put = cx
            .clients
            .ssm
            .put_parameter()
            .name(format!("{}/{name}", path(&cx.identity)))
            .value(value)
            .r#type(ParameterType::String);
        // AWS refuses tags with Overwrite: a new parameter is tagged in the
        // call that makes it, an existing one keeps its tags.
        if exists {
            put = put.overwrite(true);
        } else {
            put = put.description(format!(
                "Managed by stackops for {}",
                cx.identity.stack_tag()
            ));
            for (k, v) in cx.identity.tags(key) {
                put = put.tags(
                    Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .map_err(built_wrongly("PutParameter"))?,
                );
            }
        }
        put.send().await.map_err(sdk("PutParameter"))?;
        Ok(())
    }
}

/// Deletes the parameters `names` (relative to the stack's path), ten per call.
async fn delete_names(cx: &Context, names: &[&str]) -> Result<(), AwsError> {
    let base = path(&cx.identity);
    for batch in names.chunks(DELETE_BATCH) {
        // Names already gone come back as invalid, not as an error.
        cx.clients
            .ssm
            .delete_parameters()
            .set_names(Some(batch.iter().map(|n| format!("{base}/{n}")).collect()))
            .send()
            .await
            .map_err(sdk("DeleteParameters"))?;
    }
    Ok(())
}

fn outputs(cx: &Context, arn: Option<String>) -> Fields {
    let path = path(&cx.identity);
    let mut outputs = Fields::from([("id".to_string(), path.clone()), ("path".into(), path)]);
    if let Some(arn) = arn {
        outputs.insert("arn".into(), arn);
    }
    outputs
}

/// The set as found: `None` when the stack has no parameter.
fn observed(cx: &Context, found: &[AwsParameter]) -> Option<Observed> {
    let base = format!("{}/", path(&cx.identity));
    let mut fields = Fields::new();
    let mut names = Vec::new();
    let mut arn = None;
    for parameter in found {
        let Some(name) = parameter.name().and_then(|n| n.strip_prefix(&base)) else {
            continue;
        };
        // A type changed out of band reads as a different value: the
        // overwrite puts back a String.
        let value = match parameter.r#type() {
            Some(ParameterType::String) => parameter.value().unwrap_or_default().to_string(),
            other => format!("({})", other.map_or("?", |t| t.as_str())),
        };
        if arn.is_none() {
            // The path's ARN, from a parameter's: region and account as AWS
            // tells them.
            arn = parameter
                .arn()
                .and_then(|a| a.strip_suffix(&format!("/{name}")))
                .map(String::from);
        }
        fields.insert(param_field(name), value);
        names.push(name.to_string());
    }
    if names.is_empty() {
        return None;
    }
    fields.insert(NAMES.into(), set_field(names));
    Some(Observed {
        component: PARAMETERS_KEY.into(),
        id: path(&cx.identity),
        arn: arn.clone(),
        fields,
        outputs: outputs(cx, arn),
        status: Status::Ready,
    })
}

async fn read(cx: &Context) -> Result<Vec<AwsParameter>, AwsError> {
    let pages: Vec<_> = cx
        .clients
        .ssm
        .get_parameters_by_path()
        .path(path(&cx.identity))
        .recursive(true)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(sdk("GetParametersByPath"))?;
    Ok(pages
        .iter()
        .flat_map(|page| page.parameters())
        .cloned()
        .collect())
}

#[async_trait]
impl KindOps<AwsClients> for ParametersKind {
    fn name(&self) -> &'static str {
        "SSMParameters"
    }

    fn rank(&self) -> u8 {
        // Nothing depends on them: among the first to go.
        6
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        Ok(observed(cx, &read(cx).await?).into_iter().collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let names = set_items(observed.fields.get(NAMES).map_or("", String::as_str));
        delete_names(cx, &names).await?;
        Ok(Deletion::Done)
    }
}

#[async_trait]
impl Resource<AwsClients> for Parameters {
    fn kind(&self) -> Kind {
        &PARAMETERS
    }

    fn desired(&self, _key: &str, _cx: &Context, inputs: &Inputs) -> Fields {
        let wanted = self.wanted(inputs);
        let mut fields: Fields = wanted
            .iter()
            .map(|(name, value)| (param_field(name), value.clone()))
            .collect();
        fields.insert(
            NAMES.into(),
            set_field(wanted.iter().map(|(name, _)| name.as_str())),
        );
        fields
    }

    /// One put per parameter, tagged in the call (a parameter whose source
    /// has no value yet is put by a later pass instead).
    fn create_calls(&self) -> Vec<&'static str> {
        self.parameters.iter().map(|_| "PutParameter").collect()
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let wanted = self.wanted(inputs);
        if wanted.is_empty() {
            return Err(missing("PutParameter"));
        }
        for (name, value) in &wanted {
            self.put(cx, key, name, value, false).await?;
        }
        // Read back once for the path's ARN (PutParameter does not return it).
        let found = read(cx).await?;
        let mut observed = observed(cx, &found).ok_or_else(|| missing("PutParameter"))?;
        observed.fields = self.desired(key, cx, inputs);
        Ok(observed)
    }

    async fn update(
        &self,
        key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        let listed = set_items(current.fields.get(NAMES).map_or("", String::as_str));
        for change in changes {
            let Some(name) = change.field.strip_prefix("param:") else {
                continue;
            };
            self.put(cx, key, name, &change.to, listed.contains(&name))
                .await?;
        }
        let wanted = self.wanted(inputs);
        let unwanted: Vec<&str> = listed
            .into_iter()
            .filter(|name| !wanted.iter().any(|(w, _)| w == name))
            .collect();
        if !unwanted.is_empty() {
            delete_names(cx, &unwanted).await?;
        }
        Ok(())
    }
}

/// Whether the public parameter `name` (an AMI's, under `/aws/service/`)
/// exists in the clients' region: preflight, before any write.
pub async fn public_parameter_exists(clients: &AwsClients, name: &str) -> Result<bool, AwsError> {
    match clients.ssm.get_parameter().name(name).send().await {
        Ok(_) => Ok(true),
        Err(e) => {
            let error = crate::aws::sdk("GetParameter")(e);
            if error.is_not_found() {
                Ok(false)
            } else {
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_holds_the_hash_and_the_name() {
        let identity = StackIdentity {
            namespace: "shop".into(),
            name: "web.prod".into(),
            uid: "uid-1".into(),
            extra_tags: Default::default(),
        };
        assert_eq!(
            path(&identity),
            format!("/stackops/{}/web.prod", short_hash("uid-1"))
        );
    }
}
