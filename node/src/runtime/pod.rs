//! Pods: one OS thread per pod running a current-thread tokio runtime, every
//! container of the pod a task on it.
//!
//! Owns: the pod thread's life (the `pre_run` hook first — entering the pod
//! netns — so every socket a guest opens lives in the pod's network
//! namespace and `localhost` is shared by its containers; threads the
//! runtime spawns for blocking work are created by the pod thread and
//! inherit the netns), and each container run: log files, WASI context,
//! instantiation, the call into the guest, and its [`ExitStatus`].
//!
//! Invariants:
//! - Every container task is tracked by the pod's `TaskTracker`;
//!   [`Pod::shutdown`] kills them, waits for them, then stops the thread.
//! - A kill reaches a guest blocked in a host call at once (its future is
//!   dropped) and a guest computing at its next epoch deadline.

use std::io;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wasmtime::Store;
use wasmtime_wasi::cli::{AsyncStdinStream, AsyncStdoutStream, StdinStream, StdoutStream};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::engine::NodeEngine;
use super::image::{Artifact, ModuleKind};
use super::logs::{GuestOutput, LogSink, Stream};
use super::state::{CommandState, Common, P1State, configure_store};
use super::{ContainerRuntime, ContainerSpec, ExitStatus, RuntimeError};

/// Runs first on a new pod thread, before any guest: e.g.
/// `|| regatta_node::net::enter_netns(&path)`.
pub type PreRun = Box<dyn FnOnce() -> io::Result<()> + Send>;

type RunResult = Result<ExitStatus, RuntimeError>;

/// A pod sandbox: its thread, runtime and containers.
pub struct Pod {
    name: String,
    engine: Arc<NodeEngine>,
    runtime: tokio::runtime::Handle,
    /// Parent of every container's kill token.
    kill_all: CancellationToken,
    /// Tells the pod thread to stop.
    stop: CancellationToken,
    tracker: TaskTracker,
    thread: Mutex<Option<(std::thread::JoinHandle<()>, oneshot::Receiver<()>)>>,
}

impl Pod {
    /// Starts the pod thread, runs `pre_run` on it, and returns once the pod
    /// is ready to start containers (or the hook failed).
    pub async fn spawn(
        engine: Arc<NodeEngine>,
        name: impl Into<String>,
        pre_run: Option<PreRun>,
    ) -> Result<Pod, RuntimeError> {
        let name = name.into();
        let sandbox_error = |reason: String| RuntimeError::Sandbox {
            pod: name.clone(),
            reason,
        };
        let stop = CancellationToken::new();
        let (ready_tx, ready_rx) = oneshot::channel::<Result<tokio::runtime::Handle, String>>();
        let (exited_tx, exited_rx) = oneshot::channel::<()>();
        let thread_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name(pod_thread_name(&name))
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("tokio runtime: {e}")));
                        return;
                    }
                };
                if let Some(hook) = pre_run
                    && let Err(e) = hook()
                {
                    let _ = ready_tx.send(Err(format!("pre-run hook: {e}")));
                    return;
                }
                if ready_tx.send(Ok(runtime.handle().clone())).is_ok() {
                    runtime.block_on(thread_stop.cancelled());
                }
                // Dropping the runtime cancels whatever is left (nothing,
                // after `shutdown`) and joins its blocking threads.
                drop(runtime);
                let _ = exited_tx.send(());
            })
            .map_err(|e| sandbox_error(format!("spawning the pod thread: {e}")))?;
        let runtime = match ready_rx.await {
            Ok(Ok(runtime)) => runtime,
            Ok(Err(reason)) => return Err(sandbox_error(reason)),
            Err(_) => return Err(sandbox_error("the pod thread exited during setup".into())),
        };
        Ok(Pod {
            name,
            engine,
            runtime,
            kill_all: CancellationToken::new(),
            stop,
            tracker: TaskTracker::new(),
            thread: Mutex::new(Some((thread, exited_rx))),
        })
    }

    /// The pod's name, as given to [`Pod::spawn`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `f` on the pod thread, so the sockets it opens live in the pod
    /// netns (probes and lifecycle hooks connect from inside the pod). The
    /// task is tracked like a container's: [`Pod::shutdown`] waits for it.
    pub fn spawn_on_pod<F>(&self, f: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn_on(f, &self.runtime)
    }

    /// Kills every container, waits for their tasks to finish (log files
    /// closed) and stops the pod thread. Idempotent.
    pub async fn shutdown(&self) {
        self.kill_all.cancel();
        self.tracker.close();
        self.tracker.wait().await;
        self.stop.cancel();
        let thread = self.thread.lock().unwrap().take();
        if let Some((thread, exited)) = thread {
            let _ = exited.await;
            // The thread has signalled its last act, so this join is immediate.
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        // Without `shutdown`, still stop the guests and let the thread exit.
        self.kill_all.cancel();
        self.stop.cancel();
    }
}

fn pod_thread_name(pod: &str) -> String {
    // Linux keeps 15 bytes of a thread name.
    let mut name = format!("pod-{pod}");
    let mut end = name.len().min(15);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name.truncate(end);
    name
}

impl ContainerRuntime for Pod {
    fn start(&self, spec: ContainerSpec) -> Result<Handle, RuntimeError> {
        self.start_with(spec, None)
    }
}

impl Pod {
    /// Starts `spec` with its stdin/stdout/stderr connected to `stdio`
    /// instead of the log files (`spec.stdout`/`spec.stderr` are ignored):
    /// `kubectl exec` and exec probes. Runs on the pod thread, in the pod
    /// netns, tracked and killed like any container run. A `wasi:http`
    /// proxy has no command to run: its run fails with
    /// [`RuntimeError::Instantiate`].
    pub fn start_piped(
        &self,
        spec: ContainerSpec,
        stdio: PipedStdio,
    ) -> Result<Handle, RuntimeError> {
        self.start_with(spec, Some(stdio))
    }

    fn start_with(
        &self,
        spec: ContainerSpec,
        stdio: Option<PipedStdio>,
    ) -> Result<Handle, RuntimeError> {
        if self.stop.is_cancelled() || self.tracker.is_closed() {
            return Err(RuntimeError::PodGone {
                pod: self.name.clone(),
            });
        }
        let kill = self.kill_all.child_token();
        let (result_tx, result_rx) = watch::channel(None);
        let container = spec.name.clone();
        let engine = self.engine.clone();
        let task_kill = kill.clone();
        self.tracker.spawn_on(
            async move {
                let result = match stdio {
                    None => run_container(&engine, spec, task_kill).await,
                    Some(stdio) => run_piped(&engine, spec, stdio, task_kill).await,
                };
                let _ = result_tx.send(Some(result));
            },
            &self.runtime,
        );
        Ok(Handle {
            pod: self.name.clone(),
            container,
            kill,
            result: result_rx,
        })
    }
}

/// One container run: wait for it, or kill it. Cheap to clone.
#[derive(Clone)]
pub struct Handle {
    pod: String,
    container: String,
    kill: CancellationToken,
    result: watch::Receiver<Option<RunResult>>,
}

impl Handle {
    /// The container's name.
    pub fn container(&self) -> &str {
        &self.container
    }

    /// Stops the guest: at once if it is waiting on I/O, at its next epoch
    /// deadline if it is computing. Its status becomes [`ExitStatus::Killed`]
    /// unless it had already exited.
    pub fn kill(&self) {
        self.kill.cancel();
    }

    /// Waits until the run is over.
    pub async fn wait(&self) -> RunResult {
        let mut result = self.result.clone();
        match result.wait_for(Option::is_some).await {
            Ok(done) => done.clone().expect("wait_for returned a finished run"),
            // The task was dropped without reporting: its pod thread went away.
            Err(_) => Err(RuntimeError::PodGone {
                pod: self.pod.clone(),
            }),
        }
    }

    /// The outcome if the run is already over.
    pub fn try_wait(&self) -> Option<RunResult> {
        self.result.borrow().clone()
    }
}

/// Runs on the pod thread.
async fn run_container(
    engine: &Arc<NodeEngine>,
    spec: ContainerSpec,
    kill: CancellationToken,
) -> RunResult {
    let open = |path: &std::path::Path, stream| {
        let container = spec.name.clone();
        let shown = path.display().to_string();
        let path = path.to_path_buf();
        async move {
            LogSink::open(&path, stream)
                .await
                .map_err(|e| RuntimeError::Log {
                    container,
                    path: shown,
                    reason: e.to_string(),
                })
        }
    };
    let stdout = open(&spec.stdout, Stream::Stdout).await?;
    let stderr = match open(&spec.stderr, Stream::Stderr).await {
        Ok(sink) => sink,
        Err(e) => {
            stdout.close().await;
            return Err(e);
        }
    };
    let run = async {
        let stdio = || WasiStdio::logs(&stdout, &stderr);
        match spec.module.kind() {
            ModuleKind::P1Command => run_p1(engine, &spec, stdio(), kill.clone()).await,
            ModuleKind::P2Command => run_p2(engine, &spec, stdio(), kill.clone()).await,
            ModuleKind::HttpProxy => {
                super::http::serve(engine, &spec, &stdout, &stderr, kill.clone()).await
            }
        }
    };
    let result = tokio::select! {
        // A guest waiting on I/O never reaches an epoch check: drop it here.
        biased;
        () = kill.cancelled() => Ok(ExitStatus::Killed),
        result = run => result,
    };
    stdout.close().await;
    stderr.close().await;
    result
}

/// Runs on the pod thread: a container run on pipes instead of log files.
async fn run_piped(
    engine: &Arc<NodeEngine>,
    spec: ContainerSpec,
    stdio: PipedStdio,
    kill: CancellationToken,
) -> RunResult {
    let kind = spec.module.kind();
    if kind == ModuleKind::HttpProxy {
        return Err(RuntimeError::Instantiate {
            container: spec.name.clone(),
            digest: spec.module.image_id(),
            reason: "a wasi:http proxy component has no command to run".into(),
        });
    }
    // Built here, on the pod thread: the pipes' worker tasks run on it.
    let wasi_stdio = WasiStdio {
        stdin: stdio
            .stdin
            .map(|r| Arc::new(AsyncStdinStream::new(r)) as Arc<dyn StdinStream + Sync>),
        stdout: Arc::new(AsyncStdoutStream::new(PIPE_BUDGET, stdio.stdout)),
        stderr: Arc::new(AsyncStdoutStream::new(PIPE_BUDGET, stdio.stderr)),
    };
    let run = async {
        match kind {
            ModuleKind::P1Command => run_p1(engine, &spec, wasi_stdio, kill.clone()).await,
            _ => run_p2(engine, &spec, wasi_stdio, kill.clone()).await,
        }
    };
    tokio::select! {
        biased;
        () = kill.cancelled() => Ok(ExitStatus::Killed),
        result = run => result,
    }
}

/// Bytes a piped stdout/stderr buffers before the guest's writes wait.
const PIPE_BUDGET: usize = 64 * 1024;

/// Where an exec run's stdio goes: the caller's ends of pipes
/// (e.g. [`tokio::io::duplex`]: dropping an end is EOF for the other). EOF on `stdout`/`stderr` tells the
/// reader that the run is over; `stdin: None` is an empty stdin.
pub struct PipedStdio {
    pub stdin: Option<Box<dyn AsyncRead + Send + Sync + Unpin>>,
    pub stdout: Box<dyn AsyncWrite + Send + Sync + Unpin>,
    pub stderr: Box<dyn AsyncWrite + Send + Sync + Unpin>,
}

/// The WASI side of a run's stdio.
#[derive(Clone)]
pub(super) struct WasiStdio {
    stdin: Option<Arc<dyn StdinStream + Sync>>,
    stdout: Arc<dyn StdoutStream + Sync>,
    stderr: Arc<dyn StdoutStream + Sync>,
}

impl WasiStdio {
    fn logs(stdout: &LogSink, stderr: &LogSink) -> WasiStdio {
        WasiStdio {
            stdin: None,
            stdout: Arc::new(stdout.stream()),
            stderr: Arc::new(stderr.stream()),
        }
    }
}

/// The limit actually enforced: `limits.memory`, at most the pool's ceiling.
pub(super) fn memory_limit(engine: &NodeEngine, spec: &ContainerSpec) -> usize {
    let ceiling = engine.config().max_memory_bytes;
    spec.memory_limit.unwrap_or(ceiling).min(ceiling) as usize
}

/// Builds the WASI context; on the blocking pool when there are directories
/// to preopen (filesystem I/O, possibly on a slow volume).
pub(super) async fn wasi_builder(
    spec: &ContainerSpec,
    stdout: GuestOutput,
    stderr: GuestOutput,
) -> Result<WasiCtxBuilder, RuntimeError> {
    let stdio = WasiStdio {
        stdin: None,
        stdout: Arc::new(stdout),
        stderr: Arc::new(stderr),
    };
    wasi_builder_with(spec, stdio).await
}

async fn wasi_builder_with(
    spec: &ContainerSpec,
    stdio: WasiStdio,
) -> Result<WasiCtxBuilder, RuntimeError> {
    if spec.preopens.is_empty() {
        return build_wasi(spec, stdio);
    }
    let spec = spec.clone();
    let container = spec.name.clone();
    tokio::task::spawn_blocking(move || build_wasi(&spec, stdio))
        .await
        .map_err(|e| RuntimeError::Preopen {
            container,
            host: String::new(),
            guest: String::new(),
            reason: format!("setup task failed: {e}"),
        })?
}

fn build_wasi(spec: &ContainerSpec, stdio: WasiStdio) -> Result<WasiCtxBuilder, RuntimeError> {
    let mut builder = WasiCtxBuilder::new();
    if let Some(stdin) = stdio.stdin {
        builder.stdin(stdin);
    }
    builder
        .args(&spec.argv)
        .envs(&spec.env)
        .stdout(stdio.stdout)
        .stderr(stdio.stderr)
        .inherit_network()
        .allow_tcp(true)
        .allow_udp(true)
        .allow_ip_name_lookup(true);
    for preopen in &spec.preopens {
        let perms = if preopen.read_only {
            FsPerms::ReadOnly
        } else {
            FsPerms::ReadWrite
        };
        builder
            .preopened_dir(&preopen.host, &preopen.guest, perms)
            .map_err(|e| RuntimeError::Preopen {
                container: spec.name.clone(),
                host: preopen.host.display().to_string(),
                guest: preopen.guest.clone(),
                reason: format!("{e:#}"),
            })?;
    }
    Ok(builder)
}

pub(super) fn instantiate_error(
    spec: &ContainerSpec,
    common: &Common,
    error: &wasmtime::Error,
) -> RunResult {
    if common.memory_denied() {
        // The module's initial memory is larger than `limits.memory`.
        return Ok(ExitStatus::OOMKilled);
    }
    Err(RuntimeError::Instantiate {
        container: spec.name.clone(),
        digest: spec.module.image_id(),
        reason: format!("{error:#}"),
    })
}

async fn run_p1(
    engine: &NodeEngine,
    spec: &ContainerSpec,
    stdio: WasiStdio,
    kill: CancellationToken,
) -> RunResult {
    let Artifact::Core(module) = &spec.module.artifact else {
        unreachable!("a P1Command is a core module");
    };
    let wasi = wasi_builder_with(spec, stdio).await?.build_p1();
    let common = Common::new(memory_limit(engine, spec), spec.cpu_limit_millis, kill);
    let mut store = Store::new(engine.wasmtime(), P1State { wasi, common });
    configure_store(&mut store);
    let instance = match engine
        .p1_linker()
        .instantiate_async(&mut store, module)
        .await
    {
        Ok(instance) => instance,
        Err(e) => return instantiate_error(spec, &store.data().common, &e),
    };
    let start = match instance.get_typed_func::<(), ()>(&mut store, "_start") {
        Ok(start) => start,
        Err(e) => return instantiate_error(spec, &store.data().common, &e),
    };
    Ok(match start.call_async(&mut store, ()).await {
        Ok(()) => ExitStatus::Exited(0),
        Err(e) => store.data().common.outcome_of_error(&e),
    })
}

async fn run_p2(
    engine: &NodeEngine,
    spec: &ContainerSpec,
    stdio: WasiStdio,
    kill: CancellationToken,
) -> RunResult {
    let Artifact::Component(component) = &spec.module.artifact else {
        unreachable!("a P2Command is a component");
    };
    let wasi = wasi_builder_with(spec, stdio).await?.build();
    let common = Common::new(memory_limit(engine, spec), spec.cpu_limit_millis, kill);
    let mut store = Store::new(engine.wasmtime(), CommandState::new(wasi, common));
    configure_store(&mut store);
    let pre = match engine
        .component_linker()
        .instantiate_pre(component)
        .and_then(CommandPre::new)
    {
        Ok(pre) => pre,
        Err(e) => return instantiate_error(spec, &store.data().common, &e),
    };
    let command = match pre.instantiate_async(&mut store).await {
        Ok(command) => command,
        Err(e) => return instantiate_error(spec, &store.data().common, &e),
    };
    Ok(match command.wasi_cli_run().call_run(&mut store).await {
        Ok(Ok(())) => ExitStatus::Exited(0),
        Ok(Err(())) => ExitStatus::Exited(1),
        Err(e) => store.data().common.outcome_of_error(&e),
    })
}
