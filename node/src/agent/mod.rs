//! The node side of the orchestrator link (DESIGN §4): join, mutual TLS, registration, lease, status.
//!
//! Owns the QUIC client and `<data-dir>/pki/`. The first start joins with the
//! bootstrap token (pinning the CA by the hash the token carries) and stores
//! the client certificate; every start after that connects with mutual TLS,
//! sends `Hello`, gets its podCIDR in `Welcome` and then the desired pods, and
//! heartbeats every 10 s. A lost connection is retried with jittered
//! exponential backoff (200 ms → 2 s; each connect attempt gives up after
//! [`CONNECT_TIMEOUT`]) and begins with a full resync both ways:
//! a fresh snapshot replaces the desired set, and every pod status is resent.
//!
//! What runs pods plugs in through [`AgentHandle`]: a `watch` of the desired
//! set ([`pods::DesiredState`], level-triggered), a `watch` of the cluster facts
//! and podCIDR ([`Welcome`]), and a [`pods::StatusReporter`]. Nothing here
//! stops a pod when the link drops: the control plane restarting is not a
//! reason to disturb workloads.

pub mod backoff;
pub mod credentials;
pub mod node_status;
pub mod pods;
pub mod streams;
mod tls;
use regatta_link::wire;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use regatta_api::node_protocol::{
    self as proto, ErrorCode, ErrorMessage, Hello, JoinToken, NodeMessage, ServerMessage, Welcome,
    close,
};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use backoff::Backoff;
use credentials::{Credentials, JoinError};
use pods::{DesiredState, StatusReporter};
use wire::WireError;

/// A QUIC handshake to an orchestrator that is down never completes (the
/// idle timeout is 30 s): give up sooner and try again, so a returning
/// control plane is found within about a backoff step.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How the agent finds and identifies itself to the orchestrator.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The orchestrator's node address (UDP).
    pub server: SocketAddr,
    /// Needed only for the first join; a stored credential is used when present.
    pub token: Option<JoinToken>,
    pub node_name: String,
    pub data_dir: PathBuf,
    /// The address the node reports as InternalIP.
    pub node_ip: IpAddr,
    pub max_pods: u32,
    /// `nodeInfo.containerRuntimeVersion`, e.g. `wasmtime://48.0.8`.
    pub runtime_version: String,
}

/// What the pod manager and the network use.
#[derive(Clone)]
pub struct AgentHandle {
    pub desired: watch::Receiver<DesiredState>,
    /// `None` until the first Welcome.
    pub welcome: watch::Receiver<Option<Welcome>>,
    pub status: StatusReporter,
    /// Where the pod manager plugs in to serve `kubectl logs`/`exec`.
    pub streams: streams::StreamSlot,
}

pub struct Agent {
    config: AgentConfig,
    desired: watch::Sender<DesiredState>,
    welcome: watch::Sender<Option<Welcome>>,
    status: StatusReporter,
    streams: streams::StreamSlot,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Join(#[from] JoinError),
    #[error("connecting to {server}: {message}")]
    Connect { server: SocketAddr, message: String },
    #[error("the orchestrator refused the session ({code:?}): {message}")]
    Refused { code: ErrorCode, message: String },
    #[error("connection lost: {0}")]
    Lost(String),
    #[error("no stored credential in {0}/pki and no --token to join with")]
    NoCredential(PathBuf),
}

impl From<WireError> for AgentError {
    fn from(e: WireError) -> Self {
        AgentError::Lost(e.to_string())
    }
}

enum SessionEnd {
    /// The shutdown token fired.
    Shutdown,
    /// The session ran (it got a Welcome) and then ended.
    Ended(AgentError),
}

impl Agent {
    pub fn new(config: AgentConfig) -> (Agent, AgentHandle) {
        let (desired, desired_rx) = watch::channel(DesiredState::default());
        let (welcome, welcome_rx) = watch::channel(None);
        let status = StatusReporter::default();
        let streams = streams::StreamSlot::default();
        let handle = AgentHandle {
            desired: desired_rx,
            welcome: welcome_rx,
            status: status.clone(),
            streams: streams.clone(),
        };
        (
            Agent {
                config,
                desired,
                welcome,
                status,
                streams,
            },
            handle,
        )
    }

    /// Runs until `shutdown`; reconnects forever. Fails only when it cannot
    /// even start (no credential and no token, or no UDP socket).
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), AgentError> {
        let bind: SocketAddr = if self.config.server.is_ipv4() {
            "0.0.0.0:0".parse().expect("valid")
        } else {
            "[::]:0".parse().expect("valid")
        };
        let endpoint = quinn::Endpoint::client(bind).map_err(|e| AgentError::Connect {
            server: self.config.server,
            message: format!("opening a UDP socket: {e}"),
        })?;
        let mut backoff = Backoff::default();
        let mut stored = credentials::load(&self.config.data_dir);
        if stored.is_none() && self.config.token.is_none() {
            return Err(AgentError::NoCredential(self.config.data_dir.clone()));
        }
        loop {
            let attempt = self.attempt(&endpoint, &mut stored, &shutdown).await;
            match attempt {
                Ok(SessionEnd::Shutdown) => break,
                Ok(SessionEnd::Ended(e)) => {
                    backoff.reset();
                    tracing::warn!(server = %self.config.server, "node link: {e}; reconnecting");
                }
                Err(e) => {
                    tracing::warn!(server = %self.config.server, "node link: {e}");
                }
            }
            let delay = backoff.next_delay();
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(delay) => {}
            }
        }
        endpoint.close(close::DONE.into(), b"node shutting down");
        let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
        Ok(())
    }

    /// One connection: join first if needed, then a control session.
    async fn attempt(
        &self,
        endpoint: &quinn::Endpoint,
        stored: &mut Option<Credentials>,
        shutdown: &CancellationToken,
    ) -> Result<SessionEnd, AgentError> {
        let cfg = &self.config;
        let creds = match stored.clone() {
            Some(c) => c,
            None => {
                let token = cfg
                    .token
                    .as_ref()
                    .ok_or_else(|| AgentError::NoCredential(cfg.data_dir.clone()))?;
                let pin = token.ca_hash_pin().ok_or(JoinError::NoPin)?;
                let c = tokio::select! {
                    _ = shutdown.cancelled() => return Ok(SessionEnd::Shutdown),
                    c = credentials::join(endpoint, cfg.server, token, &pin, &cfg.node_name, &cfg.data_dir) => c?,
                };
                tracing::info!(node = %cfg.node_name, dir = %cfg.data_dir.join("pki").display(), "joined the cluster; credential stored");
                *stored = Some(c.clone());
                c
            }
        };
        let r = self.session(endpoint, &creds, shutdown).await;
        if let Err(AgentError::Refused {
            code: ErrorCode::Unauthorized,
            ..
        }) = &r
            && cfg.token.is_some()
        {
            tracing::warn!(node = %cfg.node_name, "node link: the stored credential was refused; joining again with the token");
            credentials::remove(&cfg.data_dir);
            *stored = None;
        }
        r
    }

    async fn session(
        &self,
        endpoint: &quinn::Endpoint,
        creds: &Credentials,
        shutdown: &CancellationToken,
    ) -> Result<SessionEnd, AgentError> {
        let cfg = &self.config;
        let connect_err = |message: String| AgentError::Connect {
            server: cfg.server,
            message,
        };
        let client = tls::mtls_config(creds).map_err(|e| connect_err(e.to_string()))?;
        let connecting = endpoint
            .connect_with(client, cfg.server, tls::server_name())
            .map_err(|e| connect_err(e.to_string()))?;
        let conn = tokio::select! {
            _ = shutdown.cancelled() => return Ok(SessionEnd::Shutdown),
            c = tokio::time::timeout(CONNECT_TIMEOUT, connecting) => c
                .map_err(|_| connect_err(format!("no answer within {CONNECT_TIMEOUT:?}")))?
                .map_err(|e| connect_err(e.to_string()))?,
        };
        let (mut send, mut recv) = conn
            .open_bi()
            .await
            .map_err(|e| connect_err(e.to_string()))?;
        let hello = NodeMessage::Hello(Box::new(Hello {
            version: proto::PROTOCOL_VERSION,
            node_name: cfg.node_name.clone(),
            status: node_status::report(
                &cfg.node_name,
                cfg.node_ip,
                cfg.max_pods,
                &cfg.runtime_version,
            ),
        }));
        wire::write(&mut send, &hello).await?;
        let first = tokio::time::timeout(
            Duration::from_secs(15),
            wire::read::<ServerMessage>(&mut recv),
        )
        .await
        .map_err(|_| AgentError::Lost("no Welcome within 15s".into()))?;
        let welcome = match first {
            Ok(Some(ServerMessage::Welcome(w))) => w,
            Ok(Some(ServerMessage::Error(ErrorMessage { code, message }))) => {
                tracing::error!(node = %cfg.node_name, code = ?code, "node link: the orchestrator refused the session: {message}");
                return Err(AgentError::Refused { code, message });
            }
            Ok(Some(other)) => {
                return Err(AgentError::Lost(format!(
                    "expected Welcome, got {}",
                    other.type_name()
                )));
            }
            Ok(None) | Err(_) => {
                let why = conn
                    .close_reason()
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "stream closed before Welcome".into());
                return Err(AgentError::Lost(why));
            }
        };
        tracing::info!(node = %cfg.node_name, pod_cidr = %welcome.pod_cidr, cluster = %welcome.cluster.cluster_name, "registered with the orchestrator");
        self.welcome.send_replace(Some(welcome));
        let _streams = tokio_util::task::AbortOnDropHandle::new(streams::accept(
            conn.clone(),
            self.streams.clone(),
        ));

        let (tx, mut rx) = mpsc::channel(64);
        let reader = tokio::spawn(async move {
            loop {
                let m = wire::read::<ServerMessage>(&mut recv).await;
                let end = !matches!(m, Ok(Some(_)));
                if tx.send(m).await.is_err() || end {
                    break;
                }
            }
        });
        let end = self.converse(&conn, &mut send, &mut rx, shutdown).await;
        reader.abort();
        let _ = reader.await;
        Ok(match end {
            Ok(()) => {
                conn.close(close::DONE.into(), b"node shutting down");
                SessionEnd::Shutdown
            }
            Err(e) => {
                let e = match (&e, conn.close_reason()) {
                    (AgentError::Lost(_), Some(r)) => AgentError::Lost(r.to_string()),
                    _ => e,
                };
                SessionEnd::Ended(e)
            }
        })
    }

    /// The steady state: heartbeats and statuses out, desired pods in. Ends
    /// with `Ok` only on shutdown.
    async fn converse(
        &self,
        conn: &quinn::Connection,
        send: &mut quinn::SendStream,
        rx: &mut mpsc::Receiver<Result<Option<ServerMessage>, WireError>>,
        shutdown: &CancellationToken,
    ) -> Result<(), AgentError> {
        let mut heartbeat =
            tokio::time::interval(Duration::from_secs(proto::HEARTBEAT_INTERVAL_SECS));
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A snapshot may span several frames; it replaces the set once complete.
        let mut incoming: Option<DesiredState> = None;
        let mut synced_once = false;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = heartbeat.tick() => wire::write(send, &NodeMessage::Heartbeat).await?,
                _ = self.status.changed(), if synced_once => {
                    for u in self.status.take_dirty() {
                        wire::write(send, &NodeMessage::PodStatus(Box::new(u))).await?;
                    }
                    for e in self.status.take_events() {
                        wire::write(send, &NodeMessage::Event(Box::new(e))).await?;
                    }
                }
                m = rx.recv() => {
                    let msg = match m {
                        Some(Ok(Some(msg))) => msg,
                        Some(Err(e)) => return Err(e.into()),
                        None | Some(Ok(None)) => {
                            let why = conn.close_reason().map(|r| r.to_string()).unwrap_or_else(|| "the orchestrator closed the stream".into());
                            return Err(AgentError::Lost(why));
                        }
                    };
                    match msg {
                        ServerMessage::DesiredPods(d) => {
                            let st = incoming.get_or_insert_with(DesiredState::default);
                            for p in d.pods {
                                if let Some(uid) = p.metadata.uid.clone() {
                                    st.pods.insert(uid, p);
                                }
                            }
                            for c in d.config_maps {
                                st.config_maps.insert(pods::object_key(&c.metadata), c);
                            }
                            for c in d.secrets {
                                st.secrets.insert(pods::object_key(&c.metadata), c);
                            }
                            for c in d.services {
                                st.services.insert(pods::object_key(&c.metadata), c);
                            }
                            if d.complete {
                                let mut st = incoming.take().unwrap_or_default();
                                st.synced = true;
                                st.resyncs = self.desired.borrow().resyncs + 1;
                                tracing::info!(pods = st.pods.len(), revision = d.revision, "desired pods synced");
                                self.status.resync(&st);
                                self.desired.send_replace(st);
                                synced_once = true;
                            }
                        }
                        ServerMessage::PodUpserted { pod } => {
                            if let Some(uid) = pod.metadata.uid.clone() {
                                tracing::debug!(uid = %uid, "desired pod changed");
                                self.desired.send_modify(|s| {
                                    s.pods.insert(uid, *pod);
                                });
                            }
                        }
                        ServerMessage::PodRemoved { pod } => {
                            tracing::info!(pod = %format!("{}/{}", pod.namespace, pod.name), "desired pod removed");
                            self.status.forget(&pod.uid);
                            self.desired.send_modify(|s| {
                                s.pods.remove(&pod.uid);
                            });
                        }
                        ServerMessage::ConfigMapUpserted { config_map } => {
                            let key = pods::object_key(&config_map.metadata);
                            tracing::debug!(configmap = %key, "configmap changed");
                            self.desired.send_modify(|s| {
                                s.config_maps.insert(key, *config_map);
                            });
                        }
                        ServerMessage::SecretUpserted { secret } => {
                            let key = pods::object_key(&secret.metadata);
                            tracing::debug!(secret = %key, "secret changed");
                            self.desired.send_modify(|s| {
                                s.secrets.insert(key, *secret);
                            });
                        }
                        ServerMessage::ServiceUpserted { service } => {
                            let key = pods::object_key(&service.metadata);
                            tracing::debug!(service = %key, "service changed");
                            self.desired.send_modify(|s| {
                                s.services.insert(key, *service);
                            });
                        }
                        ServerMessage::ObjectRemoved { object } => {
                            let key = format!("{}/{}", object.namespace, object.name);
                            tracing::debug!(kind = object.kind.lower(), object = %key, "object removed");
                            self.desired.send_modify(|s| {
                                match object.kind {
                                    proto::ObjectKind::ConfigMap => {
                                        s.config_maps.remove(&key);
                                    }
                                    proto::ObjectKind::Secret => {
                                        s.secrets.remove(&key);
                                    }
                                    proto::ObjectKind::Service => {
                                        s.services.remove(&key);
                                    }
                                }
                            });
                        }
                        ServerMessage::Error(ErrorMessage { code, message }) if !code.is_fatal() => {
                            tracing::warn!(code = ?code, "node link: the orchestrator refused a message: {message}");
                        }
                        ServerMessage::Error(ErrorMessage { code, message }) => {
                            tracing::error!(code = ?code, "node link: the orchestrator ended the session: {message}");
                            return Err(AgentError::Refused { code, message });
                        }
                        other @ (ServerMessage::Joined(_) | ServerMessage::Welcome(_)) => {
                            return Err(AgentError::Lost(format!("unexpected message {}", other.type_name())));
                        }
                    }
                }
            }
        }
    }
}

/// The local address the kernel would use to reach `server`: the node's IP
/// when `--node-ip` is not given (no packet is sent).
pub fn local_ip_towards(server: SocketAddr) -> Option<IpAddr> {
    let bind = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let s = std::net::UdpSocket::bind(bind).ok()?;
    s.connect(server).ok()?;
    Some(s.local_addr().ok()?.ip())
}
