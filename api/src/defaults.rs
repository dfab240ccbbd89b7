//! Kubernetes defaulting of built-in types.
//!
//! Owns the values kube-apiserver fills in before storing an object, the
//! ones users see in `kubectl get -o yaml`: the `pkg/apis/*/v1` defaulting
//! functions, plus the few server-side fill-ins of create strategies and
//! default admission plugins that are just as visible (Job selectors and
//! labels, Namespace finalizers and phase, a Pod's service account, priority
//! and not-ready/unreachable tolerations, Service IP family fields). Also
//! writes quantities in their canonical form (`0.5` → `500m`) and folds a
//! Secret's `stringData` into `data`, as kube's decoding does.
//!
//! Invariants: defaulting never overwrites a value that is set (kube's idea
//! of unset: absent, `null`, and for enum strings `""`), and applying it
//! twice is the same as once. It works on JSON and ignores fields of the
//! wrong type rather than failing; `validation::decode_check` reports those.

use serde_json::{Map, Value, json};

use crate::quantity::{canonicalize_json, parse_json_quantity};
use crate::registry::ResourceType;

type Obj = Map<String, Value>;

/// Applies Kubernetes defaults in place, as kube-apiserver does before
/// storing on create and update.
pub fn apply_defaults(rt: &ResourceType, obj: &mut Value) {
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    match (rt.group, rt.kind) {
        ("", "Pod") => default_pod(root),
        ("", "Service") => default_service(root),
        ("", "Namespace") => default_namespace(root),
        ("", "Secret") => default_secret(root),
        ("", "PersistentVolumeClaim") => default_pvc(root),
        ("", "PersistentVolume") => default_pv(root),
        ("", "Endpoints") => default_endpoints(root),
        ("", "Node") => default_node(root),
        ("apps", "Deployment") => default_deployment(root),
        ("apps", "ReplicaSet") => default_replica_set(root),
        ("apps", "StatefulSet") => default_stateful_set(root),
        ("apps", "DaemonSet") => default_daemon_set(root),
        ("batch", "Job") => default_job(root),
        ("batch", "CronJob") => default_cron_job(root),
        ("discovery.k8s.io", "EndpointSlice") => default_endpoint_slice(root),
        ("autoscaling", "HorizontalPodAutoscaler") => default_hpa(root),
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// JSON helpers
// ---------------------------------------------------------------------------

fn is_unset(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null))
}

/// Sets `key` when it is absent or null (a nil pointer in Go).
fn set(m: &mut Obj, key: &str, value: Value) {
    if is_unset(m.get(key)) {
        m.insert(key.to_string(), value);
    }
}

/// Sets a string `key` when it is absent, null or empty (Go compares enum strings with "").
fn set_str(m: &mut Obj, key: &str, value: &str) {
    if is_unset(m.get(key)) || m.get(key) == Some(&json!("")) {
        m.insert(key.to_string(), json!(value));
    }
}

/// Sets a number `key` when it is absent, null or zero (a plain Go int).
fn set_nonzero(m: &mut Obj, key: &str, value: i64) {
    if is_unset(m.get(key)) || m.get(key).and_then(Value::as_i64) == Some(0) {
        m.insert(key.to_string(), json!(value));
    }
}

/// The object at `key`, created empty when absent or null; `None` if it is something else.
fn child<'a>(m: &'a mut Obj, key: &str) -> Option<&'a mut Obj> {
    if is_unset(m.get(key)) {
        m.insert(key.to_string(), Value::Object(Map::new()));
    }
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// The object at `key` if it exists; nothing is created.
fn existing<'a>(m: &'a mut Obj, key: &str) -> Option<&'a mut Obj> {
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// The objects in the array at `key`, if any.
fn each<'a>(m: &'a mut Obj, key: &str) -> impl Iterator<Item = &'a mut Obj> {
    m.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// `Value::pointer` for a map: `/a/b/0` below `m`.
fn ptr<'a>(m: &'a Obj, path: &str) -> Option<&'a Value> {
    let (first, rest) = path
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or((path.trim_start_matches('/'), ""));
    let v = m.get(first)?;
    if rest.is_empty() {
        Some(v)
    } else {
        v.pointer(&format!("/{rest}"))
    }
}

fn str_of<'a>(m: &'a Obj, key: &str) -> &'a str {
    m.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Rewrites every quantity of a resource list in canonical form.
fn canonicalize_list(m: &mut Obj, key: &str) {
    if let Some(list) = existing(m, key) {
        for v in list.values_mut() {
            if let Some(c) = canonicalize_json(v) {
                *v = c;
            }
        }
    }
}

fn canonicalize_field(m: &mut Obj, key: &str) {
    if let Some(v) = m.get_mut(key)
        && let Some(c) = canonicalize_json(v)
    {
        *v = c;
    }
}

// ---------------------------------------------------------------------------
// Pods and pod templates
// ---------------------------------------------------------------------------

const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

const DEFAULT_MODE: i64 = 0o644;

/// kube's pull-policy rule: `Always` for `:latest` or no tag (and no digest), else `IfNotPresent`.
fn default_pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((n, _)) => (n, true),
        None => (image, false),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let tag = last.split_once(':').map(|(_, t)| t);
    match tag {
        Some("latest") => "Always",
        Some(_) => "IfNotPresent",
        None if digest => "IfNotPresent",
        None => "Always",
    }
}

fn default_http_get(handler: &mut Obj) {
    if let Some(h) = existing(handler, "httpGet") {
        set_str(h, "path", "/");
        set_str(h, "scheme", "HTTP");
    }
}

fn default_probe(c: &mut Obj, key: &str) {
    let Some(p) = existing(c, key) else {
        return;
    };
    set_nonzero(p, "timeoutSeconds", 1);
    set_nonzero(p, "periodSeconds", 10);
    set_nonzero(p, "successThreshold", 1);
    set_nonzero(p, "failureThreshold", 3);
    default_http_get(p);
    if let Some(g) = existing(p, "grpc") {
        set(g, "service", json!(""));
    }
}

fn default_field_ref(holder: &mut Obj) {
    if let Some(f) = existing(holder, "fieldRef") {
        set_str(f, "apiVersion", "v1");
    }
}

fn default_container(c: &mut Obj, is_pod: bool) {
    if str_of(c, "imagePullPolicy").is_empty() {
        let policy = default_pull_policy(str_of(c, "image"));
        c.insert("imagePullPolicy".into(), json!(policy));
    }
    set_str(c, "terminationMessagePath", "/dev/termination-log");
    set_str(c, "terminationMessagePolicy", "File");
    for port in each(c, "ports") {
        set_str(port, "protocol", "TCP");
    }
    for env in each(c, "env") {
        if let Some(from) = existing(env, "valueFrom") {
            default_field_ref(from);
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        default_probe(c, probe);
    }
    if let Some(lc) = existing(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = existing(lc, hook) {
                default_http_get(h);
            }
        }
    }
    if let Some(res) = child(c, "resources") {
        canonicalize_list(res, "limits");
        canonicalize_list(res, "requests");
        // Only a Pod, not a template, has its requests filled from limits.
        if is_pod
            && let Some(limits) = res.get("limits").and_then(Value::as_object).cloned()
            && let Some(req) = child(res, "requests")
        {
            for (k, v) in limits {
                req.entry(k).or_insert(v);
            }
        }
    }
}

fn default_claim_spec(spec: &mut Obj) {
    set_str(spec, "volumeMode", "Filesystem");
    if let Some(res) = existing(spec, "resources") {
        canonicalize_list(res, "requests");
        canonicalize_list(res, "limits");
    }
}

fn default_volume(v: &mut Obj) {
    if !VOLUME_SOURCES.iter().any(|s| !is_unset(v.get(*s))) {
        v.insert("emptyDir".into(), json!({}));
    }
    if let Some(e) = existing(v, "emptyDir") {
        canonicalize_field(e, "sizeLimit");
    }
    for key in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(src) = existing(v, key) {
            set(src, "defaultMode", json!(DEFAULT_MODE));
        }
    }
    if let Some(d) = existing(v, "downwardAPI") {
        for item in each(d, "items") {
            default_field_ref(item);
        }
    }
    if let Some(p) = existing(v, "projected") {
        for src in each(p, "sources") {
            if let Some(t) = existing(src, "serviceAccountToken") {
                set(t, "expirationSeconds", json!(3600));
            }
            if let Some(d) = existing(src, "downwardAPI") {
                for item in each(d, "items") {
                    default_field_ref(item);
                }
            }
        }
    }
    if let Some(h) = existing(v, "hostPath") {
        set(h, "type", json!(""));
    }
    if let Some(spec) = existing(v, "ephemeral")
        .and_then(|e| existing(e, "volumeClaimTemplate"))
        .and_then(|t| existing(t, "spec"))
    {
        default_claim_spec(spec);
    }
}

fn default_pod_spec(spec: &mut Obj, is_pod: bool) {
    set_str(spec, "dnsPolicy", "ClusterFirst");
    set_str(spec, "restartPolicy", "Always");
    set(spec, "securityContext", json!({}));
    set(spec, "terminationGracePeriodSeconds", json!(30));
    set_str(spec, "schedulerName", "default-scheduler");
    // The deprecated `serviceAccount` mirrors `serviceAccountName` in v1.
    if str_of(spec, "serviceAccountName").is_empty() && !str_of(spec, "serviceAccount").is_empty() {
        let sa = str_of(spec, "serviceAccount").to_string();
        spec.insert("serviceAccountName".into(), json!(sa));
    }
    if is_pod {
        set_str(spec, "serviceAccountName", "default");
    }
    if !str_of(spec, "serviceAccountName").is_empty() {
        let sa = str_of(spec, "serviceAccountName").to_string();
        spec.insert("serviceAccount".into(), json!(sa));
    }
    let host_network = spec.get("hostNetwork") == Some(&json!(true));
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for c in each(spec, list) {
            default_container(c, is_pod && list != "ephemeralContainers");
            if is_pod && host_network && list != "ephemeralContainers" {
                for port in each(c, "ports") {
                    if let Some(cp) = port.get("containerPort").cloned()
                        && port.get("hostPort").and_then(Value::as_i64).unwrap_or(0) == 0
                    {
                        port.insert("hostPort".into(), cp);
                    }
                }
            }
        }
    }
    for v in each(spec, "volumes") {
        default_volume(v);
    }
    canonicalize_list(spec, "overhead");
}

fn default_pod_template(t: &mut Obj) {
    if let Some(spec) = child(t, "spec") {
        default_pod_spec(spec, false);
    }
}

/// The tolerations kube's DefaultTolerationSeconds admission adds to every pod.
const DEFAULT_TOLERATED_TAINTS: &[&str] = &[
    "node.kubernetes.io/not-ready",
    "node.kubernetes.io/unreachable",
];

fn tolerates_no_execute(tolerations: &[Value], key: &str) -> bool {
    tolerations.iter().any(|t| {
        let op = t.get("operator").and_then(Value::as_str).unwrap_or("Equal");
        let tkey = t.get("key").and_then(Value::as_str).unwrap_or("");
        let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
        let key_ok = (tkey.is_empty() && op == "Exists") || tkey == key;
        let effect_ok = effect.is_empty() || effect == "NoExecute";
        let value_ok = op == "Exists"
            || t.get("value")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty();
        key_ok && effect_ok && value_ok
    })
}

fn default_pod(root: &mut Obj) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    default_pod_spec(spec, true);
    set(spec, "enableServiceLinks", json!(true));
    // Priority admission without PriorityClasses: priority 0, the default preemption policy.
    if str_of(spec, "priorityClassName").is_empty() {
        set(spec, "priority", json!(0));
    }
    set_str(spec, "preemptionPolicy", "PreemptLowerPriority");
    if is_unset(spec.get("tolerations")) {
        spec.insert("tolerations".into(), json!([]));
    }
    if let Some(tolerations) = spec.get_mut("tolerations").and_then(Value::as_array_mut) {
        for key in DEFAULT_TOLERATED_TAINTS {
            if !tolerates_no_execute(tolerations, key) {
                tolerations.push(json!({
                    "key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300,
                }));
            }
        }
    }
}

/// The QoS class kube records in a new pod's status, from its (defaulted) spec:
/// `Guaranteed`, `Burstable` or `BestEffort`.
pub fn pod_qos_class(pod: &Value) -> &'static str {
    use std::collections::BTreeMap;
    let mut requests: BTreeMap<&str, i128> = BTreeMap::new();
    let mut limits: BTreeMap<&str, i128> = BTreeMap::new();
    let mut guaranteed = true;
    let spec = pod.get("spec");
    let containers = ["containers", "initContainers"]
        .into_iter()
        .filter_map(|k| spec.and_then(|s| s.get(k)).and_then(Value::as_array))
        .flatten();
    // The positive cpu/memory quantities of one `resources.<which>` map.
    let compute = |res: Option<&Value>, which: &str| -> Vec<(&'static str, i128)> {
        res.and_then(|r| r.get(which))
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(name, q)| {
                let name = ["cpu", "memory"].into_iter().find(|n| n == name)?;
                let q = parse_json_quantity(q).ok()?;
                (q.signum() > 0).then(|| (name, q.nanos()))
            })
            .collect()
    };
    for c in containers {
        let res = c.get("resources");
        for (name, q) in compute(res, "requests") {
            *requests.entry(name).or_default() += q;
        }
        let found_limits = compute(res, "limits");
        let found = found_limits.len();
        for (name, q) in found_limits {
            *limits.entry(name).or_default() += q;
        }
        if found < 2 {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed
        && requests.iter().all(|(k, v)| limits.get(k) == Some(v))
        && requests.len() == limits.len()
    {
        return "Guaranteed";
    }
    "Burstable"
}

// ---------------------------------------------------------------------------
// Core types
// ---------------------------------------------------------------------------

fn default_service(root: &mut Obj) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    set_str(spec, "type", "ClusterIP");
    set_str(spec, "sessionAffinity", "None");
    match str_of(spec, "sessionAffinity") {
        "None" => {
            spec.remove("sessionAffinityConfig");
        }
        "ClientIP" => {
            let timeout = ptr(spec, "/sessionAffinityConfig/clientIP/timeoutSeconds").cloned();
            if is_unset(timeout.as_ref()) {
                spec.insert(
                    "sessionAffinityConfig".into(),
                    json!({"clientIP": {"timeoutSeconds": 10800}}),
                );
            }
        }
        _ => {}
    }
    for port in each(spec, "ports") {
        set_str(port, "protocol", "TCP");
        let target = port.get("targetPort");
        if (is_unset(target) || target == Some(&json!(0)) || target == Some(&json!("")))
            && let Some(p) = port.get("port").cloned()
        {
            port.insert("targetPort".into(), p);
        }
    }
    let svc_type = str_of(spec, "type").to_string();
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let externally_accessible = svc_type == "LoadBalancer"
        || svc_type == "NodePort"
        || (svc_type == "ClusterIP" && has_external_ips);
    if externally_accessible {
        set_str(spec, "externalTrafficPolicy", "Cluster");
    }
    if matches!(svc_type.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        set(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if svc_type == "LoadBalancer" {
        set(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if svc_type == "ExternalName" {
        return;
    }
    // clusterIP and clusterIPs describe the same allocation; keep them in step.
    let cluster_ip = str_of(spec, "clusterIP").to_string();
    let ips_empty = spec
        .get("clusterIPs")
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty());
    if !cluster_ip.is_empty() && ips_empty {
        spec.insert("clusterIPs".into(), json!([cluster_ip]));
    } else if cluster_ip.is_empty()
        && let Some(first) = spec.get("clusterIPs").and_then(|a| a.get(0)).cloned()
    {
        spec.insert("clusterIP".into(), first);
    }
    set(spec, "ipFamilyPolicy", json!("SingleStack"));
    if spec
        .get("ipFamilies")
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty())
    {
        let ip = str_of(spec, "clusterIP");
        let family = if ip.contains(':') { "IPv6" } else { "IPv4" };
        spec.insert("ipFamilies".into(), json!([family]));
    }
}

fn default_namespace(root: &mut Obj) {
    let meta = child(root, "metadata");
    let (name, creating, deleting) = match meta {
        Some(m) => (
            str_of(m, "name").to_string(),
            str_of(m, "resourceVersion").is_empty(),
            !is_unset(m.get("deletionTimestamp")),
        ),
        None => (String::new(), true, false),
    };
    if !name.is_empty()
        && let Some(labels) = child(root, "metadata").and_then(|m| child(m, "labels"))
    {
        labels.insert("kubernetes.io/metadata.name".into(), json!(name));
    }
    // The `kubernetes` finalizer is added on create only: it is removed, by
    // the namespace controller, over the namespace's life.
    if creating
        && !deleting
        && let Some(spec) = child(root, "spec")
    {
        if is_unset(spec.get("finalizers")) {
            spec.insert("finalizers".into(), json!([]));
        }
        if let Some(f) = spec.get_mut("finalizers").and_then(Value::as_array_mut)
            && !f.iter().any(|v| v == "kubernetes")
        {
            f.push(json!("kubernetes"));
        }
    }
    if let Some(status) = child(root, "status") {
        set_str(status, "phase", "Active");
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(BASE64[(n >> 18) as usize & 63] as char);
        out.push(BASE64[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            BASE64[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            BASE64[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

fn default_secret(root: &mut Obj) {
    set_str(root, "type", "Opaque");
    // stringData is write-only: kube merges it into data (winning on conflicts) and drops it.
    let Some(Value::Object(string_data)) = root.remove("stringData") else {
        return;
    };
    if let Some(data) = child(root, "data") {
        for (k, v) in string_data {
            if let Some(s) = v.as_str() {
                data.insert(k, json!(base64_encode(s.as_bytes())));
            }
        }
    }
}

fn default_pvc_object(pvc: &mut Obj) {
    if let Some(spec) = child(pvc, "spec") {
        default_claim_spec(spec);
    }
    if let Some(status) = child(pvc, "status") {
        set_str(status, "phase", "Pending");
        canonicalize_list(status, "capacity");
    }
}

fn default_pvc(root: &mut Obj) {
    default_pvc_object(root);
}

fn default_pv(root: &mut Obj) {
    if let Some(spec) = child(root, "spec") {
        set_str(spec, "persistentVolumeReclaimPolicy", "Retain");
        set_str(spec, "volumeMode", "Filesystem");
        canonicalize_list(spec, "capacity");
        if let Some(h) = existing(spec, "hostPath") {
            set(h, "type", json!(""));
        }
    }
    if let Some(status) = child(root, "status") {
        set_str(status, "phase", "Pending");
    }
}

fn default_endpoints(root: &mut Obj) {
    for subset in each(root, "subsets") {
        for port in each(subset, "ports") {
            set_str(port, "protocol", "TCP");
        }
    }
}

fn default_node(root: &mut Obj) {
    if let Some(spec) = existing(root, "spec") {
        // podCIDR is the first of podCIDRs in v1; keep the two in step.
        let cidr = str_of(spec, "podCIDR").to_string();
        let cidrs_empty = spec
            .get("podCIDRs")
            .and_then(Value::as_array)
            .is_none_or(|a| a.is_empty());
        if !cidr.is_empty() && cidrs_empty {
            spec.insert("podCIDRs".into(), json!([cidr]));
        } else if cidr.is_empty()
            && let Some(first) = spec.get("podCIDRs").and_then(|a| a.get(0)).cloned()
        {
            spec.insert("podCIDR".into(), first);
        }
    }
    if let Some(status) = existing(root, "status") {
        canonicalize_list(status, "capacity");
        canonicalize_list(status, "allocatable");
        if is_unset(status.get("allocatable"))
            && let Some(cap) = status.get("capacity").cloned().filter(|c| c.is_object())
        {
            status.insert("allocatable".into(), cap);
        }
    }
}

fn default_endpoint_slice(root: &mut Obj) {
    for port in each(root, "ports") {
        set(port, "name", json!(""));
        set(port, "protocol", json!("TCP"));
    }
}

// ---------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------

fn default_deployment(root: &mut Obj) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    set(spec, "replicas", json!(1));
    if let Some(strategy) = child(spec, "strategy") {
        set_str(strategy, "type", "RollingUpdate");
        if str_of(strategy, "type") == "RollingUpdate"
            && let Some(ru) = child(strategy, "rollingUpdate")
        {
            set(ru, "maxUnavailable", json!("25%"));
            set(ru, "maxSurge", json!("25%"));
        }
    }
    set(spec, "revisionHistoryLimit", json!(10));
    set(spec, "progressDeadlineSeconds", json!(600));
    if let Some(t) = child(spec, "template") {
        default_pod_template(t);
    }
}

fn default_replica_set(root: &mut Obj) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    set(spec, "replicas", json!(1));
    if let Some(t) = child(spec, "template") {
        default_pod_template(t);
    }
}

fn default_stateful_set(root: &mut Obj) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    set_str(spec, "podManagementPolicy", "OrderedReady");
    if let Some(us) = child(spec, "updateStrategy") {
        if str_of(us, "type").is_empty() {
            us.insert("type".into(), json!("RollingUpdate"));
            set(us, "rollingUpdate", json!({}));
        }
        if str_of(us, "type") == "RollingUpdate"
            && let Some(ru) = existing(us, "rollingUpdate")
        {
            set(ru, "partition", json!(0));
        }
    }
    if let Some(policy) = child(spec, "persistentVolumeClaimRetentionPolicy") {
        set_str(policy, "whenDeleted", "Retain");
        set_str(policy, "whenScaled", "Retain");
    }
    set(spec, "replicas", json!(1));
    set(spec, "revisionHistoryLimit", json!(10));
    if let Some(t) = child(spec, "template") {
        default_pod_template(t);
    }
    for pvc in each(spec, "volumeClaimTemplates") {
        default_pvc_object(pvc);
    }
}

fn default_daemon_set(root: &mut Obj) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    if let Some(us) = child(spec, "updateStrategy") {
        set_str(us, "type", "RollingUpdate");
        if str_of(us, "type") == "RollingUpdate"
            && let Some(ru) = child(us, "rollingUpdate")
        {
            set(ru, "maxUnavailable", json!(1));
            set(ru, "maxSurge", json!(0));
        }
    }
    set(spec, "revisionHistoryLimit", json!(10));
    if let Some(t) = child(spec, "template") {
        default_pod_template(t);
    }
}

const CONTROLLER_UID_LABELS: &[&str] = &["batch.kubernetes.io/controller-uid", "controller-uid"];
const JOB_NAME_LABELS: &[&str] = &["batch.kubernetes.io/job-name", "job-name"];

fn default_job_spec(spec: &mut Obj) {
    if is_unset(spec.get("completions")) && is_unset(spec.get("parallelism")) {
        spec.insert("completions".into(), json!(1));
        spec.insert("parallelism".into(), json!(1));
    }
    set(spec, "parallelism", json!(1));
    let backoff = if is_unset(spec.get("backoffLimitPerIndex")) {
        6
    } else {
        i64::from(i32::MAX)
    };
    set(spec, "backoffLimit", json!(backoff));
    set(spec, "completionMode", json!("NonIndexed"));
    set(spec, "suspend", json!(false));
    let has_failure_policy = !is_unset(spec.get("podFailurePolicy"));
    if let Some(policy) = existing(spec, "podFailurePolicy") {
        for rule in each(policy, "rules") {
            for cond in each(rule, "onPodConditions") {
                set_str(cond, "status", "True");
            }
        }
    }
    let replacement = if has_failure_policy {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    set(spec, "podReplacementPolicy", json!(replacement));
    if let Some(t) = child(spec, "template") {
        default_pod_template(t);
    }
}

fn default_job(root: &mut Obj) {
    let uid = ptr(root, "/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = ptr(root, "/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(spec) = child(root, "spec") else {
        return;
    };
    // The job controller selects its pods by uid: with no selector given, the
    // server generates one and labels the template to match.
    let manual = spec.get("manualSelector") == Some(&json!(true));
    if !manual && !uid.is_empty() && is_unset(spec.get("selector")) {
        if let Some(labels) = child(spec, "template")
            .and_then(|t| child(t, "metadata"))
            .and_then(|m| child(m, "labels"))
        {
            for key in JOB_NAME_LABELS {
                labels.entry(key.to_string()).or_insert_with(|| json!(name));
            }
            for key in CONTROLLER_UID_LABELS {
                labels.entry(key.to_string()).or_insert_with(|| json!(uid));
            }
        }
        spec.insert(
            "selector".into(),
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
        );
    }
    default_job_spec(spec);
    let template_labels = ptr(root, "/spec/template/metadata/labels")
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
        .cloned();
    if let (Some(labels), Some(meta)) = (template_labels, child(root, "metadata"))
        && meta
            .get("labels")
            .and_then(Value::as_object)
            .is_none_or(|l| l.is_empty())
    {
        meta.insert("labels".into(), labels);
    }
}

fn default_cron_job(root: &mut Obj) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    set_str(spec, "concurrencyPolicy", "Allow");
    set(spec, "suspend", json!(false));
    set(spec, "successfulJobsHistoryLimit", json!(3));
    set(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(t) = child(spec, "jobTemplate")
        .and_then(|jt| child(jt, "spec"))
        .and_then(|js| child(js, "template"))
    {
        default_pod_template(t);
    }
}

fn default_scaling_rules(behavior: &mut Obj, key: &str, defaults: Value) {
    let Value::Object(defaults) = defaults else {
        return;
    };
    if let Some(rules) = child(behavior, key) {
        for (k, v) in defaults {
            set(rules, &k, v);
        }
    }
}

fn default_hpa(root: &mut Obj) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    set(spec, "minReplicas", json!(1));
    if spec
        .get("metrics")
        .and_then(Value::as_array)
        .is_none_or(|m| m.is_empty())
    {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
    for metric in each(spec, "metrics") {
        for source in [
            "object",
            "pods",
            "resource",
            "external",
            "containerResource",
        ] {
            if let Some(target) = existing(metric, source).and_then(|s| existing(s, "target")) {
                canonicalize_field(target, "value");
                canonicalize_field(target, "averageValue");
            }
        }
    }
    if let Some(behavior) = existing(spec, "behavior") {
        default_scaling_rules(
            behavior,
            "scaleUp",
            json!({"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ]}),
        );
        default_scaling_rules(
            behavior,
            "scaleDown",
            json!({"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::by_kind;

    fn defaulted(api_version: &str, kind: &str, mut obj: Value) -> Value {
        let rt = by_kind(api_version, kind).unwrap();
        apply_defaults(rt, &mut obj);
        let once = obj.clone();
        apply_defaults(rt, &mut obj);
        assert_eq!(obj, once, "defaulting {kind} twice differs from once");
        obj
    }

    #[test]
    fn pod_defaults() {
        let pod = defaulted(
            "v1",
            "Pod",
            json!({"metadata": {"name": "web"}, "spec": {"containers": [
                {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}],
                 "resources": {"limits": {"cpu": "0.5", "memory": "1024Mi"}},
                 "livenessProbe": {"httpGet": {"port": 80}, "timeoutSeconds": 0},
                 "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]},
                {"name": "b", "image": "registry:5000/app:1.2"},
                {"name": "c", "image": "app@sha256:abc"},
            ], "volumes": [{"name": "v"}, {"name": "s", "secret": {"secretName": "x"}}, {"name": "h", "hostPath": {"path": "/x"}}]}}),
        );
        let spec = &pod["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["dnsPolicy"], "ClusterFirst");
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert_eq!(spec["schedulerName"], "default-scheduler");
        assert_eq!(spec["securityContext"], json!({}));
        assert_eq!(spec["enableServiceLinks"], true);
        assert_eq!(spec["priority"], 0);
        assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
        assert_eq!(spec["serviceAccountName"], "default");
        assert_eq!(spec["serviceAccount"], "default");
        assert_eq!(
            spec["tolerations"],
            json!([
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            ])
        );
        let a = &spec["containers"][0];
        assert_eq!(a["imagePullPolicy"], "Always");
        assert_eq!(a["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(a["terminationMessagePolicy"], "File");
        assert_eq!(a["ports"][0]["protocol"], "TCP");
        assert_eq!(
            a["resources"]["limits"],
            json!({"cpu": "500m", "memory": "1Gi"})
        );
        assert_eq!(
            a["resources"]["requests"],
            json!({"cpu": "500m", "memory": "1Gi"})
        );
        assert_eq!(
            a["livenessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(a["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(spec["containers"][1]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(spec["containers"][1]["resources"], json!({}));
        assert_eq!(spec["containers"][2]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(spec["volumes"][0], json!({"name": "v", "emptyDir": {}}));
        assert_eq!(spec["volumes"][1]["secret"]["defaultMode"], 420);
        assert_eq!(spec["volumes"][2]["hostPath"]["type"], "");
        assert_eq!(pod_qos_class(&pod), "Burstable");
    }

    #[test]
    fn pod_defaults_keep_set_values() {
        let pod = defaulted(
            "v1",
            "Pod",
            json!({"spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0, "serviceAccountName": "robot",
                "tolerations": [{"operator": "Exists"}], "enableServiceLinks": false,
                "containers": [{"name": "a", "image": "nginx:latest", "imagePullPolicy": "Never",
                    "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "2"}}}]}}),
        );
        let spec = &pod["spec"];
        assert_eq!(spec["restartPolicy"], "Never");
        assert_eq!(spec["terminationGracePeriodSeconds"], 0);
        assert_eq!(spec["serviceAccountName"], "robot");
        assert_eq!(spec["serviceAccount"], "robot");
        assert_eq!(spec["enableServiceLinks"], false);
        assert_eq!(spec["tolerations"], json!([{"operator": "Exists"}]));
        assert_eq!(spec["containers"][0]["imagePullPolicy"], "Never");
        assert_eq!(
            spec["containers"][0]["resources"]["requests"],
            json!({"cpu": "1"})
        );
        let best_effort = json!({"spec": {"containers": [{"name": "a"}]}});
        assert_eq!(pod_qos_class(&best_effort), "BestEffort");
        let guaranteed = json!({"spec": {"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"},
            "requests": {"cpu": "1000m", "memory": "1024Mi"}}}]}});
        assert_eq!(pod_qos_class(&guaranteed), "Guaranteed");
    }

    #[test]
    fn pull_policy() {
        for (image, want) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.27", "IfNotPresent"),
            ("localhost:5000/nginx", "Always"),
            ("localhost:5000/nginx:v1", "IfNotPresent"),
            ("nginx@sha256:0123", "IfNotPresent"),
            ("nginx:latest@sha256:0123", "Always"),
        ] {
            assert_eq!(default_pull_policy(image), want, "{image}");
        }
    }

    #[test]
    fn template_defaults_are_not_pod_defaults() {
        let d = defaulted(
            "apps/v1",
            "Deployment",
            json!({"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a", "image": "nginx:1",
                    "resources": {"limits": {"cpu": "1"}}}]}}}}),
        );
        let spec = &d["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        let pod_spec = &spec["template"]["spec"];
        assert_eq!(pod_spec["restartPolicy"], "Always");
        assert!(pod_spec.get("enableServiceLinks").is_none());
        assert!(pod_spec.get("serviceAccountName").is_none());
        assert!(pod_spec.get("tolerations").is_none());
        assert!(
            pod_spec["containers"][0]["resources"]
                .get("requests")
                .is_none()
        );
        let recreate = defaulted(
            "apps/v1",
            "Deployment",
            json!({"spec": {"strategy": {"type": "Recreate"}}}),
        );
        assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
        let rs = defaulted("apps/v1", "ReplicaSet", json!({"spec": {"replicas": 0}}));
        assert_eq!(rs["spec"]["replicas"], 0);
    }

    #[test]
    fn statefulset_and_daemonset_defaults() {
        let sts = defaulted(
            "apps/v1",
            "StatefulSet",
            json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "1024Mi"}}}}]}}),
        );
        let spec = &sts["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            spec["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(
            spec["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        let vct = &spec["volumeClaimTemplates"][0];
        assert_eq!(vct["spec"]["volumeMode"], "Filesystem");
        assert_eq!(vct["spec"]["resources"]["requests"]["storage"], "1Gi");
        assert_eq!(vct["status"]["phase"], "Pending");
        let on_delete = defaulted(
            "apps/v1",
            "StatefulSet",
            json!({"spec": {"updateStrategy": {"type": "OnDelete"}}}),
        );
        assert_eq!(
            on_delete["spec"]["updateStrategy"],
            json!({"type": "OnDelete"})
        );
        let ds = defaulted("apps/v1", "DaemonSet", json!({"spec": {}}));
        assert_eq!(
            ds["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);
    }

    #[test]
    fn job_defaults() {
        let job = defaulted(
            "batch/v1",
            "Job",
            json!({"metadata": {"name": "pi", "uid": "u-1"}, "spec": {"template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "pi", "image": "perl"}]}}}}),
        );
        let spec = &job["spec"];
        assert_eq!(spec["completions"], 1);
        assert_eq!(spec["parallelism"], 1);
        assert_eq!(spec["backoffLimit"], 6);
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(
            spec["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
        );
        let labels = json!({"batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "pi",
            "controller-uid": "u-1", "job-name": "pi"});
        assert_eq!(spec["template"]["metadata"]["labels"], labels);
        assert_eq!(job["metadata"]["labels"], labels);
        assert_eq!(spec["template"]["spec"]["restartPolicy"], "Never");

        let parallel = defaulted("batch/v1", "Job", json!({"spec": {"parallelism": 3}}));
        assert!(parallel["spec"].get("completions").is_none());
        assert!(parallel["spec"].get("selector").is_none());
        let manual = defaulted(
            "batch/v1",
            "Job",
            json!({"metadata": {"uid": "u"}, "spec": {"manualSelector": true, "podFailurePolicy": {"rules": [{"onPodConditions": [{"type": "DisruptionTarget"}]}]}}}),
        );
        assert!(manual["spec"].get("selector").is_none());
        assert_eq!(manual["spec"]["podReplacementPolicy"], "Failed");
        assert_eq!(
            manual["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"],
            "True"
        );

        let cj = defaulted(
            "batch/v1",
            "CronJob",
            json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {}}}}}}),
        );
        let spec = &cj["spec"];
        assert_eq!(spec["concurrencyPolicy"], "Allow");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["successfulJobsHistoryLimit"], 3);
        assert_eq!(spec["failedJobsHistoryLimit"], 1);
        assert_eq!(
            spec["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"],
            "ClusterFirst"
        );
        assert!(spec["jobTemplate"]["spec"].get("backoffLimit").is_none());
    }

    #[test]
    fn service_defaults() {
        let svc = defaulted(
            "v1",
            "Service",
            json!({"spec": {"ports": [{"port": 80}, {"port": 443, "targetPort": "https"}],
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}}}),
        );
        let spec = &svc["spec"];
        assert_eq!(spec["type"], "ClusterIP");
        assert_eq!(spec["sessionAffinity"], "None");
        assert!(spec.get("sessionAffinityConfig").is_none());
        assert_eq!(
            spec["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80})
        );
        assert_eq!(spec["ports"][1]["targetPort"], "https");
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
        assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
        assert!(spec.get("externalTrafficPolicy").is_none());

        let lb = defaulted(
            "v1",
            "Service",
            json!({"spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.5", "sessionAffinity": "ClientIP"}}),
        );
        let spec = &lb["spec"];
        assert_eq!(spec["externalTrafficPolicy"], "Cluster");
        assert_eq!(spec["allocateLoadBalancerNodePorts"], true);
        assert_eq!(spec["clusterIPs"], json!(["10.96.0.5"]));
        assert_eq!(
            spec["sessionAffinityConfig"],
            json!({"clientIP": {"timeoutSeconds": 10800}})
        );

        let ext = defaulted(
            "v1",
            "Service",
            json!({"spec": {"type": "ExternalName", "externalName": "example.com"}}),
        );
        assert!(ext["spec"].get("ipFamilyPolicy").is_none());
        assert!(ext["spec"].get("internalTrafficPolicy").is_none());
    }

    #[test]
    fn namespace_secret_volume_defaults() {
        let ns = defaulted(
            "v1",
            "Namespace",
            json!({"metadata": {"name": "team-a", "labels": {"x": "y"}}}),
        );
        assert_eq!(
            ns["metadata"]["labels"],
            json!({"x": "y", "kubernetes.io/metadata.name": "team-a"})
        );
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(ns["status"]["phase"], "Active");
        // Once stored, a namespace whose finalizer was removed keeps it removed.
        let finalized = defaulted(
            "v1",
            "Namespace",
            json!({"metadata": {"name": "team-a", "resourceVersion": "7", "deletionTimestamp": "2026-01-01T00:00:00Z"},
                "spec": {}, "status": {"phase": "Terminating"}}),
        );
        assert_eq!(finalized["spec"], json!({}));
        assert_eq!(finalized["status"]["phase"], "Terminating");

        let secret = defaulted(
            "v1",
            "Secret",
            json!({"stringData": {"a": "abc", "b": "hi"}, "data": {"b": "eA=="}}),
        );
        assert_eq!(secret["type"], "Opaque");
        assert_eq!(secret["data"], json!({"b": "aGk=", "a": "YWJj"}));
        assert!(secret.get("stringData").is_none());
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"foob"), "Zm9vYg==");

        let pvc = defaulted(
            "v1",
            "PersistentVolumeClaim",
            json!({"spec": {"resources": {"requests": {"storage": "1000M"}}}}),
        );
        assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
        assert_eq!(pvc["spec"]["resources"]["requests"]["storage"], "1G");
        assert_eq!(pvc["status"]["phase"], "Pending");
        let pv = defaulted(
            "v1",
            "PersistentVolume",
            json!({"spec": {"hostPath": {"path": "/d"}}}),
        );
        assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
        assert_eq!(pv["status"]["phase"], "Pending");
        let node = defaulted(
            "v1",
            "Node",
            json!({"spec": {"podCIDR": "10.244.1.0/24"}, "status": {"capacity": {"cpu": 2, "memory": "2048Mi"}}}),
        );
        assert_eq!(node["spec"]["podCIDRs"], json!(["10.244.1.0/24"]));
        assert_eq!(
            node["status"]["allocatable"],
            json!({"cpu": "2", "memory": "2Gi"})
        );
        let slice = defaulted(
            "discovery.k8s.io/v1",
            "EndpointSlice",
            json!({"ports": [{"port": 80}]}),
        );
        assert_eq!(
            slice["ports"][0],
            json!({"port": 80, "name": "", "protocol": "TCP"})
        );
        let ep = defaulted(
            "v1",
            "Endpoints",
            json!({"subsets": [{"ports": [{"port": 80}]}]}),
        );
        assert_eq!(ep["subsets"][0]["ports"][0]["protocol"], "TCP");
    }

    #[test]
    fn hpa_defaults() {
        let hpa = defaulted(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            json!({"spec": {"maxReplicas": 5, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}),
        );
        let spec = &hpa["spec"];
        assert_eq!(spec["minReplicas"], 1);
        assert_eq!(
            spec["metrics"][0]["resource"]["target"]["averageUtilization"],
            80
        );
        assert_eq!(
            spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
            60
        );
        assert_eq!(spec["behavior"]["scaleDown"]["selectPolicy"], "Max");
        assert_eq!(
            spec["behavior"]["scaleUp"]["policies"][0],
            json!({"type": "Pods", "value": 4, "periodSeconds": 15})
        );
        let plain = defaulted(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            json!({"spec": {"maxReplicas": 5}}),
        );
        assert!(plain["spec"].get("behavior").is_none());
    }

    #[test]
    fn odd_shapes_do_not_panic() {
        for (av, kind) in [
            ("v1", "Pod"),
            ("apps/v1", "Deployment"),
            ("batch/v1", "Job"),
            ("v1", "Service"),
            ("v1", "Secret"),
        ] {
            let rt = by_kind(av, kind).unwrap();
            for mut v in [
                json!(null),
                json!([]),
                json!({"spec": "x"}),
                json!({"spec": {"template": 5, "containers": {}}}),
            ] {
                apply_defaults(rt, &mut v);
            }
        }
    }
}
