//! Tests of the pod network against the real kernel (they need root and skip
//! otherwise). Each test has its own slot: a cluster name `t<pid>x<slot>` and
//! CIDRs no other test, and no real cluster, uses — pod 10.251.<8·slot>.0/21,
//! node 10.251.<8·slot>.0/24, Service 10.252.<slot>.0/24, dummy uplinks in
//! 10.250.<slot>.0/24. A [`Guard`] deletes everything of its slot with the
//! `ip` tool when the test ends, also when it fails.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use super::*;

fn is_root() -> bool {
    let root = netns::euid_is_root();
    if !root {
        eprintln!("skipping: needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)");
    }
    root
}

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("running ip");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn ip_ok(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One test's names and CIDRs, and the cleanup of everything they name.
struct Guard {
    cfg: NetConfig,
    dummies: Vec<String>,
    _state: tempfile::TempDir,
}

impl Guard {
    fn new(slot: u8) -> Guard {
        assert!(slot < 32);
        let state = tempfile::tempdir().unwrap();
        let cfg = NetConfig {
            cluster_name: format!("t{}x{slot}", std::process::id()),
            pod_cidr: format!("10.251.{}.0/21", slot * 8).parse().unwrap(),
            node_pod_cidr: format!("10.251.{}.0/24", slot * 8).parse().unwrap(),
            service_cidr: format!("10.252.{slot}.0/24").parse().unwrap(),
            state_dir: state.path().to_owned(),
        };
        let g = Guard {
            cfg,
            dummies: Vec::new(),
            _state: state,
        };
        g.cleanup(); // leftovers of a crashed earlier run with the same pid
        g
    }

    fn metric(&self) -> u32 {
        PodNetwork::route_metric(&self.cfg.cluster_name)
    }

    /// A stand-in uplink `<cluster>d<n>` with `addr` (a test-only 10.250.x
    /// address): one end of a veth pair whose other end is down, so nothing
    /// sent there goes anywhere (this kernel has no `dummy` driver).
    fn dummy(&mut self, addr: &str) -> String {
        let n = self.dummies.len();
        let name = format!("{}d{n}", self.cfg.cluster_name);
        let peer = format!("{}e{n}", self.cfg.cluster_name);
        self.dummies.push(name.clone());
        ip_ok(&["link", "add", &name, "type", "veth", "peer", "name", &peer]);
        ip_ok(&["addr", "add", addr, "dev", &name]);
        ip_ok(&["link", "set", &name, "up"]);
        name
    }

    /// Our routes, as `ip route show proto 82` prints them (without the proto).
    fn our_routes(&self) -> Vec<String> {
        ip(&[
            "route",
            "show",
            "table",
            "main",
            "proto",
            &ROUTE_PROTO.to_string(),
        ])
        .lines()
        .filter(|l| {
            l.contains(&format!("metric {} ", self.metric()))
                || l.ends_with(&format!("metric {}", self.metric()))
        })
        .map(|l| l.trim().to_owned())
        .collect()
    }

    fn netns_list(&self) -> Vec<String> {
        let prefix = format!("{}-", self.cfg.cluster_name);
        ip(&["netns", "list"])
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| n.starts_with(&prefix))
            .map(str::to_owned)
            .collect()
    }

    fn cleanup(&self) {
        for ns in self.netns_list() {
            ip(&["netns", "del", &ns]);
        }
        for d in &self.dummies {
            ip(&["link", "del", d]);
        }
        ip(&["link", "del", &bridge_name(&self.cfg.cluster_name)]);
        for r in self.our_routes() {
            let mut args = vec!["route", "del"];
            args.extend(r.split_whitespace());
            ip(&args);
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.cleanup();
    }
}

#[tokio::test]
async fn setup_makes_safety_routes_bridge_and_teardown_removes_exactly_them() {
    if !is_root() {
        return;
    }
    let g = Guard::new(0);
    // Routes that are no test's (tests run in parallel and use 10.250-252.x).
    let foreign = || -> Vec<String> {
        ip(&["route", "show", "table", "all"])
            .lines()
            .filter(|l| !l.contains("10.25"))
            .map(str::to_owned)
            .collect()
    };
    let before_other = foreign();
    // Links other tests of this process make meanwhile (the pod manager's use `p<pid>x`).
    let test_link = |n: &str| {
        let pid = std::process::id();
        n.starts_with(&format!("t{pid}x"))
            || n.starts_with(&format!("p{pid}x"))
            || n.starts_with("veth")
    };
    let links = || -> Vec<String> {
        ip(&["-br", "link"])
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(|n| n.split('@').next().unwrap_or(n).to_owned())
            .filter(|n| !test_link(n))
            .collect()
    };
    let links_before = links();
    let net = PodNetwork::setup(g.cfg.clone()).await.unwrap();
    let routes = g.our_routes();
    let m = g.metric();
    assert!(
        routes.contains(&format!("blackhole {} metric {m}", g.cfg.service_cidr)),
        "{routes:?}"
    );
    assert!(
        routes.contains(&format!("unreachable {} metric {m}", g.cfg.pod_cidr)),
        "{routes:?}"
    );
    let br = net.bridge().to_owned();
    assert!(br.len() <= 15);
    let addr = ip(&["-4", "addr", "show", "dev", &br]);
    assert!(
        addr.contains(&format!("inet {}/24", net.gateway())),
        "{addr}"
    );
    let node_route = ip(&["route", "show", &g.cfg.node_pod_cidr.to_string()]);
    assert!(node_route.contains(&format!("dev {br}")), "{node_route}");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .unwrap()
            .trim(),
        "1"
    );

    // Idempotent: a second setup (a restarted node) adopts all of it.
    let again = PodNetwork::setup(g.cfg.clone()).await.unwrap();
    assert_eq!(g.our_routes().len(), 2);
    drop(again);

    net.teardown().await.unwrap();
    assert!(g.our_routes().is_empty(), "{:?}", g.our_routes());
    assert!(ip(&["link", "show", &br]).contains("does not exist"));
    let after = foreign();
    assert_eq!(
        links(),
        links_before,
        "teardown touched links it did not make"
    );
    let gone: Vec<&String> = before_other.iter().filter(|r| !after.contains(r)).collect();
    assert!(
        gone.is_empty(),
        "teardown removed routes it did not make: {gone:?}"
    );
}

#[tokio::test]
async fn safety_routes_come_before_anything_else() {
    if !is_root() {
        return;
    }
    let g = Guard::new(1);
    // Take the bridge's name with a link that is not a bridge: setup must fail
    // at the bridge, after the safety routes are already in place.
    let br = bridge_name(&g.cfg.cluster_name);
    ip_ok(&[
        "link",
        "add",
        &br,
        "type",
        "veth",
        "peer",
        "name",
        &format!("{br}p"),
    ]);
    let err = match PodNetwork::setup(g.cfg.clone()).await {
        Err(e) => e,
        Ok(_) => panic!("setup adopted a non-bridge link"),
    };
    assert!(matches!(err, NetError::Conflict(_)), "{err}");
    assert!(err.to_string().contains(&br), "{err}");
    assert_eq!(g.our_routes().len(), 2, "{:?}", g.our_routes());
    ip_ok(&["link", "del", &br]);
}

#[tokio::test]
async fn refuses_cidrs_that_overlap_host_addresses_or_routes() {
    if !is_root() {
        return;
    }
    let mut g = Guard::new(2);
    let dummy = g.dummy("10.250.2.1/24");
    let mut cfg = g.cfg.clone();
    cfg.pod_cidr = "10.250.2.0/23".parse().unwrap();
    cfg.node_pod_cidr = "10.250.3.0/24".parse().unwrap();
    let err = PodNetwork::setup(cfg)
        .await
        .err()
        .expect("overlap must be refused");
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            NetError::Overlap {
                what: "pod CIDR",
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains("10.250.2.1/24") && msg.contains("refusing to start"),
        "{msg}"
    );

    let mut cfg = g.cfg.clone();
    cfg.service_cidr = "10.250.2.128/25".parse().unwrap();
    let err = PodNetwork::setup(cfg)
        .await
        .err()
        .expect("overlap must be refused");
    assert!(
        matches!(
            err,
            NetError::Overlap {
                what: "Service CIDR",
                ..
            }
        ),
        "{err}"
    );

    // A route (not an address) is refused too.
    ip_ok(&[
        "route",
        "add",
        "10.250.66.0/24",
        "via",
        "10.250.2.2",
        "dev",
        &dummy,
    ]);
    let mut cfg = g.cfg.clone();
    cfg.service_cidr = "10.250.64.0/22".parse().unwrap();
    let err = PodNetwork::setup(cfg)
        .await
        .err()
        .expect("overlap must be refused");
    assert!(err.to_string().contains("route 10.250.66.0/24"), "{err}");
    assert!(
        g.our_routes().is_empty(),
        "a refused setup installs nothing: {:?}",
        g.our_routes()
    );
    assert!(ip(&["link", "show", &bridge_name(&g.cfg.cluster_name)]).contains("does not exist"));
}

#[tokio::test]
async fn add_pod_gives_an_ip_in_a_listed_netns_and_remove_pod_cleans_up() {
    if !is_root() {
        return;
    }
    let g = Guard::new(3);
    let net = PodNetwork::setup(g.cfg.clone()).await.unwrap();
    let pod = net.add_pod("11111111-aaaa").await.unwrap();
    assert!(g.cfg.node_pod_cidr.contains(&pod.ip));
    assert_ne!(pod.ip, net.gateway());
    assert_eq!(
        pod.netns_name,
        format!("{}-11111111-aaaa", g.cfg.cluster_name)
    );
    assert!(g.netns_list().contains(&pod.netns_name));
    let addr = ip(&["netns", "exec", &pod.netns_name, "ip", "-4", "addr"]);
    assert!(
        addr.contains(&format!("inet {}/24", pod.ip)) && addr.contains("eth0"),
        "{addr}"
    );
    assert!(addr.contains("127.0.0.1"), "lo is up: {addr}");
    // IPv4-only pods: eth0 gets no IPv6 (no link-local, DAD or MLD work per pod).
    let addr6 = ip(&[
        "netns",
        "exec",
        &pod.netns_name,
        "ip",
        "-6",
        "addr",
        "show",
        "dev",
        "eth0",
    ]);
    assert!(!addr6.contains("inet6"), "eth0 has IPv6: {addr6}");
    let route = ip(&["-n", &pod.netns_name, "route"]);
    assert!(
        route.contains(&format!("default via {} dev eth0", net.gateway())),
        "{route}"
    );
    let host = ip(&["link", "show", &pod.host_veth]);
    assert!(
        host.contains(&format!("master {}", net.bridge())) && host.contains("state UP"),
        "{host}"
    );

    // Idempotent: same uid, same IP, nothing duplicated; and repairs.
    assert_eq!(net.add_pod("11111111-aaaa").await.unwrap(), pod);
    ip_ok(&["link", "del", &pod.host_veth]);
    assert_eq!(net.add_pod("11111111-aaaa").await.unwrap(), pod);
    assert!(
        ip(&["netns", "exec", &pod.netns_name, "ip", "-4", "addr"]).contains(&pod.ip.to_string())
    );

    net.remove_pod("11111111-aaaa").await.unwrap();
    assert!(!g.netns_list().contains(&pod.netns_name));
    assert!(ip(&["link", "show", &pod.host_veth]).contains("does not exist"));
    assert!(net.pods().await.is_empty());
    net.remove_pod("11111111-aaaa").await.unwrap(); // idempotent

    assert!(net.add_pod("../etc").await.is_err());
    net.teardown().await.unwrap();
}

#[tokio::test]
async fn pods_reach_each_other_and_the_gateway_over_tcp() {
    if !is_root() {
        return;
    }
    let g = Guard::new(4);
    let net = PodNetwork::setup(g.cfg.clone()).await.unwrap();
    let a = net.add_pod("pod-a").await.unwrap();
    let b = net.add_pod("pod-b").await.unwrap();
    assert_ne!(a.ip, b.ip);

    // A listener in pod B's netns, as a pod thread would open it.
    let (b_path, b_ip) = (b.netns_path.clone(), b.ip);
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        enter_netns(&b_path).unwrap();
        let l = TcpListener::bind(SocketAddrV4::new(b_ip, 0)).unwrap();
        tx.send(l.local_addr().unwrap().port()).unwrap();
        let (mut s, peer) = l.accept().unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).unwrap();
        s.write_all(b"pong").unwrap();
        (peer.ip(), buf)
    });
    let port = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let a_path = a.netns_path.clone();
    let client = std::thread::spawn(move || {
        enter_netns(&a_path).unwrap();
        let mut s = TcpStream::connect_timeout(
            &SocketAddrV4::new(b_ip, port).into(),
            Duration::from_secs(5),
        )
        .unwrap();
        s.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).unwrap();
        buf
    });
    assert_eq!(&client.join().unwrap(), b"pong");
    let (peer, got) = server.join().unwrap();
    assert_eq!((peer, &got), (std::net::IpAddr::V4(a.ip), b"ping"));

    // Pod A reaches the host at the gateway address.
    let host = TcpListener::bind(SocketAddrV4::new(net.gateway(), 0)).unwrap();
    let port = host.local_addr().unwrap().port();
    let gw = net.gateway();
    let client = std::thread::spawn(move || {
        enter_netns(&a.netns_path).unwrap();
        TcpStream::connect_timeout(&SocketAddrV4::new(gw, port).into(), Duration::from_secs(5))
            .map(|_| ())
    });
    let (_s, peer) = host.accept().unwrap();
    client.join().unwrap().unwrap();
    assert_eq!(peer.ip(), std::net::IpAddr::V4(a.ip));

    net.teardown().await.unwrap();
    assert!(g.netns_list().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_add_pod_calls_get_distinct_ips_and_agree_per_uid() {
    if !is_root() {
        return;
    }
    let g = Guard::new(8);
    let net = PodNetwork::setup(g.cfg.clone()).await.unwrap();
    let uids: Vec<String> = (0..12).map(|i| format!("pod-{}", i % 10)).collect();
    let pods = futures::future::join_all(uids.iter().map(|u| net.add_pod(u))).await;
    let pods: Vec<PodNet> = pods.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        pods[0], pods[10],
        "the same uid twice at once gets one network"
    );
    assert_eq!(pods[1], pods[11]);
    let mut ips: Vec<Ipv4Addr> = pods[..10].iter().map(|p| p.ip).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 10);
    assert_eq!(g.netns_list().len(), 10);
    net.teardown().await.unwrap();
    assert!(g.netns_list().is_empty());
}

#[tokio::test]
async fn ipam_survives_a_restart_on_the_same_state_dir() {
    if !is_root() {
        return;
    }
    let g = Guard::new(5);
    let net = PodNetwork::setup(g.cfg.clone()).await.unwrap();
    let a = net.add_pod("pod-a").await.unwrap();
    let b = net.add_pod("pod-b").await.unwrap();
    drop(net); // a node crash: kernel objects and the IPAM file stay

    let net = PodNetwork::setup(g.cfg.clone()).await.unwrap();
    assert_eq!(net.pods().await.len(), 2);
    assert_eq!(net.add_pod("pod-b").await.unwrap(), b);
    assert_eq!(net.add_pod("pod-a").await.unwrap(), a);
    let c = net.add_pod("pod-c").await.unwrap();
    assert!(c.ip != a.ip && c.ip != b.ip);

    net.teardown().await.unwrap();
    assert!(g.netns_list().is_empty(), "{:?}", g.netns_list());
    assert!(ip(&["link", "show", &a.host_veth]).contains("does not exist"));
    assert!(
        std::fs::read_dir(&g.cfg.state_dir)
            .unwrap()
            .next()
            .is_none(),
        "IPAM file removed"
    );
}

#[tokio::test]
async fn peer_routes_follow_the_desired_set() {
    if !is_root() {
        return;
    }
    let mut g = Guard::new(6);
    g.dummy("10.250.6.1/24");
    let net = PodNetwork::setup(g.cfg.clone()).await.unwrap();
    let peer1: Ipv4Net = "10.251.49.0/24".parse().unwrap();
    let peer2: Ipv4Net = "10.251.50.0/24".parse().unwrap();
    let (via1, via2): (Ipv4Addr, Ipv4Addr) =
        ("10.250.6.2".parse().unwrap(), "10.250.6.3".parse().unwrap());
    net.set_peer_routes(&[(peer1, via1), (peer2, via2)])
        .await
        .unwrap();
    let r = g.our_routes();
    assert!(
        r.iter()
            .any(|l| l.starts_with(&format!("{peer1} via {via1}"))),
        "{r:?}"
    );
    assert!(
        r.iter()
            .any(|l| l.starts_with(&format!("{peer2} via {via2}"))),
        "{r:?}"
    );
    net.set_peer_routes(&[(peer1, via2)]).await.unwrap();
    let r = g.our_routes();
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(
        r.iter()
            .any(|l| l.starts_with(&format!("{peer1} via {via2}"))),
        "{r:?}"
    );

    // Not inside the pod CIDR, or this node's own: refused.
    assert!(
        net.set_peer_routes(&[("10.9.0.0/24".parse().unwrap(), via1)])
            .await
            .is_err()
    );
    assert!(
        net.set_peer_routes(&[(g.cfg.node_pod_cidr, via1)])
            .await
            .is_err()
    );

    net.teardown().await.unwrap();
    assert!(g.our_routes().is_empty(), "{:?}", g.our_routes());
}

/// `cargo test -p regatta-node --lib net::tests::add_pod_latency -- --ignored --nocapture`
#[tokio::test]
#[ignore = "benchmark: 100 pods, prints p50/p99"]
async fn add_pod_latency() {
    if !is_root() {
        return;
    }
    let g = Guard::new(7);
    let net = PodNetwork::setup(g.cfg.clone()).await.unwrap();
    let mut times = Vec::new();
    for i in 0..100 {
        let t = Instant::now();
        net.add_pod(&format!("bench-{i}")).await.unwrap();
        times.push(t.elapsed());
    }
    let t = Instant::now();
    for i in 0..100 {
        net.remove_pod(&format!("bench-{i}")).await.unwrap();
    }
    let remove = t.elapsed();
    times.sort();
    println!(
        "add_pod x100: p50 {:?}, p99 {:?}, max {:?}; remove_pod x100 total {remove:?}",
        times[49], times[98], times[99]
    );
    net.teardown().await.unwrap();
    assert!(
        times[98] < Duration::from_millis(100),
        "p99 {:?} over the 100 ms target",
        times[98]
    );
}

#[test]
fn names_fit_the_kernel_limit_and_configs_are_validated() {
    assert_eq!(bridge_name("regatta"), "regatta0");
    assert!(bridge_name("a-very-long-cluster-name").len() <= 15);
    let v = host_veth_name("regatta", "0b3c6a7e-1d2f-4c55-9a0e-8f1b2c3d4e5f");
    assert_eq!(v.len(), 15);
    assert_ne!(
        v,
        host_veth_name("regatta2", "0b3c6a7e-1d2f-4c55-9a0e-8f1b2c3d4e5f")
    );
    assert_ne!(PodNetwork::route_metric("a"), PodNetwork::route_metric("b"));
    assert_eq!(
        gateway("10.244.3.0/24".parse().unwrap()),
        Ipv4Addr::new(10, 244, 3, 1)
    );

    let ok = NetConfig {
        cluster_name: "regatta".into(),
        pod_cidr: "10.244.0.0/16".parse().unwrap(),
        node_pod_cidr: "10.244.3.0/24".parse().unwrap(),
        service_cidr: "10.96.0.0/12".parse().unwrap(),
        state_dir: "/tmp/x".into(),
    };
    validate(&ok).unwrap();
    let bad = |f: &dyn Fn(&mut NetConfig)| {
        let mut c = ok.clone();
        f(&mut c);
        validate(&c).unwrap_err().to_string()
    };
    assert!(bad(&|c| c.cluster_name = "Bad/Name".into()).contains("cluster_name"));
    assert!(bad(&|c| c.node_pod_cidr = "10.245.3.0/24".parse().unwrap()).contains("proper subnet"));
    assert!(bad(&|c| c.node_pod_cidr = c.pod_cidr).contains("proper subnet"));
    assert!(bad(&|c| c.service_cidr = "10.244.128.0/20".parse().unwrap()).contains("overlaps"));
    assert!(bad(&|c| c.pod_cidr = "10.244.0.1/16".parse().unwrap()).contains("host bits"));
    assert!(validate_pod_uid("../x").is_err() && validate_pod_uid("").is_err());
    validate_pod_uid("0b3c6a7e-1d2f-4c55-9a0e-8f1b2c3d4e5f").unwrap();
}

#[tokio::test]
async fn a_restarted_node_keeps_addresses_and_removes_only_pods_no_longer_desired() {
    if !is_root() {
        return;
    }
    let g = Guard::new(9);
    let (a_uid, b_uid, stray_uid) = (
        "0000000a-0000-4000-8000-000000000001",
        "0000000b-0000-4000-8000-000000000002",
        "0000000c-0000-4000-8000-000000000003",
    );
    let net = PodNetwork::setup(g.cfg.clone()).await.unwrap();
    let a = net.add_pod(a_uid).await.unwrap();
    let b = net.add_pod(b_uid).await.unwrap();
    drop(net); // kill -9: kernel objects and the IPAM file stay
    // A netns of ours that the IPAM file does not list, and one of a cluster
    // whose name extends ours: only the first is ours to remove.
    let stray = format!("{}-{stray_uid}", g.cfg.cluster_name);
    let foreign = format!("{}-x-{stray_uid}", g.cfg.cluster_name);
    ip_ok(&["netns", "add", &stray]);
    ip_ok(&["netns", "add", &foreign]);

    let net = PodNetwork::setup(g.cfg.clone()).await.unwrap();
    let keep: std::collections::HashSet<String> = [a_uid.to_string()].into();
    let mut gone = net.retain_pods(&keep).await.unwrap();
    gone.sort();
    assert_eq!(gone, vec![b_uid.to_string(), stray_uid.to_string()]);
    let mut left = g.netns_list();
    left.retain(|n| n != &foreign);
    assert_eq!(left, vec![a.netns_name.clone()]);
    assert!(ip(&["link", "show", &b.host_veth]).contains("does not exist"));
    assert!(ip(&["netns", "list"]).contains(&foreign), "not ours: kept");
    ip_ok(&["netns", "del", &foreign]);
    assert_eq!(net.add_pod(a_uid).await.unwrap(), a, "reused as it was");

    // SIGTERM: pods are stopped (their netns go) but keep their address.
    net.begin_node_stop();
    net.remove_pod(a_uid).await.unwrap();
    net.stop().await.unwrap();
    assert!(g.netns_list().is_empty(), "{:?}", g.netns_list());
    assert!(g.our_routes().is_empty(), "{:?}", g.our_routes());
    assert!(ip(&["link", "show", net.bridge()]).contains("does not exist"));
    drop(net);

    let net = PodNetwork::setup(g.cfg.clone()).await.unwrap();
    assert_eq!(net.add_pod(a_uid).await.unwrap().ip, a.ip, "same IP");
    let c = net.add_pod(b_uid).await.unwrap();
    assert_ne!(c.ip, a.ip);
    net.teardown().await.unwrap();
    assert!(g.netns_list().is_empty());
}
