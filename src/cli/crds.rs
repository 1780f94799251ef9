use std::path::Path;
use std::process::ExitCode;

use crate::api::crds;

/// `stackops crds [--out-dir DIR]`.
pub fn run(out_dir: Option<&Path>) -> ExitCode {
    let all = crds::all();
    match out_dir {
        None => {
            for crd in &all {
                print!("---\n{}", crds::to_yaml(crd));
            }
            ExitCode::SUCCESS
        }
        Some(dir) => {
            for crd in &all {
                let path = dir.join(crds::file_name(crd));
                if let Err(e) = std::fs::write(&path, crds::to_yaml(crd)) {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
                println!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
    }
}
