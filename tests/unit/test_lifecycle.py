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
