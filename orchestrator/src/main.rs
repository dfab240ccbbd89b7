//! `orchestrator`: the Regatta control plane (DESIGN §2 command-line contract).

use anyhow::Result;
use clap::{Parser, Subcommand};
use regatta_orchestrator::config::ClusterFlags;
use regatta_orchestrator::control_plane::ControlPlane;
use tokio_util::sync::CancellationToken;

mod up;

#[derive(Parser)]
#[command(
    name = "orchestrator",
    version,
    about = "Regatta: Kubernetes-style orchestration for WebAssembly"
)]
struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Control plane plus an embedded node on this host; writes <data-dir>/kubeconfig.
    #[command(args_override_self = true)]
    Up(up::UpArgs),
    /// Control plane only. A flag given twice takes its last value.
    #[command(args_override_self = true)]
    Serve(ClusterFlags),
    /// Node join tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Creates a join token and prints it: `node --server HOST:PORT --token <it>`.
    Create(regatta_orchestrator::nodelink::token::CreateArgs),
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

async fn shutdown_signal(token: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    tracing::info!("shutting down");
    token.cancel();
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    init_tracing(cli.log_json);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let token = CancellationToken::new();
        tokio::spawn(shutdown_signal(token.clone()));
        let flags = match cli.command {
            Command::Up(args) => return up::run(args, token).await,
            Command::Serve(f) => f,
            Command::Token(TokenCommand::Create(args)) => {
                let t = regatta_orchestrator::nodelink::token::create_cli(&args).await?;
                println!("{t}");
                eprintln!("join a node with: node --server HOST:7443 --token <the token above>");
                return Ok(());
            }
        };
        let cp = ControlPlane::start(&flags, token.clone()).await?;
        let kc = cp.kubeconfig.display().to_string();
        tracing::info!(api = %cp.api_addr, kubeconfig = %kc, "control plane ready");
        token.cancelled().await;
        cp.wait().await;
        Ok(())
    })
}
