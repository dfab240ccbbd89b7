//! The orchestrator's node link, driven by a minimal node written against the
//! protocol types: join with a token, mutual TLS, registration, lease, desired
//! pods, pod status and its authorization, resync after a restart.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use regatta_api::k8s_openapi::api::core::v1::{NodeStatus, PodStatus};
use regatta_api::node_protocol::{
    self as proto, ErrorCode, ErrorMessage, Hello, JoinRequest, NodeMessage, PodRef,
    PodStatusUpdate, ServerMessage,
};
use regatta_api::registry;
use regatta_orchestrator::apiserver::rest::{DeleteOpts, WriteOpts};
use regatta_orchestrator::config::ClusterFlags;
use regatta_orchestrator::control_plane::ControlPlane;
use regatta_orchestrator::nodelink::token;
use regatta_orchestrator::pki::Ca;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    f: ClusterFlags,
}

fn flags(dir: &std::path::Path, node_listen: &str) -> ClusterFlags {
    Flags::parse_from([
        "t",
        "--data-dir",
        dir.to_str().unwrap(),
        "--api-listen",
        "127.0.0.1:0",
        "--node-listen",
        node_listen,
        "--cluster-name",
        "it",
    ])
    .f
}

struct Running {
    cp: ControlPlane,
    stop: CancellationToken,
}

async fn start(dir: &std::path::Path, node_listen: &str) -> Running {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let stop = CancellationToken::new();
    let cp = ControlPlane::start(&flags(dir, node_listen), stop.clone())
        .await
        .unwrap();
    Running { cp, stop }
}

impl Running {
    async fn shutdown(self) {
        self.stop.cancel();
        self.cp.wait().await;
    }
}

fn client_config(ca_pem: &str, cert: Option<(&str, &str)>) -> quinn::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots);
    let mut tls = match cert {
        Some((c, k)) => b
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(c.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(k.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => b.with_no_client_auth(),
    };
    tls.alpn_protocols = vec![proto::ALPN.to_vec()];
    quinn::ClientConfig::new(Arc::new(
        quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap(),
    ))
}

struct Stream {
    conn: quinn::Connection,
    send: quinn::SendStream,
    recv: quinn::RecvStream,
}

async fn open(addr: SocketAddr, cfg: quinn::ClientConfig) -> Stream {
    let ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let conn = ep
        .connect_with(cfg, addr, proto::SERVER_NAME)
        .unwrap()
        .await
        .unwrap();
    let (send, recv) = conn.open_bi().await.unwrap();
    Stream { conn, send, recv }
}

impl Stream {
    async fn send(&mut self, m: &NodeMessage) {
        self.send
            .write_all(&proto::encode(m).unwrap())
            .await
            .unwrap();
    }

    /// The next message, or `None` if the stream ended.
    async fn recv(&mut self) -> Option<ServerMessage> {
        let read = async {
            let mut h = [0u8; 4];
            self.recv.read_exact(&mut h).await.ok()?;
            let mut body = vec![0u8; proto::body_len(h).unwrap()];
            self.recv.read_exact(&mut body).await.ok()?;
            Some(proto::decode_body(&body).unwrap())
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("a message within 10s")
    }

    /// Skips messages until one matches.
    async fn recv_until(
        &mut self,
        what: &str,
        f: impl Fn(&ServerMessage) -> bool,
    ) -> ServerMessage {
        loop {
            match self.recv().await {
                Some(m) if f(&m) => return m,
                Some(_) => continue,
                None => panic!("stream ended waiting for {what}"),
            }
        }
    }
}

fn csr(name: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, format!("system:node:{name}"));
    (
        p.serialize_request(&key).unwrap().pem().unwrap(),
        key.serialize_pem(),
    )
}

async fn join(
    addr: SocketAddr,
    ca_pem: &str,
    tok: &str,
    name: &str,
) -> Result<(String, String), ErrorMessage> {
    let (csr_pem, key_pem) = csr(name);
    let mut s = open(addr, client_config(ca_pem, None)).await;
    s.send(&NodeMessage::Join(JoinRequest {
        version: proto::PROTOCOL_VERSION,
        token: tok.into(),
        node_name: name.into(),
        csr_pem,
    }))
    .await;
    match s.recv().await {
        Some(ServerMessage::Joined(r)) => {
            assert_eq!(r.ca_pem, ca_pem);
            assert_eq!(r.cluster.cluster_name, "it");
            Ok((r.client_cert_pem, key_pem))
        }
        Some(ServerMessage::Error(e)) => Err(e),
        other => panic!("unexpected join answer {other:?}"),
    }
}

fn hello(name: &str) -> NodeMessage {
    let status: NodeStatus = serde_json::from_value(json!({
        "capacity": {"cpu": "2", "memory": "4Gi", "pods": "1000"},
        "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "1000"},
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "nodeInfo": {
            "architecture": "amd64", "bootID": "", "containerRuntimeVersion": "wasmtime://48.0.8",
            "kernelVersion": "", "kubeProxyVersion": "", "kubeletVersion": "v1.32.0", "machineID": "",
            "operatingSystem": "linux", "osImage": "test", "systemUUID": "",
        },
    }))
    .unwrap();
    NodeMessage::Hello(Box::new(Hello {
        version: proto::PROTOCOL_VERSION,
        node_name: name.into(),
        status,
    }))
}

async fn wait_for<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn pod(name: &str, node: &str) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "file:///hello.wasm"}]},
    })
}

fn status_update(p: &Value, phase: &str) -> NodeMessage {
    NodeMessage::PodStatus(Box::new(PodStatusUpdate {
        pod: PodRef {
            namespace: "default".into(),
            name: p["metadata"]["name"].as_str().unwrap().into(),
            uid: p["metadata"]["uid"].as_str().unwrap().into(),
        },
        terminated: false,
        status: PodStatus {
            phase: Some(phase.into()),
            ..Default::default()
        },
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_join_register_get_pods_and_report_status() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path(), "127.0.0.1:0").await;
    let addr = r.cp.node_addr;
    assert_eq!(
        std::fs::read_to_string(dir.path().join("node-listen"))
            .unwrap()
            .trim(),
        addr.to_string()
    );
    let rest = &r.cp.api.rest;
    let ca = Ca::load_or_create(dir.path(), "it").unwrap();
    let t = token::create(rest, &ca.hash().unwrap(), token::DEFAULT_TTL, "test")
        .await
        .unwrap();

    // A wrong token is refused with a clear error; the right one yields a certificate.
    let wrong = format!("{}.{}", t.id, "x".repeat(16));
    let e = join(addr, &ca.cert_pem, &wrong, "n1").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthorized);
    assert!(
        e.message.contains("bootstrap token is invalid or expired"),
        "{}",
        e.message
    );
    let (cert, key) = join(addr, &ca.cert_pem, &t.bootstrap(), "n1")
        .await
        .unwrap();

    // Without a client certificate, the control stream is refused.
    let mut anon = open(addr, client_config(&ca.cert_pem, None)).await;
    anon.send(&hello("n1")).await;
    match anon.recv().await {
        Some(ServerMessage::Error(e)) => {
            assert_eq!(e.code, ErrorCode::Unauthorized);
            assert!(e.message.contains("client certificate"), "{}", e.message);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // A Hello naming another node than the certificate is refused too.
    let mut liar = open(addr, client_config(&ca.cert_pem, Some((&cert, &key)))).await;
    liar.send(&hello("n2")).await;
    assert!(matches!(
        liar.recv().await,
        Some(ServerMessage::Error(ErrorMessage {
            code: ErrorCode::Unauthorized,
            ..
        }))
    ));

    // mTLS: Welcome with a /24 podCIDR, then an (empty) snapshot.
    let mut s = open(addr, client_config(&ca.cert_pem, Some((&cert, &key)))).await;
    s.send(&hello("n1")).await;
    let Some(ServerMessage::Welcome(w)) = s.recv().await else {
        panic!("expected Welcome")
    };
    assert_eq!(w.node_name, "n1");
    assert_eq!(w.pod_cidr.prefix_len(), 24);
    assert!(
        "10.244.0.0/16"
            .parse::<ipnet::Ipv4Net>()
            .unwrap()
            .contains(&w.pod_cidr)
    );
    match s.recv().await {
        Some(ServerMessage::DesiredPods(d)) => assert!(d.complete && d.pods.is_empty()),
        other => panic!("expected a snapshot, got {other:?}"),
    }

    // The Node object: podCIDR, Ready, capacity; and its Lease.
    let nodes = registry::by_kind("v1", "Node").unwrap();
    let node = rest.get(nodes, None, "n1").await.unwrap();
    assert_eq!(node["spec"]["podCIDR"], w.pod_cidr.to_string());
    assert_eq!(node["spec"]["podCIDRs"], json!([w.pod_cidr.to_string()]));
    let ready = node["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["status"], "True");
    // Quantities are stored canonical, as Kubernetes does.
    assert_eq!(node["status"]["capacity"]["pods"], "1k");
    assert_eq!(
        node["status"]["nodeInfo"]["containerRuntimeVersion"],
        "wasmtime://48.0.8"
    );
    let leases = registry::by_kind("coordination.k8s.io/v1", "Lease").unwrap();
    let lease = rest
        .get(leases, Some("kube-node-lease"), "n1")
        .await
        .map_err(|e| e.message)
        .unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "n1");
    let renewed = lease["spec"]["renewTime"].as_str().unwrap().to_string();
    s.send(&NodeMessage::Heartbeat).await;
    wait_for("the lease to be renewed", async || {
        let l = rest.get(leases, Some("kube-node-lease"), "n1").await.ok()?;
        (l["spec"]["renewTime"].as_str() != Some(&renewed)).then_some(())
    })
    .await;

    // A pod bound to n1 reaches it; one bound to n2 does not.
    let pods = registry::by_kind("v1", "Pod").unwrap();
    let opts = WriteOpts::default();
    let other = rest
        .create(pods, Some("default"), pod("elsewhere", "n2"), &opts)
        .await
        .unwrap()
        .object;
    let mine = rest
        .create(pods, Some("default"), pod("mine", "n1"), &opts)
        .await
        .unwrap()
        .object;
    let m = s
        .recv_until("the pod to arrive", |m| {
            matches!(m, ServerMessage::PodUpserted { .. })
        })
        .await;
    let ServerMessage::PodUpserted { pod: got } = m else {
        unreachable!()
    };
    assert_eq!(got.metadata.name.as_deref(), Some("mine"));

    // Its status lands in the API; a status for the other node's pod is refused.
    s.send(&status_update(&mine, "Running")).await;
    wait_for("the reported status", async || {
        let p = rest.get(pods, Some("default"), "mine").await.ok()?;
        (p["status"]["phase"] == "Running").then_some(())
    })
    .await;
    let p = rest.get(pods, Some("default"), "mine").await.unwrap();
    assert_eq!(
        p["status"]["qosClass"], "BestEffort",
        "server-set status fields stay"
    );
    s.send(&status_update(&other, "Running")).await;
    match s
        .recv_until("the refusal", |m| matches!(m, ServerMessage::Error(_)))
        .await
    {
        ServerMessage::Error(e) => {
            assert_eq!(e.code, ErrorCode::Forbidden);
            assert!(
                e.message.contains("spec.nodeName set to itself"),
                "{}",
                e.message
            );
        }
        _ => unreachable!(),
    }
    let o = rest.get(pods, Some("default"), "elsewhere").await.unwrap();
    assert_eq!(o["status"]["phase"], "Pending");
    // The session survives a refusal: a delete still arrives.
    rest.delete(
        pods,
        Some("default"),
        "mine",
        &DeleteOpts {
            grace_period_seconds: Some(0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let m = s
        .recv_until("the removal", |m| {
            matches!(m, ServerMessage::PodRemoved { .. })
        })
        .await;
    let ServerMessage::PodRemoved { pod: gone } = m else {
        unreachable!()
    };
    assert_eq!(gone.name, "mine");

    // A second node gets another /24.
    let (cert2, key2) = join(addr, &ca.cert_pem, &t.bootstrap(), "n2")
        .await
        .unwrap();
    let mut s2 = open(addr, client_config(&ca.cert_pem, Some((&cert2, &key2)))).await;
    s2.send(&hello("n2")).await;
    let Some(ServerMessage::Welcome(w2)) = s2.recv().await else {
        panic!("expected Welcome")
    };
    assert_ne!(w2.pod_cidr, w.pod_cidr);
    match s2.recv().await {
        Some(ServerMessage::DesiredPods(d)) => {
            assert_eq!(d.pods.len(), 1);
            assert_eq!(d.pods[0].metadata.name.as_deref(), Some("elsewhere"));
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }
    drop((s, s2, anon, liar));
    r.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_resyncs_after_the_orchestrator_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path(), "127.0.0.1:0").await;
    let addr = r.cp.node_addr;
    let ca = Ca::load_or_create(dir.path(), "it").unwrap();
    let t = token::create(
        &r.cp.api.rest,
        &ca.hash().unwrap(),
        token::DEFAULT_TTL,
        "test",
    )
    .await
    .unwrap();
    let (cert, key) = join(addr, &ca.cert_pem, &t.bootstrap(), "n1")
        .await
        .unwrap();
    let mut s = open(addr, client_config(&ca.cert_pem, Some((&cert, &key)))).await;
    s.send(&hello("n1")).await;
    let Some(ServerMessage::Welcome(w)) = s.recv().await else {
        panic!("expected Welcome")
    };
    let pods = registry::by_kind("v1", "Pod").unwrap();
    r.cp.api
        .rest
        .create(pods, Some("default"), pod("p", "n1"), &WriteOpts::default())
        .await
        .unwrap();
    s.recv_until("the pod", |m| {
        matches!(m, ServerMessage::PodUpserted { .. })
    })
    .await;

    // The orchestrator goes away: the node hears why.
    r.shutdown().await;
    assert!(s.recv().await.is_none());
    let reason = s.conn.closed().await.to_string();
    assert!(reason.contains("shutting down"), "{reason}");

    // Same data dir, same port: the stored certificate still works, the podCIDR
    // is the same, and the snapshot has the pod.
    let r = start(dir.path(), &addr.to_string()).await;
    let mut s = open(addr, client_config(&ca.cert_pem, Some((&cert, &key)))).await;
    s.send(&hello("n1")).await;
    let Some(ServerMessage::Welcome(w2)) = s.recv().await else {
        panic!("expected Welcome")
    };
    assert_eq!(w2.pod_cidr, w.pod_cidr);
    match s.recv().await {
        Some(ServerMessage::DesiredPods(d)) => {
            assert!(d.complete);
            assert_eq!(d.pods.len(), 1);
            assert_eq!(d.pods[0].metadata.name.as_deref(), Some("p"));
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }
    drop(s);
    r.shutdown().await;
}

fn in_ns(mut v: Value, ns: &str) -> Value {
    v["metadata"]["namespace"] = json!(ns);
    v
}

fn pod_event(p: &Value, reason: &str, message: &str) -> NodeMessage {
    NodeMessage::Event(Box::new(proto::PodEvent {
        pod: PodRef {
            namespace: p["metadata"]["namespace"].as_str().unwrap().into(),
            name: p["metadata"]["name"].as_str().unwrap().into(),
            uid: p["metadata"]["uid"].as_str().unwrap().into(),
        },
        event_type: "Warning".into(),
        reason: reason.into(),
        message: message.into(),
        field_path: None,
        timestamp: None,
    }))
}

/// The names a message carries, for asserting what a node was sent.
fn sent_names(m: &ServerMessage) -> Vec<String> {
    let name = |m: &regatta_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        format!(
            "{}/{}",
            m.namespace.as_deref().unwrap_or(""),
            m.name.as_deref().unwrap_or("")
        )
    };
    match m {
        ServerMessage::DesiredPods(d) => d
            .config_maps
            .iter()
            .map(|c| format!("configmap {}", name(&c.metadata)))
            .chain(
                d.secrets
                    .iter()
                    .map(|c| format!("secret {}", name(&c.metadata))),
            )
            .chain(
                d.services
                    .iter()
                    .map(|c| format!("service {}", name(&c.metadata))),
            )
            .collect(),
        ServerMessage::ConfigMapUpserted { config_map } => {
            vec![format!("configmap {}", name(&config_map.metadata))]
        }
        ServerMessage::SecretUpserted { secret } => {
            vec![format!("secret {}", name(&secret.metadata))]
        }
        ServerMessage::ServiceUpserted { service } => {
            vec![format!("service {}", name(&service.metadata))]
        }
        _ => vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_get_the_objects_of_their_namespaces_and_record_events() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path(), "127.0.0.1:0").await;
    let addr = r.cp.node_addr;
    let rest = &r.cp.api.rest;
    let ca = Ca::load_or_create(dir.path(), "it").unwrap();
    let t = token::create(rest, &ca.hash().unwrap(), token::DEFAULT_TTL, "test")
        .await
        .unwrap();
    let opts = WriteOpts::default();
    let kind = |k: &str| registry::by_kind("v1", k).unwrap();
    for ns in ["team-a", "team-b"] {
        let _ = rest
            .create(
                kind("Namespace"),
                None,
                json!({"metadata": {"name": ns}}),
                &opts,
            )
            .await;
    }
    let mk = async |k: &str, ns: &str, v: Value| {
        rest.create(kind(k), Some(ns), in_ns(v, ns), &opts)
            .await
            .map_err(|e| e.message)
            .unwrap()
            .object
    };
    mk(
        "ConfigMap",
        "team-a",
        json!({"metadata": {"name": "cfg"}, "data": {"k": "v"}}),
    )
    .await;
    mk(
        "Secret",
        "team-a",
        json!({"metadata": {"name": "sa"}, "data": {"pw": "aHVudGVyMg=="}}),
    )
    .await;
    mk(
        "Secret",
        "team-b",
        json!({"metadata": {"name": "sb"}, "data": {"pw": "b3RoZXI="}}),
    )
    .await;
    mk(
        "Service",
        "team-b",
        json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}),
    )
    .await;
    let p = mk("Pod", "team-a", pod("p", "n1")).await;
    let foreign = mk("Pod", "team-a", pod("x", "n2")).await;

    let (cert, key) = join(addr, &ca.cert_pem, &t.bootstrap(), "n1")
        .await
        .unwrap();
    let mut s = open(addr, client_config(&ca.cert_pem, Some((&cert, &key)))).await;
    s.send(&hello("n1")).await;
    let Some(ServerMessage::Welcome(_)) = s.recv().await else {
        panic!("expected Welcome")
    };
    // The snapshot: team-a's ConfigMap and Secret, every Service, no team-b Secret.
    let snap = s.recv().await.unwrap();
    let ServerMessage::DesiredPods(d) = &snap else {
        panic!("expected a snapshot")
    };
    assert!(d.complete);
    assert_eq!(d.pods.len(), 1);
    let names = sent_names(&snap);
    assert!(
        names.contains(&"configmap team-a/cfg".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&"secret team-a/sa".to_string()), "{names:?}");
    assert!(
        names.contains(&"service team-b/web".to_string()),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("secret team-b/")),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("configmap team-b/")),
        "{names:?}"
    );

    // Later objects follow: a team-a ConfigMap arrives, a team-b Secret does not.
    mk(
        "Secret",
        "team-b",
        json!({"metadata": {"name": "sb2"}, "data": {"pw": "eA=="}}),
    )
    .await;
    mk(
        "ConfigMap",
        "team-a",
        json!({"metadata": {"name": "late"}, "data": {"k": "v"}}),
    )
    .await;
    loop {
        let m = s.recv().await.expect("a message");
        let names = sent_names(&m);
        assert!(
            !names.iter().any(|n| n.starts_with("secret team-b/")),
            "{names:?}"
        );
        if names.contains(&"configmap team-a/late".to_string()) {
            break;
        }
    }

    // A pod in team-b: its Secrets come first, and go with the pod.
    let pb = mk("Pod", "team-b", pod("pb", "n1")).await;
    let mut got = Vec::new();
    loop {
        let m = s.recv().await.expect("a message");
        if let ServerMessage::PodUpserted { pod } = &m {
            assert_eq!(pod.metadata.name.as_deref(), Some("pb"));
            break;
        }
        got.extend(sent_names(&m));
    }
    assert!(got.contains(&"secret team-b/sb".to_string()), "{got:?}");
    assert!(got.contains(&"secret team-b/sb2".to_string()), "{got:?}");
    rest.delete(
        kind("Pod"),
        Some("team-b"),
        pb["metadata"]["name"].as_str().unwrap(),
        &DeleteOpts {
            grace_period_seconds: Some(0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut withdrawn = Vec::new();
    while withdrawn.len() < 2 {
        if let ServerMessage::ObjectRemoved { object } = s.recv().await.expect("a message") {
            assert_eq!(object.namespace, "team-b");
            withdrawn.push(object.name);
        }
    }
    withdrawn.sort();
    assert_eq!(withdrawn, vec!["sb", "sb2"]);

    // An Event about its pod lands as a core/v1 Event; a repeat bumps count.
    let events = kind("Event");
    let msg = "MountVolume.SetUp failed for volume \"cfg\" : configmap \"x\" not found";
    s.send(&pod_event(&p, "FailedMount", msg)).await;
    let ev = wait_for("the event", async || {
        let l = rest
            .list(events, Some("team-a"), &Default::default())
            .await
            .ok()?;
        l.items.into_iter().find(|e| e["reason"] == "FailedMount")
    })
    .await;
    assert_eq!(ev["type"], "Warning");
    assert_eq!(ev["message"], msg);
    assert_eq!(ev["count"], 1);
    assert_eq!(ev["involvedObject"]["kind"], "Pod");
    assert_eq!(ev["involvedObject"]["name"], "p");
    assert_eq!(ev["involvedObject"]["uid"], p["metadata"]["uid"]);
    assert!(ev["involvedObject"]["resourceVersion"].is_string(), "{ev}");
    assert_eq!(ev["source"], json!({"component": "kubelet", "host": "n1"}));
    assert_eq!(ev["reportingComponent"], "kubelet");
    assert_eq!(ev["reportingInstance"], "n1");
    assert!(ev["firstTimestamp"].is_string() && ev["lastTimestamp"].is_string());
    s.send(&pod_event(&p, "FailedMount", msg)).await;
    let name = ev["metadata"]["name"].as_str().unwrap().to_string();
    wait_for("the count to be bumped", async || {
        let e = rest.get(events, Some("team-a"), &name).await.ok()?;
        (e["count"] == 2).then_some(())
    })
    .await;
    // kubectl describe's query finds it.
    let sel = regatta_api::selector::FieldSelector::parse(&format!(
        "involvedObject.name=p,involvedObject.namespace=team-a,involvedObject.uid={}",
        p["metadata"]["uid"].as_str().unwrap()
    ))
    .unwrap();
    let l = rest
        .list(
            events,
            Some("team-a"),
            &regatta_orchestrator::apiserver::rest::ListOpts {
                field_selector: sel,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(l.items.len(), 1);

    // An Event about another node's pod is refused and writes nothing.
    s.send(&pod_event(&foreign, "Failed", "nope")).await;
    match s
        .recv_until("the refusal", |m| matches!(m, ServerMessage::Error(_)))
        .await
    {
        ServerMessage::Error(e) => {
            assert_eq!(e.code, ErrorCode::Forbidden);
            assert!(e.message.contains("bound to \"n2\""), "{}", e.message);
        }
        _ => unreachable!(),
    }
    let l = rest
        .list(events, Some("team-a"), &Default::default())
        .await
        .unwrap();
    assert!(
        !l.items.iter().any(|e| e["involvedObject"]["name"] == "x"),
        "an event for a foreign pod was written"
    );
    drop(s);
    r.shutdown().await;
}
