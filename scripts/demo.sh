#!/usr/bin/env bash
# First README command: set up, build, start `orchestrator up` (control plane
# plus an embedded node named n1), deploy the demo manifests, wait for the bare
# demo Pod to run, and keep running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash wasm-examples/build.sh
cargo build --workspace --bins
DATA_DIR=${DATA_DIR:-.regatta}
case "$DATA_DIR" in /*) ;; *) DATA_DIR="$PWD/$DATA_DIR" ;; esac
./target/debug/orchestrator up --data-dir "$DATA_DIR" --node-name n1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT INT TERM
export KUBECONFIG="$DATA_DIR/kubeconfig"
ready=
for _ in $(seq 1 300); do
  if [ -f "$KUBECONFIG" ] && kubectl get --raw /readyz >/dev/null 2>&1; then ready=1; break; fi
  kill -0 $pid 2>/dev/null || { echo "orchestrator exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$ready" ] || { echo "the cluster (API and node n1) did not become ready in 30 s" >&2; exit 1; }
kubectl apply -f manifests/
# There is no Deployment controller yet: the bare Pod (manifests/25-hello-pod.yaml,
# nodeName n1) is the one that runs.
kubectl wait -n demo --for=condition=Ready pod/hello-pod --timeout=60s
ip=$(kubectl get pod hello-pod -n demo -o jsonpath='{.status.podIP}')
echo
echo "Demo deployed; pod demo/hello-pod runs on node n1 at $ip:"
curl -s -m 5 "http://$ip:8080/" || true
echo
echo "Try, in another shell:"
echo "  export KUBECONFIG=$KUBECONFIG"
echo "  kubectl get nodes -o wide"
echo "  kubectl get pods -n demo -o wide"
echo "  curl http://$ip:8080/                  # name and IP from the downward API, greeting from a ConfigMap"
echo "  curl http://$ip:8080/shared            # what the sidecar wrote into the shared emptyDir"
echo "  curl http://$ip:8080/file/index.html   # a configMap volume; kubectl edit cm hello-config -n demo, then again"
echo "  kubectl logs -f hello-pod -n demo -c sidecar"
echo "  kubectl exec hello-pod -n demo -c web -- env"
echo "  kubectl describe pod hello-pod -n demo  # conditions, probes, Events"
echo "  sudo ip netns list                      # one netns per pod"
echo "  kubectl get all -A"
echo "  kubectl describe deployment hello -n demo   # stored; no Deployment controller yet"
echo "  kubectl delete pod hello-pod -n demo        # the node stops it and removes its netns"
wait $pid
