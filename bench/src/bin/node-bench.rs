//! `node-bench`: how fast one node gets pods Running, and what an idle pod costs.
//!
//! (a) **create → Running**, one pod at a time, for `--pods` pods running the
//! http-hello example: the clock starts before the POST of a Pod with
//! `spec.nodeName` and stops when a watch on the node's pods shows it
//! `Running`. Printed beside the **floor** measured in the same run and on the
//! same machine: in-process, `regatta_node::net::PodNetwork::add_pod` (netns +
//! veth + address) plus a sandbox thread and the container's start through
//! `regatta_node::runtime` with the same module — what any node must do, with
//! no API, store, QUIC link or status path. The ratio is the price of those.
//!
//! (b) **1,000 idle pods**: created through the API by 32 concurrent clients;
//! the time until the watch shows all Running, and the node process's RSS
//! growth per pod (`VmRSS` of `/proc/<pid>/status` before and after).
//!
//! Runs `orchestrator serve` and `node` release binaries (build them first:
//! `cargo build --release -p regatta-orchestrator -p regatta-node`) with a
//! cluster name `nb<pid>` and test-only CIDRs (pods 10.192.0.0/16, floor
//! 10.193.0.0/24, Services 10.232.0.0/16 and 10.233.0.0/16); both are stopped
//! by PID at the end, also on error, and the kernel objects they made are
//! checked to be gone. Needs root.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use regatta_bench::{ChildGuard, Kubeconfig, Latencies, Ms, log_tail};
use regatta_node::net::{NetConfig, PodNetwork, enter_netns};
use regatta_node::runtime::{ContainerRuntime, ContainerSpec, EngineConfig, NodeEngine, Pod};
use reqwest::{Client, StatusCode};
use tokio::sync::Notify;

const IMAGE: &str = "file:///var/lib/regatta/examples/http-hello.wasm";
const NODE: &str = "nb-node";

#[derive(Parser, Debug)]
#[command(name = "node-bench")]
struct Args {
    /// Pods of case (a), created one at a time.
    #[arg(long, default_value_t = 100)]
    pods: usize,
    /// Idle pods of case (b), created at once; 0 skips it.
    #[arg(long, default_value_t = 1000)]
    idle_pods: usize,
    /// Concurrent API clients creating the idle pods.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    #[arg(long, default_value_os_t = release_bin("orchestrator"))]
    orchestrator: PathBuf,
    #[arg(long, default_value_os_t = release_bin("node"))]
    node: PathBuf,
    /// RUST_LOG of both processes.
    #[arg(long, default_value = "warn")]
    log: String,
    /// Keep the temp dir (logs, data dirs) and print its path.
    #[arg(long)]
    keep: bool,
}

fn release_bin(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/release")
        .join(name)
}

/// Pod name → when the watch first saw it Running / saw it deleted.
#[derive(Default)]
struct Seen {
    running: HashMap<String, Instant>,
    deleted: HashMap<String, Instant>,
}

struct Api {
    base: String,
    client: Client,
    seen: Arc<Mutex<Seen>>,
    changed: Arc<Notify>,
}

impl Api {
    fn from_kubeconfig(text: &str) -> Result<Api> {
        let kubeconfig = Kubeconfig::parse(text)?;
        let client = kubeconfig
            .client_builder()?
            .build()
            .context("building the HTTPS client")?;
        Ok(Api {
            base: kubeconfig.server,
            client,
            seen: Default::default(),
            changed: Default::default(),
        })
    }

    async fn ready(&self) -> bool {
        matches!(self.client.get(format!("{}/readyz", self.base)).send().await,
            Ok(r) if r.status() == StatusCode::OK)
    }

    async fn node_ready(&self) -> bool {
        let Ok(r) = self
            .client
            .get(format!("{}/api/v1/nodes/{NODE}", self.base))
            .send()
            .await
        else {
            return false;
        };
        let Ok(v) = r.json::<serde_json::Value>().await else {
            return false;
        };
        v["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
    }

    /// Follows the node's pods and records when each is Running / deleted.
    fn spawn_watch(&self) -> tokio::task::JoinHandle<Result<()>> {
        let url = format!(
            "{}/api/v1/namespaces/default/pods?watch=true&fieldSelector=spec.nodeName%3D{NODE}",
            self.base
        );
        let (client, seen, changed) =
            (self.client.clone(), self.seen.clone(), self.changed.clone());
        tokio::spawn(async move {
            use futures::StreamExt;
            let resp = client.get(&url).send().await?.error_for_status()?;
            let mut body = resp.bytes_stream();
            let mut buf: Vec<u8> = Vec::new();
            while let Some(chunk) = body.next().await {
                buf.extend_from_slice(&chunk?);
                while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=nl).collect();
                    let Ok(ev) = serde_json::from_slice::<serde_json::Value>(&line) else {
                        continue;
                    };
                    let name = ev["object"]["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    let now = Instant::now();
                    let mut s = seen.lock().unwrap();
                    if ev["type"] == "DELETED" {
                        s.deleted.entry(name).or_insert(now);
                    } else if ev["object"]["status"]["phase"] == "Running" {
                        s.running.entry(name).or_insert(now);
                    }
                    drop(s);
                    changed.notify_waiters();
                }
            }
            Ok(())
        })
    }

    async fn create_pod(&self, name: &str) -> Result<()> {
        let pod = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": NODE, "containers": [{
                "name": "web", "image": IMAGE,
                "ports": [{"containerPort": 8080}],
            }]},
        });
        let r = self
            .client
            .post(format!("{}/api/v1/namespaces/default/pods", self.base))
            .json(&pod)
            .send()
            .await?;
        if r.status() != StatusCode::CREATED {
            bail!("creating pod {name}: {} {}", r.status(), r.text().await?);
        }
        Ok(())
    }

    async fn delete_pod(&self, name: &str) -> Result<()> {
        let r = self
            .client
            .delete(format!(
                "{}/api/v1/namespaces/default/pods/{name}",
                self.base
            ))
            .send()
            .await?;
        if !r.status().is_success() && r.status() != StatusCode::NOT_FOUND {
            bail!("deleting pod {name}: {}", r.status());
        }
        Ok(())
    }

    /// Waits until `done(seen)` holds, or fails after `timeout`.
    async fn wait(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&Seen) -> bool,
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            if done(&self.seen.lock().unwrap()) {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                bail!("timed out after {timeout:?} waiting for {what}");
            }
        }
    }
}

fn vm_rss_kib(pid: u32) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS in /proc/<pid>/status")
}

fn netns_with_prefix(prefix: &str) -> usize {
    std::fs::read_dir(regatta_node::net::NETNS_RUN_DIR)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(prefix))
                .count()
        })
        .unwrap_or(0)
}

/// The floor: network plus sandbox plus container start, in-process, per pod.
async fn floor(n: usize, dir: &Path, cluster: &str) -> Result<Latencies> {
    let engine = NodeEngine::new(EngineConfig {
        max_pods: (n + 4) as u32,
        cache_dir: Some(dir.join("cache")),
        ..Default::default()
    })?;
    let module = engine.pull(IMAGE).await?; // compiled once, before the clock
    let net = PodNetwork::setup(NetConfig {
        cluster_name: cluster.to_string(),
        pod_cidr: "10.193.0.0/16".parse()?,
        node_pod_cidr: "10.193.0.0/24".parse()?,
        service_cidr: "10.233.0.0/16".parse()?,
        state_dir: dir.join("net"),
    })
    .await?;
    let mut samples = Vec::with_capacity(n);
    let mut running = Vec::with_capacity(n);
    let mut result = Ok(());
    for i in 0..n {
        let uid = format!("00000000-0000-4000-8000-{i:012}");
        let t = Instant::now();
        let podnet = match net.add_pod(&uid).await {
            Ok(p) => p,
            Err(e) => {
                result = Err(e.into());
                break;
            }
        };
        let path = podnet.netns_path.clone();
        let sb = Pod::spawn(
            engine.clone(),
            format!("floor-{i}"),
            Some(Box::new(move || enter_netns(&path))),
        )
        .await?;
        let log = dir.join(format!("floor-{i}.log"));
        let handle = sb.start(ContainerSpec {
            name: "web".into(),
            module: module.clone(),
            argv: vec!["web".into()],
            env: vec![("PORT".into(), "8080".into())],
            preopens: vec![],
            stdout: log.clone(),
            stderr: log,
            memory_limit: None,
            cpu_limit_millis: None,
            http_port: Some(8080),
        })?;
        samples.push(t.elapsed());
        running.push((uid, sb, handle));
    }
    for (uid, sb, handle) in running {
        handle.kill();
        let _ = handle.wait().await;
        sb.shutdown().await;
        net.remove_pod(&uid).await?;
    }
    net.teardown().await?;
    result.map(|()| Latencies::new(samples))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    for bin in [&args.orchestrator, &args.node] {
        if !bin.is_file() {
            bail!(
                "{} not found; build first: cargo build --release -p regatta-orchestrator -p regatta-node",
                bin.display()
            );
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix("node-bench-")
        .disable_cleanup(args.keep)
        .tempdir()?;
    if args.keep {
        println!("keeping {}", tmp.path().display());
    }
    let cluster = format!("nb{}", std::process::id() % 100_000);
    let floor_cluster = format!("{cluster}f");

    println!(
        "node-bench: {} pods one at a time, then {} idle pods; image {IMAGE}",
        args.pods, args.idle_pods
    );
    let floor_lat = floor(args.pods, &tmp.path().join("floor"), &floor_cluster).await?;

    // The cluster: orchestrator serve + one node.
    let cp_dir = tmp.path().join("cp");
    let cp_log = tmp.path().join("orchestrator.log");
    let mut cp_cmd = Command::new(&args.orchestrator);
    cp_cmd
        .arg("serve")
        .arg("--data-dir")
        .arg(&cp_dir)
        .args([
            "--api-listen",
            "127.0.0.1:0",
            "--node-listen",
            "127.0.0.1:0",
        ])
        .args(["--cluster-name", &cluster])
        .args([
            "--pod-cidr",
            "10.192.0.0/16",
            "--service-cidr",
            "10.232.0.0/16",
        ])
        .args(["--node-cidr-mask-size", "21"])
        .env("RUST_LOG", &args.log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&cp_log)?);
    let mut cp = ChildGuard::spawn("orchestrator", &mut cp_cmd, Duration::from_secs(30))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let api = loop {
        if let Some(st) = cp.exited()? {
            bail!("orchestrator exited ({st}):\n{}", log_tail(&cp_log, 4000));
        }
        if let Ok(text) = std::fs::read_to_string(cp_dir.join("kubeconfig")) {
            let api = Api::from_kubeconfig(&text)?;
            if api.ready().await {
                break api;
            }
        }
        if Instant::now() > deadline {
            bail!(
                "the orchestrator was not ready in 60 s:\n{}",
                log_tail(&cp_log, 4000)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let token = Command::new(&args.orchestrator)
        .args(["token", "create", "--data-dir"])
        .arg(&cp_dir)
        .output()?;
    let token = String::from_utf8(token.stdout)?
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let node_addr = std::fs::read_to_string(cp_dir.join("node-listen"))?
        .trim()
        .to_string();
    let node_log = tmp.path().join("node.log");
    let mut node_cmd = Command::new(&args.node);
    node_cmd
        .args(["--server", &node_addr, "--token", &token, "--name", NODE])
        .args([
            "--node-ip",
            "127.0.0.1",
            "--max-pods",
            &(args.idle_pods.max(args.pods) + 16).to_string(),
        ])
        .arg("--data-dir")
        .arg(tmp.path().join("node"))
        .env("RUST_LOG", &args.log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&node_log)?);
    let mut node = ChildGuard::spawn("node", &mut node_cmd, Duration::from_secs(120))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !api.node_ready().await {
        if let Some(st) = node.exited()? {
            bail!("node exited ({st}):\n{}", log_tail(&node_log, 4000));
        }
        if Instant::now() > deadline {
            bail!(
                "the node was not Ready in 60 s:\n{}",
                log_tail(&node_log, 4000)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let watch = api.spawn_watch();
    // The watch must be established before the first create.
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Warm-up: the node compiles the module on its first pull.
    api.create_pod("warmup").await?;
    api.wait("warmup Running", Duration::from_secs(120), |s| {
        s.running.contains_key("warmup")
    })
    .await?;
    api.delete_pod("warmup").await?;
    api.wait("warmup deleted", Duration::from_secs(60), |s| {
        s.deleted.contains_key("warmup")
    })
    .await?;

    // (a) create -> Running, one at a time.
    let mut samples = Vec::with_capacity(args.pods);
    for i in 0..args.pods {
        let name = format!("a-{i:04}");
        let t = Instant::now();
        api.create_pod(&name).await?;
        api.wait(&format!("{name} Running"), Duration::from_secs(60), |s| {
            s.running.contains_key(&name)
        })
        .await
        .with_context(|| log_tail(&node_log, 2000))?;
        let at = api.seen.lock().unwrap().running[&name];
        samples.push(at - t);
    }
    let e2e = Latencies::new(samples);
    for i in 0..args.pods {
        api.delete_pod(&format!("a-{i:04}")).await?;
    }
    let n = args.pods;
    api.wait("case (a) pods deleted", Duration::from_secs(120), |s| {
        (0..n).all(|i| s.deleted.contains_key(&format!("a-{i:04}")))
    })
    .await?;
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    println!();
    println!("(a) create -> Running, {} pods one at a time", e2e.len());
    println!("    {:<34} {:>9} {:>9} {:>9}", "(ms)", "p50", "p99", "max");
    println!(
        "    {:<34} {:>9} {:>9} {:>9}",
        "regatta (API -> watch Running)",
        Ms(e2e.percentile(50.0)).to_string(),
        Ms(e2e.percentile(99.0)).to_string(),
        Ms(e2e.max()).to_string()
    );
    println!(
        "    {:<34} {:>9} {:>9} {:>9}",
        "floor (netns+veth+sandbox+start)",
        Ms(floor_lat.percentile(50.0)).to_string(),
        Ms(floor_lat.percentile(99.0)).to_string(),
        Ms(floor_lat.max()).to_string()
    );
    println!(
        "    ratio regatta/floor: p50 {:.1}x, p99 {:.1}x   (target: p99 <= 100 ms end to end)",
        ratio(e2e.percentile(50.0), floor_lat.percentile(50.0)),
        ratio(e2e.percentile(99.0), floor_lat.percentile(99.0))
    );

    // (b) idle pods.
    if args.idle_pods > 0 {
        let m = args.idle_pods;
        let before = vm_rss_kib(node.pid())?;
        let t = Instant::now();
        let api = Arc::new(api);
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut creators = tokio::task::JoinSet::new();
        for _ in 0..args.clients.max(1) {
            let (api, next) = (api.clone(), next.clone());
            creators.spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= m {
                        return Ok::<_, anyhow::Error>(());
                    }
                    api.create_pod(&format!("b-{i:04}")).await?;
                }
            });
        }
        while let Some(r) = creators.join_next().await {
            r??;
        }
        let created = t.elapsed();
        let all_running = api
            .wait("all idle pods Running", Duration::from_secs(600), |s| {
                s.running.keys().filter(|k| k.starts_with("b-")).count() >= m
            })
            .await;
        let elapsed = t.elapsed();
        // Let the last pods' first allocations settle before reading RSS.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = vm_rss_kib(node.pid())?;
        let running = api
            .seen
            .lock()
            .unwrap()
            .running
            .keys()
            .filter(|k| k.starts_with("b-"))
            .count();
        println!();
        println!(
            "(b) {m} idle pods, created by {} clients (all POSTs answered after {} ms)",
            args.clients,
            Ms(created)
        );
        match &all_running {
            Ok(()) => println!(
                "    all Running after {:.2} s   (target: <= 30 s)",
                elapsed.as_secs_f64()
            ),
            Err(e) => println!(
                "    NOT all Running: {running}/{m} after {:.2} s ({e})",
                elapsed.as_secs_f64()
            ),
        }
        println!(
            "    node RSS {:.1} MiB -> {:.1} MiB: {:.2} MiB per pod   (target: <= 3 MiB)",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            (after.saturating_sub(before)) as f64 / 1024.0 / running.max(1) as f64
        );
        let t = Instant::now();
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut deleters = tokio::task::JoinSet::new();
        for _ in 0..args.clients.max(1) {
            let (api, next) = (api.clone(), next.clone());
            deleters.spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= m {
                        return Ok::<_, anyhow::Error>(());
                    }
                    api.delete_pod(&format!("b-{i:04}")).await?;
                }
            });
        }
        while let Some(r) = deleters.join_next().await {
            r??;
        }
        let gone = api
            .wait("idle pods deleted", Duration::from_secs(180), |s| {
                s.deleted.keys().filter(|k| k.starts_with("b-")).count() >= m
            })
            .await;
        println!(
            "    deleted all in {:.2} s{}",
            t.elapsed().as_secs_f64(),
            if gone.is_err() { " (NOT all)" } else { "" }
        );
    }
    watch.abort();
    node.stop();
    cp.stop();
    let left =
        netns_with_prefix(&format!("{cluster}-")) + netns_with_prefix(&format!("{floor_cluster}-"));
    println!();
    println!("cleanup: {left} netns of the bench left");
    if left > 0 {
        bail!("the bench left {left} netns behind");
    }
    Ok(())
}
