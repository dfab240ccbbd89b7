//! The control plane as one unit: store, CA, API server, controllers — built
//! from [`ClusterFlags`] and run under one shutdown token.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::apiserver::rest::ClusterInfo;
use crate::apiserver::{self, ApiServer};
use crate::config::ClusterFlags;
use crate::pki::{self, Ca};
use crate::store::Store;
use crate::store::redb_store::RedbStore;

pub struct ControlPlane {
    pub api: Arc<ApiServer>,
    pub api_addr: std::net::SocketAddr,
    /// The bound UDP address of the node link (also in `<data-dir>/node-listen`).
    pub node_addr: std::net::SocketAddr,
    pub kubeconfig: PathBuf,
    /// `sha256:<hex>` of the cluster CA, as join tokens pin it.
    pub ca_hash: String,
    tasks: TaskTracker,
    store: Arc<RedbStore>,
}

impl ControlPlane {
    /// Opens the store, loads or creates the CA, binds the API port, writes the
    /// kubeconfig and starts serving. Returns once the API answers, with
    /// `/readyz` OK.
    pub async fn start(flags: &ClusterFlags, shutdown: CancellationToken) -> Result<ControlPlane> {
        let cp = Self::start_unready(flags, shutdown).await?;
        cp.api.set_ready();
        Ok(cp)
    }

    /// As [`start`](Self::start), but `/readyz` answers 503 until the caller
    /// calls `api.set_ready()`: `orchestrator up` is ready only once its
    /// embedded node is.
    pub async fn start_unready(
        flags: &ClusterFlags,
        shutdown: CancellationToken,
    ) -> Result<ControlPlane> {
        std::fs::create_dir_all(&flags.data_dir)
            .with_context(|| format!("creating data dir {}", flags.data_dir.display()))?;
        let store = Arc::new(
            RedbStore::open(&flags.data_dir.join("store.redb"), flags.watch_window)
                .map_err(|e| anyhow::anyhow!("opening store: {e}"))?,
        );
        let ca = Ca::load_or_create(&flags.data_dir, &flags.cluster_name)?;
        let ca_hash = ca.hash()?;
        let listener = TcpListener::bind(flags.api_listen)
            .await
            .with_context(|| format!("binding the API address {}", flags.api_listen))?;
        let api_addr = listener.local_addr()?;
        let serving = ca.serving(&serving_names(flags, api_addr.ip()))?;
        let tls = ca.server_config(&serving)?;
        let kubeconfig = flags.data_dir.join("kubeconfig");
        let host = match api_addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let server_url = format!(
            "https://{}",
            std::net::SocketAddr::new(host, api_addr.port())
        );
        pki::write_kubeconfig(
            &kubeconfig,
            &flags.cluster_name,
            &server_url,
            &ca.cert_pem,
            &ca.admin()?,
        )?;

        let api = ApiServer::new(
            store.clone() as Arc<dyn Store>,
            ClusterInfo {
                service_cidr: flags.service_cidr,
            },
            shutdown.clone(),
        );
        apiserver::bootstrap::ensure(&api.rest, std::net::SocketAddr::new(host, api_addr.port()))
            .await
            .map_err(|e| anyhow::anyhow!("bootstrapping the cluster: {}", e.message))?;
        let tasks = TaskTracker::new();
        {
            let api = api.clone();
            tasks.spawn(async move {
                if let Err(e) = apiserver::serve(api, listener, tls).await {
                    tracing::error!(error = %e, "API server failed");
                }
            });
        }
        crate::controllers::spawn_all(&tasks, api.clone(), shutdown.clone());
        let node_addr =
            crate::nodelink::start(flags, api.clone(), &tasks, shutdown.clone()).await?;
        Ok(ControlPlane {
            api,
            api_addr,
            node_addr,
            kubeconfig,
            ca_hash,
            tasks,
            store,
        })
    }

    /// Waits for every task to finish (after the shutdown token fired), then
    /// closes the store.
    pub async fn wait(self) {
        self.tasks.close();
        self.tasks.wait().await;
        self.store.close().await;
    }
}

fn serving_names(flags: &ClusterFlags, ip: IpAddr) -> Vec<String> {
    let kube_ip = Ipv4Addr::from(u32::from(flags.service_cidr.network()) + 1);
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
        "kubernetes".to_string(),
        "kubernetes.default".to_string(),
        "kubernetes.default.svc".to_string(),
        format!("kubernetes.default.svc.{}", flags.cluster_domain),
        kube_ip.to_string(),
    ];
    if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
        names.push(ip.to_string());
    }
    names
}
