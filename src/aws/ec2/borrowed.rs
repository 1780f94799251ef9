//! A VPC and subnets the stack builds in but did not create (a network
//! team's). They carry no stack tag, so they are found by the ids the spec
//! names (`Context::borrowed`), and nothing here changes or deletes them:
//! the stack's resources only read their ids.

use aws_sdk_ec2::types::Vpc as AwsVpc;

use super::{filter, subnets_by_id};

use crate::aws::prelude::*;

pub struct BorrowedVpcKind;
pub static BORROWED_VPC: BorrowedVpcKind = BorrowedVpcKind;
pub struct BorrowedSubnetKind;
pub static BORROWED_SUBNET: BorrowedSubnetKind = BorrowedSubnetKind;

/// An existing VPC or subnet, by id.
pub struct Borrowed {
    kind: Kind,
    what: &'static str,
    id: String,
}

impl Borrowed {
    pub fn vpc(id: impl Into<String>) -> Self {
        Self {
            kind: &BORROWED_VPC,
            what: "VPC",
            id: id.into(),
        }
    }

    pub fn subnet(id: impl Into<String>) -> Self {
        Self {
            kind: &BORROWED_SUBNET,
            what: "subnet",
            id: id.into(),
        }
    }
}

/// The borrowed ids of one resource type (`vpc-`, `subnet-`), with the
/// node key each one is.
fn borrowed<'a>(cx: &'a Context, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
    cx.borrowed
        .iter()
        .filter(move |(_, id)| id.starts_with(prefix))
        .map(|(key, id)| (key.as_str(), id.as_str()))
}

fn found(key: &str, id: &str, outputs: Fields) -> Observed {
    Observed {
        component: key.to_string(),
        id: id.to_string(),
        arn: None,
        fields: Fields::new(),
        outputs,
        status: Status::Ready,
    }
}

fn never_deleted(what: &str) -> Deletion {
    Deletion::Retained {
        message: format!("{what} existed before the stack: it is left as it was"),
        keep: Vec::new(),
    }
}

/// The error of a pass that needs a borrowed resource AWS no longer has.
fn gone(what: &str, id: &str) -> AwsError {
    AwsError::new(
        ErrorClass::Terminal,
        "resolve",
        "ExistingNetworkGone",
        format!(
            "{what} {id} named in spec.network.existing does not exist; the stack does not \
             create a network it was told exists"
        ),
    )
}

#[async_trait]
impl KindOps<AwsClients> for BorrowedVpcKind {
    fn name(&self) -> &'static str {
        "ExistingVPC"
    }

    fn rank(&self) -> u8 {
        0
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let wanted: Vec<(&str, &str)> = borrowed(cx, "vpc-").collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let vpcs: Vec<AwsVpc> = cx
            .clients
            .ec2
            .describe_vpcs()
            .filters(filter("vpc-id", wanted.iter().map(|(_, id)| *id)))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk("DescribeVpcs"))?;
        Ok(wanted
            .iter()
            .filter(|(_, id)| vpcs.iter().any(|v| v.vpc_id() == Some(id)))
            .map(|(key, id)| found(key, id, id_outputs(id)))
            .collect())
    }

    async fn delete(&self, _cx: &Context, _observed: &Observed) -> Result<Deletion, AwsError> {
        Ok(never_deleted("the VPC"))
    }
}

#[async_trait]
impl KindOps<AwsClients> for BorrowedSubnetKind {
    fn name(&self) -> &'static str {
        "ExistingSubnet"
    }

    fn rank(&self) -> u8 {
        1
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let wanted: Vec<(&str, &str)> = borrowed(cx, "subnet-").collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let subnets = subnets_by_id(&cx.clients, wanted.iter().map(|(_, id)| *id)).await?;
        Ok(wanted
            .iter()
            .filter_map(|(key, id)| {
                let subnet = subnets.iter().find(|s| s.subnet_id() == Some(id))?;
                let zone = subnet.availability_zone().unwrap_or_default();
                let outputs = Fields::from([
                    ("id".to_string(), id.to_string()),
                    ("zone".to_string(), zone.to_string()),
                ]);
                Some(found(key, id, outputs))
            })
            .collect())
    }

    async fn delete(&self, _cx: &Context, _observed: &Observed) -> Result<Deletion, AwsError> {
        Ok(never_deleted("the subnet"))
    }
}

/// Nothing to build or change: what exists is used as it is.
#[async_trait]
impl Resource<AwsClients> for Borrowed {
    fn kind(&self) -> Kind {
        self.kind
    }

    fn desired(&self, _key: &str, _cx: &Context, _inputs: &Inputs) -> Fields {
        Fields::new()
    }

    fn create_calls(&self) -> Vec<&'static str> {
        Vec::new()
    }

    async fn create(
        &self,
        _key: &str,
        _cx: &Context,
        _inputs: &Inputs,
    ) -> Result<Observed, AwsError> {
        Err(gone(self.what, &self.id))
    }

    async fn update(
        &self,
        _key: &str,
        _cx: &Context,
        _inputs: &Inputs,
        _current: &Observed,
        _changes: &[Change],
    ) -> Result<(), AwsError> {
        Ok(())
    }
}
