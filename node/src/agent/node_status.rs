//! What the node reports about itself at registration: capacity, allocatable,
//! addresses and nodeInfo (the Wasm runtime as the "container runtime").

use std::net::IpAddr;

use regatta_api::k8s_openapi::api::core::v1::NodeStatus;
use serde_json::json;

/// Total memory in KiB, from `/proc/meminfo`.
fn mem_total_kib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn os_image() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

fn kube_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The node's status report: `runtime_version` is e.g. `wasmtime://48.0.8`.
pub fn report(name: &str, node_ip: IpAddr, max_pods: u32, runtime_version: &str) -> NodeStatus {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem = mem_total_kib()
        .map(|k| format!("{k}Ki"))
        .unwrap_or_else(|| "0".into());
    let resources = json!({
        "cpu": cpus.to_string(),
        "memory": mem,
        "pods": max_pods.to_string(),
        "ephemeral-storage": "0",
    });
    let machine_id = read_trim("/etc/machine-id");
    let v = json!({
        "capacity": resources,
        "allocatable": resources,
        "addresses": [
            {"type": "InternalIP", "address": node_ip.to_string()},
            {"type": "Hostname", "address": name},
        ],
        "nodeInfo": {
            "architecture": kube_arch(),
            "bootID": read_trim("/proc/sys/kernel/random/boot_id"),
            "containerRuntimeVersion": runtime_version,
            "kernelVersion": read_trim("/proc/sys/kernel/osrelease"),
            "kubeProxyVersion": "",
            "kubeletVersion": format!("v1.32.0-regatta.{}", env!("CARGO_PKG_VERSION")),
            "machineID": machine_id,
            "operatingSystem": std::env::consts::OS,
            "osImage": os_image(),
            "systemUUID": machine_id,
        },
    });
    serde_json::from_value(v).expect("a valid NodeStatus")
}

/// The host name, lowercased, as `--name` defaults to it.
pub fn hostname() -> String {
    let h = read_trim("/proc/sys/kernel/hostname");
    if h.is_empty() {
        "localhost".into()
    } else {
        h.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_has_capacity_addresses_and_runtime() {
        let s = report("n1", "10.0.0.2".parse().unwrap(), 1000, "wasmtime://48.0.8");
        let cap = s.capacity.unwrap();
        assert_eq!(cap["pods"].0, "1000");
        assert!(cap["cpu"].0.parse::<u32>().unwrap() >= 1);
        assert_eq!(s.addresses.unwrap()[0].address, "10.0.0.2");
        assert_eq!(
            s.node_info.unwrap().container_runtime_version,
            "wasmtime://48.0.8"
        );
        assert!(!hostname().is_empty());
    }
}
