"""The official ``kubernetes`` Python client (strict pydantic models) against three real masters through core/v1.

One cluster per module; each test uses its own object names and asserts on what the client returned, so a
response the client's models reject fails the test with the client's ValidationError.
"""

from __future__ import annotations

import threading

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from raftkube.testing import poll_until, running_cluster
from raftkube.testing.minions import hollow_minion, running_container

NS = "default"


@pytest.fixture(scope="module")
def kc(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("pyclient"), extra_toml="\n[api]\nwatch_bookmark_s = 1\n") as c:
        yield c


def core(kc, server: int = 0) -> client.CoreV1Api:
    cfg = client.Configuration()
    cfg.host = kc.urls[server]
    return client.CoreV1Api(client.ApiClient(cfg))


def pod(name: str, app: str) -> dict:
    return {"metadata": {"name": name, "labels": {"app": app}},
            "spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}]}}


def test_pod_create_read_list_patch_replace_delete(kc):
    v1 = core(kc)
    made = v1.create_namespaced_pod(NS, pod("pyp1", "pya"))
    assert made.metadata.name == "pyp1" and isinstance(made.metadata.resource_version, str)
    v1.create_namespaced_pod(NS, pod("pyp2", "pyb"))
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_pod(NS, pod("pyp1", "pya"))
    assert e.value.status == 409 and "AlreadyExists" in e.value.body
    got = core(kc, 1).read_namespaced_pod("pyp1", NS)
    assert got.spec.containers[0].image == "nginx" and got.metadata.labels == {"app": "pya"}
    names = [p.metadata.name for p in v1.list_namespaced_pod(NS, label_selector="app=pya").items]
    assert names == ["pyp1"]
    assert {"pyp1", "pyp2"} <= {p.metadata.name for p in v1.list_pod_for_all_namespaces().items}
    patched = v1.patch_namespaced_pod("pyp1", NS, {"metadata": {"labels": {"tier": "front"}}})
    assert patched.metadata.labels == {"app": "pya", "tier": "front"}
    patched.metadata.labels["tier"] = "back"
    replaced = v1.replace_namespaced_pod("pyp1", NS, patched)
    assert replaced.metadata.labels["tier"] == "back"
    assert int(replaced.metadata.resource_version) > int(patched.metadata.resource_version)
    with pytest.raises(ApiException) as e:
        v1.replace_namespaced_pod("pyp1", NS, patched)  # patched carries the old resourceVersion
    assert e.value.status == 409
    gone = v1.delete_namespaced_pod("pyp1", NS)
    assert gone.metadata.name == "pyp1"
    v1.delete_namespaced_pod("pyp2", NS)
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_pod("pyp1", NS)
    assert e.value.status == 404 and "NotFound" in e.value.body


def test_service_create_read_patch_replace_delete(kc):
    v1 = core(kc)
    svc = v1.create_namespaced_service(NS, {"metadata": {"name": "pysvc"},
                                            "spec": {"selector": {"app": "pyweb"},
                                                     "ports": [{"port": 80, "targetPort": 8080}]}})
    assert svc.spec.ports[0].port == 80 and svc.spec.ports[0].target_port == 8080
    assert [s.metadata.name for s in v1.list_namespaced_service(NS).items].count("pysvc") == 1
    got = core(kc, 2).read_namespaced_service("pysvc", NS)
    assert got.spec.selector == {"app": "pyweb"}
    patched = v1.patch_namespaced_service("pysvc", NS, {"metadata": {"labels": {"a": "b"}}})
    assert patched.metadata.labels == {"a": "b"}
    patched.spec.selector = {"app": "pyweb2"}
    assert v1.replace_namespaced_service("pysvc", NS, patched).spec.selector == {"app": "pyweb2"}
    assert v1.delete_namespaced_service("pysvc", NS).metadata.name == "pysvc"
    assert "pysvc" not in [s.metadata.name for s in v1.list_namespaced_service(NS).items]


def test_rc_create_scale_patch_replace_delete(kc):
    v1 = core(kc)
    rc = v1.create_namespaced_replication_controller(NS, {
        "metadata": {"name": "pyrc", "labels": {"app": "pyrc"}},
        "spec": {"replicas": 1, "selector": {"app": "pyrc"},
                 "template": {"metadata": {"labels": {"app": "pyrc"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
    assert rc.spec.replicas == 1
    scale = v1.patch_namespaced_replication_controller_scale("pyrc", NS, {"spec": {"replicas": 3}})
    assert scale.spec.replicas == 3
    assert core(kc, 1).read_namespaced_replication_controller("pyrc", NS).spec.replicas == 3
    assert v1.read_namespaced_replication_controller_scale("pyrc", NS).spec.replicas == 3
    patched = v1.patch_namespaced_replication_controller("pyrc", NS, {"spec": {"replicas": 2}})
    assert patched.spec.replicas == 2
    patched.metadata.labels["v"] = "2"
    assert v1.replace_namespaced_replication_controller("pyrc", NS, patched).metadata.labels["v"] == "2"
    assert [r.metadata.name for r in v1.list_namespaced_replication_controller(
        NS, label_selector="app=pyrc").items] == ["pyrc"]
    v1.delete_namespaced_replication_controller("pyrc", NS)  # no body: Background, its pods go after it
    assert "pyrc" not in [r.metadata.name for r in v1.list_namespaced_replication_controller(NS).items]
    poll_until(lambda: not v1.list_namespaced_pod(NS, label_selector="app=pyrc").items, timeout_s=30,
               interval_s=0.5, what="the RC's pods deleted with it")


def test_rc_foreground_delete_goes_after_its_pods(kc):
    v1 = core(kc)
    rc = v1.create_namespaced_replication_controller(NS, {
        "metadata": {"name": "pyfg", "finalizers": ["example.com/hold"]},  # holds it after its pods are gone
        "spec": {"replicas": 2, "selector": {"app": "pyfg"},
                 "template": {"metadata": {"labels": {"app": "pyfg"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
    assert rc.metadata.finalizers == ["example.com/hold"] and rc.metadata.deletion_timestamp is None

    def pods():
        return v1.list_namespaced_pod(NS, label_selector="app=pyfg").items
    poll_until(lambda: len(pods()) == 2, timeout_s=30, interval_s=0.5, what="the RC's two pods")
    assert all(p.metadata.owner_references[0].block_owner_deletion for p in pods())
    v1.delete_namespaced_replication_controller("pyfg", NS,
                                                body=client.V1DeleteOptions(propagation_policy="Foreground"))
    marked = core(kc, 2).read_namespaced_replication_controller("pyfg", NS)  # visible, being deleted
    assert marked.metadata.deletion_timestamp is not None
    assert set(marked.metadata.finalizers) <= {"example.com/hold", "foregroundDeletion"}
    held = poll_until(lambda: (r := v1.read_namespaced_replication_controller("pyfg", NS)).metadata.finalizers ==
                      ["example.com/hold"] and r, timeout_s=30, interval_s=0.3, what="the collector's finalizer removed")
    assert pods() == []  # its pods went first
    with pytest.raises(ApiException) as e:  # no new finalizers while being deleted
        v1.patch_namespaced_replication_controller("pyfg", NS, {"metadata": {"finalizers": ["example.com/hold",
                                                                                            "example.com/more"]}})
    assert e.value.status == 422 and "no new finalizers" in e.value.body
    v1.delete_namespaced_replication_controller(  # a second delete is fine (as in Kubernetes, it asks the
        "pyfg", NS, body=client.V1DeleteOptions(propagation_policy="Foreground"))  # collector again)
    again = v1.read_namespaced_replication_controller("pyfg", NS)
    assert again.metadata.deletion_timestamp == marked.metadata.deletion_timestamp
    held = poll_until(lambda: (r := v1.read_namespaced_replication_controller("pyfg", NS)).metadata.finalizers ==
                      ["example.com/hold"] and r, timeout_s=30, interval_s=0.3, what="the finalizer removed again")
    held.metadata.finalizers = []
    v1.replace_namespaced_replication_controller("pyfg", NS, held)  # the last finalizer goes: so does the RC
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_replication_controller("pyfg", NS)
    assert e.value.status == 404


def test_rc_delete_with_orphan_keeps_its_pods(kc):
    v1 = core(kc)
    rc = v1.create_namespaced_replication_controller(NS, {
        "metadata": {"name": "pyorphan"},
        "spec": {"replicas": 2, "selector": {"app": "pyorphan"},
                 "template": {"metadata": {"labels": {"app": "pyorphan"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})

    def pods():
        return v1.list_namespaced_pod(NS, label_selector="app=pyorphan").items
    poll_until(lambda: len(pods()) == 2, timeout_s=30, interval_s=0.5, what="the RC's two pods")
    assert all(p.metadata.owner_references[0].uid == rc.metadata.uid for p in pods())
    v1.delete_namespaced_replication_controller("pyorphan", NS,
                                                body=client.V1DeleteOptions(propagation_policy="Orphan"))
    kept = pods()
    assert len(kept) == 2 and all(not p.metadata.owner_references for p in kept)
    for p in kept:
        v1.delete_namespaced_pod(p.metadata.name, NS)


def test_watch_stream_sees_added_modified_deleted(kc):
    v1 = core(kc)
    seen: list[tuple[str, str, str]] = []
    rv = v1.list_namespaced_pod(NS).metadata.resource_version
    w = watch.Watch()

    def run():
        for ev in w.stream(core(kc, 1).list_namespaced_pod, NS, resource_version=rv, timeout_seconds=30):
            if ev["object"].metadata.name == "pyw":
                seen.append((ev["type"], ev["object"].metadata.name, ev["object"].metadata.labels.get("s", "")))
                if ev["type"] == "DELETED":
                    w.stop()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    v1.create_namespaced_pod(NS, pod("pyw", "pyw"))
    v1.patch_namespaced_pod("pyw", NS, {"metadata": {"labels": {"s": "2"}}})
    v1.delete_namespaced_pod("pyw", NS)
    t.join(timeout=30)
    assert not t.is_alive()
    assert seen == [("ADDED", "pyw", ""), ("MODIFIED", "pyw", "2"), ("DELETED", "pyw", "2")]


def test_watch_with_bookmarks_gets_one_at_the_latest_revision_and_resumes_from_it(kc):
    v1 = core(kc)
    made = v1.create_namespaced_pod(NS, pod("pybm1", "pybm"))
    w = watch.Watch()
    got = []
    for ev in w.stream(core(kc, 1).list_namespaced_pod, NS, label_selector="app=pybm", allow_watch_bookmarks=True,
                       timeout_seconds=30):
        got.append(ev)
        if ev["type"] == "BOOKMARK":
            w.stop()
    assert [e["type"] for e in got] == ["ADDED", "BOOKMARK"]
    mark = got[-1]["object"]
    assert mark["kind"] == "Pod" and mark["apiVersion"] == "v1"
    assert int(mark["metadata"]["resourceVersion"]) >= int(made.metadata.resource_version)
    assert w.resource_version == mark["metadata"]["resourceVersion"]  # what the client resumes from
    later = v1.create_namespaced_pod(NS, pod("pybm2", "pybm"))
    resumed = watch.Watch()
    names = []
    for ev in resumed.stream(v1.list_namespaced_pod, NS, label_selector="app=pybm",
                             resource_version=mark["metadata"]["resourceVersion"], timeout_seconds=30):
        assert ev["type"] == "ADDED", ev  # no 410, nothing from before the bookmark
        names.append(ev["object"].metadata.name)
        resumed.stop()
    assert names == ["pybm2"] and int(later.metadata.resource_version) > int(mark["metadata"]["resourceVersion"])
    plain = [ev["type"] for ev in watch.Watch().stream(v1.list_namespaced_pod, NS, label_selector="app=pybm",
                                                           timeout_seconds=3)]
    assert plain == ["ADDED", "ADDED"]  # no BOOKMARK unless asked for (3 s: three sweeps past watch_bookmark_s)


def test_other_kinds_and_version_pass_the_strict_models(kc):
    v1 = core(kc)
    assert isinstance(v1.list_node().items, list)
    assert isinstance(v1.list_namespaced_endpoints(NS).items, list)
    assert isinstance(v1.list_namespaced_event(NS).items, list)
    cfg = client.Configuration()
    cfg.host = kc.urls[0]
    assert client.VersionApi(client.ApiClient(cfg)).get_code().git_version.startswith("v1.20.0")


def test_set_based_label_selector(kc):
    v1 = core(kc)
    for name, app in (("pys1", "pys-a"), ("pys2", "pys-b"), ("pys3", "pys-c")):
        v1.create_namespaced_pod(NS, pod(name, app))
    try:
        got = v1.list_namespaced_pod(NS, label_selector="app in (pys-a, pys-c)").items
        assert sorted(p.metadata.name for p in got) == ["pys1", "pys3"]
        with pytest.raises(ApiException) as e:
            v1.list_namespaced_pod(NS, label_selector="app notin pys-a")
        assert e.value.status == 400 and "BadRequest" in e.value.body
    finally:
        for name in ("pys1", "pys2", "pys3"):
            v1.delete_namespaced_pod(name, NS)


def test_json_patch(kc):
    v1 = core(kc)
    v1.create_namespaced_pod(NS, pod("pyjp", "pyjp"))
    try:
        # a list body: the client sends application/json-patch+json
        got = v1.patch_namespaced_pod("pyjp", NS, [{"op": "add", "path": "/metadata/labels/x", "value": "y"},
                                                   {"op": "remove", "path": "/metadata/labels/app"}])
        assert got.metadata.labels == {"x": "y"}
        with pytest.raises(ApiException) as e:
            v1.patch_namespaced_pod("pyjp", NS, [{"op": "test", "path": "/metadata/labels/x", "value": "z"}])
        assert e.value.status == 422 and "Invalid" in e.value.body
    finally:
        v1.delete_namespaced_pod("pyjp", NS)


def test_binding_and_pod_status(kc):
    v1 = core(kc)
    for name in ("pybind1", "pybind2"):
        v1.create_namespaced_pod(NS, pod(name, "pybind"))
    try:
        target = client.V1ObjectReference(kind="Node", name="pynode1")
        # the server answers a Status, as Kubernetes does: the client's Binding model is not what comes back
        v1.create_namespaced_binding(NS, client.V1Binding(metadata=client.V1ObjectMeta(name="pybind1"),
                                                          target=target), _preload_content=False)
        v1.create_namespaced_pod_binding("pybind2", NS, client.V1Binding(
            metadata=client.V1ObjectMeta(name="pybind2"), target=target), _preload_content=False)
        assert [core(kc, 1).read_namespaced_pod(n, NS).spec.node_name for n in ("pybind1", "pybind2")] == [
            "pynode1", "pynode1"]
        st = v1.read_namespaced_pod_status("pybind1", NS)
        st.status.phase, st.status.pod_ip = "Running", "10.7.0.9"
        got = v1.replace_namespaced_pod_status("pybind1", NS, st)
        assert (got.status.phase, got.status.pod_ip) == ("Running", "10.7.0.9")
        assert core(kc, 2).read_namespaced_pod("pybind1", NS).status.phase == "Running"
    finally:
        for name in ("pybind1", "pybind2"):
            v1.delete_namespaced_pod(name, NS)


def test_read_namespaced_pod_log(kc):
    v1 = core(kc)
    body = pod("pylog", "pylog")
    body["spec"]["nodeSelector"] = {"logs": "py"}
    with hollow_minion(kc.urls, "pylogs", {"logs": "py"}) as runtime:
        v1.create_namespaced_pod(NS, body)
        try:
            web = poll_until(lambda: running_container(runtime, "pylog", "web"), timeout_s=30, interval_s=0.2,
                             what="pylog's container")
            runtime.write_log(web.id, b"a\nb\nc\n")
            assert core(kc, 1).read_namespaced_pod_log("pylog", NS) == \
                "nginx started in hollow container web\na\nb\nc\n"
            assert v1.read_namespaced_pod_log("pylog", NS, container="web", tail_lines=2) == "b\nc\n"
            with pytest.raises(ApiException) as e:
                v1.read_namespaced_pod_log("pylog", NS, container="db")
            assert e.value.status == 400 and "container db is not valid" in e.value.body
        finally:
            v1.delete_namespaced_pod("pylog", NS)


def test_namespaces(kc):
    v1 = core(kc)
    made = v1.create_namespace({"metadata": {"name": "pyns"}})
    assert made.status.phase == "Active"
    assert {"default", "pyns"} <= {n.metadata.name for n in v1.list_namespace().items}
    v1.create_namespaced_pod("pyns", pod("pynsp", "pyns"))
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_pod("pynowhere", pod("pynsp", "pyns"))
    assert e.value.status == 404 and "NotFound" in e.value.body
    v1.delete_namespace("pyns")  # answers the namespace, Terminating (the client returns it as a dict)

    def gone():
        try:
            v1.read_namespace("pyns")
        except ApiException as exc:
            return exc.status == 404
        return False
    poll_until(gone, timeout_s=30, interval_s=0.3, what="namespace pyns removed")
    assert v1.list_namespaced_pod("pyns").items == []
