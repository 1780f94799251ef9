#!/usr/bin/env bash
# The main job on this machine: installs the pinned local AWS emulator
# (moto), builds stackops, starts moto on a free 127.0.0.1 port, brings the
# example booking platform up with `stackops apply`, shows that a second
# plan is empty, prints what was created, tears it all down with
# `stackops destroy` and confirms nothing tagged with the stack is left.
#
# Unfinished: the operator and kubesim are not in this demo yet; it drives
# the same engine through the CLI, and only the network tier is built (the
# command says which parts of the spec are not implemented yet).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/stackops-target}"
example="${1:-examples/booking.yaml}"

venv="$(bash scripts/install-test-deps.sh | tail -n1)"
echo "== building stackops"
cargo build --quiet --bin stackops
stackops="$CARGO_TARGET_DIR/debug/stackops"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"${TMPDIR:-/tmp}/stackops-demo-moto.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf -X POST "http://127.0.0.1:$port/moto-api/reset" >/dev/null && break
  sleep 0.2
done
echo "== local AWS emulator (moto) on 127.0.0.1:$port"

export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
export AWS_EC2_METADATA_DISABLED=true

echo "== stackops validate -f $example"
"$stackops" validate -f "$example"
echo "== stackops plan -f $example"
"$stackops" plan -f "$example" || [[ $? == 2 ]]
echo "== stackops apply -f $example"
"$stackops" apply -f "$example"
echo "== stackops plan -f $example (nothing left to do)"
"$stackops" plan -f "$example"
echo "== stackops destroy -f $example"
"$stackops" destroy -f "$example"
left="$(curl -s -X POST "http://127.0.0.1:$port/" \
  -H 'X-Amz-Target: ResourceGroupsTaggingAPI_20170126.GetResources' \
  -H 'Content-Type: application/x-amz-json-1.1' \
  -H 'Authorization: AWS4-HMAC-SHA256 Credential=demo/20260101/eu-west-1/tagging/aws4_request, SignedHeaders=host, Signature=x' \
  -d '{"TagFilters":[{"Key":"stackops.io/stack"}]}' \
  | python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin)["ResourceTagMappingList"] if ":natgateway/" not in r["ResourceARN"]))')"
echo "== resources still tagged stackops.io/stack (deleted NAT gateways aside): $left"
[[ "$left" == 0 ]]
