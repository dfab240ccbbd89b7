//! Patch metadata of built-in types: which list fields merge by which key (the Go struct tags
//! `patchStrategy`/`patchMergeKey` of upstream Kubernetes, k8s.io/api v0.32).
//!
//! Owns: one static table keyed by OpenAPI schema name and JSON field name. The strategic merge
//! patch engine reads it at every step of its walk down an object; the OpenAPI generator reads
//! [`all`] to emit `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key`, which is what
//! `kubectl apply` uses to compute its patches. Both sides reading one table is the invariant:
//! if kubectl and the server disagreed on a merge key, apply would duplicate or drop list items.
//!
//! Only fields whose Go struct carries a `patchStrategy` tag appear. A list without a tag is
//! replaced whole by a strategic merge patch (`tolerations`, `resizePolicy`, Ingress `rules`),
//! which is upstream behaviour too: the apiserver looks only at struct tags for built-in types,
//! never at `+listType` markers. Types of kinds we do not serve (ReplicationController,
//! ComponentStatus) are left out so that every row names a schema we publish.

/// Patch metadata of one field of one schema type, from the Go struct tags of upstream Kubernetes
/// (`patchStrategy:"merge" patchMergeKey:"name"`, `patchStrategy:"merge,retainKeys"`,
/// `patchStrategy:"retainKeys"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldPatch {
    /// Comma-separated strategies as in the Go tag: `merge`, `retainKeys`, `merge,retainKeys`.
    pub strategy: &'static str,
    /// The key list items are matched by; `None` for lists of primitives (`finalizers`).
    pub merge_key: Option<&'static str>,
}

impl FieldPatch {
    /// Whether a list under this field merges item by item instead of being replaced.
    pub fn merges(&self) -> bool {
        self.strategy.split(',').any(|s| s == "merge")
    }

    /// Whether clients send `$retainKeys` for this field (a union whose unset members are cleared).
    pub fn retains_keys(&self) -> bool {
        self.strategy.split(',').any(|s| s == "retainKeys")
    }
}

const fn merge(key: &'static str) -> FieldPatch {
    FieldPatch {
        strategy: "merge",
        merge_key: Some(key),
    }
}

const fn merge_retain(key: &'static str) -> FieldPatch {
    FieldPatch {
        strategy: "merge,retainKeys",
        merge_key: Some(key),
    }
}

const MERGE_PRIMITIVES: FieldPatch = FieldPatch {
    strategy: "merge",
    merge_key: None,
};
const RETAIN_KEYS: FieldPatch = FieldPatch {
    strategy: "retainKeys",
    merge_key: None,
};

static TABLE: &[(&str, &str, FieldPatch)] = &[
    // k8s.io/apimachinery/pkg/apis/meta/v1/types.go
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "ownerReferences",
        merge("uid"),
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "finalizers",
        MERGE_PRIMITIVES,
    ),
    // k8s.io/api/core/v1/types.go
    (
        "io.k8s.api.core.v1.PodSpec",
        "volumes",
        merge_retain("name"),
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "initContainers",
        merge("name"),
    ),
    ("io.k8s.api.core.v1.PodSpec", "containers", merge("name")),
    (
        "io.k8s.api.core.v1.PodSpec",
        "ephemeralContainers",
        merge("name"),
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "imagePullSecrets",
        merge("name"),
    ),
    ("io.k8s.api.core.v1.PodSpec", "hostAliases", merge("ip")),
    (
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        merge("topologyKey"),
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "schedulingGates",
        merge("name"),
    ),
    (
        "io.k8s.api.core.v1.PodSpec",
        "resourceClaims",
        merge_retain("name"),
    ),
    (
        "io.k8s.api.core.v1.Container",
        "ports",
        merge("containerPort"),
    ),
    ("io.k8s.api.core.v1.Container", "env", merge("name")),
    (
        "io.k8s.api.core.v1.Container",
        "volumeMounts",
        merge("mountPath"),
    ),
    (
        "io.k8s.api.core.v1.Container",
        "volumeDevices",
        merge("devicePath"),
    ),
    // EphemeralContainerCommon is embedded inline, so its tags land on EphemeralContainer.
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "ports",
        merge("containerPort"),
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "env",
        merge("name"),
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeMounts",
        merge("mountPath"),
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeDevices",
        merge("devicePath"),
    ),
    (
        "io.k8s.api.core.v1.ContainerStatus",
        "volumeMounts",
        merge("mountPath"),
    ),
    (
        "io.k8s.api.core.v1.ContainerStatus",
        "allocatedResourcesStatus",
        merge("name"),
    ),
    ("io.k8s.api.core.v1.PodStatus", "conditions", merge("type")),
    ("io.k8s.api.core.v1.PodStatus", "hostIPs", merge("ip")),
    ("io.k8s.api.core.v1.PodStatus", "podIPs", merge("ip")),
    (
        "io.k8s.api.core.v1.PodStatus",
        "resourceClaimStatuses",
        merge_retain("name"),
    ),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", merge("port")),
    (
        "io.k8s.api.core.v1.ServiceStatus",
        "conditions",
        merge("type"),
    ),
    (
        "io.k8s.api.core.v1.ServiceAccount",
        "secrets",
        merge("name"),
    ),
    ("io.k8s.api.core.v1.NodeSpec", "podCIDRs", MERGE_PRIMITIVES),
    ("io.k8s.api.core.v1.NodeStatus", "conditions", merge("type")),
    ("io.k8s.api.core.v1.NodeStatus", "addresses", merge("type")),
    (
        "io.k8s.api.core.v1.NamespaceStatus",
        "conditions",
        merge("type"),
    ),
    (
        "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
        "conditions",
        merge("type"),
    ),
    // k8s.io/api/apps/v1/types.go
    ("io.k8s.api.apps.v1.DeploymentSpec", "strategy", RETAIN_KEYS),
    (
        "io.k8s.api.apps.v1.DeploymentStatus",
        "conditions",
        merge("type"),
    ),
    (
        "io.k8s.api.apps.v1.ReplicaSetStatus",
        "conditions",
        merge("type"),
    ),
    (
        "io.k8s.api.apps.v1.StatefulSetStatus",
        "conditions",
        merge("type"),
    ),
    (
        "io.k8s.api.apps.v1.DaemonSetStatus",
        "conditions",
        merge("type"),
    ),
    // k8s.io/api/batch/v1/types.go
    ("io.k8s.api.batch.v1.JobStatus", "conditions", merge("type")),
    // k8s.io/api/autoscaling/v2/types.go
    (
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus",
        "conditions",
        merge("type"),
    ),
];

/// `schema_name` is the OpenAPI/k8s-openapi schema name, e.g. "io.k8s.api.core.v1.PodSpec",
/// `field` e.g. "containers".
pub fn patch_strategy(schema_name: &str, field: &str) -> Option<FieldPatch> {
    // A cheap prefix test keeps the common miss (most fields of most types) off the linear scan.
    if !(schema_name.starts_with("io.k8s.api.") || schema_name.starts_with("io.k8s.apimachinery."))
    {
        return None;
    }
    TABLE
        .iter()
        .find(|(s, f, _)| *s == schema_name && *f == field)
        .map(|(_, _, p)| *p)
}

/// Every (schema_name, field, FieldPatch) row, for the OpenAPI generator to inject
/// x-kubernetes-patch-strategy / x-kubernetes-patch-merge-key.
pub fn all() -> &'static [(&'static str, &'static str, FieldPatch)] {
    TABLE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_match_upstream_tags() {
        let cases: &[(&str, &str, Option<FieldPatch>)] = &[
            (
                "io.k8s.api.core.v1.PodSpec",
                "containers",
                Some(merge("name")),
            ),
            (
                "io.k8s.api.core.v1.PodSpec",
                "volumes",
                Some(merge_retain("name")),
            ),
            ("io.k8s.api.core.v1.PodSpec", "tolerations", None),
            ("io.k8s.api.core.v1.PodSpec", "readinessGates", None),
            (
                "io.k8s.api.core.v1.PodSpec",
                "topologySpreadConstraints",
                Some(merge("topologyKey")),
            ),
            (
                "io.k8s.api.core.v1.Container",
                "ports",
                Some(merge("containerPort")),
            ),
            ("io.k8s.api.core.v1.Container", "resizePolicy", None),
            ("io.k8s.api.core.v1.Container", "args", None),
            (
                "io.k8s.api.core.v1.ServiceSpec",
                "ports",
                Some(merge("port")),
            ),
            (
                "io.k8s.api.core.v1.NodeStatus",
                "addresses",
                Some(merge("type")),
            ),
            ("io.k8s.api.core.v1.PodStatus", "containerStatuses", None),
            (
                "io.k8s.api.apps.v1.DeploymentSpec",
                "strategy",
                Some(RETAIN_KEYS),
            ),
            ("io.k8s.api.apps.v1.DaemonSetSpec", "updateStrategy", None),
            (
                "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                "finalizers",
                Some(MERGE_PRIMITIVES),
            ),
            (
                "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                "ownerReferences",
                Some(merge("uid")),
            ),
            ("io.k8s.api.networking.v1.IngressSpec", "rules", None),
            ("com.example.v1.Widget", "containers", None),
        ];
        for (schema, field, want) in cases {
            assert_eq!(patch_strategy(schema, field), *want, "{schema}.{field}");
        }
    }

    #[test]
    fn strategies_parse() {
        assert!(merge("name").merges() && !merge("name").retains_keys());
        assert!(merge_retain("name").merges() && merge_retain("name").retains_keys());
        assert!(!RETAIN_KEYS.merges() && RETAIN_KEYS.retains_keys());
    }

    #[test]
    fn table_has_no_duplicate_rows() {
        for (i, (s, f, _)) in TABLE.iter().enumerate() {
            assert!(
                !TABLE[i + 1..].iter().any(|(s2, f2, _)| s == s2 && f == f2),
                "duplicate row {s}.{f}"
            );
            assert!(s.starts_with("io.k8s."), "{s}");
        }
    }
}
