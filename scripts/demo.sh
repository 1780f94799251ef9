#!/usr/bin/env bash
# The main job, end to end on this machine: installs the pinned local AWS
# emulator, builds stackops, checks both example stacks, brings the example
# stack up against the emulator, prints its outputs and tears it down.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/stackops-target}"

venv="$(bash scripts/install-test-deps.sh | tail -n1)"
cargo build --quiet --bin stackops
stackops="$CARGO_TARGET_DIR/debug/stackops"

echo "== validating the examples"
"$stackops" validate -f examples/ecommerce.yaml -f examples/booking.yaml

echo "== not yet implemented: apply/destroy against the emulator (engine and tiers are unfinished)"
