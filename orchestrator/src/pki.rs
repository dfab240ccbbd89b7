//! The cluster's certificate authority and the credentials it signs.
//!
//! Owns: `<data-dir>/pki/` — the CA (generated on first start, never replaced),
//! the API server's serving certificate, the admin client certificate — and the
//! kubeconfig that carries the admin credential. Private keys and the kubeconfig
//! are written with mode 0600. Loading is idempotent: a second start reuses
//! everything, re-issuing the serving certificate only when its names change.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use sha2::{Digest, Sha256};

/// The common name and organisation of the administrator's client certificate.
pub const ADMIN_USER: &str = "kubernetes-admin";
pub const ADMIN_GROUP: &str = "system:masters";

/// Certificate authority of one cluster.
pub struct Ca {
    pub cert_pem: String,
    key: KeyPair,
    dir: PathBuf,
}

/// A certificate and its private key, PEM encoded.
#[derive(Clone)]
pub struct Credential {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Ca {
    /// Loads the CA from `<data_dir>/pki`, creating it on first use.
    pub fn load_or_create(data_dir: &Path, cluster_name: &str) -> Result<Ca> {
        let dir = data_dir.join("pki");
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let cert_path = dir.join("ca.crt");
        let key_path = dir.join("ca.key");
        if cert_path.exists() && key_path.exists() {
            let cert_pem = fs::read_to_string(&cert_path)?;
            let key =
                KeyPair::from_pem(&fs::read_to_string(&key_path)?).context("parsing pki/ca.key")?;
            return Ok(Ca { cert_pem, key, dir });
        }
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name = dn(&format!("{cluster_name}-ca"), None);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2035, 1, 1);
        let cert = params.self_signed(&key)?;
        write_private(&key_path, key.serialize_pem().as_bytes())?;
        fs::write(&cert_path, cert.pem())?;
        Ok(Ca {
            cert_pem: cert.pem(),
            key,
            dir,
        })
    }

    fn issuer(&self) -> Result<Issuer<'_, &KeyPair>> {
        Ok(Issuer::from_ca_cert_pem(&self.cert_pem, &self.key)?)
    }

    /// `sha256:<hex>` of the CA certificate's DER, as kubeadm's discovery hash pins it.
    pub fn hash(&self) -> Result<String> {
        let der = CertificateDer::from_pem_slice(self.cert_pem.as_bytes())
            .context("parsing CA certificate")?;
        Ok(format!(
            "sha256:{}",
            hex::encode(Sha256::digest(der.as_ref()))
        ))
    }

    /// Signs a client certificate for `user` in `groups` (CN and O, as Kubernetes reads them).
    pub fn issue_client(&self, user: &str, groups: &[&str]) -> Result<Credential> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = dn(user, Some(groups));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2035, 1, 1);
        let cert = params.signed_by(&key, &self.issuer()?)?;
        Ok(Credential {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Signs a PKCS#10 request (PEM) as a client certificate for `user` in `groups`.
    /// Only the request's public key is used; the subject is the caller's choice.
    pub fn sign_client_request(
        &self,
        csr_pem: &str,
        user: &str,
        groups: &[&str],
    ) -> Result<String> {
        let mut csr = rcgen::CertificateSigningRequestParams::from_pem(csr_pem)
            .context("parsing the certificate request")?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = dn(user, Some(groups));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2035, 1, 1);
        csr.params = params;
        Ok(csr.signed_by(&self.issuer()?)?.pem())
    }

    /// A serving credential for the DNS names `names`, issued afresh and not
    /// stored (the node link's: nodes pin the CA, never the leaf).
    pub fn issue_server(&self, cn: &str, names: &[&str]) -> Result<Credential> {
        let key = KeyPair::generate()?;
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name = dn(cn, None);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2035, 1, 1);
        let cert = params.signed_by(&key, &self.issuer()?)?;
        Ok(Credential {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// The API server's serving credential for `names` (DNS names and IPs), reused
    /// from disk while the names are unchanged.
    pub fn serving(&self, names: &[String]) -> Result<Credential> {
        let cert_path = self.dir.join("apiserver.crt");
        let key_path = self.dir.join("apiserver.key");
        let names_path = self.dir.join("apiserver.names");
        let wanted = names.join(",");
        if let (Ok(cert_pem), Ok(key_pem), Ok(have)) = (
            fs::read_to_string(&cert_path),
            fs::read_to_string(&key_path),
            fs::read_to_string(&names_path),
        ) && have == wanted
        {
            return Ok(Credential { cert_pem, key_pem });
        }
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = dn("kube-apiserver", None);
        params.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName(n.as_str().try_into()?)),
            })
            .collect::<Result<_, rcgen::Error>>()?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2035, 1, 1);
        let cert = params.signed_by(&key, &self.issuer()?)?;
        let cred = Credential {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        };
        write_private(&key_path, cred.key_pem.as_bytes())?;
        fs::write(&cert_path, &cred.cert_pem)?;
        fs::write(&names_path, wanted)?;
        Ok(cred)
    }

    /// The admin client credential, created once.
    pub fn admin(&self) -> Result<Credential> {
        let cert_path = self.dir.join("admin.crt");
        let key_path = self.dir.join("admin.key");
        if let (Ok(cert_pem), Ok(key_pem)) = (
            fs::read_to_string(&cert_path),
            fs::read_to_string(&key_path),
        ) {
            return Ok(Credential { cert_pem, key_pem });
        }
        let cred = self.issue_client(ADMIN_USER, &[ADMIN_GROUP])?;
        write_private(&key_path, cred.key_pem.as_bytes())?;
        fs::write(&cert_path, &cred.cert_pem)?;
        Ok(cred)
    }

    /// A rustls server config presenting `serving` and accepting (but not requiring)
    /// client certificates signed by this CA: anonymous requests reach the HTTP layer,
    /// which answers 401 in Kubernetes style rather than failing the handshake.
    pub fn server_config(&self, serving: &Credential) -> Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(self.cert_pem.as_bytes()) {
            roots.add(c?)?;
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.into(),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()?;
        let certs = CertificateDer::pem_slice_iter(serving.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()?;
        let key = PrivateKeyDer::from_pem_slice(serving.key_pem.as_bytes())?;
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

/// The Kubernetes identity a client certificate carries: its CN (user) and O
/// (groups), as kube-apiserver reads them.
pub fn subject_of(cert_der: &[u8]) -> Option<(String, Vec<String>)> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    let subject = cert.subject();
    let user = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_string))
        .collect();
    Some((user, groups))
}

fn dn(cn: &str, orgs: Option<&[&str]>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for o in orgs.unwrap_or_default() {
        dn.push(DnType::OrganizationName, *o);
    }
    dn.push(DnType::CommonName, cn);
    dn
}

/// Writes a secret file readable only by its owner, even if it already existed wider.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))?;
    fs::rename(&tmp, path)?;
    Ok(())
}

/// Writes `<data_dir>/kubeconfig` (mode 0600) for the admin user against `server`.
pub fn write_kubeconfig(
    path: &Path,
    cluster_name: &str,
    server: &str,
    ca_pem: &str,
    admin: &Credential,
) -> Result<()> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let user = format!("{cluster_name}-admin");
    let doc = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {cluster_name}\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\ncontexts:\n- name: {cluster_name}\n  context:\n    cluster: {cluster_name}\n    user: {user}\n    namespace: default\ncurrent-context: {cluster_name}\npreferences: {{}}\n",
        ca = b64(ca_pem),
        cert = b64(&admin.cert_pem),
        key = b64(&admin.key_pem),
    );
    write_private(path, doc.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = Ca::load_or_create(dir.path(), "t").unwrap();
        let b = Ca::load_or_create(dir.path(), "t").unwrap();
        assert_eq!(a.cert_pem, b.cert_pem);
        assert_eq!(a.hash().unwrap(), b.hash().unwrap());
        assert!(a.hash().unwrap().starts_with("sha256:"));
        let mode = fs::metadata(dir.path().join("pki/ca.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn serving_cert_reissued_only_when_names_change() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::load_or_create(dir.path(), "t").unwrap();
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let a = ca.serving(&names).unwrap();
        assert_eq!(a.cert_pem, ca.serving(&names).unwrap().cert_pem);
        let other = vec!["localhost".to_string()];
        assert_ne!(a.cert_pem, ca.serving(&other).unwrap().cert_pem);
        ca.server_config(&a).unwrap();
    }

    #[test]
    fn kubeconfig_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::load_or_create(dir.path(), "t").unwrap();
        let p = dir.path().join("kubeconfig");
        write_kubeconfig(
            &p,
            "t",
            "https://127.0.0.1:6443",
            &ca.cert_pem,
            &ca.admin().unwrap(),
        )
        .unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let text = fs::read_to_string(&p).unwrap();
        assert!(text.contains("client-certificate-data"));
    }
}
