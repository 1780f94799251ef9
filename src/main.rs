use std::process::ExitCode;

use clap::Parser;
use stackops::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = if cli.is_operator() { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| default_level.into());
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    // The operator logs JSON (one object per line, with the stack's
    // namespace/name in every line of a reconcile); the CLI logs text.
    if cli.is_operator() {
        logs.json().with_current_span(true).init();
    } else {
        logs.init();
    }
    cli.run()
}
