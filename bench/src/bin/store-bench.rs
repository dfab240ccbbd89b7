//! `store-bench`: acknowledged, fsync'd creates per second, Regatta's redb store side
//! by side with etcd in the same run (DESIGN §3 "Store").
//!
//! For each payload size and each number of concurrent writers it creates a fixed
//! number of keys shaped `core/configmaps/default/cm-<i>`, first in a fresh
//! [`RedbStore`] (group commit, `Durability::Immediate`), then in a fresh etcd started
//! on loopback (fsync on, its default) through `etcd-client` with a create-only
//! transaction (`create_revision == 0` then put), the way kube-apiserver creates.
//! A create counts once the store has acknowledged it, which both do only after fsync.
//!
//! `etcd` must be on PATH (`scripts/setup.sh` installs Debian's `etcd-server`). Every
//! etcd this starts runs in its own temporary directory and is stopped by its PID when
//! its case ends, also on error, panic or Ctrl-C.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use etcd_client::{Client, Compare, CompareOp, ConnectOptions, KvClient, Txn, TxnOp};
use regatta_bench::{
    ChildGuard, Latencies, Ms, configmap_json, free_port, log_tail, parse_list, rate,
};
use regatta_orchestrator::store::Store;
use regatta_orchestrator::store::redb_store::{RedbOptions, RedbStore};
use tempfile::TempDir;
use tokio::task::JoinSet;

/// Acknowledged, fsync'd creates per second: Regatta's store vs etcd, printed as ratios.
#[derive(Parser, Debug)]
#[command(name = "store-bench")]
struct Args {
    /// Numbers of concurrent writers to run, comma-separated.
    #[arg(long, env = "STORE_BENCH_WRITERS", default_value = "1,16,128")]
    writers: String,
    /// Payload sizes in bytes (JSON ConfigMaps padded to this size), comma-separated.
    #[arg(long, env = "STORE_BENCH_PAYLOADS", default_value = "512,4096")]
    payloads: String,
    /// Creates per case with a single writer (each waits for its own fsync).
    #[arg(long, env = "STORE_BENCH_COUNT_SINGLE", default_value_t = 2_000)]
    count_single: usize,
    /// Creates per case with more than one writer.
    #[arg(long, env = "STORE_BENCH_COUNT", default_value_t = 20_000)]
    count: usize,
    /// Rounds per case, alternating which store goes first; the median round is shown.
    #[arg(long, env = "STORE_BENCH_ROUNDS", default_value_t = 3)]
    rounds: usize,
    /// Time limit of one backend in one round; writers stop early when it passes.
    #[arg(long, env = "STORE_BENCH_MAX_SECONDS", default_value_t = 60)]
    max_seconds: u64,
    /// Which stores to run.
    #[arg(long, env = "STORE_BENCH_ONLY", value_enum, default_value_t = Only::Both)]
    only: Only,
    /// The etcd binary.
    #[arg(long, env = "ETCD_BIN", default_value = "etcd")]
    etcd: PathBuf,
    /// gRPC connections to etcd shared by the writers; 0: one per writer, at most 16.
    #[arg(long, env = "STORE_BENCH_ETCD_CONNECTIONS", default_value_t = 0)]
    etcd_connections: usize,
    /// Parent of the temporary data directories; must be on a real disk (not tmpfs),
    /// or fsync costs nothing. Defaults to the system temp dir.
    #[arg(long, env = "STORE_BENCH_TMPDIR")]
    tmp_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Only {
    Both,
    Regatta,
    Etcd,
}

/// What one backend did in one round of one case.
struct Outcome {
    done: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// Transactions committed (Regatta only): writes per commit shows group commit.
    commits: Option<u64>,
}

/// One backend over all rounds of a case: the median round's rate (the machine is
/// shared, so one round can be unlucky), latencies pooled.
struct Summary {
    per_second: f64,
    /// Creates over all rounds.
    done: usize,
    /// Creates in the shortest round: less than asked when the time limit cut it.
    fewest: usize,
    latencies: Latencies,
    commits: Option<u64>,
}

impl Summary {
    fn of(outcomes: Vec<Outcome>) -> Option<Summary> {
        if outcomes.is_empty() {
            return None;
        }
        let mut rates: Vec<f64> = outcomes.iter().map(|o| rate(o.done, o.elapsed)).collect();
        rates.sort_by(f64::total_cmp);
        let commits = outcomes.iter().map(|o| o.commits).sum::<Option<u64>>();
        Some(Summary {
            per_second: rates[rates.len() / 2],
            done: outcomes.iter().map(|o| o.done).sum(),
            fewest: outcomes.iter().map(|o| o.done).min().unwrap_or(0),
            commits,
            latencies: Latencies::new(outcomes.into_iter().flat_map(|o| o.latencies).collect()),
        })
    }

    fn writes_per_commit(&self) -> Option<f64> {
        self.commits
            .filter(|&c| c > 0)
            .map(|c| self.done as f64 / c as f64)
    }
}

/// One writer's handle on a store.
trait Creator: Send + 'static {
    /// Creates `key`, failing if it exists; returns once the store acknowledged it.
    fn create(&mut self, key: String, value: Bytes) -> impl Future<Output = Result<()>> + Send;
}

struct RegattaWriter(Arc<RedbStore>);

impl Creator for RegattaWriter {
    async fn create(&mut self, key: String, value: Bytes) -> Result<()> {
        self.0
            .create(&key, value)
            .await
            .with_context(|| format!("creating {key} in the redb store"))?;
        Ok(())
    }
}

struct EtcdWriter(KvClient);

impl Creator for EtcdWriter {
    async fn create(&mut self, key: String, value: Bytes) -> Result<()> {
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key.clone(), value.to_vec(), None)]);
        let response = self
            .0
            .txn(txn)
            .await
            .with_context(|| format!("creating {key} in etcd"))?;
        if !response.succeeded() {
            bail!("etcd: {key} already exists");
        }
        Ok(())
    }
}

/// Runs `count` creates spread over `writers` (one per writer task), stopping early at
/// `limit`. Values are built in the writer, the same way for every backend.
async fn drive<C: Creator>(
    writers: Vec<C>,
    count: usize,
    payload: usize,
    limit: Duration,
) -> Result<(usize, Duration, Vec<Duration>)> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + limit;
    let mut tasks = JoinSet::new();
    for mut writer in writers {
        let next = next.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || Instant::now() >= deadline {
                    break;
                }
                let name = format!("cm-{i}");
                let key = format!("core/configmaps/default/{name}");
                let value = Bytes::from(configmap_json(&name, "default", payload));
                let began = Instant::now();
                writer.create(key, value).await?;
                latencies.push(began.elapsed());
            }
            anyhow::Ok(latencies)
        });
    }
    let mut all = Vec::with_capacity(count);
    while let Some(joined) = tasks.join_next().await {
        all.extend(joined.context("a writer task panicked")??);
    }
    let elapsed = start.elapsed();
    Ok((all.len(), elapsed, all))
}

async fn run_regatta(
    tmp: &Path,
    writers: usize,
    count: usize,
    payload: usize,
    limit: Duration,
) -> Result<Outcome> {
    let dir = TempDir::new_in(tmp).context("creating the store's temp dir")?;
    let store = Arc::new(
        RedbStore::open_with(&dir.path().join("store.redb"), RedbOptions::default())
            .context("opening the redb store")?,
    );
    let handles = (0..writers).map(|_| RegattaWriter(store.clone())).collect();
    let result = drive(handles, count, payload, limit).await;
    store.close().await;
    let (done, elapsed, latencies) = result?;
    Ok(Outcome {
        done,
        elapsed,
        latencies,
        commits: Some(store.commits()),
    })
}

/// An etcd member started for one case. Fields drop in order: the process is stopped
/// before its data directory is removed.
struct Etcd {
    process: ChildGuard,
    dir: TempDir,
    endpoint: String,
}

impl Etcd {
    async fn start(binary: &Path, tmp: &Path) -> Result<Etcd> {
        let dir = TempDir::new_in(tmp).context("creating etcd's temp dir")?;
        let client_port = free_port()?;
        let peer_port = free_port()?;
        let endpoint = format!("http://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let log = std::fs::File::create(dir.path().join("etcd.log"))?;
        let mut command = Command::new(binary);
        command
            .arg("--name=bench")
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={endpoint}"))
            .arg(format!("--advertise-client-urls={endpoint}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=bench={peer}"))
            // 8 GiB, etcd's suggested maximum: the benchmark must never hit the quota.
            .arg("--quota-backend-bytes=8589934592")
            .arg("--logger=zap")
            .arg("--log-outputs=stderr")
            .arg("--log-level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let process = ChildGuard::spawn("etcd", &mut command, Duration::from_secs(5))?;
        let mut etcd = Etcd {
            process,
            dir,
            endpoint,
        };
        etcd.wait_ready(Duration::from_secs(30)).await?;
        Ok(etcd)
    }

    async fn connect(&self) -> Result<Client> {
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(Duration::from_secs(30));
        Client::connect([&self.endpoint], Some(options))
            .await
            .with_context(|| format!("connecting to etcd at {}", self.endpoint))
    }

    async fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Some(status) = self.process.exited()? {
                bail!(
                    "etcd exited ({status}) before answering; its log:\n{}",
                    log_tail(&self.dir.path().join("etcd.log"), 4000)
                );
            }
            match self.connect().await {
                Ok(mut client) => match client.status().await {
                    Ok(_) => return Ok(()),
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = format!("{e:#}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "etcd at {} did not answer within {limit:?} (last error: {last}); its log:\n{}",
            self.endpoint,
            log_tail(&self.dir.path().join("etcd.log"), 4000)
        )
    }
}

async fn run_etcd(
    args: &Args,
    tmp: &Path,
    writers: usize,
    count: usize,
    payload: usize,
    limit: Duration,
) -> Result<Outcome> {
    let etcd = Etcd::start(&args.etcd, tmp).await?;
    let connections = match args.etcd_connections {
        0 => writers.min(16),
        n => n,
    };
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        clients.push(etcd.connect().await?);
    }
    let handles = (0..writers)
        .map(|w| EtcdWriter(clients[w % connections].kv_client()))
        .collect();
    let (done, elapsed, latencies) = drive(handles, count, payload, limit).await?;
    drop(clients);
    drop(etcd);
    Ok(Outcome {
        done,
        elapsed,
        latencies,
        commits: None,
    })
}

fn etcd_version(binary: &Path) -> Result<String> {
    let out = Command::new(binary)
        .arg("--version")
        .output()
        .with_context(|| {
            format!(
                "running `{} --version`: is etcd on PATH? scripts/setup.sh installs \
                 Debian's etcd-server (apt-get install -y etcd-server)",
                binary.display()
            )
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .next()
        .unwrap_or("etcd (unknown version)")
        .to_owned())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn fmt_rate(o: &Option<Summary>) -> String {
    o.as_ref()
        .map_or_else(|| "-".into(), |o| format!("{:.0}", o.per_second))
}

fn fmt_p99(o: &Option<Summary>) -> String {
    o.as_ref().map_or_else(
        || "-".into(),
        |o| Ms(o.latencies.percentile(99.0)).to_string(),
    )
}

async fn run(args: Args) -> Result<()> {
    let writer_counts = parse_list(&args.writers).context("--writers")?;
    let payloads = parse_list(&args.payloads).context("--payloads")?;
    let tmp = args.tmp_dir.clone().unwrap_or_else(std::env::temp_dir);
    let limit = Duration::from_secs(args.max_seconds);
    let with_regatta = args.only != Only::Etcd;
    let with_etcd = args.only != Only::Regatta;
    let etcd = if with_etcd {
        etcd_version(&args.etcd)?
    } else {
        "etcd not run".into()
    };
    println!(
        "store-bench: acknowledged fsync'd creates/s, median of {} rounds; {} cores; {etcd}; \
         data in {}",
        args.rounds.max(1),
        cores(),
        tmp.display()
    );
    println!(
        "{:>7} {:>7} {:>7} {:>11} {:>10} {:>7} {:>13} {:>11} {:>9}",
        "writers",
        "payload",
        "creates",
        "regatta/s",
        "etcd/s",
        "ratio",
        "writes/commit",
        "regatta p99",
        "etcd p99"
    );
    let mut at_128 = Vec::new();
    for &payload in &payloads {
        for &writers in &writer_counts {
            let writers = writers.max(1);
            let count = if writers == 1 {
                args.count_single
            } else {
                args.count
            };
            let (mut regatta, mut etcd) = (Vec::new(), Vec::new());
            for round in 0..args.rounds.max(1) {
                // Alternate who goes first, so that neither always gets the warmer disk
                // cache or the quieter minute.
                for regatta_turn in [round % 2 == 0, round % 2 == 1] {
                    if regatta_turn && with_regatta {
                        regatta.push(run_regatta(&tmp, writers, count, payload, limit).await?);
                    }
                    if !regatta_turn && with_etcd {
                        etcd.push(run_etcd(&args, &tmp, writers, count, payload, limit).await?);
                    }
                }
            }
            let (regatta, etcd) = (Summary::of(regatta), Summary::of(etcd));
            let ratio = match (&regatta, &etcd) {
                (Some(r), Some(e)) if e.per_second > 0.0 => Some(r.per_second / e.per_second),
                _ => None,
            };
            let per_commit = regatta
                .as_ref()
                .and_then(Summary::writes_per_commit)
                .map(|w| format!("{w:.1}"));
            let done = regatta
                .iter()
                .chain(etcd.iter())
                .map(|o| o.fewest)
                .min()
                .unwrap_or(0);
            println!(
                "{:>7} {:>7} {:>7} {:>11} {:>10} {:>7} {:>13} {:>11} {:>9}",
                writers,
                payload,
                done,
                fmt_rate(&regatta),
                fmt_rate(&etcd),
                ratio.map_or_else(|| "-".into(), |r| format!("{r:.2}x")),
                per_commit.unwrap_or_else(|| "-".into()),
                fmt_p99(&regatta),
                fmt_p99(&etcd),
            );
            if writers == 128
                && let Some(ratio) = ratio
            {
                at_128.push((payload, ratio));
            }
        }
    }
    for (payload, ratio) in at_128 {
        let verdict = if ratio >= 1.5 { "met" } else { "MISSED" };
        println!(
            "target regatta >= 1.5x etcd at 128 writers, {payload} B: {ratio:.2}x ({verdict})"
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    // Dropping `run` on a signal drops the guards in it: etcd is stopped, dirs removed.
    tokio::select! {
        result = run(args) => result,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
        _ = term.recv() => bail!("terminated"),
    }
}
