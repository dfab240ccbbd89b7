//! Server-side printing: meta.k8s.io/v1 Table with the columns kubectl shows per type.
//!
//! Owns the column definitions and cell logic of kube-apiserver's printers
//! (`pkg/printers/internalversion`) for every type in the registry, the
//! default NAME/CREATED AT table for the rest, and apimachinery's
//! `duration.HumanDuration`. Works on full JSON objects as stored; calls only
//! `selector` for selector strings.
//!
//! Invariants: the server always prints "wide", so every row carries one cell
//! per column including the priority-1 ones (kubectl hides those unless
//! `-o wide`); each cell has the JSON type upstream emits (a Go int64 is a
//! number, a bool a bool, everything else a string), whatever the column's
//! declared type says.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use serde_json::{Map, Value, json};

use crate::registry::ResourceType;
use crate::selector::{LabelSelector, format_label_selector, format_labels, go_quote, pod_ip};

/// The `includeObject` query parameter: what each row's `object` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// `object: null`.
    None,
    /// A `PartialObjectMetadata` (the default).
    #[default]
    Metadata,
    /// The full object.
    Object,
}

impl IncludeObject {
    /// Parses the query parameter; the error is the apiserver's 400 message.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "" | "Metadata" => Ok(IncludeObject::Metadata),
            "None" => Ok(IncludeObject::None),
            "Object" => Ok(IncludeObject::Object),
            other => Err(format!(
                "unrecognized includeObject value: {}",
                go_quote(other)
            )),
        }
    }
}

/// Everything about a Table besides its objects.
#[derive(Debug, Clone, Default)]
pub struct TableOptions<'a> {
    pub include_object: IncludeObject,
    /// `columnDefinitions: null`, as for `TableOptions.noHeaders`.
    pub no_headers: bool,
    pub resource_version: &'a str,
    /// `metadata.continue` of a paged list; empty for none.
    pub continue_token: &'a str,
    pub remaining_item_count: Option<i64>,
}

/// One `TableColumnDefinition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    /// `string`, `integer`, `boolean` or `date`.
    pub ty: &'static str,
    /// `name` for the column holding the object's name, else empty.
    pub format: &'static str,
    pub description: &'static str,
    /// 1 for columns kubectl shows only with `-o wide`.
    pub priority: i32,
}

impl Column {
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.ty,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// Builds a meta.k8s.io/v1 Table for `objects` (full JSON objects of type
/// `rt`) as kube-apiserver's printers do. `include_object` is the query
/// parameter (`None`, `Metadata`, `Object`; anything else reads as
/// `Metadata`, so validate it with [`IncludeObject::parse`] first). `now` is
/// the clock AGE-like cells are measured against.
pub fn to_table(
    rt: &ResourceType,
    objects: &[Value],
    include_object: &str,
    resource_version: &str,
    now: DateTime<Utc>,
) -> Value {
    let opts = TableOptions {
        include_object: IncludeObject::parse(include_object).unwrap_or_default(),
        resource_version,
        ..TableOptions::default()
    };
    to_table_with(rt, objects, &opts, now)
}

/// [`to_table`] with the list metadata and `noHeaders` spelled out.
pub fn to_table_with(
    rt: &ResourceType,
    objects: &[Value],
    opts: &TableOptions<'_>,
    now: DateTime<Utc>,
) -> Value {
    let printer = printer(rt);
    let mut rows: Vec<Value> = Vec::with_capacity(objects.len());
    for obj in objects {
        let row = match printer {
            Some((_, print)) => print(obj, now),
            None => Row::of(vec![name(obj).into(), created_at(obj).into()]),
        };
        let mut r = Map::new();
        r.insert("cells".into(), Value::Array(row.cells));
        if let Some(c) = row.conditions {
            r.insert("conditions".into(), c);
        }
        r.insert("object".into(), row_object(obj, opts.include_object));
        rows.push(Value::Object(r));
    }
    let mut meta = Map::new();
    if !opts.resource_version.is_empty() {
        meta.insert("resourceVersion".into(), opts.resource_version.into());
    }
    if !opts.continue_token.is_empty() {
        meta.insert("continue".into(), opts.continue_token.into());
    }
    if let Some(n) = opts.remaining_item_count {
        meta.insert("remainingItemCount".into(), n.into());
    }
    let columns = if opts.no_headers {
        Value::Null
    } else {
        Value::Array(columns(rt).iter().map(Column::to_json).collect())
    };
    // The default convertor appends to a nil slice, so an empty list prints `rows: null`.
    let rows = if printer.is_none() && rows.is_empty() {
        Value::Null
    } else {
        Value::Array(rows)
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

/// The column definitions of `rt`'s Table.
pub fn columns(rt: &ResourceType) -> &'static [Column] {
    match printer(rt) {
        Some((cols, _)) => cols,
        None => DEFAULT_COLUMNS,
    }
}

/// Whether `rt` has a dedicated printer rather than the default NAME/CREATED AT one.
pub fn has_printer(rt: &ResourceType) -> bool {
    printer(rt).is_some()
}

fn row_object(obj: &Value, include: IncludeObject) -> Value {
    match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Object => obj.clone(),
        IncludeObject::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
    }
}

/// apimachinery `duration.HumanDuration`: about two significant figures
/// (`59s`, `119s`, `2m30s`, `10m`, `3h`, `7h59m`, `2d`, `7d23h`, `2y`, `2y5d`).
pub fn human_duration(d: TimeDelta) -> String {
    let nanos = saturating_nanos(d);
    let seconds = nanos / 1_000_000_000;
    // A clock a second behind is "now", anything more is nonsense.
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// apimachinery `duration.ShortHumanDuration`: one unit only (`59s`, `3m`, `5h`, `2d`, `3y`).
pub fn short_human_duration(d: TimeDelta) -> String {
    let seconds = saturating_nanos(d) / 1_000_000_000;
    if seconds < -1 {
        "<invalid>".into()
    } else if seconds < 0 {
        "0s".into()
    } else if seconds < 60 {
        format!("{seconds}s")
    } else if seconds / 60 < 60 {
        format!("{}m", seconds / 60)
    } else if seconds / 3600 < 24 {
        format!("{}h", seconds / 3600)
    } else if seconds / 3600 < 24 * 365 {
        format!("{}d", seconds / 3600 / 24)
    } else {
        format!("{}y", seconds / 3600 / 24 / 365)
    }
}

/// Go's `time.Duration` is int64 nanoseconds and `time.Since` saturates.
fn saturating_nanos(d: TimeDelta) -> i64 {
    d.num_nanoseconds().unwrap_or(if d < TimeDelta::zero() {
        i64::MIN
    } else {
        i64::MAX
    })
}

// ---------------------------------------------------------------------------
// JSON access
// ---------------------------------------------------------------------------

/// A field that is present and not null (a non-nil pointer in Go).
fn present<'a>(v: &'a Value, ptr: &str) -> Option<&'a Value> {
    v.pointer(ptr).filter(|x| !x.is_null())
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn int_at(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn bool_at(v: &Value, ptr: &str) -> bool {
    v.pointer(ptr).and_then(Value::as_bool).unwrap_or(false)
}

fn arr_at<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Entries of a map or items of a list.
fn len_at(v: &Value, ptr: &str) -> i64 {
    match v.pointer(ptr) {
        Some(Value::Object(m)) => m.len() as i64,
        Some(Value::Array(a)) => a.len() as i64,
        _ => 0,
    }
}

fn string_map_at(v: &Value, ptr: &str) -> BTreeMap<String, String> {
    v.pointer(ptr)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn time_at(v: &Value, ptr: &str) -> Option<DateTime<Utc>> {
    let s = v.pointer(ptr)?.as_str()?;
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A quantity as `Quantity.String()` prints it; values are taken as stored
/// (the apiserver stores them canonical). `nil` is a nil `*Quantity`.
fn quantity_at(v: &Value, ptr: &str, nil: &str) -> String {
    match v.pointer(ptr) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => nil.to_string(),
    }
}

fn name(obj: &Value) -> &str {
    str_at(obj, "/metadata/name")
}

/// `translateTimestampSince`.
fn since(now: DateTime<Utc>, t: Option<DateTime<Utc>>) -> String {
    match t {
        Some(t) => human_duration(now - t),
        None => "<unknown>".into(),
    }
}

fn age(obj: &Value, now: DateTime<Utc>) -> Value {
    since(now, time_at(obj, "/metadata/creationTimestamp")).into()
}

/// The default convertor's CREATED AT: RFC 3339 in UTC, Go's zero time when unset.
fn created_at(obj: &Value) -> String {
    time_at(obj, "/metadata/creationTimestamp")
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into())
}

/// `layoutContainerCells`: names and images, comma-joined.
fn containers_cells(obj: &Value, ptr: &str) -> [Value; 2] {
    let containers = arr_at(obj, ptr);
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, "/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, "/image")).collect();
    [names.join(",").into(), images.join(",").into()]
}

fn label_selector_at(obj: &Value, ptr: &str) -> Result<Option<metav1::LabelSelector>, ()> {
    match present(obj, ptr) {
        None => Ok(None),
        Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|_| ()),
    }
}

/// `metav1.FormatLabelSelector` of a selector field.
fn formatted_selector_at(obj: &Value, ptr: &str) -> String {
    match label_selector_at(obj, ptr) {
        Ok(sel) => format_label_selector(sel.as_ref()),
        Err(()) => "<error>".into(),
    }
}

fn bool_ptr(v: Option<&Value>) -> &'static str {
    match v.and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

/// `net.JoinHostPort`.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `listWithMoreString`.
fn list_with_more(list: &[String], more: bool, count: usize, max: usize) -> String {
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", count - max)
    } else if ret.is_empty() {
        "<unset>".into()
    } else {
        ret
    }
}

fn condition_status<'a>(obj: &'a Value, ty: &str) -> Option<&'a str> {
    arr_at(obj, "/status/conditions")
        .iter()
        .find(|c| str_at(c, "/type") == ty)
        .map(|c| str_at(c, "/status"))
}

// ---------------------------------------------------------------------------
// Printers
// ---------------------------------------------------------------------------

struct Row {
    cells: Vec<Value>,
    conditions: Option<Value>,
}

impl Row {
    fn of(cells: Vec<Value>) -> Row {
        Row {
            cells,
            conditions: None,
        }
    }
}

type PrintFn = fn(&Value, DateTime<Utc>) -> Row;

fn printer(rt: &ResourceType) -> Option<(&'static [Column], PrintFn)> {
    Some(match (rt.group, rt.kind) {
        ("", "Pod") => (POD_COLUMNS, print_pod),
        ("", "Service") => (SERVICE_COLUMNS, print_service),
        ("", "Endpoints") => (ENDPOINTS_COLUMNS, print_endpoints),
        ("", "ConfigMap") => (CONFIG_MAP_COLUMNS, print_config_map),
        ("", "Secret") => (SECRET_COLUMNS, print_secret),
        ("", "Namespace") => (NAMESPACE_COLUMNS, print_namespace),
        ("", "Node") => (NODE_COLUMNS, print_node),
        ("", "Event") => (EVENT_COLUMNS, print_event),
        ("", "ServiceAccount") => (SERVICE_ACCOUNT_COLUMNS, print_service_account),
        ("", "PersistentVolume") => (PV_COLUMNS, print_pv),
        ("", "PersistentVolumeClaim") => (PVC_COLUMNS, print_pvc),
        ("apps", "Deployment") => (DEPLOYMENT_COLUMNS, print_deployment),
        ("apps", "ReplicaSet") => (REPLICA_SET_COLUMNS, print_replica_set),
        ("apps", "StatefulSet") => (STATEFUL_SET_COLUMNS, print_stateful_set),
        ("apps", "DaemonSet") => (DAEMON_SET_COLUMNS, print_daemon_set),
        ("apps", "ControllerRevision") => (CONTROLLER_REVISION_COLUMNS, print_controller_revision),
        ("batch", "Job") => (JOB_COLUMNS, print_job),
        ("batch", "CronJob") => (CRON_JOB_COLUMNS, print_cron_job),
        ("discovery.k8s.io", "EndpointSlice") => (ENDPOINT_SLICE_COLUMNS, print_endpoint_slice),
        ("coordination.k8s.io", "Lease") => (LEASE_COLUMNS, print_lease),
        ("networking.k8s.io", "Ingress") => (INGRESS_COLUMNS, print_ingress),
        ("autoscaling", "HorizontalPodAutoscaler") => (HPA_COLUMNS, print_hpa),
        _ => return None,
    })
}

/// Moves `last` forward to the container's last termination, if later.
fn note_restart(last: &mut Option<DateTime<Utc>>, status: &Value) {
    if present(status, "/lastState/terminated").is_none() {
        return;
    }
    if let Some(t) = time_at(status, "/lastState/terminated/finishedAt")
        && last.is_none_or(|l| l < t)
    {
        *last = Some(t);
    }
}

/// A terminated container's reason, or `{prefix}Signal:N` / `{prefix}ExitCode:N`.
fn terminated_reason(t: &Value, prefix: &str) -> String {
    let reason = str_at(t, "/reason");
    if !reason.is_empty() {
        format!("{prefix}{reason}")
    } else if int_at(t, "/signal") != 0 {
        format!("{prefix}Signal:{}", int_at(t, "/signal"))
    } else {
        format!("{prefix}ExitCode:{}", int_at(t, "/exitCode"))
    }
}

fn print_pod(pod: &Value, now: DateTime<Utc>) -> Row {
    let init_specs = arr_at(pod, "/spec/initContainers");
    // Sidecars: init containers that keep running, counted as containers.
    let sidecars: BTreeSet<&str> = init_specs
        .iter()
        .filter(|c| str_at(c, "/restartPolicy") == "Always")
        .map(|c| str_at(c, "/name"))
        .collect();
    let total = arr_at(pod, "/spec/containers").len()
        + init_specs
            .iter()
            .filter(|c| str_at(c, "/restartPolicy") == "Always")
            .count();
    let mut ready = 0;
    let mut restarts = 0;
    let mut sidecar_restarts = 0;
    let mut last_restart = None;
    let mut last_sidecar_restart = None;

    let phase = str_at(pod, "/status/phase");
    let mut reason = match str_at(pod, "/status/reason") {
        "" => phase.to_string(),
        r => r.to_string(),
    };
    for c in arr_at(pod, "/status/conditions") {
        if str_at(c, "/type") == "PodScheduled" && str_at(c, "/reason") == "SchedulingGated" {
            reason = "SchedulingGated".into();
        }
    }
    let conditions = match phase {
        "Succeeded" => Some(json!([{
            "type": "Completed", "status": "True", "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }])),
        "Failed" => Some(json!([{
            "type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed.",
        }])),
        _ => None,
    };

    let mut initializing = false;
    for (i, c) in arr_at(pod, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        let count = int_at(c, "/restartCount");
        restarts += count;
        note_restart(&mut last_restart, c);
        let sidecar = sidecars.contains(str_at(c, "/name"));
        if sidecar {
            sidecar_restarts += count;
            note_restart(&mut last_sidecar_restart, c);
        }
        let terminated = present(c, "/state/terminated");
        let waiting_reason = present(c, "/state/waiting")
            .map(|w| str_at(w, "/reason"))
            .unwrap_or("");
        if terminated.is_some_and(|t| int_at(t, "/exitCode") == 0) {
            continue;
        }
        if sidecar && c.pointer("/started").and_then(Value::as_bool) == Some(true) {
            if bool_at(c, "/ready") {
                ready += 1;
            }
            continue;
        }
        reason = if let Some(t) = terminated {
            terminated_reason(t, "Init:")
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    if !initializing || condition_status(pod, "Initialized") == Some("True") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for c in arr_at(pod, "/status/containerStatuses").iter().rev() {
            restarts += int_at(c, "/restartCount");
            note_restart(&mut last_restart, c);
            let waiting_reason = present(c, "/state/waiting")
                .map(|w| str_at(w, "/reason"))
                .unwrap_or("");
            if !waiting_reason.is_empty() {
                reason = waiting_reason.into();
            } else if let Some(t) = present(c, "/state/terminated") {
                reason = terminated_reason(t, "");
            } else if bool_at(c, "/ready") && present(c, "/state/running").is_some() {
                has_running = true;
                ready += 1;
            }
        }
        // A pod whose last-listed container completed but another still runs is not "Completed".
        if reason == "Completed" && has_running {
            let pod_ready = arr_at(pod, "/status/conditions")
                .iter()
                .any(|c| str_at(c, "/type") == "Ready" && str_at(c, "/status") == "True");
            reason = if pod_ready { "Running" } else { "NotReady" }.into();
        }
    }

    if present(pod, "/metadata/deletionTimestamp").is_some() {
        if str_at(pod, "/status/reason") == "NodeLost" {
            reason = "Unknown".into();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".into();
        }
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(now, Some(t))),
        _ => restarts.to_string(),
    };
    let or_none = |s: String| {
        if s.is_empty() {
            "<none>".to_string()
        } else {
            s
        }
    };
    let gates = arr_at(pod, "/spec/readinessGates");
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let met = gates
            .iter()
            .filter(|g| condition_status(pod, str_at(g, "/conditionType")) == Some("True"))
            .count();
        format!("{met}/{}", gates.len())
    };
    Row {
        cells: vec![
            name(pod).into(),
            format!("{ready}/{total}").into(),
            reason.into(),
            restarts_cell.into(),
            age(pod, now),
            or_none(pod_ip(pod).unwrap_or_default()).into(),
            or_none(str_at(pod, "/spec/nodeName").into()).into(),
            or_none(str_at(pod, "/status/nominatedNodeName").into()).into(),
            readiness_gates.into(),
        ],
        conditions,
    }
}

fn print_service(svc: &Value, now: DateTime<Utc>) -> Row {
    let cluster_ip = arr_at(svc, "/spec/clusterIPs")
        .first()
        .and_then(Value::as_str)
        .or_else(|| Some(str_at(svc, "/spec/clusterIP")).filter(|ip| !ip.is_empty()))
        .unwrap_or("<none>");
    let external_ips: Vec<&str> = arr_at(svc, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let external = match str_at(svc, "/spec/type") {
        "ClusterIP" | "NodePort" if !external_ips.is_empty() => external_ips.join(","),
        "ClusterIP" | "NodePort" => "<none>".into(),
        "LoadBalancer" => {
            let lb = load_balancer_ingress(svc);
            if !external_ips.is_empty() {
                lb.iter()
                    .map(String::as_str)
                    .chain(external_ips.iter().copied())
                    .collect::<Vec<_>>()
                    .join(",")
            } else if !lb.is_empty() {
                lb.join(",")
            } else {
                "<pending>".into()
            }
        }
        "ExternalName" => str_at(svc, "/spec/externalName").into(),
        _ => "<unknown>".into(),
    };
    let ports: Vec<String> = arr_at(svc, "/spec/ports")
        .iter()
        .map(|p| {
            // Defaulting sets the protocol; an undefaulted port is TCP all the same.
            let protocol = match str_at(p, "/protocol") {
                "" => "TCP",
                proto => proto,
            };
            match int_at(p, "/nodePort") {
                n if n > 0 => format!("{}:{n}/{protocol}", int_at(p, "/port")),
                _ => format!("{}/{protocol}", int_at(p, "/port")),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".into()
    } else {
        ports.join(",")
    };
    Row::of(vec![
        name(svc).into(),
        str_at(svc, "/spec/type").into(),
        cluster_ip.into(),
        external.into(),
        ports.into(),
        age(svc, now),
        format_labels(&string_map_at(svc, "/spec/selector")).into(),
    ])
}

/// The distinct IPs (else hostnames) of `status.loadBalancer.ingress`, sorted.
fn load_balancer_ingress(obj: &Value) -> Vec<String> {
    let set: BTreeSet<&str> = arr_at(obj, "/status/loadBalancer/ingress")
        .iter()
        .filter_map(|i| match (str_at(i, "/ip"), str_at(i, "/hostname")) {
            ("", "") => None,
            ("", host) => Some(host),
            (ip, _) => Some(ip),
        })
        .collect();
    set.into_iter().map(str::to_string).collect()
}

fn print_endpoints(ep: &Value, now: DateTime<Utc>) -> Row {
    Row::of(vec![
        name(ep).into(),
        format_endpoints(ep).into(),
        age(ep, now),
    ])
}

/// `formatEndpoints`: up to three `ip:port` pairs, then `+ N more...`.
fn format_endpoints(ep: &Value) -> String {
    const MAX: usize = 3;
    let subsets = arr_at(ep, "/subsets");
    if subsets.is_empty() {
        return "<none>".into();
    }
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0;
    for ss in subsets {
        let addresses = arr_at(ss, "/addresses");
        let ports = arr_at(ss, "/ports");
        if ports.is_empty() {
            // Headless services may have no ports.
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(str_at(a, "/ip").into());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(join_host_port(str_at(a, "/ip"), int_at(port, "/port")));
            }
        }
    }
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", count - MAX)
    } else {
        ret
    }
}

fn print_endpoint_slice(eps: &Value, now: DateTime<Utc>) -> Row {
    const MAX: usize = 3;
    let (mut ports, mut more, mut count) = (Vec::new(), false, 0);
    for p in arr_at(eps, "/ports") {
        if ports.len() < MAX {
            let port = match (present(p, "/port"), present(p, "/name")) {
                (Some(n), _) => n.as_i64().unwrap_or(0).to_string(),
                (None, Some(name)) => name.as_str().unwrap_or("").to_string(),
                (None, None) => "*".to_string(),
            };
            ports.push(port);
        } else if ports.len() == MAX {
            more = true;
        }
        count += 1;
    }
    let ports = list_with_more(&ports, more, count, MAX);
    let (mut addrs, mut more, mut count) = (Vec::new(), false, 0);
    for e in arr_at(eps, "/endpoints") {
        for a in arr_at(e, "/addresses") {
            if addrs.len() < MAX {
                addrs.push(a.as_str().unwrap_or("").to_string());
            } else if addrs.len() == MAX {
                more = true;
            }
            count += 1;
        }
    }
    let addrs = list_with_more(&addrs, more, count, MAX);
    Row::of(vec![
        name(eps).into(),
        str_at(eps, "/addressType").into(),
        ports.into(),
        addrs.into(),
        age(eps, now),
    ])
}

fn print_config_map(cm: &Value, now: DateTime<Utc>) -> Row {
    let data = len_at(cm, "/data") + len_at(cm, "/binaryData");
    Row::of(vec![name(cm).into(), data.into(), age(cm, now)])
}

fn print_secret(secret: &Value, now: DateTime<Utc>) -> Row {
    // The internal type merges stringData into data before printing.
    let mut keys: BTreeSet<&str> = BTreeSet::new();
    for ptr in ["/data", "/stringData"] {
        if let Some(m) = secret.pointer(ptr).and_then(Value::as_object) {
            keys.extend(m.keys().map(String::as_str));
        }
    }
    Row::of(vec![
        name(secret).into(),
        str_at(secret, "/type").into(),
        (keys.len() as i64).into(),
        age(secret, now),
    ])
}

fn print_namespace(ns: &Value, now: DateTime<Utc>) -> Row {
    Row::of(vec![
        name(ns).into(),
        str_at(ns, "/status/phase").into(),
        age(ns, now),
    ])
}

fn print_service_account(sa: &Value, now: DateTime<Utc>) -> Row {
    Row::of(vec![
        name(sa).into(),
        len_at(sa, "/secrets").into(),
        age(sa, now),
    ])
}

fn print_node(node: &Value, now: DateTime<Utc>) -> Row {
    // The last Ready condition wins, as in upstream's map by type.
    let ready = arr_at(node, "/status/conditions")
        .iter()
        .rev()
        .find(|c| str_at(c, "/type") == "Ready")
        .map(|c| str_at(c, "/status"));
    let mut status = vec![match ready {
        Some("True") => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if bool_at(node, "/spec/unschedulable") {
        status.push("SchedulingDisabled");
    }
    let mut roles = BTreeSet::new();
    for (k, v) in string_map_at(node, "/metadata/labels") {
        if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
            if !role.is_empty() {
                roles.insert(role.to_string());
            }
        } else if k == "kubernetes.io/role" && !v.is_empty() {
            roles.insert(v);
        }
    }
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    };
    let address = |ty: &str| {
        arr_at(node, "/status/addresses")
            .iter()
            .find(|a| str_at(a, "/type") == ty)
            .map(|a| str_at(a, "/address").to_string())
            .unwrap_or_else(|| "<none>".into())
    };
    let info = |field: &str| match str_at(node, &format!("/status/nodeInfo/{field}")) {
        "" => "<unknown>".to_string(),
        s => s.to_string(),
    };
    Row::of(vec![
        name(node).into(),
        status.join(",").into(),
        roles.into(),
        age(node, now),
        str_at(node, "/status/nodeInfo/kubeletVersion").into(),
        address("InternalIP").into(),
        address("ExternalIP").into(),
        info("osImage").into(),
        info("kernelVersion").into(),
        info("containerRuntimeVersion").into(),
    ])
}

fn print_event(ev: &Value, now: DateTime<Utc>) -> Row {
    let first = match time_at(ev, "/firstTimestamp") {
        Some(t) => since(now, Some(t)),
        None => since(now, time_at(ev, "/eventTime")),
    };
    let mut last = match time_at(ev, "/lastTimestamp") {
        Some(t) => since(now, Some(t)),
        None => first.clone(),
    };
    let mut count = int_at(ev, "/count");
    if present(ev, "/series").is_some() {
        last = since(now, time_at(ev, "/series/lastObservedTime"));
        count = int_at(ev, "/series/count");
    } else if count == 0 {
        // Singleton events of the events.k8s.io API carry no count.
        count = 1;
    }
    let kind = str_at(ev, "/involvedObject/kind").to_lowercase();
    let target = match str_at(ev, "/involvedObject/name") {
        "" => kind,
        n => format!("{kind}/{n}"),
    };
    let first_non_empty = |a: &'static str, b: &'static str| match str_at(ev, a) {
        "" => str_at(ev, b),
        s => s,
    };
    let component = first_non_empty("/source/component", "/reportingComponent");
    let instance = first_non_empty("/source/host", "/reportingInstance");
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    Row::of(vec![
        last.into(),
        str_at(ev, "/type").into(),
        str_at(ev, "/reason").into(),
        target.into(),
        str_at(ev, "/involvedObject/fieldPath").into(),
        source.into(),
        str_at(ev, "/message").trim().into(),
        first.into(),
        count.into(),
        name(ev).into(),
    ])
}

/// `GetAccessModesAsString`: deduplicated, in a fixed order.
fn access_modes(obj: &Value, ptr: &str) -> String {
    let modes: BTreeSet<&str> = arr_at(obj, ptr).iter().filter_map(Value::as_str).collect();
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| modes.contains(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// The beta storage-class annotation wins over `spec.storageClassName`.
fn storage_class(obj: &Value) -> String {
    match obj
        .pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
        .and_then(Value::as_str)
    {
        Some(class) => class.into(),
        None => str_at(obj, "/spec/storageClassName").into(),
    }
}

fn unset_or(obj: &Value, ptr: &str) -> String {
    obj.pointer(ptr)
        .and_then(Value::as_str)
        .unwrap_or("<unset>")
        .to_string()
}

fn print_pv(pv: &Value, now: DateTime<Utc>) -> Row {
    let claim = match present(pv, "/spec/claimRef") {
        Some(c) => format!("{}/{}", str_at(c, "/namespace"), str_at(c, "/name")),
        None => String::new(),
    };
    let phase = if present(pv, "/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else {
        str_at(pv, "/status/phase")
    };
    Row::of(vec![
        name(pv).into(),
        quantity_at(pv, "/spec/capacity/storage", "0").into(),
        access_modes(pv, "/spec/accessModes").into(),
        str_at(pv, "/spec/persistentVolumeReclaimPolicy").into(),
        phase.into(),
        claim.into(),
        storage_class(pv).into(),
        unset_or(pv, "/spec/volumeAttributesClassName").into(),
        str_at(pv, "/status/reason").into(),
        age(pv, now),
        unset_or(pv, "/spec/volumeMode").into(),
    ])
}

fn print_pvc(pvc: &Value, now: DateTime<Utc>) -> Row {
    let phase = if present(pvc, "/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else {
        str_at(pvc, "/status/phase")
    };
    let volume = str_at(pvc, "/spec/volumeName");
    // Capacity and access modes are only shown once the claim is bound.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity_at(pvc, "/status/capacity/storage", "0"),
            access_modes(pvc, "/status/accessModes"),
        )
    };
    Row::of(vec![
        name(pvc).into(),
        phase.into(),
        volume.into(),
        capacity.into(),
        modes.into(),
        storage_class(pvc).into(),
        unset_or(pvc, "/spec/volumeAttributesClassName").into(),
        age(pvc, now),
        unset_or(pvc, "/spec/volumeMode").into(),
    ])
}

fn print_deployment(d: &Value, now: DateTime<Utc>) -> Row {
    // LabelSelectorAsSelector's String(): nil and empty both print as "".
    let selector = match label_selector_at(d, "/spec/selector") {
        Ok(None) => String::new(),
        Ok(Some(sel)) => LabelSelector::from_k8s(&sel)
            .map(|s| s.to_string())
            .unwrap_or_else(|_| "<invalid>".into()),
        Err(()) => "<invalid>".into(),
    };
    let [containers, images] = containers_cells(d, "/spec/template/spec/containers");
    Row::of(vec![
        name(d).into(),
        format!(
            "{}/{}",
            int_at(d, "/status/readyReplicas"),
            int_at(d, "/spec/replicas")
        )
        .into(),
        int_at(d, "/status/updatedReplicas").into(),
        int_at(d, "/status/availableReplicas").into(),
        age(d, now),
        containers,
        images,
        selector.into(),
    ])
}

fn print_replica_set(rs: &Value, now: DateTime<Utc>) -> Row {
    let [containers, images] = containers_cells(rs, "/spec/template/spec/containers");
    Row::of(vec![
        name(rs).into(),
        int_at(rs, "/spec/replicas").into(),
        int_at(rs, "/status/replicas").into(),
        int_at(rs, "/status/readyReplicas").into(),
        age(rs, now),
        containers,
        images,
        formatted_selector_at(rs, "/spec/selector").into(),
    ])
}

fn print_stateful_set(sts: &Value, now: DateTime<Utc>) -> Row {
    let [containers, images] = containers_cells(sts, "/spec/template/spec/containers");
    Row::of(vec![
        name(sts).into(),
        format!(
            "{}/{}",
            int_at(sts, "/status/readyReplicas"),
            int_at(sts, "/spec/replicas")
        )
        .into(),
        age(sts, now),
        containers,
        images,
    ])
}

fn print_daemon_set(ds: &Value, now: DateTime<Utc>) -> Row {
    let [containers, images] = containers_cells(ds, "/spec/template/spec/containers");
    Row::of(vec![
        name(ds).into(),
        int_at(ds, "/status/desiredNumberScheduled").into(),
        int_at(ds, "/status/currentNumberScheduled").into(),
        int_at(ds, "/status/numberReady").into(),
        int_at(ds, "/status/updatedNumberScheduled").into(),
        int_at(ds, "/status/numberAvailable").into(),
        format_labels(&string_map_at(ds, "/spec/template/spec/nodeSelector")).into(),
        age(ds, now),
        containers,
        images,
        formatted_selector_at(ds, "/spec/selector").into(),
    ])
}

fn print_controller_revision(cr: &Value, now: DateTime<Utc>) -> Row {
    let controller = arr_at(cr, "/metadata/ownerReferences")
        .iter()
        .find(|r| bool_at(r, "/controller"))
        .map(|r| {
            let api_version = str_at(r, "/apiVersion");
            let group = api_version.split_once('/').map(|(g, _)| g).unwrap_or("");
            let kind = str_at(r, "/kind");
            let group_kind = if group.is_empty() {
                kind.to_string()
            } else {
                format!("{kind}.{group}")
            };
            if group_kind.is_empty() {
                str_at(r, "/name").to_string()
            } else {
                format!("{}/{}", group_kind.to_lowercase(), str_at(r, "/name"))
            }
        })
        .unwrap_or_else(|| "<none>".into());
    Row::of(vec![
        name(cr).into(),
        controller.into(),
        int_at(cr, "/revision").into(),
        age(cr, now),
    ])
}

fn job_condition_true(job: &Value, ty: &str) -> bool {
    condition_status(job, ty) == Some("True")
}

fn print_job(job: &Value, now: DateTime<Utc>) -> Row {
    let succeeded = int_at(job, "/status/succeeded");
    let completions = match present(job, "/spec/completions") {
        Some(c) => format!("{succeeded}/{}", c.as_i64().unwrap_or(0)),
        None => match int_at(job, "/spec/parallelism") {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (
        time_at(job, "/status/startTime"),
        time_at(job, "/status/completionTime"),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(now - start),
        (Some(start), Some(end)) => human_duration(end - start),
    };
    let status = if job_condition_true(job, "Complete") {
        "Complete"
    } else if job_condition_true(job, "Failed") {
        "Failed"
    } else if present(job, "/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else if job_condition_true(job, "Suspended") {
        "Suspended"
    } else if job_condition_true(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let [containers, images] = containers_cells(job, "/spec/template/spec/containers");
    Row::of(vec![
        name(job).into(),
        status.into(),
        completions.into(),
        duration.into(),
        age(job, now),
        containers,
        images,
        formatted_selector_at(job, "/spec/selector").into(),
    ])
}

fn print_cron_job(cj: &Value, now: DateTime<Utc>) -> Row {
    let last_schedule = match time_at(cj, "/status/lastScheduleTime") {
        Some(t) => since(now, Some(t)),
        None => "<none>".into(),
    };
    let time_zone = cj
        .pointer("/spec/timeZone")
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let [containers, images] =
        containers_cells(cj, "/spec/jobTemplate/spec/template/spec/containers");
    Row::of(vec![
        name(cj).into(),
        str_at(cj, "/spec/schedule").into(),
        time_zone.into(),
        bool_ptr(cj.pointer("/spec/suspend")).into(),
        len_at(cj, "/status/active").into(),
        last_schedule.into(),
        age(cj, now),
        containers,
        images,
        formatted_selector_at(cj, "/spec/jobTemplate/spec/selector").into(),
    ])
}

fn print_lease(lease: &Value, now: DateTime<Utc>) -> Row {
    Row::of(vec![
        name(lease).into(),
        str_at(lease, "/spec/holderIdentity").into(),
        age(lease, now),
    ])
}

fn print_ingress(ing: &Value, now: DateTime<Utc>) -> Row {
    const MAX: usize = 3;
    let rules = arr_at(ing, "/spec/rules");
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX {
            more = true;
        }
        let host = str_at(rule, "/host");
        if !more && !host.is_empty() {
            hosts.push(host);
        }
    }
    let hosts = if hosts.is_empty() {
        "*".to_string()
    } else if more {
        format!("{} + {} more...", hosts.join(","), rules.len() - MAX)
    } else {
        hosts.join(",")
    };
    let class = ing
        .pointer("/spec/ingressClassName")
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let ports = if arr_at(ing, "/spec/tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    Row::of(vec![
        name(ing).into(),
        class.into(),
        hosts.into(),
        load_balancer_ingress(ing).join(",").into(),
        ports.into(),
        age(ing, now),
    ])
}

/// `formatHPAMetrics`: `current/target` per metric, at most two, then `+ N more...`.
fn format_hpa_metrics(hpa: &Value) -> String {
    const MAX: usize = 2;
    let specs = arr_at(hpa, "/spec/metrics");
    if specs.is_empty() {
        return "<none>".into();
    }
    let statuses = arr_at(hpa, "/status/currentMetrics");
    let mut list = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        // The status entry's source of the same type, when the controller has reported one.
        let status = |source: &str| {
            statuses
                .get(i)
                .and_then(|s| present(s, &format!("/{source}")))
        };
        let current = |source: &str, field: &str| match status(source) {
            Some(s) => quantity_at(s, &format!("/current/{field}"), "<nil>"),
            None => "<unknown>".into(),
        };
        let entry = match str_at(spec, "/type") {
            ty @ ("External" | "Object") => {
                let source = if ty == "External" {
                    "external"
                } else {
                    "object"
                };
                let target =
                    |field: &str| quantity_at(spec, &format!("/{source}/target/{field}"), "<nil>");
                if present(spec, &format!("/{source}/target/averageValue")).is_some() {
                    let current = match status(source) {
                        Some(s) if present(s, "/current/averageValue").is_some() => {
                            quantity_at(s, "/current/averageValue", "<nil>")
                        }
                        _ => "<unknown>".into(),
                    };
                    format!("{current}/{} (avg)", target("averageValue"))
                } else {
                    format!("{}/{}", current(source, "value"), target("value"))
                }
            }
            "Pods" => format!(
                "{}/{}",
                current("pods", "averageValue"),
                quantity_at(spec, "/pods/target/averageValue", "<nil>")
            ),
            ty @ ("Resource" | "ContainerResource") => {
                let source = if ty == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let resource = str_at(spec, &format!("/{source}/name"));
                if present(spec, &format!("/{source}/target/averageValue")).is_some() {
                    let target =
                        quantity_at(spec, &format!("/{source}/target/averageValue"), "<nil>");
                    format!("{resource}: {}/{target}", current(source, "averageValue"))
                } else {
                    let current = status(source)
                        .and_then(|s| present(s, "/current/averageUtilization"))
                        .map(|u| format!("{}%", u.as_i64().unwrap_or(0)))
                        .unwrap_or_else(|| "<unknown>".into());
                    let target = present(spec, &format!("/{source}/target/averageUtilization"))
                        .map(|u| format!("{}%", u.as_i64().unwrap_or(0)))
                        .unwrap_or_else(|| "<auto>".into());
                    format!("{resource}: {current}/{target}")
                }
            }
            _ => "<unknown type>".into(),
        };
        list.push(entry);
    }
    let count = list.len();
    if count > MAX {
        list.truncate(MAX);
        format!("{} + {} more...", list.join(", "), count - MAX)
    } else {
        list.join(", ")
    }
}

fn print_hpa(hpa: &Value, now: DateTime<Utc>) -> Row {
    let reference = format!(
        "{}/{}",
        str_at(hpa, "/spec/scaleTargetRef/kind"),
        str_at(hpa, "/spec/scaleTargetRef/name")
    );
    let min_pods = match present(hpa, "/spec/minReplicas") {
        Some(n) => n.as_i64().unwrap_or(0).to_string(),
        None => "<unset>".into(),
    };
    Row::of(vec![
        name(hpa).into(),
        reference.into(),
        format_hpa_metrics(hpa).into(),
        min_pods.into(),
        int_at(hpa, "/spec/maxReplicas").into(),
        int_at(hpa, "/status/currentReplicas").into(),
        age(hpa, now),
    ])
}

// ---------------------------------------------------------------------------
// Column definitions
// ---------------------------------------------------------------------------

const fn col(name: &'static str, ty: &'static str, description: &'static str) -> Column {
    Column {
        name,
        ty,
        format: "",
        description,
        priority: 0,
    }
}

/// A column kubectl shows only with `-o wide`.
const fn wide(name: &'static str, ty: &'static str, description: &'static str) -> Column {
    Column {
        name,
        ty,
        format: "",
        description,
        priority: 1,
    }
}

const NAME: Column = Column {
    name: "Name",
    ty: "string",
    format: "name",
    description: docs::META_NAME,
    priority: 0,
};
const AGE: Column = col("Age", "string", docs::META_CREATION_TIMESTAMP);
const CONTAINERS: Column = wide(
    "Containers",
    "string",
    "Names of each container in the template.",
);
const IMAGES: Column = wide(
    "Images",
    "string",
    "Images referenced by each container in the template.",
);

const DEFAULT_COLUMNS: &[Column] = &[
    NAME,
    col("Created At", "date", docs::META_CREATION_TIMESTAMP),
];

const POD_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Ready",
        "string",
        "The aggregate readiness state of this pod for accepting traffic.",
    ),
    col(
        "Status",
        "string",
        "The aggregate status of the containers in this pod.",
    ),
    col(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE,
    wide("IP", "string", docs::POD_STATUS_POD_IP),
    wide("Node", "string", docs::POD_SPEC_NODE_NAME),
    wide(
        "Nominated Node",
        "string",
        docs::POD_STATUS_NOMINATED_NODE_NAME,
    ),
    wide("Readiness Gates", "string", docs::POD_SPEC_READINESS_GATES),
];

const REPLICA_SET_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", docs::RS_SPEC_REPLICAS),
    col("Current", "integer", docs::RS_STATUS_REPLICAS),
    col("Ready", "integer", docs::RS_STATUS_READY_REPLICAS),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", docs::RS_SPEC_SELECTOR),
];

const DAEMON_SET_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", docs::DS_STATUS_DESIRED),
    col("Current", "integer", docs::DS_STATUS_CURRENT),
    col("Ready", "integer", docs::DS_STATUS_READY),
    col("Up-to-date", "integer", docs::DS_STATUS_UPDATED),
    col("Available", "integer", docs::DS_STATUS_AVAILABLE),
    col("Node Selector", "string", docs::POD_SPEC_NODE_SELECTOR),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", docs::DS_SPEC_SELECTOR),
];

const JOB_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "Status of the job."),
    col("Completions", "string", docs::JOB_STATUS_SUCCEEDED),
    col("Duration", "string", "Time required to complete the job."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", docs::JOB_SPEC_SELECTOR),
];

const CRON_JOB_COLUMNS: &[Column] = &[
    NAME,
    col("Schedule", "string", docs::CJ_SPEC_SCHEDULE),
    col("Timezone", "string", docs::CJ_SPEC_TIME_ZONE),
    col("Suspend", "boolean", docs::CJ_SPEC_SUSPEND),
    col("Active", "integer", docs::CJ_STATUS_ACTIVE),
    col(
        "Last Schedule",
        "string",
        docs::CJ_STATUS_LAST_SCHEDULE_TIME,
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", docs::JOB_SPEC_SELECTOR),
];

const SERVICE_COLUMNS: &[Column] = &[
    NAME,
    col("Type", "string", docs::SVC_SPEC_TYPE),
    col("Cluster-IP", "string", docs::SVC_SPEC_CLUSTER_IP),
    col("External-IP", "string", docs::SVC_SPEC_EXTERNAL_IPS),
    col("Port(s)", "string", docs::SVC_SPEC_PORTS),
    AGE,
    wide("Selector", "string", docs::SVC_SPEC_SELECTOR),
];

const INGRESS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Class",
        "string",
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    col(
        "Hosts",
        "string",
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    col(
        "Address",
        "string",
        "Address is a list containing ingress points for the load-balancer",
    ),
    col("Ports", "string", "Ports of TLS configurations that open"),
    AGE,
];

const STATEFUL_SET_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    AGE,
    CONTAINERS,
    IMAGES,
];

const ENDPOINTS_COLUMNS: &[Column] = &[
    NAME,
    col("Endpoints", "string", docs::ENDPOINTS_SUBSETS),
    AGE,
];

const NODE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the node"),
    col("Roles", "string", "The roles of the node"),
    AGE,
    col("Version", "string", docs::NODE_INFO_KUBELET_VERSION),
    wide("Internal-IP", "string", docs::NODE_STATUS_ADDRESSES),
    wide("External-IP", "string", docs::NODE_STATUS_ADDRESSES),
    wide("OS-Image", "string", docs::NODE_INFO_OS_IMAGE),
    wide("Kernel-Version", "string", docs::NODE_INFO_KERNEL_VERSION),
    wide(
        "Container-Runtime",
        "string",
        docs::NODE_INFO_CONTAINER_RUNTIME_VERSION,
    ),
];

const EVENT_COLUMNS: &[Column] = &[
    col("Last Seen", "string", docs::EVENT_LAST_TIMESTAMP),
    col("Type", "string", docs::EVENT_TYPE),
    col("Reason", "string", docs::EVENT_REASON),
    col("Object", "string", docs::EVENT_INVOLVED_OBJECT),
    wide("Subobject", "string", docs::OBJECT_REFERENCE_FIELD_PATH),
    wide("Source", "string", docs::EVENT_SOURCE),
    col("Message", "string", docs::EVENT_MESSAGE),
    wide("First Seen", "string", docs::EVENT_FIRST_TIMESTAMP),
    wide("Count", "string", docs::EVENT_COUNT),
    Column {
        priority: 1,
        ..NAME
    },
];

const NAMESPACE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the namespace"),
    AGE,
];

const SECRET_COLUMNS: &[Column] = &[
    NAME,
    col("Type", "string", docs::SECRET_TYPE),
    col("Data", "string", docs::SECRET_DATA),
    AGE,
];

const SERVICE_ACCOUNT_COLUMNS: &[Column] = &[NAME, col("Secrets", "string", docs::SA_SECRETS), AGE];

const PV_COLUMNS: &[Column] = &[
    NAME,
    col("Capacity", "string", docs::PV_SPEC_CAPACITY),
    col("Access Modes", "string", docs::PV_SPEC_ACCESS_MODES),
    col("Reclaim Policy", "string", docs::PV_SPEC_RECLAIM_POLICY),
    col("Status", "string", docs::PV_STATUS_PHASE),
    col("Claim", "string", docs::PV_SPEC_CLAIM_REF),
    col("StorageClass", "string", "StorageClass of the pv"),
    col(
        "VolumeAttributesClass",
        "string",
        "VolumeAttributesClass of the pv",
    ),
    col("Reason", "string", docs::PV_STATUS_REASON),
    AGE,
    wide("VolumeMode", "string", docs::PV_SPEC_VOLUME_MODE),
];

const PVC_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", docs::PVC_STATUS_PHASE),
    col("Volume", "string", docs::PVC_SPEC_VOLUME_NAME),
    col("Capacity", "string", docs::PVC_STATUS_CAPACITY),
    col("Access Modes", "string", docs::PVC_STATUS_ACCESS_MODES),
    col("StorageClass", "string", "StorageClass of the pvc"),
    col(
        "VolumeAttributesClass",
        "string",
        "VolumeAttributesClass of the pvc",
    ),
    AGE,
    wide("VolumeMode", "string", docs::PVC_SPEC_VOLUME_MODE),
];

const DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    col("Up-to-date", "string", docs::DEPLOY_STATUS_UPDATED),
    col("Available", "string", docs::DEPLOY_STATUS_AVAILABLE),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "string", docs::DEPLOY_SPEC_SELECTOR),
];

const HPA_COLUMNS: &[Column] = &[
    NAME,
    col("Reference", "string", docs::HPA_SPEC_SCALE_TARGET_REF),
    col("Targets", "string", docs::HPA_SPEC_METRICS),
    col("MinPods", "string", docs::HPA_SPEC_MIN_REPLICAS),
    col("MaxPods", "string", docs::HPA_SPEC_MAX_REPLICAS),
    col("Replicas", "string", docs::HPA_STATUS_CURRENT_REPLICAS),
    AGE,
];

const CONFIG_MAP_COLUMNS: &[Column] = &[NAME, col("Data", "string", docs::CM_DATA), AGE];

const LEASE_COLUMNS: &[Column] = &[
    NAME,
    col("Holder", "string", docs::LEASE_SPEC_HOLDER_IDENTITY),
    AGE,
];

const CONTROLLER_REVISION_COLUMNS: &[Column] = &[
    NAME,
    col("Controller", "string", "Controller of the object"),
    col("Revision", "string", docs::CR_REVISION),
    AGE,
];

const ENDPOINT_SLICE_COLUMNS: &[Column] = &[
    NAME,
    col("AddressType", "string", docs::EPS_ADDRESS_TYPE),
    col("Ports", "string", docs::EPS_PORTS),
    col("Endpoints", "string", docs::EPS_ENDPOINTS),
    AGE,
];

/// Column descriptions: the field docs upstream reads from `SwaggerDoc()`.
/// Taken from the v1_32 OpenAPI field descriptions, which carry the same
/// text; where upstream cites a beta group version (extensions/v1beta1,
/// autoscaling/v2beta1, batch/v1beta1, discovery/v1beta1) the GA type's doc
/// stands in, as kubectl never shows descriptions.
mod docs {
    pub const META_NAME: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
    pub const META_CREATION_TIMESTAMP: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
    pub const POD_STATUS_POD_IP: &str = "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.";
    pub const POD_STATUS_NOMINATED_NODE_NAME: &str = "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.";
    pub const POD_SPEC_NODE_NAME: &str = "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename";
    pub const POD_SPEC_READINESS_GATES: &str = "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates";
    pub const POD_SPEC_NODE_SELECTOR: &str = "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/";
    pub const RS_SPEC_REPLICAS: &str = "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller";
    pub const RS_SPEC_SELECTOR: &str = "Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
    pub const RS_STATUS_REPLICAS: &str = "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller";
    pub const RS_STATUS_READY_REPLICAS: &str =
        "readyReplicas is the number of pods targeted by this ReplicaSet with a Ready Condition.";
    pub const DS_STATUS_DESIRED: &str = "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";
    pub const DS_STATUS_CURRENT: &str = "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";
    pub const DS_STATUS_READY: &str = "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.";
    pub const DS_STATUS_UPDATED: &str =
        "The total number of nodes that are running updated daemon pod";
    pub const DS_STATUS_AVAILABLE: &str = "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)";
    pub const DS_SPEC_SELECTOR: &str = "A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
    pub const JOB_STATUS_SUCCEEDED: &str = "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.";
    pub const JOB_SPEC_SELECTOR: &str = "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
    pub const CJ_SPEC_SCHEDULE: &str =
        "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.";
    pub const CJ_SPEC_TIME_ZONE: &str = "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones";
    pub const CJ_SPEC_SUSPEND: &str = "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.";
    pub const CJ_STATUS_ACTIVE: &str = "A list of pointers to currently running jobs.";
    pub const CJ_STATUS_LAST_SCHEDULE_TIME: &str =
        "Information when was the last time the job was successfully scheduled.";
    pub const SVC_SPEC_TYPE: &str = "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types";
    pub const SVC_SPEC_CLUSTER_IP: &str = "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
    pub const SVC_SPEC_EXTERNAL_IPS: &str = "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.";
    pub const SVC_SPEC_PORTS: &str = "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
    pub const SVC_SPEC_SELECTOR: &str = "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/";
    pub const ENDPOINTS_SUBSETS: &str = "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service.";
    pub const NODE_INFO_KUBELET_VERSION: &str = "Kubelet Version reported by the node.";
    pub const NODE_INFO_OS_IMAGE: &str =
        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).";
    pub const NODE_INFO_KERNEL_VERSION: &str =
        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).";
    pub const NODE_INFO_CONTAINER_RUNTIME_VERSION: &str = "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).";
    pub const NODE_STATUS_ADDRESSES: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";
    pub const EVENT_LAST_TIMESTAMP: &str =
        "The time at which the most recent occurrence of this event was recorded.";
    pub const EVENT_TYPE: &str =
        "Type of this event (Normal, Warning), new types could be added in the future";
    pub const EVENT_REASON: &str = "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.";
    pub const EVENT_INVOLVED_OBJECT: &str = "The object that this event is about.";
    pub const OBJECT_REFERENCE_FIELD_PATH: &str = "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.";
    pub const EVENT_SOURCE: &str =
        "The component reporting this event. Should be a short machine understandable string.";
    pub const EVENT_MESSAGE: &str = "A human-readable description of the status of this operation.";
    pub const EVENT_FIRST_TIMESTAMP: &str =
        "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)";
    pub const EVENT_COUNT: &str = "The number of times this event has occurred.";
    pub const SECRET_TYPE: &str = "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";
    pub const SECRET_DATA: &str = "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4";
    pub const SA_SECRETS: &str = "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret";
    pub const PV_SPEC_CAPACITY: &str = "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity";
    pub const PV_SPEC_ACCESS_MODES: &str = "accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes";
    pub const PV_SPEC_RECLAIM_POLICY: &str = "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming";
    pub const PV_STATUS_PHASE: &str = "phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase";
    pub const PV_SPEC_CLAIM_REF: &str = "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding";
    pub const PV_STATUS_REASON: &str = "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.";
    pub const PV_SPEC_VOLUME_MODE: &str = "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.";
    pub const PVC_STATUS_PHASE: &str =
        "phase represents the current phase of PersistentVolumeClaim.";
    pub const PVC_SPEC_VOLUME_NAME: &str =
        "volumeName is the binding reference to the PersistentVolume backing this claim.";
    pub const PVC_STATUS_CAPACITY: &str =
        "capacity represents the actual resources of the underlying volume.";
    pub const PVC_STATUS_ACCESS_MODES: &str = "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1";
    pub const PVC_SPEC_VOLUME_MODE: &str = "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.";
    pub const DEPLOY_STATUS_UPDATED: &str = "Total number of non-terminated pods targeted by this deployment that have the desired template spec.";
    pub const DEPLOY_STATUS_AVAILABLE: &str = "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.";
    pub const DEPLOY_SPEC_SELECTOR: &str = "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels.";
    pub const HPA_SPEC_SCALE_TARGET_REF: &str = "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.";
    pub const HPA_SPEC_METRICS: &str = "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).  The desired replica count is calculated multiplying the ratio between the target value and the current value by the current number of pods.  Ergo, metrics used must decrease as the pod count is increased, and vice-versa.  See the individual metric source types for more information about how each type of metric must respond. If not set, the default metric will be set to 80% average CPU utilization.";
    pub const HPA_SPEC_MIN_REPLICAS: &str = "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  Scaling is active as long as at least one metric value is available.";
    pub const HPA_SPEC_MAX_REPLICAS: &str = "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. It cannot be less that minReplicas.";
    pub const HPA_STATUS_CURRENT_REPLICAS: &str = "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.";
    pub const CM_DATA: &str = "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.";
    pub const LEASE_SPEC_HOLDER_IDENTITY: &str = "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.";
    pub const CR_REVISION: &str =
        "Revision indicates the revision of the state represented by Data.";
    pub const EPS_ADDRESS_TYPE: &str = "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name.";
    pub const EPS_PORTS: &str = "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined with a nil port value, it indicates \"all ports\". Each slice may include a maximum of 100 ports.";
    pub const EPS_ENDPOINTS: &str = "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::RESOURCE_TYPES;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
    }

    /// An RFC 3339 timestamp `secs` seconds before `now()`.
    fn ago(secs: i64) -> String {
        (now() - TimeDelta::seconds(secs)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    fn rt(kind: &str) -> &'static ResourceType {
        RESOURCE_TYPES.iter().find(|t| t.kind == kind).unwrap()
    }

    fn cells(kind: &str, obj: Value) -> Vec<Value> {
        let t = to_table(rt(kind), &[obj], "None", "1", now());
        t["rows"][0]["cells"].as_array().unwrap().clone()
    }

    #[test]
    fn human_duration_matches_apimachinery() {
        let (s, m, h, d) = (1, 60, 3600, 86400);
        let cases = [
            (-2 * s, "<invalid>"),
            (-s, "0s"),
            (0, "0s"),
            (59 * s, "59s"),
            (119 * s, "119s"),
            (2 * m, "2m"),
            (2 * m + 30 * s, "2m30s"),
            (9 * m + 59 * s, "9m59s"),
            (10 * m + 59 * s, "10m"),
            (179 * m, "179m"),
            (3 * h, "3h"),
            (3 * h + 5 * m, "3h5m"),
            (7 * h + 59 * m, "7h59m"),
            (8 * h + 30 * m, "8h"),
            (47 * h, "47h"),
            (48 * h, "2d"),
            (50 * h, "2d2h"),
            (7 * d + 23 * h, "7d23h"),
            (8 * d + 5 * h, "8d"),
            (729 * d, "729d"),
            (730 * d, "2y"),
            (735 * d, "2y5d"),
            (8 * 365 * d, "8y"),
            (20 * 365 * d, "20y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(TimeDelta::seconds(secs)), want, "{secs}s");
        }
        assert_eq!(human_duration(TimeDelta::milliseconds(-1500)), "0s");
        assert_eq!(human_duration(TimeDelta::milliseconds(59_999)), "59s");
        assert_eq!(human_duration(TimeDelta::MAX), "292y");

        let short = [
            (-2 * s, "<invalid>"),
            (-s, "0s"),
            (59 * s, "59s"),
            (m, "1m"),
            (59 * m, "59m"),
            (h, "1h"),
            (23 * h, "23h"),
            (d, "1d"),
            (364 * d, "364d"),
            (365 * d, "1y"),
        ];
        for (secs, want) in short {
            assert_eq!(
                short_human_duration(TimeDelta::seconds(secs)),
                want,
                "{secs}s"
            );
        }
    }

    #[test]
    fn every_registry_type_has_a_printer_whose_rows_fit_its_columns() {
        let minimal = json!({"metadata": {"name": "x", "creationTimestamp": ago(30)}});
        for t in RESOURCE_TYPES {
            assert!(has_printer(t), "{}", t.kind);
            let table = to_table(t, std::slice::from_ref(&minimal), "", "7", now());
            let ncols = table["columnDefinitions"].as_array().unwrap().len();
            assert_eq!(ncols, columns(t).len(), "{}", t.kind);
            let row = &table["rows"][0]["cells"];
            assert_eq!(row.as_array().unwrap().len(), ncols, "{}", t.kind);
            let names: Vec<&Column> = columns(t).iter().filter(|c| c.format == "name").collect();
            assert_eq!(names.len(), 1, "{} has one name column", t.kind);
            let i = columns(t).iter().position(|c| c.format == "name").unwrap();
            assert_eq!(row[i], "x", "{}", t.kind);
        }
    }

    #[test]
    fn table_envelope_and_include_object() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "d", "uid": "u"}});
        let t = to_table(rt("Pod"), std::slice::from_ref(&pod), "", "42", now());
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(t["metadata"], json!({"resourceVersion": "42"}));
        assert_eq!(
            t["columnDefinitions"][0],
            json!({"name": "Name", "type": "string", "format": "name", "description": docs::META_NAME, "priority": 0})
        );
        assert_eq!(t["columnDefinitions"][5]["name"], "IP");
        assert_eq!(t["columnDefinitions"][5]["priority"], 1);
        assert_eq!(
            t["rows"][0]["object"],
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": pod["metadata"]})
        );
        assert!(t["rows"][0].get("conditions").is_none());
        let t = to_table(rt("Pod"), std::slice::from_ref(&pod), "Object", "42", now());
        assert_eq!(t["rows"][0]["object"], pod);
        let t = to_table(rt("Pod"), std::slice::from_ref(&pod), "None", "", now());
        assert_eq!(t["rows"][0]["object"], Value::Null);
        assert_eq!(t["metadata"], json!({}));
        assert_eq!(to_table(rt("Pod"), &[], "", "3", now())["rows"], json!([]));

        let opts = TableOptions {
            no_headers: true,
            resource_version: "9",
            continue_token: "next",
            remaining_item_count: Some(4),
            ..TableOptions::default()
        };
        let t = to_table_with(rt("Pod"), &[pod], &opts, now());
        assert_eq!(t["columnDefinitions"], Value::Null);
        assert_eq!(
            t["metadata"],
            json!({"resourceVersion": "9", "continue": "next", "remainingItemCount": 4})
        );

        assert_eq!(IncludeObject::parse(""), Ok(IncludeObject::Metadata));
        assert_eq!(IncludeObject::parse("None"), Ok(IncludeObject::None));
        assert_eq!(IncludeObject::parse("Object"), Ok(IncludeObject::Object));
        assert_eq!(
            IncludeObject::parse("All"),
            Err("unrecognized includeObject value: \"All\"".to_string())
        );
    }

    #[test]
    fn default_table_for_types_without_a_printer() {
        let widget = ResourceType {
            group: "example.com",
            version: "v1",
            kind: "Widget",
            plural: "widgets",
            singular: "widget",
            namespaced: true,
            short_names: &[],
            categories: &[],
            subresources: &[],
        };
        assert!(!has_printer(&widget));
        let obj =
            json!({"metadata": {"name": "w", "creationTimestamp": "2024-03-04T05:06:07+02:00"}});
        let t = to_table(
            &widget,
            &[obj, json!({"metadata": {"name": "v"}})],
            "None",
            "5",
            now(),
        );
        let defs = t["columnDefinitions"].as_array().unwrap();
        assert_eq!(defs.len(), 2);
        assert_eq!(defs[0]["format"], "name");
        assert_eq!(
            defs[1],
            json!({"name": "Created At", "type": "date", "format": "", "description": docs::META_CREATION_TIMESTAMP, "priority": 0})
        );
        assert_eq!(t["rows"][0]["cells"], json!(["w", "2024-03-04T03:06:07Z"]));
        assert_eq!(t["rows"][1]["cells"], json!(["v", "0001-01-01T00:00:00Z"]));
        assert_eq!(to_table(&widget, &[], "", "5", now())["rows"], Value::Null);
    }

    #[test]
    fn pod_status_column() {
        let base = |status: Value, extra: Value| {
            let mut pod = json!({
                "metadata": {"name": "p", "creationTimestamp": ago(600)},
                "spec": {"containers": [{"name": "app", "image": "img"}], "nodeName": "n1"},
                "status": status,
            });
            if let (Some(p), Some(e)) = (pod.as_object_mut(), extra.as_object()) {
                for (k, v) in e {
                    match (p.get_mut(k), v) {
                        (Some(Value::Object(dst)), Value::Object(src)) => dst.extend(src.clone()),
                        _ => {
                            p.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            pod
        };
        let running = json!({"running": {"startedAt": ago(500)}});
        // (description, pod, READY, STATUS, RESTARTS)
        let cases = [
            (
                "crash loop",
                base(
                    json!({"phase": "Running", "podIP": "10.0.0.7", "containerStatuses": [{
                        "name": "app", "ready": false, "restartCount": 5,
                        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(300)}},
                    }]}),
                    json!({}),
                ),
                "0/1",
                "CrashLoopBackOff",
                "5 (5m ago)",
            ),
            (
                "completed",
                base(
                    json!({"phase": "Succeeded", "containerStatuses": [{
                        "name": "app", "ready": false, "restartCount": 0,
                        "state": {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": ago(60)}},
                    }]}),
                    json!({}),
                ),
                "0/1",
                "Completed",
                "0",
            ),
            (
                "terminating",
                base(
                    json!({"phase": "Running", "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": running}]}),
                    json!({"metadata": {"deletionTimestamp": ago(5)}}),
                ),
                "1/1",
                "Terminating",
                "0",
            ),
            (
                "running",
                base(
                    json!({"phase": "Running", "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": running}]}),
                    json!({}),
                ),
                "1/1",
                "Running",
                "0",
            ),
            (
                "deleted on a lost node",
                base(
                    json!({"phase": "Running", "reason": "NodeLost"}),
                    json!({"metadata": {"deletionTimestamp": ago(5)}}),
                ),
                "0/1",
                "Unknown",
                "0",
            ),
            (
                "succeeded pods are not terminating",
                base(
                    json!({"phase": "Succeeded"}),
                    json!({"metadata": {"deletionTimestamp": ago(5)}}),
                ),
                "0/1",
                "Succeeded",
                "0",
            ),
            (
                "pending",
                base(json!({"phase": "Pending"}), json!({})),
                "0/1",
                "Pending",
                "0",
            ),
            (
                "evicted",
                base(json!({"phase": "Failed", "reason": "Evicted"}), json!({})),
                "0/1",
                "Evicted",
                "0",
            ),
            (
                "scheduling gated",
                base(
                    json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
                    json!({}),
                ),
                "0/1",
                "SchedulingGated",
                "0",
            ),
            (
                "exit code without reason",
                base(
                    json!({"phase": "Running", "containerStatuses": [{"name": "app", "restartCount": 0, "state": {"terminated": {"exitCode": 3}}}]}),
                    json!({}),
                ),
                "0/1",
                "ExitCode:3",
                "0",
            ),
            (
                "signal without reason",
                base(
                    json!({"phase": "Running", "containerStatuses": [{"name": "app", "restartCount": 0, "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}),
                    json!({}),
                ),
                "0/1",
                "Signal:9",
                "0",
            ),
            (
                "second init container running",
                base(
                    json!({"phase": "Pending", "initContainerStatuses": [
                        {"name": "i1", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        {"name": "i2", "restartCount": 2, "state": running,
                         "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(120)}}},
                    ]}),
                    json!({"spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}]}}),
                ),
                "0/1",
                "Init:1/2",
                "2 (2m ago)",
            ),
            (
                "init container failed",
                base(
                    json!({"phase": "Pending", "initContainerStatuses": [
                        {"name": "i1", "restartCount": 1, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}},
                    ]}),
                    json!({"spec": {"initContainers": [{"name": "i1"}]}}),
                ),
                "0/1",
                "Init:Error",
                "1",
            ),
            (
                "init container image pull",
                base(
                    json!({"phase": "Pending", "initContainerStatuses": [
                        {"name": "i1", "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff"}}},
                    ]}),
                    json!({"spec": {"initContainers": [{"name": "i1"}]}}),
                ),
                "0/1",
                "Init:ImagePullBackOff",
                "0",
            ),
            (
                "sidecar counts as a container",
                base(
                    json!({"phase": "Running",
                        "initContainerStatuses": [{"name": "side", "ready": true, "started": true, "restartCount": 1, "state": running,
                            "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(7200)}}}],
                        "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": running}]}),
                    json!({"spec": {"initContainers": [{"name": "side", "restartPolicy": "Always"}]}}),
                ),
                "2/2",
                "Running",
                "1 (120m ago)",
            ),
            (
                "one container completed, another still running",
                base(
                    json!({"phase": "Running",
                    "conditions": [{"type": "Ready", "status": "False"}],
                    "containerStatuses": [
                        {"name": "a", "ready": true, "restartCount": 0, "state": running},
                        {"name": "b", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    ]}),
                    json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}),
                ),
                "1/2",
                "NotReady",
                "0",
            ),
        ];
        for (what, pod, ready, status, restarts) in cases {
            let c = cells("Pod", pod);
            assert_eq!(
                (c[1].as_str(), c[2].as_str(), c[3].as_str()),
                (Some(ready), Some(status), Some(restarts)),
                "{what}"
            );
        }
    }

    #[test]
    fn pod_rows_whole() {
        let pod = json!({
            "metadata": {"name": "crash", "creationTimestamp": ago(600)},
            "spec": {"containers": [{"name": "app"}], "nodeName": "n1", "readinessGates": [{"conditionType": "x/ready"}, {"conditionType": "y/ready"}]},
            "status": {
                "phase": "Running", "podIPs": [{"ip": "10.0.0.7"}], "podIP": "10.0.0.7",
                "conditions": [{"type": "x/ready", "status": "True"}],
                "containerStatuses": [{
                    "name": "app", "ready": false, "restartCount": 5,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(300)}},
                }],
            },
        });
        assert_eq!(
            cells("Pod", pod),
            json!([
                "crash",
                "0/1",
                "CrashLoopBackOff",
                "5 (5m ago)",
                "10m",
                "10.0.0.7",
                "n1",
                "<none>",
                "1/2"
            ])
            .as_array()
            .unwrap()
            .clone()
        );

        let done = json!({"metadata": {"name": "done"}, "status": {"phase": "Succeeded"}});
        let t = to_table(rt("Pod"), &[done], "None", "1", now());
        assert_eq!(
            t["rows"][0]["conditions"],
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}])
        );
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "done",
                "0/0",
                "Succeeded",
                "0",
                "<unknown>",
                "<none>",
                "<none>",
                "<none>",
                "<none>"
            ])
        );
        let failed = json!({"metadata": {"name": "f"}, "status": {"phase": "Failed"}});
        let t = to_table(rt("Pod"), &[failed], "None", "1", now());
        assert_eq!(t["rows"][0]["conditions"][0]["message"], "The pod failed.");
    }

    #[test]
    fn rows_per_type() {
        let meta = |name: &str| json!({"name": name, "creationTimestamp": ago(3600)});
        let containers =
            json!([{"name": "web", "image": "nginx:1.25"}, {"name": "log", "image": "busybox"}]);
        // (kind, object, expected cells)
        let cases: Vec<(&str, Value, Value)> = vec![
            (
                "Deployment",
                json!({"metadata": meta("web"),
                    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {"spec": {"containers": containers}}},
                    "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}),
                json!([
                    "web",
                    "2/3",
                    3,
                    2,
                    "60m",
                    "web,log",
                    "nginx:1.25,busybox",
                    "app=web"
                ]),
            ),
            (
                "Deployment",
                json!({"metadata": meta("empty"), "spec": {"replicas": 0}, "status": {}}),
                json!(["empty", "0/0", 0, 0, "60m", "", "", ""]),
            ),
            (
                "ReplicaSet",
                json!({"metadata": meta("web-abc"),
                    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "abc"}}, "template": {"spec": {"containers": containers}}},
                    "status": {"replicas": 2, "readyReplicas": 1}}),
                json!([
                    "web-abc",
                    2,
                    2,
                    1,
                    "60m",
                    "web,log",
                    "nginx:1.25,busybox",
                    "app=web,pod-template-hash=abc"
                ]),
            ),
            (
                "StatefulSet",
                json!({"metadata": meta("db"), "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "pg", "image": "postgres"}]}}}, "status": {"readyReplicas": 3}}),
                json!(["db", "3/3", "60m", "pg", "postgres"]),
            ),
            (
                "DaemonSet",
                json!({"metadata": meta("agent"),
                    "spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["agent"]}]},
                             "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": [{"name": "a", "image": "agent"}]}}},
                    "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2, "updatedNumberScheduled": 3, "numberAvailable": 2}}),
                json!([
                    "agent",
                    3,
                    3,
                    2,
                    3,
                    2,
                    "kubernetes.io/os=linux",
                    "60m",
                    "a",
                    "agent",
                    "app in (agent)"
                ]),
            ),
            (
                "Job",
                json!({"metadata": meta("pi"),
                    "spec": {"completions": 1, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}}, "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}},
                    "status": {"succeeded": 1, "startTime": ago(3600), "completionTime": ago(3600 - 95),
                               "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}}),
                json!([
                    "pi",
                    "Complete",
                    "1/1",
                    "95s",
                    "60m",
                    "pi",
                    "perl",
                    "batch.kubernetes.io/controller-uid=u"
                ]),
            ),
            (
                "Job",
                json!({"metadata": meta("work"), "spec": {"parallelism": 3}, "status": {"succeeded": 1, "startTime": ago(150)}}),
                json!([
                    "work", "Running", "1/1 of 3", "2m30s", "60m", "", "", "<none>"
                ]),
            ),
            (
                "Job",
                json!({"metadata": meta("stuck"), "spec": {"parallelism": 1, "suspend": true},
                    "status": {"conditions": [{"type": "Suspended", "status": "True"}, {"type": "Failed", "status": "False"}]}}),
                json!(["stuck", "Suspended", "0/1", "", "60m", "", "", "<none>"]),
            ),
            (
                "CronJob",
                json!({"metadata": meta("nightly"),
                    "spec": {"schedule": "0 3 * * *", "suspend": false, "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}},
                    "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": ago(120)}}),
                json!([
                    "nightly",
                    "0 3 * * *",
                    "<none>",
                    "False",
                    1,
                    "2m",
                    "60m",
                    "c",
                    "i",
                    "<none>"
                ]),
            ),
            (
                "CronJob",
                json!({"metadata": meta("tz"), "spec": {"schedule": "@hourly", "timeZone": "Etc/UTC"}}),
                json!([
                    "tz", "@hourly", "Etc/UTC", "<unset>", 0, "<none>", "60m", "", "", "<none>"
                ]),
            ),
            (
                "Service",
                json!({"metadata": meta("web"),
                    "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "selector": {"app": "web"},
                             "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}}),
                json!([
                    "web",
                    "NodePort",
                    "10.96.0.10",
                    "<none>",
                    "80:30080/TCP,53/UDP",
                    "60m",
                    "app=web"
                ]),
            ),
            (
                "Service",
                json!({"metadata": meta("kubernetes"), "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"port": 443}], "externalIPs": ["1.2.3.4"]}}),
                json!([
                    "kubernetes",
                    "ClusterIP",
                    "10.96.0.1",
                    "1.2.3.4",
                    "443/TCP",
                    "60m",
                    "<none>"
                ]),
            ),
            (
                "Service",
                json!({"metadata": meta("headless"), "spec": {"type": "ClusterIP", "clusterIPs": ["None"]}}),
                json!([
                    "headless",
                    "ClusterIP",
                    "None",
                    "<none>",
                    "<none>",
                    "60m",
                    "<none>"
                ]),
            ),
            (
                "Service",
                json!({"metadata": meta("lb"), "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.9"], "ports": [{"port": 80, "nodePort": 31000, "protocol": "TCP"}]}}),
                json!([
                    "lb",
                    "LoadBalancer",
                    "10.96.0.9",
                    "<pending>",
                    "80:31000/TCP",
                    "60m",
                    "<none>"
                ]),
            ),
            (
                "Service",
                json!({"metadata": meta("lb2"), "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.9"], "externalIPs": ["9.9.9.9"]},
                    "status": {"loadBalancer": {"ingress": [{"ip": "5.5.5.5"}, {"hostname": "lb.example.com"}, {"ip": "1.1.1.1"}]}}}),
                json!([
                    "lb2",
                    "LoadBalancer",
                    "10.96.0.9",
                    "1.1.1.1,5.5.5.5,lb.example.com,9.9.9.9",
                    "<none>",
                    "60m",
                    "<none>"
                ]),
            ),
            (
                "Service",
                json!({"metadata": meta("ext"), "spec": {"type": "ExternalName", "externalName": "example.com"}}),
                json!([
                    "ext",
                    "ExternalName",
                    "<none>",
                    "example.com",
                    "<none>",
                    "60m",
                    "<none>"
                ]),
            ),
            (
                "Endpoints",
                json!({"metadata": meta("web"), "subsets": [
                    {"addresses": [{"ip": "10.0.0.1"}, {"ip": "fd00::2"}], "ports": [{"port": 80}, {"port": 443}]},
                ]}),
                json!([
                    "web",
                    "10.0.0.1:80,[fd00::2]:80,10.0.0.1:443 + 1 more...",
                    "60m"
                ]),
            ),
            (
                "Endpoints",
                json!({"metadata": meta("headless"), "subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]}),
                json!(["headless", "10.0.0.1", "60m"]),
            ),
            (
                "Endpoints",
                json!({"metadata": meta("none")}),
                json!(["none", "<none>", "60m"]),
            ),
            (
                "EndpointSlice",
                json!({"metadata": meta("web-x"), "addressType": "IPv4",
                    "ports": [{"port": 80}, {"name": "metrics"}, {}, {"port": 9}],
                    "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3", "10.0.0.4"]}]}),
                json!([
                    "web-x",
                    "IPv4",
                    "80,metrics,* + 1 more...",
                    "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...",
                    "60m"
                ]),
            ),
            (
                "EndpointSlice",
                json!({"metadata": meta("empty"), "addressType": "IPv6"}),
                json!(["empty", "IPv6", "<unset>", "<unset>", "60m"]),
            ),
            (
                "ConfigMap",
                json!({"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}),
                json!(["cfg", 3, "60m"]),
            ),
            (
                "Secret",
                json!({"metadata": meta("s"), "type": "Opaque", "data": {"a": "MQ=="}}),
                json!(["s", "Opaque", 1, "60m"]),
            ),
            (
                "Namespace",
                json!({"metadata": meta("default"), "status": {"phase": "Active"}}),
                json!(["default", "Active", "60m"]),
            ),
            (
                "ServiceAccount",
                json!({"metadata": meta("default")}),
                json!(["default", 0, "60m"]),
            ),
            (
                "Node",
                json!({"metadata": {"name": "n1", "creationTimestamp": ago(3 * 86400),
                        "labels": {"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "edge"}},
                    "spec": {"unschedulable": true},
                    "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                        "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "192.168.1.10"}],
                        "nodeInfo": {"kubeletVersion": "v1.32.0-regatta", "osImage": "Debian", "kernelVersion": "6.1", "containerRuntimeVersion": "wasmtime://27"}}}),
                json!([
                    "n1",
                    "Ready,SchedulingDisabled",
                    "control-plane,edge,worker",
                    "3d",
                    "v1.32.0-regatta",
                    "192.168.1.10",
                    "<none>",
                    "Debian",
                    "6.1",
                    "wasmtime://27"
                ]),
            ),
            (
                "Node",
                json!({"metadata": meta("n2"), "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}),
                json!([
                    "n2",
                    "NotReady",
                    "<none>",
                    "60m",
                    "",
                    "<none>",
                    "<none>",
                    "<unknown>",
                    "<unknown>",
                    "<unknown>"
                ]),
            ),
            (
                "Node",
                json!({"metadata": meta("n3")}),
                json!([
                    "n3",
                    "Unknown",
                    "<none>",
                    "60m",
                    "",
                    "<none>",
                    "<none>",
                    "<unknown>",
                    "<unknown>",
                    "<unknown>"
                ]),
            ),
            (
                "Event",
                json!({"metadata": meta("p.17a"), "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{app}"},
                    "reason": "BackOff", "message": "Back-off restarting failed container\n", "type": "Warning", "count": 7,
                    "firstTimestamp": ago(600), "lastTimestamp": ago(30), "source": {"component": "kubelet", "host": "n1"}}),
                json!([
                    "30s",
                    "Warning",
                    "BackOff",
                    "pod/p",
                    "spec.containers{app}",
                    "kubelet, n1",
                    "Back-off restarting failed container",
                    "10m",
                    7,
                    "p.17a"
                ]),
            ),
            (
                "Event",
                json!({"metadata": meta("e2"), "involvedObject": {"kind": "Node"}, "reason": "Scheduled", "type": "Normal",
                    "eventTime": format!("{}.000000Z", &ago(90)[..19]), "reportingComponent": "default-scheduler", "reportingInstance": "sched-1"}),
                json!([
                    "90s",
                    "Normal",
                    "Scheduled",
                    "node",
                    "",
                    "default-scheduler, sched-1",
                    "",
                    "90s",
                    1,
                    "e2"
                ]),
            ),
            (
                "Event",
                json!({"metadata": meta("e3"), "involvedObject": {"kind": "Deployment", "name": "web"}, "count": 2,
                    "firstTimestamp": ago(600), "series": {"count": 12, "lastObservedTime": format!("{}.000000Z", &ago(5)[..19])}}),
                json!(["5s", "", "", "deployment/web", "", "", "", "10m", 12, "e3"]),
            ),
            (
                "Event",
                json!({"metadata": {"name": "e4"}}),
                json!(["<unknown>", "", "", "", "", "", "", "<unknown>", 1, "e4"]),
            ),
            (
                "PersistentVolume",
                json!({"metadata": meta("pv1"), "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain", "claimRef": {"namespace": "d", "name": "data"}, "storageClassName": "fast", "volumeMode": "Filesystem"},
                    "status": {"phase": "Bound"}}),
                json!([
                    "pv1",
                    "10Gi",
                    "RWO,RWX",
                    "Retain",
                    "Bound",
                    "d/data",
                    "fast",
                    "<unset>",
                    "",
                    "60m",
                    "Filesystem"
                ]),
            ),
            (
                "PersistentVolumeClaim",
                json!({"metadata": meta("data"), "spec": {"volumeName": "pv1", "storageClassName": "fast"},
                    "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"]}}),
                json!([
                    "data", "Bound", "pv1", "10Gi", "RWO", "fast", "<unset>", "60m", "<unset>"
                ]),
            ),
            (
                "PersistentVolumeClaim",
                json!({"metadata": {"name": "pending", "creationTimestamp": ago(3600), "deletionTimestamp": ago(1),
                        "annotations": {"volume.beta.kubernetes.io/storage-class": "legacy"}},
                    "spec": {"storageClassName": "fast", "volumeMode": "Block"}, "status": {"phase": "Pending"}}),
                json!([
                    "pending",
                    "Terminating",
                    "",
                    "",
                    "",
                    "legacy",
                    "<unset>",
                    "60m",
                    "Block"
                ]),
            ),
            (
                "Lease",
                json!({"metadata": meta("sched"), "spec": {"holderIdentity": "n1_abc"}}),
                json!(["sched", "n1_abc", "60m"]),
            ),
            (
                "Lease",
                json!({"metadata": meta("free"), "spec": {}}),
                json!(["free", "", "60m"]),
            ),
            (
                "Ingress",
                json!({"metadata": meta("web"), "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example.com"]}],
                    "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}, {}, {"host": "c.example.com"}, {"host": "d.example.com"}]},
                    "status": {"loadBalancer": {"ingress": [{"ip": "10.1.1.1"}]}}}),
                json!([
                    "web",
                    "nginx",
                    "a.example.com,b.example.com,c.example.com + 2 more...",
                    "10.1.1.1",
                    "80, 443",
                    "60m"
                ]),
            ),
            (
                "Ingress",
                json!({"metadata": meta("bare"), "spec": {}}),
                json!(["bare", "<none>", "*", "", "80", "60m"]),
            ),
            (
                "HorizontalPodAutoscaler",
                json!({"metadata": meta("web"),
                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 10,
                    "metrics": [
                        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
                        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "512Mi"}}},
                        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}},
                    ]},
                "status": {"currentReplicas": 3, "currentMetrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 42, "averageValue": "210m"}}},
                ]}}),
                json!([
                    "web",
                    "Deployment/web",
                    "cpu: 42%/80%, memory: <unknown>/512Mi + 1 more...",
                    "1",
                    10,
                    3,
                    "60m"
                ]),
            ),
            (
                "HorizontalPodAutoscaler",
                json!({"metadata": meta("bare"), "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "db"}, "maxReplicas": 2,
                    "metrics": [{"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": "30"}}},
                                {"type": "Object", "object": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "5"}}}]},
                    "status": {"currentMetrics": [{"type": "External", "external": {"current": {"value": "12"}}}]}}),
                json!([
                    "bare",
                    "StatefulSet/db",
                    "12/30, <unknown>/5 (avg)",
                    "<unset>",
                    2,
                    0,
                    "60m"
                ]),
            ),
            (
                "ControllerRevision",
                json!({"metadata": {"name": "db-7d9", "creationTimestamp": ago(3600),
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "x"}, {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": true}]},
                    "revision": 3}),
                json!(["db-7d9", "statefulset.apps/db", 3, "60m"]),
            ),
            (
                "ControllerRevision",
                json!({"metadata": meta("orphan"), "revision": 1}),
                json!(["orphan", "<none>", 1, "60m"]),
            ),
        ];
        for (kind, obj, want) in cases {
            let got = cells(kind, obj);
            assert_eq!(Value::Array(got), want, "{kind}");
        }
    }
}
