#!/usr/bin/env bash
# The main job on this machine: installs the pinned local AWS emulator
# (moto) and kubectl, builds stackops and kubesim, starts moto and kubesim
# on free 127.0.0.1 ports, runs the operator, applies the example stack with
# kubectl, follows it resource by resource until Ready, prints its status,
# deletes it and confirms nothing tagged with the stack is left in AWS
# (what its deletion policies keep on purpose aside).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/stackops-target}"
example="${1:-examples/booking.yaml}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

venv="$(bash scripts/install-test-deps.sh | tail -n1)"
kubectl="$venv/bin/kubectl"
echo "== building stackops and kubesim"
cargo build --quiet --bin stackops && cargo build --quiet -p kubesim --bin kubesim
bin="$CARGO_TARGET_DIR/debug"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

port="$(free_port)"
"$venv/bin/python" scripts/moto_server.py -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -sf -X POST "http://127.0.0.1:$port/moto-api/reset" >/dev/null && break
  sleep 0.2
done
echo "== AWS emulator (moto) on 127.0.0.1:$port"
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
export AWS_EC2_METADATA_DISABLED=true

"$bin/kubesim" --port 0 --kubeconfig "$work/kubeconfig" >"$work/kubesim.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [[ -s "$work/kubeconfig" ]] && break; sleep 0.1; done
export KUBECONFIG="$work/kubeconfig"
echo "== Kubernetes API (kubesim) on $(head -n1 "$work/kubesim.log")"

"$kubectl" apply -f crds/
metrics_port="$(free_port)"
"$bin/stackops" run --resync-seconds 30 --metrics-addr "127.0.0.1:$metrics_port" >"$work/operator.log" 2>&1 &
pids+=($!)
echo "== operator running (logs: JSON, one line per event)"

"$kubectl" apply -f "$example"
kind="$("$kubectl" get -f "$example" -o jsonpath='{.kind}')"
name="$("$kubectl" get -f "$example" -o jsonpath='{.metadata.name}')"
for _ in $(seq 1 120); do
  ready="$("$kubectl" get -f "$example" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')"
  count="$("$kubectl" get -f "$example" -o jsonpath='{range .status.resources[?(@.state=="Ready")]}x{end}' | wc -c)"
  echo "   $kind/$name: $count resources ready, Ready=${ready:-Unknown}"
  [[ "$ready" == True ]] && break
  sleep 1
done
"$kubectl" wait --for=condition=Ready -f "$example" --timeout=120s
"$kubectl" get stackops
echo "== resources"
"$kubectl" get -f "$example" -o jsonpath='{range .status.resources[*]}{.kind}{"\t"}{.key}{"\t"}{.id}{"\n"}{end}' | column -t
echo "== outputs"
"$kubectl" get -f "$example" -o jsonpath='{.status.outputs}{"\n"}'
echo "== Ready condition"
"$kubectl" get -f "$example" -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}{"\n"}'
echo "== events"
"$kubectl" get events --field-selector "involvedObject.name=$name"

echo "== operator metrics (127.0.0.1:$metrics_port/metrics), excerpt"
curl -s "http://127.0.0.1:$metrics_port/metrics" | grep -E '^stackops_(reconciles_total|managed_|aws_call_retries)' || true

echo "== deleting $kind/$name (the finalizer holds it until AWS is empty)"
"$kubectl" delete -f "$example" --wait=false
# The example keeps deletion protection on its database: teardown removes
# what lies above the data tier, then stops and says why.
for _ in $(seq 1 60); do
  blocked="$("$kubectl" get -f "$example" -o jsonpath='{range .status.resources[?(@.state=="Blocked")]}{.message}{end}' 2>/dev/null || true)"
  [[ -n "$blocked" ]] && break
  sleep 1
done
echo "   blocked: $blocked"
echo "== lifting deletion protection in the spec; teardown resumes (final snapshot kept)"
"$kubectl" patch -f "$example" --type merge -p '{"spec":{"database":{"deletionProtection":false}}}'
"$kubectl" wait --for=delete -f "$example" --timeout=180s
echo "== resources still tagged stackops.io/stack in AWS (deleted NAT gateways, terminated servers, keys scheduled for deletion, the final DB snapshot and the media bucket kept by its Retain policy aside):"
if "$venv/bin/python" scripts/leftovers.py "http://127.0.0.1:$port" eu-west-1; then
  echo "none"
else
  exit 1
fi
