#!/usr/bin/env bash
# First README command: set up, build, start `orchestrator up`, deploy the demo
# manifests, and keep running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash wasm-examples/build.sh
cargo build --workspace --bins
DATA_DIR=${DATA_DIR:-.regatta}
./target/debug/orchestrator up --data-dir "$DATA_DIR" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT INT TERM
export KUBECONFIG="$PWD/$DATA_DIR/kubeconfig"
for _ in $(seq 1 100); do
  if [ -f "$KUBECONFIG" ] && kubectl get --raw /readyz >/dev/null 2>&1; then break; fi
  kill -0 $pid 2>/dev/null || { echo "orchestrator exited" >&2; exit 1; }
  sleep 0.1
done
kubectl apply -f manifests/
echo
echo "Demo deployed. Try, in another shell:"
echo "  export KUBECONFIG=$KUBECONFIG"
echo "  kubectl get all -A"
echo "  kubectl describe deployment hello"
echo "  kubectl scale deployment hello --replicas=3"
echo "  kubectl get pods -w"
wait $pid
