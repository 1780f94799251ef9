use std::process::ExitCode;

use clap::Parser;
use stackops::cli::Cli;

fn main() -> ExitCode {
    Cli::parse().run()
}
