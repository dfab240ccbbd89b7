//! The pod manager (DESIGN §5): makes the pods bound to this node run.
//!
//! Owns `<data-dir>/pods/` (logs) and `<data-dir>/volumes/` (every volume
//! but hostPath: see [`volumes`]).
//! Reads the desired set from a `watch` ([`DesiredState`]), reports status
//! through a [`StatusSink`], and calls the runtime ([`crate::runtime`]) and
//! the pod network ([`crate::net`]); it knows nothing of QUIC.
//!
//! Invariants:
//! - Level-triggered: every pass compares the whole desired set with the
//!   pod workers that exist (on each change and every resync period), so a
//!   missed event costs at most one period. Nothing runs before the first
//!   full snapshot (`synced`).
//! - One worker per pod uid at a time: a pod removed and re-added gets a new
//!   worker only after the old one has cleaned up (containers killed, netns
//!   removed, directories deleted).

pub mod exec;
mod lifecycle;
mod probes;
mod sources;
mod spec;
mod status;
mod volumes;
mod worker;

#[cfg(test)]
pub(crate) mod test_fixtures;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use regatta_api::k8s_openapi::api::core::v1::PodStatus;
use regatta_api::node_protocol::PodRef;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::agent::pods::{DesiredState, StatusReporter};
use crate::net::PodNetwork;
use crate::runtime::NodeEngine;

/// Where pod statuses go: the node link's [`StatusReporter`], or a test's sink.
pub trait StatusSink: Send + Sync + 'static {
    /// Records `status` as the pod's latest.
    fn report(&self, pod: PodRef, status: PodStatus);
    /// The pod is gone from this node: its status need not be sent again.
    fn forget(&self, _uid: &str) {}
    /// The pod, being deleted, is stopped and cleaned up: it may be removed.
    fn terminated(&self, _pod: PodRef) {}
    /// A user-visible transition of the pod, recorded as a core/v1 Event
    /// (kubelet's `Pulled`, `Started`, `BackOff`, `Unhealthy`, `Failed`…).
    fn event(&self, _pod: PodRef, _kind: EventKind, _reason: &str, _message: String) {}
}

/// `Event.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Normal,
    Warning,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Normal => "Normal",
            EventKind::Warning => "Warning",
        }
    }
}

impl StatusSink for StatusReporter {
    fn report(&self, pod: PodRef, status: PodStatus) {
        StatusReporter::report(self, pod, status)
    }
    fn forget(&self, uid: &str) {
        StatusReporter::forget(self, uid)
    }
    fn terminated(&self, pod: PodRef) {
        StatusReporter::terminated(self, pod)
    }
    fn event(&self, pod: PodRef, kind: EventKind, reason: &str, message: String) {
        StatusReporter::event(
            self,
            regatta_api::node_protocol::PodEvent {
                pod,
                event_type: kind.as_str().into(),
                reason: reason.into(),
                message,
                field_path: None,
                timestamp: Some(
                    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ),
            },
        )
    }
}

/// Knobs of the pod manager.
#[derive(Clone, Debug)]
pub struct PodManagerConfig {
    /// The node's `--data-dir`: logs go to `pods/`, emptyDirs to `volumes/`.
    pub data_dir: PathBuf,
    pub node_name: String,
    /// `status.hostIP`.
    pub host_ip: Option<String>,
    /// First restart delay of a crashing container (kubelet: 10 s), doubled
    /// per restart up to `backoff_max` (5 min).
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// How often the desired set is compared with what runs, events or not.
    pub resync_period: Duration,
}

impl PodManagerConfig {
    pub fn new(data_dir: PathBuf, node_name: String, host_ip: Option<String>) -> Self {
        PodManagerConfig {
            data_dir,
            node_name,
            host_ip,
            backoff_initial: Duration::from_secs(10),
            backoff_max: Duration::from_secs(300),
            resync_period: Duration::from_secs(10),
        }
    }
}

/// What every pod worker shares.
pub(crate) struct Ctx {
    pub cfg: PodManagerConfig,
    pub engine: Arc<NodeEngine>,
    pub net: Arc<PodNetwork>,
    pub sink: Arc<dyn StatusSink>,
    /// Woken when a worker ends, so a re-added uid does not wait a resync.
    pub worker_done: Notify,
    /// The desired state (ConfigMaps, Secrets, Services the pods read); set
    /// when the manager runs.
    pub desired: std::sync::OnceLock<watch::Receiver<DesiredState>>,
    /// What runs, for `kubectl logs`/`exec` (see [`exec`]).
    pub running: exec::Running,
}

impl Ctx {
    /// A receiver of the desired state (a never-changing empty one before `run`).
    pub fn desired(&self) -> watch::Receiver<DesiredState> {
        self.desired
            .get()
            .cloned()
            .unwrap_or_else(|| watch::channel(DesiredState::default()).1)
    }
}

struct Worker {
    stop: Arc<worker::Termination>,
    task: JoinHandle<()>,
}

pub struct PodManager {
    ctx: Arc<Ctx>,
}

impl PodManager {
    pub fn new(
        cfg: PodManagerConfig,
        engine: Arc<NodeEngine>,
        net: Arc<PodNetwork>,
        sink: Arc<dyn StatusSink>,
    ) -> PodManager {
        PodManager {
            ctx: Arc::new(Ctx {
                cfg,
                engine,
                net,
                sink,
                worker_done: Notify::new(),
                desired: std::sync::OnceLock::new(),
                running: Default::default(),
            }),
        }
    }

    /// Serves `kubectl logs` and `kubectl exec` for the pods this manager runs.
    pub fn streams(&self) -> Arc<exec::Streams> {
        Arc::new(exec::Streams::new(self.ctx.clone()))
    }

    /// Runs the reconcile loop until `shutdown`, then stops every pod (kills
    /// its containers, removes its netns and directories) before returning.
    pub async fn run(
        self,
        mut desired: watch::Receiver<DesiredState>,
        shutdown: CancellationToken,
    ) {
        let _ = self.ctx.desired.set(desired.clone());
        let mut workers: HashMap<String, Worker> = HashMap::new();
        let mut resync = tokio::time::interval(self.ctx.cfg.resync_period);
        resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            {
                // Reconciled under the borrow: cloning every pod on every
                // change is what a thousand pods cannot afford.
                let state = desired.borrow_and_update();
                if state.synced {
                    self.reconcile(&state, &mut workers);
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                r = desired.changed() => if r.is_err() { break },
                _ = resync.tick() => {},
                _ = self.ctx.worker_done.notified() => {},
            }
        }
        // The node is going away: stop at once, without preStop hooks.
        for w in workers.values() {
            w.stop.request(Some(Duration::ZERO));
        }
        for (uid, w) in workers {
            if let Err(e) = w.task.await {
                tracing::error!(pod_uid = %uid, "pod worker failed: {e}");
            }
        }
    }

    /// One pass: stop workers of pods no longer wanted, start workers for
    /// wanted pods that have none.
    fn reconcile(&self, state: &DesiredState, workers: &mut HashMap<String, Worker>) {
        workers.retain(|uid, w| {
            if w.task.is_finished() {
                if !w.stop.is_requested() {
                    tracing::error!(pod_uid = %uid, "pod worker ended on its own; restarting it");
                }
                return false;
            }
            true
        });
        for (uid, w) in workers.iter() {
            let pod = state.pods.get(uid);
            let wanted = pod.is_some_and(|p| p.metadata.deletion_timestamp.is_none());
            if !wanted {
                // A deleted pod's containers get `deletionGracePeriodSeconds`
                // for their preStop hooks (a later, shorter one wins); one
                // gone from the set, its own period.
                let grace = pod
                    .and_then(|p| p.metadata.deletion_grace_period_seconds)
                    .map(|s| Duration::from_secs(s.max(0) as u64));
                if !w.stop.is_requested() {
                    tracing::info!(pod_uid = %uid, ?grace, "pod no longer desired: stopping it");
                }
                w.stop.request(grace);
            }
        }
        for (uid, pod) in &state.pods {
            if workers.contains_key(uid) {
                continue;
            }
            if pod.metadata.deletion_timestamp.is_some() {
                // Nothing of it runs here (any more): it may go.
                self.ctx.sink.terminated(crate::agent::pods::pod_ref(pod));
                continue;
            }
            let stop = worker::Termination::new(pod);
            let task = tokio::spawn(worker::run(self.ctx.clone(), pod.clone(), stop.clone()));
            workers.insert(uid.clone(), Worker { stop, task });
        }
    }
}
