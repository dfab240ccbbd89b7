//! One node connection: a join (token → client certificate) or a control
//! session (Hello → Welcome → desired pods; pod status and heartbeats back).
//!
//! Authorization is by the client certificate alone: every write a session
//! makes is to the Node, Lease or pods of the name in that certificate, never
//! to a name a message carries.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use regatta_api::node_protocol::{
    self as proto, ErrorCode, ErrorMessage, JoinRequest, JoinResponse, JoinToken, NodeMessage,
    PodRef, ServerMessage, close,
};
use regatta_api::selector::FieldSelector;
use serde_json::Value;
use tokio::sync::mpsc;

use super::registration::{self, StatusRefused};
use super::wire::{self, WireError};
use super::{Link, token};
use crate::apiserver::objects;
use crate::apiserver::rest::ListOpts;
use crate::store::{Event, WatchStream};

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
    fn decode(kv: &crate::store::KeyValue) -> Option<Value> {
        objects::from_kv(kv).ok()
    }
    match ev {
        Event::Put { kv, prev } => {
            let new = decode(kv)?;
            if on_node(&new) {
                return to_pod(new).map(|p| ServerMessage::PodUpserted { pod: Box::new(p) });
            }
            let old = decode(prev.as_ref()?)?;
            on_node(&old).then(|| ServerMessage::PodRemoved { pod: pod_ref(&old) })
        }
        Event::Delete { prev, .. } => {
            let old = decode(prev)?;
            on_node(&old).then(|| ServerMessage::PodRemoved { pod: pod_ref(&old) })
        }
    }
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

struct Control {
    link: Arc<Link>,
    addr: SocketAddr,
    conn: quinn::Connection,
    send: quinn::SendStream,
    node: String,
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
                    Some(Ok(ev)) => {
                        if let Some(msg) = delta(&self.node, &ev) {
                            wire::write(&mut self.send, &msg).await?;
                        }
                    }
                    Some(Err(e)) => {
                        tracing::info!(node = %self.node, reason = %e, "node link: pod watch ended; re-listing");
                        watch = self.snapshot().await?;
                    }
                    None => {
                        tracing::info!(node = %self.node, "node link: pod watch closed; re-listing");
                        watch = self.snapshot().await?;
                    }
                },
            }
        }
    }

    /// Sends the full set of pods bound to the node; returns the watch that follows it.
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
        let watch = rest
            .store
            .watch("core/pods/", list.resource_version)
            .map_err(|e| SessionEnd::Api(format!("watching pods: {e}")))?;
        let count = list.items.len();
        let mut chunk = Vec::new();
        let mut size = 0;
        for v in list.items {
            size += v.to_string().len();
            if let Some(p) = to_pod(v) {
                chunk.push(p);
            }
            if size >= SNAPSHOT_CHUNK_BYTES {
                let msg = ServerMessage::DesiredPods(proto::DesiredPods {
                    revision: list.resource_version,
                    pods: std::mem::take(&mut chunk),
                    complete: false,
                });
                wire::write(&mut self.send, &msg).await?;
                size = 0;
            }
        }
        let msg = ServerMessage::DesiredPods(proto::DesiredPods {
            revision: list.resource_version,
            pods: chunk,
            complete: true,
        });
        wire::write(&mut self.send, &msg).await?;
        tracing::debug!(node = %self.node, pods = count, revision = list.resource_version, "node link: sent desired pods");
        Ok(watch)
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
                    Err(e @ StatusRefused::Forbidden { .. }) => {
                        tracing::warn!(node = %self.node, peer = %self.addr, "node link: pod status refused: {e}");
                        let msg = ServerMessage::Error(ErrorMessage {
                            code: ErrorCode::Forbidden,
                            message: e.to_string(),
                        });
                        wire::write(&mut self.send, &msg).await?;
                    }
                    Err(e @ StatusRefused::Gone { .. }) => {
                        tracing::debug!(node = %self.node, "node link: stale pod status ignored: {e}");
                    }
                    Err(e) => tracing::warn!(node = %self.node, "node link: {e}"),
                }
            }
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
