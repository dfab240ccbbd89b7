//! Pod manager tests against the real kernel and runtime (root; skipped
//! otherwise), driven by a `watch` of desired pods and a recording sink.
//! Each test has its own cluster name `p<pid>x<slot>` and CIDRs reserved for
//! these tests (pod 10.253.<16·slot>.0/20, node 10.253.<16·slot+7>.0/24,
//! Service 10.254.<16·slot>.0/20; the net tests use 10.250–10.252), and a
//! [`Guard`] deletes every kernel object of its slot with `ip`, also on failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use regatta_api::k8s_openapi::api::core::v1::{ConfigMap, Pod, PodStatus};
use regatta_api::node_protocol::PodRef;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::net::{NetConfig, PodNetwork};
use crate::runtime::EngineConfig;

const DEADLINE: Duration = Duration::from_secs(60);

fn is_root() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false);
    if !root {
        eprintln!("skipping: needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)");
    }
    root
}

fn example(name: &str) -> Option<PathBuf> {
    let built = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../wasm-examples/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    // build.sh also copies them here.
    let installed = Path::new("/var/lib/regatta/examples").join(format!("{name}.wasm"));
    let p = if built.exists() { built } else { installed };
    if p.exists() {
        Some(p.canonicalize().unwrap())
    } else {
        eprintln!(
            "skipping: {} not built (run `bash wasm-examples/build.sh`)",
            p.display()
        );
        None
    }
}

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("running ip");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Statuses as the manager reported them, latest per pod uid, every status
/// ever reported, and the events.
#[derive(Default)]
struct Recorder {
    tx: watch::Sender<BTreeMap<String, PodStatus>>,
    history: std::sync::Mutex<BTreeMap<String, Vec<PodStatus>>>,
    /// (pod uid, type, reason, message)
    events: watch::Sender<Vec<(String, EventKind, String, String)>>,
}

impl StatusSink for Recorder {
    fn report(&self, pod: PodRef, status: PodStatus) {
        self.history
            .lock()
            .unwrap()
            .entry(pod.uid.clone())
            .or_default()
            .push(status.clone());
        self.tx.send_modify(|m| {
            m.insert(pod.uid, status);
        });
    }
    fn forget(&self, uid: &str) {
        self.tx.send_modify(|m| {
            m.remove(uid);
        });
    }
    fn event(&self, pod: PodRef, kind: EventKind, reason: &str, message: String) {
        self.events
            .send_modify(|e| e.push((pod.uid, kind, reason.to_string(), message)));
    }
}

/// One test's cluster: names, CIDRs, and the cleanup of everything they name.
struct Guard {
    net: NetConfig,
    data: tempfile::TempDir,
}

impl Guard {
    fn new(slot: u8) -> Guard {
        assert!(slot < 8);
        let data = tempfile::tempdir().unwrap();
        let net = NetConfig {
            cluster_name: format!("p{}x{slot}", std::process::id()),
            pod_cidr: format!("10.253.{}.0/20", slot * 16).parse().unwrap(),
            node_pod_cidr: format!("10.253.{}.0/24", slot * 16 + 7).parse().unwrap(),
            service_cidr: format!("10.254.{}.0/20", slot * 16).parse().unwrap(),
            state_dir: data.path().join("net"),
        };
        let g = Guard { net, data };
        g.cleanup();
        g
    }

    fn netns_list(&self) -> Vec<String> {
        let prefix = format!("{}-", self.net.cluster_name);
        ip(&["netns", "list"])
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| n.starts_with(&prefix))
            .map(str::to_owned)
            .collect()
    }

    fn bridge(&self) -> String {
        format!("{}0", self.net.cluster_name)
    }

    fn our_routes(&self) -> Vec<String> {
        let metric = PodNetwork::route_metric(&self.net.cluster_name);
        ip(&["route", "show", "table", "main", "proto", "82"])
            .lines()
            .filter(|l| {
                l.split_whitespace()
                    .collect::<Vec<_>>()
                    .windows(2)
                    .any(|w| w == ["metric", &metric.to_string()])
            })
            .map(|l| l.trim().to_owned())
            .collect()
    }

    fn cleanup(&self) {
        for ns in self.netns_list() {
            ip(&["netns", "del", &ns]);
        }
        ip(&["link", "del", &self.bridge()]);
        for r in self.our_routes() {
            let mut args = vec!["route", "del"];
            args.extend(r.split_whitespace());
            ip(&args);
        }
    }

    /// Nothing of this cluster is left in `ip netns`, `ip link`, `ip route`.
    fn assert_clean(&self) {
        assert_eq!(self.netns_list(), Vec::<String>::new(), "netns left");
        assert!(
            !ip(&["-o", "link"]).contains(&format!(" {}:", self.bridge())),
            "bridge left"
        );
        assert_eq!(self.our_routes(), Vec::<String>::new(), "routes left");
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.cleanup();
    }
}

struct Harness {
    rec: Arc<Recorder>,
    desired: watch::Sender<DesiredState>,
    statuses: watch::Receiver<BTreeMap<String, PodStatus>>,
    net: Arc<PodNetwork>,
    shutdown: CancellationToken,
    manager: tokio::task::JoinHandle<()>,
}

impl Harness {
    async fn start(g: &Guard, tweak: impl FnOnce(&mut PodManagerConfig)) -> Harness {
        let net = Arc::new(
            PodNetwork::setup(g.net.clone())
                .await
                .expect("network setup"),
        );
        let engine = NodeEngine::new(EngineConfig {
            max_pods: 4,
            ..Default::default()
        })
        .expect("engine");
        let rec = Arc::new(Recorder::default());
        let statuses = rec.tx.subscribe();
        let mut cfg = PodManagerConfig::new(
            g.data.path().to_owned(),
            "test-node".into(),
            Some("192.0.2.2".into()),
        );
        cfg.resync_period = Duration::from_millis(500);
        tweak(&mut cfg);
        let (desired, desired_rx) = watch::channel(DesiredState::default());
        let shutdown = CancellationToken::new();
        let manager = tokio::spawn(
            PodManager::new(cfg, engine, net.clone(), rec.clone())
                .run(desired_rx, shutdown.clone()),
        );
        Harness {
            rec,
            desired,
            statuses,
            net,
            shutdown,
            manager,
        }
    }

    fn set_pods(&self, pods: Vec<Pod>) {
        self.desired.send_modify(|d| {
            d.synced = true;
            d.pods = pods
                .into_iter()
                .map(|p| (p.metadata.uid.clone().unwrap(), p))
                .collect();
        });
    }

    /// Waits (up to [`DEADLINE`]) until `uid`'s status satisfies `f`.
    async fn wait_status(
        &mut self,
        uid: &str,
        what: &str,
        f: impl Fn(&PodStatus) -> bool,
    ) -> PodStatus {
        let got = tokio::time::timeout(
            DEADLINE,
            self.statuses.wait_for(|m| m.get(uid).is_some_and(&f)),
        )
        .await
        .ok()
        .and_then(Result::ok)
        .map(|m| m[uid].clone());
        got.unwrap_or_else(|| {
            panic!(
                "timed out waiting for {what}; last status: {:#?}",
                self.statuses.borrow().get(uid)
            )
        })
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.manager.await.unwrap();
        self.net.teardown().await.expect("teardown");
    }
}

fn pod(v: serde_json::Value) -> Pod {
    serde_json::from_value(v).unwrap()
}

async fn http_get(addr: std::net::SocketAddr) -> std::io::Result<String> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: pod\r\n\r\n").await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_pod_runs_at_its_ip_and_is_cleaned_up() {
    if !is_root() {
        return;
    }
    let Some(wasm) = example("http-hello") else {
        return;
    };
    let g = Guard::new(0);
    let mut h = Harness::start(&g, |_| {}).await;
    let uid = format!("{}-hello", g.net.cluster_name);
    h.set_pods(vec![pod(serde_json::json!({
        "metadata": {"name": "hello", "namespace": "default", "uid": uid},
        "spec": {"nodeName": "test-node", "containers": [{
            "name": "web",
            "image": format!("file://{}", wasm.display()),
            "ports": [{"containerPort": 8080}],
            "env": [
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            ],
        }]},
    }))]);
    let s = h
        .wait_status(&uid, "phase Running", |s| {
            s.phase.as_deref() == Some("Running")
        })
        .await;
    let pod_ip: std::net::Ipv4Addr = s.pod_ip.as_deref().expect("podIP").parse().unwrap();
    assert!(
        g.net.node_pod_cidr.contains(&pod_ip),
        "{pod_ip} not in {}",
        g.net.node_pod_cidr
    );
    let cs = &s.container_statuses.as_ref().unwrap()[0];
    assert!(cs.ready && cs.image_id.starts_with("sha256:"), "{cs:?}");
    assert!(cs.state.as_ref().unwrap().running.is_some(), "{cs:?}");
    assert_eq!(s.host_ip.as_deref(), Some("192.0.2.2"));
    let ready = s
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "True");

    // Running means the guest was started; it may not be listening yet.
    let addr = std::net::SocketAddr::from((pod_ip, 8080));
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let body = loop {
        match tokio::time::timeout(Duration::from_secs(5), http_get(addr)).await {
            Ok(Ok(b)) if b.starts_with("HTTP/1.") => break b,
            other => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "GET {addr}: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert!(body.contains(" 200 "), "{body}");
    assert!(
        body.contains("hello") && body.contains(&pod_ip.to_string()),
        "{body}"
    );
    let netns = format!("{}-{uid}", g.net.cluster_name);
    assert!(g.netns_list().contains(&netns));
    let log = g
        .data
        .path()
        .join(format!("pods/default_hello_{uid}/web/0.log"));
    assert!(log.exists(), "{} missing", log.display());

    h.set_pods(vec![]);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while g.netns_list().contains(&netns) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "netns {netns} still there"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::timeout(DEADLINE, h.statuses.wait_for(|m| !m.contains_key(&uid)))
        .await
        .expect("status forgotten")
        .unwrap();
    assert!(!log.exists(), "log dir not removed");
    h.stop().await;
    g.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_container_backs_off() {
    if !is_root() {
        return;
    }
    let Some(wasm) = example("crasher") else {
        return;
    };
    let g = Guard::new(1);
    let mut h = Harness::start(&g, |c| {
        c.backoff_initial = Duration::from_millis(100);
        c.backoff_max = Duration::from_millis(400);
    })
    .await;
    let uid = format!("{}-crash", g.net.cluster_name);
    h.set_pods(vec![pod(serde_json::json!({
        "metadata": {"name": "crash", "namespace": "default", "uid": uid},
        "spec": {"containers": [{
            "name": "c",
            "image": format!("file://{}", wasm.display()),
            "env": [{"name": "EXIT_CODE", "value": "3"}],
        }]},
    }))]);
    let s = h
        .wait_status(&uid, "restartCount >= 2 in CrashLoopBackOff", |s| {
            s.container_statuses.as_ref().is_some_and(|cs| {
                cs[0].restart_count >= 2
                    && cs[0]
                        .state
                        .as_ref()
                        .and_then(|st| st.waiting.as_ref())
                        .is_some_and(|w| w.reason.as_deref() == Some("CrashLoopBackOff"))
            })
        })
        .await;
    let cs = &s.container_statuses.as_ref().unwrap()[0];
    let last = cs.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (3, Some("Error")));
    assert_eq!(s.phase.as_deref(), Some("Running"));
    h.stop().await;
    g.assert_clean();
}

// ---- init containers, probes, lifecycle hooks, graceful termination ----

use regatta_api::k8s_openapi::api::core::v1::ContainerStatus;

/// The status of container `name` (app or init).
fn container<'a>(s: &'a PodStatus, name: &str) -> Option<&'a ContainerStatus> {
    s.container_statuses
        .iter()
        .chain(s.init_container_statuses.iter())
        .flatten()
        .find(|c| c.name == name)
}

fn waiting_reason(s: &PodStatus, name: &str) -> Option<String> {
    container(s, name)?
        .state
        .as_ref()?
        .waiting
        .as_ref()?
        .reason
        .clone()
}

fn terminated(s: &PodStatus, name: &str) -> Option<(i32, String)> {
    let t = container(s, name)?.state.as_ref()?.terminated.as_ref()?;
    Some((t.exit_code, t.reason.clone().unwrap_or_default()))
}

fn is_running(s: &PodStatus, name: &str) -> bool {
    container(s, name)
        .and_then(|c| c.state.as_ref())
        .is_some_and(|st| st.running.is_some())
}

fn condition(s: &PodStatus, type_: &str) -> Option<String> {
    s.conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.clone())
}

fn restarts(s: &PodStatus, name: &str) -> i32 {
    container(s, name).map_or(0, |c| c.restart_count)
}

impl Harness {
    /// Waits (up to [`DEADLINE`]) for an event of `uid` with `reason` whose
    /// message contains `text`; returns its message.
    async fn wait_event(&self, uid: &str, reason: &str, text: &str) -> String {
        let mut rx = self.rec.events.subscribe();
        let found = |e: &Vec<(String, EventKind, String, String)>| {
            e.iter()
                .find(|(u, _, r, m)| u == uid && r == reason && m.contains(text))
                .map(|(_, _, _, m)| m.clone())
        };
        let got = tokio::time::timeout(DEADLINE, rx.wait_for(|e| found(e).is_some()))
            .await
            .ok()
            .and_then(Result::ok)
            .and_then(|e| found(&e));
        got.unwrap_or_else(|| {
            panic!(
                "timed out waiting for event {reason} {text:?} of {uid}; events: {:#?}",
                self.rec.events.borrow()
            )
        })
    }

    fn kind_of_event(&self, uid: &str, reason: &str) -> Option<EventKind> {
        self.rec
            .events
            .borrow()
            .iter()
            .find(|(u, _, r, _)| u == uid && r == reason)
            .map(|(_, k, _, _)| *k)
    }

    fn events_of(&self, uid: &str, reason: &str) -> Vec<String> {
        self.rec
            .events
            .borrow()
            .iter()
            .filter(|(u, _, r, _)| u == uid && r == reason)
            .map(|(_, _, _, m)| m.clone())
            .collect()
    }

    fn history(&self, uid: &str) -> Vec<PodStatus> {
        self.rec
            .history
            .lock()
            .unwrap()
            .get(uid)
            .cloned()
            .unwrap_or_default()
    }

    /// Marks `pod` deleted with `grace` seconds, as the API server does.
    fn mark_deleted(&self, mut pod: Pod, grace: i64) {
        let uid = pod.metadata.uid.clone().unwrap();
        pod.metadata.deletion_timestamp = Some(
            regatta_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(chrono::Utc::now()),
        );
        pod.metadata.deletion_grace_period_seconds = Some(grace);
        self.desired.send_modify(|d| {
            d.pods.insert(uid, pod);
        });
    }

    /// Marks `pod` deleted with `grace` seconds and waits until the node has stopped it and forgotten its status;
    /// returns how long that took.
    async fn delete(&self, pod: Pod, grace: i64) -> Duration {
        let uid = pod.metadata.uid.clone().unwrap();
        let started = tokio::time::Instant::now();
        self.mark_deleted(pod, grace);
        let mut rx = self.statuses.clone();
        tokio::time::timeout(DEADLINE, rx.wait_for(|m| !m.contains_key(&uid)))
            .await
            .expect("pod stopped and forgotten")
            .unwrap();
        started.elapsed()
    }
}

/// `<data>/volumes/<uid>/<volume>/<file>`: a file in a pod's emptyDir, as the
/// host sees it.
fn volume_file(g: &Guard, uid: &str, volume: &str, file: &str) -> PathBuf {
    g.data
        .path()
        .join("volumes")
        .join(uid)
        .join(volume)
        .join(file)
}

fn image(wasm: &Path) -> String {
    format!("file://{}", wasm.display())
}

/// http-hello serving on `port`, answering probes from the `data` emptyDir.
fn web(name: &str, wasm: &Path, port: u16, extra: serde_json::Value) -> serde_json::Value {
    let mut c = serde_json::json!({
        "name": name,
        "image": image(wasm),
        "ports": [{"name": "http", "containerPort": port}],
        "env": [{"name": "PORT", "value": port.to_string()}, {"name": "PROBE_DIR", "value": "/data"}],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

fn pod_with(name: &str, uid: &str, spec: serde_json::Value) -> Pod {
    let mut spec = spec;
    spec["volumes"] = serde_json::json!([{"name": "data", "emptyDir": {}}]);
    pod(serde_json::json!({
        "metadata": {"name": name, "namespace": "default", "uid": uid},
        "spec": spec,
    }))
}

/// An init container: http-hello run as a one-shot command.
fn init(name: &str, wasm: &Path, command: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "image": image(wasm),
        "command": command,
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_containers_run_in_order_before_the_app() {
    if !is_root() {
        return;
    }
    let Some(wasm) = example("http-hello") else {
        return;
    };
    let g = Guard::new(2);
    let mut h = Harness::start(&g, |c| {
        c.backoff_initial = Duration::from_millis(100);
        c.backoff_max = Duration::from_millis(400);
    })
    .await;
    let ok = format!("{}-init-ok", g.net.cluster_name);
    let never = format!("{}-init-never", g.net.cluster_name);
    let retry = format!("{}-init-retry", g.net.cluster_name);
    // The second init container succeeds only if the first ran before it.
    let ok_pod = pod_with(
        "init-ok",
        &ok,
        serde_json::json!({
            "initContainers": [
                init("first", &wasm, &["touch", "/data/first"]),
                init("second", &wasm, &["test", "-f", "/data/first"]),
            ],
            "containers": [web("web", &wasm, 8080, serde_json::json!({}))],
        }),
    );
    let never_pod = pod_with(
        "init-never",
        &never,
        serde_json::json!({
            "restartPolicy": "Never",
            "initContainers": [init("check", &wasm, &["test", "-f", "/data/missing"])],
            "containers": [web("web", &wasm, 8080, serde_json::json!({}))],
        }),
    );
    let retry_pod = pod_with(
        "init-retry",
        &retry,
        serde_json::json!({
            "initContainers": [init("check", &wasm, &["test", "-f", "/data/missing"])],
            "containers": [web("web", &wasm, 8080, serde_json::json!({}))],
        }),
    );
    // Sidecars (restartable init containers) are refused, not run as plain ones.
    let sidecar = format!("{}-init-sidecar", g.net.cluster_name);
    let mut side = init("side", &wasm, &["sleep", "600"]);
    side["restartPolicy"] = serde_json::json!("Always");
    let sidecar_pod = pod_with(
        "init-sidecar",
        &sidecar,
        serde_json::json!({
            "initContainers": [side],
            "containers": [web("web", &wasm, 8080, serde_json::json!({}))],
        }),
    );
    h.set_pods(vec![ok_pod, never_pod, retry_pod, sidecar_pod]);

    let s = h
        .wait_status(&ok, "init done, web running", |s| {
            s.phase.as_deref() == Some("Running") && is_running(s, "web")
        })
        .await;
    assert_eq!(condition(&s, "Initialized").as_deref(), Some("True"));
    for name in ["first", "second"] {
        assert_eq!(
            terminated(&s, name),
            Some((0, "Completed".into())),
            "{name}: {s:#?}"
        );
        assert!(
            container(&s, name).unwrap().ready,
            "{name} completed is ready"
        );
    }
    assert_eq!(s.init_container_statuses.as_ref().unwrap().len(), 2);
    // Before that: Pending, not initialised, the app waiting PodInitializing.
    let history = h.history(&ok);
    let first = &history[0];
    assert_eq!(first.phase.as_deref(), Some("Pending"));
    assert_eq!(condition(first, "Initialized").as_deref(), Some("False"));
    assert_eq!(
        waiting_reason(first, "web").as_deref(),
        Some("PodInitializing")
    );
    assert!(
        history.iter().any(|s| is_running(s, "second")
            && terminated(s, "first").is_some()
            && waiting_reason(s, "web").as_deref() == Some("PodInitializing")),
        "no status shows the second init container running after the first: {history:#?}"
    );

    // restartPolicy Never: a failed init container fails the pod (Init:Error).
    let s = h
        .wait_status(&never, "phase Failed", |s| {
            s.phase.as_deref() == Some("Failed")
        })
        .await;
    assert_eq!(terminated(&s, "check"), Some((1, "Error".into())));
    assert_eq!(
        waiting_reason(&s, "web").as_deref(),
        Some("PodInitializing")
    );
    assert_eq!(condition(&s, "Initialized").as_deref(), Some("False"));

    // restartPolicy Always: retried with back-off (Init:CrashLoopBackOff), still Pending.
    let s = h
        .wait_status(&retry, "init container in CrashLoopBackOff", |s| {
            restarts(s, "check") >= 1
                && waiting_reason(s, "check").as_deref() == Some("CrashLoopBackOff")
        })
        .await;
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    assert_eq!(
        waiting_reason(&s, "web").as_deref(),
        Some("PodInitializing")
    );
    h.wait_event(
        &retry,
        "BackOff",
        "Back-off restarting failed container check",
    )
    .await;
    let s = h
        .wait_status(&sidecar, "sidecar refused", |s| {
            waiting_reason(s, "side").as_deref() == Some("CreateContainerConfigError")
        })
        .await;
    let msg = container(&s, "side")
        .unwrap()
        .state
        .as_ref()
        .unwrap()
        .waiting
        .as_ref()
        .unwrap()
        .message
        .clone()
        .unwrap();
    assert!(
        msg.contains("spec.initContainers[0].restartPolicy"),
        "{msg}"
    );
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    h.stop().await;
    g.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_liveness_probe_restarts_the_container() {
    if !is_root() {
        return;
    }
    let Some(wasm) = example("http-hello") else {
        return;
    };
    let g = Guard::new(3);
    let mut h = Harness::start(&g, |c| {
        c.backoff_initial = Duration::from_millis(100);
        c.backoff_max = Duration::from_millis(400);
    })
    .await;
    let uid = format!("{}-live", g.net.cluster_name);
    h.set_pods(vec![pod_with(
        "live",
        &uid,
        serde_json::json!({
            "containers": [web("web", &wasm, 8080, serde_json::json!({
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                    "periodSeconds": 1, "failureThreshold": 3},
                // Ready = serving: the liveness failures below are /healthz's 500s.
                "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"},
                    "periodSeconds": 1},
                // kubelet runs preStop before a liveness kill too.
                "lifecycle": {"preStop": {"exec": {"command": ["touch", "/data/prestop"]}}},
            }))],
        }),
    )]);
    let s = h
        .wait_status(&uid, "web ready", |s| {
            condition(s, "Ready").as_deref() == Some("True")
        })
        .await;
    assert_eq!(restarts(&s, "web"), 0);
    // Several passing probes later it is still the first run.
    let unhealthy = volume_file(&g, &uid, "data", "unhealthy");
    std::fs::write(&unhealthy, "").unwrap();
    let msg = h
        .wait_event(
            &uid,
            "Unhealthy",
            "Liveness probe failed: HTTP probe failed with statuscode: 500",
        )
        .await;
    assert_eq!(
        msg,
        "Liveness probe failed: HTTP probe failed with statuscode: 500"
    );
    h.wait_event(
        &uid,
        "Killing",
        "Container web failed liveness probe, will be restarted",
    )
    .await;
    let s = h
        .wait_status(&uid, "restarted after the liveness failure", |s| {
            restarts(s, "web") >= 1
        })
        .await;
    let last = container(&s, "web")
        .unwrap()
        .last_state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(last.exit_code, 137, "{last:?}");
    assert!(
        volume_file(&g, &uid, "data", "prestop").exists(),
        "preStop did not run before the liveness kill"
    );
    // Healthy again: it stays up.
    std::fs::remove_file(&unhealthy).unwrap();
    h.wait_status(&uid, "running and ready again", |s| {
        is_running(s, "web") && container(s, "web").unwrap().ready
    })
    .await;
    h.stop().await;
    g.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_probes_flip_ready_both_ways() {
    if !is_root() {
        return;
    }
    let Some(wasm) = example("http-hello") else {
        return;
    };
    let g = Guard::new(4);
    let mut h = Harness::start(&g, |_| {}).await;
    let uid = format!("{}-ready", g.net.cluster_name);
    let ready_of = |s: &PodStatus, name: &str| container(s, name).is_some_and(|c| c.ready);
    // web: httpGet readiness (and tcpSocket liveness); side: exec readiness.
    h.set_pods(vec![pod_with("ready", &uid, serde_json::json!({
        "containers": [
            web("web", &wasm, 8080, serde_json::json!({
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 1,
                    "failureThreshold": 1},
                "livenessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1},
            })),
            web("side", &wasm, 8081, serde_json::json!({
                "readinessProbe": {"exec": {"command": ["test", "-f", "/data/ok"]},
                    "periodSeconds": 1, "timeoutSeconds": 5},
            })),
        ],
    }))]);
    let s = h
        .wait_status(&uid, "web ready", |s| ready_of(s, "web"))
        .await;
    // side's exec probe fails until /data/ok exists.
    assert!(!ready_of(&s, "side"), "{s:#?}");
    assert_eq!(condition(&s, "Ready").as_deref(), Some("False"));
    assert!(is_running(&s, "side") && container(&s, "side").unwrap().started == Some(true));
    h.wait_event(&uid, "Unhealthy", "Readiness probe failed:")
        .await;
    std::fs::write(volume_file(&g, &uid, "data", "ok"), "").unwrap();
    let s = h
        .wait_status(&uid, "pod Ready", |s| {
            condition(s, "Ready").as_deref() == Some("True")
        })
        .await;
    assert_eq!(condition(&s, "ContainersReady").as_deref(), Some("True"));

    let unready = volume_file(&g, &uid, "data", "unready");
    std::fs::write(&unready, "").unwrap();
    let s = h
        .wait_status(&uid, "web unready", |s| !ready_of(s, "web"))
        .await;
    assert_eq!(condition(&s, "Ready").as_deref(), Some("False"));
    assert_eq!(condition(&s, "ContainersReady").as_deref(), Some("False"));
    assert!(
        is_running(&s, "web"),
        "a failing readiness probe does not stop it"
    );
    std::fs::remove_file(&unready).unwrap();
    let s = h
        .wait_status(&uid, "Ready again", |s| {
            condition(s, "Ready").as_deref() == Some("True")
        })
        .await;
    assert_eq!(restarts(&s, "web"), 0);
    let msg = h.wait_event(&uid, "Unhealthy", "statuscode: 503").await;
    assert!(msg.starts_with("Readiness probe failed: "), "{msg}");
    h.stop().await;
    g.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_probe_holds_liveness_back() {
    if !is_root() {
        return;
    }
    let Some(wasm) = example("http-hello") else {
        return;
    };
    let g = Guard::new(5);
    let mut h = Harness::start(&g, |c| {
        c.backoff_initial = Duration::from_millis(100);
        c.backoff_max = Duration::from_millis(400);
    })
    .await;
    let uid = format!("{}-startup", g.net.cluster_name);
    let doomed = format!("{}-nostart", g.net.cluster_name);
    // /healthz fails from the start: only the startup probe keeps it alive.
    let unhealthy = volume_file(&g, &uid, "data", "unhealthy");
    std::fs::create_dir_all(unhealthy.parent().unwrap()).unwrap();
    std::fs::write(&unhealthy, "").unwrap();
    let probes = serde_json::json!({
        "startupProbe": {"exec": {"command": ["test", "-f", "/data/started"]},
            "periodSeconds": 1, "failureThreshold": 1000, "timeoutSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
            "periodSeconds": 1, "failureThreshold": 1},
    });
    h.set_pods(vec![
        pod_with("startup", &uid, serde_json::json!({
            "containers": [web("web", &wasm, 8080, probes)],
        })),
        pod_with("nostart", &doomed, serde_json::json!({
            "containers": [web("web", &wasm, 8080, serde_json::json!({
                "startupProbe": {"tcpSocket": {"port": 9}, "periodSeconds": 1, "failureThreshold": 2},
            }))],
        })),
    ]);
    let s = h
        .wait_status(&uid, "web running", |s| is_running(s, "web"))
        .await;
    assert_eq!(container(&s, "web").unwrap().started, Some(false));
    // Three startup probe failures: liveness has not run, nothing restarted.
    for _ in 0..3 {
        h.wait_event(&uid, "Unhealthy", "Startup probe failed:")
            .await;
    }
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while h
        .events_of(&uid, "Unhealthy")
        .iter()
        .filter(|m| m.starts_with("Startup"))
        .count()
        < 3
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "fewer than 3 startup probe failures"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !h.events_of(&uid, "Unhealthy")
            .iter()
            .any(|m| m.starts_with("Liveness")),
        "liveness ran before startup succeeded: {:?}",
        h.events_of(&uid, "Unhealthy")
    );
    let s = h.statuses.borrow()[&uid].clone();
    assert_eq!(restarts(&s, "web"), 0);
    assert_eq!(container(&s, "web").unwrap().started, Some(false));
    assert!(!container(&s, "web").unwrap().ready);
    // Started: now liveness runs (and passes once /healthz does).
    std::fs::remove_file(&unhealthy).unwrap();
    std::fs::write(volume_file(&g, &uid, "data", "started"), "").unwrap();
    let s = h
        .wait_status(&uid, "started and ready", |s| {
            container(s, "web").is_some_and(|c| c.started == Some(true) && c.ready)
        })
        .await;
    assert_eq!(restarts(&s, "web"), 0);

    // A startup probe that never passes kills the container.
    h.wait_event(
        &doomed,
        "Killing",
        "Container web failed startup probe, will be restarted",
    )
    .await;
    let msg = h
        .wait_event(&doomed, "Unhealthy", "Startup probe failed:")
        .await;
    assert!(msg.contains("connection refused"), "{msg}");
    h.wait_status(&doomed, "restarted", |s| restarts(s, "web") >= 1)
        .await;
    h.stop().await;
    g.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_hooks_and_grace_period() {
    if !is_root() {
        return;
    }
    let Some(wasm) = example("http-hello") else {
        return;
    };
    let g = Guard::new(6);
    let mut h = Harness::start(&g, |c| {
        c.backoff_initial = Duration::from_millis(100);
        c.backoff_max = Duration::from_millis(400);
    })
    .await;
    let hooks = format!("{}-hooks", g.net.cluster_name);
    let badstart = format!("{}-badstart", g.net.cluster_name);
    let forever = format!("{}-forever", g.net.cluster_name);
    let hooks_pod = pod_with(
        "hooks",
        &hooks,
        serde_json::json!({
            "containers": [web("web", &wasm, 8080, serde_json::json!({
                "lifecycle": {
                    "postStart": {"exec": {"command": ["touch", "/data/poststart"]}},
                    "preStop": {"exec": {"command": ["test", "-f", "/data/missing"]}},
                },
            }))],
        }),
    );
    let forever_pod = pod_with(
        "forever",
        &forever,
        serde_json::json!({
            "terminationGracePeriodSeconds": 30,
            "containers": [web("web", &wasm, 8080, serde_json::json!({
                "lifecycle": {"preStop": {"exec": {"command": ["sleep", "600"]}}},
            }))],
        }),
    );
    h.set_pods(vec![
        hooks_pod.clone(),
        forever_pod.clone(),
        pod_with("badstart", &badstart, serde_json::json!({
            "containers": [web("web", &wasm, 8080, serde_json::json!({
                "lifecycle": {"postStart": {"exec": {"command": ["test", "-f", "/data/missing"]}}},
            }))],
        })),
    ]);
    // postStart ran before the container was reported Running.
    h.wait_status(&hooks, "web running", |s| is_running(s, "web"))
        .await;
    assert!(volume_file(&g, &hooks, "data", "poststart").exists());
    assert!(
        !h.history(&hooks).iter().any(|s| is_running(s, "web")
            && !volume_file(&g, &hooks, "data", "poststart").exists()),
    );
    // A failing postStart kills the container; it is restarted.
    let msg = h
        .wait_event(&badstart, "FailedPostStartHook", "Exec lifecycle hook")
        .await;
    assert!(msg.contains("Container \"web\""), "{msg}");
    h.wait_status(&badstart, "restarted", |s| restarts(s, "web") >= 1)
        .await;
    assert!(
        !h.history(&badstart).iter().any(|s| is_running(s, "web")),
        "a container whose postStart fails is never Running"
    );
    h.wait_status(&forever, "web running", |s| is_running(s, "web"))
        .await;

    // preStop runs on deletion (it fails here, which does not stop the deletion).
    h.delete(hooks_pod, 30).await;
    let msg = h
        .wait_event(&hooks, "FailedPreStopHook", "Exec lifecycle hook")
        .await;
    assert!(
        msg.starts_with("Exec lifecycle hook ([test -f /data/missing]) for Container \"web\""),
        "{msg}"
    );
    assert!(msg.contains("exited with 1"), "{msg}");
    h.wait_event(&hooks, "Killing", "Stopping container web")
        .await;

    // A preStop that never ends is cut off by deletionGracePeriodSeconds:
    // deleted with the pod's 30 s, then again with 3 s (a later, shorter
    // grace period wins, as on the API server), the pod is gone within
    // grace + 1 s (plus slack for a loaded test machine).
    h.mark_deleted(forever_pod.clone(), 30);
    h.wait_event(&forever, "Killing", "Stopping container web")
        .await;
    let took = h.delete(forever_pod, 3).await;
    assert!(took < Duration::from_secs(3 + 3), "deletion took {took:?}");
    assert!(
        took >= Duration::from_millis(2500),
        "preStop was not waited for: {took:?}"
    );
    h.stop().await;
    g.assert_clean();
}

fn config_map(ns: &str, name: &str, rv: &str, data: serde_json::Value) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": ns, "resourceVersion": rv},
        "data": data,
    }))
    .unwrap()
}

impl Harness {
    /// Puts (or replaces) a ConfigMap in the desired state, as the link does.
    fn put_config_map(&self, cm: ConfigMap) {
        self.desired.send_modify(|d| {
            d.config_maps
                .insert(crate::agent::pods::object_key(&cm.metadata), cm);
        });
    }
}

async fn http_get_path(addr: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: pod\r\n\r\n").as_bytes())
        .await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

/// GETs `path` until the body satisfies `f` or `within` passes.
async fn get_until(
    addr: std::net::SocketAddr,
    path: &str,
    within: Duration,
    f: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + within;
    let mut last = String::new();
    loop {
        if let Ok(Ok(b)) =
            tokio::time::timeout(Duration::from_secs(5), http_get_path(addr, path)).await
        {
            if f(&b) {
                return b;
            }
            last = b;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "GET {addr}{path}: never as expected within {within:?}; last: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn first_waiting(s: &PodStatus) -> Option<(String, String)> {
    let w = s
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?
        .waiting
        .as_ref()?;
    Some((w.reason.clone()?, w.message.clone().unwrap_or_default()))
}

/// Both halves of "a pod waits for its ConfigMap" in one cluster (one slot):
/// a configMap volume waits with FailedMount, starts when the ConfigMap
/// appears and is then updated in place under the running guest; an env
/// configMapKeyRef waits with CreateContainerConfigError and starts too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_wait_for_their_config_maps_and_see_updates_in_place() {
    if !is_root() {
        return;
    }
    let Some(wasm) = example("http-hello") else {
        return;
    };
    let g = Guard::new(7);
    let mut h = Harness::start(&g, |_| {}).await;
    let vol_uid = format!("{}-cfgvol", g.net.cluster_name);
    let env_uid = format!("{}-cfgenv", g.net.cluster_name);
    h.set_pods(vec![
        pod(serde_json::json!({
            "metadata": {"name": "site", "namespace": "default", "uid": vol_uid},
            "spec": {"containers": [{
                "name": "web",
                "image": format!("file://{}", wasm.display()),
                "ports": [{"containerPort": 8080}],
                "env": [{"name": "SITE_DIR", "value": "/site"}],
                "volumeMounts": [{"name": "content", "mountPath": "/site"}],
            }], "volumes": [{"name": "content", "configMap": {"name": "pages", "items": [
                {"key": "index", "path": "index.html"},
            ]}}]},
        })),
        pod(serde_json::json!({
            "metadata": {"name": "greeter", "namespace": "default", "uid": env_uid},
            "spec": {"containers": [{
                "name": "web",
                "image": format!("file://{}", wasm.display()),
                "ports": [{"containerPort": 8080}],
                "env": [
                    {"name": "WHO", "valueFrom": {"configMapKeyRef": {"name": "greeting", "key": "who"}}},
                    {"name": "GREETING", "value": "hello $(WHO), $$(WHO) is literal"},
                ],
            }]},
        })),
    ]);

    // The volume's ConfigMap does not exist yet: ContainerCreating and FailedMount, as kubelet.
    h.wait_status(&vol_uid, "ContainerCreating", |s| {
        first_waiting(s).is_some_and(|(r, _)| r == "ContainerCreating")
    })
    .await;
    let msg = h.wait_event(&vol_uid, "FailedMount", "not found").await;
    assert_eq!(
        h.kind_of_event(&vol_uid, "FailedMount"),
        Some(EventKind::Warning)
    );
    assert_eq!(
        msg,
        "MountVolume.SetUp failed for volume \"content\" : configmap \"pages\" not found"
    );
    // The env's: CreateContainerConfigError and a Failed event, as kubelet.
    let s = h
        .wait_status(&env_uid, "CreateContainerConfigError", |s| {
            first_waiting(s).is_some_and(|(r, _)| r == "CreateContainerConfigError")
        })
        .await;
    assert_eq!(
        first_waiting(&s).unwrap().1,
        "configmap \"greeting\" not found"
    );
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    let msg = h.wait_event(&env_uid, "Failed", "greeting").await;
    assert_eq!(msg, "Error: configmap \"greeting\" not found");
    assert_eq!(
        h.kind_of_event(&env_uid, "Failed"),
        Some(EventKind::Warning)
    );

    // They appear: both pods start without being touched.
    h.put_config_map(config_map(
        "default",
        "pages",
        "1",
        serde_json::json!({"index": "version one"}),
    ));
    h.put_config_map(config_map(
        "default",
        "greeting",
        "2",
        serde_json::json!({"who": "world"}),
    ));
    let running = |s: &PodStatus| s.phase.as_deref() == Some("Running");
    let s = h.wait_status(&env_uid, "phase Running", running).await;
    let pod_ip: std::net::Ipv4Addr = s.pod_ip.as_deref().expect("podIP").parse().unwrap();
    let body = get_until((pod_ip, 8080).into(), "/", DEADLINE, |b| {
        b.contains(" 200 ")
    })
    .await;
    assert!(body.contains(": hello world, $(WHO) is literal"), "{body}");

    let s = h.wait_status(&vol_uid, "phase Running", running).await;
    let pod_ip: std::net::Ipv4Addr = s.pod_ip.as_deref().expect("podIP").parse().unwrap();
    let addr = std::net::SocketAddr::from((pod_ip, 8080));
    let body = get_until(addr, "/file/index.html", DEADLINE, |b| b.contains(" 200 ")).await;
    assert!(body.ends_with("version one"), "{body}");

    // Changed in place: the running guest sees the new content within 10 s.
    h.put_config_map(config_map(
        "default",
        "pages",
        "3",
        serde_json::json!({"index": "version two"}),
    ));
    let body = get_until(addr, "/file/index.html", Duration::from_secs(10), |b| {
        b.ends_with("version two")
    })
    .await;
    assert!(body.contains(" 200 "), "{body}");
    let dir = g.data.path().join(format!("volumes/{vol_uid}/content"));
    assert_eq!(
        std::fs::read_link(dir.join("index.html")).unwrap(),
        Path::new("..data/index.html")
    );
    assert!(
        std::fs::read_link(dir.join("..data"))
            .unwrap()
            .to_string_lossy()
            .starts_with("..20")
    );
    let restarts = h.statuses.borrow()[&vol_uid]
        .container_statuses
        .as_ref()
        .unwrap()[0]
        .restart_count;
    assert_eq!(restarts, 0, "the update must not restart the container");

    h.set_pods(vec![]);
    tokio::time::timeout(
        DEADLINE,
        h.statuses
            .wait_for(|m| !m.contains_key(&vol_uid) && !m.contains_key(&env_uid)),
    )
    .await
    .expect("statuses forgotten")
    .unwrap();
    assert!(!dir.exists(), "volume dir not removed");
    h.stop().await;
    g.assert_clean();
}
