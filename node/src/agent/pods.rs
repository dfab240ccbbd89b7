//! The seam between the link and whatever runs pods: the desired set flows out
//! as a level-triggered snapshot ([`DesiredState`] in a `watch`), observed
//! status flows back through [`StatusReporter`].
//!
//! Invariant: the reporter keeps only the latest status per pod and resends all
//! of them after a reconnect, so nothing depends on a report arriving once.
//! Events are queued (at most [`MAX_QUEUED_EVENTS`], the oldest dropped
//! first) and sent once: an Event lost to a long disconnect is not state.
//!
//! The desired state also holds the ConfigMaps, Secrets and Services the
//! orchestrator sends (keyed `namespace/name`); its `Debug` never shows a
//! Secret's data.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use regatta_api::k8s_openapi::api::core::v1::{ConfigMap, Pod, PodStatus, Secret, Service};
use regatta_api::node_protocol::{PodEvent, PodRef, PodStatusUpdate};
use tokio::sync::Notify;

/// Events waiting to be sent at most; beyond, the oldest is dropped.
pub const MAX_QUEUED_EVENTS: usize = 256;

/// The pods the orchestrator wants on this node, keyed by uid, and the
/// objects they may read, keyed `namespace/name`.
#[derive(Clone, Default)]
pub struct DesiredState {
    /// False until the first full snapshot arrived: act only once synced.
    pub synced: bool,
    /// Counts full snapshots received (one per connection, at least).
    pub resyncs: u64,
    pub pods: BTreeMap<String, Pod>,
    pub config_maps: BTreeMap<String, ConfigMap>,
    pub secrets: BTreeMap<String, Secret>,
    pub services: BTreeMap<String, Service>,
}

impl std::fmt::Debug for DesiredState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: a Secret's data must never reach a log.
        f.debug_struct("DesiredState")
            .field("synced", &self.synced)
            .field("resyncs", &self.resyncs)
            .field("pods", &self.pods.keys().collect::<Vec<_>>())
            .field("config_maps", &self.config_maps.keys().collect::<Vec<_>>())
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("services", &self.services.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `namespace/name` of an object's metadata: the key of the maps above.
pub fn object_key(
    m: &regatta_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> String {
    format!(
        "{}/{}",
        m.namespace.as_deref().unwrap_or_default(),
        m.name.as_deref().unwrap_or_default()
    )
}

pub fn pod_ref(p: &Pod) -> PodRef {
    PodRef {
        namespace: p.metadata.namespace.clone().unwrap_or_default(),
        name: p.metadata.name.clone().unwrap_or_default(),
        uid: p.metadata.uid.clone().unwrap_or_default(),
    }
}

#[derive(Default)]
struct Reports {
    /// Latest status per pod, and whether it still has to be sent.
    latest: BTreeMap<PodRef, (PodStatus, bool)>,
    /// Pods being deleted that this node has finished stopping, to be told once.
    terminated: Vec<PodRef>,
    /// Events not sent yet, oldest first.
    events: VecDeque<PodEvent>,
}

/// Where pod statuses go; cheap to clone.
#[derive(Clone, Default)]
pub struct StatusReporter {
    inner: Arc<Mutex<Reports>>,
    notify: Arc<Notify>,
}

impl StatusReporter {
    /// Records `status` as the pod's latest; it is sent as soon as connected.
    pub fn report(&self, pod: PodRef, status: PodStatus) {
        self.inner
            .lock()
            .unwrap()
            .latest
            .insert(pod, (status, true));
        self.notify.notify_one();
    }

    pub(crate) async fn changed(&self) {
        self.notify.notified().await
    }

    /// Statuses waiting to be sent; marks them sent.
    pub(crate) fn take_dirty(&self) -> Vec<PodStatusUpdate> {
        let mut r = self.inner.lock().unwrap();
        let mut out: Vec<PodStatusUpdate> = r
            .latest
            .iter_mut()
            .filter(|(_, (_, dirty))| *dirty)
            .map(|(pod, (status, dirty))| {
                *dirty = false;
                PodStatusUpdate {
                    pod: pod.clone(),
                    status: status.clone(),
                    terminated: false,
                }
            })
            .collect();
        out.extend(r.terminated.drain(..).map(|pod| PodStatusUpdate {
            pod,
            status: PodStatus::default(),
            terminated: true,
        }));
        out
    }

    /// Queues an Event about a pod; when the queue is full the oldest goes.
    pub fn event(&self, ev: PodEvent) {
        let mut r = self.inner.lock().unwrap();
        if r.events.len() >= MAX_QUEUED_EVENTS {
            r.events.pop_front();
        }
        r.events.push_back(ev);
        drop(r);
        self.notify.notify_one();
    }

    /// Events waiting to be sent, oldest first; they are sent once.
    pub(crate) fn take_events(&self) -> Vec<PodEvent> {
        self.inner.lock().unwrap().events.drain(..).collect()
    }

    /// The pod, being deleted, is stopped and cleaned up here: the orchestrator
    /// may remove it. Sent once; a pod still listed as deleting after a
    /// reconnect is reported again by the pod manager.
    pub fn terminated(&self, pod: PodRef) {
        let mut r = self.inner.lock().unwrap();
        r.latest.retain(|p, _| p.uid != pod.uid);
        if !r.terminated.contains(&pod) {
            r.terminated.push(pod);
        }
        drop(r);
        self.notify.notify_one();
    }

    /// After a reconnect: everything is sent again; pods no longer desired are forgotten.
    pub(crate) fn resync(&self, desired: &DesiredState) {
        let mut r = self.inner.lock().unwrap();
        r.latest.retain(|p, _| desired.pods.contains_key(&p.uid));
        for (_, dirty) in r.latest.values_mut() {
            *dirty = true;
        }
        drop(r);
        self.notify.notify_one();
    }

    pub(crate) fn forget(&self, uid: &str) {
        self.inner
            .lock()
            .unwrap()
            .latest
            .retain(|p, _| p.uid != uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pref(uid: &str) -> PodRef {
        PodRef {
            namespace: "default".into(),
            name: uid.into(),
            uid: uid.into(),
        }
    }

    #[test]
    fn reporter_keeps_latest_and_resends_after_resync() {
        let r = StatusReporter::default();
        r.report(pref("a"), PodStatus::default());
        r.report(
            pref("a"),
            PodStatus {
                phase: Some("Running".into()),
                ..Default::default()
            },
        );
        r.report(pref("b"), PodStatus::default());
        let sent = r.take_dirty();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].status.phase.as_deref(), Some("Running"));
        assert!(r.take_dirty().is_empty());
        let mut desired = DesiredState::default();
        desired.pods.insert("a".into(), Pod::default());
        r.resync(&desired);
        let again = r.take_dirty();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].pod.uid, "a");
    }

    #[test]
    fn events_queue_is_bounded_and_drops_the_oldest() {
        let r = StatusReporter::default();
        for i in 0..MAX_QUEUED_EVENTS + 5 {
            r.event(PodEvent {
                pod: pref("a"),
                event_type: "Normal".into(),
                reason: "Pulled".into(),
                message: format!("m{i}"),
                field_path: None,
                timestamp: None,
            });
        }
        let got = r.take_events();
        assert_eq!(got.len(), MAX_QUEUED_EVENTS);
        assert_eq!(got[0].message, "m5");
        assert!(r.take_events().is_empty());
    }

    #[test]
    fn debug_of_the_desired_state_shows_no_secret_data() {
        let mut d = DesiredState::default();
        let s: Secret = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "s", "namespace": "ns"},
            "stringData": {"password": "hunter2"},
            "data": {"token": "c2VjcmV0LXRva2Vu"},
        }))
        .unwrap();
        d.secrets.insert(object_key(&s.metadata), s);
        let out = format!("{d:?}");
        assert!(out.contains("ns/s"), "{out}");
        assert!(
            !out.contains("hunter2") && !out.contains("secret-token") && !out.contains("115, 101"),
            "{out}"
        );
    }
}
