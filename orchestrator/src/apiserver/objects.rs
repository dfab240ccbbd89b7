//! Object metadata semantics shared by every handler: keys, resourceVersion,
//! uid/creationTimestamp/generation on create, what an update may not change,
//! and the server-side views of subresources (status, scale).
//!
//! Objects are `serde_json::Value`s of the Kubernetes JSON shape. The store holds
//! them without `metadata.resourceVersion`; it is the store's mod_revision and is
//! put back on every read, so the two can never disagree.

use bytes::Bytes;
use regatta_api::registry::ResourceType;
use serde_json::{Map, Value, json};

use super::status::{ApiError, ApiResult};
use crate::store::KeyValue;

/// Store key of one object: `group/resource/namespace/name` (core group = `core`,
/// cluster-scoped objects have an empty namespace segment).
pub fn key(rt: &ResourceType, namespace: Option<&str>, name: &str) -> String {
    format!("{}{}", prefix(rt, namespace), name)
}

/// Store prefix of a collection: every namespace when `namespace` is `None`.
pub fn prefix(rt: &ResourceType, namespace: Option<&str>) -> String {
    let group = if rt.group.is_empty() {
        "core"
    } else {
        rt.group
    };
    match (rt.namespaced, namespace) {
        (true, Some(ns)) => format!("{group}/{}/{ns}/", rt.plural),
        (false, _) => format!("{group}/{}//", rt.plural),
        (true, None) => format!("{group}/{}/", rt.plural),
    }
}

/// Decodes a stored object and puts its resourceVersion back.
pub fn from_kv(kv: &KeyValue) -> ApiResult<Value> {
    let mut v: Value = serde_json::from_slice(&kv.value)
        .map_err(|e| ApiError::internal(format!("corrupt object {}: {e}", kv.key)))?;
    set_resource_version(&mut v, kv.mod_revision);
    Ok(v)
}

pub fn set_resource_version(obj: &mut Value, rv: u64) {
    meta_mut(obj).insert("resourceVersion".into(), json!(rv.to_string()));
}

/// Encodes an object for the store, without its resourceVersion.
pub fn to_bytes(obj: &Value) -> Bytes {
    let mut o = obj.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    Bytes::from(serde_json::to_vec(&o).expect("JSON values always encode"))
}

pub fn meta(obj: &Value) -> &Value {
    &obj["metadata"]
}

/// `metadata` as a mutable map, created if missing or not an object.
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    let o = obj.as_object_mut().expect("object");
    let m = o.entry("metadata").or_insert_with(|| json!({}));
    if !m.is_object() {
        *m = json!({});
    }
    m.as_object_mut().expect("object")
}

pub fn str_field<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj).get(field).and_then(Value::as_str)
}

pub fn name(obj: &Value) -> Option<&str> {
    str_field(obj, "name").filter(|s| !s.is_empty())
}

pub fn resource_version(obj: &Value) -> Option<&str> {
    str_field(obj, "resourceVersion").filter(|s| !s.is_empty())
}

pub fn labels(obj: &Value) -> std::collections::BTreeMap<String, String> {
    meta(obj)
        .get("labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    meta(obj)
        .get("finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn is_deleting(obj: &Value) -> bool {
    meta(obj)
        .get("deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// RFC 3339 with second precision, as Kubernetes writes metav1.Time.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn rfc3339_in(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Types whose spec changes bump `metadata.generation` (and whose controllers
/// report `status.observedGeneration`).
pub fn has_generation(rt: &ResourceType) -> bool {
    matches!(
        rt.group,
        "apps" | "batch" | "networking.k8s.io" | "autoscaling"
    ) || matches!(
        rt.kind,
        "Service" | "PersistentVolumeClaim" | "PersistentVolume"
    )
}

/// Fills `apiVersion`/`kind` when absent; 400 when they name another type.
pub fn check_type(rt: &ResourceType, obj: &mut Value) -> ApiResult<()> {
    let Some(o) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    };
    let want_av = rt.api_version();
    match o.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            o.insert("apiVersion".into(), json!(want_av));
        }
        Some(av) if av == want_av => {}
        Some(av) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({want_av})"
            )));
        }
    }
    match o.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            o.insert("kind".into(), json!(rt.kind));
        }
        Some(k) if k == rt.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "{k} in version \"{}\" cannot be handled as a {}: the kind in the data ({k}) does not match the expected kind ({})",
                rt.version, rt.kind, rt.kind
            )));
        }
    }
    Ok(())
}

/// Sets and checks `metadata.namespace` against the URL's.
pub fn check_namespace(rt: &ResourceType, obj: &mut Value, url_ns: Option<&str>) -> ApiResult<()> {
    let m = meta_mut(obj);
    if !rt.namespaced {
        m.remove("namespace");
        return Ok(());
    }
    let Some(url_ns) = url_ns else {
        return Err(ApiError::bad_request(
            "a namespace is required to create or change this resource",
        ));
    };
    match m.get("namespace").and_then(Value::as_str) {
        None | Some("") => {
            m.insert("namespace".into(), json!(url_ns));
            Ok(())
        }
        Some(ns) if ns == url_ns => Ok(()),
        Some(_) => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
    }
}

/// Server-set metadata of a new object; drops what a client may not set.
pub fn prepare_create(rt: &ResourceType, obj: &mut Value) {
    let has_gen = has_generation(rt);
    let m = meta_mut(obj);
    for k in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    ] {
        m.remove(k);
    }
    m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    m.insert("creationTimestamp".into(), json!(now_rfc3339()));
    if has_gen {
        m.insert("generation".into(), json!(1));
    } else {
        m.remove("generation");
    }
    // Controllers own status; a client's create may not preset it (as upstream's
    // PrepareForCreate), except for types whose status is their content.
    if rt.has_subresource("status")
        && !matches!(
            rt.kind,
            "Node" | "PersistentVolume" | "PersistentVolumeClaim"
        )
        && let Some(o) = obj.as_object_mut()
    {
        o.remove("status");
    }
}

/// Status a new object starts with, from its defaulted spec (upstream's
/// PrepareForCreate): a Pod is Pending with its QoS class.
pub fn initial_status(rt: &ResourceType, obj: &mut Value) {
    if rt.kind == "Pod" {
        let qos = regatta_api::defaults::pod_qos_class(obj);
        obj["status"] = json!({"phase": "Pending", "qosClass": qos});
    }
}

/// Carries what an update may not change from `old` into `new`; `subresource`
/// is `Some("status")` for a status write (then only status changes).
pub fn prepare_update(rt: &ResourceType, new: &mut Value, old: &Value, subresource: Option<&str>) {
    if subresource == Some("status") {
        let status = new.get("status").cloned();
        *new = old.clone();
        match status {
            Some(s) => {
                new["status"] = s;
            }
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
        return;
    }
    let old_meta = meta(old).clone();
    let m = meta_mut(new);
    for k in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match old_meta.get(k) {
            Some(v) => m.insert(k.into(), v.clone()),
            None => m.remove(k),
        };
    }
    m.remove("managedFields");
    m.remove("selfLink");
    if rt.has_subresource("status") && !matches!(rt.kind, "PersistentVolume") {
        match old.get("status") {
            Some(s) => {
                new["status"] = s.clone();
            }
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
    }
    if has_generation(rt) {
        let gen_old = old_meta
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let changed = new.get("spec") != old.get("spec");
        meta_mut(new).insert(
            "generation".into(),
            json!(if changed { gen_old + 1 } else { gen_old }),
        );
    }
}

/// True when `a` and `b` differ only in resourceVersion.
pub fn same_content(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        v
    };
    strip(a) == strip(b)
}

/// `autoscaling/v1` Scale view of an object with `spec.replicas`.
pub fn scale_of(obj: &Value) -> Value {
    let m = meta(obj);
    let selector = obj["spec"]["selector"].clone();
    let selector_str = serde_json::from_value::<
        regatta_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    >(selector)
    .ok()
    .and_then(|s| regatta_api::selector::LabelSelector::from_k8s(&s).ok())
    .map(|s| s.to_string())
    .unwrap_or_default();
    let mut meta_out = json!({
        "name": m["name"],
        "namespace": m["namespace"],
        "uid": m["uid"],
        "resourceVersion": m["resourceVersion"],
        "creationTimestamp": m["creationTimestamp"],
    });
    if let Some(o) = meta_out.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": meta_out,
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {
            "replicas": obj["status"]["replicas"].as_i64().unwrap_or(0),
            "selector": selector_str,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use regatta_api::registry::by_kind;

    #[test]
    fn keys_and_prefixes_do_not_collide() {
        let pods = by_kind("v1", "Pod").unwrap();
        let nodes = by_kind("v1", "Node").unwrap();
        assert_eq!(key(pods, Some("a"), "x"), "core/pods/a/x");
        assert!(!key(pods, Some("ab"), "x").starts_with(&prefix(pods, Some("a"))));
        assert_eq!(key(nodes, None, "n1"), "core/nodes//n1");
        assert!(key(nodes, None, "n1").starts_with(&prefix(nodes, None)));
    }

    #[test]
    fn update_keeps_server_fields_and_bumps_generation_on_spec_change() {
        let d = by_kind("apps/v1", "Deployment").unwrap();
        let old = json!({"metadata": {"name": "w", "uid": "u1", "generation": 1, "creationTimestamp": "t"},
                         "spec": {"replicas": 1}, "status": {"replicas": 1}});
        let mut new = json!({"metadata": {"name": "w", "uid": "forged"}, "spec": {"replicas": 2}, "status": {}});
        prepare_update(d, &mut new, &old, None);
        assert_eq!(new["metadata"]["uid"], "u1");
        assert_eq!(new["metadata"]["generation"], 2);
        assert_eq!(new["status"]["replicas"], 1);
        let mut same = old.clone();
        prepare_update(d, &mut same, &old, None);
        assert_eq!(same["metadata"]["generation"], 1);
    }

    #[test]
    fn status_update_changes_only_status() {
        let d = by_kind("apps/v1", "Deployment").unwrap();
        let old = json!({"metadata": {"name": "w"}, "spec": {"replicas": 1}});
        let mut new = json!({"metadata": {"name": "w", "labels": {"a": "b"}}, "spec": {"replicas": 5}, "status": {"replicas": 3}});
        prepare_update(d, &mut new, &old, Some("status"));
        assert_eq!(new["spec"]["replicas"], 1);
        assert_eq!(new["status"]["replicas"], 3);
        assert!(new["metadata"].get("labels").is_none());
    }
}
