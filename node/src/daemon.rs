//! The node daemon as a library: everything `node` does between parsing its
//! flags and exiting, so `orchestrator up` can embed the same node.
//!
//! Owns the wiring of the agent (QUIC link), the Wasm engine, the pod network
//! and the pod manager under one shutdown token; owns no state of its own.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use regatta_api::node_protocol::JoinToken;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::agent::{self, Agent, AgentConfig, AgentHandle};
use crate::net::{NetConfig, PodNetwork};
use crate::pods::{PodManager, PodManagerConfig};
use crate::runtime::{EngineConfig, NodeEngine};

/// The Wasm runtime this node reports as its container runtime.
pub const RUNTIME_VERSION: &str = "wasmtime://48.0.8";

/// What a node needs to run: the `node` flags, parsed.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// The orchestrator's node endpoint (UDP).
    pub server: SocketAddr,
    /// Needed only for the first start; later starts reuse the certificate.
    pub token: Option<JoinToken>,
    pub node_name: String,
    pub data_dir: PathBuf,
    /// The InternalIP; defaults to the address that reaches `server`.
    pub node_ip: Option<IpAddr>,
    pub max_pods: u32,
}

/// Runs the node until `shutdown` (or until the agent or the pod network
/// fails to start), then stops every pod and removes the pod network's
/// kernel objects. Pod addresses are kept (`<data-dir>/net/`): the pods the
/// restarted node runs again get the same IPs.
pub async fn run(opts: NodeOptions, shutdown: CancellationToken) -> Result<()> {
    let errs = regatta_api::validation::is_dns1123_subdomain(&opts.node_name);
    if !errs.is_empty() {
        bail!(
            "node name {:?} is invalid: {}",
            opts.node_name,
            errs.join("; ")
        );
    }
    let node_ip = opts
        .node_ip
        .or_else(|| agent::local_ip_towards(opts.server))
        .context("cannot tell the node's IP: pass --node-ip")?;
    std::fs::create_dir_all(&opts.data_dir)
        .with_context(|| format!("creating {}", opts.data_dir.display()))?;
    let (agent, handle) = Agent::new(AgentConfig {
        server: opts.server,
        token: opts.token.clone(),
        node_name: opts.node_name.clone(),
        data_dir: opts.data_dir.clone(),
        node_ip,
        max_pods: opts.max_pods,
        runtime_version: RUNTIME_VERSION.into(),
    });
    tracing::info!(node = %opts.node_name, server = %opts.server, node_ip = %node_ip, "node starting");

    let engine = NodeEngine::new(EngineConfig {
        max_pods: opts.max_pods,
        cache_dir: Some(opts.data_dir.join("cache")),
        ..Default::default()
    })
    .context("creating the Wasm engine")?;
    let pods_cfg = PodManagerConfig::new(
        opts.data_dir.clone(),
        opts.node_name.clone(),
        Some(node_ip.to_string()),
    );

    // Whichever ends first (the agent failing to start, the pod network
    // refusing to start, or `shutdown`) stops the other.
    let stop = shutdown.child_token();
    let tasks = TaskTracker::new();
    let mut pods_task = tasks.spawn(run_pods(handle, engine, pods_cfg, stop.clone()));
    let mut agent_task = tasks.spawn(agent.run(stop.clone()));
    tasks.close();
    let (agent_result, pods_result) = tokio::select! {
        a = &mut agent_task => {
            stop.cancel();
            (a, pods_task.await)
        }
        p = &mut pods_task => {
            stop.cancel();
            (agent_task.await, p)
        }
    };
    tasks.wait().await;
    // The pod network's refusal is the more useful message.
    pods_result??;
    agent_result?.map_err(Into::into)
}

/// Waits for the first Welcome, makes the pod network from it (refusing to
/// start when that fails), removes what is left of pods no longer desired,
/// runs the pod manager until `shutdown`, then stops every pod and removes
/// the network's kernel objects.
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
    // A restarted node (after SIGTERM or kill -9) finds the addresses, and
    // maybe the netns, of its earlier pods. Once the desired set is known,
    // remove those no longer wanted, before any pod starts (so no pod being
    // set up can be mistaken for a leftover); the others are reused by
    // `add_pod` with the same IP.
    let mut desired = handle.desired.clone();
    let keep: HashSet<String> = tokio::select! {
        _ = shutdown.cancelled() => None,
        d = desired.wait_for(|d| d.synced) => d.ok().map(|d| {
            d.pods
                .iter()
                .filter(|(_, p)| p.metadata.deletion_timestamp.is_none())
                .map(|(uid, _)| uid.clone())
                .collect()
        }),
    }
    .unwrap_or_default();
    if !shutdown.is_cancelled()
        && let Err(e) = net.retain_pods(&keep).await
    {
        tracing::warn!(error = %e, "removing the network of pods no longer desired");
    }
    let sink = std::sync::Arc::new(handle.status.clone());
    // The node stopping is not its pods being deleted: tell the network
    // first, so the pods' addresses are kept for the restarted node.
    let pods_stop = CancellationToken::new();
    let manager = PodManager::new(cfg, engine, net.clone(), sink);
    handle.streams.set(manager.streams());
    let pods = manager.run(desired, pods_stop.clone());
    tokio::pin!(pods);
    tokio::select! {
        _ = &mut pods => {}
        _ = shutdown.cancelled() => {
            net.begin_node_stop();
            pods_stop.cancel();
            pods.await;
        }
    }
    net.stop().await.context("stopping the pod network")?;
    Ok(())
}
