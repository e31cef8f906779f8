"""Replication manager: plan_replicas and sync_once against the in-memory store."""

from raftkube.controllers.replication import ReplicationManager, plan_replicas, pod_from_template
from raftkube.model.errors import NotLeader
from raftkube.model.objects import name_of
from tests.unit.fakes import FakeClock, RecordingClient, pod, put, rc


def test_plan_creates_the_missing_and_ignores_terminated():
    pods = [pod("a", phase="Running", node_name="n"), pod("b", phase="Failed"), pod("c", phase="Succeeded")]
    assert plan_replicas(rc(replicas=3), pods) == (2, [])
    assert plan_replicas(rc(replicas=1), pods[:1]) == (0, [])
    assert plan_replicas(rc(replicas=3), pods, pending_creates=2) == (0, [])
    assert plan_replicas(rc(replicas=0), []) == (0, [])


def test_plan_deletes_unscheduled_then_not_running_then_newest():
    pods = [pod("running-old", node_name="n", phase="Running", created="2027-01-01T00:00:00Z"),
            pod("running-new", node_name="n", phase="Running", created="2027-01-02T00:00:00Z"),
            pod("pending-bound", node_name="n", phase="Pending"),
            pod("unscheduled", phase="Pending"),
            pod("dead", phase="Failed")]
    assert [name_of(p) for p in plan_replicas(rc(replicas=0), pods)[1]] == [
        "unscheduled", "pending-bound", "running-new", "running-old"]
    assert [name_of(p) for p in plan_replicas(rc(replicas=2), pods)[1]] == ["unscheduled", "pending-bound"]
    assert [name_of(p) for p in plan_replicas(rc(replicas=1), pods)[1]] == [
        "unscheduled", "pending-bound", "running-new"]


def test_plan_never_deletes_because_of_pending_creates():
    pods = [pod("a"), pod("b")]
    assert plan_replicas(rc(replicas=2), pods, pending_creates=3) == (0, [])


def test_pod_from_template_copies_labels_and_leaves_the_name_to_the_server():
    p = pod_from_template(rc(selector={"app": "web", "tier": "fe"}))
    assert p["metadata"]["name"] == "" and p["metadata"]["labels"] == {"app": "web", "tier": "fe"}
    assert p["spec"]["containers"][0]["image"] == "busybox"


def manager(client) -> ReplicationManager:
    return ReplicationManager(client, workers=0, clock=client.clock)


def test_sync_once_creates_then_is_quiet():
    client = RecordingClient()
    put(client, rc(replicas=3))
    m = manager(client)
    m.sync_once()
    assert len(client.writes("create", "Pod")) == 3
    pods, _ = client.list("Pod")
    assert len(pods) == 3 and all(p["metadata"]["labels"] == {"app": "web"} for p in pods)
    assert len({name_of(p) for p in pods}) == 3 and all(len(name_of(p)) == 36 for p in pods)
    client.clear()
    m.sync_once()
    m.reconcile()
    assert client.actions == []


def test_sync_once_deletes_the_surplus_preferring_unscheduled():
    client = RecordingClient()
    put(client, rc(replicas=2))
    put(client, pod("run1", node_name="n1", phase="Running"))
    put(client, pod("run2", node_name="n1", phase="Running"))
    put(client, pod("waiting", node_name="n1", phase="Pending"))
    put(client, pod("unbound"))
    put(client, pod("other", labels={"app": "db"}))
    manager(client).sync_once()
    assert sorted(client.writes("delete")) == [("delete", "Pod", "unbound"), ("delete", "Pod", "waiting")]
    assert client.writes("create") == []
    names = sorted(name_of(p) for p in client.list("Pod")[0])
    assert names == ["other", "run1", "run2"]


def test_deleting_newest_running_first():
    client = RecordingClient()
    put(client, rc(replicas=1))
    put(client, pod("old", node_name="n1", phase="Running"))
    client.clock.advance(10)
    put(client, pod("new", node_name="n1", phase="Running"))
    manager(client).sync_once()
    assert client.writes("delete") == [("delete", "Pod", "new")]


def test_failed_pods_are_replaced_and_kept():
    client = RecordingClient()
    put(client, rc(replicas=2))
    put(client, pod("a", node_name="n1", phase="Running"))
    put(client, pod("lost", node_name="n1", phase="Failed"))
    manager(client).sync_once()
    assert len(client.writes("create", "Pod")) == 1 and client.writes("delete") == []


def test_expectations_prevent_over_creating_before_the_echo():
    client = RecordingClient()
    put(client, rc(replicas=3))
    m = manager(client)
    m.pod_informer.store_local = lambda *a, **kw: None  # the creates' echo has not arrived yet
    m.rc_informer.relist()
    m.reconcile()
    m.reconcile()
    assert len(client.writes("create", "Pod")) == 3
    # once the created pods are seen, they are counted instead of the expectation
    m.pod_informer.relist()
    m.reconcile()
    assert len(client.writes("create", "Pod")) == 3


def test_a_new_manager_counts_what_exists_after_a_leader_change():
    client = RecordingClient()
    put(client, rc(replicas=4))
    first = manager(client)
    first.sync_once()
    client.clear()
    manager(client).sync_once()  # the next leader's manager: no memory, the store is the truth
    assert client.actions == []


def test_scale_down_and_up():
    client = RecordingClient()
    put(client, rc(replicas=5))
    m = manager(client)
    m.sync_once()
    cur = client.get("ReplicationController", "web")
    cur["spec"]["replicas"] = 2
    client.inner.update(cur)
    m.sync_once()
    assert len(client.list("Pod")[0]) == 2
    cur = client.get("ReplicationController", "web")
    cur["spec"]["replicas"] = 7
    client.inner.update(cur)
    m.sync_once()
    assert len(client.list("Pod")[0]) == 7


def test_not_leader_stops_the_controller():
    client = RecordingClient()
    put(client, rc(replicas=1))
    m = manager(client)
    client.fail_with = NotLeader("stale leader epoch")
    m.sync_once()
    assert m.stop_event.is_set()


def test_deleting_the_rc_leaves_its_pods():
    client = RecordingClient()
    put(client, rc(replicas=2))
    m = manager(client)
    m.sync_once()
    client.inner.delete("ReplicationController", "web")
    client.clear()
    m.sync_once()
    assert client.actions == [] and len(client.list("Pod")[0]) == 2


def test_clock_is_injected():
    clock = FakeClock(100.0)
    client = RecordingClient(clock)
    assert manager(client).clock() == 100.0
