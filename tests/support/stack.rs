//! Running the engine on an example stack against moto, and counting what
//! exists in AWS afterwards.

use std::collections::BTreeMap;

use aws_sdk_resourcegroupstagging::types::TagFilter;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use stackops::api::StackManifest;
use stackops::api::manifest;
use stackops::aws::Context;
use stackops::aws::calls::CallCounter;
use stackops::aws::{AwsClients, config, zones};
use stackops::blueprint::{self, Blueprint};
use stackops::engine::{Engine, PassOutcome};

use super::moto::settings_for;

/// An example manifest from `examples/`.
pub fn example(name: &str) -> StackManifest {
    let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    manifest::load(&text).unwrap().remove(0)
}

/// An example whose database, cache and media bucket may be deleted
/// outright (no protection, no final snapshot, no retained bucket), for tests about everything else's
/// teardown.
pub fn disposable(name: &str) -> StackManifest {
    let mut stack = example(name);
    let database = match &mut stack {
        StackManifest::Ecommerce(s) => &mut s.spec.database,
        StackManifest::Booking(s) => &mut s.spec.database,
    };
    database.deletion_protection = false;
    database.deletion_policy = stackops::api::common::DeletionPolicy::Delete;
    if let StackManifest::Booking(s) = &mut stack {
        if let Some(cache) = &mut s.spec.cache {
            cache.deletion_policy = stackops::api::common::DeletionPolicy::Delete;
        }
        s.spec.media.deletion_policy = Some(stackops::api::common::DeletionPolicy::Delete);
    }
    stack
}

/// A stack ready to run: its blueprint and a context whose calls are counted.
pub struct TestStack {
    pub blueprint: Blueprint,
    pub cx: Context,
}

impl TestStack {
    /// `stack` against the AWS endpoint `endpoint`, with resources tagged `uid`.
    pub async fn new(endpoint: &str, stack: &StackManifest, uid: &str) -> Self {
        Self::through(endpoint, stack, uid, None).await
    }

    /// The same, its calls made through `http` (the operator's client,
    /// sharing reads between stacks) when given.
    pub async fn through(
        endpoint: &str,
        stack: &StackManifest,
        uid: &str,
        http: Option<SharedHttpClient>,
    ) -> Self {
        let mut settings = settings_for(endpoint);
        settings.region = Some(stack.settings().region.clone());
        settings.http_client = http;
        let sdk = config::sdk_config(&settings).await;
        let clients = AwsClients::counted(&sdk, CallCounter::default(), &[]);
        let existing = stack.network().existing.as_ref();
        let zones = zones::for_stack(&clients, &stack.settings().region, existing)
            .await
            .unwrap();
        let blueprint = blueprint::build(stack, uid, &zones).unwrap();
        let cx = Context::new(
            blueprint.identity.clone(),
            stack.settings().region.clone(),
            clients,
        )
        .with_data_intent(blueprint::stack::data_intent(stack))
        .with_borrowed(blueprint.borrowed.clone());
        Self { blueprint, cx }
    }

    /// The same stack with fresh call counters (and optionally another endpoint).
    pub async fn reconnect(&self, endpoint: &str) -> Context {
        self.reconnect_through(endpoint, None).await
    }

    /// The same, its calls made through `http` when given.
    pub async fn reconnect_through(
        &self,
        endpoint: &str,
        http: Option<SharedHttpClient>,
    ) -> Context {
        let mut settings = settings_for(endpoint);
        settings.region = Some(self.cx.region.clone());
        settings.http_client = http;
        let sdk = config::sdk_config(&settings).await;
        let clients = AwsClients::counted(&sdk, CallCounter::default(), &[]);
        Context::new(self.cx.identity.clone(), self.cx.region.clone(), clients)
            .with_data_intent(self.cx.data.clone())
            .with_borrowed(self.cx.borrowed.clone())
    }

    pub fn engine(&self) -> Engine {
        Engine::new(self.blueprint.options.clone())
    }

    /// Apply passes until converged (at most `max_passes`).
    pub async fn converge(&self, cx: &Context, max_passes: usize) -> PassOutcome {
        let engine = self.engine();
        let mut last = PassOutcome::default();
        for _ in 0..max_passes {
            last = engine.apply(cx, &self.blueprint.graph).await;
            if last.converged || last.terminal.is_some() {
                return last;
            }
        }
        last
    }

    /// Destroy passes until converged (at most `max_passes`).
    pub async fn destroy(&self, cx: &Context, max_passes: usize) -> PassOutcome {
        let engine = self.engine();
        let kinds = stackops::aws::registry::all_kinds();
        let mut last = PassOutcome::default();
        for _ in 0..max_passes {
            last = engine.destroy(cx, &kinds).await;
            if last.converged {
                return last;
            }
        }
        last
    }

    /// Live resources of the stack per kind name, as the engine observes them.
    pub async fn count_by_kind(&self, cx: &Context) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for kind in stackops::aws::registry::all_kinds() {
            let found = kind.observe_all(cx).await.unwrap();
            counts.insert(kind.name(), found.len());
        }
        counts
    }

    /// ARNs the Resource Groups Tagging API finds with the stack's tag.
    pub async fn tagged_arns(&self, cx: &Context) -> Vec<String> {
        let found = cx
            .clients
            .tagging
            .get_resources()
            .tag_filters(
                TagFilter::builder()
                    .key("stackops.io/stack")
                    .values(self.cx.identity.stack_tag())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let arns: Vec<String> = found
            .resource_tag_mapping_list()
            .iter()
            .filter_map(|m| m.resource_arn().map(str::to_string))
            .collect();
        // Deleted NAT gateways stay listed (with their tags) for a while, in
        // AWS as in moto: they are gone, not leaked.
        let mut live = Vec::new();
        for arn in arns {
            if let Some(id) = arn.split("natgateway/").nth(1) {
                let found = cx
                    .clients
                    .ec2
                    .describe_nat_gateways()
                    .nat_gateway_ids(id)
                    .send()
                    .await
                    .unwrap();
                let deleted = found
                    .nat_gateways()
                    .iter()
                    .all(|n| n.state() == Some(&aws_sdk_ec2::types::NatGatewayState::Deleted));
                if deleted {
                    continue;
                }
            }
            // Final snapshots are kept on purpose (deletionPolicy Snapshot).
            if arn.contains(":snapshot:") {
                continue;
            }
            // So do terminated servers (about an hour in AWS).
            if let Some(id) = arn.split(":instance/").nth(1) {
                let found = cx
                    .clients
                    .ec2
                    .describe_instances()
                    .instance_ids(id)
                    .send()
                    .await
                    .unwrap();
                let terminated = found
                    .reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .all(|i| {
                        matches!(
                            i.state().and_then(|s| s.name()),
                            Some(
                                aws_sdk_ec2::types::InstanceStateName::Terminated
                                    | aws_sdk_ec2::types::InstanceStateName::ShuttingDown
                            )
                        )
                    });
                if terminated {
                    continue;
                }
            }
            // A deleted KMS key waits out its pending window, still tagged.
            if arn.contains(":key/") {
                let found = cx
                    .clients
                    .kms
                    .describe_key()
                    .key_id(&arn)
                    .send()
                    .await
                    .unwrap();
                let pending = found.key_metadata().and_then(|k| k.key_state())
                    == Some(&aws_sdk_kms::types::KeyState::PendingDeletion);
                if pending {
                    continue;
                }
            }
            live.push(arn);
        }
        live
    }
}

/// Calls of `operation` a counter saw.
pub fn calls_of(counter: &CallCounter, operation: &str) -> u64 {
    counter
        .snapshot()
        .iter()
        .filter(|(k, _)| k.operation == operation)
        .map(|(_, n)| n)
        .sum()
}

/// The id of node `key` after `pass` (which must have one).
pub fn node_id(pass: &PassOutcome, key: &str) -> String {
    pass.node(key)
        .and_then(|n| n.id.clone())
        .unwrap_or_else(|| panic!("{key} has an id"))
}

/// Deletes route table `route_table`'s route to the internet behind the
/// stack's back (drift made by another tool).
pub async fn delete_route_to_the_internet(cx: &Context, route_table: &str) {
    cx.clients
        .ec2
        .delete_route()
        .route_table_id(route_table)
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await
        .unwrap();
}
