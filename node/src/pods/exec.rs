//! `kubectl logs` and `kubectl exec` for the pods this node runs: the
//! registry of running pods (their sandbox and each container's latest run)
//! and the [`PodStreams`] service the node link calls.
//!
//! Owns the registry in [`Ctx::running`]: the worker records a container run
//! as it starts it ([`start_recorded`]) and drops the pod in its cleanup
//! ([`forget`]); nothing else writes it. Reads log files under
//! `<data-dir>/pods/` (never writes them). Knows nothing of QUIC.
//!
//! Invariants: a request is served only for a pod this node runs now, with
//! the uid the orchestrator named; an exec is a new run of the container's
//! last built spec (module, env, volumes, limits) with the request's argv, on
//! the pod's own sandbox thread (so in its netns), killed with the pod.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use regatta_api::k8s_openapi::api::core::v1::Pod;
use regatta_api::stream_protocol::{ExecExit, ExecRequest, LogsRequest, StreamFailure};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Ctx;
use crate::agent::streams::{ExecSession, PodStreams};
use crate::runtime::{
    ContainerRuntime, ContainerSpec, Handle, LogFormatter, LogOptions, ModuleKind, PipedStdio,
    Pod as Sandbox, RuntimeError,
};

/// How often a followed log file is checked for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(100);
/// Bytes buffered per exec pipe.
const PIPE_BYTES: usize = 64 * 1024;

/// A container's latest run.
#[derive(Clone)]
struct ContainerRun {
    template: ContainerSpec,
    restart: u32,
    handle: Handle,
}

/// A pod this node runs.
struct RunningPod {
    uid: String,
    sandbox: Arc<Sandbox>,
    containers: Mutex<HashMap<String, ContainerRun>>,
    /// Cancelled when the pod is cleaned up: followers stop.
    gone: CancellationToken,
}

/// Running pods by (namespace, name).
#[derive(Default)]
pub(crate) struct Running {
    pods: Mutex<HashMap<(String, String), Arc<RunningPod>>>,
}

fn key_of(pod: &Pod) -> (String, String) {
    (
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
    )
}

/// Starts `spec` on `sandbox` (as `sandbox.start` would) and records it as
/// the container's latest run, the template of its execs.
pub(super) fn start_recorded(
    ctx: &Ctx,
    pod: &Pod,
    sandbox: &Arc<Sandbox>,
    spec: ContainerSpec,
    restart: u32,
) -> Result<Handle, RuntimeError> {
    let template = spec.clone();
    let handle = sandbox.start(spec)?;
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let entry = {
        let mut pods = ctx.running.pods.lock().unwrap();
        let e = pods.entry(key_of(pod)).or_insert_with(|| {
            Arc::new(RunningPod {
                uid: uid.clone(),
                sandbox: sandbox.clone(),
                containers: Mutex::default(),
                gone: CancellationToken::new(),
            })
        });
        if e.uid != uid {
            // A pod of the same name from before, not yet cleaned up.
            e.gone.cancel();
            *e = Arc::new(RunningPod {
                uid,
                sandbox: sandbox.clone(),
                containers: Mutex::default(),
                gone: CancellationToken::new(),
            });
        }
        e.clone()
    };
    entry.containers.lock().unwrap().insert(
        template.name.clone(),
        ContainerRun {
            template,
            restart,
            handle: handle.clone(),
        },
    );
    Ok(handle)
}

/// The pod is being cleaned up: no more logs or execs for it.
pub(super) fn forget(ctx: &Ctx, pod: &Pod) {
    let mut pods = ctx.running.pods.lock().unwrap();
    let key = key_of(pod);
    if pods
        .get(&key)
        .is_some_and(|p| Some(p.uid.as_str()) == pod.metadata.uid.as_deref())
        && let Some(p) = pods.remove(&key)
    {
        p.gone.cancel();
    }
}

/// The [`PodStreams`] the node link calls.
pub struct Streams {
    ctx: Arc<Ctx>,
}

impl Streams {
    pub(super) fn new(ctx: Arc<Ctx>) -> Streams {
        Streams { ctx }
    }

    fn run_of(
        &self,
        pod: &regatta_api::node_protocol::PodRef,
        container: &str,
    ) -> Result<(Arc<RunningPod>, ContainerRun), StreamFailure> {
        let running = self
            .ctx
            .running
            .pods
            .lock()
            .unwrap()
            .get(&(pod.namespace.clone(), pod.name.clone()))
            .filter(|p| p.uid == pod.uid)
            .cloned();
        let waiting = || {
            StreamFailure::bad_request(format!(
                "container {container:?} in pod {:?} is waiting to start: ContainerCreating",
                pod.name
            ))
        };
        let Some(running) = running else {
            return Err(waiting());
        };
        let run = running.containers.lock().unwrap().get(container).cloned();
        match run {
            Some(run) => Ok((running, run)),
            None => Err(waiting()),
        }
    }
}

/// `<dir>/<restart>.log` next to the run's log file.
fn log_file(run: &ContainerRun, restart: u32) -> PathBuf {
    run.template.stdout.with_file_name(format!("{restart}.log"))
}

impl PodStreams for Streams {
    fn logs(&self, req: LogsRequest) -> Result<mpsc::Receiver<Vec<u8>>, StreamFailure> {
        let (pod, run) = self.run_of(&req.pod, &req.container)?;
        let (path, live) = if req.previous {
            if run.restart == 0 {
                return Err(StreamFailure::bad_request(format!(
                    "previous terminated container {:?} in pod {:?} not found",
                    req.container, req.pod.name
                )));
            }
            (log_file(&run, run.restart - 1), None)
        } else {
            (log_file(&run, run.restart), Some(run.handle.clone()))
        };
        let opts = LogOptions {
            timestamps: req.timestamps,
            tail_lines: req.tail_lines,
            since: req.since_time,
            limit_bytes: req.limit_bytes,
        };
        let follow = if req.follow { live } else { None };
        let (tx, rx) = mpsc::channel(16);
        let gone = pod.gone.clone();
        tokio::spawn(async move {
            if let Err(e) = stream_log(&path, opts, follow, gone, &tx).await {
                tracing::debug!(path = %path.display(), error = %e, "log stream ended");
            }
        });
        Ok(rx)
    }

    fn exec(&self, req: ExecRequest) -> Result<ExecSession, StreamFailure> {
        let (pod, run) = self.run_of(&req.pod, &req.container)?;
        if run.template.module.kind() == ModuleKind::HttpProxy {
            return Err(StreamFailure::bad_request(format!(
                "cannot exec in container {:?} of pod {:?}: its image is a wasi:http proxy component, which has no command to run",
                req.container, req.pod.name
            )));
        }
        let mut spec = run.template.clone();
        spec.argv = req.command.clone();
        let (stdin_r, stdin_w) = tokio::io::duplex(PIPE_BYTES);
        let (stdout_r, stdout_w) = tokio::io::duplex(PIPE_BYTES);
        let (stderr_r, stderr_w) = tokio::io::duplex(PIPE_BYTES);
        let stdio = PipedStdio {
            stdin: req
                .stdin
                .then(|| Box::new(stdin_r) as Box<dyn tokio::io::AsyncRead + Send + Sync + Unpin>),
            stdout: Box::new(stdout_w),
            // With a tty the API server sends stderr on the stdout channel.
            stderr: Box::new(stderr_w),
        };
        let handle = pod
            .sandbox
            .start_piped(spec, stdio)
            .map_err(|e| StreamFailure::internal(e.to_string()))?;
        tracing::info!(pod = %format!("{}/{}", req.pod.namespace, req.pod.name), container = %req.container, argv = ?req.command, "exec");
        let waiter = handle.clone();
        let killer = handle.clone();
        Ok(ExecSession {
            stdin: req
                .stdin
                .then(|| Box::new(stdin_w) as Box<dyn tokio::io::AsyncWrite + Send + Unpin>),
            stdout: Box::new(stdout_r),
            stderr: Box::new(stderr_r),
            exit: Box::pin(async move {
                match waiter.wait().await {
                    Ok(status) => ExecExit::Code(status.exit_code()),
                    Err(e) => ExecExit::Error(e.to_string()),
                }
            }),
            kill: Box::new(move || killer.kill()),
        })
    }
}

/// Sends the log file's lines (formatted) to `tx`; with `follow`, keeps
/// reading new lines until that run is over or the pod is gone.
async fn stream_log(
    path: &Path,
    opts: LogOptions,
    follow: Option<Handle>,
    gone: CancellationToken,
    tx: &mpsc::Sender<Vec<u8>>,
) -> std::io::Result<()> {
    let tail = opts.tail_lines;
    let mut fmt = LogFormatter::new(opts);
    let mut file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        // The run started but wrote nothing yet: an empty log.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && follow.is_some() => loop {
            if gone.is_cancelled() || tx.is_closed() {
                return Ok(());
            }
            if let Ok(f) = tokio::fs::File::open(path).await {
                break f;
            }
            if follow.as_ref().is_some_and(|h| h.try_wait().is_some()) {
                return Ok(());
            }
            tokio::time::sleep(FOLLOW_POLL).await;
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut pending = Vec::new();
    let mut first = true;
    loop {
        // Whether the run was over before this read: then this read is the last.
        let over = match &follow {
            None => true,
            Some(h) => h.try_wait().is_some() || gone.is_cancelled(),
        };
        file.read_to_end(&mut pending).await?;
        let complete = pending
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let mut start = 0;
        if first {
            first = false;
            if let Some(n) = tail {
                start = LogFormatter::tail_start(&pending[..complete], n);
            }
        }
        let mut out = Vec::new();
        fmt.format(&pending[start..complete], &mut out);
        pending.drain(..complete);
        if !out.is_empty() && tx.send(out).await.is_err() {
            return Ok(());
        }
        if over || fmt.exhausted() {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
            _ = tx.closed() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(path: &Path, opts: LogOptions) -> String {
        let (tx, mut rx) = mpsc::channel(16);
        stream_log(path, opts, None, CancellationToken::new(), &tx)
            .await
            .unwrap();
        drop(tx);
        let mut out = Vec::new();
        while let Some(c) = rx.recv().await {
            out.extend(c);
        }
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn a_finished_log_is_read_whole_tailed_and_limited() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        std::fs::write(
            &path,
            "2026-01-01T00:00:01.000000000Z stdout a\n\
             2026-01-01T00:00:02.000000000Z stderr b\n\
             2026-01-01T00:00:03.000000000Z stdout c\n\
             2026-01-01T00:00:04.000000000Z stdout unterminated",
        )
        .unwrap();
        assert_eq!(read_all(&path, LogOptions::default()).await, "a\nb\nc\n");
        let tail = LogOptions {
            tail_lines: Some(2),
            ..Default::default()
        };
        assert_eq!(read_all(&path, tail).await, "b\nc\n");
        let limit = LogOptions {
            limit_bytes: Some(3),
            ..Default::default()
        };
        assert_eq!(read_all(&path, limit).await, "a\nb");
        // A run that wrote nothing yet has an empty log.
        assert_eq!(
            read_all(&dir.path().join("1.log"), LogOptions::default()).await,
            ""
        );
    }
}
