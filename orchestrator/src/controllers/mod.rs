//! Controllers: level-triggered reconcilers over the API server's REST layer.
//!
//! Each controller owns one concern, reads desired and observed state, converges
//! one step and requeues; none trusts an event to be delivered once. They call
//! [`crate::apiserver::rest::Rest`] directly, so they get exactly the semantics
//! clients get (validation, finalizers, graceful deletion).
//!
//! Triggering is deliberately simple: a controller is woken by any store change
//! under the prefixes it cares about (coalesced) and by a periodic resync, and
//! then reconciles everything it owns. That is O(objects) per wake-up, fine for
//! the cluster sizes of this stage; a watch-fed cache replaces it when
//! controllers with heavier state arrive.

pub mod gc;
pub mod namespace;
pub mod serviceaccount;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::apiserver::ApiServer;
use crate::store::Event;

/// Starts every controller on `tasks`.
pub fn spawn_all(tasks: &TaskTracker, api: Arc<ApiServer>, shutdown: CancellationToken) {
    spawn(
        tasks,
        Arc::new(namespace::NamespaceController),
        api.clone(),
        shutdown.clone(),
    );
    spawn(
        tasks,
        Arc::new(serviceaccount::ServiceAccountController),
        api.clone(),
        shutdown.clone(),
    );
    spawn(
        tasks,
        Arc::new(gc::GarbageCollector::default()),
        api,
        shutdown,
    );
}

/// What a reconcile pass asks for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing pending: wait for a change or the periodic resync.
    Await,
    /// Work is pending (e.g. waiting on another object): run again soon.
    Requeue(Duration),
}

/// One controller: what wakes it, and one idempotent pass over what it owns.
pub trait Controller: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// Store key prefixes whose changes may concern it.
    fn prefixes(&self) -> &'static [&'static str];
    /// Whether this change concerns it (cheap; runs for every change under the prefixes).
    fn wants(&self, _event: &Event) -> bool {
        true
    }
    fn reconcile<'a>(&'a self, api: &'a ApiServer) -> BoxFuture<'a, Action>;
}

const RESYNC: Duration = Duration::from_secs(30);

fn spawn<C: Controller>(
    tasks: &TaskTracker,
    ctl: Arc<C>,
    api: Arc<ApiServer>,
    shutdown: CancellationToken,
) {
    let wake = Arc::new(Notify::new());
    for prefix in ctl.prefixes() {
        let wake = wake.clone();
        let api = api.clone();
        let shutdown = shutdown.clone();
        let ctl = ctl.clone();
        tasks.spawn(async move {
            // Re-subscribe from the current revision whenever the stream ends
            // (lagged or compacted), and wake once: something may have changed.
            loop {
                let from = api.rest.store.revision();
                let Ok(mut s) = api.rest.store.watch(prefix, from) else {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                };
                wake.notify_one();
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        ev = s.next() => match ev {
                            Some(Ok(ev)) => if ctl.wants(&ev) { wake.notify_one() },
                            _ => break,
                        },
                    }
                }
            }
        });
    }
    tasks.spawn(async move {
        let mut delay = RESYNC;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = wake.notified() => {},
                _ = tokio::time::sleep(delay) => {},
            }
            // Coalesce a burst of changes into one pass.
            tokio::time::sleep(Duration::from_millis(20)).await;
            delay = match ctl.reconcile(&api).await {
                Action::Await => RESYNC,
                Action::Requeue(d) => d,
            };
            tracing::trace!(controller = ctl.name(), ?delay, "reconciled");
        }
    });
}
