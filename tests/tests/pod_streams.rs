//! `kubectl logs` and `kubectl exec` through the real kubectl, the API server
//! and the node link, against pods a real `node` runs in their own netns.
//!
//! Each test runs its own cluster with pod and Service CIDRs no other test
//! uses, so they can run side by side; the node is stopped (and its pod
//! network removed) when the test ends.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use regatta_e2e::{Cluster, NodeProcess, wait_for};

const EXAMPLES: &str = "/var/lib/regatta/examples";

fn wait_running(c: &Cluster, node: &NodeProcess, pod: &str, container: &str) {
    wait_for(
        &format!("{pod}/{container} to run"),
        Duration::from_secs(60),
        || {
            c.container_status(pod, container)?["state"]["running"]
                .as_object()
                .map(|_| ())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\nnode log:\n{}", node.log_text()));
}

fn out_of(o: &std::process::Output) -> (String, String, Option<i32>) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code(),
    )
}

fn pods_yaml(node: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata: {{name: web, labels: {{app: streams-web}}}}
spec:
  nodeName: {node}
  containers:
  - name: web
    image: file://{EXAMPLES}/http-hello.wasm
    env: [{{name: GREETING, value: streams-hi}}]
  - name: side
    image: file://{EXAMPLES}/crasher.wasm
    env: [{{name: EXIT_CODE, value: \"3\"}}, {{name: DELAY_MS, value: \"100\"}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: p1}}
spec:
  nodeName: {node}
  containers:
  - name: hello
    image: file://{EXAMPLES}/hello-p1.wasm
---
apiVersion: v1
kind: Pod
metadata: {{name: proxy}}
spec:
  nodeName: {node}
  containers:
  - name: proxy
    image: file://{EXAMPLES}/http-proxy.wasm
    ports: [{{containerPort: 8080}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: webdep}}
spec:
  replicas: 0
  selector: {{matchLabels: {{app: streams-web}}}}
  template:
    metadata: {{labels: {{app: streams-web}}}}
    spec:
      containers:
      - name: web
        image: file://{EXAMPLES}/http-hello.wasm
---
apiVersion: v1
kind: Pod
metadata: {{name: nowhere}}
spec:
  containers:
  - name: c
    image: file://{EXAMPLES}/pi.wasm
"
    )
}

#[test]
fn kubectl_logs_follow_previous_and_options() {
    let c = Cluster::start_with_cidrs("10.213.0.0/16", "10.112.0.0/16", "10.112.0.10").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let node_name = "streams-logs";
    let mut node = NodeProcess::join(&c, node_name, &tmp.path().join("node")).unwrap();
    c.kubectl_stdin(&["apply", "-f", "-"], Some(&pods_yaml(node_name)));
    wait_running(&c, &node, "web", "web");

    // The guest's lines, without our timestamps.
    let logs = wait_for("the server's first line", Duration::from_secs(30), || {
        let l = c.kubectl(&["logs", "web", "-c", "web"]);
        l.contains("listening on 0.0.0.0:8080").then_some(l)
    })
    .unwrap();
    assert!(logs.starts_with("http-hello: pod"), "{logs}");

    // Several containers and no container name: the API server's error.
    let (code, body) = c.http().get("/api/v1/namespaces/default/pods/web/log");
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        body["message"],
        "a container name must be specified for pod web, choose one of: [web side]"
    );
    let err = c.kubectl_fail(&["logs", "web", "-c", "nope"], None);
    assert!(
        err.contains("container nope is not valid for pod web"),
        "{err}"
    );
    // kubectl checks --tail itself; the API server checks it too.
    let (code, body) = c
        .http()
        .get("/api/v1/namespaces/default/pods/web/log?container=web&tailLines=-2");
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        body["message"],
        "PodLogOptions \"web\" is invalid: tailLines: Invalid value: -2: must be greater than or equal to 0"
    );

    // No previous run of a container that never restarted: kubelet's error.
    let err = c.kubectl_fail(&["logs", "web", "-c", "web", "--previous"], None);
    assert!(
        err.contains(r#"previous terminated container "web" in pod "web" not found"#),
        "{err}"
    );

    // The crasher restarts: --previous is the run before.
    wait_for("the crasher to restart", Duration::from_secs(60), || {
        (c.container_status("web", "side")?["restartCount"].as_i64()? >= 1).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\nnode log:\n{}", node.log_text()));
    let prev = c.kubectl(&["logs", "web", "-c", "side", "--previous"]);
    let mut lines: Vec<&str> = prev.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "crasher: this line goes to stderr",
            "crasher: will exit with code 3 after 100 ms"
        ],
        "{prev}"
    );
    let tail = c.kubectl(&["logs", "web", "-c", "side", "--previous", "--tail=1"]);
    assert_eq!(tail.lines().count(), 1, "{tail}");
    assert!(prev.contains(tail.trim()), "{tail}");
    let stamped = c.kubectl(&["logs", "web", "-c", "side", "--previous", "--timestamps"]);
    for l in stamped.lines() {
        let (ts, rest) = l.split_once(' ').unwrap();
        assert!(
            chrono_like(ts) && rest.starts_with("crasher: "),
            "{stamped}"
        );
    }
    let limited = c.kubectl(&["logs", "web", "-c", "side", "--previous", "--limit-bytes=7"]);
    assert_eq!(limited, "crasher", "{limited}");
    let since = c.kubectl(&["logs", "web", "-c", "side", "--previous", "--since=1h"]);
    assert_eq!(since.lines().count(), 2, "{since}");

    // `-f` on a container whose run is over ends by itself.
    let mut done = c
        .kubectl_cmd(&["logs", "-f", "web", "-c", "side"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ended = wait_for(
        "logs -f of a finished run to end",
        Duration::from_secs(60),
        || done.try_wait().ok().flatten(),
    );
    if ended.is_err() {
        let _ = Command::new("kill").arg(done.id().to_string()).status();
    }
    let status = done.wait().unwrap();
    assert!(ended.is_ok() && status.success(), "{status:?}");

    // kubectl resolves a Deployment to one of its pods itself.
    let via = c.kubectl(&["logs", "deploy/webdep", "-c", "web"]);
    assert!(via.contains("listening on 0.0.0.0:8080"), "{via}");

    // `logs -f` streams new lines as the guest writes them.
    let mut follow = c
        .kubectl_cmd(&["logs", "-f", "web", "-c", "web"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = follow.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = follow.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Each request the server answers is a new log line.
    let mut seen = Vec::new();
    let got = wait_for("followed request lines", Duration::from_secs(30), || {
        let o = c.kubectl_out(
            &[
                "exec",
                "web",
                "-c",
                "web",
                "--",
                "web",
                "wget",
                "http://127.0.0.1:8080/healthz",
            ],
            None,
        );
        assert_eq!(out_of(&o).2, Some(0), "{:?}", out_of(&o));
        while let Ok(l) = rx.recv_timeout(Duration::from_millis(300)) {
            seen.push(l);
        }
        (seen
            .iter()
            .filter(|l| l.contains("GET /healthz 200"))
            .count()
            >= 2)
            .then_some(())
    });
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = follow.wait();
    let _ = reader.join();
    got.unwrap_or_else(|e| panic!("{e}: {seen:?}"));
    assert!(seen[0].contains("listening on 0.0.0.0:8080"), "{seen:?}");

    // A pod on no node, and a node that is gone: clear errors.
    let err = c.kubectl_fail(&["logs", "nowhere"], None);
    assert!(
        err.contains("pod nowhere does not have a host assigned"),
        "{err}"
    );
    node.stop();
    let err = wait_for("the node to be gone", Duration::from_secs(30), || {
        let o = c.kubectl_out(&["logs", "web", "-c", "web"], None);
        let e = String::from_utf8_lossy(&o.stderr).into_owned();
        (!o.status.success() && e.contains("not connected")).then_some(e)
    })
    .unwrap();
    assert!(
        err.contains(&format!("node \"{node_name}\" of pod web is not connected")),
        "{err}"
    );
}

/// `2026-01-02T03:04:05.123456789Z`-shaped.
fn chrono_like(ts: &str) -> bool {
    ts.len() >= 20 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T'
}

#[test]
fn kubectl_exec_runs_commands_in_the_pod() {
    let c = Cluster::start_with_cidrs("10.214.0.0/16", "10.113.0.0/16", "10.113.0.10").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let node_name = "streams-exec";
    let node = NodeProcess::join(&c, node_name, &tmp.path().join("node")).unwrap();
    c.kubectl_stdin(&["apply", "-f", "-"], Some(&pods_yaml(node_name)));
    wait_running(&c, &node, "web", "web");
    let exec = |args: &[&str], stdin: Option<&str>| {
        let mut a = vec!["exec"];
        if stdin.is_some() {
            a.push("-i");
        }
        a.extend(["web", "-c", "web", "--", "web"]);
        a.extend(args);
        out_of(&c.kubectl_out(&a, stdin))
    };

    let (out, _, code) = exec(&["echo", "hello", "world"], None);
    assert_eq!((out.as_str(), code), ("hello world\n", Some(0)));

    // The exit code comes back as kubectl's own.
    let (_, err, code) = exec(&["exit", "7"], None);
    assert_eq!(code, Some(7), "{err}");
    assert!(err.contains("command terminated with exit code 7"), "{err}");

    // stdin, and stderr kept apart from stdout.
    let (out, _, code) = exec(&["cat"], Some("from stdin\nline two\n"));
    assert_eq!((out.as_str(), code), ("from stdin\nline two\n", Some(0)));
    let (out, err, code) = exec(&["stderr", "to", "err"], None);
    assert_eq!(
        (out.as_str(), err.as_str(), code),
        ("", "to err\n", Some(0))
    );
    let (_, err, code) = exec(&["cat", "/nope"], None);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cat: /nope"), "{err}");

    // The container's env, and the pod's netns (its own server on localhost).
    let (out, _, _) = exec(&["env"], None);
    assert!(out.lines().any(|l| l == "GREETING=streams-hi"), "{out}");
    let (out, err, code) = exec(&["wget", "http://127.0.0.1:8080/"], None);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("Hello from"), "{out}");
    assert!(out.contains("streams-hi"), "{out}");

    // A p1 module runs with the exec's argv. (It exits at once, so it is
    // seldom running; an exec needs only that it has been started once.)
    let (out, err, code) = wait_for("an exec in p1", Duration::from_secs(60), || {
        let o = out_of(&c.kubectl_out(&["exec", "p1", "--", "hello", "a", "b"], None));
        (o.2 == Some(0)).then_some(o)
    })
    .unwrap_or_else(|e| panic!("{e}\nnode log:\n{}", node.log_text()));
    assert!(
        out.contains("argv[0] = hello") && out.contains("argv[2] = b"),
        "{out}{err}"
    );
    assert_eq!(code, Some(0), "{err}");

    // A wasi:http proxy has no command to run; an unknown container is refused.
    wait_running(&c, &node, "proxy", "proxy");
    let err = c.kubectl_fail(&["exec", "proxy", "--", "x"], None);
    assert!(err.contains("wasi:http proxy component"), "{err}");
    let err = c.kubectl_fail(&["exec", "web", "-c", "nope", "--", "x"], None);
    assert!(err.contains("nope"), "{err}");
    // Without a client certificate: 401, nothing runs.
    let (code, _) = c
        .http_as(false)
        .get("/api/v1/namespaces/default/pods/web/exec?command=web&command=env&stdout=true");
    assert_eq!(code, 401);
}
