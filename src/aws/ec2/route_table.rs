//! Route tables with their routes and subnet associations. Routes to the
//! internet go through the internet gateway (public) or a NAT gateway
//! (private app subnets); data subnets get no route out at all. Routes the
//! S3 endpoint adds (prefix lists) belong to the endpoint, not compared here.

use aws_sdk_ec2::types::{ResourceType, RouteTable as AwsRouteTable};

use super::{component, owned_filter, retag, tag_map, tag_spec};
use crate::aws::prelude::*;

pub struct RouteTableKind;
pub static ROUTE_TABLE: RouteTableKind = RouteTableKind;

/// A route table of VPC node `vpc`: `routes` are (destination CIDR, target
/// node: internet or NAT gateway); `subnets` are subnet nodes associated.
pub struct RouteTable {
    pub vpc: String,
    pub routes: Vec<(String, String)>,
    pub subnets: Vec<String>,
}

fn observed(cx: &Context, table: &AwsRouteTable) -> Option<Observed> {
    let tags = tag_map(table.tags());
    let component = component(cx, &tags)?;
    let id = table.route_table_id()?.to_string();
    let routes = table.routes().iter().filter_map(|r| {
        let destination = r.destination_cidr_block()?;
        let target = r
            .nat_gateway_id()
            .or(r.gateway_id())
            .filter(|t| *t != "local")?;
        Some(format!("{destination}={target}"))
    });
    let associations: Vec<(&str, &str)> = table
        .associations()
        .iter()
        .filter(|a| !a.main().unwrap_or(false))
        .filter_map(|a| Some((a.subnet_id()?, a.route_table_association_id()?)))
        .collect();
    let mut fields = tag_fields(&tags);
    fields.insert("vpc".into(), table.vpc_id().unwrap_or_default().into());
    fields.insert("routes".into(), set_field(routes));
    fields.insert(
        "subnets".into(),
        set_field(associations.iter().map(|(s, _)| *s)),
    );
    let mut outputs = Fields::from([("id".to_string(), id.clone())]);
    outputs.extend(
        associations
            .iter()
            .map(|(s, a)| (format!("association:{s}"), a.to_string())),
    );
    Some(Observed {
        component,
        id,
        arn: None,
        fields,
        outputs,
        status: Status::Ready,
    })
}

#[async_trait]
impl KindOps<AwsClients> for RouteTableKind {
    fn name(&self) -> &'static str {
        "RouteTable"
    }

    fn rank(&self) -> u8 {
        3
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let tables = cx
            .clients
            .listed("ec2:DescribeRouteTables", || async {
                cx.clients
                    .ec2
                    .describe_route_tables()
                    .filters(owned_filter(cx))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeRouteTables"))
            })
            .await?;
        Ok(tables.iter().filter_map(|t| observed(cx, t)).collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        let ec2 = &cx.clients.ec2;
        for (key, association) in &observed.outputs {
            if key.starts_with("association:") {
                ec2.disassociate_route_table()
                    .association_id(association)
                    .send()
                    .await
                    .map_err(sdk("DisassociateRouteTable"))?;
            }
        }
        ec2.delete_route_table()
            .route_table_id(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteRouteTable"))?;
        Ok(Deletion::Done)
    }
}

impl RouteTable {
    fn routes(&self, inputs: &Inputs) -> Vec<(String, String)> {
        self.routes
            .iter()
            .map(|(destination, target)| (destination.clone(), inputs.get(target, "id")))
            .collect()
    }

    async fn create_route(
        cx: &Context,
        table: &str,
        destination: &str,
        target: &str,
        replace: bool,
    ) -> Result<(), AwsError> {
        let ec2 = &cx.clients.ec2;
        if replace {
            let call = ec2
                .replace_route()
                .route_table_id(table)
                .destination_cidr_block(destination);
            let call = if target.starts_with("nat-") {
                call.nat_gateway_id(target)
            } else {
                call.gateway_id(target)
            };
            call.send().await.map_err(sdk("ReplaceRoute"))?;
        } else {
            let call = ec2
                .create_route()
                .route_table_id(table)
                .destination_cidr_block(destination);
            let call = if target.starts_with("nat-") {
                call.nat_gateway_id(target)
            } else {
                call.gateway_id(target)
            };
            call.send().await.map_err(sdk("CreateRoute"))?;
        }
        Ok(())
    }

    async fn associate(cx: &Context, table: &str, subnet: &str) -> Result<(), AwsError> {
        cx.clients
            .ec2
            .associate_route_table()
            .route_table_id(table)
            .subnet_id(subnet)
            .send()
            .await
            .map_err(sdk("AssociateRouteTable"))?;
        Ok(())
    }
}

#[async_trait]
impl Resource<AwsClients> for RouteTable {
    fn kind(&self) -> Kind {
        &ROUTE_TABLE
    }

    fn desired(&self, key: &str, cx: &Context, inputs: &Inputs) -> Fields {
        with_tags(
            cx,
            key,
            [
                ("vpc", inputs.get(&self.vpc, "id")),
                (
                    "routes",
                    set_field(self.routes(inputs).iter().map(|(d, t)| format!("{d}={t}"))),
                ),
                (
                    "subnets",
                    set_field(self.subnets.iter().map(|s| inputs.get(s, "id"))),
                ),
            ],
        )
    }

    /// The table, then one call per route and per subnet association.
    fn create_calls(&self) -> Vec<&'static str> {
        let mut calls = vec!["CreateRouteTable"];
        calls.extend(self.routes.iter().map(|_| "CreateRoute"));
        calls.extend(self.subnets.iter().map(|_| "AssociateRouteTable"));
        calls
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let table = cx
            .clients
            .ec2
            .create_route_table()
            .vpc_id(inputs.require(&self.vpc, "id")?)
            .tag_specifications(tag_spec(cx, ResourceType::RouteTable, key))
            .send()
            .await
            .map_err(sdk("CreateRouteTable"))?;
        let id = table
            .route_table()
            .and_then(|t| t.route_table_id())
            .ok_or_else(|| missing("CreateRouteTable"))?
            .to_string();
        for (destination, target) in self.routes(inputs) {
            Self::create_route(cx, &id, &destination, &target, false).await?;
        }
        for subnet in &self.subnets {
            Self::associate(cx, &id, &inputs.require(subnet, "id")?).await?;
        }
        Ok(created(
            key,
            &id,
            self.desired(key, cx, inputs),
            Fields::from([("id".into(), id.clone())]),
        ))
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        let ec2 = &cx.clients.ec2;
        if let Some(change) = changes.at("routes") {
            let have: Vec<(&str, &str)> = set_items(change.from.as_deref().unwrap_or_default())
                .into_iter()
                .filter_map(|r| r.split_once('='))
                .collect();
            let want = self.routes(inputs);
            for (destination, target) in &want {
                match have.iter().find(|(d, _)| d == destination) {
                    Some((_, t)) if t == target => {}
                    Some(_) => {
                        Self::create_route(cx, &current.id, destination, target, true).await?
                    }
                    None => Self::create_route(cx, &current.id, destination, target, false).await?,
                }
            }
            for (destination, _) in have
                .iter()
                .filter(|(d, _)| !want.iter().any(|(w, _)| w == d))
            {
                ec2.delete_route()
                    .route_table_id(&current.id)
                    .destination_cidr_block(*destination)
                    .send()
                    .await
                    .map_err(sdk("DeleteRoute"))?;
            }
        }
        if let Some(change) = changes.at("subnets") {
            let have = set_items(change.from.as_deref().unwrap_or_default());
            let want = set_items(&change.to);
            for subnet in want.iter().filter(|s| !have.contains(s)) {
                Self::associate(cx, &current.id, subnet).await?;
            }
            for subnet in have.iter().filter(|s| !want.contains(s)) {
                if let Some(association) = current.outputs.get(&format!("association:{subnet}")) {
                    ec2.disassociate_route_table()
                        .association_id(association)
                        .send()
                        .await
                        .map_err(sdk("DisassociateRouteTable"))?;
                }
            }
        }
        retag(cx, &current.id, changes).await
    }
}
