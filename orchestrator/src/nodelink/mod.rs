//! The orchestrator side of the node link (DESIGN §4): QUIC endpoint, join tokens, certificate issuance, per-node authorization.
//!
//! Owns the UDP endpoint (`--node-listen`, ALPN `regatta-node/1`) and, for each
//! node, its session. May call the API only through [`Rest`](crate::apiserver::rest::Rest)
//! and the store's watch; knows nothing of HTTP.
//!
//! **Tokens.** `orchestrator token create` prints one string,
//! `K10<sha256 of the CA cert>::<id>.<secret>` (k3s's shape; see
//! [`JoinToken`](regatta_api::node_protocol::JoinToken)), so `node --server
//! HOST:PORT --token TOKEN` is all a node needs, as DESIGN §2 has it, and still
//! pins the CA as kubeadm's discovery hash does. The kubeadm-style short form
//! `<id>.<secret>` plus `node --ca-hash sha256:<hex>` works too. The `<id>.<secret>`
//! part is a Secret `kube-system/bootstrap-token-<id>` (see [`token`]).
//!
//! **TLS.** One server config for every connection: the certificate chain is
//! `[leaf for "regatta-orchestrator", CA]` (the CA is sent so a joining node can
//! find the certificate whose hash its token pins); client certificates are
//! verified against the CA when presented and optional at the TLS layer. A
//! connection without one may only `Join`; a control stream (`Hello`) requires
//! one naming `system:node:<name>` in `system:nodes`, and the session acts for
//! that name alone (see [`session`]).
//!
//! **Restarts.** The stateless-reset key lives in
//! `<data-dir>/pki/node-link-reset.key` and connection IDs are not tied to
//! the process, so after a crash the new endpoint answers a node's packets
//! for its old connection with a reset the node accepts: it reconnects within
//! about a keepalive (1 s), not after the 30 s idle timeout.
//!
//! Invariant: every session task is owned by the tracker it was started on and
//! ends when the shutdown token fires; the endpoint is closed then.

mod events;
mod registration;
mod session;
pub mod streams;
pub mod token;
use regatta_link::wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use regatta_api::node_protocol::{self as proto, ClusterFacts, close};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::apiserver::ApiServer;
use crate::config::ClusterFlags;
use crate::pki::Ca;

pub use registration::{LEASE_DURATION_SECS, LEASE_NAMESPACE};

/// A QUIC connection idles out after this long without packets (the node keeps it alive).
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// What every session shares.
pub(crate) struct Link {
    api: Arc<ApiServer>,
    ca: Ca,
    facts: ClusterFacts,
    alloc: registration::PodCidrAllocator,
    shutdown: CancellationToken,
}

/// The key QUIC stateless-reset tokens are derived from, kept in
/// `<data-dir>/pki/node-link-reset.key` (0600) so that it survives a restart:
/// after a crash the new process answers a node's packets for the old
/// connection with a reset the node accepts, and the node reconnects at once
/// instead of waiting out the idle timeout.
struct ResetKey([u8; 32]);

impl ResetKey {
    fn load_or_create(data_dir: &std::path::Path) -> Result<ResetKey> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = data_dir.join("pki").join("node-link-reset.key");
        match std::fs::read(&path) {
            Ok(b) if b.len() == 32 => {
                let mut k = [0u8; 32];
                k.copy_from_slice(&b);
                return Ok(ResetKey(k));
            }
            Ok(_) => tracing::warn!(path = %path.display(), "not a 32-byte key; making a new one"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
        let k: [u8; 32] = rand::random();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let tmp = path.with_extension("tmp");
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .with_context(|| format!("writing {}", tmp.display()))?;
            f.write_all(&k)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        Ok(ResetKey(k))
    }
}

/// 8-byte random connection IDs that any process accepts (see `start`).
struct RandomCids;

impl quinn::ConnectionIdGenerator for RandomCids {
    fn generate_cid(&mut self) -> quinn::ConnectionId {
        quinn::ConnectionId::new(&rand::random::<[u8; 8]>())
    }

    fn cid_len(&self) -> usize {
        8
    }

    fn cid_lifetime(&self) -> Option<Duration> {
        None
    }
}

impl quinn::crypto::HmacKey for ResetKey {
    fn sign(&self, data: &[u8], signature_out: &mut [u8]) {
        use sha2::{Digest, Sha256};
        // A keyed hash of the connection ID (fixed size: no length extension).
        let d = Sha256::new()
            .chain_update(self.0)
            .chain_update(data)
            .finalize();
        let n = signature_out.len().min(d.len());
        signature_out[..n].copy_from_slice(&d[..n]);
    }

    fn signature_len(&self) -> usize {
        32
    }

    fn verify(&self, data: &[u8], signature: &[u8]) -> Result<(), quinn::crypto::CryptoError> {
        let mut want = [0u8; 32];
        self.sign(data, &mut want);
        if signature.len() == want.len()
            && signature
                .iter()
                .zip(want)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        {
            Ok(())
        } else {
            Err(quinn::crypto::CryptoError)
        }
    }
}

fn server_config(ca: &Ca) -> Result<quinn::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca.cert_pem.as_bytes()) {
        roots.add(c?)?;
    }
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
            .allow_unauthenticated()
            .build()?;
    let leaf = ca.issue_server(proto::SERVER_NAME, &[proto::SERVER_NAME])?;
    let mut chain =
        CertificateDer::pem_slice_iter(leaf.cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>()?;
    chain.extend(
        CertificateDer::pem_slice_iter(ca.cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>()?,
    );
    let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes())?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    tls.alpn_protocols = vec![proto::ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)?;
    let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport.max_idle_timeout(Some(IDLE_TIMEOUT.try_into().expect("small")));
    transport.max_concurrent_uni_streams(0u8.into());
    cfg.transport_config(Arc::new(transport));
    Ok(cfg)
}

/// Binds `flags.node_listen`, writes the bound address to `<data-dir>/node-listen`
/// and serves nodes on `tasks` until `shutdown` fires. Returns the bound address.
pub async fn start(
    flags: &ClusterFlags,
    api: Arc<ApiServer>,
    tasks: &TaskTracker,
    shutdown: CancellationToken,
) -> Result<SocketAddr> {
    let ca = Ca::load_or_create(&flags.data_dir, &flags.cluster_name)?;
    let socket = std::net::UdpSocket::bind(flags.node_listen)
        .with_context(|| format!("binding the node address {} (UDP)", flags.node_listen))?;
    let reset_key = ResetKey::load_or_create(&flags.data_dir)?;
    // quinn's default connection IDs are validated by a hash keyed per
    // process: a restarted one would drop a node's packets as invalid instead
    // of answering them with the stateless reset. Random IDs, not validated.
    let mut endpoint_config = quinn::EndpointConfig::new(Arc::new(reset_key));
    endpoint_config.cid_generator(|| Box::new(RandomCids));
    let endpoint = quinn::Endpoint::new(
        endpoint_config,
        Some(server_config(&ca)?),
        socket,
        Arc::new(quinn::TokioRuntime),
    )
    .with_context(|| format!("serving QUIC on {}", flags.node_listen))?;
    let addr = endpoint.local_addr()?;
    std::fs::write(flags.data_dir.join("node-listen"), format!("{addr}\n"))
        .context("writing <data-dir>/node-listen")?;
    tracing::info!(addr = %addr, "node link listening (QUIC)");
    let link = Arc::new(Link {
        api,
        ca,
        facts: ClusterFacts {
            cluster_name: flags.cluster_name.clone(),
            pod_cidr: flags.pod_cidr,
            service_cidr: flags.service_cidr,
            cluster_dns: flags.cluster_dns,
            cluster_domain: flags.cluster_domain.clone(),
        },
        alloc: registration::PodCidrAllocator::new(flags.node_cidr_mask_size),
        shutdown: shutdown.clone(),
    });
    let sessions = tasks.clone();
    tasks.spawn(async move {
        loop {
            let incoming = tokio::select! {
                _ = shutdown.cancelled() => break,
                i = endpoint.accept() => i,
            };
            let Some(incoming) = incoming else { break };
            sessions.spawn(session::serve(link.clone(), incoming));
        }
        endpoint.close(close::SHUTDOWN.into(), b"orchestrator shutting down");
        let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
    });
    Ok(addr)
}
