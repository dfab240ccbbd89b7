//! Pods and pod templates: the `PodSpec` rules every workload shares.
//!
//! Mirrors core validation's `ValidatePodSpec`, `ValidatePodTemplateSpec` and
//! `ValidatePodUpdate`: volumes (unique names, exactly one source), containers
//! and init containers (names unique across both, images, ports, env, mounts
//! of existing volumes, resources, probes), restart and DNS policies,
//! tolerations, security context, and the narrow set of fields a pod update
//! may change.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerPort, EnvFromSource, EnvVar, HTTPGetAction, KeyToPath,
    LifecycleHandler, NodeSelectorTerm, Pod, PodAffinityTerm, PodDNSConfig, PodSecurityContext,
    PodSpec, PodTemplateSpec, Probe, SecurityContext, Toleration, TopologySpreadConstraint, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

use super::meta::{
    validate_annotations, validate_label_name, validate_label_selector, validate_labels,
};
use super::names::{
    INVALID_IP, NameRule, inclusive_range_error, is_config_map_key, is_dns1123_label,
    is_dns1123_subdomain, is_env_var_name, is_http_header_name, is_qualified_name,
    is_valid_label_value, is_valid_port_name, is_valid_port_num, name_errors, parse_ip,
};
use super::resources::validate_requirements;
use super::{Errs, FieldError, FieldPath, IS_NEGATIVE, meta};
use crate::quantity::parse_quantity;

const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const MAX_INT32: i64 = i32::MAX as i64;

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

/// How the pod spec is being validated.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SpecContext<'a> {
    /// A Pod itself rather than a template inside a workload; a few rules differ.
    pub(crate) is_pod: bool,
    /// Volume names provided from outside the spec (a StatefulSet's claim templates).
    pub(crate) extra_volumes: &'a [String],
}

pub(crate) fn validate_pod(pod: &Pod, old: Option<&Pod>) -> Errs {
    let meta_path = FieldPath::new("metadata");
    let spec_path = FieldPath::new("spec");
    let mut errs = meta::validate_object_meta(&pod.metadata, true, NameRule::Subdomain, &meta_path);
    let default_spec = PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&default_spec);
    errs.extend(validate_pod_spec(
        spec,
        &spec_path,
        SpecContext {
            is_pod: true,
            extra_volumes: &[],
        },
    ));
    for (list, ctrs) in [
        ("containers", Some(&spec.containers)),
        ("initContainers", spec.init_containers.as_ref()),
    ] {
        for (i, c) in ctrs.into_iter().flatten().enumerate() {
            let image = s(&c.image);
            if image.trim() != image {
                errs.push(FieldError::invalid(
                    spec_path.child(list).index(i).child("image"),
                    image,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    match old {
        None => {
            if spec
                .ephemeral_containers
                .as_ref()
                .is_some_and(|e| !e.is_empty())
            {
                errs.push(FieldError::forbidden(
                    spec_path.child("ephemeralContainers"),
                    "cannot be set on create",
                ));
            }
            if !s(&spec.node_name).is_empty()
                && spec
                    .scheduling_gates
                    .as_ref()
                    .is_some_and(|g| !g.is_empty())
            {
                errs.push(FieldError::forbidden(
                    spec_path.child("nodeName"),
                    "cannot be set until all schedulingGates have been cleared",
                ));
            }
        }
        Some(old) => {
            let old_spec = old.spec.as_ref().unwrap_or(&default_spec);
            errs.extend(validate_pod_spec_update(spec, old_spec, &spec_path));
        }
    }
    errs
}

/// A pod template inside a workload: its labels, annotations and spec.
pub(crate) fn validate_pod_template_spec(
    t: &PodTemplateSpec,
    path: &FieldPath,
    extra_volumes: &[String],
) -> Errs {
    let mut errs = Vec::new();
    let m = t.metadata.as_ref();
    errs.extend(validate_labels(
        m.and_then(|m| m.labels.as_ref()),
        &path.child("labels"),
    ));
    errs.extend(validate_annotations(
        m.and_then(|m| m.annotations.as_ref()),
        &path.child("annotations"),
    ));
    let default_spec = PodSpec::default();
    let spec = t.spec.as_ref().unwrap_or(&default_spec);
    errs.extend(validate_pod_spec(
        spec,
        &path.child("spec"),
        SpecContext {
            is_pod: false,
            extra_volumes,
        },
    ));
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errs.push(FieldError::forbidden(
            path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

/// Volumes that validated, by name; mounts may reference only these.
type VolumeMap<'a> = BTreeMap<String, Option<&'a Volume>>;

pub(crate) fn validate_pod_spec(spec: &PodSpec, path: &FieldPath, ctx: SpecContext<'_>) -> Errs {
    let mut errs = Vec::new();
    if spec.termination_grace_period_seconds.is_none() {
        errs.push(FieldError::required(
            path.child("terminationGracePeriodSeconds"),
            "",
        ));
    }
    let grace = spec.termination_grace_period_seconds;
    let (mut vols, vol_errs) = validate_volumes(
        spec.volumes.as_deref().unwrap_or_default(),
        &path.child("volumes"),
    );
    errs.extend(vol_errs);
    for extra in ctx.extra_volumes {
        vols.entry(extra.clone()).or_insert(None);
    }
    let restart_policy = s(&spec.restart_policy);
    errs.extend(validate_containers(
        &spec.containers,
        &vols,
        grace,
        &path.child("containers"),
    ));
    errs.extend(validate_init_containers(
        spec.init_containers.as_deref().unwrap_or_default(),
        &spec.containers,
        &vols,
        grace,
        &path.child("initContainers"),
    ));
    if spec.host_network == Some(true) {
        for (i, c) in spec.containers.iter().enumerate() {
            for (j, p) in c.ports.iter().flatten().enumerate() {
                let hp = p.host_port.unwrap_or(0);
                if (ctx.is_pod || hp != 0) && hp != p.container_port {
                    errs.push(FieldError::invalid(
                        path.child("containers")
                            .index(i)
                            .child("ports")
                            .index(j)
                            .child("hostPort"),
                        hp,
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    match restart_policy {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.push(FieldError::required(path.child("restartPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            path.child("restartPolicy"),
            other,
            &["Always", "OnFailure", "Never"],
        )),
    }
    match s(&spec.dns_policy) {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.push(FieldError::required(path.child("dnsPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            path.child("dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    errs.extend(validate_labels(
        spec.node_selector.as_ref(),
        &path.child("nodeSelector"),
    ));
    if let Some(sc) = &spec.security_context {
        errs.extend(validate_pod_security_context(
            sc,
            spec,
            &path.child("securityContext"),
        ));
    }
    if let Some(a) = &spec.affinity {
        errs.extend(validate_affinity(a, &path.child("affinity")));
    }
    errs.extend(validate_dns_config(
        spec.dns_config.as_ref(),
        s(&spec.dns_policy),
        &path.child("dnsConfig"),
    ));
    for (i, g) in spec.readiness_gates.iter().flatten().enumerate() {
        let p = path.child("readinessGates").index(i).child("conditionType");
        errs.extend(
            is_qualified_name(&g.condition_type)
                .into_iter()
                .map(|m| FieldError::invalid(&p, g.condition_type.as_str(), m)),
        );
    }
    let mut gates = BTreeSet::new();
    for (i, g) in spec.scheduling_gates.iter().flatten().enumerate() {
        let p = path.child("schedulingGates").index(i);
        errs.extend(
            is_qualified_name(&g.name)
                .into_iter()
                .map(|m| FieldError::invalid(&p, g.name.as_str(), m)),
        );
        if !gates.insert(g.name.as_str()) {
            errs.push(FieldError::duplicate(&p, g.name.as_str()));
        }
    }
    errs.extend(validate_topology_spread(
        spec.topology_spread_constraints
            .as_deref()
            .unwrap_or_default(),
        &path.child("topologySpreadConstraints"),
    ));
    for (field, value, rule) in [
        (
            "serviceAccountName",
            &spec.service_account_name,
            NameRule::Subdomain,
        ),
        ("nodeName", &spec.node_name, NameRule::Subdomain),
        (
            "priorityClassName",
            &spec.priority_class_name,
            NameRule::Subdomain,
        ),
    ] {
        let v = s(value);
        if !v.is_empty() {
            for msg in name_errors(rule, v, false) {
                errs.push(FieldError::invalid(path.child(field), v, msg));
            }
        }
    }
    if let Some(v) = spec.active_deadline_seconds
        && !(1..=MAX_INT32).contains(&v)
    {
        errs.push(FieldError::invalid(
            path.child("activeDeadlineSeconds"),
            v,
            inclusive_range_error(1, MAX_INT32),
        ));
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        let v = s(value);
        if !v.is_empty() {
            for msg in is_dns1123_label(v) {
                errs.push(FieldError::invalid(path.child(field), v, msg));
            }
        }
    }
    errs.extend(validate_tolerations(
        spec.tolerations.as_deref().unwrap_or_default(),
        &path.child("tolerations"),
    ));
    for (i, alias) in spec.host_aliases.iter().flatten().enumerate() {
        let p = path.child("hostAliases").index(i);
        if parse_ip(&alias.ip).is_none() {
            errs.push(FieldError::invalid(
                p.child("ip"),
                alias.ip.as_str(),
                INVALID_IP,
            ));
        }
        for (j, h) in alias.hostnames.iter().flatten().enumerate() {
            for msg in is_dns1123_subdomain(h) {
                errs.push(FieldError::invalid(
                    p.child("hostnames").index(j),
                    h.as_str(),
                    msg,
                ));
            }
        }
    }
    if let Some(rc) = &spec.runtime_class_name {
        for msg in name_errors(NameRule::Subdomain, rc, false) {
            errs.push(FieldError::invalid(
                path.child("runtimeClassName"),
                rc.as_str(),
                msg,
            ));
        }
    }
    if let Some(pp) = &spec.preemption_policy {
        match pp.as_str() {
            "PreemptLowerPriority" | "Never" => {}
            "" => errs.push(FieldError::required(path.child("preemptionPolicy"), "")),
            other => errs.push(FieldError::not_supported(
                path.child("preemptionPolicy"),
                other,
                &["PreemptLowerPriority", "Never"],
            )),
        }
    }
    if spec.overhead.is_some() {
        errs.extend(validate_requirements(
            spec.overhead.as_ref(),
            None,
            &path.child("overhead"),
        ));
    }
    if let Some(os) = &spec.os {
        match os.name.as_str() {
            "linux" | "windows" => {}
            "" => errs.push(FieldError::required(path.child("os").child("name"), "")),
            other => errs.push(FieldError::not_supported(
                path.child("os").child("name"),
                other,
                &["linux", "windows"],
            )),
        }
    }
    errs
}

fn validate_volumes<'a>(volumes: &'a [Volume], path: &FieldPath) -> (VolumeMap<'a>, Errs) {
    let mut errs = Vec::new();
    let mut names = VolumeMap::new();
    for (i, v) in volumes.iter().enumerate() {
        let p = path.index(i);
        let mut el = validate_volume_source(v, &p);
        if v.name.is_empty() {
            el.push(FieldError::required(p.child("name"), ""));
        } else {
            el.extend(
                is_dns1123_label(&v.name)
                    .into_iter()
                    .map(|m| FieldError::invalid(p.child("name"), v.name.as_str(), m)),
            );
        }
        if names.contains_key(&v.name) {
            el.push(FieldError::duplicate(p.child("name"), v.name.as_str()));
        }
        if el.is_empty() {
            names.insert(v.name.clone(), Some(v));
        } else {
            errs.extend(el);
        }
    }
    (names, errs)
}

/// Exactly one source per volume; the first one is validated, later ones are
/// reported as extra. The child names (typo included) are kube's.
fn validate_volume_source(v: &Volume, path: &FieldPath) -> Errs {
    let sources: [(&str, bool); 30] = [
        ("emptyDir", v.empty_dir.is_some()),
        ("hostPath", v.host_path.is_some()),
        ("gitRepo", v.git_repo.is_some()),
        ("gcePersistentDisk", v.gce_persistent_disk.is_some()),
        ("awsElasticBlockStore", v.aws_elastic_block_store.is_some()),
        ("secret", v.secret.is_some()),
        ("nfs", v.nfs.is_some()),
        ("iscsi", v.iscsi.is_some()),
        ("glusterfs", v.glusterfs.is_some()),
        ("flocker", v.flocker.is_some()),
        ("persistentVolumeClaim", v.persistent_volume_claim.is_some()),
        ("rbd", v.rbd.is_some()),
        ("cinder", v.cinder.is_some()),
        ("cephFS", v.cephfs.is_some()),
        ("quobyte", v.quobyte.is_some()),
        ("downwarAPI", v.downward_api.is_some()),
        ("fc", v.fc.is_some()),
        ("flexVolume", v.flex_volume.is_some()),
        ("configMap", v.config_map.is_some()),
        ("azureFile", v.azure_file.is_some()),
        ("vsphereVolume", v.vsphere_volume.is_some()),
        ("photonPersistentDisk", v.photon_persistent_disk.is_some()),
        ("portworxVolume", v.portworx_volume.is_some()),
        ("azureDisk", v.azure_disk.is_some()),
        ("storageos", v.storageos.is_some()),
        ("projected", v.projected.is_some()),
        ("scaleIO", v.scale_io.is_some()),
        ("csi", v.csi.is_some()),
        ("ephemeral", v.ephemeral.is_some()),
        ("image", v.image.is_some()),
    ];
    let mut errs = Vec::new();
    let mut first = None;
    for (name, present) in sources {
        if !present {
            continue;
        }
        if first.is_some() {
            errs.push(FieldError::forbidden(
                path.child(name),
                "may not specify more than 1 volume type",
            ));
        } else {
            first = Some(name);
        }
    }
    match first {
        None => errs.push(FieldError::required(path, "must specify a volume type")),
        Some(name) => errs.extend(validate_first_source(v, name, path)),
    }
    errs
}

fn validate_first_source(v: &Volume, name: &str, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    match name {
        "emptyDir" => {
            let limit = v.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref());
            if let Some(q) = limit.and_then(|q| parse_quantity(q.0.trim()).ok())
                && q.signum() < 0
            {
                errs.push(FieldError::forbidden(
                    path.child("emptyDir").child("sizeLimit"),
                    "SizeLimit field must be a valid resource quantity",
                ));
            }
        }
        "hostPath" => {
            let hp = v.host_path.as_ref().expect("present");
            let p = path.child("hostPath");
            if hp.path.is_empty() {
                errs.push(FieldError::required(p.child("path"), ""));
            } else {
                errs.extend(validate_no_backsteps(&hp.path, &p.child("path")));
                const TYPES: &[&str] = &[
                    "",
                    "BlockDevice",
                    "CharDevice",
                    "Directory",
                    "DirectoryOrCreate",
                    "File",
                    "FileOrCreate",
                    "Socket",
                ];
                let t = s(&hp.type_);
                if hp.type_.is_some() && !TYPES.contains(&t) {
                    errs.push(FieldError::not_supported(p.child("type"), t, TYPES));
                }
            }
        }
        "secret" => {
            let sec = v.secret.as_ref().expect("present");
            let p = path.child("secret");
            if s(&sec.secret_name).is_empty() {
                errs.push(FieldError::required(p.child("secretName"), ""));
            }
            errs.extend(validate_mode(sec.default_mode, &p.child("defaultMode")));
            errs.extend(validate_items(sec.items.as_deref(), &p.child("items")));
        }
        "configMap" => {
            let cm = v.config_map.as_ref().expect("present");
            let p = path.child("configMap");
            if cm.name.is_empty() {
                errs.push(FieldError::required(p.child("name"), ""));
            }
            errs.extend(validate_mode(cm.default_mode, &p.child("defaultMode")));
            errs.extend(validate_items(cm.items.as_deref(), &p.child("items")));
        }
        "persistentVolumeClaim" => {
            let pvc = v.persistent_volume_claim.as_ref().expect("present");
            if pvc.claim_name.is_empty() {
                errs.push(FieldError::required(
                    path.child("persistentVolumeClaim").child("claimName"),
                    "",
                ));
            }
        }
        "nfs" => {
            let nfs = v.nfs.as_ref().expect("present");
            let p = path.child("nfs");
            if nfs.server.is_empty() {
                errs.push(FieldError::required(p.child("server"), ""));
            }
            if nfs.path.is_empty() {
                errs.push(FieldError::required(p.child("path"), ""));
            } else if !nfs.path.starts_with('/') {
                errs.push(FieldError::invalid(
                    p.child("path"),
                    nfs.path.as_str(),
                    "must be an absolute path",
                ));
            }
        }
        "downwarAPI" => {
            let d = v.downward_api.as_ref().expect("present");
            let p = path.child("downwardAPI");
            errs.extend(validate_mode(d.default_mode, &p.child("defaultMode")));
            for (i, item) in d.items.iter().flatten().enumerate() {
                let ip = p.child("items").index(i);
                if item.path.is_empty() {
                    errs.push(FieldError::required(ip.child("path"), ""));
                } else {
                    errs.extend(validate_local_non_reserved_path(
                        &item.path,
                        &ip.child("path"),
                    ));
                }
                errs.extend(validate_mode(item.mode, &ip.child("mode")));
            }
        }
        "projected" => {
            let pr = v.projected.as_ref().expect("present");
            let p = path.child("projected");
            errs.extend(validate_mode(pr.default_mode, &p.child("defaultMode")));
            for (i, src) in pr.sources.iter().flatten().enumerate() {
                let sp = p.child("sources").index(i);
                let kinds = [
                    ("secret", src.secret.is_some()),
                    ("configMap", src.config_map.is_some()),
                    ("downwardAPI", src.downward_api.is_some()),
                    ("serviceAccountToken", src.service_account_token.is_some()),
                    ("clusterTrustBundle", src.cluster_trust_bundle.is_some()),
                ];
                let mut count = 0;
                for (k, present) in kinds {
                    if present {
                        count += 1;
                        if count > 1 {
                            errs.push(FieldError::forbidden(
                                sp.child(k),
                                "may not specify more than 1 volume type per source",
                            ));
                        }
                    }
                }
                if count == 0 {
                    errs.push(FieldError::required(&sp, "must specify one of: `configMap`, `secret`, `downwardAPI`, `serviceAccountToken` or `clusterTrustBundle`"));
                }
                if let Some(t) = &src.service_account_token {
                    let tp = sp.child("serviceAccountToken");
                    if let Some(exp) = t.expiration_seconds {
                        if exp < 600 {
                            errs.push(FieldError::invalid(
                                tp.child("expirationSeconds"),
                                exp,
                                "may not specify a duration less than 10 minutes",
                            ));
                        }
                        if exp > 1 << 32 {
                            errs.push(FieldError::invalid(
                                tp.child("expirationSeconds"),
                                exp,
                                "may not specify a duration larger than 2^32 seconds",
                            ));
                        }
                    }
                    if t.path.is_empty() {
                        errs.push(FieldError::required(tp.child("path"), ""));
                    }
                }
            }
        }
        "csi" if v.csi.as_ref().is_some_and(|c| c.driver.is_empty()) => {
            errs.push(FieldError::required(path.child("csi").child("driver"), ""));
        }
        "ephemeral"
            if v.ephemeral
                .as_ref()
                .is_some_and(|e| e.volume_claim_template.is_none()) =>
        {
            errs.push(FieldError::required(
                path.child("ephemeral").child("volumeClaimTemplate"),
                "",
            ));
        }
        _ => {}
    }
    errs
}

fn validate_mode(mode: Option<i32>, path: &FieldPath) -> Errs {
    match mode {
        Some(m) if !(0..=0o777).contains(&m) => vec![FieldError::invalid(path, m, FILE_MODE_MSG)],
        _ => Vec::new(),
    }
}

fn validate_items(items: Option<&[KeyToPath]>, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    for (i, item) in items.into_iter().flatten().enumerate() {
        let p = path.index(i);
        if item.key.is_empty() {
            errs.push(FieldError::required(p.child("key"), ""));
        }
        if item.path.is_empty() {
            errs.push(FieldError::required(p.child("path"), ""));
        } else {
            errs.extend(validate_local_non_reserved_path(
                &item.path,
                &p.child("path"),
            ));
        }
        errs.extend(validate_mode(item.mode, &p.child("mode")));
    }
    errs
}

fn validate_no_backsteps(target: &str, path: &FieldPath) -> Errs {
    if target.split('/').any(|part| part == "..") {
        vec![FieldError::invalid(path, target, "must not contain '..'")]
    } else {
        Vec::new()
    }
}

fn validate_local_descending_path(target: &str, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    if target.starts_with('/') {
        errs.push(FieldError::invalid(path, target, "must be a relative path"));
    }
    errs.extend(validate_no_backsteps(target, path));
    errs
}

fn validate_local_non_reserved_path(target: &str, path: &FieldPath) -> Errs {
    let mut errs = validate_local_descending_path(target, path);
    if target.starts_with("..") && !target.starts_with("../") {
        errs.push(FieldError::invalid(
            path,
            target,
            "must not start with '..'",
        ));
    }
    errs
}

fn validate_containers(
    containers: &[Container],
    vols: &VolumeMap<'_>,
    grace: Option<i64>,
    path: &FieldPath,
) -> Errs {
    let mut errs = Vec::new();
    if containers.is_empty() {
        errs.push(FieldError::required(path, ""));
        return errs;
    }
    let mut names = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(c, vols, &p));
        if !names.insert(c.name.as_str()) {
            errs.push(FieldError::duplicate(p.child("name"), c.name.as_str()));
        }
        if let Some(l) = &c.lifecycle {
            errs.extend(validate_lifecycle_handler(
                l.post_start.as_ref(),
                grace,
                &p.child("lifecycle").child("postStart"),
            ));
            errs.extend(validate_lifecycle_handler(
                l.pre_stop.as_ref(),
                grace,
                &p.child("lifecycle").child("preStop"),
            ));
        }
        errs.extend(validate_probes(c, &p));
        if c.restart_policy.is_some() {
            errs.push(FieldError::forbidden(
                p.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    errs.extend(check_host_port_conflicts(
        containers.iter().enumerate(),
        path,
    ));
    errs
}

fn validate_init_containers(
    inits: &[Container],
    regular: &[Container],
    vols: &VolumeMap<'_>,
    grace: Option<i64>,
    path: &FieldPath,
) -> Errs {
    let mut errs = Vec::new();
    let mut names: BTreeSet<&str> = regular.iter().map(|c| c.name.as_str()).collect();
    for (i, c) in inits.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(c, vols, &p));
        let mut restart_always = false;
        if let Some(rp) = &c.restart_policy {
            if rp == "Always" {
                restart_always = true;
            } else {
                errs.push(FieldError::not_supported(
                    p.child("restartPolicy"),
                    rp.as_str(),
                    &["Always"],
                ));
            }
        }
        if names.contains(c.name.as_str()) {
            errs.push(FieldError::duplicate(p.child("name"), c.name.as_str()));
        } else if !c.name.is_empty() {
            names.insert(c.name.as_str());
        }
        errs.extend(check_host_port_conflicts(std::iter::once((i, c)), path));
        if restart_always {
            if let Some(l) = &c.lifecycle {
                errs.extend(validate_lifecycle_handler(
                    l.post_start.as_ref(),
                    grace,
                    &p.child("lifecycle").child("postStart"),
                ));
                errs.extend(validate_lifecycle_handler(
                    l.pre_stop.as_ref(),
                    grace,
                    &p.child("lifecycle").child("preStop"),
                ));
            }
            errs.extend(validate_probes(c, &p));
        } else {
            const WHY: &str = "may not be set for init containers without restartPolicy=Always";
            for (field, set) in [
                ("lifecycle", c.lifecycle.is_some()),
                ("livenessProbe", c.liveness_probe.is_some()),
                ("readinessProbe", c.readiness_probe.is_some()),
                ("startupProbe", c.startup_probe.is_some()),
            ] {
                if set {
                    errs.push(FieldError::forbidden(p.child(field), WHY));
                }
            }
        }
    }
    errs
}

fn check_host_port_conflicts<'a>(
    containers: impl Iterator<Item = (usize, &'a Container)>,
    path: &FieldPath,
) -> Errs {
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, c) in containers {
        for (j, port) in c.ports.iter().flatten().enumerate() {
            let hp = port.host_port.unwrap_or(0);
            if hp == 0 {
                continue;
            }
            let key = format!("{}/{}/{}", s(&port.protocol), s(&port.host_ip), hp);
            if seen.contains(&key) {
                errs.push(FieldError::duplicate(
                    path.index(i).child("ports").index(j).child("hostPort"),
                    key,
                ));
            } else {
                seen.insert(key);
            }
        }
    }
    errs
}

fn validate_container_common(c: &Container, vols: &VolumeMap<'_>, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    if c.name.is_empty() {
        errs.push(FieldError::required(path.child("name"), ""));
    } else {
        errs.extend(
            is_dns1123_label(&c.name)
                .into_iter()
                .map(|m| FieldError::invalid(path.child("name"), c.name.as_str(), m)),
        );
    }
    if s(&c.image).is_empty() {
        errs.push(FieldError::required(path.child("image"), ""));
    }
    match s(&c.termination_message_policy) {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(
            path.child("terminationMessagePolicy"),
            "",
        )),
        other => errs.push(FieldError::not_supported(
            path.child("terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    errs.extend(validate_container_ports(
        c.ports.as_deref().unwrap_or_default(),
        &path.child("ports"),
    ));
    errs.extend(validate_env(
        c.env.as_deref().unwrap_or_default(),
        &path.child("env"),
    ));
    errs.extend(validate_env_from(
        c.env_from.as_deref().unwrap_or_default(),
        &path.child("envFrom"),
    ));
    errs.extend(validate_volume_mounts(c, vols, &path.child("volumeMounts")));
    for (i, d) in c.volume_devices.iter().flatten().enumerate() {
        let p = path.child("volumeDevices").index(i);
        if d.name.is_empty() {
            errs.push(FieldError::required(p.child("name"), ""));
        }
        match vols.get(&d.name) {
            None => errs.push(FieldError::not_found(p.child("name"), d.name.as_str())),
            Some(Some(v)) if v.persistent_volume_claim.is_none() && v.ephemeral.is_none() => {
                errs.push(FieldError::invalid(
                    p.child("name"),
                    d.name.as_str(),
                    "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
                ))
            }
            _ => {}
        }
        if d.device_path.is_empty() {
            errs.push(FieldError::required(p.child("devicePath"), ""));
        }
    }
    match s(&c.image_pull_policy) {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.push(FieldError::required(path.child("imagePullPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            path.child("imagePullPolicy"),
            other,
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    if let Some(r) = &c.resources {
        errs.extend(validate_requirements(
            r.limits.as_ref(),
            r.requests.as_ref(),
            &path.child("resources"),
        ));
    }
    let mut resized = BTreeSet::new();
    for (i, rp) in c.resize_policy.iter().flatten().enumerate() {
        let p = path.child("resizePolicy");
        if !resized.insert(rp.resource_name.as_str()) {
            errs.push(FieldError::duplicate(p.index(i), rp.resource_name.as_str()));
        }
        match rp.resource_name.as_str() {
            "cpu" | "memory" => {}
            "" => errs.push(FieldError::required(&p, "")),
            other => errs.push(FieldError::not_supported(&p, other, &["cpu", "memory"])),
        }
        match rp.restart_policy.as_str() {
            "NotRequired" | "RestartContainer" => {}
            "" => errs.push(FieldError::required(&p, "")),
            other => errs.push(FieldError::not_supported(
                &p,
                other,
                &["NotRequired", "RestartContainer"],
            )),
        }
    }
    if let Some(sc) = &c.security_context {
        errs.extend(validate_security_context(
            sc,
            &path.child("securityContext"),
        ));
    }
    errs
}

fn validate_container_ports(ports: &[ContainerPort], path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        let name = s(&port.name);
        if !name.is_empty() {
            let msgs = is_valid_port_name(name);
            if !msgs.is_empty() {
                errs.extend(
                    msgs.into_iter()
                        .map(|m| FieldError::invalid(p.child("name"), name, m)),
                );
            } else if !names.insert(name) {
                errs.push(FieldError::duplicate(p.child("name"), name));
            }
        }
        if port.container_port == 0 {
            errs.push(FieldError::required(p.child("containerPort"), ""));
        } else {
            for msg in is_valid_port_num(i64::from(port.container_port)) {
                errs.push(FieldError::invalid(
                    p.child("containerPort"),
                    port.container_port,
                    msg,
                ));
            }
        }
        if let Some(hp) = port.host_port.filter(|hp| *hp != 0) {
            for msg in is_valid_port_num(i64::from(hp)) {
                errs.push(FieldError::invalid(p.child("hostPort"), hp, msg));
            }
        }
        errs.extend(validate_protocol(s(&port.protocol), &p.child("protocol")));
    }
    errs
}

/// `TCP`, `UDP` or `SCTP`, listed sorted in the message as kube lists them.
pub(crate) fn validate_protocol(protocol: &str, path: &FieldPath) -> Errs {
    match protocol {
        "TCP" | "UDP" | "SCTP" => Vec::new(),
        "" => vec![FieldError::required(path, "")],
        other => vec![FieldError::not_supported(
            path,
            other,
            &["SCTP", "TCP", "UDP"],
        )],
    }
}

fn validate_env(vars: &[EnvVar], path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    for (i, ev) in vars.iter().enumerate() {
        let p = path.index(i);
        if ev.name.is_empty() {
            errs.push(FieldError::required(p.child("name"), ""));
        } else {
            errs.extend(
                is_env_var_name(&ev.name)
                    .into_iter()
                    .map(|m| FieldError::invalid(p.child("name"), ev.name.as_str(), m)),
            );
        }
        errs.extend(validate_env_value_from(ev, &p.child("valueFrom")));
    }
    errs
}

const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

const ENV_RESOURCE_FIELDS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

fn validate_env_value_from(ev: &EnvVar, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    let Some(from) = &ev.value_from else {
        return errs;
    };
    let mut sources = 0;
    if let Some(f) = &from.field_ref {
        sources += 1;
        errs.extend(validate_object_field_selector(
            s(&f.api_version),
            &f.field_path,
            ENV_FIELD_PATHS,
            &path.child("fieldRef"),
        ));
    }
    if let Some(r) = &from.resource_field_ref {
        sources += 1;
        let p = path.child("resourceFieldRef");
        if r.resource.is_empty() {
            errs.push(FieldError::required(p.child("resource"), ""));
        } else if !ENV_RESOURCE_FIELDS.contains(&r.resource.as_str())
            && !r.resource.starts_with("requests.hugepages-")
            && !r.resource.starts_with("limits.hugepages-")
        {
            errs.push(FieldError::not_supported(
                p.child("resource"),
                r.resource.as_str(),
                ENV_RESOURCE_FIELDS,
            ));
        }
    }
    for (field, sel) in [
        (
            "configMapKeyRef",
            from.config_map_key_ref.as_ref().map(|r| (&r.name, &r.key)),
        ),
        (
            "secretKeyRef",
            from.secret_key_ref.as_ref().map(|r| (&r.name, &r.key)),
        ),
    ] {
        let Some((name, key)) = sel else { continue };
        sources += 1;
        let p = path.child(field);
        for msg in name_errors(NameRule::Subdomain, name, false) {
            errs.push(FieldError::invalid(p.child("name"), name.as_str(), msg));
        }
        if key.is_empty() {
            errs.push(FieldError::required(p.child("key"), ""));
        } else {
            errs.extend(
                is_config_map_key(key)
                    .into_iter()
                    .map(|m| FieldError::invalid(p.child("key"), key.as_str(), m)),
            );
        }
    }
    if sources == 0 {
        errs.push(FieldError::invalid(
            path,
            "",
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
        ));
    } else if !s(&ev.value).is_empty() {
        errs.push(FieldError::invalid(
            path,
            "",
            "may not be specified when `value` is not empty",
        ));
    } else if sources > 1 {
        errs.push(FieldError::invalid(
            path,
            "",
            "may not have more than one field specified at a time",
        ));
    }
    errs
}

fn validate_object_field_selector(
    api_version: &str,
    field_path: &str,
    allowed: &[&str],
    path: &FieldPath,
) -> Errs {
    if api_version.is_empty() {
        return vec![FieldError::required(path.child("apiVersion"), "")];
    }
    if field_path.is_empty() {
        return vec![FieldError::required(path.child("fieldPath"), "")];
    }
    if let Some((base, rest)) = field_path.split_once('[') {
        let subscript = rest.strip_suffix(']').map(|r| r.trim_matches('\''));
        return match (base, subscript) {
            ("metadata.annotations", Some(k)) => is_qualified_name(&k.to_lowercase())
                .into_iter()
                .map(|m| FieldError::invalid(path, k, m))
                .collect(),
            ("metadata.labels", Some(k)) => is_qualified_name(k)
                .into_iter()
                .map(|m| FieldError::invalid(path, k, m))
                .collect(),
            _ => vec![FieldError::invalid(
                path,
                base,
                "does not support subscript",
            )],
        };
    }
    if allowed.contains(&field_path) {
        Vec::new()
    } else {
        vec![FieldError::not_supported(
            path.child("fieldPath"),
            field_path,
            allowed,
        )]
    }
}

fn validate_env_from(sources: &[EnvFromSource], path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    for (i, ev) in sources.iter().enumerate() {
        let p = path.index(i);
        let prefix = s(&ev.prefix);
        if !prefix.is_empty() {
            errs.extend(
                is_env_var_name(prefix)
                    .into_iter()
                    .map(|m| FieldError::invalid(p.child("prefix"), prefix, m)),
            );
        }
        let mut count = 0;
        for (field, name) in [
            ("configMapRef", ev.config_map_ref.as_ref().map(|r| &r.name)),
            ("secretRef", ev.secret_ref.as_ref().map(|r| &r.name)),
        ] {
            let Some(name) = name else { continue };
            count += 1;
            let np = p.child(field).child("name");
            if name.is_empty() {
                errs.push(FieldError::required(np, ""));
            } else {
                for msg in name_errors(NameRule::Subdomain, name, true) {
                    errs.push(FieldError::invalid(&np, name.as_str(), msg));
                }
            }
        }
        if count == 0 {
            errs.push(FieldError::invalid(
                path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if count > 1 {
            errs.push(FieldError::invalid(
                path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn validate_volume_mounts(c: &Container, vols: &VolumeMap<'_>, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    let mounts: &[VolumeMount] = c.volume_mounts.as_deref().unwrap_or_default();
    let mut mount_points = BTreeSet::new();
    let privileged = c.security_context.as_ref().and_then(|sc| sc.privileged) == Some(true);
    for (i, m) in mounts.iter().enumerate() {
        let p = path.index(i);
        if m.name.is_empty() {
            errs.push(FieldError::required(p.child("name"), ""));
        }
        if !vols.contains_key(&m.name) {
            errs.push(FieldError::not_found(p.child("name"), m.name.as_str()));
        }
        if m.mount_path.is_empty() {
            errs.push(FieldError::required(p.child("mountPath"), ""));
        }
        if !mount_points.insert(m.mount_path.as_str()) {
            errs.push(FieldError::invalid(
                p.child("mountPath"),
                m.mount_path.as_str(),
                "must be unique",
            ));
        }
        let sub_path = s(&m.sub_path);
        let sub_path_expr = s(&m.sub_path_expr);
        // kube reports subPath problems at the list's path, not the item's.
        if !sub_path.is_empty() {
            errs.extend(validate_local_descending_path(
                sub_path,
                &path.child("subPath"),
            ));
        }
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                errs.push(FieldError::invalid(
                    p.child("subPathExpr"),
                    sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errs.extend(validate_local_descending_path(
                sub_path_expr,
                &path.child("subPathExpr"),
            ));
        }
        if let Some(mp) = &m.mount_propagation {
            let pp = path.child("mountPropagation");
            match mp.as_str() {
                "HostToContainer" | "None" => {}
                "Bidirectional" if privileged => {}
                "Bidirectional" => errs.push(FieldError::forbidden(
                    &pp,
                    "Bidirectional mount propagation is available only to privileged containers",
                )),
                other => errs.push(FieldError::not_supported(
                    &pp,
                    other,
                    &["Bidirectional", "HostToContainer", "None"],
                )),
            }
        }
    }
    errs
}

fn validate_probes(c: &Container, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    for (field, probe) in [
        ("livenessProbe", &c.liveness_probe),
        ("readinessProbe", &c.readiness_probe),
        ("startupProbe", &c.startup_probe),
    ] {
        let Some(probe) = probe else { continue };
        let p = path.child(field);
        errs.extend(validate_probe(probe, &p));
        match field {
            "readinessProbe" => {
                if let Some(t) = probe.termination_grace_period_seconds {
                    errs.push(FieldError::invalid(
                        p.child("terminationGracePeriodSeconds"),
                        t,
                        "must not be set for readinessProbes",
                    ));
                }
            }
            _ => {
                let st = probe.success_threshold.unwrap_or(0);
                if st != 1 {
                    errs.push(FieldError::invalid(
                        p.child("successThreshold"),
                        st,
                        "must be 1",
                    ));
                }
            }
        }
    }
    errs
}

fn validate_probe(probe: &Probe, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    let handlers: [(&str, bool); 4] = [
        ("exec", probe.exec.is_some()),
        ("httpGet", probe.http_get.is_some()),
        ("tcpSocket", probe.tcp_socket.is_some()),
        ("grpc", probe.grpc.is_some()),
    ];
    errs.extend(validate_handler_set(&handlers, path));
    if let Some(e) = &probe.exec
        && handlers.iter().find(|h| h.1).map(|h| h.0) == Some("exec")
        && e.command.as_ref().is_none_or(|c| c.is_empty())
    {
        errs.push(FieldError::required(
            path.child("exec").child("command"),
            "",
        ));
    }
    if let Some(h) = &probe.http_get
        && first_handler(&handlers) == Some("httpGet")
    {
        errs.extend(validate_http_get(h, &path.child("httpGet")));
    }
    if let Some(t) = &probe.tcp_socket
        && first_handler(&handlers) == Some("tcpSocket")
    {
        errs.extend(validate_port_num_or_name(
            &t.port,
            &path.child("tcpSocket").child("port"),
        ));
    }
    if let Some(g) = &probe.grpc
        && first_handler(&handlers) == Some("grpc")
    {
        errs.extend(validate_port_num_or_name(
            &IntOrString::Int(g.port),
            &path.child("grpc").child("port"),
        ));
    }
    for (field, v) in [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ] {
        if let Some(v) = v.filter(|v| *v < 0) {
            errs.push(FieldError::invalid(path.child(field), v, IS_NEGATIVE));
        }
    }
    if let Some(t) = probe.termination_grace_period_seconds.filter(|t| *t <= 0) {
        errs.push(FieldError::invalid(
            path.child("terminationGracePeriodSeconds"),
            t,
            "must be greater than 0",
        ));
    }
    errs
}

fn first_handler(handlers: &[(&'static str, bool)]) -> Option<&'static str> {
    handlers.iter().find(|h| h.1).map(|h| h.0)
}

/// Exactly one handler: the first counts, later ones are forbidden.
fn validate_handler_set(handlers: &[(&str, bool)], path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    let mut count = 0;
    for (name, present) in handlers {
        if *present {
            count += 1;
            if count > 1 {
                errs.push(FieldError::forbidden(
                    path.child(name),
                    "may not specify more than 1 handler type",
                ));
            }
        }
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
    errs
}

fn validate_lifecycle_handler(
    h: Option<&LifecycleHandler>,
    grace: Option<i64>,
    path: &FieldPath,
) -> Errs {
    let Some(h) = h else {
        return Vec::new();
    };
    let handlers: [(&str, bool); 4] = [
        ("exec", h.exec.is_some()),
        ("httpGet", h.http_get.is_some()),
        ("tcpSocket", h.tcp_socket.is_some()),
        ("sleep", h.sleep.is_some()),
    ];
    let mut errs = validate_handler_set(&handlers, path);
    match first_handler(&handlers) {
        Some("exec")
            if h.exec
                .as_ref()
                .is_some_and(|e| e.command.as_ref().is_none_or(|c| c.is_empty())) =>
        {
            errs.push(FieldError::required(
                path.child("exec").child("command"),
                "",
            ));
        }
        Some("httpGet") => errs.extend(validate_http_get(
            h.http_get.as_ref().expect("present"),
            &path.child("httpGet"),
        )),
        Some("tcpSocket") => errs.extend(validate_port_num_or_name(
            &h.tcp_socket.as_ref().expect("present").port,
            &path.child("tcpSocket").child("port"),
        )),
        Some("sleep") => {
            let secs = h.sleep.as_ref().expect("present").seconds;
            if let Some(g) = grace
                && (secs < 0 || secs > g)
            {
                errs.push(FieldError::invalid(
                    path.child("sleep"),
                    secs,
                    format!(
                        "must be non-negative and less than terminationGracePeriodSeconds ({g})"
                    ),
                ));
            }
        }
        _ => {}
    }
    errs
}

fn validate_http_get(h: &HTTPGetAction, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    if s(&h.path).is_empty() {
        errs.push(FieldError::required(path.child("path"), ""));
    }
    errs.extend(validate_port_num_or_name(&h.port, &path.child("port")));
    let scheme = s(&h.scheme);
    if scheme != "HTTP" && scheme != "HTTPS" {
        errs.push(FieldError::not_supported(
            path.child("scheme"),
            scheme,
            &["HTTP", "HTTPS"],
        ));
    }
    for header in h.http_headers.iter().flatten() {
        for msg in is_http_header_name(&header.name) {
            errs.push(FieldError::invalid(
                path.child("httpHeaders"),
                header.name.as_str(),
                msg,
            ));
        }
    }
    errs
}

/// A port given as a number (1–65535) or an IANA service name.
pub(crate) fn validate_port_num_or_name(port: &IntOrString, path: &FieldPath) -> Errs {
    match port {
        IntOrString::Int(n) => is_valid_port_num(i64::from(*n))
            .into_iter()
            .map(|m| FieldError::invalid(path, *n, m))
            .collect(),
        IntOrString::String(name) => is_valid_port_name(name)
            .into_iter()
            .map(|m| FieldError::invalid(path, name.as_str(), m))
            .collect(),
    }
}

fn validate_id(v: Option<i64>, path: &FieldPath) -> Errs {
    match v {
        Some(id) if !(0..=MAX_INT32).contains(&id) => vec![FieldError::invalid(
            path,
            id,
            inclusive_range_error(0, MAX_INT32),
        )],
        _ => Vec::new(),
    }
}

fn validate_seccomp(
    profile: Option<&k8s_openapi::api::core::v1::SeccompProfile>,
    path: &FieldPath,
) -> Errs {
    let Some(p) = profile else {
        return Vec::new();
    };
    let tp = path.child("type");
    match p.type_.as_str() {
        "Localhost" => {
            if s(&p.localhost_profile).is_empty() {
                vec![FieldError::required(
                    path.child("localhostProfile"),
                    "must be set when seccomp type is Localhost",
                )]
            } else {
                Vec::new()
            }
        }
        "RuntimeDefault" | "Unconfined" => {
            if p.localhost_profile.is_some() {
                vec![FieldError::invalid(
                    path.child("localhostProfile"),
                    s(&p.localhost_profile),
                    "can only be set when seccomp type is Localhost",
                )]
            } else {
                Vec::new()
            }
        }
        "" => vec![FieldError::required(
            tp,
            "type is required when seccompProfile is set",
        )],
        other => vec![FieldError::not_supported(
            tp,
            other,
            &["Localhost", "RuntimeDefault", "Unconfined"],
        )],
    }
}

fn validate_pod_security_context(
    sc: &PodSecurityContext,
    spec: &PodSpec,
    path: &FieldPath,
) -> Errs {
    let mut errs = Vec::new();
    errs.extend(validate_id(sc.fs_group, &path.child("fsGroup")));
    errs.extend(validate_id(sc.run_as_user, &path.child("runAsUser")));
    errs.extend(validate_id(sc.run_as_group, &path.child("runAsGroup")));
    for (i, g) in sc.supplemental_groups.iter().flatten().enumerate() {
        errs.extend(validate_id(
            Some(*g),
            &path.child("supplementalGroups").index(i),
        ));
    }
    if spec.share_process_namespace == Some(true) && spec.host_pid == Some(true) {
        errs.push(FieldError::invalid(
            path.child("shareProcessNamespace"),
            true,
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    let mut sysctls = BTreeSet::new();
    for (i, sysctl) in sc.sysctls.iter().flatten().enumerate() {
        let p = path.child("sysctls").index(i).child("name");
        if sysctl.name.is_empty() {
            errs.push(FieldError::required(&p, ""));
        } else if !is_valid_sysctl_name(&sysctl.name) {
            errs.push(FieldError::invalid(
                &p,
                sysctl.name.as_str(),
                format!("must have at most 253 characters and match regex {SYSCTL_REGEX}"),
            ));
        } else if sysctls.contains(sysctl.name.as_str()) {
            errs.push(FieldError::duplicate(&p, sysctl.name.as_str()));
        }
        sysctls.insert(sysctl.name.as_str());
    }
    if let Some(p) = &sc.fs_group_change_policy
        && p != "OnRootMismatch"
        && p != "Always"
    {
        errs.push(FieldError::not_supported(
            path.child("fsGroupChangePolicy"),
            p.as_str(),
            &["Always", "OnRootMismatch"],
        ));
    }
    errs.extend(validate_seccomp(
        sc.seccomp_profile.as_ref(),
        &path.child("seccompProfile"),
    ));
    if let Some(p) = &sc.supplemental_groups_policy
        && p != "Merge"
        && p != "Strict"
    {
        errs.push(FieldError::not_supported(
            path.child("supplementalGroupsPolicy"),
            p.as_str(),
            &["Merge", "Strict"],
        ));
    }
    errs
}

const SYSCTL_REGEX: &str =
    r"^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$";

fn is_valid_sysctl_name(name: &str) -> bool {
    use std::sync::LazyLock;
    static RE: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(SYSCTL_REGEX).expect("static regex"));
    name.len() <= 253 && RE.is_match(name)
}

fn validate_security_context(sc: &SecurityContext, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    errs.extend(validate_id(sc.run_as_user, &path.child("runAsUser")));
    errs.extend(validate_id(sc.run_as_group, &path.child("runAsGroup")));
    if let Some(pm) = &sc.proc_mount
        && pm != "Default"
        && pm != "Unmasked"
    {
        errs.push(FieldError::not_supported(
            path.child("procMount"),
            pm.as_str(),
            &["Default", "Unmasked"],
        ));
    }
    if sc.allow_privilege_escalation == Some(false) && sc.privileged == Some(true) {
        errs.push(FieldError::invalid(
            path,
            golit_security_context(sc),
            "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
        ));
    }
    if sc.allow_privilege_escalation == Some(false)
        && sc
            .capabilities
            .as_ref()
            .and_then(|c| c.add.as_ref())
            .is_some_and(|a| a.iter().any(|c| c == "CAP_SYS_ADMIN" || c == "SYS_ADMIN"))
    {
        errs.push(FieldError::invalid(
            path,
            golit_security_context(sc),
            "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
        ));
    }
    errs.extend(validate_seccomp(
        sc.seccomp_profile.as_ref(),
        &path.child("seccompProfile"),
    ));
    errs
}

fn golit_security_context(sc: &SecurityContext) -> Value {
    serde_json::to_value(sc).unwrap_or(Value::Null)
}

pub(crate) fn validate_tolerations(tolerations: &[Toleration], path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    for (i, t) in tolerations.iter().enumerate() {
        let p = path.index(i);
        let key = s(&t.key);
        let op = s(&t.operator);
        let effect = s(&t.effect);
        if !key.is_empty() {
            errs.extend(validate_label_name(key, &p.child("key")));
        }
        if key.is_empty() && op != "Exists" {
            errs.push(FieldError::invalid(
                p.child("operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                p.child("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match op {
            "Equal" | "" => {
                let msgs = is_valid_label_value(s(&t.value));
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        p.child("operator"),
                        s(&t.value),
                        msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !s(&t.value).is_empty() {
                    errs.push(FieldError::invalid(
                        p.child("operator"),
                        s(&t.value),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                p.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() {
            errs.extend(validate_taint_effect(effect, &p.child("effect")));
        }
    }
    errs
}

pub(crate) fn validate_taint_effect(effect: &str, path: &FieldPath) -> Errs {
    match effect {
        "NoSchedule" | "PreferNoSchedule" | "NoExecute" => Vec::new(),
        other => vec![FieldError::not_supported(
            path,
            other,
            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
        )],
    }
}

fn validate_dns_config(cfg: Option<&PodDNSConfig>, policy: &str, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    if policy == "None" {
        match cfg {
            None => {
                errs.push(FieldError::required(
                    path,
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                ));
                return errs;
            }
            Some(c) if c.nameservers.as_ref().is_none_or(|n| n.is_empty()) => {
                errs.push(FieldError::required(
                    path.child("nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                ));
                return errs;
            }
            _ => {}
        }
    }
    let Some(cfg) = cfg else {
        return errs;
    };
    let nameservers = cfg.nameservers.as_deref().unwrap_or_default();
    if nameservers.len() > 3 {
        errs.push(FieldError::invalid(
            path.child("nameservers"),
            json!(nameservers),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, ns) in nameservers.iter().enumerate() {
        if parse_ip(ns).is_none() {
            errs.push(FieldError::invalid(
                path.child("nameservers").index(i),
                ns.as_str(),
                INVALID_IP,
            ));
        }
    }
    let searches = cfg.searches.as_deref().unwrap_or_default();
    if searches.len() > 32 {
        errs.push(FieldError::invalid(
            path.child("searches"),
            json!(searches),
            "must not have more than 32 search paths",
        ));
    }
    if searches.join(" ").len() > 2048 {
        errs.push(FieldError::invalid(
            path.child("searches"),
            json!(searches),
            "must not have more than 2048 characters (including spaces) in the search list",
        ));
    }
    for (i, search) in searches.iter().enumerate() {
        // RelaxedDNSSearchValidation is off in 1.32: searches are DNS subdomains, a trailing dot allowed.
        let trimmed = search.strip_suffix('.').unwrap_or(search);
        for msg in is_dns1123_subdomain(trimmed) {
            errs.push(FieldError::invalid(
                path.child("searches").index(i),
                trimmed,
                msg,
            ));
        }
    }
    for (i, opt) in cfg.options.iter().flatten().enumerate() {
        if s(&opt.name).is_empty() {
            errs.push(FieldError::required(
                path.child("options").index(i),
                "must not be empty",
            ));
        }
    }
    errs
}

fn validate_topology_spread(constraints: &[TopologySpreadConstraint], path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    for (i, c) in constraints.iter().enumerate() {
        let p = path.index(i);
        if c.max_skew <= 0 {
            errs.push(FieldError::invalid(
                p.child("maxSkew"),
                c.max_skew,
                "must be greater than zero",
            ));
        }
        if c.topology_key.is_empty() {
            errs.push(FieldError::required(
                p.child("topologyKey"),
                "can not be empty",
            ));
        }
        if c.when_unsatisfiable != "DoNotSchedule" && c.when_unsatisfiable != "ScheduleAnyway" {
            errs.push(FieldError::not_supported(
                p.child("whenUnsatisfiable"),
                c.when_unsatisfiable.as_str(),
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        if constraints[i + 1..].iter().any(|o| {
            o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
        }) {
            errs.push(FieldError::duplicate(
                p.child("{topologyKey, whenUnsatisfiable}"),
                format!("{{{}, {}}}", c.topology_key, c.when_unsatisfiable),
            ));
        }
        if let Some(md) = c.min_domains {
            if md <= 0 {
                errs.push(FieldError::invalid(
                    p.child("minDomains"),
                    md,
                    "must be greater than 0",
                ));
            } else if c.when_unsatisfiable != "DoNotSchedule" {
                errs.push(FieldError::invalid(
                    p.child("minDomains"),
                    md,
                    "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway",
                ));
            }
        }
        errs.extend(validate_label_selector(
            c.label_selector.as_ref(),
            &p.child("labelSelector"),
        ));
    }
    errs
}

fn validate_node_selector_term(term: &NodeSelectorTerm, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    for (i, r) in term.match_expressions.iter().flatten().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let values = r.values.as_deref().unwrap_or_default();
        match r.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => errs.push(FieldError::required(
                p.child("values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldError::forbidden(
                p.child("values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "Gt" | "Lt" if values.len() != 1 => errs.push(FieldError::required(
                p.child("values"),
                "must be specified single value when `operator` is 'Lt' or 'Gt'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
            op => errs.push(FieldError::invalid(
                p.child("operator"),
                op,
                "not a valid selector operator",
            )),
        }
        errs.extend(validate_label_name(&r.key, &p.child("key")));
    }
    for (i, r) in term.match_fields.iter().flatten().enumerate() {
        let p = path.child("matchFields").index(i);
        if r.key != "metadata.name" {
            errs.push(FieldError::invalid(
                p.child("key"),
                r.key.as_str(),
                "not a valid field selector key",
            ));
        }
        if r.operator != "In" && r.operator != "NotIn" {
            errs.push(FieldError::invalid(
                p.child("operator"),
                r.operator.as_str(),
                "not a valid selector operator",
            ));
        }
        if r.values.as_ref().map(|v| v.len()) != Some(1) {
            errs.push(FieldError::required(
                p.child("values"),
                "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
            ));
        }
    }
    errs
}

fn validate_pod_affinity_term(term: &PodAffinityTerm, path: &FieldPath) -> Errs {
    let mut errs =
        validate_label_selector(term.label_selector.as_ref(), &path.child("labelSelector"));
    errs.extend(validate_label_selector(
        term.namespace_selector.as_ref(),
        &path.child("namespaceSelector"),
    ));
    for (i, ns) in term.namespaces.iter().flatten().enumerate() {
        for msg in is_dns1123_label(ns) {
            errs.push(FieldError::invalid(
                path.child("namespaces").index(i),
                ns.as_str(),
                msg,
            ));
        }
    }
    if term.topology_key.is_empty() {
        errs.push(FieldError::required(
            path.child("topologyKey"),
            "can not be empty",
        ));
    } else {
        errs.extend(validate_label_name(
            &term.topology_key,
            &path.child("topologyKey"),
        ));
    }
    errs
}

fn validate_affinity(a: &Affinity, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    if let Some(na) = &a.node_affinity {
        let p = path.child("nodeAffinity");
        if let Some(req) = &na.required_during_scheduling_ignored_during_execution {
            let rp = p.child("requiredDuringSchedulingIgnoredDuringExecution");
            if req.node_selector_terms.is_empty() {
                errs.push(FieldError::required(
                    rp.child("nodeSelectorTerms"),
                    "must have at least one node selector term",
                ));
            }
            for (i, t) in req.node_selector_terms.iter().enumerate() {
                errs.extend(validate_node_selector_term(
                    t,
                    &rp.child("nodeSelectorTerms").index(i),
                ));
            }
        }
        for (i, t) in na
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .flatten()
            .enumerate()
        {
            let tp = p
                .child("preferredDuringSchedulingIgnoredDuringExecution")
                .index(i);
            if !(1..=100).contains(&t.weight) {
                errs.push(FieldError::invalid(
                    tp.child("weight"),
                    t.weight,
                    "must be in the range 1-100",
                ));
            }
            errs.extend(validate_node_selector_term(
                &t.preference,
                &tp.child("preference"),
            ));
        }
    }
    let pod_affinities = [
        (
            "podAffinity",
            a.pod_affinity.as_ref().map(|p| {
                (
                    &p.required_during_scheduling_ignored_during_execution,
                    &p.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
        (
            "podAntiAffinity",
            a.pod_anti_affinity.as_ref().map(|p| {
                (
                    &p.required_during_scheduling_ignored_during_execution,
                    &p.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
    ];
    for (field, terms) in pod_affinities {
        let Some((required, preferred)) = terms else {
            continue;
        };
        let p = path.child(field);
        for (i, t) in required.iter().flatten().enumerate() {
            errs.extend(validate_pod_affinity_term(
                t,
                &p.child("requiredDuringSchedulingIgnoredDuringExecution")
                    .index(i),
            ));
        }
        for (i, t) in preferred.iter().flatten().enumerate() {
            let tp = p
                .child("preferredDuringSchedulingIgnoredDuringExecution")
                .index(i);
            if !(1..=100).contains(&t.weight) {
                errs.push(FieldError::invalid(
                    tp.child("weight"),
                    t.weight,
                    "must be in the range 1-100",
                ));
            }
            errs.extend(validate_pod_affinity_term(
                &t.pod_affinity_term,
                &tp.child("podAffinityTerm"),
            ));
        }
    }
    errs
}

const UPDATABLE_POD_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// What an update may change in a pod spec: images, a shrinking
/// activeDeadlineSeconds, added tolerations, removed scheduling gates.
fn validate_pod_spec_update(new: &PodSpec, old: &PodSpec, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    let empty = Vec::new();
    for (field, n, o) in [
        ("containers", &new.containers, &old.containers),
        (
            "initContainers",
            new.init_containers.as_ref().unwrap_or(&empty),
            old.init_containers.as_ref().unwrap_or(&empty),
        ),
    ] {
        if n.len() != o.len() {
            errs.push(FieldError::forbidden(
                path.child(field),
                "pod updates may not add or remove containers",
            ));
            return errs;
        }
        for (i, c) in n.iter().enumerate() {
            if s(&c.image).is_empty() {
                errs.push(FieldError::required(
                    path.child(field).index(i).child("image"),
                    "",
                ));
            }
        }
    }
    if let Some(new_ads) = new.active_deadline_seconds {
        if !(0..=MAX_INT32).contains(&new_ads) {
            errs.push(FieldError::invalid(
                path.child("activeDeadlineSeconds"),
                new_ads,
                inclusive_range_error(0, MAX_INT32),
            ));
            return errs;
        }
        if let Some(old_ads) = old.active_deadline_seconds
            && old_ads < new_ads
        {
            errs.push(FieldError::invalid(
                path.child("activeDeadlineSeconds"),
                new_ads,
                "must be less than or equal to previous value",
            ));
            return errs;
        }
    } else if old.active_deadline_seconds.is_some() {
        errs.push(FieldError::invalid(
            path.child("activeDeadlineSeconds"),
            Value::Null,
            "must not update from a positive integer to nil value",
        ));
    }
    let new_tol = new.tolerations.as_deref().unwrap_or_default();
    for o in old.tolerations.iter().flatten() {
        let found = new_tol.iter().any(|n| {
            let mut o = o.clone();
            o.toleration_seconds = n.toleration_seconds;
            &o == n
        });
        if !found {
            errs.push(FieldError::forbidden(
                path.child("tolerations"),
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            break;
        }
    }
    let old_gates: BTreeSet<&str> = old
        .scheduling_gates
        .iter()
        .flatten()
        .map(|g| g.name.as_str())
        .collect();
    for (i, g) in new.scheduling_gates.iter().flatten().enumerate() {
        if !old_gates.contains(g.name.as_str()) {
            errs.push(FieldError::forbidden(
                path.child("schedulingGates").index(i).child("name"),
                format!(
                    "only deletion is allowed, but found new scheduling gate '{}'",
                    g.name
                ),
            ));
        }
    }
    let mut munged = new.clone();
    for (c, o) in munged.containers.iter_mut().zip(&old.containers) {
        c.image = o.image.clone();
    }
    if let (Some(n), Some(o)) = (
        munged.init_containers.as_mut(),
        old.init_containers.as_ref(),
    ) {
        for (c, o) in n.iter_mut().zip(o) {
            c.image = o.image.clone();
        }
    }
    munged.active_deadline_seconds = old.active_deadline_seconds;
    // Binding an unscheduled pod may arrive as an ordinary update of
    // spec.nodeName (kube has a separate binding path); assigning a node once is allowed.
    if s(&old.node_name).is_empty() {
        munged.node_name = old.node_name.clone();
    }
    munged.scheduling_gates = old.scheduling_gates.clone();
    munged.tolerations = old.tolerations.clone();
    if old.termination_grace_period_seconds.is_some_and(|g| g < 0)
        && munged.termination_grace_period_seconds == Some(1)
    {
        munged.termination_grace_period_seconds = old.termination_grace_period_seconds;
    }
    let munged = serde_json::to_value(&munged).unwrap_or(Value::Null);
    let old = serde_json::to_value(old).unwrap_or(Value::Null);
    if munged != old {
        errs.push(FieldError::forbidden(
            path,
            format!(
                "pod updates may not change fields other than {UPDATABLE_POD_FIELDS}\n{}",
                json_diff(&old, &munged, "spec")
            ),
        ));
    }
    errs
}

/// A short account of how `new` differs from `old`, standing in for the Go
/// struct diff kube appends to some Forbidden messages.
pub(crate) fn json_diff(old: &Value, new: &Value, root: &str) -> String {
    let mut lines = Vec::new();
    diff_into(old, new, root, &mut lines);
    lines.join("\n")
}

fn diff_into(old: &Value, new: &Value, path: &str, out: &mut Vec<String>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
            for k in keys {
                let null = Value::Null;
                diff_into(
                    o.get(k).unwrap_or(&null),
                    n.get(k).unwrap_or(&null),
                    &format!("{path}.{k}"),
                    out,
                );
            }
        }
        (Value::Array(o), Value::Array(n)) if o.len() == n.len() => {
            for (i, (a, b)) in o.iter().zip(n).enumerate() {
                diff_into(a, b, &format!("{path}[{i}]"), out);
            }
        }
        _ => {
            if !old.is_null() {
                out.push(format!("- {path}: {old}"));
            }
            if !new.is_null() {
                out.push(format!("+ {path}: {new}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A minimal defaulted pod, overridden by `spec_patch` (merged shallowly into spec).
    fn pod(spec_patch: Value) -> Pod {
        let mut spec = json!({
            "containers": [{
                "name": "app", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                "terminationMessagePolicy": "File", "terminationMessagePath": "/dev/termination-log",
            }],
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
        });
        for (k, v) in spec_patch.as_object().unwrap() {
            spec[k] = v.clone();
        }
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": spec,
        }))
        .unwrap()
    }

    fn container(patch: Value) -> Value {
        let mut c = json!({
            "name": "app", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
            "terminationMessagePolicy": "File",
        });
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    fn msgs(p: &Pod, old: Option<&Pod>) -> Vec<String> {
        validate_pod(p, old)
            .iter()
            .map(FieldError::message)
            .collect()
    }

    #[test]
    fn valid_pod_passes() {
        let p = pod(json!({
            "containers": [container(json!({
                "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "500m"}},
                "livenessProbe": {"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"}, "successThreshold": 1, "timeoutSeconds": 1},
                "readinessProbe": {"tcpSocket": {"port": "http"}},
            }))],
            "initContainers": [container(json!({"name": "init"}))],
            "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c", "defaultMode": 420}}],
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
        }));
        assert_eq!(msgs(&p, None), Vec::<String>::new());
    }

    #[test]
    fn containers_required_and_unique() {
        assert_eq!(
            msgs(&pod(json!({"containers": []})), None),
            vec!["spec.containers: Required value"]
        );
        let p = pod(json!({
            "containers": [container(json!({})), container(json!({}))],
            "initContainers": [container(json!({}))],
        }));
        assert_eq!(
            msgs(&p, None),
            vec![
                "spec.containers[1].name: Duplicate value: \"app\"",
                "spec.initContainers[0].name: Duplicate value: \"app\"",
            ]
        );
        let p = pod(json!({"containers": [container(json!({"name": "Web", "image": ""}))]}));
        let m = msgs(&p, None);
        assert!(m[0].starts_with(
            "spec.containers[0].name: Invalid value: \"Web\": a lowercase RFC 1123 label"
        ));
        assert_eq!(m[1], "spec.containers[0].image: Required value");
        let p = pod(json!({"containers": [container(json!({"image": " nginx"}))]}));
        assert_eq!(
            msgs(&p, None),
            vec![
                "spec.containers[0].image: Invalid value: \" nginx\": must not have leading or trailing whitespace"
            ]
        );
    }

    #[test]
    fn ports() {
        let p = pod(json!({"containers": [container(json!({"ports": [
            {"containerPort": 80, "protocol": "TCP", "name": "http"},
            {"containerPort": 70000, "protocol": "TCP"},
            {"containerPort": 81, "protocol": "HTTP", "name": "http"},
            {"containerPort": 0, "protocol": "TCP", "name": "Bad_Name"},
        ]}))]}));
        assert_eq!(
            msgs(&p, None),
            vec![
                "spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[0].ports[2].name: Duplicate value: \"http\"",
                "spec.containers[0].ports[2].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                "spec.containers[0].ports[3].name: Invalid value: \"Bad_Name\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "spec.containers[0].ports[3].containerPort: Required value",
            ]
        );
        let p = pod(json!({"containers": [
            container(json!({"ports": [{"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}]})),
            container(json!({"name": "b", "ports": [{"containerPort": 81, "hostPort": 8080, "protocol": "TCP"}]})),
        ]}));
        assert_eq!(
            msgs(&p, None),
            vec!["spec.containers[1].ports[0].hostPort: Duplicate value: \"TCP//8080\""]
        );
    }

    #[test]
    fn env() {
        let p = pod(json!({"containers": [container(json!({"env": [
            {"name": ""},
            {"name": "A=B"},
            {"name": "C", "valueFrom": {}},
            {"name": "D", "value": "x", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            {"name": "E", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nope"}}},
        ], "envFrom": [{"prefix": "P_"}]}))]}));
        assert_eq!(
            msgs(&p, None),
            vec![
                "spec.containers[0].env[0].name: Required value",
                "spec.containers[0].env[1].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
                "spec.containers[0].env[2].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                "spec.containers[0].env[3].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty",
                "spec.containers[0].env[4].valueFrom.fieldRef.fieldPath: Unsupported value: \"spec.nope\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\"",
                "spec.containers[0].envFrom: Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`",
            ]
        );
    }

    #[test]
    fn volumes_and_mounts() {
        let p = pod(json!({
            "containers": [container(json!({"volumeMounts": [
                {"name": "data", "mountPath": "/d"},
                {"name": "missing", "mountPath": "/d"},
            ]}))],
            "volumes": [
                {"name": "data", "emptyDir": {}},
                {"name": "data", "emptyDir": {}},
                {"name": "none"},
                {"name": "two", "emptyDir": {}, "hostPath": {"path": "/x"}},
                {"name": "sec", "secret": {"defaultMode": 1000}},
            ],
        }));
        assert_eq!(
            msgs(&p, None),
            vec![
                "spec.volumes[1].name: Duplicate value: \"data\"",
                "spec.volumes[2]: Required value: must specify a volume type",
                "spec.volumes[3].hostPath: Forbidden: may not specify more than 1 volume type",
                "spec.volumes[4].secret.secretName: Required value",
                "spec.volumes[4].secret.defaultMode: Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive",
                "spec.containers[0].volumeMounts[1].name: Not found: \"missing\"",
                "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/d\": must be unique",
            ]
        );
    }

    #[test]
    fn policies_and_probes() {
        let p = pod(json!({"restartPolicy": "Sometimes", "dnsPolicy": "Nope"}));
        assert_eq!(
            msgs(&p, None),
            vec![
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                "spec.dnsPolicy: Unsupported value: \"Nope\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
            ]
        );
        let p = pod(json!({"containers": [container(json!({
            "imagePullPolicy": "Sometimes",
            "livenessProbe": {"httpGet": {"path": "/", "port": 0, "scheme": "HTTP"}, "successThreshold": 2},
            "readinessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}, "periodSeconds": -1},
            "startupProbe": {"successThreshold": 1},
        }))]}));
        assert_eq!(
            msgs(&p, None),
            vec![
                "spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
                "spec.containers[0].livenessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
                "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
                "spec.containers[0].readinessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0",
                "spec.containers[0].startupProbe: Required value: must specify a handler type",
            ]
        );
        let p = pod(
            json!({"initContainers": [container(json!({"name": "init", "readinessProbe": {"exec": {"command": ["x"]}}}))]}),
        );
        assert_eq!(
            msgs(&p, None),
            vec![
                "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"
            ]
        );
        let p = pod(json!({"terminationGracePeriodSeconds": null}));
        assert_eq!(
            msgs(&p, None),
            vec!["spec.terminationGracePeriodSeconds: Required value"]
        );
    }

    #[test]
    fn tolerations_and_dns() {
        let p = pod(json!({
            "tolerations": [{"operator": "Equal", "value": "x"}, {"key": "k", "operator": "Maybe", "effect": "Never"}, {"key": "k", "tolerationSeconds": 5}],
            "dnsPolicy": "None",
        }));
        assert_eq!(
            msgs(&p, None),
            vec![
                "spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None",
                "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
                "spec.tolerations[1].operator: Unsupported value: \"Maybe\": supported values: \"Equal\", \"Exists\"",
                "spec.tolerations[1].effect: Unsupported value: \"Never\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                "spec.tolerations[2].effect: Invalid value: \"\": effect must be 'NoExecute' when `tolerationSeconds` is set",
            ]
        );
    }

    #[test]
    fn pod_update_rules() {
        let old = pod(json!({}));
        let mut new = old.clone();
        new.spec.as_mut().unwrap().containers[0].image = Some("nginx:1.28".into());
        assert_eq!(msgs(&new, Some(&old)), Vec::<String>::new());
        let mut new = old.clone();
        new.spec.as_mut().unwrap().restart_policy = Some("Never".into());
        let m = msgs(&new, Some(&old));
        assert_eq!(m.len(), 1);
        assert!(m[0].starts_with("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"));
        assert!(
            m[0].ends_with("- spec.restartPolicy: \"Always\"\n+ spec.restartPolicy: \"Never\"")
        );
        let mut new = old.clone();
        let first = new.spec.as_ref().unwrap().containers[0].clone();
        new.spec.as_mut().unwrap().containers.push(first);
        new.spec.as_mut().unwrap().containers[1].name = "b".into();
        assert_eq!(
            msgs(&new, Some(&old)),
            vec!["spec.containers: Forbidden: pod updates may not add or remove containers"]
        );
        let mut bound = old.clone();
        bound.spec.as_mut().unwrap().node_name = Some("node-1".into());
        assert_eq!(msgs(&bound, Some(&old)), Vec::<String>::new());
        let mut moved = bound.clone();
        moved.spec.as_mut().unwrap().node_name = Some("node-2".into());
        assert!(
            msgs(&moved, Some(&bound))[0]
                .starts_with("spec: Forbidden: pod updates may not change fields other than")
        );
    }

    #[test]
    fn templates() {
        let t: PodTemplateSpec = serde_json::from_value(json!({
            "metadata": {"labels": {"app": "bad value"}},
            "spec": {"containers": [container(json!({}))], "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
                     "ephemeralContainers": [{"name": "e", "image": "x"}]},
        }))
        .unwrap();
        let m: Vec<String> =
            validate_pod_template_spec(&t, &FieldPath::new("spec").child("template"), &[])
                .iter()
                .map(FieldError::message)
                .collect();
        assert_eq!(m.len(), 2);
        assert!(m[0].starts_with("spec.template.labels: Invalid value: \"bad value\""));
        assert_eq!(
            m[1],
            "spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template"
        );
    }
}
