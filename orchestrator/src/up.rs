//! `orchestrator up`: the control plane plus an embedded node in one process
//! (DESIGN §2). A bin-only module: the one place that links the orchestrator
//! with `regatta-node` (CONVENTIONS "Shape"); the libraries never meet.
//!
//! Owns the wiring only: it starts the control plane with `/readyz` held
//! back, gives the embedded node a join token (or lets it reuse its stored
//! credential, `<data-dir>/node/pki/`), runs [`regatta_node::daemon::run`]
//! against the control plane's own node endpoint, and turns `/readyz` on once
//! that node is registered and Ready.
//!
//! Invariant: on shutdown the node stops first (every pod, then the pod
//! network's kernel objects), the control plane after it, so the node can
//! still talk to it while it stops and nothing of the cluster is left in the
//! kernel.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use regatta_api::node_protocol::DEFAULT_MAX_PODS;
use regatta_node::daemon::{self, NodeOptions};
use regatta_orchestrator::apiserver::ApiServer;
use regatta_orchestrator::config::ClusterFlags;
use regatta_orchestrator::control_plane::ControlPlane;
use regatta_orchestrator::nodelink::token;
use tokio_util::sync::CancellationToken;

/// `orchestrator up` flags: the control plane's, plus the embedded node's.
#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub cluster: ClusterFlags,
    /// Name of the embedded node; defaults to the host name.
    #[arg(long)]
    pub node_name: Option<String>,
    /// The embedded node's InternalIP; defaults to the address that reaches
    /// the node endpoint (127.0.0.1 when it listens on all addresses).
    #[arg(long)]
    pub node_ip: Option<IpAddr>,
    #[arg(long, default_value_t = DEFAULT_MAX_PODS)]
    pub max_pods: u32,
}

/// How long the embedded node may take to become Ready before `up` gives up.
const NODE_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs until `signal` fires, then stops the node and the control plane.
pub async fn run(args: UpArgs, signal: CancellationToken) -> Result<()> {
    let flags = &args.cluster;
    let cp_stop = CancellationToken::new();
    let cp = ControlPlane::start_unready(flags, cp_stop.clone()).await?;
    let node_name = args
        .node_name
        .clone()
        .unwrap_or_else(regatta_node::agent::node_status::hostname);
    let node_dir = flags.data_dir.join("node");
    let join = if regatta_node::agent::credentials::load(&node_dir).is_some() {
        None
    } else {
        let t = token::create(
            &cp.api.rest,
            &cp.ca_hash,
            Duration::from_secs(3600),
            "orchestrator up: the embedded node's first join",
        )
        .await
        .map_err(|e| anyhow::anyhow!("creating a join token for the embedded node: {e:?}"))?;
        Some(t)
    };
    let opts = NodeOptions {
        server: loopback_if_unspecified(cp.node_addr),
        token: join,
        node_name: node_name.clone(),
        data_dir: node_dir,
        node_ip: args.node_ip,
        max_pods: args.max_pods,
    };
    let node_stop = CancellationToken::new();
    let mut node = tokio::spawn(daemon::run(opts, node_stop.clone()));

    let outcome: Result<()> = tokio::select! {
        _ = signal.cancelled() => Ok(()),
        r = &mut node => Err(node_ended(r)),
        r = serve_when_node_ready(&cp, &node_name, &signal) => match r {
            Err(e) => Err(e),
            Ok(()) => tokio::select! {
                _ = signal.cancelled() => Ok(()),
                r = &mut node => Err(node_ended(r)),
            },
        },
    };
    if !node.is_finished() {
        tracing::info!(node = %node_name, "stopping the embedded node");
        node_stop.cancel();
        if let Err(e) = node.await.map_err(anyhow::Error::from).and_then(|r| r) {
            tracing::error!(error = %format!("{e:#}"), "the embedded node failed while stopping");
        }
    }
    tracing::info!("stopping the control plane");
    cp_stop.cancel();
    cp.wait().await;
    outcome
}

fn node_ended(r: Result<Result<()>, tokio::task::JoinError>) -> anyhow::Error {
    match r {
        Ok(Ok(())) => anyhow::anyhow!("the embedded node stopped unexpectedly"),
        Ok(Err(e)) => e.context("the embedded node failed"),
        Err(e) => anyhow::anyhow!("the embedded node panicked: {e}"),
    }
}

/// Waits for the embedded node to be Ready, then opens `/readyz` and
/// prints how to use the cluster.
async fn serve_when_node_ready(
    cp: &ControlPlane,
    node_name: &str,
    signal: &CancellationToken,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + NODE_READY_TIMEOUT;
    let mut delay = Duration::from_millis(20);
    while !node_ready(&cp.api, node_name).await {
        if tokio::time::Instant::now() > deadline {
            bail!("the embedded node {node_name} was not Ready within {NODE_READY_TIMEOUT:?}");
        }
        tokio::select! {
            _ = signal.cancelled() => return Ok(()),
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_millis(250));
    }
    cp.api.set_ready();
    let kc = std::fs::canonicalize(&cp.kubeconfig)
        .unwrap_or_else(|_| cp.kubeconfig.clone())
        .display()
        .to_string();
    tracing::info!(api = %cp.api_addr, node = %node_name, kubeconfig = %kc, "cluster ready");
    print_usage(cp.api_addr, node_name, &kc);
    Ok(())
}

/// The Node object exists and its `Ready` condition is `True`.
async fn node_ready(api: &ApiServer, name: &str) -> bool {
    let Some(nodes) = regatta_api::registry::by_kind("v1", "Node") else {
        return false;
    };
    let Ok(node) = api.rest.get(nodes, None, name).await else {
        return false;
    };
    node["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn loopback_if_unspecified(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

fn print_usage(api: SocketAddr, node_name: &str, kubeconfig: &str) {
    println!("Regatta is up: the Kubernetes API is at https://{api}, node {node_name} is Ready.");
    println!();
    println!("  export KUBECONFIG={kubeconfig}");
    println!("  kubectl get nodes -o wide");
    println!("  kubectl apply -f manifests/");
    println!("  kubectl get pods -A -o wide");
    println!();
    println!("Press Ctrl-C to stop (the node stops its pods and removes their network first).");
}
