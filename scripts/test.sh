#!/usr/bin/env bash
# Runs the whole test suite: installs the pinned test tools (moto server,
# kubectl) if missing, then every test of the workspace with nextest (one
# process per test, so each starts its own servers on free loopback ports).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/stackops-target}"
venv="$(bash scripts/install-test-deps.sh | tail -n1)"
export STACKOPS_TEST_VENV="$venv"
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi
cargo nextest run --workspace --no-fail-fast "$@"
