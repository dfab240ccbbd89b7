//! The node's credential: `<data-dir>/pki/{node.key,node.crt,ca.crt}`, obtained
//! once by joining with a bootstrap token and reused on every later start.
//!
//! Invariant: the private key is generated here, written with mode 0600 and
//! never sent; the orchestrator sees only a certificate request.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use regatta_api::node_protocol::{
    self as proto, ErrorMessage, JoinRequest, JoinToken, NodeMessage, ServerMessage,
};
use rustls::pki_types::{CertificateDer, pem::PemObject};

use super::{tls, wire};

/// A node's client credential and the CA it trusts.
#[derive(Clone)]
pub struct Credentials {
    pub cert_pem: String,
    pub key_pem: String,
    pub ca_pem: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("join refused by the orchestrator ({code:?}): {message}")]
    Refused {
        code: proto::ErrorCode,
        message: String,
    },
    #[error(
        "a token with the CA hash (K10<hash>::<id>.<secret>) or --ca-hash sha256:<hex> is needed to join safely"
    )]
    NoPin,
    #[error("joining: {0}")]
    Failed(String),
    #[error("storing the credential in {path}: {error}")]
    Store {
        path: PathBuf,
        error: std::io::Error,
    },
}

fn failed(e: impl std::fmt::Display) -> JoinError {
    JoinError::Failed(e.to_string())
}

fn pki_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("pki")
}

/// The stored credential, if a join already happened.
pub fn load(data_dir: &Path) -> Option<Credentials> {
    let dir = pki_dir(data_dir);
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
    Some(Credentials {
        cert_pem: read("node.crt")?,
        key_pem: read("node.key")?,
        ca_pem: read("ca.crt")?,
    })
}

/// Forgets the stored credential (the orchestrator refused it).
pub fn remove(data_dir: &Path) {
    for f in ["node.crt", "node.key", "ca.crt"] {
        let _ = std::fs::remove_file(pki_dir(data_dir).join(f));
    }
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
    std::fs::rename(&tmp, path)
}

fn store(data_dir: &Path, c: &Credentials) -> Result<(), JoinError> {
    let dir = pki_dir(data_dir);
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |error| JoinError::Store { path, error }
    };
    std::fs::create_dir_all(&dir).map_err(err(&dir))?;
    // The certificate last: its presence is what `load` takes as "joined".
    for (name, body, mode) in [
        ("node.key", &c.key_pem, 0o600),
        ("ca.crt", &c.ca_pem, 0o644),
        ("node.crt", &c.cert_pem, 0o644),
    ] {
        let p = dir.join(name);
        write_file(&p, body.as_bytes(), mode).map_err(err(&p))?;
    }
    Ok(())
}

/// Joins the cluster at `server` with `token` (pinned by `pin`, `sha256:<hex>`)
/// as `node_name`, and stores the credential it gets.
pub async fn join(
    endpoint: &quinn::Endpoint,
    server: SocketAddr,
    token: &JoinToken,
    pin: &str,
    node_name: &str,
    data_dir: &Path,
) -> Result<Credentials, JoinError> {
    let key = rcgen::KeyPair::generate().map_err(failed)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("{}{node_name}", proto::NODE_USER_PREFIX),
    );
    let csr = params
        .serialize_request(&key)
        .and_then(|c| c.pem())
        .map_err(failed)?;
    let cfg = tls::join_config(pin).map_err(failed)?;
    let conn = endpoint
        .connect_with(cfg, server, tls::server_name())
        .map_err(failed)?
        .await
        .map_err(|e| JoinError::Failed(format!("connecting to {server}: {e}")))?;
    let (mut send, mut recv) = conn.open_bi().await.map_err(failed)?;
    let req = NodeMessage::Join(JoinRequest {
        version: proto::PROTOCOL_VERSION,
        token: token.bootstrap(),
        node_name: node_name.to_string(),
        csr_pem: csr,
    });
    wire::write(&mut send, &req).await.map_err(failed)?;
    let _ = send.finish();
    let answer = tokio::time::timeout(
        Duration::from_secs(15),
        wire::read::<ServerMessage>(&mut recv),
    )
    .await;
    conn.close(proto::close::DONE.into(), b"");
    let resp = match answer {
        Ok(Ok(Some(ServerMessage::Joined(r)))) => r,
        Ok(Ok(Some(ServerMessage::Error(ErrorMessage { code, message })))) => {
            return Err(JoinError::Refused { code, message });
        }
        Ok(Ok(Some(other))) => return Err(failed(format!("unexpected answer {other:?}"))),
        Ok(Ok(None)) => {
            return Err(failed(match conn.close_reason() {
                Some(r) => format!("the orchestrator closed the connection: {r}"),
                None => "the orchestrator closed the stream without an answer".into(),
            }));
        }
        Ok(Err(e)) => return Err(failed(e)),
        Err(_) => return Err(failed("no answer within 15s")),
    };
    // The CA handed over must be the one the token pinned.
    let ca_ok = CertificateDer::pem_slice_iter(resp.ca_pem.as_bytes())
        .filter_map(Result::ok)
        .any(|c| tls::cert_hash(c.as_ref()) == pin);
    if !ca_ok {
        return Err(failed(format!(
            "the CA the orchestrator sent does not match the pinned hash {pin}"
        )));
    }
    let creds = Credentials {
        cert_pem: resp.client_cert_pem,
        key_pem: key.serialize_pem(),
        ca_pem: resp.ca_pem,
    };
    store(data_dir, &creds)?;
    Ok(creds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_credentials_round_trip_with_a_private_key() {
        let d = tempfile::tempdir().unwrap();
        assert!(load(d.path()).is_none());
        let c = Credentials {
            cert_pem: "cert".into(),
            key_pem: "key".into(),
            ca_pem: "ca".into(),
        };
        store(d.path(), &c).unwrap();
        let l = load(d.path()).unwrap();
        assert_eq!(
            (l.cert_pem, l.key_pem, l.ca_pem),
            ("cert".into(), "key".into(), "ca".into())
        );
        let mode = std::fs::metadata(d.path().join("pki/node.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!format!("{c:?}").contains("key"));
        remove(d.path());
        assert!(load(d.path()).is_none());
    }
}
