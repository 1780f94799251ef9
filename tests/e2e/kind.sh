#!/usr/bin/env bash
# End to end on a real cluster, for machines with Docker, kind and helm:
# creates the kind cluster of kind-config.yaml, builds and loads the image,
# runs an AWS emulator in the cluster (moto by default, LocalStack with
# STACKOPS_E2E_AWS=localstack), installs the chart, applies both examples,
# waits until they are Ready, deletes them (the finalizer holds each until
# AWS is empty) and checks that nothing tagged by stackops is left.
#
#   tests/e2e/kind.sh                        # moto, cluster deleted at the end
#   KEEP_CLUSTER=1 tests/e2e/kind.sh         # keep the cluster to look around
#   STACKOPS_E2E_AWS=localstack tests/e2e/kind.sh
#
# LocalStack's free edition lacks RDS, ElastiCache, CloudFront and Auto
# Scaling: the examples cannot become Ready there without its paid edition
# (export LOCALSTACK_AUTH_TOKEN).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

cluster=stackops
emulator="${STACKOPS_E2E_AWS:-moto}"
timeout="${STACKOPS_E2E_TIMEOUT:-15m}"
image=stackops:e2e
for tool in docker kind helm; do
  command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done
venv="$(bash scripts/install-test-deps.sh | tail -n1)"   # kubectl, and boto3 for leftovers.py
kubectl() { "$venv/bin/kubectl" --context "kind-$cluster" "$@"; }

forward=""
cleanup() {
  [[ -n "$forward" ]] && kill "$forward" 2>/dev/null || true
  if [[ -z "${KEEP_CLUSTER:-}" ]]; then kind delete cluster --name "$cluster"; fi
}
trap cleanup EXIT

echo "== cluster"
kind get clusters | grep -qx "$cluster" || kind create cluster --config kind-config.yaml --wait 120s

echo "== image"
docker build -t "$image" .
kind load docker-image "$image" --name "$cluster"

echo "== AWS emulator: $emulator"
kubectl create namespace aws --dry-run=client -o yaml | kubectl apply -f -
if [[ "$emulator" == localstack ]]; then
  echo "   note: LocalStack's free edition lacks RDS, ElastiCache, CloudFront and Auto Scaling"
  if [[ -n "${LOCALSTACK_AUTH_TOKEN:-}" ]]; then
    kubectl -n aws create secret generic localstack-auth --from-literal=token="$LOCALSTACK_AUTH_TOKEN" \
      --dry-run=client -o yaml | kubectl apply -f -
  fi
  kubectl apply -f tests/e2e/localstack.yaml
  kubectl -n aws rollout status deployment/localstack --timeout=5m
else
  kubectl -n aws create configmap moto-launcher --from-file=scripts/moto_server.py --from-file=scripts/moto_prices.py \
    --dry-run=client -o yaml | kubectl apply -f -
  kubectl apply -f tests/e2e/aws-emulator.yaml
  kubectl -n aws rollout status deployment/moto --timeout=5m
fi

echo "== operator (helm install)"
kubectl create namespace stackops-system --dry-run=client -o yaml | kubectl apply -f -
# The emulators accept any key.
kubectl -n stackops-system create secret generic aws-creds \
  --from-literal=AWS_ACCESS_KEY_ID=e2e --from-literal=AWS_SECRET_ACCESS_KEY=e2e \
  --dry-run=client -o yaml | kubectl apply -f -
helm upgrade --install stackops charts/stackops --kube-context "kind-$cluster" \
  --namespace stackops-system \
  --set image.repository=stackops --set image.tag=e2e --set image.pullPolicy=Never \
  --set aws.endpointUrl=http://aws.aws.svc.cluster.local:5000 \
  --set aws.credentials.existingSecret=aws-creds \
  --set resyncSeconds=60 \
  --wait --timeout 5m
kubectl get lease stackops-leader -n stackops-system -o jsonpath='   leader: {.spec.holderIdentity}{"\n"}'

echo "== stacks"
kubectl apply -f examples/
regions="$(kubectl get -f examples/ -o jsonpath='{range .items[*]}{.spec.region}{"\n"}{end}' | sort -u)"
kubectl wait --for=condition=Ready -f examples/ --timeout="$timeout"
kubectl get stackops -A

echo "== teardown"
kubectl delete -f examples/ --timeout="$timeout"

echo "== leftovers (anything still tagged stackops.io/stack)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
kubectl -n aws port-forward svc/aws "$port:5000" >/dev/null &
forward=$!
for _ in $(seq 1 50); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
for region in $regions; do
  "$venv/bin/python" scripts/leftovers.py "http://127.0.0.1:$port" "$region"
done
echo "== passed: both examples went Ready and were torn down without leftovers"
