//! Pod spec → what the runtime needs: env values, volume directories and
//! mounts, the HTTP port. Pure functions; an unsupported field is an error
//! naming it (the container then waits with `CreateContainerConfigError`),
//! never a guess.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regatta_api::k8s_openapi::api::core::v1::{Container, Pod};

use crate::runtime::Preopen;

/// Facts of the running pod that `fieldRef` env vars read.
pub struct PodFacts<'a> {
    pub pod: &'a Pod,
    pub node_name: &'a str,
    pub pod_ip: String,
    pub host_ip: String,
}

/// `env[]` of container `c`, resolved in order.
pub fn env_for(c: &Container, facts: &PodFacts<'_>) -> Result<Vec<(String, String)>, String> {
    if c.env_from.as_ref().is_some_and(|e| !e.is_empty()) {
        return Err(format!(
            "container {:?}: envFrom is not supported yet",
            c.name
        ));
    }
    let mut out = Vec::new();
    for (i, e) in c.env.iter().flatten().enumerate() {
        let value = match &e.value_from {
            None => e.value.clone().unwrap_or_default(),
            Some(from) => {
                if let Some(f) = &from.field_ref {
                    field_value(&f.field_path, facts).ok_or_else(|| {
                        format!(
                            "container {:?}: env[{i}] ({}): fieldRef.fieldPath {:?} is not supported (supported: metadata.name, metadata.namespace, metadata.uid, spec.nodeName, status.podIP, status.hostIP)",
                            c.name, e.name, f.field_path
                        )
                    })?
                } else {
                    let kind = if from.config_map_key_ref.is_some() {
                        "configMapKeyRef"
                    } else if from.secret_key_ref.is_some() {
                        "secretKeyRef"
                    } else if from.resource_field_ref.is_some() {
                        "resourceFieldRef"
                    } else {
                        "an empty valueFrom"
                    };
                    return Err(format!(
                        "container {:?}: env[{i}] ({}): valueFrom.{kind} is not supported yet",
                        c.name, e.name
                    ));
                }
            }
        };
        out.push((e.name.clone(), value));
    }
    Ok(out)
}

fn field_value(path: &str, facts: &PodFacts<'_>) -> Option<String> {
    let m = &facts.pod.metadata;
    Some(match path {
        "metadata.name" => m.name.clone().unwrap_or_default(),
        "metadata.namespace" => m.namespace.clone().unwrap_or_default(),
        "metadata.uid" => m.uid.clone().unwrap_or_default(),
        "spec.nodeName" => facts
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_else(|| facts.node_name.to_string()),
        "status.podIP" => facts.pod_ip.clone(),
        "status.hostIP" => facts.host_ip.clone(),
        _ => return None,
    })
}

/// Host directory of every volume of the pod, under `root` (one directory
/// per volume name). Only `emptyDir` is supported so far.
pub fn volume_dirs(pod: &Pod, root: &Path) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut out = BTreeMap::new();
    for (i, v) in pod
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .enumerate()
    {
        if v.empty_dir.is_none() {
            let kind = serde_json::to_value(v)
                .ok()
                .and_then(|j| {
                    j.as_object()
                        .and_then(|o| o.keys().find(|k| *k != "name").cloned())
                })
                .unwrap_or_else(|| "unknown".into());
            return Err(format!(
                "spec.volumes[{i}] ({}): volume type {kind} is not supported yet (supported: emptyDir)",
                v.name
            ));
        }
        out.insert(v.name.clone(), root.join(&v.name));
    }
    Ok(out)
}

/// The preopens of container `c` from its `volumeMounts`.
pub fn mounts_for(
    c: &Container,
    volumes: &BTreeMap<String, PathBuf>,
) -> Result<Vec<Preopen>, String> {
    let mut out = Vec::new();
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let Some(host) = volumes.get(&m.name) else {
            return Err(format!(
                "container {:?}: volumeMounts[{i}]: volume {:?} not found in spec.volumes",
                c.name, m.name
            ));
        };
        if m.sub_path.as_deref().is_some_and(|s| !s.is_empty())
            || m.sub_path_expr.as_deref().is_some_and(|s| !s.is_empty())
        {
            return Err(format!(
                "container {:?}: volumeMounts[{i}] ({}): subPath is not supported yet",
                c.name, m.name
            ));
        }
        out.push(Preopen {
            host: host.clone(),
            guest: m.mount_path.clone(),
            read_only: m.read_only.unwrap_or(false),
        });
    }
    Ok(out)
}

/// The first declared TCP `containerPort`: where a `wasi:http` proxy serves.
pub fn http_port(c: &Container) -> Option<u16> {
    c.ports
        .iter()
        .flatten()
        .find(|p| p.protocol.as_deref().is_none_or(|p| p == "TCP"))
        .and_then(|p| u16::try_from(p.container_port).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn env_values_and_field_refs() {
        let p = pod(serde_json::json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "env": [
                {"name": "A", "value": "1"},
                {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            ]}]}
        }));
        let facts = PodFacts {
            pod: &p,
            node_name: "n1",
            pod_ip: "10.0.0.9".into(),
            host_ip: "192.0.2.2".into(),
        };
        let c = &p.spec.as_ref().unwrap().containers[0];
        let env = env_for(c, &facts).unwrap();
        let want: Vec<(String, String)> =
            [("A", "1"), ("N", "web"), ("IP", "10.0.0.9"), ("NODE", "n1")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        assert_eq!(env, want);
    }

    #[test]
    fn unsupported_sources_are_named() {
        let p = pod(serde_json::json!({
            "metadata": {"name": "web"},
            "spec": {"containers": [{"name": "c", "env": [
                {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            ]}], "volumes": [{"name": "cfg", "configMap": {"name": "x"}}]}
        }));
        let facts = PodFacts {
            pod: &p,
            node_name: "n",
            pod_ip: String::new(),
            host_ip: String::new(),
        };
        let c = &p.spec.as_ref().unwrap().containers[0];
        assert!(env_for(c, &facts).unwrap_err().contains("secretKeyRef"));
        let e = volume_dirs(&p, Path::new("/x")).unwrap_err();
        assert!(e.contains("configMap"), "{e}");
    }

    #[test]
    fn empty_dir_mounts_respect_read_only() {
        let p = pod(serde_json::json!({
            "metadata": {"name": "web"},
            "spec": {"containers": [{"name": "c", "volumeMounts": [
                {"name": "data", "mountPath": "/data", "readOnly": true},
            ]}], "volumes": [{"name": "data", "emptyDir": {}}]}
        }));
        let vols = volume_dirs(&p, Path::new("/v")).unwrap();
        let c = &p.spec.as_ref().unwrap().containers[0];
        let m = mounts_for(c, &vols).unwrap();
        assert_eq!(
            m,
            vec![Preopen {
                host: "/v/data".into(),
                guest: "/data".into(),
                read_only: true
            }]
        );
    }
}
