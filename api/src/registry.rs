//! The table of resource types the API server serves.
//!
//! Owns: group/version/kind/plural/short names/categories/subresources of every
//! built-in type. Everything that dispatches on a type (discovery, OpenAPI,
//! validation, Table printing, the store key) looks the type up here, so adding
//! a type is one row.

/// One servable resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceType {
    /// API group; `""` for the core (legacy) group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// Lower-case plural used in URLs: `pods`.
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Subresources served under `{name}/{sub}`: "status", "scale", "log", "binding", "exec".
    pub subresources: &'static [&'static str],
}

impl ResourceType {
    /// `v1` for core, `apps/v1` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods` for core, `deployments.apps` otherwise (the form kubectl prints).
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Path prefix of the group version: `/api/v1` or `/apis/apps/v1`.
    pub fn gv_path(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    pub fn has_subresource(&self, sub: &str) -> bool {
        self.subresources.contains(&sub)
    }
}

const ALL: &[&str] = &["all"];
const NONE: &[&str] = &[];

macro_rules! rt {
    ($group:expr, $version:expr, $kind:expr, $plural:expr, $singular:expr, $ns:expr, $short:expr, $cat:expr, $sub:expr) => {
        ResourceType {
            group: $group,
            version: $version,
            kind: $kind,
            plural: $plural,
            singular: $singular,
            namespaced: $ns,
            short_names: $short,
            categories: $cat,
            subresources: $sub,
        }
    };
}

/// Every built-in type, in discovery order.
#[rustfmt::skip]
pub static RESOURCE_TYPES: &[ResourceType] = &[
    rt!("", "v1", "Namespace", "namespaces", "namespace", false, &["ns"], NONE, &["status", "finalize"]),
    rt!("", "v1", "Pod", "pods", "pod", true, &["po"], ALL, &["status", "log", "binding", "exec"]),
    rt!("", "v1", "Service", "services", "service", true, &["svc"], ALL, &["status"]),
    rt!("", "v1", "Endpoints", "endpoints", "endpoints", true, &["ep"], NONE, NONE),
    rt!("", "v1", "ConfigMap", "configmaps", "configmap", true, &["cm"], NONE, NONE),
    rt!("", "v1", "Secret", "secrets", "secret", true, NONE, NONE, NONE),
    rt!("", "v1", "Node", "nodes", "node", false, &["no"], NONE, &["status"]),
    rt!("", "v1", "Event", "events", "event", true, &["ev"], NONE, NONE),
    rt!("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", true, &["sa"], NONE, NONE),
    rt!("", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", false, &["pv"], NONE, &["status"]),
    rt!("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", true, &["pvc"], NONE, &["status"]),
    rt!("apps", "v1", "Deployment", "deployments", "deployment", true, &["deploy"], ALL, &["status", "scale"]),
    rt!("apps", "v1", "ReplicaSet", "replicasets", "replicaset", true, &["rs"], ALL, &["status", "scale"]),
    rt!("apps", "v1", "StatefulSet", "statefulsets", "statefulset", true, &["sts"], ALL, &["status", "scale"]),
    rt!("apps", "v1", "DaemonSet", "daemonsets", "daemonset", true, &["ds"], ALL, &["status"]),
    rt!("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", true, NONE, NONE, NONE),
    rt!("batch", "v1", "Job", "jobs", "job", true, NONE, ALL, &["status"]),
    rt!("batch", "v1", "CronJob", "cronjobs", "cronjob", true, &["cj"], ALL, &["status"]),
    rt!("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", true, NONE, NONE, NONE),
    rt!("coordination.k8s.io", "v1", "Lease", "leases", "lease", true, NONE, NONE, NONE),
    rt!("networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", true, &["ing"], NONE, &["status"]),
    rt!("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "horizontalpodautoscaler", true, &["hpa"], ALL, &["status"]),
];

/// Finds a type by group and plural (the URL form).
pub fn by_plural(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCE_TYPES
        .iter()
        .find(|t| t.group == group && t.version == version && t.plural == plural)
}

/// Finds a type by apiVersion (`v1`, `apps/v1`) and kind.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    RESOURCE_TYPES
        .iter()
        .find(|t| t.kind == kind && t.api_version() == api_version)
}

/// The group versions served, in discovery order, each with its types.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for t in RESOURCE_TYPES {
        if !out.contains(&(t.group, t.version)) {
            out.push((t.group, t.version));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_agree() {
        let d = by_plural("apps", "v1", "deployments").unwrap();
        assert_eq!(d.api_version(), "apps/v1");
        assert_eq!(by_kind("apps/v1", "Deployment"), Some(d));
        assert_eq!(by_kind("v1", "Pod").unwrap().gv_path(), "/api/v1");
        assert!(by_plural("", "v1", "deployments").is_none());
        assert_eq!(group_versions()[0], ("", "v1"));
    }

    #[test]
    fn plurals_unique_within_group() {
        for (i, a) in RESOURCE_TYPES.iter().enumerate() {
            for b in &RESOURCE_TYPES[i + 1..] {
                assert!(
                    !(a.group == b.group && a.plural == b.plural),
                    "{}",
                    a.plural
                );
            }
        }
    }
}
