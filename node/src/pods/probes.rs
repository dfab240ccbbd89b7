//! Container probes (liveness, readiness, startup) and the handlers they
//! share with lifecycle hooks: `httpGet`, `tcpSocket`, `exec` (and `sleep`
//! for hooks), run the way kubelet's prober does.
//!
//! Owns: turning a `Probe`/`LifecycleHandler` into a [`Handler`] (named
//! ports resolved, unsupported kinds refused with a message naming the
//! field), running one handler ([`Runner::run`]), and the probe schedule of
//! one container run ([`supervise`]).
//!
//! Invariants:
//! - Network handlers run on the pod's own sandbox thread
//!   ([`Sandbox::spawn_on_pod`]), so they connect from inside the pod netns,
//!   to the pod IP as kubelet does.
//! - An exec handler runs the container's module anew with the handler's
//!   argv, in the same sandbox with the same env and volumes; its output goes
//!   to a scratch file under the pod directory, never to the container log.
//! - Every run is bounded by its timeout; a timed-out exec is killed.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use regatta_api::k8s_openapi::api::core::v1::{
    Container, ContainerPort, HTTPGetAction, LifecycleHandler, Probe,
};
use regatta_api::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::runtime::{ContainerRuntime, ContainerSpec, ExitStatus, ModuleKind, Pod as Sandbox};

/// The `User-Agent` kubelet's HTTP prober sends.
const USER_AGENT: &str = "kube-probe/1.31";
/// kubelet reads at most this much of a probe response or exec output.
const MAX_OUTPUT: usize = 10 * 1024;

/// What to run for a probe or hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handler {
    HttpGet {
        host: IpAddr,
        port: u16,
        /// Path and query, starting with `/`.
        path: String,
        headers: Vec<(String, String)>,
    },
    TcpSocket {
        host: IpAddr,
        port: u16,
    },
    Exec {
        command: Vec<String>,
    },
    /// Lifecycle hooks only.
    Sleep {
        seconds: u64,
    },
}

/// The outcome of one handler run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// Why it failed, in kubelet's words (goes into the event message).
    Failure(String),
}

/// Resolves `port` (a number, or the name of one of `c.ports`).
fn resolve_port(c: &Container, port: &IntOrString, field: &str) -> Result<u16, String> {
    let n = match port {
        IntOrString::Int(n) => *n,
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|p: &&ContainerPort| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port)
            .ok_or_else(|| {
                format!(
                    "container {:?}: {field}.port: Invalid value: {name:?}: no containerPort of that name",
                    c.name
                )
            })?,
    };
    u16::try_from(n).ok().filter(|p| *p > 0).ok_or_else(|| {
        format!(
            "container {:?}: {field}.port: Invalid value: {n}: must be between 1 and 65535, inclusive",
            c.name
        )
    })
}

fn host_of(
    c: &Container,
    host: Option<&str>,
    pod_ip: IpAddr,
    field: &str,
) -> Result<IpAddr, String> {
    match host {
        None | Some("") => Ok(pod_ip),
        Some(h) => h.parse().map_err(|_| {
            format!(
                "container {:?}: {field}.host: Invalid value: {h:?}: only IP addresses are supported",
                c.name
            )
        }),
    }
}

fn http_handler(
    c: &Container,
    h: &HTTPGetAction,
    pod_ip: IpAddr,
    field: &str,
) -> Result<Handler, String> {
    let scheme = h.scheme.as_deref().unwrap_or("HTTP");
    if !scheme.eq_ignore_ascii_case("HTTP") {
        return Err(format!(
            "container {:?}: {field}.scheme: Unsupported value: {scheme:?}: supported values: \"HTTP\"",
            c.name
        ));
    }
    let path = match h.path.as_deref() {
        None | Some("") => "/".to_string(),
        Some(p) if p.starts_with('/') => p.to_string(),
        Some(p) => format!("/{p}"),
    };
    Ok(Handler::HttpGet {
        host: host_of(c, h.host.as_deref(), pod_ip, field)?,
        port: resolve_port(c, &h.port, field)?,
        path,
        headers: h
            .http_headers
            .iter()
            .flatten()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect(),
    })
}

fn exec_handler(
    c: &Container,
    command: Option<&Vec<String>>,
    field: &str,
) -> Result<Handler, String> {
    match command {
        Some(command) if !command.is_empty() => Ok(Handler::Exec {
            command: command.clone(),
        }),
        _ => Err(format!(
            "container {:?}: {field}.command: Required value",
            c.name
        )),
    }
}

/// The handler of a probe (`field` names it in messages, e.g.
/// `livenessProbe`). gRPC probes are refused.
pub fn probe_handler(
    c: &Container,
    p: &Probe,
    pod_ip: IpAddr,
    field: &str,
) -> Result<Handler, String> {
    if let Some(h) = &p.http_get {
        http_handler(c, h, pod_ip, &format!("{field}.httpGet"))
    } else if let Some(t) = &p.tcp_socket {
        let field = format!("{field}.tcpSocket");
        Ok(Handler::TcpSocket {
            host: host_of(c, t.host.as_deref(), pod_ip, &field)?,
            port: resolve_port(c, &t.port, &field)?,
        })
    } else if let Some(e) = &p.exec {
        exec_handler(c, e.command.as_ref(), &format!("{field}.exec"))
    } else if p.grpc.is_some() {
        Err(format!(
            "container {:?}: {field}.grpc: gRPC probes are not supported (use httpGet, tcpSocket or exec)",
            c.name
        ))
    } else {
        Err(format!(
            "container {:?}: {field}: must specify a handler type (httpGet, tcpSocket or exec)",
            c.name
        ))
    }
}

/// The handler of a lifecycle hook (`field` e.g. `lifecycle.preStop`).
pub fn hook_handler(
    c: &Container,
    h: &LifecycleHandler,
    pod_ip: IpAddr,
    field: &str,
) -> Result<Handler, String> {
    if let Some(e) = &h.exec {
        exec_handler(c, e.command.as_ref(), &format!("{field}.exec"))
    } else if let Some(g) = &h.http_get {
        http_handler(c, g, pod_ip, &format!("{field}.httpGet"))
    } else if let Some(s) = &h.sleep {
        u64::try_from(s.seconds)
            .map(|seconds| Handler::Sleep { seconds })
            .map_err(|_| {
                format!(
                    "container {:?}: {field}.sleep.seconds: Invalid value: {}: must be non-negative",
                    c.name, s.seconds
                )
            })
    } else if h.tcp_socket.is_some() {
        Err(format!(
            "container {:?}: {field}.tcpSocket: lifecycle hooks support exec, httpGet and sleep",
            c.name
        ))
    } else {
        Err(format!(
            "container {:?}: {field}: must specify a handler type (exec, httpGet or sleep)",
            c.name
        ))
    }
}

/// Timing of one probe, with kubelet's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeSpec {
    pub handler: Handler,
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
    /// `terminationGracePeriodSeconds` of the probe: the `preStop` budget
    /// when this (liveness or startup) probe kills the container.
    pub termination_grace: Option<Duration>,
}

impl ProbeSpec {
    pub fn from_k8s(
        c: &Container,
        p: &Probe,
        pod_ip: IpAddr,
        field: &str,
    ) -> Result<ProbeSpec, String> {
        let secs = |v: Option<i32>, default: i32, min: i32, name: &str| -> Result<u64, String> {
            let v = v.unwrap_or(default);
            if v < min {
                return Err(format!(
                    "container {:?}: {field}.{name}: Invalid value: {v}: must be greater than or equal to {min}",
                    c.name
                ));
            }
            Ok(v as u64)
        };
        Ok(ProbeSpec {
            handler: probe_handler(c, p, pod_ip, field)?,
            initial_delay: Duration::from_secs(secs(
                p.initial_delay_seconds,
                0,
                0,
                "initialDelaySeconds",
            )?),
            period: Duration::from_secs(secs(p.period_seconds, 10, 1, "periodSeconds")?),
            timeout: Duration::from_secs(secs(p.timeout_seconds, 1, 1, "timeoutSeconds")?),
            success_threshold: secs(p.success_threshold, 1, 1, "successThreshold")? as u32,
            failure_threshold: secs(p.failure_threshold, 3, 1, "failureThreshold")? as u32,
            termination_grace: p
                .termination_grace_period_seconds
                .map(|s| Duration::from_secs(s.max(0) as u64)),
        })
    }
}

/// The probes of one container.
#[derive(Clone, Debug, Default)]
pub struct ContainerProbes {
    pub startup: Option<ProbeSpec>,
    pub liveness: Option<ProbeSpec>,
    pub readiness: Option<ProbeSpec>,
}

impl ContainerProbes {
    pub fn of(c: &Container, pod_ip: IpAddr) -> Result<ContainerProbes, String> {
        let one = |p: &Option<Probe>, field: &str| {
            p.as_ref()
                .map(|p| ProbeSpec::from_k8s(c, p, pod_ip, field))
                .transpose()
        };
        let probes = ContainerProbes {
            startup: one(&c.startup_probe, "startupProbe")?,
            liveness: one(&c.liveness_probe, "livenessProbe")?,
            readiness: one(&c.readiness_probe, "readinessProbe")?,
        };
        for (p, field) in [
            (&probes.startup, "startupProbe"),
            (&probes.liveness, "livenessProbe"),
        ] {
            if let Some(p) = p
                && p.success_threshold != 1
            {
                return Err(format!(
                    "container {:?}: {field}.successThreshold: Invalid value: {}: must be 1",
                    c.name, p.success_threshold
                ));
            }
        }
        Ok(probes)
    }
}

/// Runs handlers for one container run: network ones on the pod thread,
/// exec ones as a fresh instance of the container's module.
pub struct Runner {
    pub sandbox: Arc<Sandbox>,
    /// The container's spec as started; exec clones it with another argv.
    pub base: ContainerSpec,
    /// Where exec output goes (a scratch directory under the pod dir).
    pub scratch: PathBuf,
    seq: AtomicU64,
}

impl Runner {
    pub fn new(sandbox: Arc<Sandbox>, base: ContainerSpec, scratch: PathBuf) -> Runner {
        Runner {
            sandbox,
            base,
            scratch,
            seq: AtomicU64::new(0),
        }
    }

    /// Runs `h` once, bounded by `timeout`.
    pub async fn run(&self, h: &Handler, timeout: Duration) -> Outcome {
        match h {
            Handler::HttpGet {
                host,
                port,
                path,
                headers,
            } => {
                let addr = SocketAddr::new(*host, *port);
                let url = format!("http://{addr}{path}");
                let request = http_request(addr, path, headers);
                // Bounded on the pod thread too, so a stuck guest cannot keep
                // the task (and the sandbox's shutdown) waiting.
                let task = self.sandbox.spawn_on_pod(async move {
                    tokio::time::timeout(timeout, http_status(addr, request)).await
                });
                match task.await.map(|r| r.map_err(drop)) {
                    Ok(Err(())) => Outcome::Failure(format!(
                        "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                    )),
                    Err(e) => Outcome::Failure(format!("Get \"{url}\": probe task failed: {e}")),
                    Ok(Ok(Err(e))) => Outcome::Failure(format!("Get \"{url}\": {e}")),
                    Ok(Ok(Ok(code))) if (200..400).contains(&code) => Outcome::Success,
                    Ok(Ok(Ok(code))) => {
                        Outcome::Failure(format!("HTTP probe failed with statuscode: {code}"))
                    }
                }
            }
            Handler::TcpSocket { host, port } => {
                let addr = SocketAddr::new(*host, *port);
                let task = self.sandbox.spawn_on_pod(async move {
                    tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr))
                        .await
                        .map(|r| r.map(drop))
                });
                match task.await.map(|r| r.map_err(drop)) {
                    Ok(Err(())) => Outcome::Failure(format!("dial tcp {addr}: i/o timeout")),
                    Err(e) => Outcome::Failure(format!("dial tcp {addr}: probe task failed: {e}")),
                    Ok(Ok(Err(e))) => {
                        Outcome::Failure(format!("dial tcp {addr}: connect: {}", io_text(&e)))
                    }
                    Ok(Ok(Ok(()))) => Outcome::Success,
                }
            }
            Handler::Exec { command } => self.exec(command, timeout).await,
            Handler::Sleep { seconds } => {
                tokio::time::sleep(Duration::from_secs(*seconds).min(timeout)).await;
                Outcome::Success
            }
        }
    }

    async fn exec(&self, command: &[String], timeout: Duration) -> Outcome {
        let shown = command.join(" ");
        if self.base.module.kind() == ModuleKind::HttpProxy {
            return Outcome::Failure(format!(
                "command {shown:?} cannot run: container {:?}'s image is a wasi:http proxy component, which has no command entry point",
                self.base.name
            ));
        }
        if let Err(e) = tokio::fs::create_dir_all(&self.scratch).await {
            return Outcome::Failure(format!("creating {}: {e}", self.scratch.display()));
        }
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let out = self.scratch.join(format!("{}-{n}.log", self.base.name));
        let mut spec = self.base.clone();
        spec.argv = command.to_vec();
        spec.stdout = out.clone();
        spec.stderr = out.clone();
        spec.http_port = None;
        let handle = match self.sandbox.start(spec) {
            Ok(h) => KillOnDrop(h),
            Err(e) => return Outcome::Failure(e.to_string()),
        };
        let handle = &handle.0;
        let result = match tokio::time::timeout(timeout, handle.wait()).await {
            Ok(r) => Some(r),
            Err(_) => {
                handle.kill();
                let _ = handle.wait().await;
                None
            }
        };
        let output = read_output(&out).await;
        let _ = tokio::fs::remove_file(&out).await;
        match result {
            None => Outcome::Failure(format!(
                "command \"{shown}\" timed out after {}s",
                timeout.as_secs()
            )),
            Some(Ok(ExitStatus::Exited(0))) => Outcome::Success,
            Some(Ok(exit)) if output.is_empty() => Outcome::Failure(format!(
                "command \"{shown}\" exited with {}",
                exit.exit_code()
            )),
            Some(Ok(_)) => Outcome::Failure(output),
            Some(Err(e)) => Outcome::Failure(e.to_string()),
        }
    }
}

/// Kills an exec run when its caller gives up on it (a probe cancelled
/// because the container ended, a hook cut off by the grace period).
struct KillOnDrop(crate::runtime::Handle);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.0.kill();
    }
}

/// The log lines of an exec run without their timestamps, at most [`MAX_OUTPUT`].
async fn read_output(path: &std::path::Path) -> String {
    let Ok(bytes) = tokio::fs::read(path).await else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_OUTPUT)]).into_owned();
    // Log lines are `<timestamp> <stream> <text>`.
    text.lines()
        .map(|l| l.splitn(3, ' ').nth(2).unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        _ => e.to_string(),
    }
}

fn http_request(addr: SocketAddr, path: &str, headers: &[(String, String)]) -> Vec<u8> {
    let has = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    let mut req = format!("GET {path} HTTP/1.1\r\n");
    if !has("host") {
        req += &format!("Host: {addr}\r\n");
    }
    if !has("user-agent") {
        req += &format!("User-Agent: {USER_AGENT}\r\n");
    }
    if !has("accept") {
        req += "Accept: */*\r\n";
    }
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += "Connection: close\r\n\r\n";
    req.into_bytes()
}

/// Sends `request` and reads the response (at most [`MAX_OUTPUT`], as
/// kubelet does, so the server sees a normal close) for its status code.
/// The body is read to its `Content-Length` or to EOF.
async fn http_status(addr: SocketAddr, request: Vec<u8>) -> Result<u16, String> {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("dial tcp {addr}: connect: {}", io_text(&e)))?;
    s.write_all(&request)
        .await
        .map_err(|e| format!("write tcp {addr}: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while buf.len() < MAX_OUTPUT && !response_complete(&buf) {
        let n = s
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read tcp {addr}: {e}"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    let line = text.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    match (
        parts.next(),
        parts.next().and_then(|c| c.parse::<u16>().ok()),
    ) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => Ok(code),
        _ if buf.is_empty() => Err(format!("read tcp {addr}: EOF")),
        _ => Err(format!("malformed HTTP response {line:?}")),
    }
}

/// The head has arrived and so has the body its `Content-Length` announces.
fn response_complete(buf: &[u8]) -> bool {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let length = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())
            .flatten()
    });
    length.is_some_and(|n| buf.len() >= end + 4 + n)
}

/// A change of the container's probe-driven status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The startup probe passed (or there is none).
    Started,
    Ready(bool),
}

/// Why the container must be killed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// `liveness` or `startup`.
    pub probe: &'static str,
    /// The probe's `terminationGracePeriodSeconds`, if set.
    pub grace: Option<Duration>,
}

/// Callbacks of [`supervise`]: status changes and `Unhealthy` events.
pub trait ProbeObserver: Sync {
    fn change(&self, change: Change);
    /// One failed probe run: `Liveness probe failed: …`.
    fn unhealthy(&self, message: String);
}

/// Runs the probes of one container run (started at `started_at`) forever:
/// the startup probe first, holding the others back until it succeeds; then
/// liveness and readiness side by side. Returns when liveness or startup has
/// failed `failureThreshold` times in a row: the container must be killed.
pub async fn supervise(
    probes: &ContainerProbes,
    runner: &Runner,
    started_at: Instant,
    obs: &dyn ProbeObserver,
) -> Verdict {
    if let Some(p) = &probes.startup {
        tokio::time::sleep_until(started_at + p.initial_delay).await;
        let mut failures = 0;
        loop {
            match runner.run(&p.handler, p.timeout).await {
                Outcome::Success => break,
                Outcome::Failure(msg) => {
                    failures += 1;
                    obs.unhealthy(format!("Startup probe failed: {msg}"));
                    if failures >= p.failure_threshold {
                        return Verdict {
                            probe: "startup",
                            grace: p.termination_grace,
                        };
                    }
                }
            }
            tokio::time::sleep(p.period).await;
        }
    }
    obs.change(Change::Started);
    let liveness = async {
        match &probes.liveness {
            None => std::future::pending::<Verdict>().await,
            Some(p) => {
                tokio::time::sleep_until(started_at + p.initial_delay).await;
                let mut failures = 0;
                loop {
                    match runner.run(&p.handler, p.timeout).await {
                        Outcome::Success => failures = 0,
                        Outcome::Failure(msg) => {
                            failures += 1;
                            obs.unhealthy(format!("Liveness probe failed: {msg}"));
                            if failures >= p.failure_threshold {
                                return Verdict {
                                    probe: "liveness",
                                    grace: p.termination_grace,
                                };
                            }
                        }
                    }
                    tokio::time::sleep(p.period).await;
                }
            }
        }
    };
    let readiness = async {
        match &probes.readiness {
            None => {
                obs.change(Change::Ready(true));
                std::future::pending::<()>().await
            }
            Some(p) => {
                tokio::time::sleep_until(started_at + p.initial_delay).await;
                // kubelet starts a readiness result at Failure.
                let mut ready = false;
                let (mut successes, mut failures) = (0, 0);
                loop {
                    match runner.run(&p.handler, p.timeout).await {
                        Outcome::Success => {
                            successes += 1;
                            failures = 0;
                            if !ready && successes >= p.success_threshold {
                                ready = true;
                                obs.change(Change::Ready(true));
                            }
                        }
                        Outcome::Failure(msg) => {
                            failures += 1;
                            successes = 0;
                            obs.unhealthy(format!("Readiness probe failed: {msg}"));
                            if ready && failures >= p.failure_threshold {
                                ready = false;
                                obs.change(Change::Ready(false));
                            }
                        }
                    }
                    tokio::time::sleep(p.period).await;
                }
            }
        }
    };
    tokio::select! {
        v = liveness => v,
        () = readiness => unreachable!("the readiness loop never ends"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(v: serde_json::Value) -> Container {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn probe_defaults_and_named_ports() {
        let c = container(serde_json::json!({
            "name": "web",
            "ports": [{"name": "http", "containerPort": 8080}],
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http",
                "httpHeaders": [{"name": "X-A", "value": "b"}]}},
            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
        }));
        let ip: IpAddr = "10.0.0.5".parse().unwrap();
        let p = ContainerProbes::of(&c, ip).unwrap();
        let l = p.liveness.unwrap();
        assert_eq!(
            l.handler,
            Handler::HttpGet {
                host: ip,
                port: 8080,
                path: "/healthz".into(),
                headers: vec![("X-A".into(), "b".into())],
            }
        );
        assert_eq!(
            (
                l.initial_delay,
                l.period,
                l.timeout,
                l.success_threshold,
                l.failure_threshold
            ),
            (
                Duration::ZERO,
                Duration::from_secs(10),
                Duration::from_secs(1),
                1,
                3
            )
        );
        let r = p.readiness.unwrap();
        assert_eq!(
            r.handler,
            Handler::TcpSocket {
                host: ip,
                port: 8080
            }
        );
        assert_eq!(r.period, Duration::from_secs(1));
        assert!(p.startup.is_none());
    }

    #[test]
    fn unsupported_probes_are_refused_with_the_field() {
        let ip: IpAddr = "10.0.0.5".parse().unwrap();
        let cases = [
            (
                serde_json::json!({"grpc": {"port": 9000}}),
                "livenessProbe.grpc",
            ),
            (
                serde_json::json!({"httpGet": {"port": "nope"}}),
                "livenessProbe.httpGet.port: Invalid value: \"nope\"",
            ),
            (
                serde_json::json!({"httpGet": {"port": 80, "scheme": "HTTPS"}}),
                "livenessProbe.httpGet.scheme: Unsupported value: \"HTTPS\"",
            ),
            (
                serde_json::json!({"tcpSocket": {"port": 70000}}),
                "must be between 1 and 65535",
            ),
            (
                serde_json::json!({"exec": {"command": ["x"]}, "successThreshold": 2}),
                "livenessProbe.successThreshold: Invalid value: 2: must be 1",
            ),
            (serde_json::json!({}), "must specify a handler type"),
        ];
        for (probe, want) in cases {
            let c = container(serde_json::json!({"name": "c", "livenessProbe": probe}));
            let e = ContainerProbes::of(&c, ip).unwrap_err();
            assert!(e.contains(want), "{e} should contain {want}");
        }
    }

    #[test]
    fn a_response_is_complete_at_its_content_length() {
        assert!(!response_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
        ));
        assert!(!response_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok"
        ));
        assert!(response_complete(
            b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n"
        ));
        // Without a length: read to EOF.
        assert!(!response_complete(b"HTTP/1.0 200 OK\r\n\r\nok\n"));
    }

    #[test]
    fn http_request_lets_headers_override_host() {
        let addr: SocketAddr = "10.0.0.5:80".parse().unwrap();
        let req = String::from_utf8(http_request(
            addr,
            "/x?y=1",
            &[("Host".into(), "example".into())],
        ))
        .unwrap();
        assert!(req.starts_with("GET /x?y=1 HTTP/1.1\r\n"), "{req}");
        assert!(
            req.contains("Host: example\r\n") && !req.contains("Host: 10.0.0.5"),
            "{req}"
        );
        assert!(req.contains("User-Agent: kube-probe/"), "{req}");
    }
}
