//! The control plane as a new user meets it: the real `kubectl` against
//! `orchestrator serve`, with the generated kubeconfig.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use regatta_e2e::{Cluster, repo_root, wait_for};

fn manifests() -> String {
    repo_root().join("manifests").display().to_string()
}

const WEB: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: a}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: file:///srv/web.wasm
        ports: [{containerPort: 8080}]
        env: [{name: A, value: "1"}]
      - name: side
        image: file:///srv/side.wasm
"#;

#[test]
fn first_start_has_system_namespaces_and_kubernetes_service() {
    let c = Cluster::start().unwrap();
    let out = c.kubectl(&["get", "namespaces", "-o", "name"]);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(out.contains(&format!("namespace/{ns}")), "{out}");
    }
    let svc = c.json(&["get", "service", "kubernetes", "-n", "default"]);
    assert_eq!(svc["spec"]["clusterIP"], "10.96.0.1");
    assert_eq!(svc["spec"]["ports"][0]["port"], 443);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&c.kubeconfig).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn anonymous_requests_get_401() {
    let c = Cluster::start().unwrap();
    let anon = c.http_as(false);
    let (code, body) = anon.get("/api/v1/namespaces");
    assert_eq!(code, 401);
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["reason"], "Unauthorized");
    // Health endpoints stay public, as on kube-apiserver.
    assert_eq!(anon.get("/readyz").0, 200);
    let (code, text) = c.http().get("/metrics");
    assert_eq!(code, 200);
    assert!(
        text.as_str().unwrap_or("").contains("apiserver_request"),
        "{text}"
    );
}

#[test]
fn apply_create_unchanged_configured() {
    let c = Cluster::start().unwrap();
    let out = c.kubectl(&["apply", "-f", &manifests()]);
    for line in [
        "namespace/demo created",
        "configmap/hello-config created",
        "secret/hello-secret created",
        "deployment.apps/hello created",
        "service/hello created",
        "job.batch/pi created",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    let again = c.kubectl(&["apply", "-f", &manifests()]);
    assert!(again.contains("deployment.apps/hello unchanged"), "{again}");
    assert!(!again.contains("configured"), "{again}");

    let before = c.json(&["get", "deployment", "hello", "-n", "demo"]);
    let text = std::fs::read_to_string(repo_root().join("manifests/20-hello.yaml")).unwrap();
    let changed = text.replacen("replicas: 2", "replicas: 3", 1);
    let out = c.kubectl_stdin(&["apply", "-f", "-"], Some(&changed));
    assert!(out.contains("deployment.apps/hello configured"), "{out}");
    assert!(out.contains("service/hello unchanged"), "{out}");
    let after = c.json(&["get", "deployment", "hello", "-n", "demo"]);
    assert_eq!(after["spec"]["replicas"], 3);
    assert_eq!(after["metadata"]["generation"], 2);
    // Only that field changed: the rest of the spec is as it was.
    let mut b = before["spec"].clone();
    b["replicas"] = 3.into();
    assert_eq!(b, after["spec"]);
    assert_eq!(before["metadata"]["uid"], after["metadata"]["uid"]);
}

#[test]
fn get_output_formats_and_selectors() {
    let c = Cluster::start().unwrap();
    c.kubectl(&["apply", "-f", &manifests()]);
    let all = c.kubectl(&["get", "deployments", "-A"]);
    assert!(
        all.lines().next().unwrap().starts_with("NAMESPACE"),
        "{all}"
    );
    assert!(all.contains("demo") && all.contains("hello"), "{all}");

    let wide = c.kubectl(&["get", "deploy", "-n", "demo", "-o", "wide"]);
    let header = wide.lines().next().unwrap();
    for col in [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ] {
        assert!(header.contains(col), "{header}");
    }
    assert!(wide.contains("app=hello"), "{wide}");

    let yaml = c.kubectl(&["get", "cm", "hello-config", "-n", "demo", "-o", "yaml"]);
    assert!(
        yaml.contains("kind: ConfigMap") && yaml.contains("GREETING: Hello from Regatta"),
        "{yaml}"
    );
    let jp = c.kubectl(&[
        "get",
        "svc",
        "hello",
        "-n",
        "demo",
        "-o",
        "jsonpath={.spec.ports[0].port}",
    ]);
    assert_eq!(jp, "80");
    let names = c.kubectl(&["get", "all", "-n", "demo", "-o", "name"]);
    assert!(
        names.contains("deployment.apps/hello") && names.contains("service/hello"),
        "{names}"
    );

    let by_label = c.kubectl(&[
        "get",
        "deploy,svc,job",
        "-n",
        "demo",
        "-l",
        "app=hello",
        "-o",
        "name",
    ]);
    assert!(
        by_label.contains("deployment.apps/hello") && !by_label.contains("job.batch/pi"),
        "{by_label}"
    );
    let set = c.kubectl(&[
        "get",
        "deploy,job",
        "-n",
        "demo",
        "-l",
        "tier in (batch,other)",
        "-o",
        "name",
    ]);
    assert_eq!(set.trim(), "job.batch/pi");
    let field = c.kubectl(&[
        "get",
        "cm",
        "-A",
        "--field-selector",
        "metadata.name=hello-config",
        "-o",
        "name",
    ]);
    assert_eq!(field.trim(), "configmap/hello-config");
    let labels = c.kubectl(&["get", "ns", "demo", "--show-labels"]);
    assert!(
        labels.contains("app.kubernetes.io/part-of=regatta-demo"),
        "{labels}"
    );
    assert!(
        labels.contains("kubernetes.io/metadata.name=demo"),
        "{labels}"
    );
}

#[test]
fn label_annotate_scale_patch_set_image() {
    let c = Cluster::start().unwrap();
    c.kubectl_stdin(&["apply", "-f", "-"], Some(WEB));
    assert!(
        c.kubectl(&["label", "deploy", "web", "env=prod"])
            .contains("deployment.apps/web labeled")
    );
    assert!(
        c.kubectl(&["annotate", "deploy", "web", "owner=team-a"])
            .contains("annotated")
    );
    assert!(
        c.kubectl(&["scale", "deploy", "web", "--replicas=4"])
            .contains("deployment.apps/web scaled")
    );
    let d = c.json(&["get", "deploy", "web"]);
    assert_eq!(d["metadata"]["labels"]["env"], "prod");
    assert_eq!(d["metadata"]["annotations"]["owner"], "team-a");
    assert_eq!(d["spec"]["replicas"], 4);
    c.kubectl(&["label", "deploy", "web", "env-"]);
    assert!(
        c.json(&["get", "deploy", "web"])["metadata"]["labels"]
            .get("env")
            .is_none()
    );

    c.kubectl(&[
        "patch",
        "deploy",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"minReadySeconds":5}}"#,
    ]);
    c.kubectl(&[
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":2}]"#,
    ]);
    c.kubectl(&["patch", "deploy", "web", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"B","value":"2"}]}]}}}}"#]);
    let d = c.json(&["get", "deploy", "web"]);
    assert_eq!(d["spec"]["minReadySeconds"], 5);
    assert_eq!(d["spec"]["replicas"], 2);
    let containers = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(
        containers.len(),
        2,
        "strategic merge keeps the other container"
    );
    let env: Vec<&str> = containers[0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(env, ["B", "A"], "strategic merge merges env by name");

    let out = c.kubectl(&[
        "set",
        "image",
        "deploy/web",
        "side=file:///srv/side-v2.wasm",
    ]);
    assert!(out.contains("image updated"), "{out}");
    let d = c.json(&["get", "deploy", "web"]);
    let containers = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers[1]["image"], "file:///srv/side-v2.wasm");
    assert_eq!(containers[0]["image"], "file:///srv/web.wasm");
}

#[test]
fn edit_with_kube_editor() {
    let c = Cluster::start().unwrap();
    c.kubectl_stdin(&["apply", "-f", "-"], Some(WEB));
    let out = c
        .kubectl_cmd(&["edit", "deploy", "web"])
        .env("KUBE_EDITOR", "sed -i s/replicas:\\ 1/replicas:\\ 7/")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("deployment.apps/web edited"));
    assert_eq!(c.json(&["get", "deploy", "web"])["spec"]["replicas"], 7);
}

#[test]
fn describe_shows_fields_and_events() {
    let c = Cluster::start().unwrap();
    c.kubectl(&["apply", "-f", &manifests()]);
    let out = c.kubectl(&["describe", "deployment", "hello", "-n", "demo"]);
    for s in [
        "Name:",
        "hello",
        "Namespace:",
        "demo",
        "Selector:",
        "app=hello",
        "Replicas:",
        "Pod Template:",
        "Events:",
    ] {
        assert!(out.contains(s), "missing {s:?}:\n{out}");
    }
    let out = c.kubectl(&["describe", "svc", "hello", "-n", "demo"]);
    assert!(out.contains("IP:") && out.contains("Port:"), "{out}");
}

#[test]
fn delete_by_name_label_all_and_cascade() {
    let c = Cluster::start().unwrap();
    for i in 0..4 {
        let tier = if i % 2 == 0 { "a" } else { "b" };
        c.kubectl(&[
            "create",
            "configmap",
            &format!("cm{i}"),
            "--from-literal=k=v",
        ]);
        c.kubectl(&["label", "cm", &format!("cm{i}"), &format!("tier={tier}")]);
    }
    assert!(
        c.kubectl(&["delete", "cm", "cm0"])
            .contains("configmap \"cm0\" deleted")
    );
    let out = c.kubectl(&["delete", "cm", "-l", "tier=b"]);
    assert!(out.contains("cm1") && out.contains("cm3"), "{out}");
    let left = c.kubectl(&["get", "cm", "-l", "tier", "-o", "name"]);
    assert_eq!(left.trim(), "configmap/cm2");
    c.kubectl(&["delete", "cm", "--all"]);
    assert!(
        c.kubectl(&["get", "cm", "-l", "tier", "-o", "name"])
            .trim()
            .is_empty()
    );

    for cascade in ["background", "foreground", "orphan"] {
        // Without dependents every policy still completes.
        c.kubectl_stdin(&["apply", "-f", "-"], Some(WEB));
        let out = c.kubectl(&["delete", "deploy", "web", &format!("--cascade={cascade}")]);
        assert!(
            out.contains("deployment.apps \"web\" deleted"),
            "{cascade}: {out}"
        );
        wait_for("the deployment to be gone", Duration::from_secs(10), || {
            let o = c.kubectl_out(&["get", "deploy", "web"], None);
            (!o.status.success()).then_some(())
        })
        .unwrap();
    }
}

#[test]
fn watch_shows_later_changes() {
    let c = Cluster::start().unwrap();
    c.kubectl(&["create", "configmap", "w1", "--from-literal=a=b"]);
    let mut child = c
        .kubectl_cmd(&["get", "configmaps", "-w", "--output-watch-events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let mut next_line = |want: &str| {
        for line in lines.by_ref() {
            let line = line.unwrap();
            seen.push(line.clone());
            if line.contains(want) {
                return;
            }
        }
        panic!("watch ended before {want:?}: {seen:?}");
    };
    next_line("w1");
    c.kubectl(&["create", "configmap", "w2", "--from-literal=a=b"]);
    next_line("w2");
    c.kubectl(&["delete", "configmap", "w1"]);
    next_line("DELETED");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn api_resources_and_explain() {
    let c = Cluster::start().unwrap();
    let out = c.kubectl(&["api-resources"]);
    for row in [
        "deployments",
        "deploy",
        "apps/v1",
        "pods",
        "po",
        "horizontalpodautoscalers",
        "leases",
    ] {
        assert!(out.contains(row), "missing {row}:\n{out}");
    }
    let out = c.kubectl(&["explain", "pod.spec.containers"]);
    assert!(out.contains("KIND:") && out.contains("Pod"), "{out}");
    assert!(out.contains("FIELD: containers <[]Container>"), "{out}");
    assert!(
        out.contains("image\t<string>")
            || out.contains("image  <string>")
            || out.contains("image\t"),
        "{out}"
    );
}

/// A ConfigMap owned by the Deployment `web` (uid `uid`).
fn owned_configmap(name: &str, uid: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  ownerReferences:\n  - apiVersion: apps/v1\n    kind: Deployment\n    name: web\n    uid: {uid}\n    blockOwnerDeletion: true\ndata:\n  a: b\n"
    )
}

#[test]
fn cascade_deletes_or_orphans_dependents() {
    let c = Cluster::start().unwrap();
    let gone = |kind: &str, name: &str| {
        wait_for(
            &format!("{kind}/{name} to be gone"),
            Duration::from_secs(10),
            || (!c.kubectl_out(&["get", kind, name], None).status.success()).then_some(()),
        )
        .unwrap()
    };
    for (cascade, dependent_survives) in [
        ("background", false),
        ("foreground", false),
        ("orphan", true),
    ] {
        c.kubectl_stdin(&["apply", "-f", "-"], Some(WEB));
        let uid = c.json(&["get", "deploy", "web"])["metadata"]["uid"]
            .as_str()
            .unwrap()
            .to_string();
        c.kubectl_stdin(&["apply", "-f", "-"], Some(&owned_configmap("dep", &uid)));
        c.kubectl(&["delete", "deploy", "web", &format!("--cascade={cascade}")]);
        gone("deploy", "web");
        if dependent_survives {
            let cm = c.json(&["get", "cm", "dep"]);
            assert!(
                cm["metadata"].get("ownerReferences").is_none(),
                "orphaned dependent keeps no owner: {cm}"
            );
            c.kubectl(&["delete", "cm", "dep"]);
        } else {
            gone("cm", "dep");
        }
    }
}

#[test]
fn namespace_deletion_removes_its_content() {
    let c = Cluster::start().unwrap();
    c.kubectl(&["apply", "-f", &manifests()]);
    let out = c.kubectl(&["delete", "namespace", "demo"]);
    assert!(out.contains("namespace \"demo\" deleted"), "{out}");
    assert!(!c.kubectl_out(&["get", "ns", "demo"], None).status.success());
    let left = c.kubectl(&["get", "all,cm,secrets", "-n", "demo", "-o", "name"]);
    assert!(left.trim().is_empty(), "{left}");
    // A namespace that is going away refuses new content.
    c.kubectl(&["create", "namespace", "busy"]);
    c.kubectl_stdin(
        &["apply", "-f", "-"],
        Some(
            &owned_configmap("keep", "00000000-0000-0000-0000-000000000000").replace(
                "name: keep\n",
                "name: keep\n  namespace: busy\n  finalizers: [example.com/hold]\n",
            ),
        ),
    );
    let out = c.kubectl(&["delete", "namespace", "busy", "--wait=false"]);
    assert!(out.contains("deleted"), "{out}");
    let ns = c.json(&["get", "ns", "busy"]);
    assert_eq!(ns["status"]["phase"], "Terminating");
    let err = c.kubectl_fail(&["create", "configmap", "late", "-n", "busy"], None);
    assert!(err.contains("because it is being terminated"), "{err}");
    c.kubectl(&[
        "patch",
        "cm",
        "keep",
        "-n",
        "busy",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    wait_for("namespace busy to be gone", Duration::from_secs(10), || {
        (!c.kubectl_out(&["get", "ns", "busy"], None).status.success()).then_some(())
    })
    .unwrap();
}

#[test]
fn pods_print_like_kubernetes() {
    let c = Cluster::start().unwrap();
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p1\nspec:\n  containers:\n  - name: c\n    image: file:///x.wasm\n    resources:\n      limits: {cpu: 100m, memory: 64Mi}\n";
    c.kubectl_stdin(&["apply", "-f", "-"], Some(pod));
    let out = c.kubectl(&["get", "pods", "-o", "wide"]);
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED",
            "NODE",
            "READINESS",
            "GATES"
        ]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&row[..4], ["p1", "0/1", "Pending", "0"]);
    let p = c.json(&["get", "pod", "p1"]);
    assert_eq!(p["status"]["qosClass"], "Guaranteed");
    assert_eq!(p["spec"]["serviceAccountName"], "default");
    let out = c.kubectl(&["describe", "pod", "p1"]);
    assert!(
        out.contains("QoS Class:") && out.contains("Guaranteed"),
        "{out}"
    );
    assert!(
        c.kubectl(&["delete", "pod", "p1"])
            .contains("pod \"p1\" deleted")
    );
}

#[test]
fn lists_page_with_limit_and_continue() {
    let c = Cluster::start().unwrap();
    for i in 0..7 {
        c.kubectl(&["create", "configmap", &format!("page{i}")]);
    }
    // kubectl pages with limit/continue; every object appears exactly once.
    let out = c.kubectl(&["get", "cm", "--chunk-size=2", "-o", "name"]);
    let names: Vec<&str> = out.lines().filter(|l| l.contains("page")).collect();
    assert_eq!(names.len(), 7, "{out}");
    let (code, first) = c
        .http()
        .get("/api/v1/namespaces/default/configmaps?limit=3");
    assert_eq!(code, 200);
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    let token = first["metadata"]["continue"].as_str().unwrap().to_string();
    let (_, second) = c.http().get(&format!(
        "/api/v1/namespaces/default/configmaps?limit=100&continue={token}"
    ));
    let total = 3 + second["items"].as_array().unwrap().len();
    assert!(
        second["metadata"]
            .get("continue")
            .is_none_or(|v| v.is_null() || v == ""),
        "{second}"
    );
    let (_, all) = c.http().get("/api/v1/namespaces/default/configmaps");
    assert_eq!(total, all["items"].as_array().unwrap().len());
}

#[test]
fn describe_lists_events_of_the_object() {
    let c = Cluster::start().unwrap();
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ev\nspec:\n  containers:\n  - name: c\n    image: file:///x.wasm\n";
    c.kubectl_stdin(&["apply", "-f", "-"], Some(pod));
    let uid = c.json(&["get", "pod", "ev"])["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let event = format!(
        "apiVersion: v1\nkind: Event\nmetadata:\n  name: ev.1\ninvolvedObject:\n  kind: Pod\n  name: ev\n  namespace: default\n  uid: {uid}\n  apiVersion: v1\nreason: Scheduled\nmessage: Successfully assigned default/ev to nowhere\ntype: Normal\nsource:\n  component: default-scheduler\ncount: 1\nfirstTimestamp: \"2026-01-01T00:00:00Z\"\nlastTimestamp: \"2026-01-01T00:00:00Z\"\n"
    );
    c.kubectl_stdin(&["create", "-f", "-"], Some(&event));
    let out = c.kubectl(&["describe", "pod", "ev"]);
    assert!(
        out.contains("Scheduled") && out.contains("Successfully assigned default/ev to nowhere"),
        "{out}"
    );
    let out = c.kubectl(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=ev,reason=Scheduled",
        "-o",
        "name",
    ]);
    assert_eq!(out.trim(), "event/ev.1");
}
