//! ConfigMaps, Secrets, PersistentVolumes and PersistentVolumeClaims: the
//! types that hold or describe data.
//!
//! Mirrors core validation's `ValidateConfigMap`, `ValidateSecret` (with the
//! per-type required keys), `ValidatePersistentVolume` and
//! `ValidatePersistentVolumeClaim`, including their update rules: `immutable`
//! objects keep their data, a Secret keeps its type, a volume keeps its
//! source, a claim keeps its spec except for a bound claim's storage request.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeSpec, Secret,
};
use serde_json::{Value, json};

use super::meta::{validate_label_selector, validate_object_meta};
use super::names::{NameRule, is_config_map_key, name_errors};
use super::pod::json_diff;
use super::resources::parse_list;
use super::{Errs, FieldError, FieldPath};
use crate::quantity::parse_quantity;

/// kube's `MaxSecretSize`, the data limit for Secrets and ConfigMaps alike.
pub const MAX_DATA_SIZE: usize = 1024 * 1024;
const IMMUTABLE_WHEN_SET: &str = "field is immutable when `immutable` is set";

fn meta_path() -> FieldPath {
    FieldPath::new("metadata")
}

pub(crate) fn validate_config_map(cm: &ConfigMap, old: Option<&ConfigMap>) -> Errs {
    let mut errs = validate_object_meta(&cm.metadata, true, NameRule::Subdomain, &meta_path());
    let data_path = FieldPath::new("data");
    let binary_path = FieldPath::new("binaryData");
    let mut total = 0;
    for (k, v) in cm.data.iter().flatten() {
        for msg in is_config_map_key(k) {
            errs.push(FieldError::invalid(data_path.key(k), k.as_str(), msg));
        }
        if cm.binary_data.as_ref().is_some_and(|b| b.contains_key(k)) {
            errs.push(FieldError::invalid(
                data_path.key(k),
                k.as_str(),
                "duplicate of key present in binaryData",
            ));
        }
        total += v.len();
    }
    for (k, v) in cm.binary_data.iter().flatten() {
        for msg in is_config_map_key(k) {
            errs.push(FieldError::invalid(binary_path.key(k), k.as_str(), msg));
        }
        total += v.0.len();
    }
    if total > MAX_DATA_SIZE {
        errs.push(FieldError::too_long("", MAX_DATA_SIZE));
    }
    if let Some(old) = old
        && old.immutable == Some(true)
    {
        if cm.immutable != Some(true) {
            errs.push(FieldError::forbidden("immutable", IMMUTABLE_WHEN_SET));
        }
        if cm.data != old.data {
            errs.push(FieldError::forbidden("data", IMMUTABLE_WHEN_SET));
        }
        if cm.binary_data != old.binary_data {
            errs.push(FieldError::forbidden("binaryData", IMMUTABLE_WHEN_SET));
        }
    }
    errs
}

/// Go's `json.Unmarshal` error for a document that is not a JSON object, as near as it matters.
fn json_object_error(bytes: &[u8]) -> Option<String> {
    match serde_json::from_slice::<serde_json::Map<String, Value>>(bytes) {
        Ok(_) => None,
        Err(_) => {
            let text = String::from_utf8_lossy(bytes);
            let trimmed = text.trim_start();
            Some(match trimmed.chars().next() {
                None => "unexpected end of JSON input".into(),
                Some(c)
                    if c != '{'
                        && c != '['
                        && c != '"'
                        && !c.is_ascii_digit()
                        && c != '-'
                        && c != 't'
                        && c != 'f'
                        && c != 'n' =>
                {
                    format!("invalid character '{c}' looking for beginning of value")
                }
                Some(_) => {
                    "json: cannot unmarshal into Go value of type map[string]interface {}".into()
                }
            })
        }
    }
}

pub(crate) fn validate_secret(secret: &Secret, old: Option<&Secret>) -> Errs {
    let mut errs = validate_object_meta(&secret.metadata, true, NameRule::Subdomain, &meta_path());
    let data_path = FieldPath::new("data");
    let mut total = 0;
    let mut keys: BTreeSet<&str> = BTreeSet::new();
    for (k, v) in secret.data.iter().flatten() {
        keys.insert(k);
        total += v.0.len();
    }
    // stringData is folded into data before storing; if it is still here, its keys count too.
    for (k, v) in secret.string_data.iter().flatten() {
        if keys.insert(k) {
            total += v.len();
        }
    }
    for k in &keys {
        for msg in is_config_map_key(k) {
            errs.push(FieldError::invalid(data_path.key(k), *k, msg));
        }
    }
    if total > MAX_DATA_SIZE {
        errs.push(FieldError::too_long(&data_path, MAX_DATA_SIZE));
    }
    let data_of = |k: &str| -> Option<Vec<u8>> {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(k).map(|b| b.0.clone()))
            .or_else(|| {
                secret
                    .string_data
                    .as_ref()
                    .and_then(|d| d.get(k).map(|s| s.clone().into_bytes()))
            })
    };
    let secret_type = secret.type_.as_deref().unwrap_or("");
    match secret_type {
        "kubernetes.io/service-account-token" => {
            let name = secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .map(String::as_str)
                .unwrap_or("");
            if name.is_empty() {
                errs.push(FieldError::required(
                    meta_path()
                        .child("annotations")
                        .key("kubernetes.io/service-account.name"),
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson" => {
            let key = if secret_type == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            match data_of(key) {
                None => errs.push(FieldError::required(data_path.key(key), "")),
                Some(bytes) => {
                    if let Some(e) = json_object_error(&bytes) {
                        errs.push(FieldError::invalid(
                            data_path.key(key),
                            "<secret contents redacted>",
                            e,
                        ));
                    }
                }
            }
        }
        "kubernetes.io/basic-auth"
            if data_of("username").is_none() && data_of("password").is_none() =>
        {
            errs.push(FieldError::required(data_path.key("username"), ""));
            errs.push(FieldError::required(data_path.key("password"), ""));
        }
        "kubernetes.io/ssh-auth" if data_of("ssh-privatekey").is_none_or(|d| d.is_empty()) => {
            errs.push(FieldError::required(data_path.key("ssh-privatekey"), ""));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if data_of(key).is_none() {
                    errs.push(FieldError::required(data_path.key(key), ""));
                }
            }
        }
        _ => {}
    }
    if let Some(old) = old {
        let old_type = old.type_.as_deref().unwrap_or("");
        if old_type != secret_type {
            errs.push(FieldError::immutable("type", secret_type));
        }
        if old.immutable == Some(true) {
            if secret.immutable != Some(true) {
                errs.push(FieldError::forbidden("immutable", IMMUTABLE_WHEN_SET));
            }
            if secret.data != old.data {
                errs.push(FieldError::forbidden("data", IMMUTABLE_WHEN_SET));
            }
        }
    }
    errs
}

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];
const VOLUME_MODES: &[&str] = &["Block", "Filesystem"];

fn validate_access_modes(modes: &[String], path: &FieldPath, required_detail: &str) -> Errs {
    let mut errs = Vec::new();
    if modes.is_empty() {
        errs.push(FieldError::required(path, required_detail));
    }
    let (mut rwop, mut other) = (false, false);
    for m in modes {
        if !ACCESS_MODES.contains(&m.as_str()) {
            errs.push(FieldError::not_supported(path, m.as_str(), ACCESS_MODES));
        } else if m == "ReadWriteOncePod" {
            rwop = true;
        } else {
            other = true;
        }
    }
    if rwop && other {
        errs.push(FieldError::forbidden(
            path,
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
    errs
}

fn validate_class_name(name: Option<&str>, path: &FieldPath) -> Errs {
    match name.filter(|n| !n.is_empty()) {
        Some(n) => name_errors(NameRule::Subdomain, n, false)
            .into_iter()
            .map(|m| FieldError::invalid(path, n, m))
            .collect(),
        None => Vec::new(),
    }
}

fn pv_sources(spec: &PersistentVolumeSpec) -> [(&'static str, bool); 22] {
    [
        ("hostPath", spec.host_path.is_some()),
        ("gcePersistentDisk", spec.gce_persistent_disk.is_some()),
        (
            "awsElasticBlockStore",
            spec.aws_elastic_block_store.is_some(),
        ),
        ("glusterfs", spec.glusterfs.is_some()),
        ("flocker", spec.flocker.is_some()),
        ("nfs", spec.nfs.is_some()),
        ("rbd", spec.rbd.is_some()),
        ("quobyte", spec.quobyte.is_some()),
        ("cinder", spec.cinder.is_some()),
        ("cephFS", spec.cephfs.is_some()),
        ("iscsi", spec.iscsi.is_some()),
        ("fc", spec.fc.is_some()),
        ("flexVolume", spec.flex_volume.is_some()),
        ("azureFile", spec.azure_file.is_some()),
        ("vsphereVolume", spec.vsphere_volume.is_some()),
        (
            "photonPersistentDisk",
            spec.photon_persistent_disk.is_some(),
        ),
        ("portworxVolume", spec.portworx_volume.is_some()),
        ("azureDisk", spec.azure_disk.is_some()),
        ("scaleIO", spec.scale_io.is_some()),
        ("local", spec.local.is_some()),
        ("storageos", spec.storageos.is_some()),
        ("csi", spec.csi.is_some()),
    ]
}

/// The volume source of a PV, as JSON, for immutability checks.
fn pv_source_value(spec: &PersistentVolumeSpec) -> Value {
    let mut v = serde_json::to_value(spec).unwrap_or(Value::Null);
    if let Some(m) = v.as_object_mut() {
        for k in [
            "accessModes",
            "capacity",
            "claimRef",
            "mountOptions",
            "nodeAffinity",
            "persistentVolumeReclaimPolicy",
            "storageClassName",
            "volumeAttributesClassName",
            "volumeMode",
        ] {
            m.remove(k);
        }
    }
    v
}

pub(crate) fn validate_persistent_volume(
    pv: &PersistentVolume,
    old: Option<&PersistentVolume>,
) -> Errs {
    let mut errs = validate_object_meta(&pv.metadata, false, NameRule::Subdomain, &meta_path());
    let p = FieldPath::new("spec");
    let default_spec = PersistentVolumeSpec::default();
    let spec = pv.spec.as_ref().unwrap_or(&default_spec);
    errs.extend(validate_access_modes(
        spec.access_modes.as_deref().unwrap_or_default(),
        &p.child("accessModes"),
        "",
    ));
    let cap_path = p.child("capacity");
    let capacity = spec.capacity.as_ref();
    if capacity.is_none_or(|c| c.is_empty()) {
        errs.push(FieldError::required(&cap_path, ""));
    }
    if capacity.is_none_or(|c| !c.contains_key("storage") || c.len() > 1) {
        let value = serde_json::to_value(capacity).unwrap_or(Value::Null);
        errs.push(FieldError::not_supported(&cap_path, value, &["storage"]));
    }
    for (k, q) in parse_list(capacity) {
        if q.signum() <= 0 {
            errs.push(FieldError::invalid(
                cap_path.key(&k),
                q.to_string(),
                "must be greater than zero",
            ));
        }
    }
    errs.extend(validate_class_name(
        spec.storage_class_name.as_deref(),
        &p.child("storageClassName"),
    ));
    if let Some(m) = spec
        .volume_mode
        .as_deref()
        .filter(|m| !VOLUME_MODES.contains(m))
    {
        errs.push(FieldError::not_supported(
            p.child("volumeMode"),
            m,
            VOLUME_MODES,
        ));
    }
    if let Some(r) = spec
        .persistent_volume_reclaim_policy
        .as_deref()
        .filter(|r| !r.is_empty())
        && !["Delete", "Recycle", "Retain"].contains(&r)
    {
        errs.push(FieldError::not_supported(
            p.child("persistentVolumeReclaimPolicy"),
            r,
            &["Delete", "Recycle", "Retain"],
        ));
    }
    let mut first = None;
    for (name, present) in pv_sources(spec) {
        if !present {
            continue;
        }
        if first.is_some() {
            errs.push(FieldError::forbidden(
                p.child(name),
                "may not specify more than 1 volume type",
            ));
        } else {
            first = Some(name);
        }
    }
    match first {
        None => errs.push(FieldError::required(&p, "must specify a volume type")),
        Some("hostPath") => {
            if spec.host_path.as_ref().is_some_and(|h| h.path.is_empty()) {
                errs.push(FieldError::required(p.child("hostPath").child("path"), ""));
            }
        }
        Some("local") => {
            if spec.local.as_ref().is_some_and(|l| l.path.is_empty()) {
                errs.push(FieldError::required(p.child("local").child("path"), ""));
            }
        }
        Some("nfs") => {
            let nfs = spec.nfs.as_ref().expect("present");
            if nfs.server.is_empty() {
                errs.push(FieldError::required(p.child("nfs").child("server"), ""));
            }
            if nfs.path.is_empty() {
                errs.push(FieldError::required(p.child("nfs").child("path"), ""));
            } else if !nfs.path.starts_with('/') {
                errs.push(FieldError::invalid(
                    p.child("nfs").child("path"),
                    nfs.path.as_str(),
                    "must be an absolute path",
                ));
            }
        }
        Some("csi") => {
            let csi = spec.csi.as_ref().expect("present");
            if csi.driver.is_empty() {
                errs.push(FieldError::required(p.child("csi").child("driver"), ""));
            }
            if csi.volume_handle.is_empty() {
                errs.push(FieldError::required(
                    p.child("csi").child("volumeHandle"),
                    "",
                ));
            }
        }
        Some(_) => {}
    }
    if let Some(old) = old {
        let old_spec = old.spec.as_ref().unwrap_or(&default_spec);
        let (new_src, old_src) = (pv_source_value(spec), pv_source_value(old_spec));
        if new_src != old_src {
            errs.push(FieldError::forbidden(
                p.child("persistentvolumesource"),
                format!(
                    "spec.persistentvolumesource is immutable after creation\n{}",
                    json_diff(&old_src, &new_src, "spec")
                ),
            ));
        }
        if spec.volume_mode != old_spec.volume_mode {
            errs.push(FieldError::immutable("volumeMode", json!(spec.volume_mode)));
        }
    }
    errs
}

fn validate_claim_spec(spec: &PersistentVolumeClaimSpec, p: &FieldPath) -> Errs {
    let mut errs = validate_access_modes(
        spec.access_modes.as_deref().unwrap_or_default(),
        &p.child("accessModes"),
        "at least 1 access mode is required",
    );
    errs.extend(validate_label_selector(
        spec.selector.as_ref(),
        &p.child("selector"),
    ));
    let storage_path = p.child("resources").key("storage");
    let requests = spec.resources.as_ref().and_then(|r| r.requests.as_ref());
    match requests.and_then(|r| r.get("storage")) {
        None => errs.push(FieldError::required(&storage_path, "")),
        Some(q) => {
            if let Ok(q) = parse_quantity(q.0.trim())
                && q.signum() <= 0
            {
                errs.push(FieldError::invalid(
                    &storage_path,
                    q.to_string(),
                    "must be greater than zero",
                ));
            }
        }
    }
    errs.extend(validate_class_name(
        spec.storage_class_name.as_deref(),
        &p.child("storageClassName"),
    ));
    if let Some(m) = spec
        .volume_mode
        .as_deref()
        .filter(|m| !VOLUME_MODES.contains(m))
    {
        errs.push(FieldError::not_supported(
            p.child("volumeMode"),
            m,
            VOLUME_MODES,
        ));
    }
    errs
}

pub(crate) fn validate_persistent_volume_claim(
    pvc: &PersistentVolumeClaim,
    old: Option<&PersistentVolumeClaim>,
) -> Errs {
    let mut errs = validate_object_meta(&pvc.metadata, true, NameRule::Subdomain, &meta_path());
    let p = FieldPath::new("spec");
    let default_spec = PersistentVolumeClaimSpec::default();
    let spec = pvc.spec.as_ref().unwrap_or(&default_spec);
    errs.extend(validate_claim_spec(spec, &p));
    let Some(old) = old else {
        return errs;
    };
    let old_spec = old.spec.as_ref().unwrap_or(&default_spec);
    let bound = pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
    let mut munged_new = spec.clone();
    let mut munged_old = old_spec.clone();
    if old_spec.volume_name.as_deref().unwrap_or("").is_empty() {
        munged_old.volume_name = munged_new.volume_name.clone();
    }
    if bound {
        let storage = |s: &PersistentVolumeClaimSpec| {
            s.resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("storage"))
                .cloned()
        };
        if let (Some(res), Some(old_storage)) = (munged_new.resources.as_mut(), storage(old_spec)) {
            res.requests
                .get_or_insert_default()
                .insert("storage".into(), old_storage);
        }
        munged_new.volume_attributes_class_name = old_spec.volume_attributes_class_name.clone();
    }
    let (new_v, old_v) = (
        serde_json::to_value(&munged_new).unwrap_or(Value::Null),
        serde_json::to_value(&munged_old).unwrap_or(Value::Null),
    );
    if new_v != old_v {
        errs.push(FieldError::forbidden(
            &p,
            format!(
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{}",
                json_diff(&old_v, &new_v, "spec")
            ),
        ));
    }
    let size = |s: &PersistentVolumeClaimSpec| {
        parse_list(s.resources.as_ref().and_then(|r| r.requests.as_ref())).remove("storage")
    };
    let capacity =
        parse_list(old.status.as_ref().and_then(|s| s.capacity.as_ref())).remove("storage");
    if let (Some(new_size), Some(old_size)) = (size(spec), size(old_spec))
        && new_size < old_size
    {
        let detail = match capacity {
            Some(cap) if new_size <= cap => Some("field can not be less than status.capacity"),
            Some(_) => None,
            None => Some("field can not be less than previous value"),
        };
        if let Some(detail) = detail {
            errs.push(FieldError::forbidden(
                p.child("resources").child("requests").child("storage"),
                detail,
            ));
        }
    }
    if spec.volume_mode != old_spec.volume_mode {
        errs.push(FieldError::immutable("volumeMode", json!(spec.volume_mode)));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(errs: Errs) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    fn meta() -> Value {
        json!({"name": "x", "namespace": "default"})
    }

    #[test]
    fn config_maps() {
        let ok: ConfigMap =
            from(json!({"metadata": meta(), "data": {"app.conf": "x", "KEY_1": "y"}}));
        assert!(validate_config_map(&ok, None).is_empty());
        let bad: ConfigMap = from(
            json!({"metadata": meta(), "data": {"bad key": "x", "a": "1"}, "binaryData": {"a": "AA=="}}),
        );
        let m = msgs(validate_config_map(&bad, None));
        assert_eq!(
            m[0],
            "data[a]: Invalid value: \"a\": duplicate of key present in binaryData"
        );
        assert!(m[1].starts_with("data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters"));
        let big: ConfigMap =
            from(json!({"metadata": meta(), "data": {"a": "x".repeat(MAX_DATA_SIZE + 1)}}));
        assert_eq!(
            msgs(validate_config_map(&big, None)),
            vec![": Too long: may not be more than 1048576 bytes"]
        );
        let frozen: ConfigMap =
            from(json!({"metadata": meta(), "data": {"a": "1"}, "immutable": true}));
        let changed: ConfigMap = from(json!({"metadata": meta(), "data": {"a": "2"}}));
        assert_eq!(
            msgs(validate_config_map(&changed, Some(&frozen))),
            vec![
                "immutable: Forbidden: field is immutable when `immutable` is set",
                "data: Forbidden: field is immutable when `immutable` is set",
            ]
        );
        assert!(validate_config_map(&frozen, Some(&frozen)).is_empty());
    }

    #[test]
    fn secrets() {
        let ok: Secret =
            from(json!({"metadata": meta(), "type": "Opaque", "data": {"password": "czNjcjN0"}}));
        assert!(validate_secret(&ok, None).is_empty());
        let tls: Secret = from(
            json!({"metadata": meta(), "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}}),
        );
        assert_eq!(
            msgs(validate_secret(&tls, None)),
            vec!["data[tls.key]: Required value"]
        );
        let docker: Secret = from(
            json!({"metadata": meta(), "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "eHl6"}}),
        );
        assert_eq!(
            msgs(validate_secret(&docker, None)),
            vec![
                "data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\": invalid character 'x' looking for beginning of value"
            ]
        );
        let sa: Secret =
            from(json!({"metadata": meta(), "type": "kubernetes.io/service-account-token"}));
        assert_eq!(
            msgs(validate_secret(&sa, None)),
            vec!["metadata.annotations[kubernetes.io/service-account.name]: Required value"]
        );
        let retyped: Secret = from(
            json!({"metadata": meta(), "type": "kubernetes.io/basic-auth", "data": {"username": "YQ=="}}),
        );
        assert_eq!(
            msgs(validate_secret(&retyped, Some(&ok))),
            vec!["type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"]
        );
        let bad_key: Secret =
            from(json!({"metadata": meta(), "type": "Opaque", "stringData": {"a/b": "x"}}));
        assert_eq!(msgs(validate_secret(&bad_key, None)).len(), 1);
        let frozen: Secret = from(
            json!({"metadata": meta(), "type": "Opaque", "data": {"a": "YQ=="}, "immutable": true}),
        );
        let thawed: Secret = from(
            json!({"metadata": meta(), "type": "Opaque", "data": {"a": "Yg=="}, "immutable": true}),
        );
        assert_eq!(
            msgs(validate_secret(&thawed, Some(&frozen))),
            vec!["data: Forbidden: field is immutable when `immutable` is set"]
        );
        assert!(validate_secret(&frozen, Some(&frozen)).is_empty());
    }

    #[test]
    fn persistent_volumes() {
        let ok: PersistentVolume = from(
            json!({"metadata": {"name": "pv1"}, "spec": {"accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": "1Gi"}, "hostPath": {"path": "/data"}, "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem"}}),
        );
        assert!(validate_persistent_volume(&ok, None).is_empty());
        let bad: PersistentVolume = from(
            json!({"metadata": {"name": "pv1"}, "spec": {"accessModes": ["ReadWriteSometimes"],
            "capacity": {"storage": "0"}, "persistentVolumeReclaimPolicy": "Keep"}}),
        );
        assert_eq!(
            msgs(validate_persistent_volume(&bad, None)),
            vec![
                "spec.accessModes: Unsupported value: \"ReadWriteSometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
                "spec.capacity[storage]: Invalid value: \"0\": must be greater than zero",
                "spec.persistentVolumeReclaimPolicy: Unsupported value: \"Keep\": supported values: \"Delete\", \"Recycle\", \"Retain\"",
                "spec: Required value: must specify a volume type",
            ]
        );
        let moved: PersistentVolume = from(
            json!({"metadata": {"name": "pv1"}, "spec": {"accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": "2Gi"}, "hostPath": {"path": "/other"}, "volumeMode": "Filesystem"}}),
        );
        let m = msgs(validate_persistent_volume(&moved, Some(&ok)));
        assert_eq!(m.len(), 1);
        assert!(m[0].starts_with("spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation"));
    }

    #[test]
    fn persistent_volume_claims() {
        let claim = |storage: &str, class: &str, phase: &str| -> PersistentVolumeClaim {
            from(
                json!({"metadata": meta(), "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class,
                "resources": {"requests": {"storage": storage}}, "volumeMode": "Filesystem"},
                "status": {"phase": phase, "capacity": {"storage": "1Gi"}}}),
            )
        };
        let ok = claim("1Gi", "standard", "Bound");
        assert!(validate_persistent_volume_claim(&ok, None).is_empty());
        let none: PersistentVolumeClaim = from(json!({"metadata": meta(), "spec": {}}));
        assert_eq!(
            msgs(validate_persistent_volume_claim(&none, None)),
            vec![
                "spec.accessModes: Required value: at least 1 access mode is required",
                "spec.resources[storage]: Required value",
            ]
        );
        assert!(
            validate_persistent_volume_claim(&claim("2Gi", "standard", "Bound"), Some(&ok))
                .is_empty()
        );
        let m = msgs(validate_persistent_volume_claim(
            &claim("1Gi", "fast", "Bound"),
            Some(&ok),
        ));
        assert!(m[0].starts_with("spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"));
        let grown = claim("2Gi", "standard", "Bound");
        assert_eq!(
            msgs(validate_persistent_volume_claim(
                &claim("1Gi", "standard", "Bound"),
                Some(&grown)
            )),
            vec![
                "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"
            ]
        );
        let pending = claim("1Gi", "standard", "Pending");
        assert_eq!(
            msgs(validate_persistent_volume_claim(
                &claim("2Gi", "standard", "Pending"),
                Some(&pending)
            ))
            .len(),
            1
        );
    }
}
