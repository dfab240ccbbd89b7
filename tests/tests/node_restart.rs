//! Restarts that a user of a cluster must not notice: a `node` restarted
//! after SIGTERM or `kill -9` runs its pods again with the same pod IPs and
//! exactly one netns each (a pod deleted while it was down leaves none), and
//! an orchestrator restart (SIGTERM or kill -9) does not disturb running pods
//! while the node picks the new one up within seconds. Needs root.

use std::time::Duration;

use regatta_e2e::{
    Cluster, NodeProcess, cluster_netns, curl, free_udp_port, hello_pod_yaml, kernel_leftovers,
    unique_cidrs, wait_for,
};

/// What the brief promises a user: pods back within 5 s of a restart.
const BACK_WITHIN: Duration = Duration::from_secs(5);

fn netns_of(c: &Cluster, uids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = uids
        .iter()
        .map(|u| format!("{}-{u}", c.cluster_name))
        .collect();
    v.sort();
    v
}

fn answers(ip: &str, name: &str) -> Option<()> {
    curl(&format!("http://{ip}:8080/"))
        .filter(|b| b.contains(&format!("Hello from {name}")))
        .map(|_| ())
}

/// Starts the node again and waits until its pod network (with the safety
/// routes) exists: only then may the test send to pod IPs, which would
/// otherwise follow the host's default route out of the machine.
fn restart(node: &mut NodeProcess) {
    let before = node.log_text().matches("pod network ready").count();
    node.start_again();
    wait_for("the node's pod network", BACK_WITHIN, || {
        (node.log_text().matches("pod network ready").count() > before).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\nnode log:\n{}", node.log_text()));
}

#[test]
fn pods_survive_node_and_orchestrator_restarts_with_the_same_ips() {
    let (pod_cidr, service_cidr) = unique_cidrs();
    let node_listen = format!("127.0.0.1:{}", free_udp_port());
    let mut c = Cluster::start_with(&[
        "--pod-cidr",
        &pod_cidr,
        "--service-cidr",
        &service_cidr,
        "--node-listen",
        &node_listen,
    ])
    .unwrap();
    let token = c.create_token();
    let tmp = tempfile::tempdir().unwrap();
    let node_name = format!("{}-n", c.cluster_name);
    let mut node = NodeProcess::start(
        &c.node_addr(),
        Some(&token),
        &node_name,
        &tmp.path().join("node"),
    );
    let logs = |c: &Cluster, node: &NodeProcess| {
        format!(
            "node log:\n{}\norchestrator log:\n{}",
            node.log_text(),
            c.log_text()
        )
    };
    wait_for("the node to be Ready", Duration::from_secs(30), || {
        c.node_is_ready(&node_name).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", logs(&c, &node)));

    for name in ["a", "b"] {
        c.kubectl_stdin(
            &["apply", "-f", "-"],
            Some(&hello_pod_yaml(name, &node_name, false, 8080)),
        );
    }
    let ip_a = c
        .wait_running("default", "a", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", logs(&c, &node)));
    let ip_b = c
        .wait_running("default", "b", Duration::from_secs(30))
        .unwrap();
    assert_ne!(ip_a, ip_b);
    let (uid_a, uid_b) = (c.pod_uid("default", "a"), c.pod_uid("default", "b"));
    for (ip, name) in [(&ip_a, "a"), (&ip_b, "b")] {
        wait_for("the pod to answer", Duration::from_secs(10), || {
            answers(ip, name)
        })
        .unwrap();
    }
    assert_eq!(
        cluster_netns(&c.cluster_name),
        netns_of(&c, &[&uid_a, &uid_b])
    );

    // SIGTERM: the node stops its pods and removes their netns …
    assert!(node.stop(), "the node exits 0 on SIGTERM");
    assert!(cluster_netns(&c.cluster_name).is_empty());
    // … and, started again, runs them again at the same addresses.
    restart(&mut node);
    for (ip, name) in [(&ip_a, "a"), (&ip_b, "b")] {
        wait_for(
            &format!("pod {name} to answer at {ip} again after SIGTERM"),
            BACK_WITHIN,
            || answers(ip, name),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", logs(&c, &node)));
    }
    assert_eq!(c.pod_phase_ip("default", "a").unwrap().1, ip_a);
    assert_eq!(c.pod_phase_ip("default", "b").unwrap().1, ip_b);
    assert_eq!(
        cluster_netns(&c.cluster_name),
        netns_of(&c, &[&uid_a, &uid_b])
    );

    // kill -9: the netns stay behind; b is deleted while the node is down.
    node.kill9();
    assert_eq!(
        cluster_netns(&c.cluster_name),
        netns_of(&c, &[&uid_a, &uid_b])
    );
    c.kubectl(&["delete", "pod", "b", "--wait=false"]);
    restart(&mut node);
    wait_for(
        "pod a to answer at its IP again after kill -9",
        BACK_WITHIN,
        || answers(&ip_a, "a"),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", logs(&c, &node)));
    assert_eq!(
        c.pod_phase_ip("default", "a").unwrap(),
        ("Running".into(), ip_a.clone())
    );
    wait_for("pod b to be gone", Duration::from_secs(15), || {
        c.pod_phase_ip("default", "b").is_none().then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", logs(&c, &node)));
    assert_eq!(
        cluster_netns(&c.cluster_name),
        netns_of(&c, &[&uid_a]),
        "one netns per pod, none for the deleted one"
    );

    // The orchestrator goes away: the pod keeps serving.
    c.stop_for_now().unwrap();
    for _ in 0..3 {
        assert!(
            answers(&ip_a, "a").is_some(),
            "the pod serves while the control plane is down"
        );
    }
    // It comes back: the node reconnects and a change is current within 5 s.
    c.start_again().unwrap();
    c.kubectl(&["delete", "pod", "a", "--wait=false"]);
    wait_for(
        "the node to stop pod a after the orchestrator returned",
        BACK_WITHIN,
        || c.pod_phase_ip("default", "a").is_none().then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", logs(&c, &node)));
    assert!(cluster_netns(&c.cluster_name).is_empty());

    // The same after kill -9 of the orchestrator: the restarted one answers
    // the node's packets for the old connection with a stateless reset the
    // node accepts (same key), so it reconnects at once, not after the idle
    // timeout.
    c.kubectl_stdin(
        &["apply", "-f", "-"],
        Some(&hello_pod_yaml("c", &node_name, false, 8080)),
    );
    let ip_c = c
        .wait_running("default", "c", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", logs(&c, &node)));
    c.kill9_and_restart().unwrap();
    wait_for("pod c to answer", Duration::from_secs(10), || {
        answers(&ip_c, "c")
    })
    .unwrap();
    c.kubectl(&["delete", "pod", "c", "--wait=false"]);
    wait_for(
        "the node to stop pod c after the orchestrator's kill -9",
        BACK_WITHIN,
        || c.pod_phase_ip("default", "c").is_none().then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", logs(&c, &node)));
    assert!(cluster_netns(&c.cluster_name).is_empty());

    assert!(node.stop());
    let left = kernel_leftovers(&c.cluster_name, &[&pod_cidr, &service_cidr]);
    assert!(left.is_empty(), "left behind: {left:#?}");
}
