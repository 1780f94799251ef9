#!/usr/bin/env bash
# Benchmarks of both example stacks against moto and kubesim: create,
# steady-state resync and teardown with their AWS calls, create under 0, 10
# and 30 % throttling, create when AWS takes minutes (moto's latency mode),
# many stacks on one operator, and steady-state reads per stack per resync
# with shared reads on and off. Prints a report and writes
# docs/benchmarks.md and docs/benchmarks.json.
# Usage: scripts/bench.sh [--scale 1,10,100] [--replicas 1,3] [--resync-stacks N]
#          (defaults 1,10; 1; 100). With several replicas they share the
#          stacks (--shard) and one is killed once all are Ready.
#        scripts/bench.sh --only scale|lifecycle|pacing|throttling|resync|chaos[,...]
#          those parts alone, printed as JSON; docs/ is left as it is.
#        scripts/bench.sh --only none --update
#          docs/benchmarks.md written anew from docs/benchmarks.json.
#        scripts/bench.sh --only lifecycle,pacing --update
#          those parts measured anew and merged into docs/benchmarks.json;
#          docs/benchmarks.md written from the merged figures. Scale runs
#          replace only the recorded runs of the same stacks and replicas
#          (--only scale --scale 1000 --replicas 3 --update keeps the rest).
# STACKOPS_BIN=path/to/stackops runs the operator figures with that binary
# (for example a release build); otherwise the debug build is used.
# STACKOPS_BENCH_LOG_DIR=dir keeps each scale replica's log there (bench-N.log;
# RUST_LOG sets what it holds).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/stackops-target}"
bash scripts/install-test-deps.sh >/dev/null
cargo bench --bench stacks --profile dev -- "$@"
