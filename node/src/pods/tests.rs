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

/// Statuses as the manager reported them, latest per pod uid; and every
/// event, as (pod uid, type, reason, message).
#[derive(Default)]
struct Recorder {
    tx: watch::Sender<BTreeMap<String, PodStatus>>,
    events: watch::Sender<Vec<(String, EventKind, String, String)>>,
}

impl StatusSink for Recorder {
    fn report(&self, pod: PodRef, status: PodStatus) {
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
            .send_modify(|v| v.push((pod.uid, kind, reason.to_string(), message)));
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
    desired: watch::Sender<DesiredState>,
    statuses: watch::Receiver<BTreeMap<String, PodStatus>>,
    events: watch::Receiver<Vec<(String, EventKind, String, String)>>,
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
        let events = rec.events.subscribe();
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
            PodManager::new(cfg, engine, net.clone(), rec).run(desired_rx, shutdown.clone()),
        );
        Harness {
            desired,
            statuses,
            events,
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

    /// Waits (up to [`DEADLINE`]) for an event of `uid` with this reason whose message contains `text`.
    async fn wait_event(&mut self, uid: &str, reason: &str, text: &str) -> (EventKind, String) {
        let got = tokio::time::timeout(
            DEADLINE,
            self.events.wait_for(|v| {
                v.iter()
                    .any(|(u, _, r, m)| u == uid && r == reason && m.contains(text))
            }),
        )
        .await
        .ok()
        .and_then(Result::ok)
        .and_then(|v| {
            v.iter()
                .find(|(u, _, r, m)| u == uid && r == reason && m.contains(text))
                .map(|(_, k, _, m)| (*k, m.clone()))
        });
        got.unwrap_or_else(|| {
            panic!(
                "timed out waiting for a {reason} event containing {text:?}; events: {:#?}",
                self.events.borrow()
            )
        })
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

fn waiting_reason(s: &PodStatus) -> Option<(String, String)> {
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
        waiting_reason(s).is_some_and(|(r, _)| r == "ContainerCreating")
    })
    .await;
    let (kind, msg) = h.wait_event(&vol_uid, "FailedMount", "not found").await;
    assert_eq!(kind, EventKind::Warning);
    assert_eq!(
        msg,
        "MountVolume.SetUp failed for volume \"content\" : configmap \"pages\" not found"
    );
    // The env's: CreateContainerConfigError and a Failed event, as kubelet.
    let s = h
        .wait_status(&env_uid, "CreateContainerConfigError", |s| {
            waiting_reason(s).is_some_and(|(r, _)| r == "CreateContainerConfigError")
        })
        .await;
    assert_eq!(
        waiting_reason(&s).unwrap().1,
        "configmap \"greeting\" not found"
    );
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    let (kind, msg) = h.wait_event(&env_uid, "Failed", "greeting").await;
    assert_eq!(
        (kind, msg.as_str()),
        (
            EventKind::Warning,
            "Error: configmap \"greeting\" not found"
        )
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
