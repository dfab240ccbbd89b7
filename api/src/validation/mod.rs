//! Validation of objects on create and update, with Kubernetes-style field errors.
//!
//! Owns what kube-apiserver checks after decoding and defaulting an object and
//! before storing it: the per-type rules of `pkg/apis/*/validation`, the
//! immutability rules of updates, and the wording of the resulting 422 and
//! 400 messages. It may call only pure helpers of this crate (quantities,
//! the registry); it does no I/O.
//!
//! Invariants:
//! - every message is kube-apiserver's, word for word where users see it
//!   (kubectl prints the server's message verbatim), including the Go
//!   `%#v` rendering of values such as `v1.LabelSelector{…}`;
//! - `validate` never panics on any JSON: objects that do not decode into
//!   their type are reported as a single error (`decode_check` is the place
//!   that explains type errors properly).

mod cluster;
mod cron;
mod decode;
mod golit;
mod meta;
mod names;
mod network;
mod pod;
mod resources;
mod storage;
mod workloads;

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::registry::ResourceType;

pub use names::{
    is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_qualified_name,
    is_valid_label_value,
};

/// The kind of a field error; each maps to a `StatusCause` reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    Required,
    Invalid,
    Duplicate,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    /// A reference to something that does not exist (a volumeMount naming no volume).
    NotFound,
}

impl FieldErrorKind {
    /// The words kube puts before the value: `Invalid value`, `Required value`, ….
    fn words(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Invalid => "Invalid value",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::NotSupported => "Unsupported value",
            FieldErrorKind::Forbidden => "Forbidden",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::TooMany => "Too many",
            FieldErrorKind::NotFound => "Not found",
        }
    }
}

/// One validation failure, as kube's `field.Error`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub kind: FieldErrorKind,
    /// Path of the field, e.g. `spec.containers[0].ports[1].containerPort`.
    pub field: String,
    /// The offending value; `None` where kube omits it (Required, Forbidden, TooLong).
    pub value: Option<Value>,
    pub detail: String,
}

impl FieldError {
    pub fn required(field: impl ToString, detail: impl Into<String>) -> FieldError {
        FieldError::new(FieldErrorKind::Required, field, None, detail)
    }

    pub fn invalid(
        field: impl ToString,
        value: impl Into<Value>,
        detail: impl Into<String>,
    ) -> FieldError {
        FieldError::new(FieldErrorKind::Invalid, field, Some(value.into()), detail)
    }

    pub fn duplicate(field: impl ToString, value: impl Into<Value>) -> FieldError {
        FieldError::new(FieldErrorKind::Duplicate, field, Some(value.into()), "")
    }

    /// `Unsupported value: "x": supported values: "a", "b"`.
    pub fn not_supported(
        field: impl ToString,
        value: impl Into<Value>,
        supported: &[&str],
    ) -> FieldError {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| golit::quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        FieldError::new(
            FieldErrorKind::NotSupported,
            field,
            Some(value.into()),
            detail,
        )
    }

    pub fn forbidden(field: impl ToString, detail: impl Into<String>) -> FieldError {
        FieldError::new(FieldErrorKind::Forbidden, field, None, detail)
    }

    /// `Too long: may not be more than 262144 bytes`.
    pub fn too_long(field: impl ToString, max_bytes: usize) -> FieldError {
        FieldError::new(
            FieldErrorKind::TooLong,
            field,
            None,
            format!("may not be more than {max_bytes} bytes"),
        )
    }

    /// `Too many: 1001: must have at most 1000 items`.
    pub fn too_many(field: impl ToString, actual: usize, max: usize) -> FieldError {
        FieldError::new(
            FieldErrorKind::TooMany,
            field,
            Some(json!(actual)),
            format!("must have at most {max} items"),
        )
    }

    pub fn not_found(field: impl ToString, value: impl Into<Value>) -> FieldError {
        FieldError::new(FieldErrorKind::NotFound, field, Some(value.into()), "")
    }

    /// `spec.selector: Invalid value: …: field is immutable`; `value` is the new value.
    pub fn immutable(field: impl ToString, value: impl Into<Value>) -> FieldError {
        FieldError::invalid(field, value, FIELD_IMMUTABLE)
    }

    fn new(
        kind: FieldErrorKind,
        field: impl ToString,
        value: Option<Value>,
        detail: impl Into<String>,
    ) -> FieldError {
        FieldError {
            kind,
            field: field.to_string(),
            value,
            detail: detail.into(),
        }
    }

    /// Kubernetes wording: `spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive`.
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.body())
    }

    /// The message without the field, as kube puts it in a `StatusCause`:
    /// `Invalid value: 70000: must be between 1 and 65535, inclusive`.
    pub fn body(&self) -> String {
        let mut s = match self.kind {
            FieldErrorKind::Required | FieldErrorKind::Forbidden | FieldErrorKind::TooLong => {
                self.kind.words().to_string()
            }
            _ => match &self.value {
                Some(v) => format!("{}: {}", self.kind.words(), golit::render(v)),
                None if self.kind == FieldErrorKind::TooMany => self.kind.words().to_string(),
                None => format!("{}: null", self.kind.words()),
            },
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// The StatusCause reason: FieldValueRequired, FieldValueInvalid, ….
    pub fn reason(&self) -> &'static str {
        match self.kind {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::TooMany => "FieldValueTooMany",
            FieldErrorKind::NotFound => "FieldValueNotFound",
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

pub(crate) const FIELD_IMMUTABLE: &str = "field is immutable";
pub(crate) const IS_NEGATIVE: &str = "must be greater than or equal to 0";

/// A field path under construction: `spec`, `.containers`, `[0]`, `[key]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(String);

impl FieldPath {
    pub(crate) fn new(name: &str) -> FieldPath {
        FieldPath(name.to_string())
    }

    pub(crate) fn child(&self, name: &str) -> FieldPath {
        if self.0.is_empty() {
            FieldPath(name.to_string())
        } else {
            FieldPath(format!("{}.{name}", self.0))
        }
    }

    pub(crate) fn index(&self, i: usize) -> FieldPath {
        FieldPath(format!("{}[{i}]", self.0))
    }

    pub(crate) fn key(&self, k: &str) -> FieldPath {
        FieldPath(format!("{}[{k}]", self.0))
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) type Errs = Vec<FieldError>;

/// Validates `obj` (full object JSON, already defaulted) of type `rt`. `old` is
/// the stored object on update (immutability checks), `None` on create.
///
/// Metadata immutability on update (name, namespace, uid, creationTimestamp)
/// is left to the caller; the spec rules of each type are checked here.
pub fn validate(rt: &ResourceType, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    use k8s_openapi::api::{
        apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch,
        coordination::v1 as coordination, core::v1 as core, discovery::v1 as discovery,
        networking::v1 as networking,
    };

    macro_rules! typed {
        ($ty:ty, $f:path) => {
            run::<$ty>(rt, obj, old, |new, old| $f(new, old))
        };
    }

    // apps/v1 selectors are required fields that decode to an empty selector
    // when absent; whether one was sent is read from the JSON.
    let selector_set = obj.pointer("/spec/selector").is_some_and(|s| !s.is_null());
    macro_rules! with_selector {
        ($ty:ty, $f:path) => {
            run::<$ty>(rt, obj, old, |new, old| $f(new, old, selector_set))
        };
    }

    match (rt.group, rt.kind) {
        ("", "Namespace") => typed!(core::Namespace, cluster::validate_namespace),
        ("", "Pod") => typed!(core::Pod, pod::validate_pod),
        ("", "Service") => typed!(core::Service, network::validate_service),
        ("", "Endpoints") => typed!(core::Endpoints, network::validate_endpoints),
        ("", "ConfigMap") => typed!(core::ConfigMap, storage::validate_config_map),
        ("", "Secret") => typed!(core::Secret, storage::validate_secret),
        ("", "Node") => typed!(core::Node, cluster::validate_node),
        ("", "Event") => typed!(core::Event, cluster::validate_event),
        ("", "ServiceAccount") => typed!(core::ServiceAccount, cluster::validate_service_account),
        ("", "PersistentVolume") => {
            typed!(core::PersistentVolume, storage::validate_persistent_volume)
        }
        ("", "PersistentVolumeClaim") => {
            typed!(
                core::PersistentVolumeClaim,
                storage::validate_persistent_volume_claim
            )
        }
        ("apps", "Deployment") => with_selector!(apps::Deployment, workloads::validate_deployment),
        ("apps", "ReplicaSet") => with_selector!(apps::ReplicaSet, workloads::validate_replica_set),
        ("apps", "StatefulSet") => {
            with_selector!(apps::StatefulSet, workloads::validate_stateful_set)
        }
        ("apps", "DaemonSet") => with_selector!(apps::DaemonSet, workloads::validate_daemon_set),
        ("apps", "ControllerRevision") => {
            typed!(
                apps::ControllerRevision,
                workloads::validate_controller_revision
            )
        }
        ("batch", "Job") => typed!(batch::Job, workloads::validate_job),
        ("batch", "CronJob") => typed!(batch::CronJob, workloads::validate_cron_job),
        ("discovery.k8s.io", "EndpointSlice") => {
            typed!(discovery::EndpointSlice, network::validate_endpoint_slice)
        }
        ("coordination.k8s.io", "Lease") => typed!(coordination::Lease, cluster::validate_lease),
        ("networking.k8s.io", "Ingress") => typed!(networking::Ingress, network::validate_ingress),
        ("autoscaling", "HorizontalPodAutoscaler") => {
            typed!(
                autoscaling::HorizontalPodAutoscaler,
                workloads::validate_hpa
            )
        }
        _ => Vec::new(),
    }
}

/// Decodes `obj` (and `old`) as `T` and runs `f`; a body that does not decode
/// yields one error rather than a panic.
fn run<T: DeserializeOwned>(
    rt: &ResourceType,
    obj: &Value,
    old: Option<&Value>,
    f: impl FnOnce(&T, Option<&T>) -> Errs,
) -> Errs {
    let new = match decode::typed::<T>(rt, obj) {
        Ok(v) => v,
        Err(e) => return vec![FieldError::invalid("", Value::Null, e)],
    };
    // A stored object that no longer decodes cannot be compared; validate as a create.
    let old = old.and_then(|o| decode::typed::<T>(rt, o).ok());
    f(&new, old.as_ref())
}

/// The group-qualified kind kube names in messages: `Deployment.apps`, or `Pod` for core.
fn qualified_kind(rt: &ResourceType) -> String {
    if rt.group.is_empty() {
        rt.kind.to_string()
    } else {
        format!("{}.{}", rt.kind, rt.group)
    }
}

/// The errors as kube aggregates them: identical messages once, one bare or
/// several in brackets.
fn aggregate(errs: &[FieldError]) -> Option<String> {
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        let m = e.message();
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    match seen.len() {
        0 => None,
        1 => seen.pop(),
        _ => Some(format!("[{}]", seen.join(", "))),
    }
}

/// The Status message for a 422: `Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`
/// (one error) or `... is invalid: [err1, err2]` (several), exactly kube-apiserver's format.
pub fn invalid_message(rt: &ResourceType, name: &str, errs: &[FieldError]) -> String {
    let head = format!("{} {} is invalid", qualified_kind(rt), golit::quote(name));
    match aggregate(errs) {
        Some(agg) => format!("{head}: {agg}"),
        None => head,
    }
}

/// The whole 422 `Status` object kube-apiserver answers with, causes included.
pub fn invalid_status(rt: &ResourceType, name: &str, errs: &[FieldError]) -> Value {
    let causes: Vec<Value> = errs
        .iter()
        .map(|e| json!({"reason": e.reason(), "message": e.body(), "field": e.field}))
        .collect();
    let mut details = serde_json::Map::new();
    details.insert("name".into(), json!(name));
    if !rt.group.is_empty() {
        details.insert("group".into(), json!(rt.group));
    }
    details.insert("kind".into(), json!(rt.kind));
    details.insert("causes".into(), Value::Array(causes));
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": invalid_message(rt, name, errs),
        "reason": "Invalid",
        "details": Value::Object(details),
        "code": 422,
    })
}

/// Decodes `obj` into the k8s-openapi type for `rt` to check types and shape.
///
/// `Err(message)` on a type error, worded like kube-apiserver's 400:
/// `Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`.
/// `Ok(unknown)` lists fields present in `obj` that the type does not have, as
/// paths like `spec.foo` or `spec.template.spec.containers[0].imagee` (the
/// server turns them into `strict decoding error: unknown field "spec.foo"`
/// under fieldValidation=Strict, or Warning headers under Warn).
pub fn decode_check(rt: &ResourceType, obj: &Value) -> Result<Vec<String>, String> {
    decode::decode_check(rt, obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::apply_defaults;
    use crate::registry::{RESOURCE_TYPES, by_kind};

    #[test]
    fn messages_and_reasons() {
        let cases = [
            (
                FieldError::invalid(
                    "spec.containers[0].ports[1].containerPort",
                    70000,
                    "must be between 1 and 65535, inclusive",
                ),
                "spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "FieldValueInvalid",
            ),
            (
                FieldError::required("metadata.name", "name or generateName is required"),
                "metadata.name: Required value: name or generateName is required",
                "FieldValueRequired",
            ),
            (
                FieldError::required("spec.containers", ""),
                "spec.containers: Required value",
                "FieldValueRequired",
            ),
            (
                FieldError::not_supported(
                    "spec.restartPolicy",
                    "Sometimes",
                    &["Always", "OnFailure", "Never"],
                ),
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                "FieldValueNotSupported",
            ),
            (
                FieldError::duplicate("spec.ports[1].name", "http"),
                "spec.ports[1].name: Duplicate value: \"http\"",
                "FieldValueDuplicate",
            ),
            (
                FieldError::forbidden("spec", "pod updates may not add or remove containers"),
                "spec: Forbidden: pod updates may not add or remove containers",
                "FieldValueForbidden",
            ),
            (
                FieldError::too_long("metadata.annotations", 262144),
                "metadata.annotations: Too long: may not be more than 262144 bytes",
                "FieldValueTooLong",
            ),
            (
                FieldError::too_many("endpoints", 1001, 1000),
                "endpoints: Too many: 1001: must have at most 1000 items",
                "FieldValueTooMany",
            ),
            (
                FieldError::not_found("spec.containers[0].volumeMounts[0].name", "data"),
                "spec.containers[0].volumeMounts[0].name: Not found: \"data\"",
                "FieldValueNotFound",
            ),
            (
                FieldError::immutable("spec.selector", golit::go("v1.LabelSelector{}")),
                "spec.selector: Invalid value: v1.LabelSelector{}: field is immutable",
                "FieldValueInvalid",
            ),
            (
                FieldError::invalid("x", Value::Null, "bad"),
                "x: Invalid value: null: bad",
                "FieldValueInvalid",
            ),
        ];
        for (err, message, reason) in cases {
            assert_eq!(err.message(), message);
            assert_eq!(err.to_string(), message);
            assert_eq!(err.reason(), reason);
        }
        assert_eq!(
            FieldError::invalid("spec.replicas", -1, IS_NEGATIVE).body(),
            "Invalid value: -1: must be greater than or equal to 0"
        );
    }

    #[test]
    fn invalid_messages() {
        let deploy = by_kind("apps/v1", "Deployment").unwrap();
        let e1 = FieldError::invalid("spec.replicas", -1, IS_NEGATIVE);
        let e2 = FieldError::required("spec.selector", "");
        assert_eq!(
            invalid_message(deploy, "web", std::slice::from_ref(&e1)),
            "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(
            invalid_message(deploy, "web", &[e1.clone(), e2.clone(), e1.clone()]),
            "Deployment.apps \"web\" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.selector: Required value]"
        );
        assert_eq!(
            invalid_message(deploy, "web", &[]),
            "Deployment.apps \"web\" is invalid"
        );
        let pod = by_kind("v1", "Pod").unwrap();
        assert_eq!(
            invalid_message(pod, "p", std::slice::from_ref(&e2)),
            "Pod \"p\" is invalid: spec.selector: Required value"
        );
        let status = invalid_status(deploy, "web", &[e1]);
        assert_eq!(status["code"], 422);
        assert_eq!(status["reason"], "Invalid");
        assert_eq!(status["details"]["group"], "apps");
        assert_eq!(status["details"]["kind"], "Deployment");
        assert_eq!(
            status["details"]["causes"][0],
            json!({"reason": "FieldValueInvalid", "message": "Invalid value: -1: must be greater than or equal to 0", "field": "spec.replicas"})
        );
        assert!(
            invalid_status(pod, "p", &[e2])["details"]
                .get("group")
                .is_none()
        );
    }

    /// What kubectl sends for common objects, defaulted as the server would, must validate.
    #[test]
    fn defaulted_kubectl_objects_validate() {
        let container =
            json!({"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80}]});
        let template =
            json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}});
        let meta = json!({"name": "web", "namespace": "default", "uid": "5b8f3d1c-0000-4000-8000-000000000001"});
        let objects = [
            (
                "v1",
                "Pod",
                json!({"metadata": meta, "spec": {"containers": [container]}}),
            ),
            (
                "v1",
                "Service",
                json!({"metadata": meta, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
            ),
            (
                "v1",
                "Service",
                json!({"metadata": meta, "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}}),
            ),
            (
                "v1",
                "Service",
                json!({"metadata": meta, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}),
            ),
            (
                "v1",
                "Service",
                json!({"metadata": meta, "spec": {"clusterIP": "None", "selector": {"app": "web"}}}),
            ),
            (
                "v1",
                "Service",
                json!({"metadata": meta, "spec": {"type": "ExternalName", "externalName": "example.com"}}),
            ),
            ("v1", "Namespace", json!({"metadata": {"name": "team-a"}})),
            (
                "v1",
                "ConfigMap",
                json!({"metadata": meta, "data": {"k": "v"}}),
            ),
            (
                "v1",
                "Secret",
                json!({"metadata": meta, "stringData": {"password": "s3cr3t"}}),
            ),
            ("v1", "ServiceAccount", json!({"metadata": meta})),
            (
                "v1",
                "Node",
                json!({"metadata": {"name": "node-1"}, "spec": {"podCIDR": "10.244.1.0/24"}}),
            ),
            (
                "v1",
                "PersistentVolumeClaim",
                json!({"metadata": meta, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
            ),
            (
                "v1",
                "PersistentVolume",
                json!({"metadata": {"name": "pv"}, "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}, "hostPath": {"path": "/data"}}}),
            ),
            (
                "v1",
                "Endpoints",
                json!({"metadata": meta, "subsets": [{"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 80}]}]}),
            ),
            (
                "v1",
                "Event",
                json!({"metadata": {"name": "web.1", "namespace": "default"}, "involvedObject": {"kind": "Pod", "name": "web"}, "reason": "Started"}),
            ),
            (
                "apps/v1",
                "Deployment",
                json!({"metadata": meta, "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template}}),
            ),
            (
                "apps/v1",
                "ReplicaSet",
                json!({"metadata": meta, "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template}}),
            ),
            (
                "apps/v1",
                "StatefulSet",
                json!({"metadata": meta, "spec": {"serviceName": "web", "selector": {"matchLabels": {"app": "web"}}, "template": template}}),
            ),
            (
                "apps/v1",
                "DaemonSet",
                json!({"metadata": meta, "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template}}),
            ),
            (
                "apps/v1",
                "ControllerRevision",
                json!({"metadata": meta, "data": {"spec": {}}, "revision": 1}),
            ),
            (
                "batch/v1",
                "Job",
                json!({"metadata": meta, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container]}}}}),
            ),
            (
                "batch/v1",
                "CronJob",
                json!({"metadata": meta, "spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [container]}}}}}}),
            ),
            (
                "discovery.k8s.io/v1",
                "EndpointSlice",
                json!({"metadata": meta, "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.0.5"]}], "ports": [{"port": 80}]}),
            ),
            (
                "coordination.k8s.io/v1",
                "Lease",
                json!({"metadata": meta, "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}}),
            ),
            (
                "networking.k8s.io/v1",
                "Ingress",
                json!({"metadata": meta, "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}),
            ),
            (
                "autoscaling/v2",
                "HorizontalPodAutoscaler",
                json!({"metadata": meta, "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 3}}),
            ),
        ];
        for (av, kind, mut obj) in objects {
            let rt = by_kind(av, kind).unwrap();
            obj["apiVersion"] = json!(av);
            obj["kind"] = json!(kind);
            assert_eq!(decode_check(rt, &obj), Ok(vec![]), "{kind} decodes");
            apply_defaults(rt, &mut obj);
            assert_eq!(
                decode_check(rt, &obj),
                Ok(vec![]),
                "defaulted {kind} decodes"
            );
            let errs: Vec<String> = validate(rt, &obj, None)
                .iter()
                .map(FieldError::message)
                .collect();
            assert_eq!(errs, Vec::<String>::new(), "{kind}: {obj}");
            let again: Vec<String> = validate(rt, &obj, Some(&obj))
                .iter()
                .map(FieldError::message)
                .collect();
            assert_eq!(again, Vec::<String>::new(), "{kind} updated to itself");
        }
    }

    #[test]
    fn validate_dispatch() {
        let rt = by_kind("apps/v1", "Deployment").unwrap();
        let mut obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": -1, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a", "image": "nginx"}]}}}});
        apply_defaults(rt, &mut obj);
        let errs = validate(rt, &obj, None);
        assert_eq!(
            invalid_message(rt, "web", &errs),
            "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        let mut changed = obj.clone();
        changed["spec"]["replicas"] = json!(2);
        changed["spec"]["selector"] = json!({"matchLabels": {"app": "web2"}});
        changed["spec"]["template"]["metadata"]["labels"] = json!({"app": "web2"});
        let errs = validate(rt, &changed, Some(&obj));
        assert_eq!(
            invalid_message(rt, "web", &errs),
            "Deployment.apps \"web\" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
        );
        let not_decodable = json!({"kind": "Deployment", "spec": {"replicas": "x"}});
        assert_eq!(validate(rt, &not_decodable, None).len(), 1);
        for rt in RESOURCE_TYPES {
            let _ = validate(rt, &json!({}), None);
            let _ = validate(rt, &json!([]), Some(&json!(null)));
            assert!(
                decode_check(rt, &json!({"metadata": {"name": "x"}})).is_ok(),
                "{}",
                rt.kind
            );
        }
    }
}
