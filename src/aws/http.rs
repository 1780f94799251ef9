//! One HTTPS connection pool for every AWS service client of a process.
//!
//! Left to itself, the SDK gives each service client its own HTTP client,
//! and checks it on construction by building (and dropping) a connector,
//! which loads the TLS trust roots. The operator builds its service clients
//! for every pass, so that meant a new pool per service per pass: a TCP and
//! TLS handshake for almost every call, and the roots parsed over and over.
//! This client is built once and handed to every configuration instead; it
//! behaves like the SDK's default (rustls with aws-lc, `HTTPS_PROXY` and
//! `NO_PROXY` from the environment) and keeps one connector, with its
//! pool, per distinct timeout setting.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Connector, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

use super::call_budget::CallBudget;
use super::shared_reads::SharedReads;

/// A new shared HTTPS client: give it to every configuration of a process.
/// One per Tokio runtime: its pooled connections belong to the runtime
/// that opened them.
pub fn shared_https_client() -> SharedHttpClient {
    SharedHttpClient::new(PooledHttpsClient::default())
}

/// The same, answering reads that stacks share from `reads` (see
/// [`super::shared_reads`]) and keeping every call within `budget` (see
/// [`super::call_budget`]); a read answered from memory spends no token.
pub fn operator_https_client(
    reads: Option<Arc<SharedReads>>,
    budget: Option<Arc<CallBudget>>,
) -> SharedHttpClient {
    SharedHttpClient::new(PooledHttpsClient {
        reads,
        budget,
        ..PooledHttpsClient::default()
    })
}

/// Connectors by the settings that shape them; clients built from one
/// configuration all ask for the same settings, so in practice one entry.
#[derive(Debug, Default)]
struct PooledHttpsClient {
    connectors: Mutex<HashMap<ConnectorKey, SharedHttpConnector>>,
    reads: Option<Arc<SharedReads>>,
    budget: Option<Arc<CallBudget>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ConnectorKey {
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
}

impl HttpClient for PooledHttpsClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = ConnectorKey {
            connect_timeout: settings.connect_timeout(),
            read_timeout: settings.read_timeout(),
        };
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        connectors
            .entry(key)
            .or_insert_with(|| {
                let mut connector = SharedHttpConnector::new(https_connector(settings, components));
                if let Some(budget) = &self.budget {
                    connector = budget.connector(connector);
                }
                if let Some(reads) = &self.reads {
                    connector = reads.connector(connector);
                }
                connector
            })
            .clone()
    }
}

fn https_connector(settings: &HttpConnectorSettings, components: &RuntimeComponents) -> Connector {
    let mut builder =
        ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
    builder.set_connector_settings(Some(settings.clone()));
    builder.set_sleep_impl(components.sleep_impl());
    builder.set_proxy_config(Some(ProxyConfig::from_env()));
    builder.build()
}
