# Every developer task has a recipe. `just --list` shows them.

# Set up, build, start `orchestrator up` with the demo deployed.
demo:
    bash scripts/demo.sh

# Set up and run every test (what CI runs).
test:
    bash scripts/test.sh

# Install what the project needs (idempotent).
setup:
    bash scripts/setup.sh

build:
    cargo build --workspace --all-targets

fmt:
    cargo fmt --all

lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Benchmarks (not tests): print ratios against peers run side by side.
bench-store:
    cargo run --release -p regatta-bench --bin store-bench

bench-api:
    cargo build --release -p regatta-orchestrator
    cargo run --release -p regatta-bench --bin api-bench

# Run the control plane only.
serve *ARGS:
    cargo run -p regatta-orchestrator --bin orchestrator -- serve {{ARGS}}

# Node benchmark (root): create->Running p50/p99 vs the netns+sandbox floor; 1,000 idle pods' RSS and time.
bench-node *ARGS:
    cargo build --release -p regatta-orchestrator -p regatta-node -p regatta-bench
    ./target/release/node-bench {{ARGS}}
