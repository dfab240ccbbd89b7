//! The Wasm pod runtime (DESIGN §5): engine, images, pods, logs.
//!
//! Owns everything wasmtime: one [`NodeEngine`] per node (pooling allocator,
//! epoch ticker, on-disk compiled-module cache), image pulls
//! (`file://`, `http(s)://`, optional `@sha256:` pin), and [`Pod`]s — one OS
//! thread each, running a current-thread tokio runtime on which every
//! container of the pod is a task.
//!
//! The rest of the node sees only [`ContainerRuntime`] (start / wait / kill),
//! [`ContainerSpec`], [`ExitStatus`] and the error enums; no wasmtime type
//! leaks out of this module.
//!
//! Invariants:
//! - A guest outcome (exit code, trap, OOM, kill) is an [`ExitStatus`], never
//!   an error; [`RuntimeError`] and [`ImageError`] are host failures.
//! - Compilation never runs on a pod thread (it runs on tokio's blocking pool),
//!   and no pod thread blocks on anything but its own guests.
//!
//! May call: `net::enter_netns` only through the `pre_run` hook a caller
//! passes to [`Pod::spawn`].

mod cache;
mod cpu;
mod engine;
mod http;
mod image;
mod logs;
mod pod;
mod state;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;

pub use engine::{CacheStats, EngineConfig, EngineError, NodeEngine};
pub use image::{Compiled, ImageError, ImageRef, ModuleKind};
pub use logs::{LogFormatter, LogOptions};
pub use pod::{Handle, PipedStdio, Pod, PreRun};

/// What a container is asked to run. Built by the node from a pod's
/// container spec; everything here is already resolved (env values, volume
/// host paths, log file locations).
#[derive(Clone)]
pub struct ContainerSpec {
    /// The container's name within the pod.
    pub name: String,
    /// The pulled and compiled image.
    pub module: Arc<Compiled>,
    /// The full argv, as a container's ENTRYPOINT would see it
    /// (see [`ContainerSpec::argv_for`]).
    pub argv: Vec<String>,
    /// Environment variables in order.
    pub env: Vec<(String, String)>,
    /// Volume mounts, as preopened directories.
    pub preopens: Vec<Preopen>,
    /// Log file for this run of the container's stdout (created or appended).
    pub stdout: PathBuf,
    /// Log file for stderr; may be the same path as `stdout`.
    pub stderr: PathBuf,
    /// `limits.memory` in bytes: caps the linear memory of the container.
    /// `None` means the node's per-memory ceiling
    /// ([`EngineConfig::max_memory_bytes`]); larger values are clamped to it.
    pub memory_limit: Option<u64>,
    /// `limits.cpu` in millicores; `None` means unthrottled.
    pub cpu_limit_millis: Option<u32>,
    /// For `wasi:http` proxy components: the `containerPort` to serve
    /// HTTP/1.1 on (all addresses of the pod netns). Ignored for commands.
    pub http_port: Option<u16>,
}

impl ContainerSpec {
    /// The Kubernetes argv rule: `command ++ args` when `command` is set,
    /// else `[container name] ++ args` (a Wasm image has no ENTRYPOINT, so
    /// the container name stands in for `argv[0]`).
    pub fn argv_for(name: &str, command: &[String], args: &[String]) -> Vec<String> {
        let head: Vec<String> = if command.is_empty() {
            vec![name.to_string()]
        } else {
            command.to_vec()
        };
        head.into_iter().chain(args.iter().cloned()).collect()
    }
}

/// A directory made visible to the guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preopen {
    /// Directory on the host.
    pub host: PathBuf,
    /// Path the guest sees (`mountPath`).
    pub guest: String,
    /// `readOnly: true` → the guest may read but not create, write or delete.
    pub read_only: bool,
}

/// How a container run ended — the guest's outcome, not a node failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// The guest exited on its own: `_start`/`run` returned (code 0, or 1 for
    /// a p2 `run` returning `err`) or it called `proc_exit`/`exit(code)`.
    Exited(i32),
    /// A linear-memory growth past `limits.memory` was denied and the guest
    /// trapped afterwards (its allocator gives up), or instantiation needed
    /// more memory than the limit. Reported like the kernel OOM killer: 137.
    OOMKilled,
    /// Stopped by [`Handle::kill`] (pod deletion, failed liveness probe…).
    /// A guest cannot catch SIGTERM, so this is SIGKILL: 137.
    Killed,
    /// The guest trapped (unreachable, out-of-bounds access, stack overflow, a
    /// Rust panic with `panic=abort`…). Reported as a native process dying of
    /// SIGABRT would be: exit code 134.
    Trapped(String),
}

impl ExitStatus {
    /// The exit code Kubernetes shows in `containerStatuses[].state.terminated.exitCode`.
    pub fn exit_code(&self) -> i32 {
        match self {
            ExitStatus::Exited(code) => *code,
            ExitStatus::OOMKilled | ExitStatus::Killed => 137,
            ExitStatus::Trapped(_) => 134,
        }
    }

    /// The `terminated.reason` kubelet would report.
    pub fn reason(&self) -> &'static str {
        match self {
            ExitStatus::Exited(0) => "Completed",
            ExitStatus::OOMKilled => "OOMKilled",
            ExitStatus::Exited(_) | ExitStatus::Killed | ExitStatus::Trapped(_) => "Error",
        }
    }

    /// A human message for `terminated.message`, if there is one.
    pub fn message(&self) -> Option<&str> {
        match self {
            ExitStatus::Trapped(message) => Some(message),
            _ => None,
        }
    }
}

/// A host-side failure to run a container: the node's fault or the
/// environment's, never the guest's exit.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuntimeError {
    /// The pod's thread has stopped (the pod was shut down, or its `pre_run`
    /// hook failed), so nothing can be started in it.
    #[error("pod {pod}: sandbox is not running")]
    PodGone { pod: String },
    /// The pod thread could not be set up (thread spawn, tokio runtime, or
    /// the `pre_run` hook, e.g. entering the pod netns).
    #[error("pod {pod}: failed to set up the pod sandbox: {reason}")]
    Sandbox { pod: String, reason: String },
    /// A log file could not be opened.
    #[error("container {container}: cannot open log file {path}: {reason}")]
    Log {
        container: String,
        path: String,
        reason: String,
    },
    /// A volume's host directory could not be preopened.
    #[error("container {container}: cannot mount {host} at {guest}: {reason}")]
    Preopen {
        container: String,
        host: String,
        guest: String,
        reason: String,
    },
    /// The module could not be instantiated (an import the node does not
    /// provide, a pool slot limit reached…).
    #[error("container {container}: cannot instantiate image {digest}: {reason}")]
    Instantiate {
        container: String,
        digest: String,
        reason: String,
    },
    /// A `wasi:http` proxy could not serve: no `http_port`, or binding it failed.
    #[error("container {container}: cannot serve HTTP: {reason}")]
    Serve { container: String, reason: String },
}

/// The engine behind the pod runtime, as the rest of the node sees it
/// (runwasi's Instance/Engine split): start a container, then wait for it or
/// kill it. Implemented by [`Pod`].
pub trait ContainerRuntime {
    /// Starts `spec` as a new container run. Host failures during setup
    /// (log files, volumes, instantiation) surface from [`Handle::wait`].
    fn start(&self, spec: ContainerSpec) -> Result<Handle, RuntimeError>;
}
