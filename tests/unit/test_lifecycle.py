"""Issue 19, object lifecycle: what counts as a replica, which pods are endpoints, terminated stays terminated."""

import pytest
from falcon import testing

from raftkube.api.app import create_app
from raftkube.config import ApiConfig
from raftkube.controllers.endpoints import plan_endpoints
from raftkube.model.errors import Invalid
from raftkube.registry import Registry
from raftkube.state.local import LocalStore
from raftkube.testing import pod_body
from tests.unit.fakes import RecordingClient, pod, put, rc, service


def test_rc_replica_count_leaves_out_terminated_pods():
    client = RecordingClient()
    put(client, rc(replicas=2))
    put(client, pod("run", node_name="n", phase="Running"))
    put(client, pod("wait", node_name="n", phase="Pending"))
    put(client, pod("done", node_name="n", phase="Succeeded"))
    put(client, pod("dead", node_name="n", phase="Failed"))
    stored = client.get("ReplicationController", "web")
    assert stored["status"]["replicas"] == 2
    assert client.list("ReplicationController")[0][0]["status"]["replicas"] == 2
    # a pod that terminates later stops counting at once (the label cache follows the phase)
    cur = client.get("Pod", "run")
    cur["status"]["phase"] = "Failed"
    client.inner.update_status(cur)
    assert client.get("ReplicationController", "web")["status"]["replicas"] == 1


def test_endpoints_list_only_running_pods():
    pods = [pod("run", node_name="n", phase="Running", pod_ip="10.0.0.1"),
            pod("starting", node_name="n", phase="Pending", pod_ip="10.0.0.2"),
            pod("done", node_name="n", phase="Succeeded", pod_ip="10.0.0.3"),
            pod("dead", node_name="n", phase="Failed", pod_ip="10.0.0.4")]
    subsets = plan_endpoints(service(container_port=80), pods)
    assert [a["ip"] for s in subsets for a in s["addresses"]] == ["10.0.0.1"]


def test_up_runs_a_service_proxy_on_every_minion():
    from raftkube.up import minion_argv

    class Cfg:
        api_urls = ["http://127.0.0.1:8080"]
        masters = []

    argvs = [minion_argv(Cfg(), i, "docker") for i in range(3)]
    assert all("--no-proxy" not in a and "--proxy-share-ports" in a for a in argvs)


def test_proxies_with_shared_ports_listen_on_the_same_port_and_others_still_conflict():
    import socket

    from raftkube.proxy.proxier import Proxier
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    svc = {"kind": "Service", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"ports": [{"name": "", "port": port, "targetPort": 80, "protocol": "TCP"}],
                    "selector": {"app": "web"}}}
    shared = [Proxier(bind_address="127.0.0.1", share_ports=True) for _ in range(2)]
    alone = Proxier(bind_address="127.0.0.1")
    try:
        for p in shared + [alone]:
            p.start()
        assert [list(p.sync([svc], [])) for p in shared] == [[], []]
        assert len(list(alone.sync([svc], []))) == 1  # a proxy without the option cannot take the port
    finally:
        for p in shared + [alone]:
            p.stop()


def test_events_older_than_the_ttl_are_deleted_by_the_leader():
    from raftkube.controllers.event_gc import EventGarbageCollector
    from raftkube.controllers.nodes import rfc3339

    client = RecordingClient()
    now = client.clock()

    def event(name, age_s):
        return {"kind": "Event", "metadata": {"name": name, "namespace": "default"},
                "involvedObject": {"kind": "Pod", "namespace": "default", "name": "p"},
                "reason": "scheduled", "message": "m", "source": "scheduler", "timestamp": rfc3339(now - age_s)}

    put(client, event("old", 3700))
    put(client, event("older", 7200))
    put(client, event("fresh", 100))
    gc = EventGarbageCollector(client, ttl_s=3600, clock=client.clock)
    gc.sync_once()
    assert sorted(client.writes("delete")) == [("delete", "Event", "old"), ("delete", "Event", "older")]
    assert [e["metadata"]["name"] for e in client.list("Event")[0]] == ["fresh"]
    client.clear()
    gc.sync_once()
    assert client.actions == []


def test_endpoints_leave_out_a_running_pod_whose_container_is_not_ready():
    """Readiness as the kubelet reports it: a container that crashed (waiting for its restart) or fails its
    liveness probe says ready=false, so the pod (Running, its other containers up) serves no traffic."""
    def cs(name, ready, state):
        return {"name": name, "image": "busybox", "restartCount": 0, "ready": ready, "state": state}
    up = {"running": {"startedAt": "2027-01-15T08:00:00Z"}}
    crashed = {"terminated": {"exitCode": 1, "finishedAt": "2027-01-15T08:01:00Z"}}
    pods = [pod("ok", node_name="n", phase="Running", pod_ip="10.0.0.1"),
            pod("half", node_name="n", phase="Running", pod_ip="10.0.0.2"),
            pod("probe", node_name="n", phase="Running", pod_ip="10.0.0.3"),
            pod("bare", node_name="n", phase="Running", pod_ip="10.0.0.4")]
    pods[0]["status"]["containerStatuses"] = [cs("a", True, up), cs("b", True, up)]
    pods[1]["status"]["containerStatuses"] = [cs("a", True, up), cs("b", False, crashed)]
    pods[2]["status"]["containerStatuses"] = [cs("a", False, up)]  # running, liveness probe failing
    subsets = plan_endpoints(service(container_port=80), pods)
    assert [a["ip"] for s in subsets for a in s["addresses"]] == ["10.0.0.1", "10.0.0.4"]


def test_a_late_kubelet_status_never_brings_a_terminated_pod_back():
    """The master fails a pod (NodeLost); the kubelet's Running status, computed before it saw that, arrives
    after it: refused (422), the pod stays Failed. The same for any terminal phase to another phase."""
    client = RecordingClient()
    put(client, pod("p", node_name="n1", phase="Running"))
    late = client.get("Pod", "p")
    late["metadata"]["resourceVersion"] = 0  # the kubelet's status writes are unconditional
    failed = client.get("Pod", "p")
    failed["status"] = {**failed["status"], "phase": "Failed", "reason": "NodeLost"}
    client.inner.update_status(failed)
    with pytest.raises(Invalid) as err:
        client.inner.update_status(late)
    assert err.value.message == 'pod "p" is invalid: status.phase: forbidden (a terminated pod stays terminated)'
    stored = client.get("Pod", "p")
    assert stored["status"]["phase"] == "Failed" and stored["status"]["reason"] == "NodeLost"
    late["status"] = {"phase": "Succeeded"}
    with pytest.raises(Invalid):
        client.inner.update_status(late)
    late["status"] = {**stored["status"], "message": "more detail"}  # the same terminal phase: a status like any
    assert client.inner.update_status(late)["status"]["message"] == "more detail"


def test_the_api_answers_422_to_a_status_that_revives_a_terminated_pod():
    store = LocalStore()
    api = testing.TestClient(create_app(Registry(store), store, ApiConfig()))
    api.simulate_post("/api/v1beta1/pods", json=pod_body("p"))
    body = api.simulate_get("/api/v1beta1/pods/p").json
    body["currentState"] = {"status": "Terminated"}
    assert api.simulate_put("/api/v1beta1/pods/p/status", json=body).status_code == 200
    body["currentState"] = {"status": "Running"}
    body.pop("resourceVersion")
    r = api.simulate_put("/api/v1beta1/pods/p/status", json=body)
    assert r.status_code == 422 and r.json["reason"] == "Invalid", r.text
    assert r.json["message"] == 'pod "p" is invalid: currentState.status: forbidden (a terminated pod stays terminated)'
    assert api.simulate_get("/api/v1beta1/pods/p").json["currentState"]["status"] == "Terminated"
