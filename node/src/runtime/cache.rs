//! Loading compiled artifacts back from the on-disk module cache: the one
//! place in the runtime that calls wasmtime's `unsafe` deserialization.
//!
//! Invariant: only files this node wrote are loaded — the cache directory
//! belongs to the node, entries are named by the Wasm's sha256 plus the
//! engine's compatibility hash, and they are created by write-to-temp +
//! rename, never rewritten in place.
#![allow(unsafe_code)]

use std::path::Path;

use wasmtime::Module;
use wasmtime::component::Component;

use super::image::{Artifact, WasmHeader};

/// Maps a cache entry produced by `Module::serialize`/`Component::serialize`.
pub(super) fn load(
    engine: &wasmtime::Engine,
    path: &Path,
    header: WasmHeader,
) -> Result<Artifact, String> {
    // SAFETY: `deserialize_file` trusts the file to be wasmtime's own output
    // for a compatible engine and to stay unchanged while mapped. Both hold:
    // the node wrote this file itself (`engine::store_in_cache`) from the Wasm
    // whose sha256 names it, the name also carries this engine's
    // `precompile_compatibility_hash` (and wasmtime re-checks its version and
    // flags header on load), and entries are only ever replaced by rename,
    // which leaves an existing mapping on the old inode untouched.
    let loaded = unsafe {
        match header {
            WasmHeader::Core => Module::deserialize_file(engine, path).map(Artifact::Core),
            WasmHeader::Component => {
                Component::deserialize_file(engine, path).map(Artifact::Component)
            }
        }
    };
    loaded.map_err(|e| format!("{e:#}"))
}
