//! What every reconcile shares: the Kubernetes client, one AWS SDK
//! configuration per region, the event recorder and the options.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use tokio::sync::Mutex;

use super::tenancy::{Access, TenancyOptions};
use crate::aws::call_budget::{BudgetOptions, CallBudget};
use crate::aws::calls::CallCounter;
use crate::aws::role_boundary::RoleBoundary;
use crate::aws::shared_lists::SharedLists;
use crate::aws::shared_reads::{SharedReads, SharingOptions};
use crate::aws::{AwsClients, AwsSettings, config, http, sts};
use crate::engine::AwsError;

/// How the operator runs.
#[derive(Clone, Debug)]
pub struct OperatorOptions {
    /// Namespace to watch; `None`: all.
    pub namespace: Option<String>,
    /// Re-check a Ready stack for drift this often.
    pub resync: Duration,
    /// Endpoint for every AWS call (LocalStack, moto); otherwise the standard chain.
    pub endpoint_url: Option<String>,
    /// Stacks reconciled at once, per kind.
    pub concurrency: u16,
    /// Where `/metrics`, `/healthz` and `/readyz` listen; `None`: nowhere.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Lease for leader election; `None`: this replica always reconciles.
    pub leader_election: Option<super::leader::LeaseConfig>,
    /// Stacks shared among replicas; `None`: the leader reconciles them all.
    pub sharding: Option<super::shards::ShardConfig>,
    /// Permissions boundary of every IAM role the stacks' blueprints create.
    pub role_boundary: RoleBoundary,
    /// Which AWS identity each namespace's stacks work as.
    pub tenancy: TenancyOptions,
    /// Reads shared between stacks; `None`: each stack reads for itself.
    pub shared_reads: Option<SharingOptions>,
    /// Calls a second per account, region and service; `None`: no budget.
    pub call_budget: Option<BudgetOptions>,
}

impl Default for OperatorOptions {
    fn default() -> Self {
        Self {
            namespace: None,
            resync: Duration::from_secs(600),
            endpoint_url: None,
            concurrency: 4,
            metrics_addr: Some(std::net::SocketAddr::from(([0, 0, 0, 0], 8080))),
            leader_election: None,
            sharding: None,
            role_boundary: RoleBoundary::default(),
            tenancy: TenancyOptions::default(),
            // Off: every stack parses the shared answers (docs/scale.md).
            shared_reads: None,
            call_budget: Some(BudgetOptions::default()),
        }
    }
}

pub struct OperatorContext {
    pub client: Client,
    pub recorder: Recorder,
    pub options: OperatorOptions,
    /// Every AWS call the process made (for metrics).
    pub calls: CallCounter,
    pub metrics: std::sync::Arc<super::metrics::Metrics>,
    /// Stacks waiting on AWS, between reconciles.
    pub following: super::following::Following,
    /// How long Ready stacks' passes take, which sets their resync.
    pub resync_pace: super::resync::ResyncPace,
    /// One configuration per region and identity: assumed-role sessions
    /// are cached (and renewed) per role, not per stack.
    sdk_configs: Mutex<BTreeMap<(String, Access), SdkConfig>>,
    /// The operator's own account, asked of STS once.
    operator_account: tokio::sync::OnceCell<String>,
    /// The connection pool of every region's configuration.
    http_client: SharedHttpClient,
    /// Lists parsed once for every stack of a region and identity, when
    /// reads are shared.
    shared_lists: Option<std::sync::Arc<SharedLists>>,
}

impl OperatorContext {
    pub fn new(client: Client, options: OperatorOptions) -> Self {
        let reporter = Reporter {
            controller: "stackops".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        let calls = CallCounter::default();
        let http_client = http::operator_https_client(
            options.shared_reads.map(SharedReads::new),
            options
                .call_budget
                .clone()
                .map(|budget| CallBudget::new(budget, calls.clone())),
        );
        let shared_lists = options
            .shared_reads
            .map(|sharing| SharedLists::new(sharing.lists, sharing.settings, calls.clone()));
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            options,
            calls,
            metrics: Default::default(),
            following: Default::default(),
            resync_pace: Default::default(),
            sdk_configs: Mutex::new(BTreeMap::new()),
            operator_account: tokio::sync::OnceCell::new(),
            shared_lists,
            http_client,
        }
    }

    /// Clients for one pass in `region` as `access`: the shared
    /// configuration of that region and identity, counting into a fresh
    /// counter and the process-wide one. Every region shares one HTTP
    /// client: one connection pool and one set of TLS roots per process.
    pub async fn clients(&self, region: &str, access: &Access) -> AwsClients {
        let key = (region.to_string(), access.clone());
        let mut configs = self.sdk_configs.lock().await;
        if !configs.contains_key(&key) {
            let settings = AwsSettings {
                region: Some(region.to_string()),
                endpoint_url: self.options.endpoint_url.clone(),
                http_client: Some(self.http_client.clone()),
                role_session: self.options.tenancy.role_session,
                refresh_margin: self.options.tenancy.refresh_margin,
                ..AwsSettings::default()
            };
            let base_key = (region.to_string(), Access::Operator);
            if !configs.contains_key(&base_key) {
                configs.insert(base_key.clone(), config::sdk_config(&settings).await);
            }
            if let Access::Role(role) = access {
                let assumed = config::assumed_config(
                    &configs[&base_key],
                    role,
                    &settings,
                    self.calls.clone(),
                )
                .await;
                configs.insert(key.clone(), assumed);
            }
        }
        let clients = AwsClients::counted(
            &configs[&key],
            CallCounter::default(),
            std::slice::from_ref(&self.calls),
        )
        .with_role_boundary(self.options.role_boundary.clone());
        match &self.shared_lists {
            Some(lists) => {
                // Never the external id: only the region and the role share.
                let scope = match access {
                    Access::Operator => format!("{region}|operator"),
                    Access::Role(role) => format!("{region}|{}", role.arn),
                };
                clients.sharing_reads(lists.clone(), scope.into())
            }
            None => clients,
        }
    }

    /// The account `access` works in: a role's from its ARN, the
    /// operator's own from STS, once per process.
    pub async fn account(&self, access: &Access, clients: &AwsClients) -> Result<String, AwsError> {
        if let Some(account) = access.role().and_then(|r| r.account()) {
            return Ok(account.to_string());
        }
        self.operator_account
            .get_or_try_init(|| sts::caller_account(clients))
            .await
            .cloned()
    }
}
