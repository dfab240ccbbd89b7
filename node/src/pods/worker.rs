//! One pod's life on this node: network, sandbox, containers with restarts,
//! status; and, when stopped, the cleanup of all of it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use regatta_api::k8s_openapi::api::core::v1::{Container, Pod};
use tokio_util::sync::CancellationToken;

use super::Ctx;
use super::spec::{self, PodFacts};
use super::status::{ContainerView, PodView, State};
use crate::agent::pods::pod_ref;
use crate::net::{PodNet, enter_netns, host_network_pod};
use crate::runtime::{ContainerRuntime, ContainerSpec, Pod as Sandbox};

/// A container that ran at least this long starts its back-off afresh.
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(600);

/// Shared between the pod's container tasks.
struct Shared {
    ctx: Arc<Ctx>,
    pod: Pod,
    view: Mutex<PodView>,
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut PodView)) {
        let status = {
            let mut v = self.view.lock().unwrap();
            f(&mut v);
            v.status()
        };
        self.ctx.sink.report(pod_ref(&self.pod), status);
    }

    fn update_container(&self, i: usize, f: impl FnOnce(&mut ContainerView)) {
        self.update(|v| f(&mut v.containers[i]));
    }

    fn uid(&self) -> &str {
        self.pod.metadata.uid.as_deref().unwrap_or_default()
    }

    fn full_name(&self) -> String {
        format!(
            "{}/{}",
            self.pod.metadata.namespace.as_deref().unwrap_or_default(),
            self.pod.metadata.name.as_deref().unwrap_or_default()
        )
    }

    /// `<data-dir>/pods/<ns>_<name>_<uid>`: the pod's logs.
    fn pod_dir(&self) -> PathBuf {
        let m = &self.pod.metadata;
        self.ctx.cfg.data_dir.join("pods").join(format!(
            "{}_{}_{}",
            m.namespace.as_deref().unwrap_or_default(),
            m.name.as_deref().unwrap_or_default(),
            self.uid()
        ))
    }

    /// `<data-dir>/volumes/<uid>`: the pod's emptyDirs, one directory each.
    fn volumes_dir(&self) -> PathBuf {
        self.ctx.cfg.data_dir.join("volumes").join(self.uid())
    }

    fn restart_policy(&self) -> &str {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.restart_policy.as_deref())
            .unwrap_or("Always")
    }
}

/// Sleeps `d` unless `stop` fires first; false when stopped.
async fn sleep_or_stop(d: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

/// Runs the pod until `stop`, then cleans up. Never returns before `stop`.
pub(crate) async fn run(ctx: Arc<Ctx>, pod: Pod, stop: CancellationToken) {
    let containers: Vec<Container> = pod
        .spec
        .as_ref()
        .map(|s| s.containers.clone())
        .unwrap_or_default();
    let scheduled_at = pod
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0)
        .unwrap_or_else(Utc::now);
    let view = PodView::new(
        scheduled_at,
        ctx.cfg.host_ip.clone(),
        containers
            .iter()
            .map(|c| ContainerView::new(&c.name, c.image.as_deref().unwrap_or_default()))
            .collect(),
    );
    let shared = Arc::new(Shared {
        ctx: ctx.clone(),
        pod,
        view: Mutex::new(view),
    });
    let name = shared.full_name();
    tracing::info!(pod = %name, uid = %shared.uid(), "starting pod");
    shared.update(|_| {});

    let net_and_sandbox = tokio::select! {
        _ = stop.cancelled() => None,
        r = make_sandbox(&shared) => Some(r),
    };
    let mut sandbox = None;
    if let Some((podnet, sb)) = net_and_sandbox {
        let sb = Arc::new(sb);
        sandbox = Some(sb.clone());
        let init_unsupported = shared
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.init_containers.as_ref())
            .is_some_and(|i| !i.is_empty());
        if init_unsupported {
            shared.update(|v| {
                for c in &mut v.containers {
                    c.state = State::waiting(
                        "CreateContainerConfigError",
                        Some("spec.initContainers are not supported yet".into()),
                    );
                }
            });
        } else {
            let mut set = tokio::task::JoinSet::new();
            for (i, c) in containers.into_iter().enumerate() {
                set.spawn(run_container(
                    shared.clone(),
                    sb.clone(),
                    podnet.clone(),
                    i,
                    c,
                    stop.clone(),
                ));
            }
            while let Some(r) = set.join_next().await {
                if let Err(e) = r {
                    tracing::error!(pod = %name, "container task failed: {e}");
                }
            }
        }
    }
    stop.cancelled().await;
    cleanup(&shared, sandbox).await;
    ctx.worker_done.notify_one();
}

/// The pod's netns (retried with back-off until it works) and its sandbox thread inside it.
async fn make_sandbox(shared: &Shared) -> (PodNet, Sandbox) {
    let ctx = &shared.ctx;
    let mut delay = Duration::from_millis(200);
    loop {
        let attempt = async {
            // hostNetwork: the host's netns and IP (nothing to make or enter).
            let podnet = match host_network_pod(&shared.pod, ctx.cfg.host_ip.as_deref()) {
                Some(host) => host,
                None => ctx.net.add_pod(shared.uid()).await,
            }
            .map_err(|e| e.to_string())?;
            shared.update(|v| v.pod_ip = Some(podnet.ip));
            let path = podnet.netns_path.clone();
            let pre_run: Option<crate::runtime::PreRun> = podnet
                .has_own_netns()
                .then(|| Box::new(move || enter_netns(&path)) as _);
            let sb = Sandbox::spawn(
                ctx.engine.clone(),
                shared.pod.metadata.name.clone().unwrap_or_default(),
                pre_run,
            )
            .await
            .map_err(|e| e.to_string())?;
            Ok::<_, String>((podnet, sb))
        };
        match attempt.await {
            Ok(r) => return r,
            Err(e) => {
                tracing::warn!(pod = %shared.full_name(), "creating the pod sandbox: {e}");
                shared.update(|v| {
                    for c in &mut v.containers {
                        c.state = State::waiting("ContainerCreating", Some(e.clone()));
                    }
                });
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// One container: pull, configure, run, restart per `restartPolicy`.
async fn run_container(
    shared: Arc<Shared>,
    sandbox: Arc<Sandbox>,
    podnet: PodNet,
    i: usize,
    c: Container,
    stop: CancellationToken,
) {
    let ctx = shared.ctx.clone();
    let image = c.image.clone().unwrap_or_default();
    let mut backoff = ctx.cfg.backoff_initial;
    let mut restarts: u32 = 0;
    loop {
        // Pull (a cache hit after the first time).
        let module = loop {
            let pulled = tokio::select! {
                _ = stop.cancelled() => return,
                r = ctx.engine.pull(&image) => r,
            };
            match pulled {
                Ok(m) => break m,
                Err(e) => {
                    shared.update_container(i, |cv| {
                        cv.state = State::waiting(e.reason(), Some(e.to_string()))
                    });
                    if !e.is_retryable() {
                        return;
                    }
                    if !sleep_or_stop(backoff, &stop).await {
                        return;
                    }
                    shared.update_container(i, |cv| {
                        cv.state = State::waiting("ImagePullBackOff", Some(e.to_string()))
                    });
                    backoff = (backoff * 2).min(ctx.cfg.backoff_max);
                }
            }
        };
        let image_id = module.image_id();
        shared.update_container(i, |cv| cv.image_id = Some(image_id));

        let built = build_spec(&shared, &podnet, &c, module, restarts);
        let spec = match built {
            Ok(s) => s,
            Err(msg) => {
                tracing::warn!(pod = %shared.full_name(), container = %c.name, "{msg}");
                shared.update_container(i, |cv| {
                    cv.state = State::waiting("CreateContainerConfigError", Some(msg))
                });
                return;
            }
        };
        let started_at = Utc::now();
        let result = match sandbox.start(spec) {
            Ok(handle) => {
                shared.update_container(i, |cv| cv.state = State::Running { started_at });
                tokio::select! {
                    _ = stop.cancelled() => {
                        handle.kill();
                        let _ = handle.wait().await;
                        return;
                    }
                    r = handle.wait() => r,
                }
            }
            Err(e) => Err(e),
        };
        let finished_at = Utc::now();
        let terminated = match &result {
            Ok(exit) => State::Terminated {
                exit_code: exit.exit_code(),
                reason: exit.reason().into(),
                message: exit.message().map(str::to_owned),
                started_at,
                finished_at,
            },
            // A host failure (log file, preopen, instantiation): kubelet's StartError.
            Err(e) => State::Terminated {
                exit_code: 128,
                reason: "StartError".into(),
                message: Some(e.to_string()),
                started_at,
                finished_at,
            },
        };
        let succeeded = matches!(result, Ok(ref e) if e.exit_code() == 0);
        let restart = match shared.restart_policy() {
            "Never" => false,
            "OnFailure" => !succeeded,
            _ => true,
        };
        tracing::info!(pod = %shared.full_name(), container = %c.name, ?result, restart, "container ended");
        if !restart {
            shared.update_container(i, |cv| cv.state = terminated);
            return;
        }
        if (finished_at - started_at).to_std().unwrap_or_default() >= BACKOFF_RESET_AFTER {
            backoff = ctx.cfg.backoff_initial;
        }
        let message = format!(
            "back-off {} restarting failed container={} pod={}",
            humanize(backoff),
            c.name,
            shared.full_name()
        );
        shared.update_container(i, |cv| {
            cv.last_state = Some(terminated);
            cv.state = State::waiting("CrashLoopBackOff", Some(message));
        });
        if !sleep_or_stop(backoff, &stop).await {
            return;
        }
        backoff = (backoff * 2).min(ctx.cfg.backoff_max);
        restarts += 1;
        shared.update_container(i, |cv| {
            cv.restart_count = restarts as i32;
            cv.state = State::waiting("ContainerCreating", None);
        });
    }
}

fn humanize(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn build_spec(
    shared: &Shared,
    podnet: &PodNet,
    c: &Container,
    module: Arc<crate::runtime::Compiled>,
    restart: u32,
) -> Result<ContainerSpec, String> {
    let facts = PodFacts {
        pod: &shared.pod,
        node_name: &shared.ctx.cfg.node_name,
        pod_ip: podnet.ip.to_string(),
        host_ip: shared.ctx.cfg.host_ip.clone().unwrap_or_default(),
    };
    let env = spec::env_for(c, &facts)?;
    let volumes = spec::volume_dirs(&shared.pod, &shared.volumes_dir())?;
    for dir in volumes.values() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("creating emptyDir {}: {e}", dir.display()))?;
    }
    let preopens = spec::mounts_for(c, &volumes)?;
    let log_dir = shared.pod_dir().join(&c.name);
    std::fs::create_dir_all(&log_dir)
        .map_err(|e| format!("creating log directory {}: {e}", log_dir.display()))?;
    let log = log_dir.join(format!("{restart}.log"));
    let limits = c.resources.as_ref().and_then(|r| r.limits.as_ref());
    let memory_limit = limits
        .and_then(|l| l.get("memory"))
        .map(|q| {
            let v = regatta_api::quantity::parse_quantity(&q.0)
                .map_err(|e| format!("container {:?}: resources.limits.memory: {e}", c.name))?;
            u64::try_from(v.value()).map_err(|_| {
                format!(
                    "container {:?}: resources.limits.memory: {} must be positive",
                    c.name, q.0
                )
            })
        })
        .transpose()?;
    Ok(ContainerSpec {
        name: c.name.clone(),
        module,
        argv: ContainerSpec::argv_for(
            &c.name,
            c.command.as_deref().unwrap_or_default(),
            c.args.as_deref().unwrap_or_default(),
        ),
        env,
        preopens,
        stdout: log.clone(),
        stderr: log,
        memory_limit,
        cpu_limit_millis: None,
        http_port: spec::http_port(c),
    })
}

/// Kills what runs, removes the netns and the pod's directories.
async fn cleanup(shared: &Shared, sandbox: Option<Arc<Sandbox>>) {
    let name = shared.full_name();
    if let Some(sb) = sandbox {
        sb.shutdown().await;
    }
    // Retry briefly: a netlink hiccup must not leak a netns.
    let mut delay = Duration::from_millis(100);
    for attempt in 0..5 {
        match shared.ctx.net.remove_pod(shared.uid()).await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(pod = %name, attempt, "removing the pod network: {e}");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
    for dir in [shared.pod_dir(), shared.volumes_dir()] {
        if let Err(e) = tokio::fs::remove_dir_all(&dir).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(pod = %name, "removing {}: {e}", dir.display());
        }
    }
    shared.ctx.sink.forget(shared.uid());
    // Stopped because the pod is being deleted (or already is): nothing of it
    // runs here any more, so the orchestrator may remove it.
    shared.ctx.sink.terminated(pod_ref(&shared.pod));
    tracing::info!(pod = %name, "pod stopped and cleaned up");
}
