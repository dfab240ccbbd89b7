//! `node`: joins a Regatta cluster and runs its pods (DESIGN §2 command-line contract).

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Parser;
use regatta_api::node_protocol::{DEFAULT_MAX_PODS, JoinToken};
use regatta_node::agent::{self, Agent, AgentConfig, AgentHandle};
use regatta_node::net::{NetConfig, PodNetwork};
use regatta_node::pods::{PodManager, PodManagerConfig};
use regatta_node::runtime::{EngineConfig, NodeEngine};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The Wasm runtime this node reports as its container runtime.
const RUNTIME_VERSION: &str = "wasmtime://48.0.8";

#[derive(Parser)]
#[command(
    name = "node",
    version,
    about = "Regatta node: runs Pods as Wasm modules"
)]
struct Cli {
    /// The orchestrator's node address, HOST:PORT (UDP, default port 7443).
    #[arg(long)]
    server: String,
    /// Join token from `orchestrator token create` (needed only for the first start).
    #[arg(long, env = "REGATTA_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// CA hash `sha256:<hex>`, when the token is the short `<id>.<secret>` form.
    #[arg(long)]
    ca_hash: Option<String>,
    /// Node name; defaults to the host name.
    #[arg(long)]
    name: Option<String>,
    /// Where the node keeps its credential and state.
    #[arg(long, default_value = ".regatta-node")]
    data_dir: PathBuf,
    /// The address reported as the node's InternalIP; defaults to the one that reaches the server.
    #[arg(long)]
    node_ip: Option<IpAddr>,
    #[arg(long, default_value_t = DEFAULT_MAX_PODS)]
    max_pods: u32,
    /// Log as JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        b.json().init();
    } else {
        b.init();
    }
}

fn token(cli: &Cli) -> Result<Option<JoinToken>> {
    let Some(t) = &cli.token else {
        return Ok(None);
    };
    let mut t: JoinToken = t.parse()?;
    if let Some(h) = &cli.ca_hash {
        let h = JoinToken::parse_ca_hash(h)?;
        if t.ca_hash.as_ref().is_some_and(|have| *have != h) {
            bail!("--ca-hash differs from the CA hash inside --token");
        }
        t.ca_hash = Some(h);
    }
    Ok(Some(t))
}

/// Waits for the first Welcome, makes the pod network from it (refusing to
/// start when that fails), runs the pod manager until `shutdown`, then stops
/// every pod and tears the network down.
async fn run_pods(
    handle: AgentHandle,
    engine: std::sync::Arc<NodeEngine>,
    cfg: PodManagerConfig,
    shutdown: CancellationToken,
) -> Result<()> {
    let mut welcome = handle.welcome.clone();
    let w = tokio::select! {
        _ = shutdown.cancelled() => return Ok(()),
        w = welcome.wait_for(Option::is_some) => match w {
            Ok(w) => w.clone().expect("waited for Some"),
            Err(_) => return Ok(()),
        },
    };
    let net_cfg = NetConfig {
        cluster_name: w.cluster.cluster_name.clone(),
        pod_cidr: w.cluster.pod_cidr,
        node_pod_cidr: w.pod_cidr,
        service_cidr: w.cluster.service_cidr,
        state_dir: cfg.data_dir.join("net"),
    };
    let net = PodNetwork::setup(net_cfg.clone()).await.with_context(|| {
        format!(
            "setting up the pod network (cluster {}, pod CIDR {}, node pod CIDR {}, Service CIDR {})",
            net_cfg.cluster_name, net_cfg.pod_cidr, net_cfg.node_pod_cidr, net_cfg.service_cidr
        )
    })?;
    let net = std::sync::Arc::new(net);
    tracing::info!(
        cluster = %net_cfg.cluster_name,
        pod_cidr = %net_cfg.node_pod_cidr,
        bridge = %net.bridge(),
        "pod network ready"
    );
    {
        // The podCIDR is stable across restarts; a change needs a node restart.
        let mut welcome = handle.welcome.clone();
        let shutdown = shutdown.clone();
        let first = w.pod_cidr;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    r = welcome.changed() => if r.is_err() { return },
                }
                if let Some(w) = welcome.borrow_and_update().as_ref()
                    && w.pod_cidr != first
                {
                    tracing::error!(
                        was = %first, now = %w.pod_cidr,
                        "the orchestrator assigned a different podCIDR; restart the node to use it"
                    );
                }
            }
        });
    }
    let sink = std::sync::Arc::new(handle.status.clone());
    PodManager::new(cfg, engine, net.clone(), sink)
        .run(handle.desired.clone(), shutdown)
        .await;
    net.teardown()
        .await
        .context("tearing down the pod network")?;
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    init_tracing(cli.log_json);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let token = token(&cli)?;
        let with_port = if cli.server.contains(':') {
            cli.server.clone()
        } else {
            format!("{}:7443", cli.server)
        };
        let server = tokio::net::lookup_host(&with_port)
            .await
            .with_context(|| format!("resolving --server {with_port}"))?
            .next()
            .with_context(|| format!("--server {with_port} resolves to no address"))?;
        let node_name = cli
            .name
            .clone()
            .unwrap_or_else(agent::node_status::hostname);
        let errs = regatta_api::validation::is_dns1123_subdomain(&node_name);
        if !errs.is_empty() {
            bail!("node name {node_name:?} is invalid: {}", errs.join("; "));
        }
        let node_ip = cli
            .node_ip
            .or_else(|| agent::local_ip_towards(server))
            .context("cannot tell the node's IP: pass --node-ip")?;
        std::fs::create_dir_all(&cli.data_dir)
            .with_context(|| format!("creating {}", cli.data_dir.display()))?;
        let (agent, handle) = Agent::new(AgentConfig {
            server,
            token,
            node_name: node_name.clone(),
            data_dir: cli.data_dir.clone(),
            node_ip,
            max_pods: cli.max_pods,
            runtime_version: RUNTIME_VERSION.into(),
        });
        tracing::info!(node = %node_name, server = %server, node_ip = %node_ip, "node starting");

        let engine = NodeEngine::new(EngineConfig {
            max_pods: cli.max_pods,
            cache_dir: Some(cli.data_dir.join("cache")),
            ..Default::default()
        })
        .context("creating the Wasm engine")?;
        let pods_cfg = PodManagerConfig::new(
            cli.data_dir.clone(),
            node_name.clone(),
            Some(node_ip.to_string()),
        );

        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let pods_task = tasks.spawn(run_pods(handle, engine, pods_cfg, shutdown.clone()));
        let agent_task = tasks.spawn(agent.run(shutdown.clone()));
        tasks.close();
        {
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                use tokio::signal::unix::{SignalKind, signal};
                let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
                let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
                tracing::info!("shutting down");
                shutdown.cancel();
            });
        }
        // Whichever ends first (the agent failing to start, the pod network
        // refusing to start, or a signal) stops the other.
        let mut pods_task = pods_task;
        let mut agent_task = agent_task;
        let (agent_result, pods_result) = tokio::select! {
            a = &mut agent_task => {
                shutdown.cancel();
                (a, pods_task.await)
            }
            p = &mut pods_task => {
                shutdown.cancel();
                (agent_task.await, p)
            }
        };
        tasks.wait().await;
        // The pod network's refusal is the more useful message.
        pods_result??;
        agent_result?.map_err(Into::into)
    })
}
