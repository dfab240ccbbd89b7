//! One pod's life on this node: network, sandbox, init containers in order,
//! then the app containers with their hooks, probes and restarts; status;
//! and, when stopped, graceful termination and the cleanup of all of it.
//!
//! Structure (kubelet's pod worker, reduced to one task per pod):
//! - [`run`]: sandbox → [`run_init_containers`] (each to completion, in
//!   order) → one [`run_container`] task per app container → wait for
//!   [`Termination`] → [`cleanup`].
//! - [`run_container`]: the restart loop of one container of either kind:
//!   pull, [`build_spec`], [`run_once`], back-off per `restartPolicy`.
//! - [`run_once`]: one run: start, `postStart`, probes (`probes::supervise`),
//!   until the guest exits, a liveness/startup probe kills it, or the pod
//!   stops (`preStop` bounded by the grace period, then kill at once: a guest
//!   cannot catch SIGTERM, DESIGN §5).
//!
//! Invariants: every status change goes through [`Shared::update`], so the
//! reported status always reflects the whole view; nothing of a pod outlives
//! its worker's [`cleanup`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use regatta_api::k8s_openapi::api::core::v1::{Container, Pod};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::lifecycle::{self, Hooks};
use super::probes::{self, Change, ContainerProbes, ProbeObserver, Runner};
use super::spec::{self, PodFacts};
use super::status::{ContainerView, PodView, State};
use super::{Ctx, EventKind};
use crate::agent::pods::pod_ref;
use crate::net::{PodNet, enter_netns, host_network_pod};
use crate::runtime::{ContainerSpec, ExitStatus, Handle, Pod as Sandbox};

/// A container that ran at least this long starts its back-off afresh.
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(600);
/// kubelet's default `terminationGracePeriodSeconds`.
const DEFAULT_GRACE: Duration = Duration::from_secs(30);
/// A `postStart` hook has no timeout of its own in kubelet; this only keeps
/// deadlines finite.
const POST_START_LIMIT: Duration = Duration::from_secs(24 * 3600);

/// The request to stop a pod worker, and the deadline its containers'
/// `preStop` hooks must meet. A later request may only bring the deadline
/// forward (as deleting a pod again with a shorter grace period does).
pub(crate) struct Termination {
    token: CancellationToken,
    /// The pod's `terminationGracePeriodSeconds` (kubelet's default 30 s).
    pod_grace: Duration,
    /// `None` until requested.
    deadline: watch::Sender<Option<Instant>>,
}

impl Termination {
    pub fn new(pod: &Pod) -> Arc<Termination> {
        let pod_grace = pod
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .map(|s| Duration::from_secs(s.max(0) as u64))
            .unwrap_or(DEFAULT_GRACE);
        Arc::new(Termination {
            token: CancellationToken::new(),
            pod_grace,
            deadline: watch::Sender::new(None),
        })
    }

    /// Stops the worker; `grace` is `metadata.deletionGracePeriodSeconds`
    /// when the pod is being deleted, `None` for the pod's own period, zero
    /// to stop at once (node shutdown). Repeating it only ever shortens.
    pub fn request(&self, grace: Option<Duration>) {
        let deadline = Instant::now() + grace.unwrap_or(self.pod_grace);
        self.deadline.send_if_modified(|d| match d {
            Some(old) if *old <= deadline => false,
            _ => {
                *d = Some(deadline);
                true
            }
        });
        self.token.cancel();
    }

    pub fn is_requested(&self) -> bool {
        self.token.is_cancelled()
    }

    async fn requested(&self) {
        self.token.cancelled().await
    }

    /// Cancelled once the stop is requested.
    fn token(&self) -> &CancellationToken {
        &self.token
    }
}

/// Which container of the pod: `spec.initContainers[i]` or `spec.containers[i]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Init(usize),
    App(usize),
}

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

    fn update_container(&self, slot: Slot, f: impl FnOnce(&mut ContainerView)) {
        self.update(|v| match slot {
            Slot::Init(i) => f(&mut v.init_containers[i]),
            Slot::App(i) => f(&mut v.containers[i]),
        });
    }

    fn event(&self, kind: EventKind, reason: &str, message: String) {
        tracing::debug!(pod = %self.full_name(), reason, "{message}");
        self.ctx
            .sink
            .event(pod_ref(&self.pod), kind, reason, message);
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

    /// kubelet's `format.Pod`: `name_namespace(uid)`, as its messages name a pod.
    fn kubelet_name(&self) -> String {
        format!(
            "{}_{}({})",
            self.pod.metadata.name.as_deref().unwrap_or_default(),
            self.pod.metadata.namespace.as_deref().unwrap_or_default(),
            self.uid()
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

/// Sleeps `d` unless the pod stops first; false when stopped.
async fn sleep_or_stop(d: Duration, term: &Termination) -> bool {
    tokio::select! {
        _ = term.requested() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

/// Runs the pod until `term`, then cleans up. Never returns before `term`.
pub(crate) async fn run(ctx: Arc<Ctx>, pod: Pod, term: Arc<Termination>) {
    let spec = pod.spec.clone().unwrap_or_default();
    let containers: Vec<Container> = spec.containers.clone();
    let init_containers: Vec<Container> = spec.init_containers.clone().unwrap_or_default();
    let scheduled_at = pod
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0)
        .unwrap_or_else(Utc::now);
    // kubelet shows every container as PodInitializing while init containers exist.
    let waiting = if init_containers.is_empty() {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    let views = |cs: &[Container]| {
        cs.iter()
            .map(|c| ContainerView::new(&c.name, c.image.as_deref().unwrap_or_default(), waiting))
            .collect()
    };
    let mut view = PodView::new(
        scheduled_at,
        ctx.cfg.host_ip.clone(),
        spec.restart_policy.as_deref().unwrap_or("Always"),
        views(&init_containers),
        views(&containers),
    );
    // The API server set it at creation; it never changes (Kubernetes' rule).
    view.qos_class = pod
        .status
        .as_ref()
        .and_then(|s| s.qos_class.clone())
        .or_else(|| {
            serde_json::to_value(&pod)
                .ok()
                .map(|v| regatta_api::defaults::pod_qos_class(&v).to_string())
        });
    let shared = Arc::new(Shared {
        ctx: ctx.clone(),
        pod,
        view: Mutex::new(view),
    });
    let name = shared.full_name();
    tracing::info!(pod = %name, uid = %shared.uid(), "starting pod");
    shared.update(|_| {});

    let net_and_sandbox = tokio::select! {
        _ = term.requested() => None,
        r = make_sandbox(&shared) => Some(r),
    };
    let mut sandbox = None;
    if let Some((podnet, sb)) = net_and_sandbox {
        let sb = Arc::new(sb);
        sandbox = Some(sb.clone());
        let stop = term.token();
        let mounted =
            super::volumes::mount_all(&ctx, &shared.pod, &shared.volumes_dir(), stop, |e| {
                shared.update(|v| {
                    for c in v.containers.iter_mut().chain(v.init_containers.iter_mut()) {
                        c.state = State::waiting("ContainerCreating", Some(e.to_string()));
                    }
                })
            })
            .await;
        let refresher = tokio::spawn(super::volumes::keep_fresh(
            ctx.clone(),
            shared.pod.clone(),
            shared.volumes_dir(),
            stop.clone(),
        ));
        if mounted && run_init_containers(&shared, &sb, &podnet, init_containers, &term).await {
            let mut set = tokio::task::JoinSet::new();
            for (i, c) in containers.into_iter().enumerate() {
                set.spawn(run_container(
                    shared.clone(),
                    sb.clone(),
                    podnet.clone(),
                    Slot::App(i),
                    c,
                    term.clone(),
                ));
            }
            while let Some(r) = set.join_next().await {
                if let Err(e) = r {
                    tracing::error!(pod = %name, "container task failed: {e}");
                }
            }
        }
        term.requested().await;
        let _ = refresher.await;
    }
    term.requested().await;
    cleanup(&shared, sandbox).await;
    ctx.worker_done.notify_one();
}

/// Runs the init containers one after another, each to completion; true
/// when all completed (the app containers may start).
async fn run_init_containers(
    shared: &Arc<Shared>,
    sb: &Arc<Sandbox>,
    podnet: &PodNet,
    init_containers: Vec<Container>,
    term: &Arc<Termination>,
) -> bool {
    // Sidecars (restartable init containers) would run beside the app
    // containers; refuse them rather than run them as plain init containers.
    if let Some((i, c)) = init_containers
        .iter()
        .enumerate()
        .find(|(_, c)| c.restart_policy.as_deref() == Some("Always"))
    {
        let msg = format!(
            "spec.initContainers[{i}].restartPolicy: Unsupported value: \"Always\": sidecar containers (restartable init containers) are not supported yet"
        );
        tracing::warn!(pod = %shared.full_name(), container = %c.name, "{msg}");
        shared.update_container(Slot::Init(i), |cv| {
            cv.state = State::waiting("CreateContainerConfigError", Some(msg))
        });
        return false;
    }
    for (i, c) in init_containers.into_iter().enumerate() {
        let end = run_container(
            shared.clone(),
            sb.clone(),
            podnet.clone(),
            Slot::Init(i),
            c,
            term.clone(),
        )
        .await;
        if end != End::Succeeded {
            return false;
        }
    }
    true
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
                    for c in v.init_containers.iter_mut().chain(&mut v.containers) {
                        c.state = State::waiting("ContainerCreating", Some(e.clone()));
                    }
                });
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// How a container's restart loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// Exited 0 and is not restarted.
    Succeeded,
    /// Failed and is not restarted (`restartPolicy: Never`).
    Failed,
    /// The pod is stopping.
    Stopped,
    /// Cannot run (bad image, bad config): waits with a reason until the pod stops.
    Stuck,
}

/// One container's life: pull, configure, run, restart per `restartPolicy`
/// (an init container is never restarted once it succeeded).
async fn run_container(
    shared: Arc<Shared>,
    sandbox: Arc<Sandbox>,
    podnet: PodNet,
    slot: Slot,
    c: Container,
    term: Arc<Termination>,
) -> End {
    let ctx = shared.ctx.clone();
    let image = c.image.clone().unwrap_or_default();
    let mut pull_backoff = ctx.cfg.backoff_initial;
    // `None`: the next restart is immediate (kubelet restarts a container
    // the first time at once, then backs off 10 s, 20 s, … up to 5 min).
    let mut backoff: Option<Duration> = None;
    let mut restarts: u32 = 0;
    loop {
        // Pull (a cache hit after the first time).
        let module = loop {
            let pulled = tokio::select! {
                _ = term.requested() => return End::Stopped,
                r = ctx.engine.pull(&image) => r,
            };
            match pulled {
                Ok(m) => break m,
                Err(e) => {
                    shared.update_container(slot, |cv| {
                        cv.state = State::waiting(e.reason(), Some(e.to_string()))
                    });
                    shared.event(EventKind::Warning, "Failed", e.to_string());
                    if !e.is_retryable() {
                        return End::Stuck;
                    }
                    // ErrImagePull for the failed attempt, then ImagePullBackOff
                    // for the rest of the wait, as kubelet's next syncs show it.
                    let first = pull_backoff.min(Duration::from_secs(1));
                    if !sleep_or_stop(first, &term).await {
                        return End::Stopped;
                    }
                    shared.update_container(slot, |cv| {
                        cv.state = State::waiting(
                            "ImagePullBackOff",
                            Some(format!("Back-off pulling image {image:?}: {e}")),
                        )
                    });
                    shared.event(
                        EventKind::Normal,
                        "BackOff",
                        format!("Back-off pulling image {image:?}"),
                    );
                    if !sleep_or_stop(pull_backoff - first, &term).await {
                        return End::Stopped;
                    }
                    pull_backoff = (pull_backoff * 2).min(ctx.cfg.backoff_max);
                }
            }
        };
        let image_id = module.image_id();
        shared.update_container(slot, |cv| cv.image_id = Some(image_id));
        shared.event(
            EventKind::Normal,
            "Pulled",
            format!("Container image {image:?} already present on machine"),
        );

        let pod_ip = IpAddr::V4(podnet.ip);
        // A missing ConfigMap or Secret may appear: retry on every change of
        // them (and every 10 s), as kubelet's sync loop does.
        let mut desired = ctx.desired();
        let (spec, probes, hooks) = loop {
            let seen = super::sources::version(&desired.borrow_and_update());
            let configured =
                build_spec(&shared, &podnet, &c, module.clone(), restarts).and_then(|spec| {
                    // Init containers have neither probes nor hooks (API validation).
                    if matches!(slot, Slot::Init(_)) {
                        return Ok((spec, ContainerProbes::default(), Hooks::default()));
                    }
                    Ok((
                        spec,
                        ContainerProbes::of(&c, pod_ip)?,
                        Hooks::of(&c, pod_ip)?,
                    ))
                });
            match configured {
                Ok(s) => break s,
                Err(msg) => {
                    tracing::warn!(pod = %shared.full_name(), container = %c.name, "{msg}");
                    shared.event(EventKind::Warning, "Failed", format!("Error: {msg}"));
                    shared.update_container(slot, |cv| {
                        cv.state = State::waiting("CreateContainerConfigError", Some(msg))
                    });
                    let wait = Duration::from_secs(10);
                    if !super::volumes::wait_for_change(&mut desired, term.token(), seen, wait)
                        .await
                    {
                        return End::Stopped;
                    }
                }
            }
        };
        let started_at = Utc::now();
        let ran = run_once(
            &shared, &sandbox, slot, &c, spec, restarts, &probes, &hooks, &term,
        )
        .await;
        let Some(result) = ran else {
            return End::Stopped;
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
        let restart = match (slot, shared.restart_policy()) {
            (_, "Never") => false,
            (Slot::Init(_), _) | (Slot::App(_), "OnFailure") => !succeeded,
            _ => true,
        };
        tracing::info!(pod = %shared.full_name(), container = %c.name, ?result, restart, "container ended");
        if !restart {
            shared.update_container(slot, |cv| cv.state = terminated);
            return if succeeded {
                End::Succeeded
            } else {
                End::Failed
            };
        }
        if (finished_at - started_at).to_std().unwrap_or_default() >= BACKOFF_RESET_AFTER {
            backoff = None;
        }
        if let Some(delay) = backoff {
            let message = format!(
                "back-off {} restarting failed container={} pod={}",
                humanize(delay),
                c.name,
                shared.kubelet_name()
            );
            shared.update_container(slot, |cv| {
                cv.last_state = Some(terminated);
                cv.state = State::waiting("CrashLoopBackOff", Some(message));
            });
            shared.event(
                EventKind::Warning,
                "BackOff",
                format!(
                    "Back-off restarting failed container {} in pod {}",
                    c.name,
                    shared.kubelet_name()
                ),
            );
            if !sleep_or_stop(delay, &term).await {
                return End::Stopped;
            }
            backoff = Some((delay * 2).min(ctx.cfg.backoff_max));
        } else {
            shared.update_container(slot, |cv| cv.last_state = Some(terminated));
            backoff = Some(ctx.cfg.backoff_initial);
        }
        restarts += 1;
        // An init container waiting to run again reads as `Init:<i>/<n>`.
        let waiting = match slot {
            Slot::Init(_) => "PodInitializing",
            Slot::App(_) => "ContainerCreating",
        };
        shared.update_container(slot, |cv| {
            cv.restart_count = restarts as i32;
            cv.state = State::waiting(waiting, None);
        });
    }
}

/// Kills the run when dropped, so no exit path leaves a guest behind.
struct KillOnDrop(Handle);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.0.kill();
    }
}

/// Probe results and `Unhealthy` events of one container run, into the view.
struct Observer<'a> {
    shared: &'a Shared,
    slot: Slot,
}

impl ProbeObserver for Observer<'_> {
    fn change(&self, change: Change) {
        self.shared.update_container(self.slot, |cv| match change {
            Change::Started => cv.started = true,
            Change::Ready(ready) => cv.ready = ready,
        });
    }

    fn unhealthy(&self, message: String) {
        self.shared.event(EventKind::Warning, "Unhealthy", message);
    }
}

/// One run of a container: start it, run `postStart`, then watch it with its
/// probes until it exits (its result), a liveness or startup probe kills it
/// (`Killed`), or the pod stops (`None`, after `preStop` and the kill).
#[allow(clippy::too_many_arguments)]
async fn run_once(
    shared: &Shared,
    sandbox: &Arc<Sandbox>,
    slot: Slot,
    c: &Container,
    spec: ContainerSpec,
    restart: u32,
    probes: &ContainerProbes,
    hooks: &Hooks,
    term: &Termination,
) -> Option<Result<ExitStatus, crate::runtime::RuntimeError>> {
    let runner = Runner::new(
        sandbox.clone(),
        spec.clone(),
        shared.pod_dir().join(".exec"),
    );
    let handle = match super::exec::start_recorded(&shared.ctx, &shared.pod, sandbox, spec, restart)
    {
        Ok(h) => KillOnDrop(h),
        Err(e) => return Some(Err(e)),
    };
    let handle = &handle.0;
    let started = Instant::now();
    shared.event(
        EventKind::Normal,
        "Created",
        format!("Created container: {}", c.name),
    );
    shared.event(
        EventKind::Normal,
        "Started",
        format!("Started container {}", c.name),
    );

    if let Some(h) = &hooks.post_start {
        let pod_name = shared.kubelet_name();
        let hook = lifecycle::run_hook(&runner, h, &c.name, &pod_name, POST_START_LIMIT);
        tokio::select! {
            biased;
            _ = term.requested() => {
                stop_container(shared, &runner, hooks, c, handle, term, None, stopping(c)).await;
                return None;
            }
            r = hook => if let Err(msg) = r {
                shared.event(EventKind::Warning, "FailedPostStartHook", msg);
                let own = Instant::now() + term.pod_grace;
                let message = format!("FailedPostStartHook: container {} will be killed and restarted per its restart policy", c.name);
                stop_container(shared, &runner, hooks, c, handle, term, Some(own), message).await;
                return Some(handle.wait().await);
            },
        }
    }
    shared.update_container(slot, |cv| {
        cv.state = State::Running {
            started_at: Utc::now(),
        };
        // Without probes it is started and ready at once, in this same
        // update (no status shows it running but not ready).
        cv.started = probes.startup.is_none();
        cv.ready = cv.started && probes.readiness.is_none();
    });
    let observer = Observer { shared, slot };
    tokio::select! {
        biased;
        _ = term.requested() => {
            stop_container(shared, &runner, hooks, c, handle, term, None, stopping(c)).await;
            None
        }
        r = handle.wait() => Some(r),
        v = probes::supervise(probes, &runner, started, &observer) => {
            // The probe's own terminationGracePeriodSeconds, else the pod's.
            let own = Instant::now() + v.grace.unwrap_or(term.pod_grace);
            let message = format!("Container {} failed {} probe, will be restarted", c.name, v.probe);
            stop_container(shared, &runner, hooks, c, handle, term, Some(own), message).await;
            Some(handle.wait().await)
        }
    }
}

fn stopping(c: &Container) -> String {
    format!("Stopping container {}", c.name)
}

/// Graceful stop, as kubelet's `killContainer`: event `Killing`, then
/// `preStop` bounded by the earlier of `own_deadline` (a probe's or the
/// pod's grace period, for a kill by a probe or a failed `postStart`) and the
/// pod's termination deadline, then the kill at once (a guest has no SIGTERM
/// handler to wait for).
#[allow(clippy::too_many_arguments)]
async fn stop_container(
    shared: &Shared,
    runner: &Runner,
    hooks: &Hooks,
    c: &Container,
    handle: &Handle,
    term: &Termination,
    own_deadline: Option<Instant>,
    message: String,
) {
    shared.event(EventKind::Normal, "Killing", message);
    let effective = |pod: Option<Instant>| match (own_deadline, pod) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let mut deadline = term.deadline.subscribe();
    let first = effective(*deadline.borrow_and_update()).filter(|d| *d > Instant::now());
    if let (Some(h), Some(first)) = (&hooks.pre_stop, first) {
        let pod_name = shared.kubelet_name();
        let left = first.saturating_duration_since(Instant::now());
        // Dropping the hook at the deadline kills an exec hook's guest.
        let hook = lifecycle::run_hook(runner, h, &c.name, &pod_name, left);
        tokio::pin!(hook);
        loop {
            let until = effective(*deadline.borrow_and_update()).unwrap_or_else(Instant::now);
            tokio::select! {
                r = &mut hook => {
                    if let Err(msg) = r {
                        shared.event(EventKind::Warning, "FailedPreStopHook", msg);
                    }
                    break;
                }
                _ = tokio::time::sleep_until(until) => {
                    tracing::info!(
                        pod = %shared.full_name(),
                        container = %c.name,
                        "preStop hook not completed in the grace period"
                    );
                    break;
                }
                // A (second) deletion with a shorter grace period.
                r = deadline.changed() => if r.is_err() { break },
                // The guest ended on its own meanwhile: nothing to wait for.
                _ = handle.wait() => break,
            }
        }
    }
    handle.kill();
    let _ = handle.wait().await;
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
    let (allocatable_cpu_millis, allocatable_memory) = spec::node_allocatable();
    let facts = PodFacts {
        pod: &shared.pod,
        node_name: &shared.ctx.cfg.node_name,
        pod_ip: podnet.ip.to_string(),
        host_ip: shared.ctx.cfg.host_ip.clone().unwrap_or_default(),
        allocatable_cpu_millis,
        allocatable_memory,
    };
    let state = shared.ctx.desired().borrow().clone();
    let sources = super::sources::Sources::new(
        &state,
        facts.pod.metadata.namespace.as_deref().unwrap_or_default(),
    );
    let env = spec::env_for(c, &facts, &sources)?;
    let (command, args) = spec::expand_command(c, &env);
    let volumes = super::volumes::host_paths(&shared.pod, &shared.volumes_dir());
    let preopens = super::volumes::mounts_for(c, &volumes)?;
    let log_dir = shared.pod_dir().join(&c.name);
    std::fs::create_dir_all(&log_dir)
        .map_err(|e| format!("creating log directory {}: {e}", log_dir.display()))?;
    let log = log_dir.join(format!("{restart}.log"));
    let limits = c.resources.as_ref().and_then(|r| r.limits.as_ref());
    // `resources.limits.<res>`, parsed; errors name the field and the container.
    let limit = |res: &str| {
        let field = format!("container {:?}: resources.limits.{res}", c.name);
        limits
            .and_then(|l| l.get(res))
            .map(|q| match regatta_api::quantity::parse_quantity(&q.0) {
                Ok(v) => Ok((v, q.0.as_str(), field.clone())),
                Err(e) => Err(format!("{field}: {e}")),
            })
            .transpose()
    };
    let memory_limit = limit("memory")?
        .map(|(v, text, field)| {
            u64::try_from(v.value()).map_err(|_| format!("{field}: {text} must be positive"))
        })
        .transpose()?;
    // Below 1m rounds up to 1m, as the kernel's CFS quota minimum does.
    let cpu_limit_millis = limit("cpu")?
        .map(|(v, text, field)| {
            u32::try_from(v.milli_value().max(1))
                .map_err(|_| format!("{field}: {text} is out of range"))
        })
        .transpose()?;
    Ok(ContainerSpec {
        name: c.name.clone(),
        module,
        argv: ContainerSpec::argv_for(&c.name, &command, &args),
        env,
        preopens,
        stdout: log.clone(),
        stderr: log,
        memory_limit,
        cpu_limit_millis,
        http_port: spec::http_port(c),
    })
}

/// Kills what runs, removes the netns and the pod's directories.
async fn cleanup(shared: &Shared, sandbox: Option<Arc<Sandbox>>) {
    let name = shared.full_name();
    super::exec::forget(&shared.ctx, &shared.pod);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(grace: Option<i64>) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [], "terminationGracePeriodSeconds": grace},
        }))
        .unwrap()
    }

    /// The deadline requested with `grace`, give or take the call's own duration.
    fn is_about(deadline: Option<Instant>, before: Instant, grace: Duration) -> bool {
        deadline.is_some_and(|d| d >= before + grace && d <= Instant::now() + grace)
    }

    #[tokio::test]
    async fn termination_deadline_only_moves_forward() {
        let t = Termination::new(&pod(Some(20)));
        assert!(!t.is_requested() && t.deadline.borrow().is_none());
        let before = Instant::now();
        // Removed from the desired set: the pod's own grace period.
        t.request(None);
        assert!(t.is_requested());
        let first = *t.deadline.borrow();
        assert!(
            is_about(first, before, Duration::from_secs(20)),
            "{first:?}"
        );
        // A longer one later changes nothing; a shorter one wins.
        t.request(Some(Duration::from_secs(60)));
        assert_eq!(*t.deadline.borrow(), first);
        let before = Instant::now();
        t.request(Some(Duration::from_secs(3)));
        assert!(is_about(
            *t.deadline.borrow(),
            before,
            Duration::from_secs(3)
        ));
        // kubelet's default without terminationGracePeriodSeconds.
        let d = Termination::new(&pod(None));
        let before = Instant::now();
        d.request(None);
        assert!(is_about(*d.deadline.borrow(), before, DEFAULT_GRACE));
    }
}
