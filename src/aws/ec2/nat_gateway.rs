//! NAT gateways: none, one, or one per AZ (see `NatMode`). Some emulators
//! ignore `ClientToken` here, so creation relies on the tag lookup that
//! every pass makes first.

use aws_sdk_ec2::types::{NatGateway as AwsNat, NatGatewayState, ResourceType};

use super::{component, owned_filter, retag, tag_map, tag_spec};
use crate::aws::prelude::*;

pub struct NatGatewayKind;
pub static NAT_GATEWAY: NatGatewayKind = NatGatewayKind;

/// A public NAT gateway in the subnet node `subnet` using the Elastic IP node `address`.
pub struct NatGateway {
    pub subnet: String,
    pub address: String,
}

fn observed(cx: &Context, nat: &AwsNat) -> Option<Observed> {
    let status = match nat.state()? {
        NatGatewayState::Available => Status::Ready,
        NatGatewayState::Pending => Status::Pending("pending".into()),
        NatGatewayState::Deleting => Status::Pending("deleting".into()),
        // Deleted gateways stay visible for a while: they are gone.
        NatGatewayState::Deleted | NatGatewayState::Failed => return None,
        other => Status::Pending(other.as_str().to_string()),
    };
    let tags = tag_map(nat.tags());
    let component = component(cx, &tags)?;
    let id = nat.nat_gateway_id()?.to_string();
    let mut fields = tag_fields(&tags);
    fields.insert("subnet".into(), nat.subnet_id().unwrap_or_default().into());
    let allocation = nat
        .nat_gateway_addresses()
        .iter()
        .find_map(|a| a.allocation_id())
        .unwrap_or_default();
    fields.insert("address".into(), allocation.into());
    Some(Observed {
        component,
        outputs: id_outputs(&id),
        id,
        arn: None,
        fields,
        status,
    })
}

#[async_trait]
impl KindOps<AwsClients> for NatGatewayKind {
    fn name(&self) -> &'static str {
        "NatGateway"
    }

    fn rank(&self) -> u8 {
        2
    }

    /// A NAT gateway is pending for a minute or two.
    fn pace(&self) -> Pace {
        Pace::MINUTES
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let gateways = cx
            .clients
            .listed("ec2:DescribeNatGateways", || async {
                cx.clients
                    .ec2
                    .describe_nat_gateways()
                    .filter(owned_filter(cx))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeNatGateways"))
            })
            .await?;
        Ok(gateways.iter().filter_map(|n| observed(cx, n)).collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        if observed.status == Status::Pending("deleting".into()) {
            return Ok(Deletion::InProgress("NAT gateway deleting".into()));
        }
        let deleted = cx
            .clients
            .ec2
            .delete_nat_gateway()
            .nat_gateway_id(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteNatGateway"))?;
        // AWS takes about a minute; its Elastic IP is released only after.
        Ok(match deleted.nat_gateway_id() {
            Some(_) => Deletion::InProgress("NAT gateway deleting".into()),
            None => Deletion::Done,
        })
    }
}

#[async_trait]
impl Resource<AwsClients> for NatGateway {
    fn kind(&self) -> Kind {
        &NAT_GATEWAY
    }

    fn desired(&self, key: &str, cx: &Context, inputs: &Inputs) -> Fields {
        with_tags(
            cx,
            key,
            [
                ("subnet", inputs.get(&self.subnet, "id")),
                ("address", inputs.get(&self.address, "id")),
            ],
        )
    }

    fn create_calls(&self) -> Vec<&'static str> {
        vec!["CreateNatGateway"]
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        let created_nat = cx
            .clients
            .ec2
            .create_nat_gateway()
            .subnet_id(inputs.require(&self.subnet, "id")?)
            .allocation_id(inputs.require(&self.address, "id")?)
            .tag_specifications(tag_spec(cx, ResourceType::Natgateway, key))
            .send()
            .await
            .map_err(sdk("CreateNatGateway"))?;
        let nat = created_nat
            .nat_gateway()
            .ok_or_else(|| missing("CreateNatGateway"))?;
        let id = nat
            .nat_gateway_id()
            .ok_or_else(|| missing("CreateNatGateway"))?;
        let mut observed = created(key, id, self.desired(key, cx, inputs), id_outputs(id));
        if nat.state() != Some(&NatGatewayState::Available) {
            observed.status = Status::Pending("pending".into());
        }
        Ok(observed)
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        _inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        if changes.except_tags().next().is_some() {
            // A NAT gateway cannot move: replace it. The next pass creates
            // the new one once this one is gone.
            KindOps::delete(&NAT_GATEWAY, cx, current).await?;
            return Err(AwsError::new(
                ErrorClass::DependencyNotReady,
                "ReplaceNatGateway",
                "Replacing",
                format!("NAT gateway {} is being replaced", current.id),
            ));
        }
        retag(cx, &current.id, changes).await
    }
}
