//! Issue 4's acceptance, tried as a new user would: real kubectl against
//! `orchestrator serve` and a real `node`, pods in their own netns, HTTP from
//! the host to the pod IP.
//!
//! Each test runs its own cluster with pod and Service CIDRs no other test
//! uses; the node is stopped with SIGTERM (removing its pod network) at the end.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use regatta_e2e::{Cluster, NodeProcess, wait_for};

const EXAMPLES: &str = "/var/lib/regatta/examples";

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `GET path` (HTTP/1.0) from the host; the body, or `None` on any failure.
fn http_get(ip: &str, port: u16, path: &str) -> Option<String> {
    let addr = format!("{ip}:{port}").parse().ok()?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: pod\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.").then(|| body.to_string())
}

/// The `kubectl get pod NAME -o wide` row, split into columns.
fn wide_row(c: &Cluster, name: &str) -> Vec<String> {
    let out = c.kubectl(&["get", "pod", name, "-o", "wide", "--no-headers"]);
    out.split_whitespace().map(str::to_string).collect()
}

fn fail_with_logs(e: anyhow::Error, c: &Cluster, node: &NodeProcess) -> ! {
    panic!(
        "{e}\nnode log (tail):\n{}\norchestrator log (tail):\n{}",
        tail(&node.log_text(), 40),
        tail(&c.log_text(), 20)
    )
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn hello_yaml(node: &str, greeting: &str, page: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata: {{name: hello-config}}
data:
  GREETING: "{greeting}"
  index.html: "{page}"
---
apiVersion: v1
kind: Secret
metadata: {{name: hello-secret}}
data:
  token: czNjcjN0   # s3cr3t
---
apiVersion: v1
kind: Pod
metadata: {{name: hello, labels: {{app: hello}}}}
spec:
  nodeName: {node}
  containers:
  - name: web
    image: file://{EXAMPLES}/http-hello.wasm
    ports: [{{name: http, containerPort: 8080}}]
    env:
    - {{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
    - {{name: POD_IP, valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}}}
    - {{name: NODE_NAME, valueFrom: {{fieldRef: {{fieldPath: spec.nodeName}}}}}}
    - {{name: GREETING, valueFrom: {{configMapKeyRef: {{name: hello-config, key: GREETING}}}}}}
    - {{name: API_TOKEN, valueFrom: {{secretKeyRef: {{name: hello-secret, key: token}}}}}}
    - {{name: SITE_DIR, value: /site}}
    volumeMounts:
    - {{name: site, mountPath: /site, readOnly: true}}
    - {{name: shared, mountPath: /shared, readOnly: true}}
  - name: sidecar
    image: file://{EXAMPLES}/sidecar.wasm
    env:
    - {{name: TARGET_PORT, value: "8080"}}
    - {{name: INTERVAL_MS, value: "200"}}
    - {{name: OUT, value: /shared/status.txt}}
    volumeMounts:
    - {{name: shared, mountPath: /shared}}
  volumes:
  - {{name: site, configMap: {{name: hello-config}}}}
  - {{name: shared, emptyDir: {{}}}}
"#
    )
}

/// A web server and a sidecar sharing localhost and an emptyDir; env from a
/// ConfigMap, a Secret and the downward API; a configMap volume updated in
/// place; `kubectl logs -f` and `kubectl exec`.
#[test]
fn a_web_pod_with_a_sidecar_serves_what_the_sidecar_wrote() {
    if !is_root() {
        eprintln!("skipped: needs root for network namespaces");
        return;
    }
    let c = Cluster::start_with_cidrs("10.240.0.0/16", "10.140.0.0/16", "10.140.0.10").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProcess::join(&c, "accept-1", &tmp.path().join("node")).unwrap();
    c.kubectl_stdin(
        &["apply", "-f", "-"],
        Some(&hello_yaml("accept-1", "ahoy", "first page")),
    );

    // `kubectl get pod -o wide`: 2/2 Running, an IP from the node's podCIDR.
    let row = wait_for("hello to be 2/2 Running", Duration::from_secs(60), || {
        let row = wide_row(&c, "hello");
        (row.get(1).map(String::as_str) == Some("2/2")
            && row.get(2).map(String::as_str) == Some("Running"))
        .then_some(row)
    })
    .unwrap_or_else(|e| fail_with_logs(e, &c, &node));
    let ip = row[5].clone();
    let pod_cidr = c.kubectl(&["get", "node", "accept-1", "-o", "jsonpath={.spec.podCIDR}"]);
    let (net, bits) = pod_cidr.trim().split_once('/').expect("a podCIDR");
    let mask = u32::MAX << (32 - bits.parse::<u32>().unwrap());
    let ip4: Ipv4Addr = ip.parse().expect("a pod IP");
    let net4: Ipv4Addr = net.parse().unwrap();
    assert_eq!(
        u32::from(ip4) & mask,
        u32::from(net4),
        "pod IP {ip} outside the node's podCIDR {pod_cidr}"
    );
    assert_eq!(row[6], "accept-1", "NODE column: {row:?}");

    // The server answers with its downward-API name and IP and the ConfigMap's greeting.
    let hello = wait_for("the pod to answer", Duration::from_secs(10), || {
        http_get(&ip, 8080, "/")
    })
    .unwrap();
    assert_eq!(hello.trim(), format!("Hello from hello ({ip}): ahoy"));

    // What the sidecar wrote over the pod's localhost into the shared emptyDir
    // (its first poll may race the server's start: then it reads "error").
    let mut last = None;
    let got = wait_for(
        "the sidecar's report of a 200",
        Duration::from_secs(10),
        || {
            last = http_get(&ip, 8080, "/shared");
            last.clone().filter(|b| b.contains("last status 200"))
        },
    );
    if let Err(e) = got {
        panic!("{e}: last /shared was {last:?}");
    }

    // env from the Secret and spec.nodeName, seen by `kubectl exec`.
    let env = c.kubectl(&["exec", "hello", "-c", "web", "--", "env"]);
    assert!(env.lines().any(|l| l == "API_TOKEN=s3cr3t"), "{env}");
    assert!(env.lines().any(|l| l == "NODE_NAME=accept-1"), "{env}");
    assert!(env.lines().any(|l| l == format!("POD_IP={ip}")), "{env}");
    let listed = c.kubectl(&[
        "exec",
        "hello",
        "-c",
        "web",
        "--",
        "cat",
        "/shared/status.txt",
    ]);
    assert!(listed.contains("polled"), "{listed}");

    // `kubectl logs -f -c sidecar` streams lines as they are written.
    let mut follow = c
        .kubectl_cmd(&["logs", "-f", "hello", "-c", "sidecar"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let started = Instant::now();
    let mut seen = Vec::new();
    while seen.len() < 3 && started.elapsed() < Duration::from_secs(20) {
        match lines.next() {
            Some(Ok(l)) => seen.push(l),
            _ => break,
        }
    }
    let _ = Command::new("kill")
        .args(["-TERM", &follow.id().to_string()])
        .status();
    let _ = follow.wait();
    assert!(seen.len() >= 3, "logs -f gave {seen:?}");

    // The configMap volume shows new content within 10 s of a change.
    assert_eq!(
        http_get(&ip, 8080, "/file/index.html")
            .as_deref()
            .map(str::trim),
        Some("first page")
    );
    c.kubectl_stdin(
        &["apply", "-f", "-"],
        Some(&hello_yaml("accept-1", "ahoy", "second page")),
    );
    let changed = Instant::now();
    wait_for("the new page", Duration::from_secs(12), || {
        http_get(&ip, 8080, "/file/index.html").filter(|b| b.trim() == "second page")
    })
    .unwrap_or_else(|e| fail_with_logs(e, &c, &node));
    eprintln!("configMap change visible after {:?}", changed.elapsed());

    c.kubectl(&["delete", "pod", "hello"]);
    drop(node);
}

/// Crashes back off with a growing delay and a kept previous log; a memory
/// hog is OOMKilled; images that 404, are not Wasm, or miss their pin never run.
#[test]
fn failing_containers_and_images_get_kubelets_reasons() {
    if !is_root() {
        eprintln!("skipped: needs root for network namespaces");
        return;
    }
    // Serves 404 for /missing.wasm and bytes that are not Wasm for /junk.wasm.
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in server.incoming().take(200) {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 2048];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let reply: &[u8] = if req.starts_with("GET /junk.wasm") {
                b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world"
            } else {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            };
            let _ = s.write_all(reply);
        }
    });

    let c = Cluster::start_with_cidrs("10.241.0.0/16", "10.141.0.0/16", "10.141.0.10").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProcess::join(&c, "accept-2", &tmp.path().join("node")).unwrap();
    let zeros = "0".repeat(64);
    let yaml = format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: crasher}}
spec:
  nodeName: accept-2
  containers:
  - name: crasher
    image: file://{EXAMPLES}/crasher.wasm
    env: [{{name: EXIT_CODE, value: "3"}}, {{name: DELAY_MS, value: "100"}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: memhog}}
spec:
  nodeName: accept-2
  restartPolicy: Never
  containers:
  - name: memhog
    image: file://{EXAMPLES}/memhog.wasm
    resources: {{limits: {{memory: 32Mi}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: missing}}
spec:
  nodeName: accept-2
  containers:
  - name: c
    image: http://127.0.0.1:{port}/missing.wasm
---
apiVersion: v1
kind: Pod
metadata: {{name: junk}}
spec:
  nodeName: accept-2
  containers:
  - name: c
    image: http://127.0.0.1:{port}/junk.wasm
---
apiVersion: v1
kind: Pod
metadata: {{name: pinned}}
spec:
  nodeName: accept-2
  containers:
  - name: c
    image: file://{EXAMPLES}/pi.wasm@sha256:{zeros}
"#
    );
    c.kubectl_stdin(&["apply", "-f", "-"], Some(&yaml));

    // Error → CrashLoopBackOff, with restartCount growing and the back-off doubling.
    let mut reasons = std::collections::BTreeSet::new();
    let s = wait_for("crasher to back off twice", Duration::from_secs(60), || {
        let s = c.container_status("crasher", "crasher")?;
        if let Some(r) = s["state"]["waiting"]["reason"].as_str() {
            reasons.insert(format!(
                "{r}: {}",
                s["state"]["waiting"]["message"].as_str().unwrap_or("")
            ));
        }
        (s["restartCount"].as_i64()? >= 2 && s["state"]["waiting"]["reason"] == "CrashLoopBackOff")
            .then_some(s)
    })
    .unwrap_or_else(|e| fail_with_logs(e, &c, &node));
    assert_eq!(s["lastState"]["terminated"]["exitCode"], 3, "{s}");
    assert_eq!(s["lastState"]["terminated"]["reason"], "Error", "{s}");
    assert!(
        reasons.iter().any(|r| r.contains("back-off 10s"))
            && s["state"]["waiting"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("back-off 20s")),
        "back-off did not grow: {reasons:?} then {s}"
    );
    let row = c.kubectl(&["get", "pod", "crasher", "--no-headers"]);
    assert!(row.contains("CrashLoopBackOff"), "{row}");
    let previous = c.kubectl(&["logs", "crasher", "--previous"]);
    assert!(
        previous.contains("crasher: will exit with code 3 after 100 ms"),
        "{previous}"
    );

    // A memory hog over its limit: OOMKilled, exit code 137.
    let s = wait_for("memhog to be OOMKilled", Duration::from_secs(60), || {
        let s = c.container_status("memhog", "memhog")?;
        s["state"]["terminated"].is_object().then_some(s)
    })
    .unwrap_or_else(|e| fail_with_logs(e, &c, &node));
    assert_eq!(s["state"]["terminated"]["reason"], "OOMKilled", "{s}");
    assert_eq!(s["state"]["terminated"]["exitCode"], 137, "{s}");
    let memhog = c.pod_json("memhog").unwrap();
    assert_eq!(memhog["status"]["phase"], "Failed");
    // The node's status keeps the class the API server gave it (a limit only: Burstable).
    assert_eq!(memhog["status"]["qosClass"], "Burstable", "{memhog}");

    // A 404: ErrImagePull, then ImagePullBackOff, the URL in the message.
    let url = format!("http://127.0.0.1:{port}/missing.wasm");
    let mut seen = std::collections::BTreeMap::new();
    wait_for(
        "ErrImagePull then ImagePullBackOff",
        Duration::from_secs(30),
        || {
            let s = c.container_status("missing", "c")?;
            let w = &s["state"]["waiting"];
            if let (Some(r), Some(m)) = (w["reason"].as_str(), w["message"].as_str()) {
                seen.insert(r.to_string(), m.to_string());
            }
            (seen.contains_key("ErrImagePull") && seen.contains_key("ImagePullBackOff"))
                .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}: saw {seen:?}"));
    for (reason, message) in &seen {
        assert!(message.contains(&url), "{reason}: {message}");
    }
    assert!(seen["ErrImagePull"].contains("404"), "{seen:?}");

    // Bytes that are not Wasm, and a sha256 mismatch: a clear reason, never run.
    for (pod, reason, words) in [
        ("junk", "InvalidImage", "is not WebAssembly"),
        ("pinned", "ErrImagePull", "digest mismatch"),
    ] {
        let s = wait_for(
            &format!("{pod} to be refused"),
            Duration::from_secs(30),
            || {
                let s = c.container_status(pod, "c")?;
                let m = s["state"]["waiting"]["message"].as_str()?;
                m.contains(words).then_some(s)
            },
        )
        .unwrap_or_else(|e| fail_with_logs(e, &c, &node));
        let r = s["state"]["waiting"]["reason"].as_str().unwrap();
        assert!(
            r == reason || r == "ImagePullBackOff",
            "{pod}: reason {r}, want {reason}: {s}"
        );
        assert_eq!(s["restartCount"], 0, "{pod} ran: {s}");
        assert!(s["lastState"]["terminated"].is_null(), "{pod} ran: {s}");
        assert_eq!(c.pod_json(pod).unwrap()["status"]["phase"], "Pending");
    }
    drop(node);
}
