//! The node's one wasmtime engine: configuration, epoch ticker, linkers,
//! compilation and the compiled-module cache.
//!
//! Owns: the `wasmtime::Engine` (async, pooling allocator sized from
//! `max_pods`, epoch interruption), the single ticker thread that advances
//! the epoch, the WASI linkers shared by every pod, the on-disk cache of
//! compiled artifacts and an in-memory map digest → [`Compiled`] so pods
//! running the same image share one compiled copy.
//!
//! Invariants:
//! - Compilation and cache I/O run on tokio's blocking pool, never on the
//!   calling (async or pod) thread.
//! - A cache file is named by the module's sha256 and the engine's
//!   `precompile_compatibility_hash`, written to a temporary name and renamed
//!   into place, and never modified afterwards (see `cache.rs`).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker as ComponentLinker};
use wasmtime::{InstanceAllocationStrategy, Linker, Module, PoolingAllocationConfig};

use super::image::{self, Artifact, Compiled, ImageError, ImageRef, WasmHeader};
use super::state::{CommandState, P1State};

/// Node-level knobs of the pod runtime.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The node's pod capacity (`--max-pods`, Kubernetes default 110; we size
    /// for 1000). The pooling allocator's slots are sized from it.
    pub max_pods: u32,
    /// Headroom per pod: instances, memories, tables and stacks are
    /// `max_pods × containers_per_pod`. Covers sidecars, exec probes and
    /// concurrent `wasi:http` requests.
    pub containers_per_pod: u32,
    /// Ceiling of any one linear memory, and the default `limits.memory`.
    /// Each pooled memory reserves this much address space plus a guard, so
    /// keep it near real limits: 256 MiB × 8000 slots is ~2 TiB of the
    /// 128 TiB user address space.
    pub max_memory_bytes: u64,
    /// How often the epoch advances: the granularity of CPU throttling, of
    /// time-slicing between the containers of one pod, and of `kill()`
    /// reaching a busy guest.
    pub epoch_tick: Duration,
    /// Where compiled artifacts are cached; `None` disables the disk cache.
    pub cache_dir: Option<PathBuf>,
    /// Largest image accepted (bytes of Wasm before compilation).
    pub max_image_bytes: u64,
    /// Address `wasi:http` proxies listen on inside the pod netns (with the
    /// container's port). All addresses by default; tests use loopback.
    pub http_bind: std::net::IpAddr,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_pods: 1000,
            containers_per_pod: 4,
            max_memory_bytes: 256 << 20,
            epoch_tick: Duration::from_millis(10),
            cache_dir: None,
            max_image_bytes: 256 << 20,
            http_bind: std::net::Ipv4Addr::UNSPECIFIED.into(),
        }
    }
}

/// The engine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("invalid pod runtime configuration: {0}")]
    Config(String),
    #[error("cannot create the module cache directory {path}: {reason}")]
    CacheDir { path: String, reason: String },
    #[error("cannot start the epoch ticker thread: {0}")]
    Ticker(String),
}

/// Counters for the compiled-module cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Artifacts shared from memory (another pod already had the image).
    pub memory_hits: u64,
    /// Artifacts loaded from the disk cache.
    pub disk_hits: u64,
    /// Modules compiled from scratch.
    pub compiles: u64,
}

#[derive(Default)]
struct Counters {
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    compiles: AtomicU64,
}

/// The node's Wasm engine; one per node, shared by every pod (`Arc`).
pub struct NodeEngine {
    engine: wasmtime::Engine,
    config: EngineConfig,
    compat: String,
    p1_linker: Linker<P1State>,
    component_linker: ComponentLinker<CommandState>,
    http: reqwest::Client,
    compiled: Mutex<HashMap<String, Weak<Compiled>>>,
    counters: Counters,
    ticker: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
}

impl NodeEngine {
    /// Builds the engine and starts its epoch ticker.
    pub fn new(config: EngineConfig) -> Result<Arc<NodeEngine>, EngineError> {
        if config.max_pods == 0 || config.containers_per_pod == 0 {
            return Err(EngineError::Config(
                "max_pods and containers_per_pod must be at least 1".into(),
            ));
        }
        if config.epoch_tick.is_zero() {
            return Err(EngineError::Config("epoch_tick must be positive".into()));
        }
        let page = 64 << 10;
        if config.max_memory_bytes < page || config.max_memory_bytes > (4 << 30) {
            return Err(EngineError::Config(format!(
                "max_memory_bytes: Invalid value: {}: must be between 64 KiB and 4 GiB",
                config.max_memory_bytes
            )));
        }
        let slots = config
            .max_pods
            .checked_mul(config.containers_per_pod)
            .ok_or_else(|| EngineError::Config("max_pods × containers_per_pod overflows".into()))?;

        let mut pool = PoolingAllocationConfig::new();
        // A wasip2 component holds a handful of core instances (the program,
        // the preview1 adapter, shims); memories and tables likewise come
        // in small multiples of the component count.
        pool.total_component_instances(slots)
            .total_core_instances(slots.saturating_mul(8))
            .total_memories(slots.saturating_mul(2))
            .total_tables(slots.saturating_mul(4))
            .total_stacks(slots)
            .max_memory_size(config.max_memory_bytes as usize)
            // Return freed slots to the kernel promptly but keep a few warm
            // for the next instantiation.
            .max_unused_warm_slots(100);

        let mut wasm_config = wasmtime::Config::new();
        wasm_config
            // Guests are WASI programs in linear memory: no GC heaps (the
            // build has no collector), so no GC-typed proposals either.
            .gc_support(false)
            .wasm_gc(false)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            // Reserve exactly the per-memory ceiling (bounds checks stay
            // cheap with the guard; memories never move in the pool).
            .memory_reservation(config.max_memory_bytes)
            .memory_reservation_for_growth(0)
            .memory_guard_size(32 << 20)
            .memory_may_move(false);
        let engine = wasmtime::Engine::new(&wasm_config)
            .map_err(|e| EngineError::Config(format!("wasmtime: {e:#}")))?;

        let compat = compat_hash(&engine);
        if let Some(dir) = &config.cache_dir {
            std::fs::create_dir_all(dir).map_err(|e| EngineError::CacheDir {
                path: dir.display().to_string(),
                reason: e.to_string(),
            })?;
        }

        let mut p1_linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut p1_linker, |s: &mut P1State| &mut s.wasi)
            .map_err(|e| EngineError::Config(format!("linking WASI p1: {e:#}")))?;
        let mut component_linker = ComponentLinker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut component_linker)
            .map_err(|e| EngineError::Config(format!("linking WASI p2: {e:#}")))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut component_linker)
            .map_err(|e| EngineError::Config(format!("linking wasi:http: {e:#}")))?;

        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| EngineError::Config(format!("HTTP client: {e}")))?;

        let ticker = spawn_ticker(engine.clone(), config.epoch_tick)?;
        Ok(Arc::new(NodeEngine {
            engine,
            config,
            compat,
            p1_linker,
            component_linker,
            http,
            compiled: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            ticker: Some(ticker),
        }))
    }

    /// The configuration this engine was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Cache counters since the engine was built.
    pub fn cache_stats(&self) -> CacheStats {
        CacheStats {
            memory_hits: self.counters.memory_hits.load(Ordering::Relaxed),
            disk_hits: self.counters.disk_hits.load(Ordering::Relaxed),
            compiles: self.counters.compiles.load(Ordering::Relaxed),
        }
    }

    /// Pulls `image` (`file://…` or `http(s)://…`, optionally `@sha256:<hex>`),
    /// verifies its pin, and compiles it (or loads it from the cache).
    pub async fn pull(&self, image: &str) -> Result<Arc<Compiled>, ImageError> {
        let reference = ImageRef::parse(image)?;
        if let Some(pinned) = reference.digest()
            && let Some(shared) = self.shared(pinned)
        {
            return Ok(shared);
        }
        let bytes = image::fetch(&reference, &self.http, self.config.max_image_bytes).await?;
        let digest = hex::encode(Sha256::digest(&bytes));
        if let Some(pinned) = reference.digest()
            && pinned != digest
        {
            return Err(ImageError::DigestMismatch {
                image: image.to_string(),
                expected: format!("sha256:{pinned}"),
                actual: format!("sha256:{digest}"),
            });
        }
        self.compile_with_digest(image, bytes, digest).await
    }

    /// Compiles Wasm bytes that did not come from [`NodeEngine::pull`]
    /// (`source` names them in errors).
    pub async fn compile(&self, source: &str, bytes: Vec<u8>) -> Result<Arc<Compiled>, ImageError> {
        let digest = hex::encode(Sha256::digest(&bytes));
        self.compile_with_digest(source, bytes, digest).await
    }

    async fn compile_with_digest(
        &self,
        source: &str,
        bytes: Vec<u8>,
        digest: String,
    ) -> Result<Arc<Compiled>, ImageError> {
        if let Some(shared) = self.shared(&digest) {
            return Ok(shared);
        }
        let header = WasmHeader::detect(&bytes).map_err(|reason| ImageError::NotWasm {
            image: source.to_string(),
            reason,
        })?;
        let engine = self.engine.clone();
        let cache_file = self
            .config
            .cache_dir
            .as_ref()
            .map(|dir| cache_path(dir, &digest, &self.compat, header));
        let artifact_source = source.to_string();
        let (artifact, from_disk) = tokio::task::spawn_blocking(move || {
            load_or_compile(&engine, &bytes, header, cache_file.as_deref())
        })
        .await
        .map_err(|e| ImageError::Compile {
            image: artifact_source.clone(),
            reason: format!("compiler task failed: {e}"),
        })?
        .map_err(|reason| ImageError::Compile {
            image: artifact_source,
            reason,
        })?;
        if from_disk {
            self.counters.disk_hits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.counters.compiles.fetch_add(1, Ordering::Relaxed);
        }
        let compiled = Arc::new(Compiled::new(
            &self.engine,
            source,
            digest.clone(),
            artifact,
        )?);
        let mut map = self.compiled.lock().unwrap();
        map.retain(|_, weak| weak.strong_count() > 0);
        // Another pull of the same image may have raced us: keep the first.
        if let Some(existing) = map.get(&digest).and_then(Weak::upgrade) {
            return Ok(existing);
        }
        map.insert(digest, Arc::downgrade(&compiled));
        Ok(compiled)
    }

    fn shared(&self, digest: &str) -> Option<Arc<Compiled>> {
        let found = self
            .compiled
            .lock()
            .unwrap()
            .get(digest)
            .and_then(Weak::upgrade);
        if found.is_some() {
            self.counters.memory_hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    pub(crate) fn wasmtime(&self) -> &wasmtime::Engine {
        &self.engine
    }

    pub(crate) fn p1_linker(&self) -> &Linker<P1State> {
        &self.p1_linker
    }

    pub(crate) fn component_linker(&self) -> &ComponentLinker<CommandState> {
        &self.component_linker
    }

    /// Test helper: compiles WAT text (core module or component) without the
    /// image path, which only accepts binary Wasm.
    #[cfg(test)]
    pub(crate) fn compile_wat(&self, name: &str, wat: &str) -> Arc<Compiled> {
        let artifact = if wat.trim_start().starts_with("(component") {
            Artifact::Component(Component::new(&self.engine, wat).unwrap())
        } else {
            Artifact::Core(Module::new(&self.engine, wat).unwrap())
        };
        let digest = hex::encode(Sha256::digest(wat.as_bytes()));
        Arc::new(Compiled::new(&self.engine, name, digest, artifact).unwrap())
    }
}

impl Drop for NodeEngine {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.ticker.take() {
            drop(stop);
            let _ = thread.join();
        }
    }
}

/// One thread per engine advances the epoch every `tick`; it stops when the
/// engine (the sender) is dropped.
fn spawn_ticker(
    engine: wasmtime::Engine,
    tick: Duration,
) -> Result<(mpsc::Sender<()>, JoinHandle<()>), EngineError> {
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                engine.increment_epoch();
            }
        })
        .map_err(|e| EngineError::Ticker(e.to_string()))?;
    Ok((stop, thread))
}

/// A stable hex rendering of `precompile_compatibility_hash` (sha256 of what
/// it feeds a hasher, so it does not depend on std's unstable `DefaultHasher`).
fn compat_hash(engine: &wasmtime::Engine) -> String {
    struct ShaHasher(Sha256);
    impl Hasher for ShaHasher {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut hasher = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..8])
}

fn cache_path(dir: &Path, digest: &str, compat: &str, header: WasmHeader) -> PathBuf {
    let kind = match header {
        WasmHeader::Core => "module",
        WasmHeader::Component => "component",
    };
    dir.join(format!("{digest}-{compat}.{kind}.cwasm"))
}

/// Runs on the blocking pool. Returns the artifact and whether it came from
/// the disk cache. A cache file that fails to load is replaced.
fn load_or_compile(
    engine: &wasmtime::Engine,
    bytes: &[u8],
    header: WasmHeader,
    cache_file: Option<&Path>,
) -> Result<(Artifact, bool), String> {
    if let Some(path) = cache_file
        && path.exists()
    {
        match super::cache::load(engine, path, header) {
            Ok(artifact) => return Ok((artifact, true)),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "discarding unreadable module cache entry");
                let _ = std::fs::remove_file(path);
            }
        }
    }
    let artifact = match header {
        WasmHeader::Core => {
            Artifact::Core(Module::new(engine, bytes).map_err(|e| format!("{e:#}"))?)
        }
        WasmHeader::Component => {
            Artifact::Component(Component::new(engine, bytes).map_err(|e| format!("{e:#}"))?)
        }
    };
    if let Some(path) = cache_file
        && let Err(e) = store_in_cache(&artifact, path)
    {
        // The cache is an optimisation: a full disk must not fail the pull.
        tracing::warn!(path = %path.display(), error = %e, "cannot write module cache entry");
    }
    Ok((artifact, false))
}

fn store_in_cache(artifact: &Artifact, path: &Path) -> Result<(), String> {
    let serialized = match artifact {
        Artifact::Core(module) => module.serialize(),
        Artifact::Component(component) => component.serialize(),
    }
    .map_err(|e| format!("{e:#}"))?;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let unique = NEXT.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp-{}-{unique}", std::process::id()));
    std::fs::write(&tmp, &serialized).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        e.to_string()
    })
}
