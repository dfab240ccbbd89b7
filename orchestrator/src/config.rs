//! Flags shared by `orchestrator up` and `orchestrator serve` (DESIGN §2).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct ClusterFlags {
    /// Where the store, the CA and the kubeconfig live.
    #[arg(long, default_value = ".regatta")]
    pub data_dir: PathBuf,
    /// Prefix of every kernel object this cluster makes, and the kubeconfig's names.
    #[arg(long, default_value = "regatta")]
    pub cluster_name: String,
    /// HTTPS address of the Kubernetes API.
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub api_listen: SocketAddr,
    /// UDP address nodes connect to (QUIC).
    #[arg(long, default_value = "0.0.0.0:7443")]
    pub node_listen: SocketAddr,
    #[arg(long, default_value = "10.244.0.0/16")]
    pub pod_cidr: ipnet::Ipv4Net,
    /// Prefix length of the podCIDR each node gets out of `--pod-cidr`
    /// (as kube-controller-manager's flag): 24 leaves room for 253 pods a node.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u8).range(8..=28))]
    pub node_cidr_mask_size: u8,
    #[arg(long, default_value = "10.96.0.0/12")]
    pub service_cidr: ipnet::Ipv4Net,
    #[arg(long, default_value = "10.96.0.10")]
    pub cluster_dns: std::net::Ipv4Addr,
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// Change-log events kept for watch resume; older resourceVersions get 410 Gone.
    #[arg(long, default_value_t = 10_000)]
    pub watch_window: u64,
}
