//! Pieces shared by the benchmarks: child processes that are always reaped, free
//! loopback ports, ConfigMap-shaped payloads, and latency summaries.
//!
//! Invariant: every process a benchmark starts is owned by a [`ChildGuard`], which
//! stops that PID (and only that one) when it is dropped, also while unwinding from
//! a panic; every temporary directory is a [`tempfile::TempDir`] owned next to it.

use std::fmt;
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// A child process stopped when dropped: SIGTERM, a grace period, then SIGKILL.
pub struct ChildGuard {
    name: String,
    child: Child,
    grace: Duration,
    stopped: bool,
}

impl ChildGuard {
    /// Spawns `command`, naming it `name` in messages.
    pub fn spawn(name: &str, command: &mut Command, grace: Duration) -> Result<ChildGuard> {
        let child = command
            .spawn()
            .with_context(|| format!("starting {name} ({command:?})"))?;
        Ok(ChildGuard {
            name: name.to_owned(),
            child,
            grace,
            stopped: false,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some` once the process has exited (for waiting on a child that may die early).
    pub fn exited(&mut self) -> Result<Option<ExitStatus>> {
        self.child
            .try_wait()
            .with_context(|| format!("checking on {}", self.name))
    }

    /// Stops the process and reaps it. Idempotent.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // `kill(1)` on this child's PID: a graceful stop without unsafe libc calls.
        let termed = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .is_ok_and(|s| s.success());
        if termed {
            let deadline = Instant::now() + self.grace;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback TCP port that was free a moment ago (bound to port 0, then released).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The last `max` bytes of a log file, for error messages about a child that failed.
pub fn log_tail(path: &Path, max: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = text.len().saturating_sub(max);
    String::from_utf8_lossy(&text[start..]).into_owned()
}

/// A ConfigMap manifest named `name` padded with a data entry to about `size` bytes of
/// JSON (exactly `size` when `size` is larger than the unpadded object).
pub fn configmap_json(name: &str, namespace: &str, size: usize) -> String {
    let head = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","namespace":"{namespace}","labels":{{"app":"bench"}}}},"data":{{"payload":""#
    );
    let tail = r#""}}"#;
    let pad = size.saturating_sub(head.len() + tail.len());
    let mut json = String::with_capacity(head.len() + pad + tail.len());
    json.push_str(&head);
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    json.extend((0..pad).map(|i| ALPHABET[i % ALPHABET.len()] as char));
    json.push_str(tail);
    json
}

/// Parses a comma-separated list of numbers (a flag such as `--writers 1,16,128`).
pub fn parse_list(list: &str) -> Result<Vec<usize>> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .with_context(|| format!("{s:?} is not a number in the list {list:?}"))
        })
        .collect()
}

/// Latencies of completed operations.
#[derive(Debug, Default)]
pub struct Latencies {
    sorted: Vec<Duration>,
}

impl Latencies {
    pub fn new(mut samples: Vec<Duration>) -> Latencies {
        samples.sort_unstable();
        Latencies { sorted: samples }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The nearest-rank percentile `p` (0..=100); zero when there are no samples.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    pub fn max(&self) -> Duration {
        self.sorted.last().copied().unwrap_or_default()
    }
}

/// A duration in milliseconds with two decimals, for tables.
pub struct Ms(pub Duration);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = format!("{:.2}", self.0.as_secs_f64() * 1e3);
        f.pad(&ms)
    }
}

/// Operations per second over `elapsed`.
pub fn rate(count: usize, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        0.0
    } else {
        count as f64 / elapsed.as_secs_f64()
    }
}

/// The parts of `<data-dir>/kubeconfig` a client needs.
pub struct Kubeconfig {
    pub server: String,
    pub ca_pem: Vec<u8>,
    pub identity_pem: Vec<u8>,
}

impl Kubeconfig {
    pub fn parse(text: &str) -> Result<Kubeconfig> {
        use base64::Engine;
        let doc: serde_yaml::Value =
            serde_yaml::from_str(text).context("parsing the kubeconfig")?;
        let field = |section: &str, inner: &str, name: &str| -> Result<String> {
            doc[section][0][inner][name]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("kubeconfig has no {section}[0].{inner}.{name}"))
        };
        let decode = |section: &str, inner: &str, name: &str| -> Result<Vec<u8>> {
            base64::engine::general_purpose::STANDARD
                .decode(field(section, inner, name)?.trim())
                .with_context(|| format!("kubeconfig {section}[0].{inner}.{name} is not base64"))
        };
        let mut identity_pem = decode("users", "user", "client-certificate-data")?;
        identity_pem.push(b'\n');
        identity_pem.extend(decode("users", "user", "client-key-data")?);
        Ok(Kubeconfig {
            server: field("clusters", "cluster", "server")?,
            ca_pem: decode("clusters", "cluster", "certificate-authority-data")?,
            identity_pem,
        })
    }

    /// An HTTPS client builder that trusts only the cluster CA and presents
    /// the kubeconfig's client certificate (HTTP/1.1, as kubectl's watches).
    pub fn client_builder(&self) -> Result<reqwest::ClientBuilder> {
        Ok(reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(&self.ca_pem).context("the kubeconfig's CA")?,
            )
            .identity(
                reqwest::Identity::from_pem(&self.identity_pem)
                    .context("the kubeconfig's client certificate and key")?,
            )
            .http1_only())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_has_the_requested_size_and_is_json() {
        for size in [512, 4096] {
            let json = configmap_json("cm-12", "default", size);
            assert_eq!(json.len(), size);
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(v["metadata"]["name"], "cm-12");
        }
        // Smaller than the bare object: no padding, still valid.
        let json = configmap_json("cm-1", "default", 10);
        serde_json::from_str::<serde_json::Value>(&json).unwrap();
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let l = Latencies::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(l.percentile(50.0), Duration::from_millis(50));
        assert_eq!(l.percentile(99.0), Duration::from_millis(99));
        assert_eq!(l.percentile(0.0), Duration::from_millis(1));
        assert_eq!(l.max(), Duration::from_millis(100));
        assert_eq!(Latencies::default().percentile(99.0), Duration::ZERO);
    }

    #[test]
    fn lists_parse() {
        assert_eq!(parse_list("1, 16,128").unwrap(), vec![1, 16, 128]);
        assert!(parse_list("1,x").is_err());
    }
}
