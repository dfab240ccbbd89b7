//! Fixtures shared by the pod manager's unit tests (`spec`, `volumes`).

use regatta_api::k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};

use super::spec::PodFacts;
use crate::agent::pods::{DesiredState, object_key};

/// A pod from its JSON form.
pub(crate) fn pod(v: serde_json::Value) -> Pod {
    serde_json::from_value(v).unwrap()
}

/// `p` on node `n1`, with fixed IPs and allocatable resources.
pub(crate) fn facts(p: &Pod) -> PodFacts<'_> {
    PodFacts {
        pod: p,
        node_name: "n1",
        pod_ip: "10.0.0.9".into(),
        host_ip: "192.0.2.2".into(),
        allocatable_cpu_millis: 4000,
        allocatable_memory: 8 << 30,
    }
}

/// A desired state holding `objs`' `configMaps`, `secrets` and `services`.
pub(crate) fn state(objs: serde_json::Value) -> DesiredState {
    let mut s = DesiredState::default();
    for x in objs["configMaps"].as_array().into_iter().flatten() {
        let x: ConfigMap = serde_json::from_value(x.clone()).unwrap();
        s.config_maps.insert(object_key(&x.metadata), x);
    }
    for x in objs["secrets"].as_array().into_iter().flatten() {
        let x: Secret = serde_json::from_value(x.clone()).unwrap();
        s.secrets.insert(object_key(&x.metadata), x);
    }
    for x in objs["services"].as_array().into_iter().flatten() {
        let x: Service = serde_json::from_value(x.clone()).unwrap();
        s.services.insert(object_key(&x.metadata), x);
    }
    s
}
