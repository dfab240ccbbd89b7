//! Lookup of the ConfigMaps, Secrets and Services the node's pods read, from
//! the desired state the orchestrator streams (DESIGN §4). Pure: no I/O.
//!
//! Errors read as kubelet's (`configmap "x" not found`, `couldn't find key k
//! in ConfigMap ns/x`), since they become a container's waiting message and
//! an Event. A Secret's bytes never appear in an error or a log.

use std::hash::{Hash, Hasher};

use regatta_api::k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};

use crate::agent::pods::DesiredState;

/// Why a source could not be read: each variant is something not found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("configmap {0:?} not found")]
    ConfigMap(String),
    #[error("secret {0:?} not found")]
    Secret(String),
    #[error("couldn't find key {key} in ConfigMap {namespace}/{name}")]
    ConfigMapKey {
        namespace: String,
        name: String,
        key: String,
    },
    #[error("couldn't find key {key} in Secret {namespace}/{name}")]
    SecretKey {
        namespace: String,
        name: String,
        key: String,
    },
}

/// The objects of one desired state, as a pod of namespace `ns` sees them.
pub struct Sources<'a> {
    pub state: &'a DesiredState,
    pub namespace: &'a str,
}

impl<'a> Sources<'a> {
    pub fn new(state: &'a DesiredState, namespace: &'a str) -> Self {
        Sources { state, namespace }
    }

    fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.namespace)
    }

    pub fn config_map(&self, name: &str) -> Result<&'a ConfigMap, SourceError> {
        self.state
            .config_maps
            .get(&self.key(name))
            .ok_or_else(|| SourceError::ConfigMap(name.to_string()))
    }

    pub fn secret(&self, name: &str) -> Result<&'a Secret, SourceError> {
        self.state
            .secrets
            .get(&self.key(name))
            .ok_or_else(|| SourceError::Secret(name.to_string()))
    }

    /// One key of a ConfigMap: `data` first, then `binaryData` (as UTF-8, lossy).
    pub fn config_map_key(&self, name: &str, key: &str) -> Result<String, SourceError> {
        let cm = self.config_map(name)?;
        config_map_entries(cm)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| String::from_utf8_lossy(&v).into_owned())
            .ok_or_else(|| SourceError::ConfigMapKey {
                namespace: self.namespace.to_string(),
                name: name.to_string(),
                key: key.to_string(),
            })
    }

    pub fn secret_key(&self, name: &str, key: &str) -> Result<String, SourceError> {
        let s = self.secret(name)?;
        secret_entries(s)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| String::from_utf8_lossy(&v).into_owned())
            .ok_or_else(|| SourceError::SecretKey {
                namespace: self.namespace.to_string(),
                name: name.to_string(),
                key: key.to_string(),
            })
    }

    /// Every Service of the cluster (the caller picks those a pod may see).
    pub fn services(&self) -> impl Iterator<Item = &'a Service> {
        self.state.services.values()
    }
}

/// A ConfigMap's keys and bytes: `data` and `binaryData` (keys never overlap, validation saw to it).
pub fn config_map_entries(cm: &ConfigMap) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = cm
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect();
    out.extend(
        cm.binary_data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.0.clone())),
    );
    out.sort();
    out
}

/// A Secret's keys and bytes: `data`, with any `stringData` left over folded in
/// (it wins, as the API server merges it).
pub fn secret_entries(s: &Secret) -> Vec<(String, Vec<u8>)> {
    let mut m: std::collections::BTreeMap<String, Vec<u8>> = s
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    for (k, v) in s.string_data.iter().flatten() {
        m.insert(k.clone(), v.clone().into_bytes());
    }
    m.into_iter().collect()
}

/// A fingerprint of the objects a pod can read (names and resourceVersions):
/// when it changes, waiting containers retry and volumes are re-rendered.
pub fn version(state: &DesiredState) -> u64 {
    fn one<T: serde::Serialize>(h: &mut impl Hasher, k: &str, rv: &Option<String>, obj: &T) {
        k.hash(h);
        match rv {
            Some(rv) => rv.hash(h),
            // Objects the orchestrator sends always carry one; a test's may not.
            None => serde_json::to_vec(obj).unwrap_or_default().hash(h),
        }
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (k, v) in &state.config_maps {
        one(&mut h, k, &v.metadata.resource_version, v);
    }
    1u8.hash(&mut h);
    for (k, v) in &state.secrets {
        one(&mut h, k, &v.metadata.resource_version, v);
    }
    2u8.hash(&mut h);
    for (k, v) in &state.services {
        one(&mut h, k, &v.metadata.resource_version, v);
    }
    h.finish()
}
