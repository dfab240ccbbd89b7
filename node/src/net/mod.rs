//! The pod network on one node (DESIGN §6): safety routes, bridge, per-pod
//! netns and veth, IPAM. Layout and debugging: `README.md` beside this file.
//!
//! Owns, in the host network namespace, only kernel objects it can recognise
//! as its own: routes tagged `proto 82` with this cluster's metric
//! ([`PodNetwork::route_metric`]), the bridge `<cluster>0`, host veths
//! `veth<hash>` enslaved to that bridge, and the named netns
//! `/run/netns/<cluster>-<pod uid>` of pods in its IPAM file (or, after a
//! crash, named `<cluster>-<uuid>`). It never changes anything else, except
//! turning `net.ipv4.ip_forward` on.
//!
//! Invariants:
//! - Safety first: [`PodNetwork::setup`] installs the `blackhole` route for the
//!   Service CIDR and the `unreachable` route for the pod CIDR before it creates
//!   anything else, and [`PodNetwork::teardown`] removes them last, so a
//!   packet to a virtual address never leaves through the uplink.
//! - It refuses to start when a CIDR overlaps an address or route that is not
//!   its own; and everything is idempotent, so setup after a crash adopts what
//!   exists.
//! - A pod's IP is persisted before its netns exists, so the IPAM file lists
//!   every netns this module may have made.
//! - A pod keeps its IP until it is no longer desired: a node stopping
//!   ([`PodNetwork::begin_node_stop`], [`PodNetwork::stop`]) or crashing
//!   keeps the IPAM file, and [`PodNetwork::retain_pods`] releases only the
//!   pods the restarted node no longer runs.

mod ipam;
mod netns;
mod nl;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use ipnet::Ipv4Net;
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
use rtnetlink::packet_route::route::RouteType;
use rtnetlink::sys::{AsyncSocket, TokioSocket, protocols::NETLINK_ROUTE};
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, OwnedMutexGuard};
use tokio::task::JoinHandle;

pub use netns::{NETNS_RUN_DIR, enter_netns};

/// Routing protocol number tagging every route Regatta adds (`ip route show
/// proto 82`). Not in iproute2's `rt_protos`, so no routing daemon claims it.
pub const ROUTE_PROTO: u8 = 82;

/// Pod operations (add/remove) in flight on the host netlink socket at once.
const NETLINK_CONCURRENCY: usize = 16;

/// A pod operation whose netlink replies do not come within this long (one
/// was lost) fails, so that its caller retries instead of waiting forever.
const NETLINK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// What the pod network of this node is made of. The node learns it from the
/// orchestrator at join (DESIGN §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    /// Prefix of every kernel object, e.g. `regatta`: `[a-z0-9-]`, at most 32
    /// bytes, so two clusters (or test runs) on one host never collide.
    pub cluster_name: String,
    /// The cluster's pod CIDR, e.g. `10.244.0.0/16`: an `unreachable` route.
    pub pod_cidr: Ipv4Net,
    /// This node's share of it (`spec.podCIDR`), e.g. `10.244.3.0/24`: the
    /// bridge subnet; the gateway is its first address.
    pub node_pod_cidr: Ipv4Net,
    /// The Service (ClusterIP) CIDR, e.g. `10.96.0.0/12`: a `blackhole` route.
    pub service_cidr: Ipv4Net,
    /// Where the IPAM file lives (created if missing).
    pub state_dir: PathBuf,
}

/// A pod's place in the network, as [`PodNetwork::add_pod`] made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodNet {
    /// The pod IP (`status.podIP`).
    pub ip: Ipv4Addr,
    /// Prefix length of the node pod CIDR the IP is in.
    pub prefix_len: u8,
    /// The pod's default gateway: the bridge address.
    pub gateway: Ipv4Addr,
    /// `<cluster>-<pod uid>`, as `ip netns list` shows it.
    pub netns_name: String,
    /// `/run/netns/<netns_name>`: what [`enter_netns`] takes.
    pub netns_path: PathBuf,
    /// The host side of the pod's veth (its `eth0` is the other side).
    pub host_veth: String,
}

impl PodNet {
    /// Whether the pod runs in its own netns (false for `hostNetwork: true`):
    /// only then must its threads enter [`Self::netns_path`].
    pub fn has_own_netns(&self) -> bool {
        !self.netns_path.as_os_str().is_empty()
    }
}

/// For a pod with `spec.hostNetwork: true`: its place is the host's own
/// network namespace (no netns, veth or IPAM address; `podIP` = `hostIP`),
/// as kubelet does. `None` for every other pod, which gets its network from
/// [`PodNetwork::add_pod`]. Errors when the node's IP is unknown or not IPv4.
pub fn host_network_pod(
    pod: &regatta_api::k8s_openapi::api::core::v1::Pod,
    host_ip: Option<&str>,
) -> Option<Result<PodNet, NetError>> {
    if pod.spec.as_ref()?.host_network != Some(true) {
        return None;
    }
    let ip = host_ip
        .and_then(|h| h.parse::<Ipv4Addr>().ok())
        .ok_or_else(|| {
            NetError::Config(format!(
                "spec.hostNetwork: the node's IP {host_ip:?} is not an IPv4 address; pass --node-ip"
            ))
        });
    Some(ip.map(|ip| PodNet {
        ip,
        prefix_len: 32,
        gateway: Ipv4Addr::UNSPECIFIED,
        netns_name: String::new(),
        netns_path: PathBuf::new(),
        host_veth: String::new(),
    }))
}

/// Errors of the pod network; messages say what, where, and what would be right.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("invalid pod network config: {0}")]
    Config(String),
    #[error(
        "refusing to start: {what} {cidr} overlaps {found}, already on this host; \
         choose a {what} that no local address or route uses"
    )]
    Overlap {
        what: &'static str,
        cidr: Ipv4Net,
        found: String,
    },
    #[error("invalid pod uid {pod_uid:?}: {reason}")]
    InvalidPodUid {
        pod_uid: String,
        reason: &'static str,
    },
    #[error("node pod CIDR {cidr} is exhausted: no free address for pod {pod_uid}")]
    Exhausted { cidr: Ipv4Net, pod_uid: String },
    #[error("{0}")]
    Conflict(String),
    #[error("IPAM state: {0}")]
    State(String),
    #[error("{0}: no netlink reply within {NETLINK_TIMEOUT:?}")]
    Timeout(String),
    #[error("netlink: {context}: {source}")]
    Netlink {
        context: String,
        #[source]
        source: rtnetlink::Error,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl NetError {
    fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        NetError::Io {
            context: context.into(),
            source,
        }
    }
}

/// The pod network of this node: made by [`PodNetwork::setup`], removed by
/// [`PodNetwork::teardown`]. Dropping it leaves the kernel objects in place
/// (a restarted node adopts them). Methods may be called concurrently.
pub struct PodNetwork {
    cfg: NetConfig,
    bridge: String,
    bridge_index: u32,
    gateway: Ipv4Addr,
    metric: u32,
    handle: Handle,
    conn: JoinHandle<()>,
    ipam: Mutex<ipam::Ipam>,
    /// One lock per pod uid, so that add_pod/remove_pod of the same pod never
    /// interleave (a second add_pod would see a half-made netns).
    pod_locks: std::sync::Mutex<HashMap<String, Weak<Mutex<()>>>>,
    /// Bounds the pod operations in flight on the host netlink socket: a
    /// thousand at once overflow its receive buffer, the kernel drops
    /// replies (ENOBUFS) and the requests waiting for them never finish.
    netlink_slots: tokio::sync::Semaphore,
    /// Set by [`PodNetwork::begin_node_stop`]: the node is stopping, not the
    /// pods being deleted, so `remove_pod` keeps their addresses for the
    /// restarted node.
    node_stopping: AtomicBool,
}

impl Drop for PodNetwork {
    fn drop(&mut self) {
        // The netlink connection task is ours; nothing else uses it.
        self.conn.abort();
    }
}

impl PodNetwork {
    /// Makes the node's pod network, or adopts the one a previous run left:
    /// checks that no CIDR overlaps a foreign address or route; installs the
    /// `blackhole` Service-CIDR and `unreachable` pod-CIDR routes (main table,
    /// `proto 82`, this cluster's metric) before anything else; creates the
    /// bridge with the gateway address (the first address of `node_pod_cidr`,
    /// whose kernel prefix route sends the node's pods to the bridge); turns
    /// `ip_forward` on; loads the IPAM file.
    pub async fn setup(cfg: NetConfig) -> Result<PodNetwork, NetError> {
        validate(&cfg)?;
        let bridge = bridge_name(&cfg.cluster_name);
        let metric = Self::route_metric(&cfg.cluster_name);
        let gateway = gateway(cfg.node_pod_cidr);
        let (mut conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| NetError::io("opening a netlink socket", e))?;
        // Room for the replies of every operation in flight (capped by
        // net.core.rmem_max); best effort, the semaphore is what bounds them.
        if let Err(e) = conn.socket_mut().socket_mut().set_rx_buf_sz(4usize << 20) {
            tracing::debug!(error = %e, "enlarging the netlink receive buffer");
        }
        let conn = tokio::spawn(conn);

        let existing_bridge = nl::link_by_name(&handle, &bridge)
            .await?
            .filter(|l| nl::link_kind(l) == Some(&InfoKind::Bridge))
            .map(|l| l.header.index);
        check_overlaps(&handle, &cfg, metric, existing_bridge).await?;

        // Safety first: nothing else exists until these two routes do.
        for (cidr, kind) in [
            (cfg.service_cidr, RouteType::BlackHole),
            (cfg.pod_cidr, RouteType::Unreachable),
        ] {
            handle
                .route()
                .add(nl::our_route(cidr, kind, ROUTE_PROTO, metric).build())
                .replace()
                .execute()
                .await
                .map_err(nl::nl_err(format!("adding the {kind:?} route for {cidr}")))?;
        }

        let bridge_index = match existing_bridge {
            Some(i) => i,
            None => create_bridge(&handle, &bridge).await?,
        };
        nl::set_up(&handle, bridge_index, &bridge).await?;
        let prefix = cfg.node_pod_cidr.prefix_len();
        for a in nl::addrs(&handle, Some(bridge_index)).await? {
            if (a.addr, a.prefix_len) != (gateway, prefix) {
                // A left-over gateway of an older node pod CIDR.
                handle
                    .address()
                    .del(
                        rtnetlink::AddressMessageBuilder::<Ipv4Addr>::new()
                            .index(bridge_index)
                            .address(a.addr, a.prefix_len)
                            .build(),
                    )
                    .execute()
                    .await
                    .map_err(nl::nl_err(format!(
                        "removing stale {}/{} from {bridge}",
                        a.addr, a.prefix_len
                    )))?;
            }
        }
        handle
            .address()
            .add(bridge_index, IpAddr::V4(gateway), prefix)
            .replace()
            .execute()
            .await
            .map_err(nl::nl_err(format!(
                "adding gateway {gateway}/{prefix} to {bridge}"
            )))?;

        enable_ip_forward().await?;

        let state_dir = cfg.state_dir.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&state_dir).map_err(|e| {
                NetError::io(format!("creating state dir {}", state_dir.display()), e)
            })?;
            netns::prepare_run_dir()
                .map_err(|e| NetError::io(format!("preparing {NETNS_RUN_DIR}"), e))
        })
        .await
        .expect("setup blocking task panicked")?;
        let ipam_path = cfg.state_dir.join(format!(
            "ipam-{}-{}-{}.json",
            cfg.cluster_name,
            cfg.node_pod_cidr.network(),
            prefix
        ));
        let ipam = ipam::Ipam::load(ipam_path, cfg.node_pod_cidr)?;

        tracing::info!(
            bridge, %gateway, pod_cidr = %cfg.pod_cidr, node_pod_cidr = %cfg.node_pod_cidr,
            service_cidr = %cfg.service_cidr, metric, "pod network ready"
        );
        Ok(PodNetwork {
            cfg,
            bridge,
            bridge_index,
            gateway,
            metric,
            handle,
            conn,
            ipam: Mutex::new(ipam),
            pod_locks: Default::default(),
            netlink_slots: tokio::sync::Semaphore::new(NETLINK_CONCURRENCY),
            node_stopping: AtomicBool::new(false),
        })
    }

    /// The route metric tagging this cluster's routes (with `proto 82`): a
    /// stable hash of the cluster name, so clusters on one host tell theirs apart.
    pub fn route_metric(cluster_name: &str) -> u32 {
        let h = Sha256::digest(cluster_name.as_bytes());
        0x5200_0000 | u32::from_be_bytes([0, h[0], h[1], h[2]])
    }

    /// The bridge's name (`<cluster>0`, or `br-<hash>` for long cluster names).
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// The pods' gateway: the bridge address.
    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    /// Pods that hold an IP (by uid), e.g. to remove those a restarted node no
    /// longer runs.
    pub async fn pods(&self) -> Vec<(String, Ipv4Addr)> {
        self.ipam.lock().await.allocations()
    }

    /// Gives pod `pod_uid` its network: netns `<cluster>-<uid>` (visible in
    /// `ip netns list`), a veth made with its `eth0` end directly inside the
    /// netns and the other end on the bridge, `lo` up, the pod IP from IPAM,
    /// a default route via the gateway. Idempotent: for a uid that has it
    /// already (say after a node restart) it repairs what is missing and
    /// returns the same IP.
    pub async fn add_pod(&self, pod_uid: &str) -> Result<PodNet, NetError> {
        validate_pod_uid(pod_uid)?;
        let _pod_lock = self.lock_pod(pod_uid).await;
        let (ip, new) = {
            let mut ipam = self.ipam.lock().await;
            let (ip, new) = ipam.allocate(pod_uid)?;
            if new && let Err(e) = persist(&ipam).await {
                ipam.release(pod_uid);
                return Err(e);
            }
            (ip, new)
        };
        let pod = self.pod_net(pod_uid, ip);
        let fresh = !tokio::fs::try_exists(&pod.netns_path).await.unwrap_or(true);
        let result = {
            let _slot = self.netlink_slots.acquire().await;
            tokio::time::timeout(NETLINK_TIMEOUT, self.plumb(&pod, fresh))
                .await
                .unwrap_or_else(|_| {
                    Err(NetError::Timeout(format!("setting up {}", pod.netns_name)))
                })
        };
        if let Err(e) = result {
            if fresh {
                // Leave nothing half-made behind a failed first attempt.
                if let Err(ce) = self.unplumb(&pod).await {
                    tracing::warn!(pod_uid, error = %ce, "cleanup after failed add_pod");
                }
                if new {
                    let mut ipam = self.ipam.lock().await;
                    ipam.release(pod_uid);
                    let _ = persist(&ipam).await;
                }
            }
            return Err(e);
        }
        Ok(pod)
    }

    /// Deletes the pod's veth and netns and releases its IP (unless the node
    /// is stopping: see [`begin_node_stop`](Self::begin_node_stop)).
    /// Idempotent. The netns is unmounted at once; the kernel frees it when
    /// the last pod thread in it has exited.
    pub async fn remove_pod(&self, pod_uid: &str) -> Result<(), NetError> {
        validate_pod_uid(pod_uid)?;
        let _pod_lock = self.lock_pod(pod_uid).await;
        let pod = self.pod_net(pod_uid, Ipv4Addr::UNSPECIFIED);
        {
            let _slot = self.netlink_slots.acquire().await;
            tokio::time::timeout(NETLINK_TIMEOUT, self.unplumb(&pod))
                .await
                .map_err(|_| NetError::Timeout(format!("removing {}", pod.netns_name)))??;
        }
        if self.node_stopping.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut ipam = self.ipam.lock().await;
        if ipam.release(pod_uid) {
            persist(&ipam).await?;
        }
        Ok(())
    }

    /// Routes each peer node's pod CIDR via its node IP (host-gw) and removes
    /// the peer routes not listed: the list is the whole desired set.
    pub async fn set_peer_routes(&self, peers: &[(Ipv4Net, Ipv4Addr)]) -> Result<(), NetError> {
        for (cidr, via) in peers {
            if *cidr != cidr.trunc()
                || !self.cfg.pod_cidr.contains(cidr)
                || cidr.prefix_len() == self.cfg.pod_cidr.prefix_len()
            {
                return Err(NetError::Config(format!(
                    "peer pod CIDR {cidr} (via {via}): must be a subnet of the pod CIDR {} in canonical form",
                    self.cfg.pod_cidr
                )));
            }
            if overlaps(*cidr, self.cfg.node_pod_cidr) {
                return Err(NetError::Config(format!(
                    "peer pod CIDR {cidr} (via {via}) overlaps this node's pod CIDR {}",
                    self.cfg.node_pod_cidr
                )));
            }
        }
        let current: Vec<nl::Route> = self
            .our_routes()
            .await?
            .into_iter()
            .filter(|r| r.kind == RouteType::Unicast)
            .collect();
        for (cidr, via) in peers {
            if current
                .iter()
                .any(|r| r.dst == *cidr && r.gateway == Some(*via))
            {
                continue;
            }
            self.handle
                .route()
                .add(
                    nl::our_route(*cidr, RouteType::Unicast, ROUTE_PROTO, self.metric)
                        .gateway(*via)
                        .build(),
                )
                .replace()
                .execute()
                .await
                .map_err(nl::nl_err(format!("adding peer route {cidr} via {via}")))?;
        }
        for r in &current {
            if !peers
                .iter()
                .any(|(c, v)| r.dst == *c && r.gateway == Some(*v))
            {
                nl::del_route(&self.handle, r).await?;
            }
        }
        Ok(())
    }

    /// The node is stopping (not its pods being deleted): from now on
    /// [`remove_pod`](Self::remove_pod) removes a pod's netns and veth but
    /// keeps its address, so the pods the restarted node runs again get the
    /// same IPs. Call it before stopping the pods; [`stop`](Self::stop) then
    /// removes the rest.
    pub fn begin_node_stop(&self) {
        self.node_stopping.store(true, Ordering::SeqCst);
    }

    /// Removes every kernel object [`setup`](Self::setup),
    /// [`add_pod`](Self::add_pod) and [`set_peer_routes`](Self::set_peer_routes)
    /// made (pods' netns and veths, bridge, peer routes, last the safety
    /// routes) but keeps the IPAM file: a node stopping to restart. Pods still
    /// listed there get their address back from the next `add_pod`; those no
    /// longer wanted are released by [`retain_pods`](Self::retain_pods).
    pub async fn stop(&self) -> Result<(), NetError> {
        self.begin_node_stop();
        let ipam = self.ipam.lock().await;
        self.remove_kernel_objects(&ipam).await?;
        tracing::info!(bridge = %self.bridge, kept = ipam.allocations().len(), "pod network stopped; pod addresses kept");
        Ok(())
    }

    /// Removes everything [`setup`](Self::setup), [`add_pod`](Self::add_pod)
    /// and [`set_peer_routes`](Self::set_peer_routes) made: every pod's netns
    /// and veth, the bridge, peer routes, the IPAM file, and last the safety
    /// routes. `ip_forward` stays on (something else may rely on it).
    pub async fn teardown(&self) -> Result<(), NetError> {
        let mut ipam = self.ipam.lock().await;
        self.remove_kernel_objects(&ipam).await?;
        for (uid, _) in ipam.allocations() {
            ipam.release(&uid);
        }
        let path = ipam.path().to_owned();
        match tokio::fs::remove_file(&path).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(NetError::io(format!("removing {}", path.display()), e));
            }
            _ => {}
        }
        tracing::info!(bridge = %self.bridge, "pod network torn down");
        Ok(())
    }

    /// Removes the network of every pod not in `keep` (uids): those the IPAM
    /// file lists (netns, veth, address) and any netns `<cluster>-<uuid>` in
    /// [`NETNS_RUN_DIR`] left by a crash. Returns the uids removed. A
    /// restarted node calls it once, after the first full sync of the desired
    /// pods and before it starts any, so that a pod deleted while the node
    /// was down leaves nothing behind.
    pub async fn retain_pods(
        &self,
        keep: &std::collections::HashSet<String>,
    ) -> Result<Vec<String>, NetError> {
        let mut gone: Vec<String> = self
            .pods()
            .await
            .into_iter()
            .map(|(uid, _)| uid)
            .filter(|uid| !keep.contains(uid))
            .collect();
        let prefix = format!("{}-", self.cfg.cluster_name);
        let strays = match std::fs::read_dir(NETNS_RUN_DIR) {
            Ok(dir) => dir
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter_map(|n| n.strip_prefix(&prefix).map(str::to_owned))
                .filter(|uid| is_uuid(uid) && !keep.contains(uid) && !gone.contains(uid))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(NetError::io(format!("listing {NETNS_RUN_DIR}"), e)),
        };
        gone.extend(strays);
        for uid in &gone {
            self.remove_pod(uid).await?;
        }
        if !gone.is_empty() {
            tracing::info!(pods = ?gone, "removed the network of pods no longer desired");
        }
        Ok(gone)
    }

    /// The kernel side of stop/teardown; the IPAM lock is held by the caller.
    async fn remove_kernel_objects(&self, ipam: &ipam::Ipam) -> Result<(), NetError> {
        for (uid, ip) in ipam.allocations() {
            self.unplumb(&self.pod_net(&uid, ip)).await?;
        }
        for link in nl::links(&self.handle).await? {
            if nl::link_controller(&link) == Some(self.bridge_index) {
                nl::del_link(&self.handle, link.header.index, "bridge port").await?;
            }
        }
        if let Some(br) = nl::link_by_name(&self.handle, &self.bridge).await?
            && br.header.index == self.bridge_index
        {
            nl::del_link(&self.handle, self.bridge_index, &self.bridge).await?;
        }
        let mut ours = self.our_routes().await?;
        // Safety routes go last.
        ours.sort_by_key(|r| r.kind != RouteType::Unicast);
        for r in &ours {
            nl::del_route(&self.handle, r).await?;
        }
        Ok(())
    }

    async fn lock_pod(&self, pod_uid: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.pod_locks.lock().expect("pod lock map poisoned");
            locks.retain(|_, l| l.strong_count() > 0);
            match locks.get(pod_uid).and_then(Weak::upgrade) {
                Some(l) => l,
                None => {
                    let l = Arc::new(Mutex::new(()));
                    locks.insert(pod_uid.to_owned(), Arc::downgrade(&l));
                    l
                }
            }
        };
        lock.lock_owned().await
    }

    fn pod_net(&self, pod_uid: &str, ip: Ipv4Addr) -> PodNet {
        let netns_name = format!("{}-{pod_uid}", self.cfg.cluster_name);
        PodNet {
            ip,
            prefix_len: self.cfg.node_pod_cidr.prefix_len(),
            gateway: self.gateway,
            netns_path: Path::new(NETNS_RUN_DIR).join(&netns_name),
            netns_name,
            host_veth: host_veth_name(&self.cfg.cluster_name, pod_uid),
        }
    }

    /// Routes in the main table that carry our proto and metric.
    async fn our_routes(&self) -> Result<Vec<nl::Route>, NetError> {
        Ok(nl::routes(&self.handle)
            .await?
            .into_iter()
            .filter(|r| r.protocol == ROUTE_PROTO && r.priority == self.metric && r.table == 254)
            .collect())
    }

    /// Makes (or, when not `fresh`, repairs) the pod's netns, veth, address
    /// and default route.
    async fn plumb(&self, pod: &PodNet, fresh: bool) -> Result<(), NetError> {
        let path = pod.netns_path.clone();
        let rt = tokio::runtime::Handle::current();
        // A netlink socket opened by a thread inside the pod netns talks to
        // that netns, wherever it is used afterwards.
        let open_socket = move || {
            let _guard = rt.enter();
            TokioSocket::new(NETLINK_ROUTE)
        };
        let socket = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            if fresh {
                netns::create(&path, open_socket)?
            } else {
                if !netns::is_mounted(&path)? {
                    // A stray file from a crash between creating and mounting.
                    netns::delete(&path)?;
                    return netns::create(&path, open_socket)?;
                }
                netns::run_in(&path, open_socket)?
            }
        })
        .await
        .expect("netns task panicked")
        .map_err(|e| NetError::io(format!("creating netns {}", pod.netns_path.display()), e))?;
        let (conn, pod_nl, _) = rtnetlink::from_socket(socket);
        let conn = tokio::spawn(conn);
        let result = self.plumb_with(pod, &pod_nl, fresh).await;
        drop(pod_nl);
        // The connection ends once its last handle is gone.
        let _ = conn.await;
        result
    }

    async fn plumb_with(&self, pod: &PodNet, pod_nl: &Handle, fresh: bool) -> Result<(), NetError> {
        let h = &self.handle;
        let ns = &pod.netns_name;
        let eth0 = if fresh {
            None
        } else {
            nl::link_by_name(pod_nl, "eth0").await?
        };
        let host = if fresh {
            None
        } else {
            nl::link_by_name(h, &pod.host_veth).await?
        };
        let eth0_index = match (host, eth0) {
            (Some(host), Some(eth0)) => {
                let set = LinkUnspec::new_with_index(host.header.index)
                    .controller(self.bridge_index)
                    .up()
                    .build();
                h.link()
                    .set(set)
                    .execute()
                    .await
                    .map_err(nl::nl_err(format!(
                        "attaching {} to {}",
                        pod.host_veth, self.bridge
                    )))?;
                eth0.header.index
            }
            (host, eth0) => {
                // One half without the other: start the pair afresh.
                if let Some(host) = host {
                    nl::del_link(h, host.header.index, &pod.host_veth).await?;
                }
                if let Some(eth0) = eth0 {
                    nl::del_link(pod_nl, eth0.header.index, &format!("eth0 in {ns}")).await?;
                }
                let ns_file = File::open(&pod.netns_path).map_err(|e| {
                    NetError::io(format!("opening {}", pod.netns_path.display()), e)
                })?;
                // Not `up` here: veth refuses to open a peer that is not
                // linked yet (ENOTCONN); eth0 goes up below.
                let peer = LinkUnspec::new_with_name("eth0")
                    .setns_by_fd(ns_file.as_raw_fd())
                    .build();
                let veth = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
                    .name(pod.host_veth.clone())
                    .controller(self.bridge_index)
                    .up()
                    .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
                    .build();
                h.link()
                    .add(veth)
                    .execute()
                    .await
                    .map_err(nl::nl_err(format!(
                        "creating veth {} with eth0 in {ns}",
                        pod.host_veth
                    )))?;
                drop(ns_file);
                nl::link_by_name(pod_nl, "eth0")
                    .await?
                    .ok_or_else(|| {
                        NetError::Conflict(format!("eth0 missing in {ns} right after creating it"))
                    })?
                    .header
                    .index
            }
        };
        nl::set_up(pod_nl, eth0_index, &format!("eth0 in {ns}")).await?;
        // lo is always ifindex 1 in a network namespace.
        nl::set_up(pod_nl, 1, &format!("lo in {ns}")).await?;
        if !fresh {
            for a in nl::addrs(pod_nl, Some(eth0_index)).await? {
                if (a.addr, a.prefix_len) != (pod.ip, pod.prefix_len) {
                    pod_nl
                        .address()
                        .del(
                            rtnetlink::AddressMessageBuilder::<Ipv4Addr>::new()
                                .index(eth0_index)
                                .address(a.addr, a.prefix_len)
                                .build(),
                        )
                        .execute()
                        .await
                        .map_err(nl::nl_err(format!("removing stale {} in {ns}", a.addr)))?;
                }
            }
        }
        pod_nl
            .address()
            .add(eth0_index, IpAddr::V4(pod.ip), pod.prefix_len)
            .replace()
            .execute()
            .await
            .map_err(nl::nl_err(format!(
                "adding {}/{} to eth0 in {ns}",
                pod.ip, pod.prefix_len
            )))?;
        pod_nl
            .route()
            .add(
                RouteMessageBuilder::<Ipv4Addr>::new()
                    .gateway(pod.gateway)
                    .output_interface(eth0_index)
                    .build(),
            )
            .replace()
            .execute()
            .await
            .map_err(nl::nl_err(format!(
                "adding default route via {} in {ns}",
                pod.gateway
            )))?;
        Ok(())
    }

    /// Deletes the pod's host veth (and so its eth0) and its netns.
    async fn unplumb(&self, pod: &PodNet) -> Result<(), NetError> {
        nl::del_link_by_name(&self.handle, &pod.host_veth).await?;
        let path = pod.netns_path.clone();
        tokio::task::spawn_blocking(move || netns::delete(&path))
            .await
            .expect("netns delete task panicked")
            .map_err(|e| NetError::io(format!("deleting netns {}", pod.netns_path.display()), e))
    }
}

async fn persist(ipam: &ipam::Ipam) -> Result<(), NetError> {
    let (path, bytes) = (ipam.path().to_owned(), ipam.snapshot());
    tokio::task::spawn_blocking(move || {
        ipam::write_atomic(&path, &bytes)
            .map_err(|e| NetError::io(format!("writing {}", path.display()), e))
    })
    .await
    .expect("IPAM write task panicked")
}

async fn create_bridge(h: &Handle, name: &str) -> Result<u32, NetError> {
    if nl::link_by_name(h, name).await?.is_some() {
        return Err(NetError::Conflict(format!(
            "a link named {name} exists and is not a bridge; it is not ours, remove it or use another cluster name"
        )));
    }
    h.link()
        .add(LinkBridge::new(name).up().build())
        .execute()
        .await
        .map_err(nl::nl_err(format!("creating bridge {name}")))?;
    Ok(nl::link_by_name(h, name)
        .await?
        .ok_or_else(|| NetError::Conflict(format!("bridge {name} vanished right after creation")))?
        .header
        .index)
}

async fn enable_ip_forward() -> Result<(), NetError> {
    const PATH: &str = "/proc/sys/net/ipv4/ip_forward";
    let cur = tokio::fs::read_to_string(PATH)
        .await
        .map_err(|e| NetError::io(format!("reading {PATH}"), e))?;
    if cur.trim() != "1" {
        tokio::fs::write(PATH, "1")
            .await
            .map_err(|e| NetError::io(format!("writing {PATH}"), e))?;
    }
    Ok(())
}

/// Refuses CIDRs that overlap an address or route of the host that is not ours.
async fn check_overlaps(
    h: &Handle,
    cfg: &NetConfig,
    metric: u32,
    bridge: Option<u32>,
) -> Result<(), NetError> {
    let checks = [
        ("pod CIDR", cfg.pod_cidr),
        ("Service CIDR", cfg.service_cidr),
    ];
    for a in nl::addrs(h, None).await? {
        if Some(a.index) == bridge {
            continue;
        }
        for (what, cidr) in checks {
            if overlaps(cidr, a.net()) {
                return Err(NetError::Overlap {
                    what,
                    cidr,
                    found: format!(
                        "address {}/{} (link index {})",
                        a.addr, a.prefix_len, a.index
                    ),
                });
            }
        }
    }
    for r in nl::routes(h).await? {
        let ours = (r.protocol == ROUTE_PROTO && r.priority == metric)
            || (bridge.is_some() && r.oif == bridge);
        if ours || r.dst.prefix_len() == 0 {
            continue;
        }
        for (what, cidr) in checks {
            if overlaps(cidr, r.dst) {
                return Err(NetError::Overlap {
                    what,
                    cidr,
                    found: format!(
                        "route {} ({:?}, table {}, proto {}, metric {})",
                        r.dst, r.kind, r.table, r.protocol, r.priority
                    ),
                });
            }
        }
    }
    Ok(())
}

fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn gateway(node_pod_cidr: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(node_pod_cidr.network()) + 1)
}

fn validate(cfg: &NetConfig) -> Result<(), NetError> {
    let name = &cfg.cluster_name;
    if name.is_empty()
        || name.len() > 32
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || name.starts_with('-')
    {
        return Err(NetError::Config(format!(
            "cluster_name {name:?}: must be 1 to 32 characters of [a-z0-9-], not starting with '-'"
        )));
    }
    for (what, c) in [
        ("pod_cidr", cfg.pod_cidr),
        ("node_pod_cidr", cfg.node_pod_cidr),
        ("service_cidr", cfg.service_cidr),
    ] {
        if c != c.trunc() {
            return Err(NetError::Config(format!(
                "{what} {c}: host bits set; did you mean {}?",
                c.trunc()
            )));
        }
    }
    if !cfg.pod_cidr.contains(&cfg.node_pod_cidr)
        || cfg.node_pod_cidr.prefix_len() <= cfg.pod_cidr.prefix_len()
    {
        return Err(NetError::Config(format!(
            "node_pod_cidr {}: must be a proper subnet of pod_cidr {}",
            cfg.node_pod_cidr, cfg.pod_cidr
        )));
    }
    if cfg.node_pod_cidr.prefix_len() > 30 {
        return Err(NetError::Config(format!(
            "node_pod_cidr {}: too small, must be /30 or larger to leave room for pods",
            cfg.node_pod_cidr
        )));
    }
    if overlaps(cfg.pod_cidr, cfg.service_cidr) {
        return Err(NetError::Config(format!(
            "service_cidr {} overlaps pod_cidr {}",
            cfg.service_cidr, cfg.pod_cidr
        )));
    }
    Ok(())
}

fn validate_pod_uid(uid: &str) -> Result<(), NetError> {
    let reason = if uid.is_empty() || uid.len() > 128 {
        "must be 1 to 128 characters"
    } else if !uid
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        || uid.starts_with('.')
    {
        "must be [A-Za-z0-9._-] and not start with '.'"
    } else {
        return Ok(());
    };
    Err(NetError::InvalidPodUid {
        pod_uid: uid.to_owned(),
        reason,
    })
}

/// The shape of a Kubernetes uid (`8-4-4-4-12` hex digits): only such
/// names in [`NETNS_RUN_DIR`] are taken for pods of this cluster, so a
/// cluster whose name extends ours (`<cluster>-x`) is never touched.
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// `<cluster>0` when it fits the 15-byte interface-name limit, else a hash.
fn bridge_name(cluster: &str) -> String {
    if cluster.len() < 15 {
        format!("{cluster}0")
    } else {
        format!(
            "br-{}",
            &hex::encode(Sha256::digest(cluster.as_bytes()))[..12]
        )
    }
}

/// `veth` + 11 hex digits of a hash of cluster and pod uid: 15 bytes.
fn host_veth_name(cluster: &str, pod_uid: &str) -> String {
    let mut h = Sha256::new();
    h.update(cluster.as_bytes());
    h.update([0]);
    h.update(pod_uid.as_bytes());
    format!("veth{}", &hex::encode(h.finalize())[..11])
}
