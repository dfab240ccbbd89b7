//! `node`: joins a Regatta cluster and runs its pods (DESIGN §2 command-line contract).

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Parser;
use regatta_api::node_protocol::{DEFAULT_MAX_PODS, JoinToken};
use regatta_node::agent;
use regatta_node::daemon::{self, NodeOptions};
use tokio_util::sync::CancellationToken;
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
        let shutdown = CancellationToken::new();
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
        daemon::run(
            NodeOptions {
                server,
                token,
                node_name,
                data_dir: cli.data_dir.clone(),
                node_ip: cli.node_ip,
                max_pods: cli.max_pods,
            },
            shutdown,
        )
        .await
    })
}
