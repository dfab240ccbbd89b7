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
//! Invariant: every session task is owned by the tracker it was started on and
//! ends when the shutdown token fires; the endpoint is closed then.

mod registration;
mod session;
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
    let endpoint = quinn::Endpoint::server(server_config(&ca)?, flags.node_listen)
        .with_context(|| format!("binding the node address {} (UDP)", flags.node_listen))?;
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
