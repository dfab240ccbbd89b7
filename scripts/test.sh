#!/usr/bin/env bash
# Second README command: set up, build once, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
bash wasm-examples/build.sh
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast
python3 -m pytest -q tests/python
