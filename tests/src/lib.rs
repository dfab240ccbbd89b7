//! Harness for the end-to-end suite: starts real `orchestrator` processes on
//! loopback with a private data dir and drives them with the real `kubectl`.
//!
//! Every cluster a test starts is stopped (by its PID) when the handle drops;
//! nothing here touches processes it did not start.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The workspace's build directory (where `cargo build` put the binaries).
pub fn target_dir() -> PathBuf {
    if let Ok(d) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(d);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target")
}

pub fn binary(name: &str) -> PathBuf {
    let p = target_dir().join("debug").join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --workspace --bins` first",
        p.display()
    );
    p
}

/// Waits for `cond` with a deadline, polling; the message says what never happened.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut cond: impl FnMut() -> Option<T>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(10);
    loop {
        if let Some(v) = cond() {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(200));
    }
}

/// A cluster name no other test (or test run) on this machine uses: it prefixes
/// every kernel object the cluster's nodes make.
pub fn cluster_name() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("e{}x{n}", std::process::id() % 100_000)
}

/// A running control plane (`orchestrator serve`) with its own data dir.
pub struct Cluster {
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    child: Option<Child>,
    pub kubeconfig: PathBuf,
    extra_args: Vec<String>,
    pub log: PathBuf,
    /// Fixed for the cluster's life, so a restart keeps its kernel objects' names.
    pub cluster_name: String,
}

impl Cluster {
    pub fn start() -> Result<Cluster> {
        Self::start_with(&[])
    }

    /// Starts with extra flags for `orchestrator serve`.
    pub fn start_with(extra: &[&str]) -> Result<Cluster> {
        let tmp = tempfile::Builder::new().prefix("regatta-e2e-").tempdir()?;
        let data_dir = tmp.path().to_path_buf();
        let mut c = Cluster {
            kubeconfig: data_dir.join("kubeconfig"),
            log: data_dir.join("orchestrator.log"),
            data_dir,
            _tmp: Some(tmp),
            child: None,
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
            cluster_name: cluster_name(),
        };
        c.spawn()?;
        Ok(c)
    }

    fn spawn(&mut self) -> Result<()> {
        let _ = std::fs::remove_file(&self.kubeconfig);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(binary("orchestrator"))
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args([
                "--api-listen",
                "127.0.0.1:0",
                "--node-listen",
                "127.0.0.1:0",
            ])
            .args(["--cluster-name", &self.cluster_name])
            .args(&self.extra_args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting orchestrator")?;
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<()> {
        let kubeconfig = self.kubeconfig.clone();
        let child = self.child.as_mut().expect("spawned");
        wait_for(
            "the API server to answer /readyz",
            Duration::from_secs(30),
            || {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("orchestrator exited early with {status}");
                }
                if !kubeconfig.exists() {
                    return None;
                }
                let out = Command::new("kubectl")
                    .args(["get", "--raw", "/readyz"])
                    .env("KUBECONFIG", &kubeconfig)
                    .output()
                    .ok()?;
                (out.status.success() && out.stdout == b"ok").then_some(())
            },
        )
        .with_context(|| format!("log:\n{}", self.log_text()))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The node link's UDP address, as the orchestrator wrote it to `<data-dir>/node-listen`.
    pub fn node_addr(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("node-listen"))
            .expect("the orchestrator writes <data-dir>/node-listen at start")
            .trim()
            .to_string()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// `kill -9`, then start again on the same data dir.
    pub fn kill9_and_restart(&mut self) -> Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill()?;
            c.wait()?;
        }
        self.spawn()
    }

    /// SIGTERM and wait; returns whether it exited cleanly.
    pub fn stop(&mut self) -> Result<bool> {
        let Some(mut c) = self.child.take() else {
            return Ok(true);
        };
        // SAFETY-free: signal our own child by its PID.
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let st = wait_for("orchestrator to exit", Duration::from_secs(15), || {
            c.try_wait().ok().flatten()
        })?;
        Ok(st.success())
    }

    /// The API server URL from the kubeconfig.
    pub fn server_url(&self) -> String {
        let text = std::fs::read_to_string(&self.kubeconfig).unwrap_or_default();
        text.lines()
            .find_map(|l| l.trim().strip_prefix("server: "))
            .unwrap_or_default()
            .to_string()
    }

    pub fn kubectl_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("kubectl");
        c.args(args).env("KUBECONFIG", &self.kubeconfig);
        c
    }

    /// Runs kubectl; returns its output whatever the exit status.
    pub fn kubectl_out(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = self.kubectl_cmd(args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl runs");
        if let Some(s) = stdin {
            child
                .stdin
                .take()
                .expect("piped")
                .write_all(s.as_bytes())
                .expect("write stdin");
        }
        child.wait_with_output().expect("kubectl finishes")
    }

    /// Runs kubectl and returns stdout; fails the test with stderr on error.
    pub fn kubectl(&self, args: &[&str]) -> String {
        self.kubectl_stdin(args, None)
    }

    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl_out(args, stdin);
        assert!(
            out.status.success(),
            "kubectl {} failed:\nstdout: {}\nstderr: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Runs kubectl expecting failure; returns stderr.
    pub fn kubectl_fail(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl_out(args, stdin);
        assert!(
            !out.status.success(),
            "kubectl {} unexpectedly succeeded: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.kubectl(&a)).expect("kubectl -o json prints JSON")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The repository root (for `manifests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A raw HTTPS client with the kubeconfig's admin credential, for requests
/// kubectl cannot make (oversized bodies, malformed JSON, exact status codes).
pub struct Http {
    pub base: String,
    pub client: reqwest::blocking::Client,
}

fn kubeconfig_field(text: &str, field: &str) -> Vec<u8> {
    use base64::Engine as _;
    let v = text
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{field}: ")))
        .unwrap_or_default();
    base64::engine::general_purpose::STANDARD
        .decode(v)
        .expect("base64 in kubeconfig")
}

impl Cluster {
    pub fn http(&self) -> Http {
        self.http_as(true)
    }

    /// An HTTPS client that trusts the cluster CA; with or without the admin credential.
    pub fn http_as(&self, authenticated: bool) -> Http {
        let text = std::fs::read_to_string(&self.kubeconfig).expect("kubeconfig");
        let ca =
            reqwest::Certificate::from_pem(&kubeconfig_field(&text, "certificate-authority-data"))
                .expect("CA PEM");
        let mut b = reqwest::blocking::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .timeout(Duration::from_secs(30));
        if authenticated {
            let mut pem = kubeconfig_field(&text, "client-certificate-data");
            pem.extend(kubeconfig_field(&text, "client-key-data"));
            b = b.identity(reqwest::Identity::from_pem(&pem).expect("client identity"));
        }
        Http {
            base: self.server_url(),
            client: b.build().expect("client"),
        }
    }
}

impl Http {
    /// Sends a request; returns (status, body as JSON or a string value).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, serde_json::Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.client.request(m, format!("{}{}", self.base, path));
        if let Some(ct) = content_type {
            rb = rb.header("Content-Type", ct);
        }
        let resp = rb.body(body).send().expect("request sent");
        let code = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        let v = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (code, v)
    }

    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.send("GET", path, None, vec![])
    }

    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        self.send(
            "POST",
            path,
            Some("application/json"),
            serde_json::to_vec(body).unwrap(),
        )
    }
}

/// A `node` process joined to a [`Cluster`], stopped with SIGTERM (by its PID)
/// when dropped, so it tears down its pod network as it would for a user.
pub struct NodeProcess {
    child: Option<Child>,
    pub name: String,
    pub log: PathBuf,
    pub data_dir: PathBuf,
}

impl NodeProcess {
    /// Joins `name` to `c` with a fresh token, its data in `data_dir`.
    pub fn join(c: &Cluster, name: &str, data_dir: &Path) -> Result<NodeProcess> {
        let out = Command::new(binary("orchestrator"))
            .args(["token", "create", "--data-dir"])
            .arg(&c.data_dir)
            .output()?;
        if !out.status.success() {
            bail!(
                "token create failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let text = String::from_utf8(out.stdout)?;
        let token = text.lines().next().unwrap_or_default().trim().to_string();
        std::fs::create_dir_all(data_dir)?;
        let log = data_dir.with_extension("log");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let child = Command::new(binary("node"))
            .args(["--server", &c.node_addr(), "--name", name])
            .args(["--node-ip", "127.0.0.1", "--token", &token])
            .arg("--data-dir")
            .arg(data_dir)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .context("starting node")?;
        Ok(NodeProcess {
            child: Some(child),
            name: name.to_string(),
            log,
            data_dir: data_dir.to_path_buf(),
        })
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then waits (SIGKILL after 15 s).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let exited = wait_for("node to exit", Duration::from_secs(15), || {
                c.try_wait().ok().flatten()
            });
            if exited.is_err() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
