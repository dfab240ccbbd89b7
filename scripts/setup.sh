#!/usr/bin/env bash
# Installs everything Regatta's demo, tests and benchmarks need on a fresh
# Debian machine of this kind. Idempotent: each step checks before it acts.
set -euo pipefail

need_apt=()
command -v kubectl >/dev/null || need_apt+=(kubectl)
command -v nft >/dev/null || need_apt+=(nftables)
command -v dig >/dev/null || need_apt+=(dnsutils)
command -v ip >/dev/null || need_apt+=(iproute2)
command -v curl >/dev/null || need_apt+=(curl)
command -v etcd >/dev/null || need_apt+=(etcd-server)
command -v protoc >/dev/null || need_apt+=(protobuf-compiler)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  echo "setup: adding the wasm32-wasip2 target"
  rustup target add wasm32-wasip2
fi

if ! command -v just >/dev/null; then
  echo "setup: installing just"
  cargo install --locked --quiet just
fi

if ! python3 -c 'import kubernetes, pytest' 2>/dev/null; then
  echo "setup: installing the Python kubernetes client and pytest"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore 'kubernetes>=31' pytest
fi
