#!/usr/bin/env bash
# First README command: set up, build, start `orchestrator up`, deploy the demo
# manifests, and keep running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash wasm-examples/build.sh
cargo build --workspace --bins
DATA_DIR=${DATA_DIR:-.regatta}
case "$DATA_DIR" in /*) ;; *) DATA_DIR="$PWD/$DATA_DIR" ;; esac
./target/debug/orchestrator up --data-dir "$DATA_DIR" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT INT TERM
export KUBECONFIG="$DATA_DIR/kubeconfig"
ready=
for _ in $(seq 1 300); do
  if [ -f "$KUBECONFIG" ] && kubectl get --raw /readyz >/dev/null 2>&1; then ready=1; break; fi
  kill -0 $pid 2>/dev/null || { echo "orchestrator exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$ready" ] || { echo "the API server did not become ready in 30 s" >&2; exit 1; }
kubectl apply -f manifests/
echo
echo "Demo deployed. Try, in another shell:"
echo "  export KUBECONFIG=$KUBECONFIG"
echo "  kubectl get all -A"
echo "  kubectl describe deployment hello -n demo"
echo "  kubectl scale deployment hello -n demo --replicas=3"
echo "  kubectl get deployments -n demo -w"
wait $pid
