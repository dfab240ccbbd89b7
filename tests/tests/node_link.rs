//! A real `node` joins a real `orchestrator serve` with a token from
//! `orchestrator token create`, shows up Ready with a podCIDR in `kubectl get
//! nodes`, gets the pods bound to it and reports their status, and restarts on
//! its stored certificate without the token.

use std::path::Path;
use std::time::Duration;

use regatta_e2e::{Cluster, NodeProcess, wait_for};
use serde_json::Value;

/// The node as JSON, once it is Ready with a podCIDR.
fn ready_node(c: &Cluster, name: &str) -> Option<Value> {
    c.ready_node(name)
        .filter(|n| n["spec"]["podCIDR"].is_string())
}

#[test]
fn a_node_joins_with_a_token_and_shows_ready_with_a_pod_cidr() {
    let c = Cluster::start().unwrap();
    let token = c.create_token();
    assert!(token.starts_with("K10"), "{token}");
    let secrets = c.kubectl(&["-n", "kube-system", "get", "secrets"]);
    assert!(secrets.contains("bootstrap-token-"), "{secrets}");

    let tmp = tempfile::tempdir().unwrap();
    let node_dir = tmp.path().join("node1");
    let mut node = NodeProcess::start(&c.node_addr(), Some(&token), "e2e-node-1", &node_dir);
    let n = wait_for("the node to be Ready", Duration::from_secs(30), || {
        ready_node(&c, "e2e-node-1")
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}\nnode log:\n{}\norchestrator log:\n{}",
            node.log_text(),
            c.log_text()
        )
    });
    let cidr = n["spec"]["podCIDR"].as_str().unwrap().to_string();
    assert!(
        cidr.starts_with("10.244.") && cidr.ends_with("/24"),
        "{cidr}"
    );
    let table = c.kubectl(&["get", "nodes"]);
    let row = table
        .lines()
        .find(|l| l.starts_with("e2e-node-1"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.split_whitespace().nth(1) == Some("Ready"), "{table}");
    let key = std::fs::metadata(node_dir.join("pki/node.key")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(key.permissions().mode() & 0o777, 0o600);

    // A pod bound to the node reaches it; the node reports it scheduled.
    c.kubectl_stdin(
        &["apply", "-f", "-"],
        Some(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bound\nspec:\n  nodeName: e2e-node-1\n  containers:\n  - name: c\n    image: file:///nowhere.wasm\n",
        ),
    );
    wait_for("the node's pod status", Duration::from_secs(30), || {
        let p = c.json(&["get", "pod", "bound"]);
        let scheduled = p["status"]["conditions"]
            .as_array()?
            .iter()
            .any(|c| c["type"] == "PodScheduled" && c["status"] == "True");
        (scheduled && p["status"]["hostIP"] == "127.0.0.1").then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\nnode log:\n{}", node.log_text()));

    // Restarted without a token, the node uses its stored certificate.
    node.stop();
    let before = node
        .log_text()
        .matches("registered with the orchestrator")
        .count();
    let node = NodeProcess::start(&c.node_addr(), None, "e2e-node-1", &node_dir);
    wait_for(
        "the node to register again",
        Duration::from_secs(30),
        || {
            (node
                .log_text()
                .matches("registered with the orchestrator")
                .count()
                > before)
                .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\nnode log:\n{}", node.log_text()));
    assert_eq!(node.log_text().matches("joined the cluster").count(), 1);
    let again = ready_node(&c, "e2e-node-1").expect("still Ready");
    assert_eq!(
        again["spec"]["podCIDR"],
        cidr.as_str(),
        "same podCIDR after a restart"
    );
}

#[test]
fn a_wrong_token_is_refused_on_both_sides() {
    let c = Cluster::start().unwrap();
    let token = c.create_token();
    let (head, _) = token.rsplit_once('.').unwrap();
    let wrong = format!("{head}.{}", "0".repeat(16));
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(
        &c.node_addr(),
        Some(&wrong),
        "e2e-bad",
        &tmp.path().join("bad"),
    );
    wait_for("the refusal in both logs", Duration::from_secs(30), || {
        (node
            .log_text()
            .contains("bootstrap token is invalid or expired")
            && c.log_text().contains("node join refused"))
        .then_some(())
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}\nnode log:\n{}\norchestrator log:\n{}",
            node.log_text(),
            c.log_text()
        )
    });
    assert!(
        !node.log_text().contains(&wrong),
        "the token must not be logged"
    );
    let out = c.kubectl_out(&["get", "node", "e2e-bad"], None);
    assert!(!out.status.success());

    // A token pinning another CA never gets as far as sending the token.
    let (_, id_secret) = token.split_once("::").unwrap();
    let other_ca = format!("K10{}::{id_secret}", "ab".repeat(32));
    let node = NodeProcess::start(
        &c.node_addr(),
        Some(&other_ca),
        "e2e-pin",
        &tmp.path().join("pin"),
    );
    wait_for("the pin mismatch", Duration::from_secs(30), || {
        node.log_text()
            .contains("no CA matching the pinned hash")
            .then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\nnode log:\n{}", node.log_text()));
    assert!(
        !c.log_text().contains("e2e-pin"),
        "the orchestrator never heard the join"
    );
}

#[test]
fn kubectl_describe_shows_why_a_pod_waits_for_its_config_map() {
    let wasm = Path::new("/var/lib/regatta/examples/http-hello.wasm");
    if !wasm.exists() {
        eprintln!(
            "skipping: {} not built (run `bash wasm-examples/build.sh`)",
            wasm.display()
        );
        return;
    }
    // CIDRs of its own: the other tests' nodes hold the defaults on this host.
    let c = Cluster::start_with_cidrs("10.247.0.0/16", "10.120.0.0/16", "10.120.0.10").unwrap();
    let token = c.create_token();
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(
        &c.node_addr(),
        Some(&token),
        "e2e-cfg",
        &tmp.path().join("n"),
    );
    wait_for("the node to be Ready", Duration::from_secs(30), || {
        ready_node(&c, "e2e-cfg")
    })
    .unwrap_or_else(|e| panic!("{e}\nnode log:\n{}", node.log_text()));
    let pod = |name: &str, extra: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  nodeName: e2e-cfg\n  containers:\n  - name: web\n    image: file://{}\n{extra}",
            wasm.display()
        )
    };
    c.kubectl_stdin(
        &["apply", "-f", "-"],
        Some(&pod(
            "vol",
            "    volumeMounts:\n    - {name: site, mountPath: /site}\n  volumes:\n  - name: site\n    configMap: {name: pages}\n",
        )),
    );
    c.kubectl_stdin(
        &["apply", "-f", "-"],
        Some(&pod(
            "env",
            "    env:\n    - name: WHO\n      valueFrom: {configMapKeyRef: {name: greeting, key: who}}\n",
        )),
    );
    let describe = |name: &str| c.kubectl(&["describe", "pod", name]);
    let shows = |name: &str, wanted: &[&str]| {
        wait_for(
            &format!("kubectl describe pod {name} to show {wanted:?}"),
            Duration::from_secs(30),
            || {
                let d = describe(name);
                wanted.iter().all(|w| d.contains(w)).then_some(d)
            },
        )
        .unwrap_or_else(|e| panic!("{e}\n{}\nnode log:\n{}", describe(name), node.log_text()))
    };
    let d = shows(
        "vol",
        &[
            "FailedMount",
            "MountVolume.SetUp failed for volume \"site\" : configmap \"pages\" not found",
        ],
    );
    assert!(d.contains("kubelet") && d.contains("Warning"), "{d}");
    shows(
        "env",
        &[
            "Failed",
            "Error: configmap \"greeting\" not found",
            "CreateContainerConfigError",
        ],
    );
    let table = c.kubectl(&["get", "pod", "env"]);
    assert!(table.contains("CreateContainerConfigError"), "{table}");

    // Once the ConfigMaps exist, both start without anyone touching them.
    c.kubectl(&[
        "create",
        "configmap",
        "pages",
        "--from-literal=index.html=hi",
    ]);
    c.kubectl(&[
        "create",
        "configmap",
        "greeting",
        "--from-literal=who=world",
    ]);
    for name in ["vol", "env"] {
        wait_for(
            &format!("pod {name} Running"),
            Duration::from_secs(30),
            || (c.json(&["get", "pod", name])["status"]["phase"] == "Running").then_some(()),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}\nnode log:\n{}", describe(name), node.log_text()));
    }
    c.kubectl(&["delete", "pod", "vol", "env", "--wait=false"]);
}
