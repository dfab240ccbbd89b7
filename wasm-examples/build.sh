#!/usr/bin/env bash
# Builds every example for wasm32-wasip2 into wasm-examples/target and copies
# the modules to /var/lib/regatta/examples/, where the manifests' file:// image
# URLs point. Idempotent; installs nothing but the wasm32-wasip2 target.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target=wasm32-wasip2
export CARGO_TARGET_DIR="$here/target"
out="$CARGO_TARGET_DIR/$target/release"
install_dir="${REGATTA_EXAMPLES_DIR:-/var/lib/regatta/examples}"

if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi

cargo build --manifest-path "$here/Cargo.toml" --release --target "$target" --workspace

# A cdylib is named with underscores; these go by their crate names.
cp -f "$out/http_proxy.wasm" "$out/http-proxy.wasm"
cp -f "$out/hello_p1.wasm" "$out/hello-p1.wasm"

mkdir -p "$install_dir"
for name in http-hello http-proxy sidecar pi crasher memhog spinner hello-p1; do
    # Replace by rename, so a node reading the old module never sees half a file.
    if ! cmp -s "$out/$name.wasm" "$install_dir/$name.wasm"; then
        cp -f "$out/$name.wasm" "$install_dir/.$name.wasm.tmp"
        mv -f "$install_dir/.$name.wasm.tmp" "$install_dir/$name.wasm"
    fi
    printf '%s\t%s\n' "$out/$name.wasm" "$install_dir/$name.wasm"
done
