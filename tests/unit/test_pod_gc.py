"""Issue 19: terminated pods beyond a threshold and pods of deleted minions are collected by the leader."""

from raftkube.controllers.nodes import rfc3339
from raftkube.controllers.pod_gc import PodGarbageCollector, gc_order, surplus_terminated
from raftkube.controllers.replication import ReplicationManager
from raftkube.model.objects import pod_phase
from tests.unit.fakes import RecordingClient, node, pod, put, rc


def finished(name: str, phase: str, at: float | None, node_name: str = "n1") -> dict:
    p = pod(name, node_name=node_name, phase=phase)
    if at is not None:
        p["status"]["containerStatuses"] = [
            {"name": "c", "image": "busybox", "restartCount": 0, "ready": False,
             "state": {"terminated": {"exitCode": 0 if phase == "Succeeded" else 1, "finishedAt": rfc3339(at)}}}]
    return p


def names(client, kind="Pod"):
    return sorted(o["metadata"]["name"] for o in client.list(kind)[0])


def test_terminated_pods_beyond_the_threshold_go_oldest_finished_first():
    client = RecordingClient()
    now = client.clock()
    put(client, node("n1"))
    put(client, finished("new", "Succeeded", now - 10))
    put(client, finished("old", "Failed", now - 3000))
    client.clock.advance(1)
    put(client, finished("middle", "Succeeded", now - 500))
    put(client, finished("nofinish-late", "Failed", None))  # created after the others: finish = creation
    put(client, pod("running", node_name="n1", phase="Running"))
    put(client, pod("pending", phase="Pending"))
    gc = PodGarbageCollector(client, threshold=2, clock=client.clock)
    gc.sync_once()
    assert sorted(client.writes("delete")) == [("delete", "Pod", "middle"), ("delete", "Pod", "old")]
    assert names(client) == ["new", "nofinish-late", "pending", "running"]  # active pods never count
    client.clear()
    gc.sync_once()
    assert client.actions == []  # at the threshold: quiet


def test_gc_order_finish_then_creation_and_zero_threshold_keeps_everything():
    a = finished("a", "Failed", None)
    a["metadata"]["creationTimestamp"] = "2027-01-15T08:00:00Z"
    b = finished("b", "Failed", None)
    b["metadata"]["creationTimestamp"] = "2027-01-15T07:00:00Z"
    assert [p["metadata"]["name"] for p in sorted([a, b], key=gc_order)] == ["b", "a"]
    assert surplus_terminated([a, b], 0) == [] and surplus_terminated([a, b], 1) == [b]


def test_pods_of_a_deleted_minion_are_failed_with_an_event_then_deleted():
    client = RecordingClient()
    put(client, node("n1"))
    put(client, node("gone"))
    put(client, rc(replicas=2))
    put(client, pod("kept", labels={"app": "web"}, node_name="n1", phase="Running"))
    put(client, pod("lost", labels={"app": "web"}, node_name="gone", phase="Running"))
    put(client, finished("lost-done", "Succeeded", client.clock() - 5, node_name="gone"))
    put(client, pod("unbound", labels={"app": "other"}, phase="Pending"))
    gc = PodGarbageCollector(client, threshold=100, orphan_grace_s=40, clock=client.clock)
    gc.sync_once()
    assert client.actions == []
    client.inner.delete("Node", "gone", "")
    gc.sync_once()
    assert client.actions == []  # within the grace period: the minion may be registering again
    client.clock.advance(39)
    gc.reconcile()
    assert client.actions == []
    client.clock.advance(2)
    gc.reconcile()
    assert sorted(client.writes()) == [("create", "Event", ""), ("delete", "Pod", "lost-done"),
                                       ("update_status", "Pod", "lost")]
    lost = client.get("Pod", "lost")
    assert pod_phase(lost) == "Failed" and lost["status"]["reason"] == "NodeLost"
    [event] = client.list("Event")[0]
    assert event["reason"] == "NodeLost" and event["involvedObject"]["name"] == "lost"
    # the replication manager replaces the failed pod (and adopts the running one, made without an owner)
    rm = ReplicationManager(client, workers=0)
    client.clear()
    rm.sync_once()
    assert sorted(client.writes()) == [("create", "Pod", ""), ("update", "Pod", "kept")]
    client.clear()
    gc.sync_once()
    assert client.writes() == [("delete", "Pod", "lost")]
    assert "lost" not in names(client) and "kept" in names(client) and "unbound" in names(client)


def test_a_minion_that_registers_again_within_the_grace_keeps_its_pods():
    client = RecordingClient()
    put(client, node("n1"))
    put(client, pod("p", node_name="n1", phase="Running"))
    gc = PodGarbageCollector(client, threshold=100, orphan_grace_s=40, clock=client.clock)
    gc.sync_once()
    client.inner.delete("Node", "n1", "")
    gc.sync_once()
    client.clock.advance(30)
    put(client, node("n1"))
    gc.sync_once()
    client.clock.advance(30)
    gc.sync_once()
    assert client.actions == [] and pod_phase(client.get("Pod", "p")) == "Running"


def test_a_minion_missing_from_a_lagging_cache_but_in_the_store_is_not_orphaned():
    client = RecordingClient()
    put(client, pod("p", node_name="n1", phase="Running"))
    gc = PodGarbageCollector(client, threshold=100, orphan_grace_s=40, clock=client.clock)
    gc.sync_once()  # no Node n1 yet
    put(client, node("n1"))  # registered; the informer (no watch running here) has not seen it
    client.clock.advance(41)
    gc.reconcile()
    assert client.actions == [] and pod_phase(client.get("Pod", "p")) == "Running"
