"""Issue 19, object lifecycle: what counts as a replica, which pods are endpoints."""

from raftkube.controllers.endpoints import plan_endpoints
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
