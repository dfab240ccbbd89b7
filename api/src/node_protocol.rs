//! Node ↔ orchestrator protocol (DESIGN §4): versioned, length-delimited messages on one QUIC control stream.
//!
//! Owns the wire shape only; no I/O. Both sides speak it over QUIC with the ALPN
//! [`ALPN`] and the TLS server name [`SERVER_NAME`] (the node pins the cluster CA,
//! so the name is a constant, not the host it dialled).
//!
//! **Framing.** A frame is a 4-byte big-endian length followed by that many bytes
//! of JSON: one [`NodeMessage`] (node → orchestrator) or [`ServerMessage`]
//! (orchestrator → node), tagged by `"type"`. A frame longer than [`MAX_FRAME`],
//! an empty frame or one that does not decode is a [`FrameError`]: the reader
//! closes the stream. Decoding never panics on any input.
//!
//! **Conversation.** The node opens one bidirectional stream per connection.
//! - *Join* (server-authenticated TLS, no client certificate): `Join` →
//!   `Joined` or `Error`; then the connection closes.
//! - *Control* (mutual TLS with a certificate the cluster CA signed for
//!   `system:node:<name>`): `Hello` → `Welcome`, then a full `DesiredPods`
//!   snapshot (possibly split over several frames, the last with
//!   `complete: true`), then `PodUpserted`/`PodRemoved` deltas; a new snapshot
//!   may come at any time (the orchestrator re-listed) and replaces the node's
//!   whole desired set. Alongside the pods travel the objects they may read:
//!   every ConfigMap and Secret of a namespace with at least one pod bound to
//!   the node (never a Secret of another namespace) and every Service, in the
//!   snapshot and as `ConfigMapUpserted`/`SecretUpserted`/`ServiceUpserted`/
//!   `ObjectRemoved` deltas. The node sends `PodStatus`, `Event`s about its
//!   pods, and a `Heartbeat` every [`HEARTBEAT_INTERVAL_SECS`]. An `Error` with a fatal code ends the session;
//!   a `Forbidden` refers to one message and the session goes on.
//!
//! **Versioning.** `Join` and `Hello` carry [`PROTOCOL_VERSION`]; the
//! orchestrator answers `Error { code: UnsupportedVersion }` for one it does not
//! speak. Unknown fields are ignored, so a minor addition needs no new version.

use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{ConfigMap, NodeStatus, Pod, PodStatus, Secret, Service};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// ALPN of the node link.
pub const ALPN: &[u8] = b"regatta-node/1";
/// The DNS name in the orchestrator's node-link certificate, and the TLS server
/// name every node uses.
pub const SERVER_NAME: &str = "regatta-orchestrator";
/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest frame body accepted, in bytes.
pub const MAX_FRAME: usize = 16 << 20;
/// How often a node sends a heartbeat (and so renews its Lease).
pub const HEARTBEAT_INTERVAL_SECS: u64 = 10;
/// Pods a node runs at most unless told otherwise.
pub const DEFAULT_MAX_PODS: u32 = 1000;

/// The certificate subject a node's client certificate carries: CN and O, as Kubernetes reads them.
pub const NODE_USER_PREFIX: &str = "system:node:";
pub const NODES_GROUP: &str = "system:nodes";

/// QUIC application close codes; the close reason carries the human message.
pub mod close {
    /// Done (a join finished, the node is going away).
    pub const DONE: u32 = 0;
    /// Refused: see the `Error` message and the reason.
    pub const REFUSED: u32 = 1;
    /// A bad frame or a message out of order.
    pub const PROTOCOL: u32 = 2;
    /// The orchestrator is shutting down; reconnect later.
    pub const SHUTDOWN: u32 = 3;
}

/// Facts about the cluster a node needs before it runs anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterFacts {
    pub cluster_name: String,
    #[serde(with = "as_string")]
    pub pod_cidr: ipnet::Ipv4Net,
    #[serde(with = "as_string")]
    pub service_cidr: ipnet::Ipv4Net,
    pub cluster_dns: Ipv4Addr,
    pub cluster_domain: String,
}

/// First message of a join: the bootstrap token and a certificate request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequest {
    pub version: u32,
    /// `<id>.<secret>` (the CA-hash part of a full token stays on the node).
    pub token: String,
    pub node_name: String,
    /// PKCS#10 request; only its public key is used, the orchestrator sets the subject.
    pub csr_pem: String,
}

/// A successful join: the node's client certificate and the cluster CA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinResponse {
    pub client_cert_pem: String,
    pub ca_pem: String,
    pub cluster: ClusterFacts,
}

/// Opens the control stream: who the node is and what it offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hello {
    pub version: u32,
    /// Must equal the name in the client certificate.
    pub node_name: String,
    /// `capacity`, `allocatable`, `addresses` and `nodeInfo` are read; the
    /// orchestrator sets conditions and daemon endpoints itself.
    pub status: NodeStatus,
}

/// The orchestrator's answer to `Hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Welcome {
    pub node_name: String,
    /// This node's `spec.podCIDR`: a /24 of the cluster pod CIDR, stable across restarts.
    #[serde(with = "as_string")]
    pub pod_cidr: ipnet::Ipv4Net,
    pub cluster: ClusterFacts,
}

/// The pods bound to the node, as of `revision`. Large sets come in several
/// frames; the node replaces its desired set when `complete` is true.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredPods {
    pub revision: u64,
    pub pods: Vec<Pod>,
    pub complete: bool,
    /// ConfigMaps of the namespaces the node's pods are in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_maps: Vec<ConfigMap>,
    /// Secrets of the namespaces the node's pods are in (and no others).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    /// Every Service of the cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Service>,
}

/// The kinds of object besides pods that a node keeps a copy of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ObjectKind {
    ConfigMap,
    Secret,
    Service,
}

impl ObjectKind {
    /// The lowercase name kubelet's messages use (`configmap "x" not found`).
    pub fn lower(self) -> &'static str {
        match self {
            ObjectKind::ConfigMap => "configmap",
            ObjectKind::Secret => "secret",
            ObjectKind::Service => "service",
        }
    }
}

/// Names one namespaced object of an [`ObjectKind`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub kind: ObjectKind,
    pub namespace: String,
    pub name: String,
}

/// A core/v1 Event a node records about one of its pods (kubelet's event
/// recorder). The orchestrator fills in `involvedObject` from the pod bound to
/// the node, the source (`kubelet` on the node) and the timestamps; a repeat
/// of the same reason and message bumps `count` of the existing Event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodEvent {
    pub pod: PodRef,
    /// `Event.type`: `Normal` or `Warning` (not `type`, the frame's tag).
    pub event_type: String,
    pub reason: String,
    pub message: String,
    /// `involvedObject.fieldPath`, e.g. `spec.containers{web}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_path: Option<String>,
    /// When the node saw it (RFC 3339); the orchestrator's clock if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// Names one pod.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// A pod's observed status, replacing `status` of the pod with this uid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatusUpdate {
    pub pod: PodRef,
    pub status: PodStatus,
    /// The node has stopped every container of this pod, which is being
    /// deleted, and removed its sandbox: the orchestrator may now remove the
    /// object (kubelet's final delete with grace period 0). `status` is then
    /// not applied.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub terminated: bool,
}

/// What went wrong, in the orchestrator's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// Bad or expired token, missing or foreign client certificate. Fatal.
    Unauthorized,
    /// One message asked for something this node may not do. The session goes on.
    Forbidden,
    /// A message out of order or malformed. Fatal.
    BadRequest,
    /// The version in `Join`/`Hello` is not spoken here. Fatal.
    UnsupportedVersion,
    /// The orchestrator failed. Fatal; reconnect later.
    Internal,
}

impl ErrorCode {
    pub fn is_fatal(self) -> bool {
        !matches!(self, ErrorCode::Forbidden)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMessage {
    pub code: ErrorCode,
    pub message: String,
}

/// Node → orchestrator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum NodeMessage {
    Join(JoinRequest),
    Hello(Box<Hello>),
    PodStatus(Box<PodStatusUpdate>),
    Heartbeat,
    Event(Box<PodEvent>),
}

/// Orchestrator → node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ServerMessage {
    Joined(JoinResponse),
    Welcome(Welcome),
    DesiredPods(DesiredPods),
    PodUpserted {
        pod: Box<Pod>,
    },
    PodRemoved {
        pod: PodRef,
    },
    #[serde(rename_all = "camelCase")]
    ConfigMapUpserted {
        config_map: Box<ConfigMap>,
    },
    SecretUpserted {
        secret: Box<Secret>,
    },
    ServiceUpserted {
        service: Box<Service>,
    },
    /// The object is gone, or (ConfigMaps, Secrets) the node no longer has a
    /// pod in its namespace: forget it.
    ObjectRemoved {
        object: ObjectRef,
    },
    Error(ErrorMessage),
}

impl ServerMessage {
    /// The variant's name, for logs: never the content (a Secret's data must
    /// not reach a log line through `Debug`).
    pub fn type_name(&self) -> &'static str {
        match self {
            ServerMessage::Joined(_) => "Joined",
            ServerMessage::Welcome(_) => "Welcome",
            ServerMessage::DesiredPods(_) => "DesiredPods",
            ServerMessage::PodUpserted { .. } => "PodUpserted",
            ServerMessage::PodRemoved { .. } => "PodRemoved",
            ServerMessage::ConfigMapUpserted { .. } => "ConfigMapUpserted",
            ServerMessage::SecretUpserted { .. } => "SecretUpserted",
            ServerMessage::ServiceUpserted { .. } => "ServiceUpserted",
            ServerMessage::ObjectRemoved { .. } => "ObjectRemoved",
            ServerMessage::Error(_) => "Error",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("empty frame")]
    Empty,
    #[error("stream ended inside a frame")]
    Truncated,
    #[error("undecodable frame: {0}")]
    Decode(String),
    #[error("unencodable message: {0}")]
    Encode(String),
}

/// Encodes `msg` as one frame: length prefix and JSON body.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let mut out = vec![0u8; 4];
    serde_json::to_writer(&mut out, msg).map_err(|e| FrameError::Encode(e.to_string()))?;
    let len = out.len() - 4;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge {
            len,
            max: MAX_FRAME,
        });
    }
    out[..4].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(out)
}

/// The body length a frame header announces, checked against [`MAX_FRAME`].
pub fn body_len(header: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header) as usize;
    match len {
        0 => Err(FrameError::Empty),
        l if l > MAX_FRAME => Err(FrameError::TooLarge {
            len: l,
            max: MAX_FRAME,
        }),
        l => Ok(l),
    }
}

/// Decodes one frame body.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    serde_json::from_slice(body).map_err(|e| FrameError::Decode(e.to_string()))
}

/// Splits a byte stream into messages, for readers that get arbitrary chunks.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete message, `None` if more bytes are needed. An error
    /// poisons the stream: the caller must close it.
    pub fn next_message<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        let Some(header) = self.buf.get(..4) else {
            return Ok(None);
        };
        let len = body_len(header.try_into().expect("four bytes"))?;
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let msg = decode_body(&self.buf[4..4 + len]);
        self.buf.drain(..4 + len);
        msg.map(Some)
    }

    /// Call at end of stream: an incomplete frame left over is an error.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(FrameError::Truncated)
        }
    }
}

/// A node join token.
///
/// `orchestrator token create` prints the full form `K10<hex>::<id>.<secret>`
/// (k3s's shape): `<hex>` is the SHA-256 of the cluster CA certificate (DER),
/// which the node pins on its first, server-authenticated connection, as
/// kubeadm's `--discovery-token-ca-cert-hash` does; `<id>.<secret>` is the
/// kubeadm bootstrap token (6 and 16 characters of `[a-z0-9]`) stored as the
/// Secret `kube-system/bootstrap-token-<id>`. The short form `<id>.<secret>`
/// is accepted too, with the hash given separately (`node --ca-hash sha256:<hex>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinToken {
    /// Lowercase hex SHA-256 of the CA certificate, if the token carries it.
    pub ca_hash: Option<String>,
    pub id: String,
    pub secret: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error(
        "invalid token {0:?}: expected K10<sha256 hex of the CA>::<id>.<secret> or <id>.<secret>, where <id> is 6 and <secret> 16 characters of [a-z0-9]"
    )]
    Malformed(String),
    #[error("invalid CA hash {0:?}: expected sha256: followed by 64 hex digits")]
    BadHash(String),
}

impl JoinToken {
    /// `<id>.<secret>`, what the orchestrator checks.
    pub fn bootstrap(&self) -> String {
        format!("{}.{}", self.id, self.secret)
    }

    /// `sha256:<hex>`, the form `Ca::hash` and kubeadm print.
    pub fn ca_hash_pin(&self) -> Option<String> {
        self.ca_hash.as_ref().map(|h| format!("sha256:{h}"))
    }

    /// Parses `sha256:<hex>` (or bare `<hex>`) into lowercase hex.
    pub fn parse_ca_hash(s: &str) -> Result<String, TokenError> {
        let hex = s.strip_prefix("sha256:").unwrap_or(s).to_ascii_lowercase();
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(hex)
        } else {
            Err(TokenError::BadHash(s.to_string()))
        }
    }
}

impl std::str::FromStr for JoinToken {
    type Err = TokenError;

    fn from_str(s: &str) -> Result<Self, TokenError> {
        // The error echoes only the shape, never a secret.
        let malformed = || TokenError::Malformed(redact(s));
        let (ca_hash, rest) = match s.strip_prefix("K10") {
            Some(r) => {
                let (h, rest) = r.split_once("::").ok_or_else(malformed)?;
                let h = JoinToken::parse_ca_hash(h).map_err(|_| malformed())?;
                (Some(h), rest)
            }
            None => (None, s),
        };
        let (id, secret) = rest.split_once('.').ok_or_else(malformed)?;
        let ok = |v: &str, n: usize| {
            v.len() == n
                && v.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        if !ok(id, 6) || !ok(secret, 16) {
            return Err(malformed());
        }
        Ok(JoinToken {
            ca_hash,
            id: id.to_string(),
            secret: secret.to_string(),
        })
    }
}

impl std::fmt::Display for JoinToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.ca_hash {
            Some(h) => write!(f, "K10{h}::{}.{}", self.id, self.secret),
            None => write!(f, "{}.{}", self.id, self.secret),
        }
    }
}

/// A token with its secret part hidden, for messages and logs.
fn redact(s: &str) -> String {
    match s.rsplit_once('.') {
        Some((head, _)) => format!("{head}.<redacted>"),
        None if s.len() > 8 => format!("{}…", s.chars().take(4).collect::<String>()),
        None => s.to_string(),
    }
}

/// CIDRs travel as their usual text (`10.244.0.0/16`).
mod as_string {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr<Err: Display>,
        D: Deserializer<'de>,
    {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e| D::Error::custom(format!("{s:?}: {e}")))
    }
}

/// The node name a client certificate's subject authenticates, if it is a node's.
pub fn node_name_of(user: &str, groups: &[String]) -> Option<String> {
    let name = user.strip_prefix(NODE_USER_PREFIX)?;
    (!name.is_empty() && groups.iter().any(|g| g == NODES_GROUP)).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn facts() -> ClusterFacts {
        ClusterFacts {
            cluster_name: "c".into(),
            pod_cidr: "10.244.0.0/16".parse().unwrap(),
            service_cidr: "10.96.0.0/12".parse().unwrap(),
            cluster_dns: Ipv4Addr::new(10, 96, 0, 10),
            cluster_domain: "cluster.local".into(),
        }
    }

    fn round_trip_node(m: NodeMessage) {
        let bytes = encode(&m).unwrap();
        let mut d = FrameDecoder::new();
        d.push(&bytes);
        assert_eq!(d.next_message::<NodeMessage>().unwrap(), Some(m));
        assert_eq!(d.next_message::<NodeMessage>().unwrap(), None);
        d.finish().unwrap();
    }

    fn round_trip_server(m: ServerMessage) {
        let bytes = encode(&m).unwrap();
        let len = body_len(bytes[..4].try_into().unwrap()).unwrap();
        assert_eq!(len, bytes.len() - 4);
        assert_eq!(decode_body::<ServerMessage>(&bytes[4..]).unwrap(), m);
    }

    #[test]
    fn every_message_round_trips() {
        let status = NodeStatus {
            capacity: Some(
                [("pods".to_string(), Quantity("1000".into()))]
                    .into_iter()
                    .collect(),
            ),
            ..Default::default()
        };
        round_trip_node(NodeMessage::Join(JoinRequest {
            version: PROTOCOL_VERSION,
            token: "abcdef.0123456789abcdef".into(),
            node_name: "n1".into(),
            csr_pem: "-----BEGIN CERTIFICATE REQUEST-----".into(),
        }));
        round_trip_node(NodeMessage::Hello(Box::new(Hello {
            version: PROTOCOL_VERSION,
            node_name: "n1".into(),
            status,
        })));
        let pod = PodRef {
            namespace: "default".into(),
            name: "p".into(),
            uid: "u".into(),
        };
        round_trip_node(NodeMessage::PodStatus(Box::new(PodStatusUpdate {
            pod: pod.clone(),
            status: PodStatus {
                phase: Some("Pending".into()),
                ..Default::default()
            },
            terminated: false,
        })));
        round_trip_node(NodeMessage::Heartbeat);
        round_trip_server(ServerMessage::Joined(JoinResponse {
            client_cert_pem: "c".into(),
            ca_pem: "ca".into(),
            cluster: facts(),
        }));
        round_trip_server(ServerMessage::Welcome(Welcome {
            node_name: "n1".into(),
            pod_cidr: "10.244.3.0/24".parse().unwrap(),
            cluster: facts(),
        }));
        round_trip_server(ServerMessage::DesiredPods(DesiredPods {
            revision: 7,
            pods: vec![Pod::default()],
            complete: true,
            config_maps: vec![ConfigMap::default()],
            secrets: vec![Secret::default()],
            services: vec![Service::default()],
        }));
        round_trip_server(ServerMessage::ConfigMapUpserted {
            config_map: Box::default(),
        });
        round_trip_server(ServerMessage::SecretUpserted {
            secret: Box::default(),
        });
        round_trip_server(ServerMessage::ServiceUpserted {
            service: Box::default(),
        });
        round_trip_server(ServerMessage::ObjectRemoved {
            object: ObjectRef {
                kind: ObjectKind::Secret,
                namespace: "ns".into(),
                name: "s".into(),
            },
        });
        round_trip_node(NodeMessage::Event(Box::new(PodEvent {
            pod: pod.clone(),
            event_type: "Warning".into(),
            reason: "Failed".into(),
            message: "Error: configmap \"x\" not found".into(),
            field_path: Some("spec.containers{web}".into()),
            timestamp: None,
        })));
        round_trip_server(ServerMessage::PodUpserted {
            pod: Box::new(Pod::default()),
        });
        round_trip_server(ServerMessage::PodRemoved { pod });
        round_trip_server(ServerMessage::Error(ErrorMessage {
            code: ErrorCode::Unauthorized,
            message: "no".into(),
        }));
    }

    #[test]
    fn a_snapshot_from_an_older_peer_still_decodes() {
        let old = br#"{"type":"DesiredPods","revision":3,"pods":[],"complete":true}"#;
        let m: ServerMessage = decode_body(old).unwrap();
        let ServerMessage::DesiredPods(d) = m else {
            panic!("not a snapshot")
        };
        assert!(d.config_maps.is_empty() && d.secrets.is_empty() && d.services.is_empty());
    }

    #[test]
    fn wire_shape_is_tagged_json() {
        let bytes = encode(&NodeMessage::Heartbeat).unwrap();
        assert_eq!(&bytes[4..], br#"{"type":"Heartbeat"}"#);
        assert_eq!(&bytes[..4], &20u32.to_be_bytes());
    }

    #[test]
    fn decoder_handles_byte_by_byte_input_and_several_frames() {
        let mut all = encode(&NodeMessage::Heartbeat).unwrap();
        all.extend(encode(&NodeMessage::Heartbeat).unwrap());
        let mut d = FrameDecoder::new();
        let mut got = 0;
        for b in &all {
            d.push(std::slice::from_ref(b));
            while let Some(NodeMessage::Heartbeat) = d.next_message::<NodeMessage>().unwrap() {
                got += 1;
            }
        }
        assert_eq!(got, 2);
        d.finish().unwrap();
    }

    #[test]
    fn size_cap_is_enforced_both_ways() {
        let too_big = ((MAX_FRAME + 1) as u32).to_be_bytes();
        assert_eq!(
            body_len(too_big),
            Err(FrameError::TooLarge {
                len: MAX_FRAME + 1,
                max: MAX_FRAME
            })
        );
        assert_eq!(body_len(u32::MAX.to_be_bytes()).unwrap_err().to_string(), {
            format!(
                "frame of {} bytes exceeds the {MAX_FRAME}-byte limit",
                u32::MAX
            )
        });
        assert_eq!(body_len((MAX_FRAME as u32).to_be_bytes()), Ok(MAX_FRAME));
        let huge = ErrorMessage {
            code: ErrorCode::Internal,
            message: "x".repeat(MAX_FRAME),
        };
        assert!(matches!(
            encode(&ServerMessage::Error(huge)),
            Err(FrameError::TooLarge { .. })
        ));
        let mut d = FrameDecoder::new();
        d.push(&too_big);
        assert!(matches!(
            d.next_message::<NodeMessage>(),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        let cases: &[&[u8]] = &[
            b"",
            b"{",
            b"null",
            b"[]",
            br#"{"type":"Nope"}"#,
            br#"{"type":"Join"}"#,
            br#"{"type":"PodStatus","pod":1}"#,
            &[0xff, 0xfe, 0x00, 0x01],
        ];
        for body in cases {
            assert!(
                decode_body::<NodeMessage>(body).is_err(),
                "{:?} decoded",
                String::from_utf8_lossy(body)
            );
            assert!(decode_body::<ServerMessage>(body).is_err());
        }
        assert_eq!(body_len([0; 4]), Err(FrameError::Empty));
        let mut d = FrameDecoder::new();
        d.push(&[0, 0, 0, 3, b'a', b'b', b'c']);
        assert!(matches!(
            d.next_message::<NodeMessage>(),
            Err(FrameError::Decode(_))
        ));
        let mut d = FrameDecoder::new();
        d.push(&[0, 0, 0, 9, b'{']);
        assert_eq!(d.next_message::<NodeMessage>().unwrap(), None);
        assert_eq!(d.finish(), Err(FrameError::Truncated));
        // Pseudo-random bytes: whatever they say, decoding returns.
        let mut x: u32 = 0x9e37_79b9;
        for _ in 0..2000 {
            let mut d = FrameDecoder::new();
            let bytes: Vec<u8> = (0..64)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (x % 7) as u8 * 37
                })
                .collect();
            d.push(&bytes);
            let _ = d.next_message::<NodeMessage>();
        }
    }

    #[test]
    fn tokens_parse_in_both_forms() {
        let hash = "ab".repeat(32);
        let full: JoinToken = format!("K10{hash}::abcdef.0123456789abcdef")
            .parse()
            .unwrap();
        assert_eq!(full.ca_hash.as_deref(), Some(hash.as_str()));
        assert_eq!(full.bootstrap(), "abcdef.0123456789abcdef");
        assert_eq!(full.ca_hash_pin(), Some(format!("sha256:{hash}")));
        assert_eq!(
            full.to_string(),
            format!("K10{hash}::abcdef.0123456789abcdef")
        );
        let short: JoinToken = "abcdef.0123456789abcdef".parse().unwrap();
        assert_eq!(short.ca_hash, None);
        assert_eq!(short.to_string(), "abcdef.0123456789abcdef");
        for bad in [
            "",
            "abcdef",
            "abcde.0123456789abcdef",
            "ABCDEF.0123456789abcdef",
            "abcdef.0123456789abcde",
            "abcdef.0123456789abcdefg",
            "K10abc::abcdef.0123456789abcdef",
            "K10::abcdef.0123456789abcdef",
        ] {
            let e = bad.parse::<JoinToken>().unwrap_err();
            assert!(
                !e.to_string().contains("0123456789abcde"),
                "{e} leaks the secret"
            );
        }
        assert_eq!(
            JoinToken::parse_ca_hash(&format!("sha256:{}", "AB".repeat(32))),
            Ok("ab".repeat(32))
        );
        assert!(JoinToken::parse_ca_hash("sha256:zz").is_err());
    }

    #[test]
    fn node_identity_needs_the_prefix_and_the_group() {
        let g = vec![NODES_GROUP.to_string()];
        assert_eq!(node_name_of("system:node:n1", &g), Some("n1".into()));
        assert_eq!(node_name_of("system:node:", &g), None);
        assert_eq!(node_name_of("kubernetes-admin", &g), None);
        assert_eq!(node_name_of("system:node:n1", &[]), None);
    }
}
