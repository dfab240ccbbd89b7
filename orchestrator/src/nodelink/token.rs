//! Bootstrap tokens: creating them (`orchestrator token create`) and checking
//! them when a node joins.
//!
//! A token is stored as upstream's bootstrap-token Secret
//! `kube-system/bootstrap-token-<id>` (type `bootstrap.kubernetes.io/token`,
//! keys `token-id`, `token-secret`, `expiration`, `usage-bootstrap-*`), so
//! `kubectl -n kube-system get secrets` lists it and `kubectl delete` revokes it.
//! The printed form also pins the CA: see [`JoinToken`].
//!
//! `token create` talks to the running orchestrator through `<data-dir>/kubeconfig`
//! (the store is locked while a server runs); when nothing answers there it opens
//! the data dir's store directly. Invariant: the secret is compared in constant
//! time and never logged.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use rand::Rng;
use regatta_api::node_protocol::JoinToken;
use regatta_api::registry;
use serde_json::{Value, json};

use crate::apiserver::rest::{ClusterInfo, Rest, WriteOpts};
use crate::apiserver::status::ApiError;
use crate::pki::Ca;
use crate::store::Store;
use crate::store::redb_store::RedbStore;

pub const TOKEN_NAMESPACE: &str = "kube-system";
pub const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);

/// `orchestrator token create`.
#[derive(Debug, Clone, clap::Args)]
pub struct CreateArgs {
    /// The orchestrator's data dir (its CA, kubeconfig and store).
    #[arg(long, default_value = ".regatta")]
    pub data_dir: PathBuf,
    /// How long the token is valid: `<n>s|m|h|d`; `0` never expires.
    #[arg(long, default_value = "24h", value_parser = parse_ttl)]
    pub ttl: Duration,
    /// A description stored with the token.
    #[arg(long, default_value = "Regatta node join token")]
    pub description: String,
}

fn parse_ttl(s: &str) -> Result<Duration, String> {
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 30m, 24h, 7d or 0"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" | "" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("invalid duration {s:?}: unit must be s, m, h or d")),
    };
    Ok(Duration::from_secs(secs))
}

fn random_alnum(n: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A fresh token (without the CA hash).
pub fn generate() -> JoinToken {
    JoinToken {
        ca_hash: None,
        id: random_alnum(6),
        secret: random_alnum(16),
    }
}

pub fn secret_name(id: &str) -> String {
    format!("bootstrap-token-{id}")
}

/// The Secret that stores `token`.
pub fn secret_for(token: &JoinToken, ttl: Duration, description: &str) -> Value {
    let mut data = json!({
        "token-id": token.id,
        "token-secret": token.secret,
        "usage-bootstrap-authentication": "true",
        "usage-bootstrap-signing": "true",
        "auth-extra-groups": "system:bootstrappers:regatta:default-node-token",
        "description": description,
    });
    if !ttl.is_zero() {
        let exp = chrono::Utc::now() + chrono::Duration::seconds(ttl.as_secs() as i64);
        data["expiration"] = json!(exp.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name(&token.id), "namespace": TOKEN_NAMESPACE},
        "type": SECRET_TYPE,
        "stringData": data,
    })
}

/// Why a token was refused. The node hears only "invalid or expired"; the log says which.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("no bootstrap token with id {0:?}")]
    Unknown(String),
    #[error("bootstrap token {0:?}: wrong secret")]
    WrongSecret(String),
    #[error("bootstrap token {id:?} expired at {at}")]
    Expired { id: String, at: String },
    #[error("bootstrap token {0:?} is not usable for authentication")]
    NotForAuthentication(String),
    #[error("reading bootstrap token {id:?}: {message}")]
    Lookup { id: String, message: String },
}

fn data_field(secret: &Value, key: &str) -> Option<String> {
    let b64 = secret["data"][key].as_str()?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    String::from_utf8(raw).ok()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks `<id>.<secret>` against its Secret: exists, same secret, not expired,
/// usable for authentication.
pub async fn validate(rest: &Rest, token: &JoinToken) -> Result<(), Refused> {
    let secrets = registry::by_kind("v1", "Secret").expect("registered");
    let secret = match rest
        .get(secrets, Some(TOKEN_NAMESPACE), &secret_name(&token.id))
        .await
    {
        Ok(s) => s,
        Err(e) if e.code == 404 => return Err(Refused::Unknown(token.id.clone())),
        Err(e) => {
            return Err(Refused::Lookup {
                id: token.id.clone(),
                message: e.message,
            });
        }
    };
    if secret["type"].as_str() != Some(SECRET_TYPE) {
        return Err(Refused::Unknown(token.id.clone()));
    }
    let stored = data_field(&secret, "token-secret").unwrap_or_default();
    if !constant_time_eq(stored.as_bytes(), token.secret.as_bytes()) {
        return Err(Refused::WrongSecret(token.id.clone()));
    }
    if let Some(at) = data_field(&secret, "expiration") {
        let expired = match chrono::DateTime::parse_from_rfc3339(&at) {
            Ok(t) => t <= chrono::Utc::now(),
            Err(_) => true,
        };
        if expired {
            return Err(Refused::Expired {
                id: token.id.clone(),
                at,
            });
        }
    }
    if data_field(&secret, "usage-bootstrap-authentication").as_deref() != Some("true") {
        return Err(Refused::NotForAuthentication(token.id.clone()));
    }
    Ok(())
}

/// Creates a token through `rest`; returns it with the CA hash filled in.
pub async fn create(
    rest: &Rest,
    ca_hash: &str,
    ttl: Duration,
    description: &str,
) -> Result<JoinToken, ApiError> {
    let secrets = registry::by_kind("v1", "Secret").expect("registered");
    let mut token = generate();
    rest.create(
        secrets,
        Some(TOKEN_NAMESPACE),
        secret_for(&token, ttl, description),
        &WriteOpts::default(),
    )
    .await?;
    token.ca_hash = Some(JoinToken::parse_ca_hash(ca_hash).expect("Ca::hash is sha256:<hex>"));
    Ok(token)
}

/// `orchestrator token create`: returns the token to print.
pub async fn create_cli(args: &CreateArgs) -> Result<JoinToken> {
    let ca_path = args.data_dir.join("pki/ca.crt");
    if !ca_path.exists() {
        bail!(
            "no cluster in {}: {} is missing; start `orchestrator serve --data-dir {}` first",
            args.data_dir.display(),
            ca_path.display(),
            args.data_dir.display()
        );
    }
    // The cluster name only names a CA being created; this one exists.
    let ca = Ca::load_or_create(&args.data_dir, "regatta")?;
    let hash = ca.hash()?;
    let kubeconfig = args.data_dir.join("kubeconfig");
    if kubeconfig.exists()
        && let Some(t) = via_api(&kubeconfig, &hash, args).await?
    {
        return Ok(t);
    }
    via_store(&args.data_dir, &hash, args).await
}

async fn via_store(data_dir: &Path, hash: &str, args: &CreateArgs) -> Result<JoinToken> {
    let path = data_dir.join("store.redb");
    if !path.exists() {
        bail!("no store at {}", path.display());
    }
    let store = Arc::new(RedbStore::open(&path, 10_000).map_err(|e| {
        anyhow::anyhow!(
            "{e} (is an orchestrator running on this data dir? its kubeconfig did not answer)"
        )
    })?);
    let rest = Rest::new(
        store.clone() as Arc<dyn Store>,
        ClusterInfo {
            service_cidr: "10.96.0.0/12".parse().expect("valid"),
        },
    );
    let out = create(&rest, hash, args.ttl, &args.description).await;
    store.close().await;
    out.map_err(|e| anyhow::anyhow!("creating the token Secret: {}", e.message))
}

/// POSTs the Secret to the running API server with the kubeconfig's admin
/// credential; `None` when nothing listens at the kubeconfig's address.
async fn via_api(kubeconfig: &Path, hash: &str, args: &CreateArgs) -> Result<Option<JoinToken>> {
    use http_body_util::BodyExt;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

    let kc: Value = serde_yaml::from_str(&std::fs::read_to_string(kubeconfig)?)
        .context("parsing the kubeconfig")?;
    let field = |v: &Value| -> Result<Vec<u8>> {
        let s = v.as_str().context("kubeconfig field missing")?;
        Ok(base64::engine::general_purpose::STANDARD.decode(s)?)
    };
    let cluster = &kc["clusters"][0]["cluster"];
    let user = &kc["users"][0]["user"];
    let server = cluster["server"]
        .as_str()
        .context("kubeconfig has no server")?;
    let uri: http::Uri = server.parse().context("kubeconfig server URL")?;
    let host = uri.host().context("kubeconfig server has no host")?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(443);

    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&field(&cluster["certificate-authority-data"])?) {
        roots.add(c?)?;
    }
    let certs = CertificateDer::pem_slice_iter(&field(&user["client-certificate-data"])?)
        .collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_slice(&field(&user["client-key-data"])?)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)?;

    let tcp = match tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "no orchestrator answers at {server}");
            return Ok(None);
        }
        Err(_) => {
            tracing::debug!("connecting to {server} timed out");
            return Ok(None);
        }
    };
    let name = ServerName::try_from(host.clone()).context("server name")?;
    let stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(name, tcp)
        .await
        .with_context(|| format!("TLS to {server}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    let driver = tokio::spawn(conn);

    let token = generate();
    let body = serde_json::to_vec(&secret_for(&token, args.ttl, &args.description))?;
    let req = http::Request::post(format!("/api/v1/namespaces/{TOKEN_NAMESPACE}/secrets"))
        .header(http::header::HOST, format!("{host}:{port}"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    drop(sender);
    driver.abort();
    if !status.is_success() {
        let msg = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        bail!("creating the token Secret: {status}: {msg}");
    }
    Ok(Some(JoinToken {
        ca_hash: Some(JoinToken::parse_ca_hash(hash).expect("Ca::hash is sha256:<hex>")),
        ..token
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn rest() -> (tempfile::TempDir, Arc<RedbStore>, Rest) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(RedbStore::open(&dir.path().join("s.redb"), 100).unwrap());
        let rest = Rest::new(
            store.clone() as Arc<dyn Store>,
            ClusterInfo {
                service_cidr: "10.96.0.0/12".parse().unwrap(),
            },
        );
        let ns = registry::by_kind("v1", "Namespace").unwrap();
        rest.create(
            ns,
            None,
            json!({"metadata": {"name": TOKEN_NAMESPACE}}),
            &WriteOpts::default(),
        )
        .await
        .unwrap();
        (dir, store, rest)
    }

    #[tokio::test]
    async fn created_tokens_validate_and_wrong_ones_do_not() {
        let (_d, store, rest) = rest().await;
        let hash = format!("sha256:{}", "0a".repeat(32));
        let t = create(&rest, &hash, DEFAULT_TTL, "test").await.unwrap();
        assert_eq!(t.ca_hash_pin().as_deref(), Some(hash.as_str()));
        let printed: JoinToken = t.to_string().parse().unwrap();
        assert_eq!(printed, t);
        validate(&rest, &t).await.unwrap();

        let wrong = JoinToken {
            secret: "0000000000000000".into(),
            ..t.clone()
        };
        assert!(matches!(
            validate(&rest, &wrong).await,
            Err(Refused::WrongSecret(_))
        ));
        let unknown = JoinToken {
            id: "zzzzzz".into(),
            ..t.clone()
        };
        assert!(matches!(
            validate(&rest, &unknown).await,
            Err(Refused::Unknown(_))
        ));

        let secrets = registry::by_kind("v1", "Secret").unwrap();
        let s = rest
            .get(secrets, Some(TOKEN_NAMESPACE), &secret_name(&t.id))
            .await
            .unwrap();
        assert_eq!(s["type"], SECRET_TYPE);
        assert!(data_field(&s, "expiration").is_some());
        store.close().await;
    }

    #[tokio::test]
    async fn expired_tokens_are_refused() {
        let (_d, store, rest) = rest().await;
        let t = generate();
        let mut secret = secret_for(&t, DEFAULT_TTL, "old");
        secret["stringData"]["expiration"] = json!("2020-01-01T00:00:00Z");
        let secrets = registry::by_kind("v1", "Secret").unwrap();
        rest.create(
            secrets,
            Some(TOKEN_NAMESPACE),
            secret,
            &WriteOpts::default(),
        )
        .await
        .unwrap();
        let e = validate(&rest, &t).await.unwrap_err();
        assert!(matches!(e, Refused::Expired { .. }), "{e}");
        assert!(!e.to_string().contains(&t.secret));
        store.close().await;
    }

    #[test]
    fn ttl_parsing() {
        assert_eq!(parse_ttl("24h"), Ok(DEFAULT_TTL));
        assert_eq!(parse_ttl("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_ttl("0"), Ok(Duration::ZERO));
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("h").is_err());
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
