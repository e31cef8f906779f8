"""Replication manager: plan_replicas and sync_once against the in-memory store."""

import re

from raftkube.controllers.replication import ReplicationManager, plan_replicas, pod_from_template, pod_name_prefix
from raftkube.model.errors import NotLeader
from raftkube.model.objects import name_of
from raftkube.state.codec import encode_object
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
    # named <rc>-<5 characters> (generateName) and owned by the RC
    assert len({name_of(p) for p in pods}) == 3 and all(re.fullmatch(r"web-[a-z2-9]{5}", name_of(p)) for p in pods)
    rc_md = client.get("ReplicationController", "web")["metadata"]
    assert all(p["metadata"]["ownerReferences"] == [{"kind": "ReplicationController", "name": "web",
                                                     "uid": rc_md["uid"], "controller": True,
                                                     "blockOwnerDeletion": True}] for p in pods)
    client.clear()
    m.sync_once()
    m.reconcile()
    assert client.actions == []


def test_pods_of_a_2014_camel_case_rc_get_valid_names():
    """The article's ids (``redisController``) are no DNS labels: the pods' generateName is made one."""
    client = RecordingClient()
    put(client, rc(name="redisController", replicas=2))
    manager(client).sync_once()
    pods, _ = client.list("Pod")
    assert len(pods) == 2 and all(re.fullmatch(r"rediscontroller-[a-z2-9]{5}", name_of(p)) for p in pods)
    assert pod_name_prefix("My_RC.v2") == "my-rc-v2-" and pod_name_prefix("__") == "pod-"


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


# ---- the burst: a bounded number of creates and deletes per controller ----------------------------------

def test_plan_bounds_creates_and_deletes_by_the_burst_minus_what_is_outstanding():
    pods = [pod(f"p{i}") for i in range(10)]
    assert plan_replicas(rc(replicas=1_000_000_000), pods, burst=500) == (500, [])
    assert plan_replicas(rc(replicas=1_000_000_000), pods, pending_creates=480, burst=500) == (20, [])
    assert plan_replicas(rc(replicas=1_000_000_000), pods, pending_creates=600, burst=500) == (0, [])
    assert plan_replicas(rc(replicas=12), pods, burst=500) == (2, [])
    assert len(plan_replicas(rc(replicas=0), pods, burst=4)[1]) == 4
    assert len(plan_replicas(rc(replicas=0), pods, burst=4, pending_deletes=3)[1]) == 1
    assert len(plan_replicas(rc(replicas=0), pods)[1]) == 10  # no burst: no bound


def test_one_sync_creates_at_most_the_burst_and_later_syncs_continue():
    client = RecordingClient()
    put(client, rc(replicas=1_200))
    m = manager(client)  # the default burst, as on a master: 500
    m.sync_once()
    assert len(client.writes("create", "Pod")) == 500
    m.sync_once()
    assert len(client.writes("create", "Pod")) == 1_000
    m.reconcile()
    assert len(client.writes("create", "Pod")) == 1_200 == len(client.list("Pod")[0])
    m.reconcile()
    assert len(client.writes("create", "Pod")) == 1_200


def test_creates_not_yet_seen_count_against_the_burst():
    client = RecordingClient()
    put(client, rc(replicas=100_000))
    m = ReplicationManager(client, workers=0, clock=client.clock, burst=3)
    m.pod_informer.store_local = lambda *a, **kw: None  # the creates' echo has not arrived yet
    m.rc_informer.relist()
    m.reconcile()
    m.reconcile()
    assert len(client.writes("create", "Pod")) == 3
    m.pod_informer.relist()  # now they are seen: three more
    m.reconcile()
    assert len(client.writes("create", "Pod")) == 6


def test_deletes_are_bounded_by_the_burst_too():
    client = RecordingClient()
    put(client, rc(replicas=0))
    for i in range(7):
        put(client, pod(f"p{i}"))
    m = ReplicationManager(client, workers=0, clock=client.clock, burst=3)
    m.sync_once()
    assert len(client.writes("delete", "Pod")) == 3
    m.sync_once()
    m.sync_once()
    assert len(client.writes("delete", "Pod")) == 7 and client.list("Pod")[0] == []


def test_at_the_store_quota_creates_stop_with_one_warning_and_back_off(caplog):
    client = RecordingClient()
    put(client, rc(replicas=100_000))
    client.registry.quota_bytes = client.registry.store.read().store_bytes + 5_000  # room for a few pods
    m = manager(client)
    with caplog.at_level("WARNING", logger="raftkube.controllers.replication"):
        m.sync_once()
    created = len(client.list("Pod")[0])
    assert 0 < created < 500 and len(client.writes("create", "Pod")) == created + 1  # then the burst waits
    [warning] = [r.getMessage() for r in caplog.records]
    assert "creates refused" in warning and "the store is full: " in warning and "bytes quota" in warning
    m.reconcile()
    assert len(client.writes("create", "Pod")) == created + 1  # backing off
    client.clock.advance(1.0)
    m.reconcile()
    assert len(client.writes("create", "Pod")) == created + 2 and len(client.list("Pod")[0]) == created



def test_creates_racing_past_a_full_store_warn_once(caplog):
    """Creates already in flight when the store fills fail one by one, with successes in between:
    one warning for the run, not one per failure."""
    import threading

    from raftkube.model.errors import StoreFull

    client = RecordingClient()
    put(client, rc(replicas=10))
    m = manager(client)
    outcomes = [StoreFull("full"), None, StoreFull("full"), None, StoreFull("full")]
    turns = [threading.Event() for _ in outcomes]
    entered = threading.Semaphore(0)
    real_create = client.create

    def create(obj, index=iter(range(len(outcomes)))):
        mine = next(index)
        entered.release()
        assert turns[mine].wait(5)
        if outcomes[mine] is not None:
            raise outcomes[mine]
        return real_create(obj)

    client.create = create
    the_rc = client.get("ReplicationController", "web", "default")
    threads = [threading.Thread(target=m._create, args=(the_rc, ("default", "web"))) for _ in outcomes]
    with caplog.at_level("WARNING", logger="raftkube.controllers.replication"):
        for t in threads:
            t.start()
            assert entered.acquire(timeout=5)  # each create is past the backing-off check
        for turn, t in zip(turns, threads):  # they finish in order: fail, succeed, fail, succeed, fail
            turn.set()
            t.join(5)
    assert len(client.list("Pod")[0]) == 2
    assert [r.getMessage() for r in caplog.records].count("rc default/web: creates refused, retrying with backoff: full") == 1


def test_a_controller_stored_with_restart_policy_never_makes_pods_that_always_restart():
    """Stored before Never/OnFailure templates were refused (422): its pods would run to completion and be
    replaced over and over. They are created with restartPolicy Always, and the controller gets one event."""
    client = RecordingClient()
    old = rc(replicas=2)
    old["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    old["metadata"]["uid"] = "old-rc"
    client.registry.store.submit({"ops": [{"op": "create", "key": ["ReplicationController", "default", "web"],
                                           "data": encode_object(old)}]})  # as an earlier release stored it
    m = manager(client)
    m.sync_once()
    pods, _ = client.list("Pod")
    assert len(pods) == 2 and {p["spec"]["restartPolicy"] for p in pods} == {"Always"}
    [event] = client.list("Event")[0]
    assert event["reason"] == "RestartPolicyOverridden" and event["involvedObject"]["name"] == "web"
    assert event["message"].startswith("template restartPolicy Never is not supported for a replication controller")
    old = client.registry.get("ReplicationController", "default", "web")
    old["spec"]["replicas"] = 3
    client.registry.store.submit({"ops": [{"op": "update", "key": ["ReplicationController", "default", "web"],
                                           "data": encode_object(old)}]})
    m.sync_once()
    assert len(client.list("Pod")[0]) == 3 and len(client.list("Event")[0]) == 1  # told once
    assert pod_from_template(rc())["spec"]["restartPolicy"] == "Always"
