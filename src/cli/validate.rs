use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::api::FieldError;
use crate::api::manifest::{self, ManifestError};
use crate::blueprint::validate;

/// `stackops validate -f FILE...`: exit 0 when every stack in every file is
/// valid, 1 otherwise, with every problem listed by field.
pub fn run(files: &[PathBuf]) -> ExitCode {
    let mut ok = true;
    for file in files {
        ok &= validate_file(file);
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn validate_file(file: &Path) -> bool {
    let text = match read(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", file.display());
            return false;
        }
    };
    let stacks = match manifest::load(&text) {
        Ok(stacks) => stacks,
        Err(errors) => {
            for error in errors {
                print_refusal(file, &error);
            }
            return false;
        }
    };
    if stacks.is_empty() {
        eprintln!("{}: no stack in this file", file.display());
        return false;
    }
    let mut ok = true;
    for stack in &stacks {
        let problems = validate::check(stack);
        let id = format!("{} {}/{}", stack.kind(), stack.namespace(), stack.name());
        if problems.is_empty() {
            println!("{}: {id} is valid", file.display());
        } else {
            ok = false;
            eprintln!("{}: {id} is invalid:", file.display());
            print_fields(&problems);
        }
    }
    ok
}

fn print_refusal(file: &Path, error: &ManifestError) {
    match error {
        ManifestError::Invalid { described, errors } => {
            eprintln!("{}: {described}:", file.display());
            print_fields(errors);
        }
        other => eprintln!("{}: {other}", file.display()),
    }
}

fn print_fields(errors: &[FieldError]) {
    for error in errors {
        eprintln!("  - {error}");
    }
}

fn read(file: &Path) -> std::io::Result<String> {
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(file)
    }
}
