//! Command line: the same engine as the operator, without Kubernetes.

mod crds;
pub mod stack;
mod validate;

use crate::aws::call_budget::BudgetOptions;
use crate::aws::shared_reads::SharingOptions;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::aws::assume_role::{AllowedRoles, RoleToAssume};
use crate::aws::role_boundary::{DEFAULT_BOUNDARY, RoleBoundary};

/// Manage whole AWS application stacks (EcommerceStack, BookingPlatform).
#[derive(Parser, Debug)]
#[command(name = "stackops", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print both CustomResourceDefinitions as YAML, or write them to a directory.
    Crds {
        /// Write one file per CRD into this directory instead of printing.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Show what `apply` would create, change or delete. Exits 0 when
    /// nothing would change, 2 when changes are pending, 1 on error.
    Plan(StackArgs),
    /// Create or correct every resource of the stack until it is ready.
    Apply(StackArgs),
    /// Delete every resource the stack owns, in reverse dependency order.
    Destroy(StackArgs),
    /// Run the operator: reconcile EcommerceStack and BookingPlatform
    /// resources of the cluster in KUBECONFIG (or the one it runs in).
    Run {
        /// Watch only this namespace; default: all namespaces.
        #[arg(long, env = "STACKOPS_NAMESPACE")]
        namespace: Option<String>,
        /// Seconds between drift checks of a Ready stack.
        #[arg(long, env = "STACKOPS_RESYNC_SECONDS", default_value_t = 600)]
        resync_seconds: u64,
        /// Stacks of one kind reconciled at once.
        #[arg(long, env = "STACKOPS_CONCURRENCY", default_value_t = 4)]
        concurrency: u16,
        /// Send every AWS call here (LocalStack, moto); `AWS_ENDPOINT_URL` works too.
        #[arg(long, value_name = "URL")]
        endpoint_url: Option<String>,
        /// Address of `/metrics`, `/healthz` and `/readyz`.
        #[arg(long, env = "STACKOPS_METRICS_ADDR", default_value = "0.0.0.0:8080")]
        metrics_addr: std::net::SocketAddr,
        /// Permissions boundary of every IAM role stackops creates: a policy
        /// `path/name` in the account of the credentials, or a policy ARN.
        #[arg(long, env = "STACKOPS_ROLE_BOUNDARY", value_name = "POLICY", default_value = DEFAULT_BOUNDARY)]
        role_boundary: RoleBoundary,
        /// Elect a leader through a Lease, so several replicas can run.
        #[arg(long, env = "STACKOPS_LEADER_ELECT", default_value_t = false)]
        leader_elect: bool,
        /// Namespace of the Lease (the operator's own namespace).
        #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
        lease_namespace: String,
        /// Seconds a leader may go without renewing before another takes over.
        #[arg(long, default_value_t = 15)]
        lease_seconds: u64,
        /// Share the stacks among the replicas: each holds a membership
        /// Lease and reconciles the stacks labelled with its name; the
        /// leader assigns them (implies `--leader-elect`).
        #[arg(long, env = "STACKOPS_SHARD", default_value_t = false)]
        shard: bool,
        /// IAM role ARN patterns (comma-separated, `*` matches anything)
        /// the operator may assume for namespaces annotated
        /// `stackops.io/aws-role-arn`. Empty (default): it assumes none.
        #[arg(
            long,
            env = "STACKOPS_ALLOWED_ROLE_ARNS",
            value_name = "PATTERNS",
            default_value = ""
        )]
        allowed_role_arns: AllowedRoles,
        /// Refuse stacks in namespaces that name no role, instead of working
        /// as the operator's own identity.
        #[arg(long, env = "STACKOPS_REQUIRE_NAMESPACE_ROLE", default_value_t = false)]
        require_namespace_role: bool,
        /// Length of each assumed-role session (900 to the role's maximum).
        #[arg(long, env = "STACKOPS_ROLE_SESSION_SECONDS", default_value_t = 3600)]
        role_session_seconds: u64,
        /// Renew an assumed-role session this long before it expires.
        #[arg(long, env = "STACKOPS_ROLE_REFRESH_SECONDS", default_value_t = 300)]
        role_refresh_seconds: u64,
        /// Share list reads between stacks: one read (every stackops
        /// resource of a kind, in one account and region) serves every stack
        /// for this many seconds. Default: the resync interval; 0: every
        /// stack reads for itself (see docs/scale.md).
        #[arg(long, env = "STACKOPS_SHARED_READ_SECONDS", value_name = "SECONDS")]
        shared_read_seconds: Option<u64>,
        /// Re-read the settings of each resource (a bucket's encryption, a
        /// load balancer's attributes) every this many shared-read windows,
        /// and before any write.
        #[arg(long, env = "STACKOPS_SETTINGS_READ_EVERY", default_value_t = 12)]
        settings_read_every: u32,
        /// Memory for shared reads, in MiB; beyond it, reads go to AWS.
        #[arg(long, env = "STACKOPS_SHARED_READ_MIB", default_value_t = 16)]
        shared_read_mib: usize,
        /// AWS calls a second per account, region and service; 0: no budget.
        #[arg(long, env = "STACKOPS_AWS_CALLS_PER_SECOND", default_value_t = 10)]
        aws_calls_per_second: u32,
        /// Per-service rates over that one, `service=N,...` by SigV4
        /// service name (`ec2`, `rds`, `elasticloadbalancing`, ...).
        #[arg(
            long,
            env = "STACKOPS_AWS_SERVICE_CALLS_PER_SECOND",
            value_name = "RATES",
            default_value = "ec2=20"
        )]
        aws_service_calls_per_second: String,
    },
    /// Check stack manifests as the API server would (schema and CEL rules),
    /// plus the checks no schema can express. Exits 1 on any problem.
    Validate {
        /// Manifest file (YAML, one or more documents); `-` reads stdin.
        #[arg(short = 'f', long = "filename", value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
    },
}

/// What the stack commands take. Region comes from the spec; credentials
/// from the standard AWS chain (environment, profile, SSO, IRSA, IMDS).
#[derive(clap::Args, Debug)]
struct StackArgs {
    /// Manifest file with the stack(s).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    file: PathBuf,
    /// Send every AWS call here (LocalStack, moto); `AWS_ENDPOINT_URL` works too.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Give up after this many seconds (apply and destroy).
    #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
    timeout: u64,
    /// Permissions boundary of every IAM role stackops creates: a policy
    /// `path/name` in the account of the credentials, or a policy ARN.
    #[arg(long, env = "STACKOPS_ROLE_BOUNDARY", value_name = "POLICY", default_value = DEFAULT_BOUNDARY)]
    role_boundary: RoleBoundary,
    /// Named profile of the shared AWS config files (as `AWS_PROFILE`).
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Work as this IAM role, assumed with the identity the standard chain
    /// (or `--profile`) resolves to: e.g. a stack in another account.
    #[arg(long, value_name = "ARN")]
    role_arn: Option<String>,
    /// External id the role's trust policy asks for.
    #[arg(long, value_name = "ID", requires = "role_arn")]
    external_id: Option<String>,
}

impl StackArgs {
    fn run(&self, verb: stack::Verb) -> ExitCode {
        let options = stack::RunOptions {
            endpoint_url: self.endpoint_url.clone(),
            timeout: std::time::Duration::from_secs(self.timeout),
            role_boundary: self.role_boundary.clone(),
            profile: self.profile.clone(),
            role: self
                .role_arn
                .clone()
                .map(|arn| RoleToAssume::new(arn, self.external_id.clone())),
        };
        stack::run(verb, &self.file, &options)
    }
}

/// This replica's name in the Lease: the pod name, else host and process.
fn replica_identity() -> String {
    std::env::var("POD_NAME").unwrap_or_else(|_| {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        format!("{}-{}", host.trim(), std::process::id())
    })
}

/// The operator's Kubernetes client, naming this replica in its User-Agent
/// (`stackops/<version> (<replica>)`) so that audit logs tell replicas apart.
async fn operator_client() -> Result<kube::Client, kube::Error> {
    let mut config = kube::Config::infer()
        .await
        .map_err(kube::Error::InferConfig)?;
    let agent = format!(
        "stackops/{} ({})",
        env!("CARGO_PKG_VERSION"),
        replica_identity()
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(&agent) {
        config.headers.push((axum::http::header::USER_AGENT, value));
    }
    kube::Client::try_from(config)
}

fn run_operator(options: crate::controller::OperatorOptions) -> ExitCode {
    crate::controller::memory::limit_arenas();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.spawn(crate::controller::memory::trim_periodically());
    runtime.block_on(async {
        match operator_client().await {
            Ok(client) => {
                crate::controller::run(client, options).await;
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot reach Kubernetes: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

impl Cli {
    /// Whether this invocation runs the operator (it logs more, as JSON).
    pub fn is_operator(&self) -> bool {
        matches!(self.command, Command::Run { .. })
    }

    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Crds { out_dir } => crds::run(out_dir.as_deref()),
            Command::Validate { files } => validate::run(&files),
            Command::Run {
                namespace,
                resync_seconds,
                concurrency,
                endpoint_url,
                metrics_addr,
                role_boundary,
                leader_elect,
                lease_namespace,
                lease_seconds,
                shard,
                allowed_role_arns,
                require_namespace_role,
                role_session_seconds,
                role_refresh_seconds,
                shared_read_seconds,
                settings_read_every,
                shared_read_mib,
                aws_calls_per_second,
                aws_service_calls_per_second,
            } => {
                let resync = std::time::Duration::from_secs(resync_seconds.max(1));
                let identity = replica_identity();
                let lease = std::time::Duration::from_secs(lease_seconds.max(3));
                let shared_read_seconds = shared_read_seconds.unwrap_or(resync.as_secs());
                let shared_reads = (shared_read_seconds > 0).then(|| {
                    SharingOptions::for_resync(
                        std::time::Duration::from_secs(shared_read_seconds),
                        settings_read_every,
                        shared_read_mib << 20,
                    )
                });
                let call_budget = match (
                    aws_calls_per_second,
                    BudgetOptions {
                        default_per_second: aws_calls_per_second,
                        ..BudgetOptions::default()
                    }
                    .with_overrides(&aws_service_calls_per_second),
                ) {
                    (0, _) => None,
                    (_, Ok(budget)) => Some(budget),
                    (_, Err(e)) => {
                        eprintln!("error: --aws-service-calls-per-second: {e}");
                        return ExitCode::from(2);
                    }
                };
                run_operator(crate::controller::OperatorOptions {
                    shared_reads,
                    call_budget,
                    tenancy: crate::controller::tenancy::TenancyOptions {
                        allowed_roles: allowed_role_arns,
                        require_role: require_namespace_role,
                        role_session: std::time::Duration::from_secs(role_session_seconds),
                        refresh_margin: std::time::Duration::from_secs(role_refresh_seconds),
                    },
                    sharding: shard.then(|| crate::controller::shards::ShardConfig {
                        namespace: lease_namespace.clone(),
                        identity: identity.clone(),
                        duration: lease,
                    }),
                    leader_election: (leader_elect || shard).then(|| {
                        crate::controller::leader::LeaseConfig {
                            namespace: lease_namespace,
                            name: "stackops-leader".into(),
                            identity,
                            duration: lease,
                            labels: Default::default(),
                        }
                    }),
                    namespace,
                    resync,
                    endpoint_url,
                    concurrency: concurrency.max(1),
                    metrics_addr: Some(metrics_addr),
                    role_boundary,
                })
            }
            Command::Plan(args) => args.run(stack::Verb::Plan),
            Command::Apply(args) => args.run(stack::Verb::Apply),
            Command::Destroy(args) => args.run(stack::Verb::Destroy),
        }
    }
}
