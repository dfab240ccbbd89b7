use std::collections::BTreeMap;

use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{RawExtension, TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::json;

use super::*;

/// Wraps a typed message the way client-go does.
fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = MAGIC.to_vec();
    out.extend(unknown.encode_to_vec());
    out
}

fn decode_msg(api_version: &str, kind: &str, msg: &impl Message) -> Value {
    decode(
        api_version,
        kind,
        &envelope(api_version, kind, msg.encode_to_vec()),
    )
    .unwrap_or_else(|e| panic!("{kind}: {e}"))
}

/// kubectl's `-o json` writes Go's zero Time as `null`; decode leaves it out.
fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_nulls).collect()),
        v => v,
    }
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn time(seconds: i64) -> Option<meta::Time> {
    Some(meta::Time {
        seconds: Some(seconds),
        nanos: Some(0),
    })
}

fn int(i: i32) -> Option<IntOrString> {
    Some(IntOrString {
        r#type: Some(0),
        int_val: Some(i),
        str_val: s(""),
    })
}

fn string(v: &str) -> Option<IntOrString> {
    Some(IntOrString {
        r#type: Some(1),
        int_val: Some(0),
        str_val: s(v),
    })
}

fn meta_named(name: &str) -> Option<meta::ObjectMeta> {
    Some(meta::ObjectMeta {
        name: s(name),
        ..Default::default()
    })
}

/// Bodies captured from kubectl v1.32 against a logging server, each beside
/// what `kubectl create ... --dry-run=client -o json` prints for the same
/// command: the decoded body must be that object.
#[test]
fn kubectl_create_bodies_decode_to_what_kubectl_prints() {
    let cases: &[(&str, &str, &[u8], &str)] = &[
        // kubectl create namespace x
        (
            "v1",
            "Namespace",
            include_bytes!("fixtures/namespace.pb"),
            include_str!("fixtures/namespace.json"),
        ),
        // kubectl create configmap c --from-literal=a=b --from-literal=c=d
        (
            "v1",
            "ConfigMap",
            include_bytes!("fixtures/configmap.pb"),
            include_str!("fixtures/configmap.json"),
        ),
        // kubectl create secret generic s --from-literal=p=q
        (
            "v1",
            "Secret",
            include_bytes!("fixtures/secret.pb"),
            include_str!("fixtures/secret.json"),
        ),
        // kubectl create deployment web --image=nginx:1 --replicas=3 --port=8080
        (
            "apps/v1",
            "Deployment",
            include_bytes!("fixtures/deployment.pb"),
            include_str!("fixtures/deployment.json"),
        ),
        // kubectl create service clusterip svc --tcp=80:8080
        (
            "v1",
            "Service",
            include_bytes!("fixtures/service.pb"),
            include_str!("fixtures/service.json"),
        ),
        // kubectl create job j --image=busybox -- echo hi
        (
            "batch/v1",
            "Job",
            include_bytes!("fixtures/job.pb"),
            include_str!("fixtures/job.json"),
        ),
        // kubectl create cronjob cj --image=busybox --schedule='*/5 * * * *' -- date
        (
            "batch/v1",
            "CronJob",
            include_bytes!("fixtures/cronjob.pb"),
            include_str!("fixtures/cronjob.json"),
        ),
        // kubectl create serviceaccount sa
        (
            "v1",
            "ServiceAccount",
            include_bytes!("fixtures/serviceaccount.pb"),
            include_str!("fixtures/serviceaccount.json"),
        ),
        // kubectl create ingress ing --rule=foo.com/bar=svc:80
        (
            "networking.k8s.io/v1",
            "Ingress",
            include_bytes!("fixtures/ingress.pb"),
            include_str!("fixtures/ingress.json"),
        ),
        // kubectl create deployment zero --image=nginx:1 --image=redis --replicas=0
        (
            "apps/v1",
            "Deployment",
            include_bytes!("fixtures/deployment-zero.pb"),
            include_str!("fixtures/deployment-zero.json"),
        ),
        // kubectl create configmap bin --from-file=binfile --from-file=textfile (binfile: "bin\0\x9f\x92")
        (
            "v1",
            "ConfigMap",
            include_bytes!("fixtures/configmap-binary.pb"),
            include_str!("fixtures/configmap-binary.json"),
        ),
        // kubectl create service nodeport np --tcp=80:http --node-port=30080
        (
            "v1",
            "Service",
            include_bytes!("fixtures/service-nodeport.pb"),
            include_str!("fixtures/service-nodeport.json"),
        ),
        // kubectl create ingress ing2 --class=nginx --rule='foo.com/*=svc:http,tls=sec' --default-backend=def:8080 --annotation=a=b
        (
            "networking.k8s.io/v1",
            "Ingress",
            include_bytes!("fixtures/ingress-tls.pb"),
            include_str!("fixtures/ingress-tls.json"),
        ),
    ];
    for (api_version, kind, body, printed) in cases {
        let got = decode(api_version, kind, body).unwrap_or_else(|e| panic!("{kind}: {e}"));
        let want = strip_nulls(serde_json::from_str(printed).unwrap());
        assert_eq!(
            got,
            want,
            "{kind}: got {}",
            serde_json::to_string_pretty(&got).unwrap()
        );
    }
}

/// The fields users notice, spelled out, so a wrong fixture cannot hide them.
#[test]
fn kubectl_create_bodies_keep_what_the_user_asked_for() {
    let d = decode(
        "apps/v1",
        "Deployment",
        include_bytes!("fixtures/deployment.pb"),
    )
    .unwrap();
    assert_eq!(
        d["metadata"],
        json!({"name": "web", "labels": {"app": "web"}})
    );
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(
        d["spec"]["selector"],
        json!({"matchLabels": {"app": "web"}})
    );
    let c = &d["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        c,
        &json!([{"name": "nginx", "image": "nginx:1", "ports": [{"containerPort": 8080}], "resources": {}}])
    );

    let svc = decode("v1", "Service", include_bytes!("fixtures/service.pb")).unwrap();
    assert_eq!(
        svc["spec"]["ports"],
        json!([{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}])
    );
    assert_eq!(svc["spec"]["type"], "ClusterIP");

    let zero = decode(
        "apps/v1",
        "Deployment",
        include_bytes!("fixtures/deployment-zero.pb"),
    )
    .unwrap();
    assert_eq!(zero["spec"]["replicas"], 0);
    let np = decode(
        "v1",
        "Service",
        include_bytes!("fixtures/service-nodeport.pb"),
    )
    .unwrap();
    assert_eq!(np["spec"]["ports"][0]["targetPort"], "http");
    assert_eq!(np["spec"]["ports"][0]["nodePort"], 30080);

    let cm = decode("v1", "ConfigMap", include_bytes!("fixtures/configmap.pb")).unwrap();
    assert_eq!(cm["data"], json!({"a": "b", "c": "d"}));
    let bin = decode(
        "v1",
        "ConfigMap",
        include_bytes!("fixtures/configmap-binary.pb"),
    )
    .unwrap();
    assert_eq!(bin["binaryData"], json!({"binfile": "YmluAJ+S"}));
    let secret = decode("v1", "Secret", include_bytes!("fixtures/secret.pb")).unwrap();
    assert_eq!(secret["data"], json!({"p": "cQ=="}));

    let job = decode("batch/v1", "Job", include_bytes!("fixtures/job.pb")).unwrap();
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["containers"][0]["command"], json!(["echo", "hi"]));
    assert_eq!(pod["restartPolicy"], "Never");

    let cj = decode("batch/v1", "CronJob", include_bytes!("fixtures/cronjob.pb")).unwrap();
    assert_eq!(cj["spec"]["schedule"], "*/5 * * * *");
    let ing = decode(
        "networking.k8s.io/v1",
        "Ingress",
        include_bytes!("fixtures/ingress.pb"),
    )
    .unwrap();
    assert_eq!(
        ing["spec"]["rules"][0]["http"]["paths"][0]["backend"],
        json!({"service": {"name": "svc", "port": {"number": 80}}})
    );
}

/// A Go client sends every non-pointer field, zero or not: zeros must be
/// dropped where Go's JSON drops them and kept where it keeps them.
#[test]
fn zero_values_follow_go_json() {
    let pod = core::Pod {
        metadata: Some(meta::ObjectMeta {
            name: s("p"),
            generate_name: s(""),
            generation: Some(0),
            deletion_grace_period_seconds: Some(0),
            creation_timestamp: Some(meta::Time::default()),
            ..Default::default()
        }),
        spec: Some(core::PodSpec {
            containers: vec![core::Container {
                name: s("c"),
                image: s("busybox"),
                image_pull_policy: s(""),
                working_dir: s(""),
                stdin: Some(false),
                tty: Some(false),
                security_context: Some(core::SecurityContext {
                    run_as_user: Some(0),
                    privileged: Some(false),
                    ..Default::default()
                }),
                ports: vec![core::ContainerPort {
                    container_port: Some(80),
                    host_port: Some(0),
                    name: s(""),
                    protocol: s("TCP"),
                    host_ip: s(""),
                }],
                ..Default::default()
            }],
            termination_grace_period_seconds: Some(0),
            automount_service_account_token: Some(false),
            host_network: Some(false),
            host_ipc: Some(true),
            ..Default::default()
        }),
        status: Some(core::PodStatus {
            pod_ip: s("10.0.0.7"),
            host_ips: vec![core::HostIp {
                ip: s("192.168.0.2"),
            }],
            ..Default::default()
        }),
    };
    assert_eq!(
        decode_msg("v1", "Pod", &pod),
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "deletionGracePeriodSeconds": 0},
            "spec": {
                "containers": [{
                    "name": "c",
                    "image": "busybox",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "securityContext": {"runAsUser": 0, "privileged": false},
                }],
                "terminationGracePeriodSeconds": 0,
                "automountServiceAccountToken": false,
                "hostIPC": true,
            },
            "status": {"podIP": "10.0.0.7", "hostIPs": [{"ip": "192.168.0.2"}]},
        })
    );

    let deploy = k8s_pb::api::apps::v1::Deployment {
        metadata: meta_named("d"),
        spec: Some(k8s_pb::api::apps::v1::DeploymentSpec {
            replicas: Some(0),
            min_ready_seconds: Some(0),
            paused: Some(false),
            strategy: Some(k8s_pb::api::apps::v1::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(k8s_pb::api::apps::v1::RollingUpdateDeployment {
                    max_unavailable: int(0),
                    max_surge: string("25%"),
                }),
            }),
            ..Default::default()
        }),
        status: None,
    };
    assert_eq!(
        decode_msg("apps/v1", "Deployment", &deploy)["spec"],
        json!({
            "replicas": 0,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
        })
    );
}

/// Embedded Go structs (`Volume.volumeSource`, `Probe.handler`,
/// `EphemeralContainer.ephemeralContainerCommon`) are flattened, and an empty
/// pointer struct (`emptyDir: {}`) survives.
#[test]
fn embedded_structs_are_inlined() {
    let probe = core::Probe {
        handler: Some(core::ProbeHandler {
            http_get: Some(core::HttpGetAction {
                path: s("/healthz"),
                port: string("http"),
                host: s(""),
                scheme: s("HTTP"),
                http_headers: vec![],
            }),
            ..Default::default()
        }),
        initial_delay_seconds: Some(0),
        period_seconds: Some(10),
        ..Default::default()
    };
    let pod = core::Pod {
        metadata: meta_named("p"),
        spec: Some(core::PodSpec {
            volumes: vec![core::Volume {
                name: s("scratch"),
                volume_source: Some(core::VolumeSource {
                    empty_dir: Some(core::EmptyDirVolumeSource {
                        medium: s(""),
                        size_limit: None,
                    }),
                    ..Default::default()
                }),
            }],
            containers: vec![core::Container {
                name: s("c"),
                readiness_probe: Some(probe),
                env: vec![core::EnvVar {
                    name: s("K"),
                    value: s(""),
                    value_from: Some(core::EnvVarSource {
                        config_map_key_ref: Some(core::ConfigMapKeySelector {
                            local_object_reference: Some(core::LocalObjectReference {
                                name: s("cm"),
                            }),
                            key: s("k"),
                            optional: Some(false),
                        }),
                        ..Default::default()
                    }),
                }],
                ..Default::default()
            }],
            ephemeral_containers: vec![core::EphemeralContainer {
                ephemeral_container_common: Some(core::EphemeralContainerCommon {
                    name: s("debug"),
                    image: s("busybox"),
                    ..Default::default()
                }),
                target_container_name: s("c"),
            }],
            ..Default::default()
        }),
        status: None,
    };
    assert_eq!(
        decode_msg("v1", "Pod", &pod)["spec"],
        json!({
            "volumes": [{"name": "scratch", "emptyDir": {}}],
            "containers": [{
                "name": "c",
                "env": [{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k", "optional": false}}}],
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"}, "periodSeconds": 10},
            }],
            "ephemeralContainers": [{"name": "debug", "image": "busybox", "targetContainerName": "c"}],
        })
    );
}

/// Messages upstream writes as scalars, and bytes as base64.
#[test]
fn special_messages_become_json_scalars() {
    let cm = core::ConfigMap {
        metadata: Some(meta::ObjectMeta {
            name: s("c"),
            creation_timestamp: time(1_704_164_645),
            managed_fields: vec![meta::ManagedFieldsEntry {
                manager: s("kubectl"),
                operation: s("Update"),
                api_version: s("v1"),
                time: time(1_704_164_645),
                fields_type: s("FieldsV1"),
                fields_v1: Some(meta::FieldsV1 {
                    raw: Some(br#"{"f:data":{".":{}}}"#.to_vec()),
                }),
                subresource: s(""),
            }],
            ..Default::default()
        }),
        immutable: Some(false),
        data: BTreeMap::new(),
        binary_data: BTreeMap::from([("bin".to_string(), vec![0, 159, 146, 150])]),
    };
    assert_eq!(
        decode_msg("v1", "ConfigMap", &cm),
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "c",
                "creationTimestamp": "2024-01-02T03:04:05Z",
                "managedFields": [{
                    "manager": "kubectl",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2024-01-02T03:04:05Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {".": {}}},
                }],
            },
            "immutable": false,
            "binaryData": {"bin": "AJ+Slg=="},
        })
    );

    let event = core::Event {
        metadata: meta_named("e"),
        involved_object: Some(core::ObjectReference {
            kind: s("Pod"),
            name: s("p"),
            ..Default::default()
        }),
        reason: s("Started"),
        count: Some(2),
        event_time: Some(meta::MicroTime {
            seconds: Some(1_704_164_645),
            nanos: Some(123_456_000),
        }),
        ..Default::default()
    };
    let e = decode_msg("v1", "Event", &event);
    assert_eq!(e["eventTime"], "2024-01-02T03:04:05.123456Z");
    assert_eq!(e["involvedObject"], json!({"kind": "Pod", "name": "p"}));
    assert_eq!(e["count"], 2);

    let pod = core::Pod {
        metadata: meta_named("p"),
        spec: Some(core::PodSpec {
            containers: vec![core::Container {
                name: s("c"),
                resources: Some(core::ResourceRequirements {
                    limits: BTreeMap::from([("cpu".to_string(), Quantity { string: s("500m") })]),
                    requests: BTreeMap::from([(
                        "memory".to_string(),
                        Quantity { string: s("64Mi") },
                    )]),
                    claims: vec![],
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    };
    assert_eq!(
        decode_msg("v1", "Pod", &pod)["spec"]["containers"][0]["resources"],
        json!({"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}})
    );

    let revision = k8s_pb::api::apps::v1::ControllerRevision {
        metadata: meta_named("r"),
        data: Some(RawExtension {
            raw: Some(br#"{"spec":{"template":{"x":1}}}"#.to_vec()),
        }),
        revision: Some(3),
    };
    assert_eq!(
        decode_msg("apps/v1", "ControllerRevision", &revision),
        json!({"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "r"},
               "data": {"spec": {"template": {"x": 1}}}, "revision": 3})
    );

    let lease = k8s_pb::api::coordination::v1::Lease {
        metadata: meta_named("l"),
        spec: Some(k8s_pb::api::coordination::v1::LeaseSpec {
            holder_identity: s("node-1"),
            lease_duration_seconds: Some(40),
            renew_time: Some(meta::MicroTime {
                seconds: Some(1_704_164_645),
                nanos: Some(0),
            }),
            ..Default::default()
        }),
    };
    assert_eq!(
        decode_msg("coordination.k8s.io/v1", "Lease", &lease)["spec"],
        json!({"holderIdentity": "node-1", "leaseDurationSeconds": 40, "renewTime": "2024-01-02T03:04:05.000000Z"})
    );
}

#[test]
fn other_groups_decode() {
    use k8s_pb::api::autoscaling::v2 as hpa;
    let h = hpa::HorizontalPodAutoscaler {
        metadata: meta_named("h"),
        spec: Some(hpa::HorizontalPodAutoscalerSpec {
            scale_target_ref: Some(hpa::CrossVersionObjectReference {
                kind: s("Deployment"),
                name: s("web"),
                api_version: s("apps/v1"),
            }),
            min_replicas: Some(1),
            max_replicas: Some(5),
            metrics: vec![hpa::MetricSpec {
                r#type: s("Resource"),
                resource: Some(hpa::ResourceMetricSource {
                    name: s("cpu"),
                    target: Some(hpa::MetricTarget {
                        r#type: s("Utilization"),
                        average_utilization: Some(50),
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            }],
            behavior: None,
        }),
        status: None,
    };
    assert_eq!(
        decode_msg("autoscaling/v2", "HorizontalPodAutoscaler", &h)["spec"],
        json!({
            "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
            "minReplicas": 1,
            "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}],
        })
    );

    use k8s_pb::api::discovery::v1 as discovery;
    let slice = discovery::EndpointSlice {
        metadata: meta_named("s"),
        address_type: s("IPv4"),
        endpoints: vec![discovery::Endpoint {
            addresses: vec!["10.0.0.1".into()],
            conditions: Some(discovery::EndpointConditions {
                ready: Some(false),
                serving: None,
                terminating: None,
            }),
            ..Default::default()
        }],
        ports: vec![discovery::EndpointPort {
            name: s(""),
            protocol: s("TCP"),
            port: Some(8080),
            app_protocol: None,
        }],
    };
    let got = decode_msg("discovery.k8s.io/v1", "EndpointSlice", &slice);
    assert_eq!(got["addressType"], "IPv4");
    assert_eq!(
        got["endpoints"],
        json!([{"addresses": ["10.0.0.1"], "conditions": {"ready": false}}])
    );
    assert_eq!(
        got["ports"],
        json!([{"name": "", "protocol": "TCP", "port": 8080}])
    );

    let binding = core::Binding {
        metadata: meta_named("p"),
        target: Some(core::ObjectReference {
            kind: s("Node"),
            name: s("n1"),
            ..Default::default()
        }),
    };
    assert_eq!(
        decode_msg("v1", "Binding", &binding),
        json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n1"}})
    );
    let eviction = k8s_pb::api::policy::v1::Eviction {
        metadata: meta_named("p"),
        delete_options: Some(meta::DeleteOptions {
            grace_period_seconds: Some(0),
            ..Default::default()
        }),
    };
    assert_eq!(
        decode_msg("policy/v1", "Eviction", &eviction)["deleteOptions"],
        json!({"gracePeriodSeconds": 0})
    );
}

/// Every served type decodes; all of them carry ObjectMeta as field 1.
#[test]
fn every_registry_kind_decodes() {
    let raw = |name: &str| {
        let meta = meta::ObjectMeta {
            name: s(name),
            ..Default::default()
        };
        let mut out = vec![0x0a];
        prost::encoding::encode_varint(meta.encoded_len() as u64, &mut out);
        meta.encode(&mut out).unwrap();
        out
    };
    for t in crate::registry::RESOURCE_TYPES {
        let api_version = t.api_version();
        let body = envelope(&api_version, t.kind, raw("x"));
        let got = decode(&api_version, t.kind, &body).unwrap_or_else(|e| panic!("{}: {e}", t.kind));
        assert_eq!(
            got,
            json!({"apiVersion": api_version, "kind": t.kind, "metadata": {"name": "x"}}),
            "{}",
            t.kind
        );
    }
}

#[test]
fn malformed_bodies_are_rejected() {
    let good = include_bytes!("fixtures/configmap.pb");

    let mut wrong_magic = good.to_vec();
    wrong_magic[0] = b'K';
    let err = decode("v1", "ConfigMap", &wrong_magic).unwrap_err();
    assert!(
        err.contains("does not appear to be a protobuf message"),
        "{err}"
    );
    assert!(
        err.starts_with("the object provided is unrecognized (must be of type ConfigMap)"),
        "{err}"
    );

    let json_body = br#"{"kind":"ConfigMap"}"#;
    let err = decode("v1", "ConfigMap", json_body).unwrap_err();
    assert!(err.ends_with(r#"({"kind":"ConfigMap"})"#), "{err}");

    for cut in [5, 20, good.len() - 1] {
        let err = decode("v1", "ConfigMap", &good[..cut]).unwrap_err();
        assert!(!err.is_empty());
    }
    // The envelope is intact but the object inside is cut short.
    let mut raw = core::ConfigMap {
        metadata: meta_named("c"),
        ..Default::default()
    }
    .encode_to_vec();
    raw.truncate(raw.len() - 1);
    let err = decode("v1", "ConfigMap", &envelope("v1", "ConfigMap", raw)).unwrap_err();
    assert!(
        err.starts_with("ConfigMap in version \"v1\" cannot be handled as a ConfigMap:"),
        "{err}"
    );

    assert!(
        decode("v1", "ConfigMap", b"")
            .unwrap_err()
            .contains("(<empty>)")
    );
}

#[test]
fn type_meta_must_name_the_target() {
    let secret = decode("v1", "ConfigMap", include_bytes!("fixtures/secret.pb")).unwrap_err();
    assert_eq!(
        secret,
        "Secret in version \"v1\" cannot be handled as a ConfigMap: the kind in the data (Secret) does not match the expected kind (ConfigMap)"
    );
    let deploy = decode(
        "apps/v1",
        "ReplicaSet",
        include_bytes!("fixtures/deployment.pb"),
    )
    .unwrap_err();
    assert!(
        deploy.contains("(Deployment) does not match the expected kind (ReplicaSet)"),
        "{deploy}"
    );
    let version = decode(
        "apps/v1",
        "Deployment",
        &envelope("apps/v1beta1", "Deployment", vec![]),
    )
    .unwrap_err();
    assert_eq!(
        version,
        "the API version in the data (apps/v1beta1) does not match the expected API version (apps/v1)"
    );
    // Empty typeMeta fields default to the target's, as upstream.
    let body = envelope("", "", core::ConfigMap::default().encode_to_vec());
    assert_eq!(
        decode("v1", "ConfigMap", &body).unwrap(),
        json!({"apiVersion": "v1", "kind": "ConfigMap"})
    );
    assert!(
        decode("v1", "Widget", &body)
            .unwrap_err()
            .contains("Widget")
    );
}
