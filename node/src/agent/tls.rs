//! TLS for the node link: the first join pins the cluster CA by the hash in the
//! token; every later connection trusts the stored CA and presents the node's
//! client certificate.
//!
//! Invariant: the node never talks to an orchestrator whose chain does not end
//! at the pinned (or stored) CA, and always names it [`SERVER_NAME`].

use std::sync::Arc;
use std::time::Duration;

use regatta_api::node_protocol::{ALPN, SERVER_NAME};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime, pem::PemObject};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

use super::credentials::Credentials;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("TLS setup: {0}")]
    Quic(#[from] quinn::crypto::rustls::NoInitialCipherSuite),
    #[error("reading {what}: {message}")]
    Pem { what: &'static str, message: String },
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// `sha256:<hex>` of a certificate's DER.
pub fn cert_hash(der: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(der)))
}

/// Accepts a server whose chain includes a CA certificate with the pinned hash,
/// and whose leaf that CA signed for [`SERVER_NAME`].
#[derive(Debug)]
struct PinnedCa {
    /// `sha256:<hex>`.
    pin: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCa {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ca = intermediates
            .iter()
            .find(|c| cert_hash(c.as_ref()) == self.pin)
            .ok_or_else(|| {
                rustls::Error::General(format!(
                    "the orchestrator's certificate chain has no CA matching the pinned hash {}: wrong token or wrong server",
                    self.pin
                ))
            })?;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            self.provider.clone(),
        )
        .build()
        .map_err(|e| rustls::Error::General(e.to_string()))?;
        verifier.verify_server_cert(end_entity, &[], server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn quic(mut tls: rustls::ClientConfig) -> Result<quinn::ClientConfig, TlsError> {
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)?;
    let mut cfg = quinn::ClientConfig::new(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    // Often enough that, after an orchestrator restart, the node's next
    // packet draws the stateless reset within about a second (DESIGN §4:
    // statuses current again within seconds); one small packet a second.
    transport.keep_alive_interval(Some(Duration::from_secs(1)));
    transport.max_idle_timeout(Some(
        Duration::from_secs(30).try_into().expect("small duration"),
    ));
    cfg.transport_config(Arc::new(transport));
    Ok(cfg)
}

/// For the join: server-authenticated by the pinned CA hash, no client certificate.
pub fn join_config(pin: &str) -> Result<quinn::ClientConfig, TlsError> {
    let provider = provider();
    let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedCa {
            pin: pin.to_string(),
            provider,
        }))
        .with_no_client_auth();
    quic(tls)
}

/// For the control stream: the stored CA and the node's client certificate.
pub fn mtls_config(creds: &Credentials) -> Result<quinn::ClientConfig, TlsError> {
    let pem = |what: &'static str| {
        move |e: rustls::pki_types::pem::Error| TlsError::Pem {
            what,
            message: e.to_string(),
        }
    };
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(creds.ca_pem.as_bytes()) {
        roots.add(c.map_err(pem("the stored CA"))?)?;
    }
    let certs = CertificateDer::pem_slice_iter(creds.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem("the stored client certificate"))?;
    let key = PrivateKeyDer::from_pem_slice(creds.key_pem.as_bytes())
        .map_err(pem("the stored private key"))?;
    let tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)?;
    quic(tls)
}

pub fn server_name() -> &'static str {
    SERVER_NAME
}
