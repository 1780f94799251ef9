//! Command line: the same engine as the operator, without Kubernetes.

mod crds;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Check stack manifests as the API server would (schema and CEL rules),
    /// plus the checks no schema can express. Exits 1 on any problem.
    Validate {
        /// Manifest file (YAML, one or more documents); `-` reads stdin.
        #[arg(short = 'f', long = "filename", value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
    },
}

impl Cli {
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Crds { out_dir } => crds::run(out_dir.as_deref()),
            Command::Validate { files } => validate::run(&files),
        }
    }
}
