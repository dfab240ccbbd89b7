//! Bad input gets the Kubernetes status code and a message naming the field,
//! and nothing is stored.

use regatta_e2e::Cluster;
use serde_json::json;

const CM: &str = "/api/v1/namespaces/default/configmaps";

fn count_configmaps(c: &Cluster) -> usize {
    let (code, list) = c.http().get(CM);
    assert_eq!(code, 200);
    list["items"].as_array().unwrap().len()
}

#[test]
fn invalid_name_is_422_naming_the_field() {
    let c = Cluster::start().unwrap();
    let err = c.kubectl_fail(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\ndata:\n  a: b\n"),
    );
    assert!(
        err.contains("The ConfigMap \"Bad_Name\" is invalid"),
        "{err}"
    );
    assert!(
        err.contains("metadata.name: Invalid value: \"Bad_Name\""),
        "{err}"
    );
    assert!(err.contains("RFC 1123"), "{err}");
    let (code, status) = c
        .http()
        .post_json(CM, &json!({"metadata": {"name": "Bad_Name"}}));
    assert_eq!(code, 422);
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(status["details"]["causes"][0]["field"], "metadata.name");
    assert_eq!(count_configmaps(&c), 0);
}

#[test]
fn invalid_port_names_the_field() {
    let c = Cluster::start().unwrap();
    let svc =
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n  - port: 70000\n";
    let err = c.kubectl_fail(&["apply", "-f", "-"], Some(svc));
    assert!(
        err.contains(
            "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"
        ),
        "{err}"
    );
    assert!(c.kubectl_out(&["get", "svc", "s"], None).status.code() != Some(0));
}

#[test]
fn unknown_kind_and_unknown_resource() {
    let c = Cluster::start().unwrap();
    let err = c.kubectl_fail(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Widget\nmetadata:\n  name: w\n"),
    );
    assert!(
        err.contains("no matches for kind \"Widget\" in version \"v1\""),
        "{err}"
    );
    let (code, status) = c
        .http()
        .post_json("/api/v1/namespaces/default/widgets", &json!({}));
    assert_eq!(code, 404);
    assert_eq!(status["reason"], "NotFound");
    // A body whose kind disagrees with the URL.
    let (code, status) = c.http().post_json(
        CM,
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}),
    );
    assert_eq!(code, 400, "{status}");
    assert_eq!(count_configmaps(&c), 0);
}

#[test]
fn malformed_yaml_and_json() {
    let c = Cluster::start().unwrap();
    let http = c.http();
    let (code, status) = http.send(
        "POST",
        CM,
        Some("application/json"),
        b"{\"metadata\": {\"name\": ".to_vec(),
    );
    assert_eq!(code, 400);
    assert_eq!(status["kind"], "Status");
    assert!(
        status["message"].as_str().unwrap().contains("json"),
        "{status}"
    );
    let (code, status) = http.send(
        "POST",
        CM,
        Some("application/yaml"),
        b"metadata:\n  name: [x\n".to_vec(),
    );
    assert_eq!(code, 400, "{status}");
    let (code, _) = http.send("POST", CM, Some("text/plain"), b"hello".to_vec());
    assert_eq!(code, 415);
    // A type error names the field.
    let (code, status) = http.post_json(CM, &json!({"metadata": {"name": "x"}, "data": {"a": 1}}));
    assert_eq!(code, 400, "{status}");
    assert!(
        status["message"].as_str().unwrap().contains("data"),
        "{status}"
    );
    let err = c.kubectl_fail(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: [\n"),
    );
    assert!(err.contains("yaml") || err.contains("YAML"), "{err}");
    assert_eq!(count_configmaps(&c), 0);
}

#[test]
fn four_mib_body_is_413() {
    let c = Cluster::start().unwrap();
    let big = "x".repeat(4 * 1024 * 1024);
    let body =
        serde_json::to_vec(&json!({"metadata": {"name": "big"}, "data": {"a": big}})).unwrap();
    let (code, status) = c.http().send("POST", CM, Some("application/json"), body);
    assert_eq!(code, 413);
    assert_eq!(status["reason"], "RequestEntityTooLarge");
    assert_eq!(count_configmaps(&c), 0);
}

#[test]
fn stale_resource_version_is_409() {
    let c = Cluster::start().unwrap();
    c.kubectl(&["create", "configmap", "cm", "--from-literal=a=1"]);
    let old = c.kubectl(&["get", "cm", "cm", "-o", "yaml"]);
    c.kubectl(&["patch", "cm", "cm", "-p", r#"{"data":{"a":"2"}}"#]);
    let err = c.kubectl_fail(&["replace", "-f", "-"], Some(&old));
    assert!(
        err.contains("Operation cannot be fulfilled on configmaps \"cm\": the object has been modified; please apply your changes to the latest version and try again"),
        "{err}"
    );
    assert_eq!(c.json(&["get", "cm", "cm"])["data"]["a"], "2");
}

#[test]
fn duplicate_create_is_409() {
    let c = Cluster::start().unwrap();
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\ndata:\n  a: b\n";
    c.kubectl_stdin(&["create", "-f", "-"], Some(cm));
    let err = c.kubectl_fail(&["create", "-f", "-"], Some(cm));
    assert!(
        err.contains("AlreadyExists") && err.contains("configmaps \"dup\" already exists"),
        "{err}"
    );
    assert_eq!(count_configmaps(&c), 1);
}

#[test]
fn immutable_field_change_is_rejected_and_nothing_changes() {
    let c = Cluster::start().unwrap();
    let dep = |sel: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {{app: {sel}}}\n  template:\n    metadata:\n      labels: {{app: {sel}}}\n    spec:\n      containers:\n      - name: web\n        image: file:///srv/web.wasm\n"
        )
    };
    c.kubectl_stdin(&["apply", "-f", "-"], Some(&dep("web")));
    let before = c.json(&["get", "deploy", "web"]);
    let err = c.kubectl_fail(&["apply", "-f", "-"], Some(&dep("other")));
    assert!(err.contains("The Deployment \"web\" is invalid"), "{err}");
    assert!(
        err.contains("spec.selector") && err.contains("field is immutable"),
        "{err}"
    );
    let after = c.json(&["get", "deploy", "web"]);
    assert_eq!(
        before["metadata"]["resourceVersion"],
        after["metadata"]["resourceVersion"]
    );
}

#[test]
fn selector_must_match_template_labels() {
    let c = Cluster::start().unwrap();
    let dep = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: other}\n    spec:\n      containers:\n      - name: web\n        image: file:///srv/web.wasm\n";
    let err = c.kubectl_fail(&["apply", "-f", "-"], Some(dep));
    assert!(err.contains("spec.template.metadata.labels"), "{err}");
    assert!(
        err.contains("`selector` does not match template `labels`"),
        "{err}"
    );
}

#[test]
fn unknown_fields_are_rejected_by_strict_field_validation() {
    let c = Cluster::start().unwrap();
    let dep = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  bogus: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: file:///srv/web.wasm\n        imagee: typo\n";
    let err = c.kubectl_fail(&["apply", "-f", "-"], Some(dep));
    assert!(err.contains("strict decoding error"), "{err}");
    assert!(err.contains("unknown field \"spec.bogus\""), "{err}");
    assert!(
        err.contains("spec.template.spec.containers[0].imagee"),
        "{err}"
    );
    assert!(
        !c.kubectl_out(&["get", "deploy", "web"], None)
            .status
            .success()
    );
    // With --validate=warn the object is stored and the client is warned.
    let out = c.kubectl_out(&["apply", "--validate=warn", "-f", "-"], Some(dep));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field \"spec.bogus\""));
}
