//! How stackops builds its AWS clients, in the operator, the CLI and the
//! tests alike: the standard region and credential chains, the standard
//! endpoint override (`AWS_ENDPOINT_URL`, for LocalStack or moto), and a
//! retry policy with exponential backoff and jitter.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::sdk_config::SharedCredentialsProvider;

use aws_config::identity::IdentityCache;

use super::assume_role::{AssumedRoleProvider, RoleToAssume};
use super::calls::{CallCounter, CountingInterceptor};
use super::role_boundary::RoleBoundary;
use super::shared_reads::ReadMarker;

/// Settings that override what the standard AWS environment and config
/// files say. Everything left `None` comes from the standard chains.
#[derive(Clone, Debug)]
pub struct AwsSettings {
    /// Region; otherwise `AWS_REGION`, the profile, or instance metadata.
    pub region: Option<String>,
    /// Endpoint for every service; otherwise `AWS_ENDPOINT_URL` if set.
    pub endpoint_url: Option<String>,
    /// Attempts per call, the first included, for retryable errors
    /// (throttling, 5xx, timeouts). Default 5.
    pub max_attempts: u32,
    /// Credentials to use instead of the default chain (embedding and tests).
    pub credentials: Option<SharedCredentialsProvider>,
    /// HTTP client (connection pool, TLS roots) shared with other
    /// configurations, e.g. one per region in the operator; otherwise a new
    /// one for this configuration's clients.
    pub http_client: Option<SharedHttpClient>,
    /// Named profile of the shared config files; otherwise `AWS_PROFILE`.
    pub profile: Option<String>,
    /// Work as this role, assumed with the identity the rest resolves to.
    pub role: Option<RoleToAssume>,
    /// Length of each assumed-role session.
    pub role_session: Duration,
    /// A session is renewed this long before it expires.
    pub refresh_margin: Duration,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            region: None,
            endpoint_url: None,
            max_attempts: 5,
            credentials: None,
            http_client: None,
            profile: None,
            role: None,
            role_session: Duration::from_secs(3600),
            refresh_margin: Duration::from_secs(300),
        }
    }
}

/// The one SDK configuration every client is built from. With a role to
/// assume, its credentials come from STS, asked with the identity the
/// settings resolve to without the role.
pub async fn sdk_config(settings: &AwsSettings) -> SdkConfig {
    let base = base_config(settings).await;
    match &settings.role {
        None => base,
        Some(role) => assumed_config(&base, role, settings, CallCounter::default()).await,
    }
}

/// `base`, working as `role`: the same region, endpoint, retries and HTTP
/// client, with session credentials renewed `refresh_margin` before they
/// expire. The AssumeRole calls count into `calls`.
pub async fn assumed_config(
    base: &SdkConfig,
    role: &RoleToAssume,
    settings: &AwsSettings,
    calls: CallCounter,
) -> SdkConfig {
    let sts = AwsClients::counted(base, calls, &[]).sts;
    let provider = AssumedRoleProvider {
        sts,
        role: role.clone(),
        session: settings.role_session,
    };
    let cache = IdentityCache::lazy()
        .buffer_time(settings.refresh_margin)
        .build();
    base.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .identity_cache(cache)
        .build()
}

async fn base_config(settings: &AwsSettings) -> SdkConfig {
    let retry = RetryConfig::standard()
        .with_max_attempts(settings.max_attempts.max(1))
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(20));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(60))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &settings.endpoint_url {
        loader = loader.endpoint_url(endpoint.clone());
    }
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(credentials) = &settings.credentials {
        loader = loader.credentials_provider(credentials.clone());
    }
    let http_client = settings
        .http_client
        .clone()
        .unwrap_or_else(super::http::shared_https_client);
    loader.http_client(http_client).load().await
}

/// One client per service, all sharing one configuration (and so one HTTP
/// connection pool), each counting its calls. Cheap to build: the pool
/// lives in the configuration, not in the clients.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub rds: aws_sdk_rds::Client,
    pub elasticache: aws_sdk_elasticache::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub s3: aws_sdk_s3::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub kms: aws_sdk_kms::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub sts: aws_sdk_sts::Client,
    pub acm: aws_sdk_acm::Client,
    pub quotas: aws_sdk_servicequotas::Client,
    /// The Price List API, served from us-east-1 whatever the stack's region.
    pub pricing: aws_sdk_pricing::Client,
    /// AWS Budgets, a global service whose endpoint is in us-east-1.
    pub budgets: aws_sdk_budgets::Client,
    /// The permissions boundary of every role stackops creates.
    pub role_boundary: RoleBoundary,
    /// Counts the calls of these clients.
    pub calls: CallCounter,
    /// Marks these clients' reads as shareable, until told to read afresh.
    pub reads: ReadMarker,
}

impl AwsClients {
    pub fn new(config: &SdkConfig) -> Self {
        Self::counted(config, CallCounter::default(), &[])
    }

    /// Clients whose calls are counted in `calls` and in every counter of
    /// `also` (e.g. the process-wide metrics).
    pub fn counted(config: &SdkConfig, calls: CallCounter, also: &[CallCounter]) -> Self {
        let mut counters = vec![calls.clone()];
        counters.extend(also.iter().cloned());
        let interceptor = CountingInterceptor::new(counters);
        let reads = ReadMarker::default();
        // Every service client: the shared config plus the counting and
        // read-marking interceptors.
        macro_rules! client {
            ($service:ident) => {
                $service::Client::from_conf(
                    $service::config::Builder::from(config)
                        .interceptor(interceptor.clone())
                        .interceptor(reads.clone())
                        .build(),
                )
            };
        }
        Self {
            ec2: client!(aws_sdk_ec2),
            autoscaling: client!(aws_sdk_autoscaling),
            elb: client!(aws_sdk_elasticloadbalancingv2),
            iam: client!(aws_sdk_iam),
            logs: client!(aws_sdk_cloudwatchlogs),
            rds: client!(aws_sdk_rds),
            elasticache: client!(aws_sdk_elasticache),
            secrets: client!(aws_sdk_secretsmanager),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(config)
                    .interceptor(interceptor.clone())
                    .interceptor(reads.clone())
                    // Virtual-host addressing needs DNS for `<bucket>.<host>`,
                    // which an endpoint override (proxy, in-cluster name,
                    // emulator) rarely has; AWS itself takes either.
                    .force_path_style(config.endpoint_url().is_some())
                    .build(),
            ),
            cloudfront: client!(aws_sdk_cloudfront),
            cloudwatch: client!(aws_sdk_cloudwatch),
            sns: client!(aws_sdk_sns),
            ssm: client!(aws_sdk_ssm),
            kms: client!(aws_sdk_kms),
            tagging: client!(aws_sdk_resourcegroupstagging),
            sts: client!(aws_sdk_sts),
            acm: client!(aws_sdk_acm),
            quotas: client!(aws_sdk_servicequotas),
            pricing: aws_sdk_pricing::Client::from_conf(
                aws_sdk_pricing::config::Builder::from(config)
                    .interceptor(interceptor.clone())
                    .region(aws_types::region::Region::from_static("us-east-1"))
                    .build(),
            ),
            budgets: aws_sdk_budgets::Client::from_conf(
                aws_sdk_budgets::config::Builder::from(config)
                    .interceptor(interceptor.clone())
                    .interceptor(reads.clone())
                    .region(aws_types::region::Region::from_static("us-east-1"))
                    .build(),
            ),
            role_boundary: RoleBoundary::default(),
            calls,
            reads,
        }
    }

    /// These clients, their list reads asked in the form every stack asks
    /// in, for an HTTP client that shares answers between stacks, and
    /// their parsed lists shared with every set of `scope` (one region and
    /// identity) through `lists`.
    pub fn sharing_reads(
        self,
        lists: std::sync::Arc<super::shared_lists::SharedLists>,
        scope: std::sync::Arc<str>,
    ) -> Self {
        self.reads.share();
        self.reads.share_lists(lists, scope);
        self
    }

    /// Every resource `question` (`service:Operation`, and the shared
    /// parameters when they vary: a name prefix) lists: from the list every stack of this
    /// region and identity shares while the clients share reads (`fetch` then
    /// asks for every stackops resource of the kind, and the caller keeps its
    /// stack's), else fetched for this pass alone.
    pub async fn listed<T, F, Fut>(
        &self,
        question: &str,
        fetch: F,
    ) -> Result<std::sync::Arc<Vec<T>>, crate::engine::error::AwsError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<T>, crate::engine::error::AwsError>>,
    {
        self.listed_in(question, false, fetch).await
    }

    /// Like [`Self::listed`], for a service whose list is the account's
    /// whatever region asks (IAM, CloudFront, Budgets): one list per
    /// identity, not one per region, so a replica spread over many
    /// regions neither asks nor holds the same account-wide list once per
    /// region.
    pub async fn listed_account_wide<T, F, Fut>(
        &self,
        question: &str,
        fetch: F,
    ) -> Result<std::sync::Arc<Vec<T>>, crate::engine::error::AwsError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<T>, crate::engine::error::AwsError>>,
    {
        self.listed_in(question, true, fetch).await
    }

    async fn listed_in<T, F, Fut>(
        &self,
        question: &str,
        account_wide: bool,
        fetch: F,
    ) -> Result<std::sync::Arc<Vec<T>>, crate::engine::error::AwsError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<T>, crate::engine::error::AwsError>>,
    {
        let Some((lists, scope)) = self.reads.shared_lists() else {
            return Ok(std::sync::Arc::new(fetch().await?));
        };
        let scope = if account_wide {
            super::shared_lists::account_wide(&scope)
        } else {
            scope
        };
        let (list, from_memory) = lists.get(&scope, question, fetch).await?;
        if from_memory {
            self.calls.record_served();
            lists.process_calls.record_served();
        }
        Ok(list)
    }

    /// `read` of one resource that no list answers, kept while the clients
    /// share reads and `witness` (a digest of the part of the shared lists
    /// the answer depends on) stays the same, for at most the settings
    /// lifetime; an answer is kept only when `settled` holds for it. A pass
    /// that reads afresh, and the command line, always read.
    pub async fn read_while_vouched<T, F, Fut>(
        &self,
        question: &str,
        witness: u64,
        settled: impl FnOnce(&T) -> bool,
        read: F,
    ) -> Result<T, crate::engine::error::AwsError>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, crate::engine::error::AwsError>>,
    {
        self.read_kept(question, witness, None, settled, read).await
    }

    /// `read` of one resource kept while `witness` stays the same, where
    /// the witness shows every change to the answer (a dashboard's
    /// last-modified time and size in the shared list): kept past the
    /// settings lifetime, up to `shared_lists::WHOLE_WITNESS_SPAN`.
    pub async fn read_while_witnessed<T, F, Fut>(
        &self,
        question: &str,
        witness: u64,
        read: F,
    ) -> Result<T, crate::engine::error::AwsError>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, crate::engine::error::AwsError>>,
    {
        let span = Some(super::shared_lists::WHOLE_WITNESS_SPAN);
        self.read_kept(question, witness, span, |_| true, read)
            .await
    }

    async fn read_kept<T, F, Fut>(
        &self,
        question: &str,
        witness: u64,
        span: Option<std::time::Duration>,
        settled: impl FnOnce(&T) -> bool,
        read: F,
    ) -> Result<T, crate::engine::error::AwsError>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, crate::engine::error::AwsError>>,
    {
        let Some((lists, scope)) = self.reads.shared_lists() else {
            return read().await;
        };
        if let Some(kept) = lists.kept_while::<T>(&scope, question, witness) {
            self.calls.record_served();
            lists.process_calls.record_served();
            return Ok(kept);
        }
        let answer = super::shared_lists::fetch_to_keep(read()).await?;
        if settled(&answer) {
            match span {
                Some(span) => lists.keep_for(&scope, question, witness, span, answer.clone()),
                None => lists.keep(&scope, question, witness, answer.clone()),
            }
        } else {
            lists.forget(&scope, question);
        }
        Ok(answer)
    }

    /// These clients, creating roles with permissions boundary `boundary`.
    pub fn with_role_boundary(mut self, boundary: RoleBoundary) -> Self {
        self.role_boundary = boundary;
        self
    }

    pub async fn from_settings(settings: &AwsSettings) -> Self {
        Self::new(&sdk_config(settings).await)
    }
}
