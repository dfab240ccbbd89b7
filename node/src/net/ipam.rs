//! Node IPAM: pod IPs out of this node's pod CIDR, persisted in the state dir.
//!
//! Owns one JSON file per node pod CIDR. Pure bookkeeping: no kernel calls.
//!
//! Invariants:
//! - The network address, the gateway (first address) and the broadcast
//!   address are never handed out; no address is held by two pods.
//! - A pod uid keeps its address until it is released, across restarts: the
//!   file is rewritten atomically (write to a temporary file, fsync, rename,
//!   fsync the directory), so a crash leaves either the old or the new state.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::NetError;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    /// The node pod CIDR these allocations belong to, e.g. `10.244.3.0/24`.
    cidr: String,
    /// The most recently handed-out address: allocation goes on after it
    /// (next-fit), so a just-released address is not reused at once.
    last: Option<Ipv4Addr>,
    /// pod uid -> pod IP.
    allocations: BTreeMap<String, Ipv4Addr>,
}

/// Allocations for one node pod CIDR, backed by a file.
#[derive(Debug)]
pub(crate) struct Ipam {
    cidr: Ipv4Net,
    path: PathBuf,
    state: State,
}

impl Ipam {
    /// Loads the allocations for `cidr` from `path`; a missing file is empty.
    pub(crate) fn load(path: PathBuf, cidr: Ipv4Net) -> Result<Self, NetError> {
        let state = match fs::read(&path) {
            Ok(bytes) => {
                let state: State = serde_json::from_slice(&bytes).map_err(|e| {
                    NetError::State(format!("{}: not a valid IPAM file: {e}", path.display()))
                })?;
                if state.cidr != cidr.to_string() {
                    return Err(NetError::State(format!(
                        "{}: holds allocations for {}, expected {cidr}",
                        path.display(),
                        state.cidr
                    )));
                }
                if let Some((uid, ip)) =
                    state.allocations.iter().find(|(_, ip)| !usable(cidr, **ip))
                {
                    return Err(NetError::State(format!(
                        "{}: pod {uid} holds {ip}, which is not a usable address of {cidr}",
                        path.display()
                    )));
                }
                state
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => State {
                cidr: cidr.to_string(),
                ..State::default()
            },
            Err(e) => return Err(NetError::io(format!("reading {}", path.display()), e)),
        };
        Ok(Self { cidr, path, state })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The address of `uid`, allocating one if it has none. The flag says
    /// whether the state changed (and so must be persisted).
    pub(crate) fn allocate(&mut self, uid: &str) -> Result<(Ipv4Addr, bool), NetError> {
        if let Some(ip) = self.state.allocations.get(uid) {
            return Ok((*ip, false));
        }
        let used: HashSet<Ipv4Addr> = self.state.allocations.values().copied().collect();
        let (first, last) = usable_range(self.cidr);
        let (first, last) = (u32::from(first), u32::from(last));
        let size = last - first + 1;
        let start = match self.state.last.map(u32::from) {
            Some(l) if (first..=last).contains(&l) => l - first + 1,
            _ => 0,
        };
        for i in 0..size {
            let ip = Ipv4Addr::from(first + (start + i) % size);
            if !used.contains(&ip) {
                self.state.allocations.insert(uid.to_owned(), ip);
                self.state.last = Some(ip);
                return Ok((ip, true));
            }
        }
        Err(NetError::Exhausted {
            cidr: self.cidr,
            pod_uid: uid.to_owned(),
        })
    }

    /// Releases the address of `uid`; returns whether it had one.
    pub(crate) fn release(&mut self, uid: &str) -> bool {
        self.state.allocations.remove(uid).is_some()
    }

    /// Every allocation, by pod uid.
    pub(crate) fn allocations(&self) -> Vec<(String, Ipv4Addr)> {
        self.state
            .allocations
            .iter()
            .map(|(u, ip)| (u.clone(), *ip))
            .collect()
    }

    /// The serialized state, to hand to [`write_atomic`] off the async threads.
    pub(crate) fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(&self.state).expect("IPAM state serializes")
    }
}

/// First and last address a pod may get: skips network, gateway, broadcast.
pub(crate) fn usable_range(cidr: Ipv4Net) -> (Ipv4Addr, Ipv4Addr) {
    let net = u32::from(cidr.network());
    let bcast = u32::from(cidr.broadcast());
    (Ipv4Addr::from(net + 2), Ipv4Addr::from(bcast - 1))
}

fn usable(cidr: Ipv4Net, ip: Ipv4Addr) -> bool {
    let (first, last) = usable_range(cidr);
    (first..=last).contains(&ip)
}

/// Replaces `path` with `bytes` atomically and durably.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn skips_network_gateway_and_broadcast() {
        let dir = tempfile::tempdir().unwrap();
        let mut ipam = Ipam::load(dir.path().join("ipam.json"), net("10.251.0.0/29")).unwrap();
        let ips: Vec<Ipv4Addr> = (0..5)
            .map(|i| ipam.allocate(&format!("p{i}")).unwrap().0)
            .collect();
        let want: Vec<Ipv4Addr> = (2..=6).map(|h| Ipv4Addr::new(10, 251, 0, h)).collect();
        assert_eq!(ips, want);
        match ipam.allocate("p5") {
            Err(NetError::Exhausted { .. }) => {}
            other => panic!("expected exhaustion, got {other:?}"),
        }
    }

    #[test]
    fn same_uid_same_ip_and_next_fit_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let mut ipam = Ipam::load(dir.path().join("ipam.json"), net("10.251.0.0/24")).unwrap();
        let (a, new_a) = ipam.allocate("a").unwrap();
        let (a2, new_a2) = ipam.allocate("a").unwrap();
        assert_eq!((a, new_a, new_a2), (a2, true, false));
        let (b, _) = ipam.allocate("b").unwrap();
        assert!(ipam.release("a"));
        assert!(!ipam.release("a"));
        let (c, _) = ipam.allocate("c").unwrap();
        assert_ne!(c, a, "a just-released address is not reused first");
        assert_eq!(u32::from(c), u32::from(b) + 1);
    }

    #[test]
    fn persists_across_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ipam.json");
        let cidr = net("10.251.7.0/24");
        let mut ipam = Ipam::load(path.clone(), cidr).unwrap();
        let (a, _) = ipam.allocate("a").unwrap();
        let (b, _) = ipam.allocate("b").unwrap();
        write_atomic(&path, &ipam.snapshot()).unwrap();

        let mut again = Ipam::load(path.clone(), cidr).unwrap();
        assert_eq!(again.allocate("a").unwrap(), (a, false));
        assert_eq!(again.allocate("b").unwrap(), (b, false));
        let (c, _) = again.allocate("c").unwrap();
        assert!(c != a && c != b);

        let err = Ipam::load(path, net("10.251.8.0/24")).unwrap_err();
        assert!(err.to_string().contains("10.251.7.0/24"), "{err}");
    }
}
