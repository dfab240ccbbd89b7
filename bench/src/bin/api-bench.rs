//! `api-bench`: full API creates per second over HTTPS, with p50/p99/max latency.
//!
//! Starts `orchestrator serve` on loopback with a temporary data directory, reads the
//! kubeconfig it writes (server URL, CA, admin client certificate), waits for
//! `/readyz`, then for each number of concurrent clients POSTs ConfigMaps to
//! `/api/v1/namespaces/default/configmaps` (JSON, HTTP/1.1 keep-alive, one connection
//! per client, TLS handshakes done before the clock starts). A create counts when the
//! server answered 201 Created, i.e. after the store's fsync.
//!
//! The server binary is not built here: `cargo build --release -p regatta-orchestrator`
//! first (the bench would otherwise measure whatever stale binary it finds). It is
//! stopped by its PID at the end, also on error, panic or Ctrl-C, and its data
//! directory removed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use regatta_bench::{
    ChildGuard, Kubeconfig, Latencies, Ms, configmap_json, log_tail, parse_list, rate,
};
use reqwest::{Client, StatusCode};
use tempfile::TempDir;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

/// Full API creates per second over HTTPS with p50/p99/max latency.
#[derive(Parser, Debug)]
#[command(name = "api-bench")]
struct Args {
    /// Numbers of concurrent clients to run, comma-separated.
    #[arg(long, env = "API_BENCH_CLIENTS", default_value = "1,16,64")]
    clients: String,
    /// Creates per case with a single client.
    #[arg(long, env = "API_BENCH_COUNT_SINGLE", default_value_t = 1_000)]
    count_single: usize,
    /// Creates per case with more than one client.
    #[arg(long, env = "API_BENCH_COUNT", default_value_t = 10_000)]
    count: usize,
    /// Size in bytes of each ConfigMap's JSON body.
    #[arg(long, env = "API_BENCH_PAYLOAD", default_value_t = 512)]
    payload: usize,
    /// Time limit of one case; clients stop early when it passes.
    #[arg(long, env = "API_BENCH_MAX_SECONDS", default_value_t = 60)]
    max_seconds: u64,
    /// The orchestrator binary (a release build).
    #[arg(long, env = "ORCHESTRATOR_BIN", default_value_os_t = default_orchestrator())]
    orchestrator: PathBuf,
    /// The server's RUST_LOG (its per-request logging is part of what is measured).
    #[arg(long, env = "API_BENCH_SERVER_LOG", default_value = "warn")]
    server_log: String,
    /// Parent of the server's temporary data directory; must be on a real disk.
    #[arg(long, env = "API_BENCH_TMPDIR")]
    tmp_dir: Option<PathBuf>,
}

fn default_orchestrator() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/orchestrator")
}

/// A running `orchestrator serve`. Fields drop in order: the process is stopped before
/// its data directory is removed.
struct Server {
    process: ChildGuard,
    dir: TempDir,
    kubeconfig: Kubeconfig,
    client: Client,
}

impl Server {
    async fn start(args: &Args, tmp: &Path) -> Result<Server> {
        if !args.orchestrator.is_file() {
            bail!(
                "{} not found; build it first: cargo build --release -p \
                 regatta-orchestrator (or point --orchestrator at it)",
                args.orchestrator.display()
            );
        }
        let dir = TempDir::new_in(tmp).context("creating the server's temp dir")?;
        let data = dir.path().join("data");
        let log = std::fs::File::create(dir.path().join("orchestrator.log"))?;
        let mut command = Command::new(&args.orchestrator);
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(&data)
            .args([
                "--api-listen",
                "127.0.0.1:0",
                "--node-listen",
                "127.0.0.1:0",
            ])
            .env("RUST_LOG", &args.server_log)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let mut process = ChildGuard::spawn("orchestrator", &mut command, Duration::from_secs(10))?;
        let log_path = dir.path().join("orchestrator.log");
        let deadline = Instant::now() + Duration::from_secs(60);
        let exited = |process: &mut ChildGuard| -> Result<()> {
            if let Some(status) = process.exited()? {
                bail!(
                    "orchestrator exited ({status}) before it was ready; its log:\n{}",
                    log_tail(&log_path, 4000)
                );
            }
            Ok(())
        };
        // The kubeconfig is written (atomically) once the API port is bound.
        let kubeconfig = loop {
            exited(&mut process)?;
            if let Ok(text) = std::fs::read_to_string(data.join("kubeconfig")) {
                break Kubeconfig::parse(&text)?;
            }
            if Instant::now() >= deadline {
                bail!("orchestrator wrote no kubeconfig within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let client = kubeconfig
            .client_builder()?
            .pool_max_idle_per_host(usize::MAX)
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTPS client")?;
        let readyz = format!("{}/readyz", kubeconfig.server);
        let mut last;
        loop {
            exited(&mut process)?;
            match client.get(&readyz).send().await {
                Ok(r) if r.status() == StatusCode::OK => break,
                Ok(r) => last = format!("{}", r.status()),
                Err(e) => last = format!("{e:#}"),
            }
            if Instant::now() >= deadline {
                bail!("{readyz} not OK within 60 s (last: {last})");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Server {
            process,
            dir,
            kubeconfig,
            client,
        })
    }
}

struct Outcome {
    done: usize,
    elapsed: Duration,
    latencies: Latencies,
}

/// `count` creates spread over `clients` concurrent requesters, each with its own
/// keep-alive connection, stopping early at `limit`.
async fn run_case(
    server: &Server,
    clients: usize,
    count: usize,
    payload: usize,
    limit: Duration,
) -> Result<Outcome> {
    let url = Arc::new(format!(
        "{}/api/v1/namespaces/default/configmaps",
        server.kubeconfig.server
    ));
    let readyz = Arc::new(format!("{}/readyz", server.kubeconfig.server));
    let next = Arc::new(AtomicUsize::new(0));
    let start_line = Arc::new(Barrier::new(clients + 1));
    let mut tasks = JoinSet::new();
    for _ in 0..clients {
        let (client, url, readyz) = (server.client.clone(), url.clone(), readyz.clone());
        let (next, start_line) = (next.clone(), start_line.clone());
        tasks.spawn(async move {
            // Opens (and keeps) this client's connection before the clock starts. A
            // failure is reported after the barrier, so that no task waits forever.
            let warm = client.get(readyz.as_str()).send().await;
            start_line.wait().await;
            warm.context("warming up a connection")?
                .error_for_status()?;
            let deadline = Instant::now() + limit;
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || Instant::now() >= deadline {
                    break;
                }
                let name = format!("bench-c{clients}-{i}");
                let body = configmap_json(&name, "default", payload);
                let began = Instant::now();
                let response = client
                    .post(url.as_str())
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .with_context(|| format!("POST {name}"))?;
                let status = response.status();
                // Read the whole answer: the create is done when the client has it.
                let text = response
                    .text()
                    .await
                    .with_context(|| format!("POST {name}"))?;
                if status != StatusCode::CREATED {
                    bail!("POST {name}: {status}: {text}");
                }
                latencies.push(began.elapsed());
            }
            anyhow::Ok(latencies)
        });
    }
    start_line.wait().await;
    let start = Instant::now();
    let mut all = Vec::with_capacity(count);
    while let Some(joined) = tasks.join_next().await {
        all.extend(joined.context("a client task panicked")??);
    }
    let elapsed = start.elapsed();
    Ok(Outcome {
        done: all.len(),
        elapsed,
        latencies: Latencies::new(all),
    })
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name, which may itself contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ: 100 on every Linux this runs on (sysconf would need unsafe libc).
    Some(Duration::from_millis(ticks * 10))
}

/// CPU time per create between two readings, as "123 µs".
fn per_create(before: Option<Duration>, after: Option<Duration>, creates: usize) -> String {
    match (before, after) {
        (Some(b), Some(a)) if creates > 0 && a >= b => {
            format!("{:.0} µs", (a - b).as_secs_f64() * 1e6 / creates as f64)
        }
        _ => "-".into(),
    }
}

async fn run(args: Args) -> Result<()> {
    let client_counts = parse_list(&args.clients).context("--clients")?;
    let tmp = args.tmp_dir.clone().unwrap_or_else(std::env::temp_dir);
    let limit = Duration::from_secs(args.max_seconds);
    let server = Server::start(&args, &tmp).await?;
    println!(
        "api-bench: ConfigMap creates over HTTPS (HTTP/1.1 keep-alive), {} B bodies; {} \
         cores; server {} (pid {}, RUST_LOG={})",
        args.payload,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        server.kubeconfig.server,
        server.process.pid(),
        args.server_log,
    );
    println!(
        "{:>7} {:>7} {:>10} {:>9} {:>9} {:>9} {:>12} {:>12}",
        "clients", "creates", "creates/s", "p50 ms", "p99 ms", "max ms", "server CPU", "bench CPU"
    );
    let mut at_16 = None;
    for &clients in &client_counts {
        let clients = clients.max(1);
        let count = if clients == 1 {
            args.count_single
        } else {
            args.count
        };
        let cpu_before = (cpu_time(server.process.pid()), cpu_time(std::process::id()));
        let outcome = run_case(&server, clients, count, args.payload, limit)
            .await
            .map_err(|e| {
                e.context(format!(
                    "server log tail:\n{}",
                    log_tail(&server.dir.path().join("orchestrator.log"), 2000)
                ))
            })?;
        let l = &outcome.latencies;
        println!(
            "{:>7} {:>7} {:>10.0} {:>9} {:>9} {:>9} {:>12} {:>12}",
            clients,
            outcome.done,
            rate(outcome.done, outcome.elapsed),
            Ms(l.percentile(50.0)),
            Ms(l.percentile(99.0)),
            Ms(l.max()),
            per_create(cpu_before.0, cpu_time(server.process.pid()), outcome.done),
            per_create(cpu_before.1, cpu_time(std::process::id()), outcome.done),
        );
        if clients == 16 && !l.is_empty() {
            at_16 = Some(l.percentile(99.0));
        }
    }
    if let Some(p99) = at_16 {
        let verdict = if p99 <= Duration::from_millis(10) {
            "met"
        } else {
            "MISSED"
        };
        println!(
            "target p99 <= 10 ms at 16 clients: {} ms ({verdict})",
            Ms(p99)
        );
    }
    drop(server);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    // Dropping `run` on a signal drops the server guard: stopped by PID, dir removed.
    tokio::select! {
        result = run(args) => result,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
        _ = term.recv() => bail!("terminated"),
    }
}
