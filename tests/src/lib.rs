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

/// Waits until the API server of `kubeconfig` answers `/readyz` with `ok`;
/// panics if `child` (the process called `name`) exits first.
fn wait_readyz(
    child: &mut Child,
    name: &str,
    what: &str,
    kubeconfig: &Path,
    timeout: Duration,
) -> Result<()> {
    wait_for(what, timeout, || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{name} exited early with {status}");
        }
        if !kubeconfig.exists() {
            return None;
        }
        let out = Command::new("kubectl")
            .args(["get", "--raw", "/readyz"])
            .env("KUBECONFIG", kubeconfig)
            .output()
            .ok()?;
        (out.status.success() && out.stdout == b"ok").then_some(())
    })
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

    /// Starts with its own pod and Service CIDRs and cluster DNS address
    /// (`--pod-cidr`, `--service-cidr`, `--cluster-dns`).
    pub fn start_with_cidrs(pod_cidr: &str, service_cidr: &str, dns: &str) -> Result<Cluster> {
        Self::start_with(&[
            "--pod-cidr",
            pod_cidr,
            "--service-cidr",
            service_cidr,
            "--cluster-dns",
            dns,
        ])
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
        let child = self.child.as_mut().expect("spawned");
        wait_readyz(
            child,
            "orchestrator",
            "the API server to answer /readyz",
            &self.kubeconfig,
            Duration::from_secs(30),
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

// ---- `orchestrator up`, `node` processes, restarts, kernel leftovers (helper "up") ----

/// A pod CIDR and a Service CIDR no other cluster of this test process uses
/// (the pod network refuses CIDRs that overlap another cluster's routes):
/// `10.{160+n}.0.0/16` and `10.{200+n}.0.0/16`, outside the k8s defaults.
pub fn unique_cidrs() -> (String, String) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 32;
    (
        format!("10.{}.0.0/16", 160 + n),
        format!("10.{}.0.0/16", 200 + n),
    )
}

/// A free UDP port on loopback (for a node endpoint that must survive an
/// orchestrator restart).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free UDP port")
        .port()
}

/// A free TCP port on loopback.
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free TCP port")
        .port()
}

impl Cluster {
    /// SIGTERM, wait, and start again on the same data dir and flags.
    pub fn restart(&mut self) -> Result<()> {
        self.stop()?;
        self.spawn()
    }

    /// SIGTERM and wait, without starting again (see [`Cluster::start_again`]).
    pub fn stop_for_now(&mut self) -> Result<()> {
        self.stop().map(|_| ())
    }

    /// Starts again after [`Cluster::stop_for_now`].
    pub fn start_again(&mut self) -> Result<()> {
        self.spawn()
    }

    /// Creates a join token with `orchestrator token create`.
    pub fn create_token(&self) -> String {
        let out = Command::new(binary("orchestrator"))
            .args(["token", "create", "--data-dir"])
            .arg(&self.data_dir)
            .output()
            .expect("orchestrator token create runs");
        assert!(
            out.status.success(),
            "token create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// `(phase, podIP)` of a pod, when it exists.
    pub fn pod_phase_ip(&self, ns: &str, name: &str) -> Option<(String, String)> {
        let out = self.kubectl_out(&["-n", ns, "get", "pod", name, "-o", "json"], None);
        if !out.status.success() {
            return None;
        }
        let p: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        Some((
            p["status"]["phase"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            p["status"]["podIP"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ))
    }

    /// Waits until the pod is Running with an IP; returns the IP.
    pub fn wait_running(&self, ns: &str, name: &str, timeout: Duration) -> Result<String> {
        wait_for(&format!("pod {ns}/{name} Running"), timeout, || {
            let (phase, ip) = self.pod_phase_ip(ns, name)?;
            (phase == "Running" && !ip.is_empty()).then_some(ip)
        })
    }

    /// The pod's uid.
    pub fn pod_uid(&self, ns: &str, name: &str) -> String {
        self.json(&["-n", ns, "get", "pod", name])["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The pod (in the kubeconfig's namespace) as JSON, when it exists.
    pub fn pod_json(&self, name: &str) -> Option<serde_json::Value> {
        let out = self.kubectl_out(&["get", "pod", name, "-o", "json"], None);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())
            .flatten()
    }

    /// The status of `container` in the pod's `status.containerStatuses`.
    pub fn container_status(&self, pod: &str, container: &str) -> Option<serde_json::Value> {
        self.pod_json(pod)?["status"]["containerStatuses"]
            .as_array()?
            .iter()
            .find(|s| s["name"] == container)
            .cloned()
    }

    /// The node as JSON, when its `Ready` condition is `True`.
    pub fn ready_node(&self, name: &str) -> Option<serde_json::Value> {
        let out = self.kubectl_out(&["get", "node", name, "-o", "json"], None);
        if !out.status.success() {
            return None;
        }
        let n: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let ready = n["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        });
        ready.then_some(n)
    }

    /// Whether the node's `Ready` condition is `True`.
    pub fn node_is_ready(&self, name: &str) -> bool {
        self.ready_node(name).is_some()
    }
}

/// A bare Pod running the http-hello example on `node`, listening on `port`.
pub fn hello_pod_yaml(name: &str, node: &str, host_network: bool, port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  nodeName: {node}\n  hostNetwork: {host_network}\n  containers:\n  - name: web\n    image: file:///var/lib/regatta/examples/http-hello.wasm\n    ports:\n    - containerPort: {port}\n    env:\n    - name: POD_NAME\n      value: {name}\n    - name: PORT\n      value: \"{port}\"\n"
    )
}

/// `curl -s http://<addr>/` with a short timeout: the body, or None.
pub fn curl(url: &str) -> Option<String> {
    let out = Command::new("curl")
        .args(["-s", "-m", "2", url])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The netns names of a cluster (`<cluster>-…`), as `ip netns list` shows them.
pub fn cluster_netns(cluster: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let prefix = format!("{cluster}-");
    let mut v: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&prefix))
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// Everything of a cluster still in the kernel: netns `<cluster>-*`, links
/// named after it (the bridge `<cluster>0`), routes in any table into its pod
/// or Service CIDR or via its bridge, nft tables naming it. Empty when clean.
pub fn kernel_leftovers(cluster: &str, cidrs: &[&str]) -> Vec<String> {
    let run = |args: &[&str]| {
        Command::new(args[0])
            .args(&args[1..])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let mut left: Vec<String> = cluster_netns(cluster)
        .into_iter()
        .map(|n| format!("netns {n}"))
        .collect();
    let bridge = format!("{cluster}0");
    for l in run(&["ip", "-o", "link", "show"]).lines() {
        if l.contains(&format!(": {bridge}:")) || l.contains(&format!("master {bridge} ")) {
            left.push(format!("link {l}"));
        }
    }
    // "10.160.0.0/16" -> "10.160." is enough to find routes inside it.
    let prefixes: Vec<String> = cidrs
        .iter()
        .map(|c| {
            let mut parts = c.split('.');
            format!(
                "{}.{}.",
                parts.next().unwrap_or(""),
                parts.next().unwrap_or("")
            )
        })
        .collect();
    for l in run(&["ip", "route", "show", "table", "all"]).lines() {
        let dst = l
            .split_whitespace()
            .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .unwrap_or("");
        if l.contains(&format!("dev {bridge} "))
            || prefixes.iter().any(|p| dst.starts_with(p.as_str()))
        {
            left.push(format!("route {l}"));
        }
    }
    // `e1x1` must not match the table of cluster `e1x10`.
    let names_cluster = |w: &str| {
        w.strip_prefix(cluster)
            .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit()))
    };
    for l in run(&["nft", "list", "tables"]).lines() {
        if l.split_whitespace().any(names_cluster) {
            left.push(format!("nft {l}"));
        }
    }
    left
}

/// A `node` process, stopped by its PID (SIGTERM, then SIGKILL) when dropped.
pub struct NodeProcess {
    child: Option<Child>,
    pub log: PathBuf,
    server: String,
    pub name: String,
    pub data_dir: PathBuf,
}

impl NodeProcess {
    /// Joins `name` to `c` with a fresh token, its data in `data_dir`.
    pub fn join(c: &Cluster, name: &str, data_dir: &Path) -> Result<NodeProcess> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let token = c.create_token();
        Ok(NodeProcess::start(
            &c.node_addr(),
            Some(&token),
            name,
            data_dir,
        ))
    }

    /// `node --server <server> --name <name> --node-ip 127.0.0.1 --data-dir <dir> [--token T]`.
    pub fn start(server: &str, token: Option<&str>, name: &str, data_dir: &Path) -> NodeProcess {
        let mut n = NodeProcess {
            child: None,
            log: data_dir.with_extension("log"),
            server: server.to_string(),
            name: name.to_string(),
            data_dir: data_dir.to_path_buf(),
        };
        n.spawn(token);
        n
    }

    fn spawn(&mut self, token: Option<&str>) {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("node log");
        let mut cmd = Command::new(binary("node"));
        cmd.args(["--server", &self.server, "--name", &self.name])
            .args(["--node-ip", "127.0.0.1"])
            .arg("--data-dir")
            .arg(&self.data_dir);
        if let Some(t) = token {
            cmd.args(["--token", t]);
        }
        let child = cmd
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("node starts");
        self.child = Some(child);
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGTERM and wait (SIGKILL after 15 s); returns whether it exited 0.
    pub fn stop(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        match wait_for("node to exit", Duration::from_secs(15), || {
            c.try_wait().ok().flatten()
        }) {
            Ok(st) => st.success(),
            Err(_) => {
                let _ = c.kill();
                let _ = c.wait();
                false
            }
        }
    }

    /// `kill -9` and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again (on its stored credential) after `stop` or `kill9`.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "stop the node first");
        self.spawn(None);
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running `orchestrator up` (control plane plus embedded node) with its
/// own data dir; SIGTERM, then SIGKILL, by its PID when dropped.
pub struct UpCluster {
    /// For kubectl: the same data dir, kubeconfig and cluster name (it does
    /// not own the process).
    pub cluster: Cluster,
    pub node_name: String,
    pub pod_cidr: String,
    pub service_cidr: String,
    pub stdout: PathBuf,
    child: Option<Child>,
    _tmp: tempfile::TempDir,
}

impl UpCluster {
    /// `orchestrator up` on loopback with free ports, a unique cluster name
    /// and unique CIDRs; returns once `/readyz` answers `ok`.
    pub fn start() -> Result<UpCluster> {
        let tmp = tempfile::Builder::new().prefix("regatta-up-").tempdir()?;
        let data_dir = tmp.path().to_path_buf();
        let name = cluster_name();
        let (pod_cidr, service_cidr) = unique_cidrs();
        let node_name = format!("{name}-node");
        let log = data_dir.join("orchestrator.log");
        let stdout = data_dir.join("stdout.txt");
        let child = Command::new(binary("orchestrator"))
            .arg("up")
            .arg("--data-dir")
            .arg(&data_dir)
            .args([
                "--api-listen",
                "127.0.0.1:0",
                "--node-listen",
                "127.0.0.1:0",
            ])
            .args(["--cluster-name", &name, "--node-name", &node_name])
            .args(["--pod-cidr", &pod_cidr, "--service-cidr", &service_cidr])
            .env("RUST_LOG", "info")
            .stdout(std::fs::File::create(&stdout)?)
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting orchestrator up")?;
        let mut up = UpCluster {
            cluster: Cluster {
                kubeconfig: data_dir.join("kubeconfig"),
                log,
                data_dir,
                _tmp: None,
                child: None,
                extra_args: vec![],
                cluster_name: name,
            },
            node_name,
            pod_cidr,
            service_cidr,
            stdout,
            child: Some(child),
            _tmp: tmp,
        };
        let child = up.child.as_mut().expect("spawned");
        wait_readyz(
            child,
            "orchestrator up",
            "orchestrator up to answer /readyz",
            &up.cluster.kubeconfig,
            Duration::from_secs(60),
        )
        .with_context(|| format!("log:\n{}", up.cluster.log_text()))?;
        Ok(up)
    }

    /// SIGTERM and wait; returns whether it exited 0.
    pub fn stop(&mut self) -> Result<bool> {
        let Some(mut c) = self.child.take() else {
            return Ok(true);
        };
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        match wait_for("orchestrator up to exit", Duration::from_secs(30), || {
            c.try_wait().ok().flatten()
        }) {
            Ok(st) => Ok(st.success()),
            Err(e) => {
                let _ = c.kill();
                let _ = c.wait();
                Err(e)
            }
        }
    }

    /// What is left of this cluster in the kernel (empty when clean).
    pub fn kernel_leftovers(&self) -> Vec<String> {
        kernel_leftovers(
            &self.cluster.cluster_name,
            &[&self.pod_cidr, &self.service_cidr],
        )
    }
}

impl Drop for UpCluster {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
