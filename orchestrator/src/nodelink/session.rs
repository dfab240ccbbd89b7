//! One node connection: a join (token → client certificate) or a control
//! session (Hello → Welcome → desired pods and the objects they read; pod
//! status, events and heartbeats back).
//!
//! Authorization is by the client certificate alone: every write a session
//! makes is to the Node, Lease, pods or pod Events of the name in that
//! certificate, never to a name a message carries.
//!
//! What a node reads: its pods; every ConfigMap and Secret of a namespace
//! where at least one of its pods is (so one that appears later arrives too);
//! every Service. Invariant: a Secret of a namespace where the node has no pod
//! is never sent; when its last pod of a namespace goes, the ConfigMaps and
//! Secrets of that namespace are withdrawn (`ObjectRemoved`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use regatta_api::node_protocol::{
    self as proto, ErrorCode, ErrorMessage, JoinRequest, JoinResponse, JoinToken, NodeMessage,
    ObjectKind, ObjectRef, PodRef, ServerMessage, close,
};
use regatta_api::registry::{self, ResourceType};
use regatta_api::selector::FieldSelector;
use serde_json::Value;
use tokio::sync::mpsc;

use super::events::{self, EventRefused};
use super::registration::{self, PodRefused};
use super::wire::{self, WireError};
use super::{Link, token};
use crate::apiserver::objects;
use crate::apiserver::rest::ListOpts;
use crate::store::{Event, KeyValue, WatchStream};

/// How long a new connection may take to send its first message.
const FIRST_MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);
/// Snapshot frames are cut at about this size, well under the frame cap.
const SNAPSHOT_CHUNK_BYTES: usize = 4 << 20;

/// The subject of a verified client certificate.
struct Peer {
    addr: SocketAddr,
    /// (CN, O…) when the peer presented a certificate the CA signed.
    subject: Option<(String, Vec<String>)>,
}

fn subject_of(conn: &quinn::Connection) -> Option<(String, Vec<String>)> {
    let certs = conn
        .peer_identity()?
        .downcast::<Vec<rustls_pki_types::CertificateDer<'static>>>()
        .ok()?;
    crate::pki::subject_of(certs.first()?.as_ref())
}

/// Serves one connection to its end.
pub async fn serve(link: Arc<Link>, incoming: quinn::Incoming) {
    let addr = incoming.remote_address();
    let conn = match incoming.await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(peer = %addr, error = %e, "node link: handshake failed; connection refused");
            return;
        }
    };
    let peer = Peer {
        addr,
        subject: subject_of(&conn),
    };
    let stream = tokio::select! {
        _ = link.shutdown.cancelled() => return,
        s = tokio::time::timeout(FIRST_MESSAGE_TIMEOUT, conn.accept_bi()) => s,
    };
    let (mut send, mut recv) = match stream {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(peer = %addr, error = %e, "node link: connection closed before a stream opened");
            return;
        }
        Err(_) => {
            conn.close(close::PROTOCOL.into(), b"no stream opened in time");
            return;
        }
    };
    let first =
        tokio::time::timeout(FIRST_MESSAGE_TIMEOUT, wire::read::<NodeMessage>(&mut recv)).await;
    match first {
        Ok(Ok(Some(NodeMessage::Join(req)))) => join(&link, &peer, &conn, send, req).await,
        Ok(Ok(Some(NodeMessage::Hello(hello)))) => {
            Control::start(link, peer, conn, send, recv, *hello).await
        }
        Ok(Ok(Some(_))) => {
            refuse(
                &conn,
                &mut send,
                ErrorCode::BadRequest,
                "the first message must be Join or Hello".into(),
            )
            .await
        }
        Ok(Ok(None)) => {}
        Ok(Err(e)) => {
            tracing::warn!(peer = %addr, error = %e, "node link: bad first frame; closing");
            conn.close(close::PROTOCOL.into(), e.to_string().as_bytes());
        }
        Err(_) => conn.close(close::PROTOCOL.into(), b"no message in time"),
    }
}

/// Sends `msg` and waits (briefly) until the peer has it, then closes.
async fn send_and_close(
    conn: &quinn::Connection,
    send: &mut quinn::SendStream,
    msg: &ServerMessage,
    code: u32,
    reason: &str,
) {
    if wire::write(send, msg).await.is_ok() && send.finish().is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(2), send.stopped()).await;
    }
    let reason: String = reason.chars().take(400).collect();
    conn.close(code.into(), reason.as_bytes());
}

async fn refuse(
    conn: &quinn::Connection,
    send: &mut quinn::SendStream,
    code: ErrorCode,
    message: String,
) {
    let msg = ServerMessage::Error(ErrorMessage {
        code,
        message: message.clone(),
    });
    let close_code = match code {
        ErrorCode::BadRequest => close::PROTOCOL,
        _ => close::REFUSED,
    };
    send_and_close(conn, send, &msg, close_code, &message).await;
}

async fn join(
    link: &Link,
    peer: &Peer,
    conn: &quinn::Connection,
    mut send: quinn::SendStream,
    req: JoinRequest,
) {
    let name = req.node_name.clone();
    if req.version != proto::PROTOCOL_VERSION {
        let m = format!(
            "protocol version {} is not supported; this orchestrator speaks {}",
            req.version,
            proto::PROTOCOL_VERSION
        );
        tracing::warn!(peer = %peer.addr, node = %name, "node join refused: {m}");
        return refuse(conn, &mut send, ErrorCode::UnsupportedVersion, m).await;
    }
    let errs = regatta_api::validation::is_dns1123_subdomain(&name);
    if !errs.is_empty() {
        let m = format!("node name {name:?} is invalid: {}", errs.join("; "));
        tracing::warn!(peer = %peer.addr, "node join refused: {m}");
        return refuse(conn, &mut send, ErrorCode::BadRequest, m).await;
    }
    let checked = match req.token.parse::<JoinToken>() {
        Ok(t) => token::validate(&link.api.rest, &t)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(why) = checked {
        tracing::warn!(peer = %peer.addr, node = %name, reason = %why, "node join refused: bad bootstrap token");
        return refuse(
            conn,
            &mut send,
            ErrorCode::Unauthorized,
            "join refused: the bootstrap token is invalid or expired (create one with `orchestrator token create`)".into(),
        )
        .await;
    }
    let user = format!("{}{name}", proto::NODE_USER_PREFIX);
    let cert = match link
        .ca
        .sign_client_request(&req.csr_pem, &user, &[proto::NODES_GROUP])
    {
        Ok(c) => c,
        Err(e) => {
            let m = format!("the certificate request is invalid: {e:#}");
            tracing::warn!(peer = %peer.addr, node = %name, "node join refused: {m}");
            return refuse(conn, &mut send, ErrorCode::BadRequest, m).await;
        }
    };
    tracing::info!(peer = %peer.addr, node = %name, "node joined: issued a client certificate for {user}");
    let msg = ServerMessage::Joined(JoinResponse {
        client_cert_pem: cert,
        ca_pem: link.ca.cert_pem.clone(),
        cluster: link.facts.clone(),
    });
    send_and_close(conn, &mut send, &msg, close::DONE, "joined").await;
}

/// Where a pod change leaves this node's desired set.
fn delta(node: &str, ev: &Event) -> Option<ServerMessage> {
    let on_node = |v: &Value| v["spec"]["nodeName"].as_str() == Some(node);
    let decode = decode_kv;
    match ev {
        Event::Put { kv, prev } => {
            let new = decode(kv)?;
            let old = prev.as_ref().and_then(decode);
            if on_node(&new) {
                // The node wrote that status itself: echoing it back would wake
                // its pod manager for nothing (three times per pod start).
                if old
                    .as_ref()
                    .is_some_and(|o| on_node(o) && only_status_differs(o, &new))
                {
                    return None;
                }
                return to_pod(new).map(|p| ServerMessage::PodUpserted { pod: Box::new(p) });
            }
            let old = old?;
            on_node(&old).then(|| ServerMessage::PodRemoved { pod: pod_ref(&old) })
        }
        Event::Delete { prev, .. } => {
            let old = decode(prev)?;
            on_node(&old).then(|| ServerMessage::PodRemoved { pod: pod_ref(&old) })
        }
    }
}

/// Whether two versions of an object differ only in `status` and
/// `metadata.resourceVersion`/`managedFields` (what a status write changes).
/// Compares in place: it runs for every pod write a node session sees.
fn only_status_differs(old: &Value, new: &Value) -> bool {
    fn same_except(a: &Value, b: &Value, skip: &[&str]) -> bool {
        let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
            return a == b;
        };
        a.iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .all(|(k, v)| b.get(k) == Some(v))
            && b.keys()
                .filter(|k| !skip.contains(&k.as_str()))
                .all(|k| a.contains_key(k))
    }
    same_except(old, new, &["status", "metadata"])
        && same_except(
            &old["metadata"],
            &new["metadata"],
            &["resourceVersion", "managedFields"],
        )
}

fn decode_kv(kv: &KeyValue) -> Option<Value> {
    objects::from_kv(kv).ok()
}

/// Cuts a snapshot into frames of about [`SNAPSHOT_CHUNK_BYTES`]; the last is `complete`.
fn split_snapshot(snap: proto::DesiredPods) -> Vec<proto::DesiredPods> {
    let empty = |revision| proto::DesiredPods {
        revision,
        pods: Vec::new(),
        complete: false,
        config_maps: Vec::new(),
        secrets: Vec::new(),
        services: Vec::new(),
    };
    let rev = snap.revision;
    let mut out = vec![empty(rev)];
    let mut used = 0;
    let mut room = |n: usize, out: &mut Vec<proto::DesiredPods>| {
        if used > 0 && used + n > SNAPSHOT_CHUNK_BYTES {
            out.push(empty(rev));
            used = 0;
        }
        used += n;
    };
    for p in snap.pods {
        room(json_len(&p), &mut out);
        out.last_mut().expect("one").pods.push(p);
    }
    for c in snap.config_maps {
        room(json_len(&c), &mut out);
        out.last_mut().expect("one").config_maps.push(c);
    }
    for c in snap.secrets {
        room(json_len(&c), &mut out);
        out.last_mut().expect("one").secrets.push(c);
    }
    for c in snap.services {
        room(json_len(&c), &mut out);
        out.last_mut().expect("one").services.push(c);
    }
    out.last_mut().expect("one").complete = true;
    out
}

/// The encoded length of an object, for cutting snapshots.
fn json_len<T: serde::Serialize>(v: &T) -> usize {
    serde_json::to_vec(v).map(|v| v.len()).unwrap_or(0)
}

fn pod_ref(v: &Value) -> PodRef {
    let s = |f: &str| v["metadata"][f].as_str().unwrap_or("").to_string();
    PodRef {
        namespace: s("namespace"),
        name: s("name"),
        uid: s("uid"),
    }
}

fn to_pod(v: Value) -> Option<Pod> {
    let r = pod_ref(&v);
    match serde_json::from_value(v) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(pod = %format!("{}/{}", r.namespace, r.name), error = %e, "node link: pod does not decode; not sent");
            None
        }
    }
}

fn resource(kind: ObjectKind) -> &'static ResourceType {
    let k = match kind {
        ObjectKind::ConfigMap => "ConfigMap",
        ObjectKind::Secret => "Secret",
        ObjectKind::Service => "Service",
    };
    registry::by_kind("v1", k).expect("registered")
}

const SOURCE_KINDS: [ObjectKind; 3] = [
    ObjectKind::ConfigMap,
    ObjectKind::Secret,
    ObjectKind::Service,
];

/// The kind and namespace/name a store key under `core/` names, if one of ours.
fn source_of_key(key: &str) -> Option<ObjectRef> {
    let rest = key.strip_prefix("core/")?;
    let (plural, rest) = rest.split_once('/')?;
    let kind = match plural {
        "configmaps" => ObjectKind::ConfigMap,
        "secrets" => ObjectKind::Secret,
        "services" => ObjectKind::Service,
        _ => return None,
    };
    let (ns, name) = rest.split_once('/')?;
    Some(ObjectRef {
        kind,
        namespace: ns.to_string(),
        name: name.to_string(),
    })
}

/// The upsert message for a stored ConfigMap, Secret or Service.
fn upsert_of(kind: ObjectKind, v: Value) -> Option<ServerMessage> {
    let what = format!(
        "{} {}/{}",
        kind.lower(),
        v["metadata"]["namespace"].as_str().unwrap_or(""),
        v["metadata"]["name"].as_str().unwrap_or("")
    );
    let out = match kind {
        ObjectKind::ConfigMap => {
            serde_json::from_value(v).map(|o| ServerMessage::ConfigMapUpserted {
                config_map: Box::new(o),
            })
        }
        ObjectKind::Secret => serde_json::from_value(v).map(|o| ServerMessage::SecretUpserted {
            secret: Box::new(o),
        }),
        ObjectKind::Service => serde_json::from_value(v).map(|o| ServerMessage::ServiceUpserted {
            service: Box::new(o),
        }),
    };
    match out {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(object = %what, error = %e, "node link: object does not decode; not sent");
            None
        }
    }
}

/// What the session has told the node about, to keep the Secret rule.
#[derive(Default)]
struct Sent {
    /// Pods bound to the node (namespace → names): the namespaces it may read.
    pods: BTreeMap<String, BTreeSet<String>>,
    /// ConfigMaps and Secrets sent, per namespace, to withdraw with the last pod.
    objects: BTreeMap<String, BTreeSet<ObjectRef>>,
    /// Per (kind, namespace): the revision a namespace's objects were listed
    /// at when its first pod arrived; watch events up to it are already in.
    listed_at: BTreeMap<(ObjectKind, String), u64>,
}

struct Control {
    link: Arc<Link>,
    addr: SocketAddr,
    conn: quinn::Connection,
    send: quinn::SendStream,
    node: String,
    sent: Sent,
    recorder: events::Recorder,
}

#[derive(Debug, thiserror::Error)]
enum SessionEnd {
    #[error("connection lost: {0}")]
    Wire(#[from] WireError),
    #[error("{0}")]
    Api(String),
}

impl Control {
    async fn start(
        link: Arc<Link>,
        peer: Peer,
        conn: quinn::Connection,
        mut send: quinn::SendStream,
        recv: quinn::RecvStream,
        hello: proto::Hello,
    ) {
        let addr = peer.addr;
        let Some((user, groups)) = peer.subject else {
            tracing::warn!(peer = %addr, node = %hello.node_name, "node link: control stream without a client certificate; refused");
            return refuse(
                &conn,
                &mut send,
                ErrorCode::Unauthorized,
                "a client certificate signed by the cluster CA is required for the control stream: join with a token first".into(),
            )
            .await;
        };
        let Some(node) = proto::node_name_of(&user, &groups) else {
            tracing::warn!(peer = %addr, user = %user, "node link: client certificate is not a node's; refused");
            return refuse(
                &conn,
                &mut send,
                ErrorCode::Unauthorized,
                format!("the client certificate is for {user:?}, not a node (CN=system:node:<name>, O=system:nodes)"),
            )
            .await;
        };
        if hello.version != proto::PROTOCOL_VERSION {
            let m = format!(
                "protocol version {} is not supported; this orchestrator speaks {}",
                hello.version,
                proto::PROTOCOL_VERSION
            );
            tracing::warn!(peer = %addr, node = %node, "node link: {m}");
            return refuse(&conn, &mut send, ErrorCode::UnsupportedVersion, m).await;
        }
        if hello.node_name != node {
            let m = format!(
                "the client certificate is for node {node:?}, but Hello names {:?}",
                hello.node_name
            );
            tracing::warn!(peer = %addr, node = %node, "node link: refused: {m}");
            return refuse(&conn, &mut send, ErrorCode::Unauthorized, m).await;
        }
        let pod_cidr = match registration::register(
            &link.api.rest,
            &link.alloc,
            link.facts.pod_cidr,
            &node,
            &hello.status,
        )
        .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(node = %node, error = %e.message, "node link: registering the node failed");
                return refuse(
                    &conn,
                    &mut send,
                    ErrorCode::Internal,
                    format!("registering node {node:?}: {}", e.message),
                )
                .await;
            }
        };
        tracing::info!(peer = %addr, node = %node, pod_cidr = %pod_cidr, "node registered");
        let welcome = ServerMessage::Welcome(proto::Welcome {
            node_name: node.clone(),
            pod_cidr,
            cluster: link.facts.clone(),
        });
        if let Err(e) = wire::write(&mut send, &welcome).await {
            tracing::info!(node = %node, error = %e, "node link: node went away");
            return;
        }
        let _streams = link.api.node_streams.register(&node, conn.clone());
        let mut session = Control {
            link,
            addr,
            conn,
            send,
            node,
            sent: Sent::default(),
            recorder: events::Recorder::default(),
        };
        let end = session.run(recv).await;
        match end {
            Ok(()) => tracing::info!(node = %session.node, "node disconnected"),
            Err(e) => {
                tracing::info!(node = %session.node, peer = %session.addr, reason = %e, "node session ended")
            }
        }
    }

    /// Reads on a task of its own (reads are not cancel-safe), answers here.
    async fn run(&mut self, mut recv: quinn::RecvStream) -> Result<(), SessionEnd> {
        let (tx, mut rx) = mpsc::channel(64);
        let reader = tokio::spawn(async move {
            loop {
                let m = wire::read::<NodeMessage>(&mut recv).await;
                let end = !matches!(m, Ok(Some(_)));
                if tx.send(m).await.is_err() || end {
                    break;
                }
            }
        });
        let out = self.converse(&mut rx).await;
        reader.abort();
        let _ = reader.await;
        out
    }

    async fn converse(
        &mut self,
        rx: &mut mpsc::Receiver<Result<Option<NodeMessage>, WireError>>,
    ) -> Result<(), SessionEnd> {
        let mut watch = self.snapshot().await?;
        loop {
            tokio::select! {
                _ = self.link.shutdown.cancelled() => {
                    self.conn.close(close::SHUTDOWN.into(), b"orchestrator shutting down");
                    return Ok(());
                }
                m = rx.recv() => match m {
                    None | Some(Ok(None)) => {
                        self.conn.close(close::DONE.into(), b"");
                        return Ok(());
                    }
                    Some(Err(e)) => {
                        if let WireError::Frame(f) = &e {
                            tracing::warn!(node = %self.node, error = %f, "node link: bad frame; closing the connection");
                            self.conn.close(close::PROTOCOL.into(), f.to_string().as_bytes());
                        }
                        return Err(e.into());
                    }
                    Some(Ok(Some(msg))) => self.handle(msg).await?,
                },
                ev = watch.next() => match ev {
                    Some(Ok(ev)) => self.forward(&ev).await?,
                    Some(Err(e)) => {
                        tracing::info!(node = %self.node, reason = %e, "node link: watch ended; re-listing");
                        watch = self.snapshot().await?;
                    }
                    None => {
                        tracing::info!(node = %self.node, "node link: watch closed; re-listing");
                        watch = self.snapshot().await?;
                    }
                },
            }
        }
    }

    /// Sends the full set of pods bound to the node, and the objects they may
    /// read; returns the watch (pods, ConfigMaps, Secrets, Services merged)
    /// that follows it.
    async fn snapshot(&mut self) -> Result<WatchStream, SessionEnd> {
        let rest = &self.link.api.rest;
        let opts = ListOpts {
            field_selector: FieldSelector::parse(&format!("spec.nodeName={}", self.node))
                .map_err(|e| SessionEnd::Api(e.to_string()))?,
            ..Default::default()
        };
        let list = rest
            .list(registration::pods(), None, &opts)
            .await
            .map_err(|e| SessionEnd::Api(format!("listing pods: {}", e.message)))?;
        let mut watches = vec![
            rest.store
                .watch("core/pods/", list.resource_version)
                .map_err(|e| SessionEnd::Api(format!("watching pods: {e}")))?,
        ];
        self.sent = Sent::default();
        let mut pods = Vec::new();
        for v in list.items {
            let r = pod_ref(&v);
            if let Some(p) = to_pod(v) {
                self.sent
                    .pods
                    .entry(r.namespace)
                    .or_default()
                    .insert(r.name);
                pods.push(p);
            }
        }
        let mut snap = proto::DesiredPods {
            revision: list.resource_version,
            pods,
            complete: false,
            config_maps: Vec::new(),
            secrets: Vec::new(),
            services: Vec::new(),
        };
        for kind in SOURCE_KINDS {
            let rt = resource(kind);
            let l = rest
                .list(rt, None, &ListOpts::default())
                .await
                .map_err(|e| SessionEnd::Api(format!("listing {}: {}", rt.plural, e.message)))?;
            let plural = rt.plural;
            watches.push(
                rest.store
                    .watch(&format!("core/{plural}/"), l.resource_version)
                    .map_err(|e| SessionEnd::Api(format!("watching {plural}: {e}")))?,
            );
            for v in l.items {
                let ns = v["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                let name = v["metadata"]["name"].as_str().unwrap_or("").to_string();
                if kind != ObjectKind::Service && !self.sent.pods.contains_key(&ns) {
                    continue;
                }
                match upsert_of(kind, v) {
                    Some(ServerMessage::ConfigMapUpserted { config_map }) => {
                        snap.config_maps.push(*config_map)
                    }
                    Some(ServerMessage::SecretUpserted { secret }) => snap.secrets.push(*secret),
                    Some(ServerMessage::ServiceUpserted { service }) => {
                        snap.services.push(*service)
                    }
                    _ => continue,
                }
                if kind != ObjectKind::Service {
                    self.sent
                        .objects
                        .entry(ns.clone())
                        .or_default()
                        .insert(ObjectRef {
                            kind,
                            namespace: ns,
                            name,
                        });
                }
            }
        }
        let counts = (
            snap.pods.len(),
            snap.config_maps.len(),
            snap.secrets.len(),
            snap.services.len(),
        );
        for chunk in split_snapshot(snap) {
            wire::write(&mut self.send, &ServerMessage::DesiredPods(chunk)).await?;
        }
        tracing::debug!(node = %self.node, pods = counts.0, config_maps = counts.1, secrets = counts.2, services = counts.3, revision = list.resource_version, "node link: sent desired pods");
        Ok(Box::pin(futures::stream::select_all(watches)))
    }

    /// Forwards one store change, if it concerns the node.
    async fn forward(&mut self, ev: &Event) -> Result<(), SessionEnd> {
        if ev.key().starts_with("core/pods/") {
            let Some(msg) = delta(&self.node, ev) else {
                return Ok(());
            };
            let (ns, name, upsert) = match &msg {
                ServerMessage::PodUpserted { pod } => (
                    pod.metadata.namespace.clone().unwrap_or_default(),
                    pod.metadata.name.clone().unwrap_or_default(),
                    true,
                ),
                ServerMessage::PodRemoved { pod } => {
                    (pod.namespace.clone(), pod.name.clone(), false)
                }
                _ => return Ok(()),
            };
            let entered = upsert && !self.sent.pods.contains_key(&ns);
            if entered {
                // Its objects first, so a pod never arrives before what it reads.
                self.send_namespace(&ns).await?;
            }
            wire::write(&mut self.send, &msg).await?;
            if upsert {
                self.sent.pods.entry(ns).or_default().insert(name);
            } else if let Some(names) = self.sent.pods.get_mut(&ns) {
                names.remove(&name);
                if names.is_empty() {
                    self.sent.pods.remove(&ns);
                    self.withdraw_namespace(&ns).await?;
                }
            }
            return Ok(());
        }
        let Some(obj) = source_of_key(ev.key()) else {
            return Ok(());
        };
        if obj.kind != ObjectKind::Service {
            if !self.sent.pods.contains_key(&obj.namespace) {
                return Ok(());
            }
            let listed = self
                .sent
                .listed_at
                .get(&(obj.kind, obj.namespace.clone()))
                .copied()
                .unwrap_or(0);
            if ev.revision() <= listed {
                return Ok(());
            }
        }
        let msg = match ev {
            Event::Put { kv, .. } => {
                let Some(v) = decode_kv(kv) else {
                    return Ok(());
                };
                let Some(m) = upsert_of(obj.kind, v) else {
                    return Ok(());
                };
                if obj.kind != ObjectKind::Service {
                    self.sent
                        .objects
                        .entry(obj.namespace.clone())
                        .or_default()
                        .insert(obj);
                }
                m
            }
            Event::Delete { .. } => {
                if let Some(set) = self.sent.objects.get_mut(&obj.namespace) {
                    set.remove(&obj);
                }
                ServerMessage::ObjectRemoved { object: obj }
            }
        };
        wire::write(&mut self.send, &msg).await?;
        Ok(())
    }

    /// The node's first pod of `ns` arrived: send the namespace's ConfigMaps and Secrets.
    async fn send_namespace(&mut self, ns: &str) -> Result<(), SessionEnd> {
        for kind in [ObjectKind::ConfigMap, ObjectKind::Secret] {
            let rt = resource(kind);
            let l = self
                .link
                .api
                .rest
                .list(rt, Some(ns), &ListOpts::default())
                .await
                .map_err(|e| {
                    SessionEnd::Api(format!("listing {} of {ns}: {}", rt.plural, e.message))
                })?;
            self.sent
                .listed_at
                .insert((kind, ns.to_string()), l.resource_version);
            for v in l.items {
                let name = v["metadata"]["name"].as_str().unwrap_or("").to_string();
                if let Some(m) = upsert_of(kind, v) {
                    wire::write(&mut self.send, &m).await?;
                    self.sent
                        .objects
                        .entry(ns.to_string())
                        .or_default()
                        .insert(ObjectRef {
                            kind,
                            namespace: ns.to_string(),
                            name,
                        });
                }
            }
        }
        Ok(())
    }

    /// The node's last pod of `ns` went: it may no longer read its objects.
    async fn withdraw_namespace(&mut self, ns: &str) -> Result<(), SessionEnd> {
        for kind in [ObjectKind::ConfigMap, ObjectKind::Secret] {
            self.sent.listed_at.remove(&(kind, ns.to_string()));
        }
        for object in self.sent.objects.remove(ns).unwrap_or_default() {
            wire::write(&mut self.send, &ServerMessage::ObjectRemoved { object }).await?;
        }
        Ok(())
    }

    async fn handle(&mut self, msg: NodeMessage) -> Result<(), SessionEnd> {
        let rest = &self.link.api.rest;
        match msg {
            NodeMessage::Heartbeat => {
                if let Err(e) = registration::heartbeat(rest, &self.node).await {
                    tracing::warn!(node = %self.node, error = %e.message, "node link: renewing the node's lease failed");
                }
            }
            NodeMessage::PodStatus(u) if u.terminated => {
                if let Err(e) = registration::finish_pod_deletion(rest, &self.node, &u.pod).await {
                    tracing::warn!(node = %self.node, peer = %self.addr, "node link: final pod delete refused: {e}");
                }
            }
            NodeMessage::PodStatus(u) => {
                match registration::apply_pod_status(rest, &self.node, &u.pod, &u.status).await {
                    Ok(()) => {}
                    Err(e @ PodRefused::Forbidden { .. }) => {
                        tracing::warn!(node = %self.node, peer = %self.addr, "node link: pod status refused: {e}");
                        let msg = ServerMessage::Error(ErrorMessage {
                            code: ErrorCode::Forbidden,
                            message: e.to_string(),
                        });
                        wire::write(&mut self.send, &msg).await?;
                    }
                    Err(e @ PodRefused::Gone { .. }) => {
                        tracing::debug!(node = %self.node, "node link: stale pod status ignored: {e}");
                    }
                    Err(e) => tracing::warn!(node = %self.node, "node link: {e}"),
                }
            }
            NodeMessage::Event(ev) => match self.recorder.record(rest, &self.node, &ev).await {
                Ok(()) => {}
                Err(
                    e @ (EventRefused::Pod(PodRefused::Forbidden { .. })
                    | EventRefused::Invalid { .. }),
                ) => {
                    tracing::warn!(node = %self.node, peer = %self.addr, "node link: event refused: {e}");
                    let msg = ServerMessage::Error(ErrorMessage {
                        code: ErrorCode::Forbidden,
                        message: e.to_string(),
                    });
                    wire::write(&mut self.send, &msg).await?;
                }
                Err(e @ EventRefused::Pod(PodRefused::Gone { .. })) => {
                    tracing::debug!(node = %self.node, "node link: event for a gone pod ignored: {e}");
                }
                Err(e) => tracing::warn!(node = %self.node, "node link: {e}"),
            },
            NodeMessage::Join(_) | NodeMessage::Hello(_) => {
                let m = "Join and Hello are only valid as the first message of a stream";
                tracing::warn!(node = %self.node, "node link: {m}; closing");
                refuse(&self.conn, &mut self.send, ErrorCode::BadRequest, m.into()).await;
                return Err(SessionEnd::Api(m.into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(v: Value, rev: crate::store::Revision) -> KeyValue {
        KeyValue {
            key: "core/pods/default/web".into(),
            value: serde_json::to_vec(&v).unwrap().into(),
            create_revision: 1,
            mod_revision: rev,
        }
    }

    fn pod(labels: Value, phase: &str) -> Value {
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "uid": "u1", "labels": labels},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "file:///x.wasm"}]},
            "status": {"phase": phase},
        })
    }

    #[test]
    fn a_status_write_is_not_echoed_but_a_label_change_is() {
        let before = pod(serde_json::json!({"a": "1"}), "Pending");
        let status_only = Event::Put {
            kv: kv(pod(serde_json::json!({"a": "1"}), "Running"), 3),
            prev: Some(kv(before.clone(), 2)),
        };
        assert!(delta("n1", &status_only).is_none());
        let relabelled = Event::Put {
            kv: kv(pod(serde_json::json!({"a": "2"}), "Pending"), 3),
            prev: Some(kv(before, 2)),
        };
        assert!(matches!(
            delta("n1", &relabelled),
            Some(ServerMessage::PodUpserted { .. })
        ));
    }
}
