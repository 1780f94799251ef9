//! Running the `stackops` binary as a user does.

use super::moto::MotoServer;

/// `stackops ARGS...` against `moto`, through the standard AWS environment
/// variables: (exit code, stdout, stderr).
pub fn stackops(moto: &MotoServer, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stackops"))
        .args(args)
        .envs(moto.env())
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
