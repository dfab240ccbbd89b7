//! Events a node records about its pods, written as core/v1 Events the way
//! kubelet's event recorder writes them: `source.component: kubelet`,
//! `source.host` and `reportingInstance` the node, `involvedObject` the pod
//! (uid and resourceVersion as the orchestrator has them), and a repeat of the
//! same event bumping `count` and `lastTimestamp` of the existing object
//! (the recorder's EventCorrelator, keyed on pod, type, reason, message,
//! fieldPath).
//!
//! Invariant: a node writes Events only about pods bound to it; the check
//! runs on the stored pod, never on what the message claims.

use std::collections::HashMap;

use regatta_api::node_protocol::PodEvent;
use regatta_api::registry::{self, ResourceType};
use serde_json::{Value, json};

use super::registration::{self, PodRefused};
use crate::apiserver::objects;
use crate::apiserver::rest::{Rest, WriteOpts};

/// Repeats remembered per session before the oldest memory is dropped.
const MAX_REMEMBERED: usize = 4096;
/// Longest message kept (kubelet truncates event messages at 1 KiB).
const MAX_MESSAGE: usize = 1024;

fn events() -> &'static ResourceType {
    registry::by_kind("v1", "Event").expect("registered")
}

#[derive(Debug, thiserror::Error)]
pub enum EventRefused {
    /// Not this node's pod, the pod is gone, or the write failed.
    #[error(transparent)]
    Pod(#[from] PodRefused),
    #[error("event {reason:?} for pod {namespace}/{pod}: {message}")]
    Invalid {
        namespace: String,
        pod: String,
        reason: String,
        message: String,
    },
}

type Key = (String, String, String, String, String);

/// One session's event recorder: remembers which Event object each distinct
/// event went to, so that repeats are counted.
#[derive(Default)]
pub struct Recorder {
    seen: HashMap<Key, (String, i64)>,
}

impl Recorder {
    pub async fn record(
        &mut self,
        rest: &Rest,
        node: &str,
        ev: &PodEvent,
    ) -> Result<(), EventRefused> {
        let p = &ev.pod;
        let api = |message: String| -> EventRefused {
            PodRefused::Api {
                writing: "writing an event for",
                namespace: p.namespace.clone(),
                pod: p.name.clone(),
                message,
            }
            .into()
        };
        if ev.event_type != "Normal" && ev.event_type != "Warning" {
            return Err(EventRefused::Invalid {
                namespace: p.namespace.clone(),
                pod: p.name.clone(),
                reason: ev.reason.clone(),
                message: format!(
                    "type: Unsupported value: {:?}: supported values: \"Normal\", \"Warning\"",
                    ev.event_type
                ),
            });
        }
        if ev.reason.is_empty() || ev.reason.len() > 128 {
            return Err(EventRefused::Invalid {
                namespace: p.namespace.clone(),
                pod: p.name.clone(),
                reason: ev.reason.clone(),
                message: "reason: Invalid value: must be 1 to 128 characters".into(),
            });
        }
        let pod = match rest
            .get(registration::pods(), Some(&p.namespace), &p.name)
            .await
        {
            Ok(v) => v,
            Err(e) if e.code == 404 => {
                return Err(PodRefused::Gone {
                    namespace: p.namespace.clone(),
                    pod: p.name.clone(),
                    uid: p.uid.clone(),
                }
                .into());
            }
            Err(e) => return Err(api(e.message)),
        };
        let bound_to = pod["spec"]["nodeName"].as_str().unwrap_or("");
        if bound_to != node {
            return Err(PodRefused::Forbidden {
                node: node.to_string(),
                action: "create events",
                namespace: p.namespace.clone(),
                pod: p.name.clone(),
                bound_to: bound_to.to_string(),
            }
            .into());
        }
        let uid = pod["metadata"]["uid"].as_str().unwrap_or("").to_string();
        if !p.uid.is_empty() && uid != p.uid {
            return Err(PodRefused::Gone {
                namespace: p.namespace.clone(),
                pod: p.name.clone(),
                uid: p.uid.clone(),
            }
            .into());
        }
        let message: String = ev.message.chars().take(MAX_MESSAGE).collect();
        let now = ev
            .timestamp
            .clone()
            .filter(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
            .unwrap_or_else(objects::now_rfc3339);
        let key: Key = (
            uid.clone(),
            ev.event_type.clone(),
            ev.reason.clone(),
            message.clone(),
            ev.field_path.clone().unwrap_or_default(),
        );
        let opts = WriteOpts::default();
        if let Some((name, _)) = self.seen.get(&key).cloned() {
            let mut count = 0;
            let bumped = rest
                .update_with(
                    events(),
                    Some(&p.namespace),
                    &name,
                    None,
                    &opts,
                    true,
                    |cur| {
                        let mut out = cur.clone();
                        count = cur["count"].as_i64().unwrap_or(1) + 1;
                        out["count"] = json!(count);
                        out["lastTimestamp"] = json!(now);
                        objects::meta_mut(&mut out).remove("resourceVersion");
                        Ok(out)
                    },
                )
                .await;
            match bumped {
                Ok(_) => {
                    self.seen.insert(key, (name, count));
                    return Ok(());
                }
                // Deleted (or expired) meanwhile: a new one is made below.
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(api(e.message)),
            }
        }
        let name = format!(
            "{}.{:x}",
            p.name,
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let mut involved = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "namespace": p.namespace,
            "name": p.name,
            "uid": uid,
            "resourceVersion": pod["metadata"]["resourceVersion"],
        });
        if let Some(fp) = &ev.field_path {
            involved["fieldPath"] = json!(fp);
        }
        let obj: Value = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": p.namespace},
            "involvedObject": involved,
            "reason": ev.reason,
            "message": message,
            "type": ev.event_type,
            "source": {"component": "kubelet", "host": node},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "reportingComponent": "kubelet",
            "reportingInstance": node,
        });
        rest.create(events(), Some(&p.namespace), obj, &opts)
            .await
            .map_err(|e| api(e.message))?;
        if self.seen.len() >= MAX_REMEMBERED {
            self.seen.clear();
        }
        self.seen.insert(key, (name, 1));
        Ok(())
    }
}
