//! `orchestrator up`: one process with the control plane and an embedded
//! node. `/readyz` answers only once the node is Ready, a pod bound to it
//! runs and answers HTTP on its pod IP, a `hostNetwork` pod serves on the
//! host's own address, and SIGTERM leaves nothing of the cluster in the
//! kernel. Needs root (it makes netns, a bridge and routes).

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use regatta_e2e::{UpCluster, curl, free_tcp_port, hello_pod_yaml, wait_for};

#[test]
fn up_runs_a_node_whose_pods_answer_and_sigterm_leaves_nothing_behind() {
    let mut up = UpCluster::start().unwrap();
    let c = &up.cluster;
    let log = || c.log_text();

    // Ready means the embedded node is registered and Ready too.
    assert!(c.node_is_ready(&up.node_name), "log:\n{}", log());
    let table = c.kubectl(&["get", "nodes"]);
    let row = table
        .lines()
        .find(|l| l.starts_with(&up.node_name))
        .unwrap_or_else(|| panic!("{table}"));
    assert_eq!(row.split_whitespace().nth(1), Some("Ready"), "{table}");
    let mode = std::fs::metadata(&c.kubeconfig)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "kubeconfig mode");
    let printed = std::fs::read_to_string(&up.stdout).unwrap();
    assert!(
        printed.contains(&format!("export KUBECONFIG={}", c.kubeconfig.display())),
        "{printed}"
    );

    // A pod bound to the node runs in its own netns and answers on its IP.
    c.kubectl_stdin(
        &["apply", "-f", "-"],
        Some(&hello_pod_yaml("hello", &up.node_name, false, 8080)),
    );
    let ip = c
        .wait_running("default", "hello", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\nlog:\n{}", log()));
    let pod_prefix = up.pod_cidr.split(".0.0/").next().unwrap().to_string() + ".";
    assert!(ip.starts_with(&pod_prefix), "{ip} in {}", up.pod_cidr);
    let body = wait_for("the pod to answer HTTP", Duration::from_secs(10), || {
        curl(&format!("http://{ip}:8080/"))
    })
    .unwrap();
    assert!(body.contains("Hello from hello"), "{body}");
    let uid = c.pod_uid("default", "hello");
    assert_eq!(
        regatta_e2e::cluster_netns(&c.cluster_name),
        vec![format!("{}-{uid}", c.cluster_name)]
    );

    // hostNetwork: the host's netns and IP, no netns of its own.
    let port = free_tcp_port();
    c.kubectl_stdin(
        &["apply", "-f", "-"],
        Some(&hello_pod_yaml("hostnet", &up.node_name, true, port)),
    );
    let host_ip = c
        .wait_running("default", "hostnet", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\nlog:\n{}", log()));
    let p = c.json(&["get", "pod", "hostnet"]);
    assert_eq!(p["status"]["hostIP"], host_ip.as_str(), "podIP = hostIP");
    assert_eq!(host_ip, "127.0.0.1");
    let body = wait_for(
        "the hostNetwork pod to answer on 127.0.0.1",
        Duration::from_secs(10),
        || curl(&format!("http://127.0.0.1:{port}/")),
    )
    .unwrap();
    assert!(body.contains("Hello from hostnet"), "{body}");
    assert_eq!(
        regatta_e2e::cluster_netns(&c.cluster_name).len(),
        1,
        "a hostNetwork pod gets no netns"
    );

    assert!(
        up.stop().unwrap(),
        "clean exit; log:\n{}",
        up.cluster.log_text()
    );
    let left = up.kernel_leftovers();
    assert!(left.is_empty(), "left behind: {left:#?}");
    assert!(
        curl(&format!("http://127.0.0.1:{port}/")).is_none(),
        "the hostNetwork pod stopped with the node"
    );
}
