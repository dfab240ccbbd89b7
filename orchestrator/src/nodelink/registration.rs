//! What a connected node writes, always under its own name: its Node object
//! (podCIDR, status, Ready), its Lease in `kube-node-lease`, and the status of
//! pods bound to it.
//!
//! Invariants: a node's podCIDR, once in its Node object, is never changed here
//! (the same node gets the same /24 back); two Nodes never get the same /24
//! (allocation is serialised by [`PodCidrAllocator`] and reads every Node).

use ipnet::Ipv4Net;
use k8s_openapi::api::core::v1::{NodeStatus, PodStatus};
use regatta_api::node_protocol::PodRef;
use regatta_api::registry::{self, ResourceType};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::apiserver::objects;
use crate::apiserver::rest::{ListOpts, Rest, WriteOpts};
use crate::apiserver::status::{ApiError, ApiResult};

pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// How long a Lease holds without renewal (kubelet's default: 4 heartbeats).
pub const LEASE_DURATION_SECS: i64 = 40;
/// Node status is rewritten at least this often even when nothing changed, as
/// kubelet's nodeStatusReportFrequency; the Lease is the frequent heartbeat.
pub const STATUS_REPORT_SECS: i64 = 60;

fn nodes() -> &'static ResourceType {
    registry::by_kind("v1", "Node").expect("registered")
}

fn leases() -> &'static ResourceType {
    registry::by_kind("coordination.k8s.io/v1", "Lease").expect("registered")
}

pub fn pods() -> &'static ResourceType {
    registry::by_kind("v1", "Pod").expect("registered")
}

/// Serialises podCIDR allocation across this orchestrator's sessions.
pub struct PodCidrAllocator {
    lock: Mutex<()>,
    /// Prefix length of each node's podCIDR (`--node-cidr-mask-size`).
    mask: u8,
}

impl Default for PodCidrAllocator {
    fn default() -> Self {
        PodCidrAllocator::new(24)
    }
}

impl PodCidrAllocator {
    /// Hands out `/mask` subnets (kube-controller-manager's default is 24).
    pub fn new(mask: u8) -> Self {
        PodCidrAllocator {
            lock: Mutex::new(()),
            mask,
        }
    }
}

/// The first /24 of `cluster` not used by any Node but `node`.
#[cfg(test)]
fn free_subnet(cluster: Ipv4Net, used: &[Ipv4Net]) -> Option<Ipv4Net> {
    free_subnet_of(cluster, used, 24)
}

/// The first `/mask` of `cluster` not used by any Node but `node`.
fn free_subnet_of(cluster: Ipv4Net, used: &[Ipv4Net], mask: u8) -> Option<Ipv4Net> {
    let prefix = cluster.prefix_len().max(mask);
    cluster.subnets(prefix).ok()?.find(|s| {
        !used
            .iter()
            .any(|u| u.contains(&s.network()) || s.contains(&u.network()))
    })
}

fn pod_cidr_of(node: &Value) -> Option<Ipv4Net> {
    node["spec"]["podCIDR"].as_str()?.parse().ok()
}

fn micro_time() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

fn kube_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Conditions for a node that is talking to us, keeping transition times of
/// conditions whose status did not change.
fn conditions(old: &Value, now: &str) -> Value {
    let wanted = [
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        (
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        (
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        (
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        ),
    ];
    let prev = old["status"]["conditions"].as_array();
    let out: Vec<Value> = wanted
        .iter()
        .map(|(typ, status, reason, message)| {
            let since = prev
                .and_then(|cs| {
                    cs.iter()
                        .find(|c| c["type"] == *typ && c["status"] == *status)
                })
                .and_then(|c| c["lastTransitionTime"].as_str())
                .unwrap_or(now);
            json!({
                "type": typ, "status": status, "reason": reason, "message": message,
                "lastHeartbeatTime": now, "lastTransitionTime": since,
            })
        })
        .collect();
    json!(out)
}

/// The Node status to store: what the node reported plus our conditions.
fn status_value(reported: &NodeStatus, old: &Value, now: &str) -> ApiResult<Value> {
    let mut st = serde_json::to_value(reported)
        .map_err(|e| ApiError::internal(format!("encoding node status: {e}")))?;
    let st_obj = st.as_object_mut().expect("NodeStatus is an object");
    // Only what a node knows about itself; conditions are ours.
    st_obj.retain(|k, _| {
        matches!(
            k.as_str(),
            "capacity" | "allocatable" | "addresses" | "nodeInfo"
        )
    });
    st_obj.insert("conditions".into(), conditions(old, now));
    Ok(st)
}

/// True when the stored Node already says Ready and was reported recently.
fn fresh(node: &Value) -> bool {
    let Some(ready) = node["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
    else {
        return false;
    };
    let beat = ready["lastHeartbeatTime"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    ready["status"] == "True"
        && beat.is_some_and(|t| {
            (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds() < STATUS_REPORT_SECS
        })
}

/// Creates or updates the Node object for `name` and returns its podCIDR.
pub async fn register(
    rest: &Rest,
    alloc: &PodCidrAllocator,
    cluster_cidr: Ipv4Net,
    name: &str,
    reported: &NodeStatus,
) -> ApiResult<Ipv4Net> {
    let opts = WriteOpts::default();
    let now = objects::now_rfc3339();
    let existing = match rest.get(nodes(), None, name).await {
        Ok(n) => Some(n),
        Err(e) if e.code == 404 => None,
        Err(e) => return Err(e),
    };
    let cidr = match existing.as_ref().and_then(pod_cidr_of) {
        Some(c) => c,
        None => {
            let _g = alloc.lock.lock().await;
            let all = rest.list(nodes(), None, &ListOpts::default()).await?;
            let used: Vec<Ipv4Net> = all
                .items
                .iter()
                .filter(|n| objects::name(n) != Some(name))
                .filter_map(pod_cidr_of)
                .collect();
            let cidr = free_subnet_of(cluster_cidr, &used, alloc.mask).ok_or_else(|| {
                ApiError::internal(format!(
                    "no free /{} left in the pod CIDR {cluster_cidr} for node {name:?}",
                    alloc.mask
                ))
            })?;
            if existing.is_none() {
                let info = reported.node_info.as_ref();
                let os = info.map(|i| i.operating_system.as_str()).unwrap_or("linux");
                let arch = kube_arch(
                    info.map(|i| i.architecture.as_str())
                        .unwrap_or(std::env::consts::ARCH),
                );
                let node = json!({
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": name, "labels": {
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": os,
                        "kubernetes.io/arch": arch,
                        "beta.kubernetes.io/os": os,
                        "beta.kubernetes.io/arch": arch,
                    }},
                    "spec": {"podCIDR": cidr.to_string(), "podCIDRs": [cidr.to_string()]},
                    "status": status_value(reported, &Value::Null, &now)?,
                });
                match rest.create(nodes(), None, node, &opts).await {
                    Ok(_) => {
                        renew_lease(rest, name).await?;
                        return Ok(cidr);
                    }
                    // Created meanwhile (by an admin?): fall through to update it.
                    Err(e) if e.code == 409 => {}
                    Err(e) => return Err(e),
                }
            }
            let w = rest
                .update_with(nodes(), None, name, None, &opts, true, |cur| {
                    let mut out = cur.clone();
                    if pod_cidr_of(cur).is_none() {
                        out["spec"]["podCIDR"] = json!(cidr.to_string());
                        out["spec"]["podCIDRs"] = json!([cidr.to_string()]);
                    }
                    objects::meta_mut(&mut out).remove("resourceVersion");
                    Ok(out)
                })
                .await?;
            pod_cidr_of(&w.object).unwrap_or(cidr)
        }
    };
    rest.update_with(nodes(), None, name, Some("status"), &opts, true, |cur| {
        let mut out = cur.clone();
        out["status"] = status_value(reported, cur, &now)?;
        objects::meta_mut(&mut out).remove("resourceVersion");
        Ok(out)
    })
    .await?;
    renew_lease(rest, name).await?;
    Ok(cidr)
}

/// A heartbeat: renews the Lease; refreshes the Node's conditions when stale.
pub async fn heartbeat(rest: &Rest, name: &str) -> ApiResult<()> {
    renew_lease(rest, name).await?;
    let now = objects::now_rfc3339();
    rest.update_with(
        nodes(),
        None,
        name,
        Some("status"),
        &WriteOpts::default(),
        true,
        |cur| {
            let mut out = cur.clone();
            if !fresh(cur) {
                out["status"]["conditions"] = conditions(cur, &now);
            }
            objects::meta_mut(&mut out).remove("resourceVersion");
            Ok(out)
        },
    )
    .await?;
    Ok(())
}

/// Creates or renews `kube-node-lease/<name>`, owned by the Node.
pub async fn renew_lease(rest: &Rest, name: &str) -> ApiResult<()> {
    let opts = WriteOpts::default();
    let now = micro_time();
    let spec = |now: &str| {
        json!({
            "holderIdentity": name,
            "leaseDurationSeconds": LEASE_DURATION_SECS,
            "renewTime": now,
        })
    };
    let upd = rest
        .update_with(
            leases(),
            Some(LEASE_NAMESPACE),
            name,
            None,
            &opts,
            true,
            |cur| {
                let mut out = cur.clone();
                out["spec"] = spec(&now);
                objects::meta_mut(&mut out).remove("resourceVersion");
                Ok(out)
            },
        )
        .await;
    match upd {
        Ok(_) => Ok(()),
        Err(e) if e.code == 404 => {
            // Owned by the Node, as kubelet makes it, so it goes with the Node.
            let node = rest.get(nodes(), None, name).await?;
            let lease = json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": name,
                    "namespace": LEASE_NAMESPACE,
                    "ownerReferences": [{
                        "apiVersion": "v1", "kind": "Node", "name": name,
                        "uid": node["metadata"]["uid"],
                    }],
                },
                "spec": spec(&now),
            });
            match rest
                .create(leases(), Some(LEASE_NAMESPACE), lease, &opts)
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if e.code == 409 => Box::pin(renew_lease(rest, name)).await,
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// Why a node's write about one of its pods (its status, an Event) was not
/// applied. `action` and `writing` name the write in the messages.
#[derive(Debug, thiserror::Error)]
pub enum PodRefused {
    /// The pod is bound to another node (or none): the node may not write it.
    #[error(
        "node {node:?} can only {action} for pods with spec.nodeName set to itself: pod {namespace}/{pod} is bound to {bound_to:?}"
    )]
    Forbidden {
        node: String,
        action: &'static str,
        namespace: String,
        pod: String,
        bound_to: String,
    },
    /// The pod is gone, or is a newer pod of the same name.
    #[error("pod {namespace}/{pod} with uid {uid} no longer exists")]
    Gone {
        namespace: String,
        pod: String,
        uid: String,
    },
    #[error("{writing} pod {namespace}/{pod}: {message}")]
    Api {
        writing: &'static str,
        namespace: String,
        pod: String,
        message: String,
    },
}

/// The node finished stopping a pod that is being deleted: remove it (the
/// kubelet's final delete, grace period 0). Only for a pod bound to `node`,
/// with the same uid, that is already being deleted — a node cannot delete
/// pods on its own.
pub async fn finish_pod_deletion(rest: &Rest, node: &str, pod: &PodRef) -> Result<(), String> {
    let cur = match rest.get(pods(), Some(&pod.namespace), &pod.name).await {
        Ok(p) => p,
        Err(e) if e.code == 404 => return Ok(()),
        Err(e) => return Err(e.message),
    };
    if cur["spec"]["nodeName"].as_str() != Some(node) {
        return Err(format!(
            "pod {}/{} is not bound to {node}",
            pod.namespace, pod.name
        ));
    }
    if cur["metadata"]["uid"].as_str() != Some(pod.uid.as_str())
        || cur["metadata"]["deletionTimestamp"].is_null()
    {
        return Ok(());
    }
    let opts = crate::apiserver::rest::DeleteOpts {
        grace_period_seconds: Some(0),
        precondition_uid: Some(pod.uid.clone()),
        ..Default::default()
    };
    match rest
        .delete(pods(), Some(&pod.namespace), &pod.name, &opts)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(e.message),
    }
}

/// Applies a node's report of a pod's status, if the pod is bound to `node`.
/// The check runs on the object being replaced, so it cannot be raced.
pub async fn apply_pod_status(
    rest: &Rest,
    node: &str,
    pod: &PodRef,
    status: &PodStatus,
) -> Result<(), PodRefused> {
    let reported = serde_json::to_value(status).unwrap_or_else(|_| json!({}));
    let mut bound_to = None;
    let mut uid_changed = false;
    let res = rest
        .update_with(
            pods(),
            Some(&pod.namespace),
            &pod.name,
            Some("status"),
            &WriteOpts::default(),
            true,
            |cur| {
                let owner = cur["spec"]["nodeName"].as_str().unwrap_or("");
                if owner != node {
                    bound_to = Some(owner.to_string());
                    return Err(ApiError::forbidden("pod bound elsewhere"));
                }
                if !pod.uid.is_empty() && cur["metadata"]["uid"].as_str() != Some(&pod.uid) {
                    uid_changed = true;
                    return Err(ApiError::new(404, "NotFound", "uid changed"));
                }
                let mut out = cur.clone();
                // The node's fields replace ours; server-set ones (qosClass) stay.
                if !out["status"].is_object() {
                    out["status"] = json!({});
                }
                if let (Some(dst), Some(src)) =
                    (out["status"].as_object_mut(), reported.as_object())
                {
                    for (k, v) in src {
                        dst.insert(k.clone(), v.clone());
                    }
                }
                objects::meta_mut(&mut out).remove("resourceVersion");
                Ok(out)
            },
        )
        .await;
    match res {
        Ok(_) => Ok(()),
        Err(_) if bound_to.is_some() => Err(PodRefused::Forbidden {
            node: node.to_string(),
            action: "update pod status",
            namespace: pod.namespace.clone(),
            pod: pod.name.clone(),
            bound_to: bound_to.unwrap_or_default(),
        }),
        Err(e) if e.code == 404 || uid_changed => Err(PodRefused::Gone {
            namespace: pod.namespace.clone(),
            pod: pod.name.clone(),
            uid: pod.uid.clone(),
        }),
        Err(e) => Err(PodRefused::Api {
            writing: "writing the status of",
            namespace: pod.namespace.clone(),
            pod: pod.name.clone(),
            message: e.message,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_are_allocated_first_free() {
        let c: Ipv4Net = "10.244.0.0/16".parse().unwrap();
        assert_eq!(free_subnet(c, &[]), Some("10.244.0.0/24".parse().unwrap()));
        let used = [
            "10.244.0.0/24".parse().unwrap(),
            "10.244.2.0/24".parse().unwrap(),
        ];
        assert_eq!(
            free_subnet(c, &used),
            Some("10.244.1.0/24".parse().unwrap())
        );
        let small: Ipv4Net = "10.0.0.0/24".parse().unwrap();
        assert_eq!(free_subnet(small, &[]), Some(small));
        assert_eq!(free_subnet(small, &[small]), None);
    }

    #[test]
    fn conditions_keep_transition_times() {
        let old = json!({"status": {"conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"},
            {"type": "DiskPressure", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"},
        ]}});
        let cs = conditions(&old, "2026-01-01T00:00:00Z");
        let get = |t: &str| {
            cs.as_array()
                .unwrap()
                .iter()
                .find(|c| c["type"] == t)
                .unwrap()
                .clone()
        };
        assert_eq!(get("Ready")["lastTransitionTime"], "2020-01-01T00:00:00Z");
        assert_eq!(get("Ready")["lastHeartbeatTime"], "2026-01-01T00:00:00Z");
        assert_eq!(
            get("DiskPressure")["lastTransitionTime"],
            "2026-01-01T00:00:00Z"
        );
        assert!(!fresh(&json!({"status": {"conditions": cs}})));
    }
}
