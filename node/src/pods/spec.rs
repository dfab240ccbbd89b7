//! Pod spec → what the runtime needs: env values (every form kubelet
//! supports, with `$(VAR)` expansion and Service links), volume mounts, the
//! HTTP port. Pure functions over the pod and the desired state's objects; an
//! unsupported field or a missing source is an error naming it (the container
//! then waits with `CreateContainerConfigError`), never a guess.

use std::collections::{BTreeMap, HashMap};

use regatta_api::k8s_openapi::api::core::v1::{Container, Pod, ResourceFieldSelector, Service};

use super::sources::Sources;

/// Facts of the running pod that `fieldRef` and `resourceFieldRef` read.
pub struct PodFacts<'a> {
    pub pod: &'a Pod,
    pub node_name: &'a str,
    pub pod_ip: String,
    pub host_ip: String,
    /// The node's allocatable CPU (millicores) and memory (bytes): what a
    /// `limits.*` resourceFieldRef reads when the container sets no limit.
    pub allocatable_cpu_millis: i128,
    pub allocatable_memory: i128,
}

impl PodFacts<'_> {
    fn namespace(&self) -> &str {
        self.pod.metadata.namespace.as_deref().unwrap_or_default()
    }
}

/// The node's CPU count (as millicores) and memory, for [`PodFacts`].
pub fn node_allocatable() -> (i128, i128) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i128;
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<i128>().ok())
        })
        .map_or(0, |kib| kib * 1024);
    (cpus * 1000, mem)
}

/// kubelet's `$(VAR)` expansion (third_party/forked/golang/expansion): `$$`
/// is a literal `$`, `$(NAME)` is replaced by `lookup(NAME)` or left as it
/// is when undefined, an unterminated `$(` stays literal.
pub fn expand(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let b = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < b.len() {
        if b[cursor] == b'$' && cursor + 1 < b.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            match b[cursor + 1] {
                b'$' => {
                    out.push('$');
                    cursor += 1;
                }
                b'(' => match rest[1..].find(')') {
                    Some(end) => {
                        let name = &rest[1..1 + end];
                        match lookup(name) {
                            Some(v) => out.push_str(&v),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        cursor += end + 2;
                    }
                    None => {
                        out.push_str("$(");
                        cursor += 1;
                    }
                },
                // `$` before anything else is kept, and so is what follows.
                _ => {
                    out.push('$');
                    checkpoint = cursor + 1;
                    cursor += 1;
                    continue;
                }
            }
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    out.push_str(&input[checkpoint..]);
    out
}

/// Go's `%q` of a string, as the downward API formats label values.
fn go_quote(v: &str) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| format!("{v:?}"))
}

/// `k="v"` lines, sorted (kubelet's `fieldpath.FormatMap`).
pub fn format_map(m: Option<&BTreeMap<String, String>>) -> String {
    m.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `metadata.labels['key']` → `("labels", "key")`.
fn subscript<'p>(path: &'p str, field: &str) -> Option<&'p str> {
    let inner = path
        .strip_prefix(field)?
        .strip_prefix("['")?
        .strip_suffix("']")?;
    Some(inner)
}

/// A `fieldRef` of the downward API; `env` allows the spec/status paths too.
pub fn field_value(path: &str, facts: &PodFacts<'_>, env: bool) -> Option<String> {
    let m = &facts.pod.metadata;
    if let Some(k) = subscript(path, "metadata.labels") {
        return Some(
            m.labels
                .as_ref()
                .and_then(|l| l.get(k).cloned())
                .unwrap_or_default(),
        );
    }
    if let Some(k) = subscript(path, "metadata.annotations") {
        return Some(
            m.annotations
                .as_ref()
                .and_then(|l| l.get(k).cloned())
                .unwrap_or_default(),
        );
    }
    let spec = facts.pod.spec.as_ref();
    Some(match path {
        "metadata.name" => m.name.clone().unwrap_or_default(),
        "metadata.namespace" => m.namespace.clone().unwrap_or_default(),
        "metadata.uid" => m.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(m.labels.as_ref()),
        "metadata.annotations" => format_map(m.annotations.as_ref()),
        _ if !env => return None,
        "spec.nodeName" => spec
            .and_then(|s| s.node_name.clone())
            .unwrap_or_else(|| facts.node_name.to_string()),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        // One IP family here: the plural forms list the same address.
        "status.podIP" | "status.podIPs" => facts.pod_ip.clone(),
        "status.hostIP" | "status.hostIPs" => facts.host_ip.clone(),
        _ => return None,
    })
}

/// A `resourceFieldRef` of container `c`, as kubelet computes it: CPU in
/// units of the divisor rounded up (`ceil(milli / divisor milli)`), memory
/// and storage `ceil(bytes / divisor)`; a limit not set reads the node's
/// allocatable.
pub fn resource_value(
    r: &ResourceFieldSelector,
    c: &Container,
    facts: &PodFacts<'_>,
) -> Result<String, String> {
    use regatta_api::quantity::parse_quantity;
    let divisor = match r.divisor.as_ref().map(|d| d.0.as_str()) {
        None | Some("") => parse_quantity("1").expect("valid"),
        Some(d) => parse_quantity(d).map_err(|e| format!("divisor {d:?}: {e}"))?,
    };
    let (kind, res) = r
        .resource
        .split_once('.')
        .ok_or_else(|| format!("unsupported container resource : {}", r.resource))?;
    let res_of = |which: &str| {
        let list = c.resources.as_ref().and_then(|rr| match which {
            "limits" => rr.limits.as_ref(),
            _ => rr.requests.as_ref(),
        });
        list.and_then(|l| l.get(res))
            .map(|q| parse_quantity(&q.0).map_err(|e| format!("{which}.{res}: {e}")))
            .transpose()
    };
    let q = res_of(kind)?;
    let ceil_div =
        |a: i128, b: i128| -> i128 { if b == 0 { 0 } else { (a + b - 1).div_euclid(b) } };
    let v = match (kind, res) {
        ("limits" | "requests", "cpu") => {
            let milli = match q {
                Some(q) => q.milli_value(),
                None if kind == "limits" => facts.allocatable_cpu_millis,
                None => 0,
            };
            ceil_div(milli, divisor.milli_value())
        }
        ("limits" | "requests", "memory" | "ephemeral-storage") => {
            let bytes = match q {
                Some(q) => q.value(),
                None if kind == "limits" && res == "memory" => facts.allocatable_memory,
                None => 0,
            };
            ceil_div(bytes, divisor.value())
        }
        _ => return Err(format!("unsupported container resource : {}", r.resource)),
    };
    Ok(v.to_string())
}

/// A valid environment variable name for envFrom (kubelet's relaxed rule:
/// printable ASCII, no `=`).
fn env_name_ok(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'=')
}

/// `{SVC}_SERVICE_HOST`, `_SERVICE_PORT`, `_SERVICE_PORT_<NAME>` and the
/// docker-link variables of the Services a pod of `namespace` sees: those of
/// its namespace when `enableServiceLinks` (the default), and always
/// `default/kubernetes` (kubelet's `getServiceEnvVarMap`/`envvars.FromServices`).
pub fn service_env<'s>(
    services: impl Iterator<Item = &'s Service>,
    namespace: &str,
    links: bool,
) -> BTreeMap<String, String> {
    let mut chosen: BTreeMap<String, &Service> = BTreeMap::new();
    for s in services {
        let name = s.metadata.name.clone().unwrap_or_default();
        let ns = s.metadata.namespace.as_deref().unwrap_or_default();
        let ip = s
            .spec
            .as_ref()
            .and_then(|sp| sp.cluster_ip.as_deref())
            .unwrap_or("");
        if ip.is_empty() || ip == "None" {
            continue;
        }
        if ns == "default" && name == "kubernetes" {
            chosen.entry(name).or_insert(s);
        } else if ns == namespace && links {
            chosen.insert(name, s);
        }
    }
    let mut out = BTreeMap::new();
    for (name, s) in chosen {
        let spec = s.spec.as_ref().expect("checked above");
        let ip = spec.cluster_ip.clone().unwrap_or_default();
        let ports = spec.ports.as_deref().unwrap_or_default();
        let Some(first) = ports.first() else { continue };
        let prefix = name.replace('-', "_").to_uppercase();
        out.insert(format!("{prefix}_SERVICE_HOST"), ip.clone());
        out.insert(format!("{prefix}_SERVICE_PORT"), first.port.to_string());
        for p in ports {
            if let Some(n) = p.name.as_deref().filter(|n| !n.is_empty()) {
                out.insert(
                    format!(
                        "{prefix}_SERVICE_PORT_{}",
                        n.replace('-', "_").to_uppercase()
                    ),
                    p.port.to_string(),
                );
            }
        }
        let host = if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip.clone()
        };
        for (i, p) in ports.iter().enumerate() {
            let proto = p
                .protocol
                .as_deref()
                .filter(|p| !p.is_empty())
                .unwrap_or("TCP");
            let url = format!("{}://{host}:{}", proto.to_lowercase(), p.port);
            if i == 0 {
                out.insert(format!("{prefix}_PORT"), url.clone());
            }
            let pp = format!("{prefix}_PORT_{}_{}", p.port, proto.to_uppercase());
            out.insert(format!("{pp}_PROTO"), proto.to_lowercase());
            out.insert(format!("{pp}_PORT"), p.port.to_string());
            out.insert(format!("{pp}_ADDR"), ip.clone());
            out.insert(pp, url);
        }
    }
    out
}

/// The environment of container `c`, as kubelet's `makeEnvironmentVariables`:
/// envFrom (in order, with prefix), then env (in order, each `value`
/// `$(VAR)`-expanded against what is defined before it and the Service
/// variables), then the Service variables not set otherwise.
pub fn env_for(
    c: &Container,
    facts: &PodFacts<'_>,
    sources: &Sources<'_>,
) -> Result<Vec<(String, String)>, String> {
    let links = facts
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.enable_service_links)
        .unwrap_or(true);
    let service = service_env(sources.services(), facts.namespace(), links);
    let mut out: Vec<(String, String)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    fn set(
        out: &mut Vec<(String, String)>,
        index: &mut HashMap<String, usize>,
        k: String,
        v: String,
    ) {
        match index.get(&k) {
            Some(&i) => out[i].1 = v,
            None => {
                index.insert(k.clone(), out.len());
                out.push((k, v));
            }
        }
    }
    for from in c.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        let entries = if let Some(r) = &from.config_map_ref {
            match sources.config_map(&r.name) {
                Ok(cm) => super::sources::config_map_entries(cm),
                Err(_) if r.optional == Some(true) => continue,
                Err(e) => return Err(e.to_string()),
            }
        } else if let Some(r) = &from.secret_ref {
            match sources.secret(&r.name) {
                Ok(s) => super::sources::secret_entries(s),
                Err(_) if r.optional == Some(true) => continue,
                Err(e) => return Err(e.to_string()),
            }
        } else {
            continue;
        };
        for (k, v) in entries {
            let name = format!("{prefix}{k}");
            // kubelet skips (and reports) keys that are no variable names.
            if env_name_ok(&name) {
                set(
                    &mut out,
                    &mut index,
                    name,
                    String::from_utf8_lossy(&v).into_owned(),
                );
            }
        }
    }
    for (i, e) in c.env.iter().flatten().enumerate() {
        let value = match &e.value_from {
            None => {
                let defined: HashMap<&str, &str> =
                    out.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let lookup = |n: &str| {
                    defined
                        .get(n)
                        .map(|v| v.to_string())
                        .or_else(|| service.get(n).cloned())
                };
                expand(e.value.as_deref().unwrap_or_default(), &lookup)
            }
            Some(from) => {
                let optional = |o: Option<bool>| o == Some(true);
                if let Some(f) = &from.field_ref {
                    field_value(&f.field_path, facts, true).ok_or_else(|| {
                        format!(
                            "container {:?}: env[{i}] ({}): fieldRef.fieldPath {:?} is not supported",
                            c.name, e.name, f.field_path
                        )
                    })?
                } else if let Some(r) = &from.resource_field_ref {
                    let target = match r.container_name.as_deref() {
                        None | Some("") => c,
                        Some(n) => facts
                            .pod
                            .spec
                            .iter()
                            .flat_map(|s| s.containers.iter())
                            .find(|x| x.name == n)
                            .ok_or_else(|| format!("container {n:?} not found in pod"))?,
                    };
                    resource_value(r, target, facts)?
                } else if let Some(r) = &from.config_map_key_ref {
                    match sources.config_map_key(&r.name, &r.key) {
                        Ok(v) => v,
                        Err(_) if optional(r.optional) => continue,
                        Err(e) => return Err(e.to_string()),
                    }
                } else if let Some(r) = &from.secret_key_ref {
                    match sources.secret_key(&r.name, &r.key) {
                        Ok(v) => v,
                        Err(_) if optional(r.optional) => continue,
                        Err(e) => return Err(e.to_string()),
                    }
                } else {
                    return Err(format!(
                        "container {:?}: env[{i}] ({}): valueFrom names no source",
                        c.name, e.name
                    ));
                }
            }
        };
        set(&mut out, &mut index, e.name.clone(), value);
    }
    for (k, v) in service {
        if !index.contains_key(&k) {
            set(&mut out, &mut index, k, v);
        }
    }
    Ok(out)
}

/// `command` and `args` with `$(VAR)` expanded against the container's env.
pub fn expand_command(c: &Container, env: &[(String, String)]) -> (Vec<String>, Vec<String>) {
    let m: HashMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let lookup = |n: &str| m.get(n).map(|v| v.to_string());
    let ex = |l: Option<&Vec<String>>| {
        l.into_iter()
            .flatten()
            .map(|s| expand(s, &lookup))
            .collect::<Vec<_>>()
    };
    (ex(c.command.as_ref()), ex(c.args.as_ref()))
}

/// The first declared TCP `containerPort`: where a `wasi:http` proxy serves.
pub fn http_port(c: &Container) -> Option<u16> {
    c.ports
        .iter()
        .flatten()
        .find(|p| p.protocol.as_deref().is_none_or(|p| p == "TCP"))
        .and_then(|p| u16::try_from(p.container_port).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::pods::DesiredState;
    use crate::pods::test_fixtures::{facts, pod, state};

    fn env_map(env: &[(String, String)]) -> BTreeMap<&str, &str> {
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn expansion_follows_kubelet() {
        let vars: HashMap<&str, &str> = [("A", "1"), ("B", "two")].into_iter().collect();
        let lookup = |n: &str| vars.get(n).map(|v| v.to_string());
        let cases = [
            ("$(A)", "1"),
            ("x$(A)y$(B)", "x1ytwo"),
            ("$$(A)", "$(A)"),
            ("$$$(A)", "$1"),
            ("$(UNDEFINED)", "$(UNDEFINED)"),
            ("$(A", "$(A"),
            ("$A", "$A"),
            ("a$", "a$"),
            ("$", "$"),
            ("$$", "$"),
            ("$()", "$()"),
            ("héllo $(B) wörld", "héllo two wörld"),
            ("$é", "$é"),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, &lookup), want, "{input:?}");
        }
    }

    #[test]
    fn env_in_every_form() {
        let p = pod(serde_json::json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1",
                "labels": {"app": "web", "tier": "fe"}, "annotations": {"note": "hi"}},
            "spec": {"nodeName": "n1", "serviceAccountName": "sa", "containers": [{"name": "c",
                "command": ["/bin/app", "--name=$(N)"], "args": ["$(CM_k)", "$$(N)", "$(NOPE)"],
                "resources": {"limits": {"cpu": "1500m", "memory": "128Mi"}, "requests": {"cpu": "250m", "memory": "64Mi"}},
                "envFrom": [
                    {"configMapRef": {"name": "cm"}, "prefix": "CM_"},
                    {"secretRef": {"name": "sec"}},
                    {"configMapRef": {"name": "missing", "optional": true}},
                ],
                "env": [
                    {"name": "A", "value": "1"},
                    {"name": "AA", "value": "$(A)-$(CM_k)-$(WEB_SERVICE_HOST)-$(LATER)"},
                    {"name": "LATER", "value": "x"},
                    {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                    {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
                    {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                    {"name": "LABELS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels"}}},
                    {"name": "NOTE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['note']"}}},
                    {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
                    {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}},
                    {"name": "HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
                    {"name": "CPU_LIM", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                    {"name": "CPU_REQ_M", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
                    {"name": "MEM_LIM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                    {"name": "MEM_REQ", "valueFrom": {"resourceFieldRef": {"resource": "requests.memory"}}},
                    {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
                    {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "pw"}}},
                    {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "x", "optional": true}}},
                    {"name": "OPT_KEY", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "nokey", "optional": true}}},
                    {"name": "pw", "value": "overridden"},
                ],
            }]},
        }));
        let st = state(serde_json::json!({
            "configMaps": [{"metadata": {"name": "cm", "namespace": "ns"}, "data": {"k": "v", "bad=key": "skipped"}}],
            "secrets": [{"metadata": {"name": "sec", "namespace": "ns"}, "data": {"pw": "aHVudGVyMg=="}}],
            "services": [{"metadata": {"name": "web", "namespace": "ns"}, "spec": {"clusterIP": "10.96.0.7", "ports": [{"port": 80}]}}],
        }));
        let c = &p.spec.as_ref().unwrap().containers[0];
        let env = env_for(c, &facts(&p), &Sources::new(&st, "ns")).unwrap();
        let m = env_map(&env);
        let want = [
            ("CM_k", "v"),
            ("pw", "overridden"),
            ("A", "1"),
            ("AA", "1-v-10.96.0.7-$(LATER)"),
            ("N", "web"),
            ("NS", "ns"),
            ("UID", "u1"),
            ("APP", "web"),
            ("LABELS", "app=\"web\"\ntier=\"fe\""),
            ("NOTE", "hi"),
            ("NODE", "n1"),
            ("SA", "sa"),
            ("IP", "10.0.0.9"),
            ("IPS", "10.0.0.9"),
            ("HOST", "192.0.2.2"),
            ("CPU_LIM", "2"),
            ("CPU_REQ_M", "250"),
            ("MEM_LIM_MI", "128"),
            ("MEM_REQ", "67108864"),
            ("FROM_CM", "v"),
            ("FROM_SECRET", "hunter2"),
            ("WEB_SERVICE_HOST", "10.96.0.7"),
        ];
        for (k, v) in want {
            assert_eq!(m.get(k).copied(), Some(v), "{k}");
        }
        assert!(!m.contains_key("OPT") && !m.contains_key("OPT_KEY"));
        assert!(!m.keys().any(|k| k.contains("bad")));
        // envFrom comes first, in order; a later env of the same name wins in place.
        assert_eq!(env[0].0, "CM_k");
        let (command, args) = expand_command(c, &env);
        assert_eq!(command, vec!["/bin/app", "--name=web"]);
        assert_eq!(args, vec!["v", "$(N)", "$(NOPE)"]);
    }

    #[test]
    fn limits_not_set_read_the_node_allocatable() {
        let p = pod(
            serde_json::json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "env": [
                {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Gi"}}},
                {"name": "REQ", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu"}}},
            ]}]}}),
        );
        let st = DesiredState::default();
        let c = &p.spec.as_ref().unwrap().containers[0];
        let env = env_for(c, &facts(&p), &Sources::new(&st, "default")).unwrap();
        let m = env_map(&env);
        assert_eq!((m["CPU"], m["MEM"], m["REQ"]), ("4", "8", "0"));
    }

    #[test]
    fn missing_sources_fail_like_kubelet_unless_optional() {
        let st = state(serde_json::json!({
            "configMaps": [{"metadata": {"name": "cm", "namespace": "ns"}, "data": {"k": "v"}}],
            // Another namespace's objects are invisible.
            "secrets": [{"metadata": {"name": "s", "namespace": "other"}, "data": {"k": "dg=="}}],
        }));
        let cases = [
            (
                serde_json::json!({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "k"}}}]}),
                "configmap \"x\" not found",
            ),
            (
                serde_json::json!({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "nokey"}}}]}),
                "couldn't find key nokey in ConfigMap ns/cm",
            ),
            (
                serde_json::json!({"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}),
                "secret \"s\" not found",
            ),
            (
                serde_json::json!({"envFrom": [{"secretRef": {"name": "s"}}]}),
                "secret \"s\" not found",
            ),
            (
                serde_json::json!({"envFrom": [{"configMapRef": {"name": "x"}}]}),
                "configmap \"x\" not found",
            ),
        ];
        for (c, want) in cases {
            let mut c = c;
            c["name"] = "c".into();
            let p = pod(
                serde_json::json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": [c]}}),
            );
            let c = &p.spec.as_ref().unwrap().containers[0];
            assert_eq!(
                env_for(c, &facts(&p), &Sources::new(&st, "ns")).unwrap_err(),
                want
            );
        }
    }

    #[test]
    fn service_links_like_kubelet() {
        let svcs: Vec<Service> = serde_json::from_value(serde_json::json!([
            {"metadata": {"name": "my-db", "namespace": "ns"}, "spec": {"clusterIP": "10.96.0.5", "ports": [
                {"name": "sql", "port": 5432},
                {"name": "metrics-http", "port": 9187, "protocol": "TCP"},
                {"name": "dns", "port": 53, "protocol": "UDP"},
            ]}},
            {"metadata": {"name": "headless", "namespace": "ns"}, "spec": {"clusterIP": "None", "ports": [{"port": 80}]}},
            {"metadata": {"name": "elsewhere", "namespace": "other"}, "spec": {"clusterIP": "10.96.0.9", "ports": [{"port": 80}]}},
            {"metadata": {"name": "kubernetes", "namespace": "default"}, "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443}]}},
        ])).unwrap();
        let env = service_env(svcs.iter(), "ns", true);
        let want: BTreeMap<&str, &str> = [
            ("MY_DB_SERVICE_HOST", "10.96.0.5"),
            ("MY_DB_SERVICE_PORT", "5432"),
            ("MY_DB_SERVICE_PORT_SQL", "5432"),
            ("MY_DB_SERVICE_PORT_METRICS_HTTP", "9187"),
            ("MY_DB_SERVICE_PORT_DNS", "53"),
            ("MY_DB_PORT", "tcp://10.96.0.5:5432"),
            ("MY_DB_PORT_5432_TCP", "tcp://10.96.0.5:5432"),
            ("MY_DB_PORT_5432_TCP_PROTO", "tcp"),
            ("MY_DB_PORT_5432_TCP_PORT", "5432"),
            ("MY_DB_PORT_5432_TCP_ADDR", "10.96.0.5"),
            ("MY_DB_PORT_9187_TCP", "tcp://10.96.0.5:9187"),
            ("MY_DB_PORT_9187_TCP_PROTO", "tcp"),
            ("MY_DB_PORT_9187_TCP_PORT", "9187"),
            ("MY_DB_PORT_9187_TCP_ADDR", "10.96.0.5"),
            ("MY_DB_PORT_53_UDP", "udp://10.96.0.5:53"),
            ("MY_DB_PORT_53_UDP_PROTO", "udp"),
            ("MY_DB_PORT_53_UDP_PORT", "53"),
            ("MY_DB_PORT_53_UDP_ADDR", "10.96.0.5"),
            ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
            ("KUBERNETES_SERVICE_PORT", "443"),
            ("KUBERNETES_SERVICE_PORT_HTTPS", "443"),
            ("KUBERNETES_PORT", "tcp://10.96.0.1:443"),
            ("KUBERNETES_PORT_443_TCP", "tcp://10.96.0.1:443"),
            ("KUBERNETES_PORT_443_TCP_PROTO", "tcp"),
            ("KUBERNETES_PORT_443_TCP_PORT", "443"),
            ("KUBERNETES_PORT_443_TCP_ADDR", "10.96.0.1"),
        ]
        .into_iter()
        .collect();
        let got: BTreeMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, want);
        // enableServiceLinks: false keeps only the master service.
        let off = service_env(svcs.iter(), "ns", false);
        assert!(off.keys().all(|k| k.starts_with("KUBERNETES_")), "{off:?}");
        assert!(off.contains_key("KUBERNETES_SERVICE_HOST"));
    }
}
