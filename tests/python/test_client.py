"""The official Python `kubernetes` client lists, creates, patches and watches."""
import threading

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


@pytest.fixture(scope="module")
def api(kubeconfig):
    return config.new_client_from_config(config_file=kubeconfig)


def test_list_namespaces(api):
    names = {n.metadata.name for n in client.CoreV1Api(api).list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names


def test_create_get_patch_delete_configmap(api):
    v1 = client.CoreV1Api(api)
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py-cm", labels={"from": "python"}),
                              data={"a": "1"})
    created = v1.create_namespaced_config_map("default", body)
    assert created.metadata.uid
    assert created.metadata.resource_version
    patched = v1.patch_namespaced_config_map("py-cm", "default", {"data": {"b": "2"}})
    assert patched.data == {"a": "1", "b": "2"}
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)
    listed = v1.list_namespaced_config_map("default", label_selector="from=python")
    assert [c.metadata.name for c in listed.items] == ["py-cm"]
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_config_map("default", body)
    assert e.value.status == 409
    v1.delete_namespaced_config_map("py-cm", "default")
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_config_map("py-cm", "default")
    assert e.value.status == 404


def test_create_and_scale_deployment(api):
    apps = client.AppsV1Api(api)
    dep = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "py-web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "py-web"}},
            "template": {"metadata": {"labels": {"app": "py-web"}},
                         "spec": {"containers": [{"name": "web", "image": "file:///srv/web.wasm"}]}},
        },
    }
    apps.create_namespaced_deployment("default", dep)
    apps.patch_namespaced_deployment_scale("py-web", "default", {"spec": {"replicas": 3}})
    got = apps.read_namespaced_deployment("py-web", "default")
    assert got.spec.replicas == 3
    assert got.spec.strategy.type == "RollingUpdate"  # defaulted by the server
    apps.delete_namespaced_deployment("py-web", "default")


def test_watch_sees_changes(api):
    v1 = client.CoreV1Api(api)
    start = v1.list_namespaced_config_map("default").metadata.resource_version
    seen = []
    w = watch.Watch()

    def run():
        for ev in w.stream(v1.list_namespaced_config_map, "default",
                           resource_version=start, timeout_seconds=20):
            seen.append((ev["type"], ev["object"].metadata.name))
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=run)
    t.start()
    v1.create_namespaced_config_map("default", {"metadata": {"name": "py-w"}, "data": {"x": "1"}})
    v1.patch_namespaced_config_map("py-w", "default", {"data": {"x": "2"}})
    v1.delete_namespaced_config_map("py-w", "default")
    t.join(timeout=30)
    assert seen == [("ADDED", "py-w"), ("MODIFIED", "py-w"), ("DELETED", "py-w")]
