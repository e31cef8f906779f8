"""Scheduler: sync_once against the in-memory store with a fake clock and a seeded random source."""

import random
from collections import Counter

from raftkube.controllers.scheduler import FAILED_SCHEDULING, Scheduler
from raftkube.model.errors import NotLeader
from raftkube.model.objects import name_of, pod_node
from tests.unit.fakes import RecordingClient, container, node, pod, put, rc, service


def scheduler(client, seed=1) -> Scheduler:
    return Scheduler(client, binders=0, clock=client.clock, rng=random.Random(seed))


def nodes_of(client) -> dict:
    return {name_of(p): pod_node(p) for p in client.list("Pod")[0]}


def events(client, reason):
    return [e for e in client.list("Event")[0] if e["reason"] == reason]


def test_binds_and_emits_scheduled_events():
    client = RecordingClient()
    put(client, node("n1"))
    put(client, pod("p1"))
    scheduler(client).sync_once()
    assert nodes_of(client) == {"p1": "n1"}
    assert client.writes("bind") == [("bind", "Pod", "p1")]
    [ev] = events(client, "scheduled")
    assert ev["message"] == "Successfully assigned p1 to n1" and ev["involvedObject"]["name"] == "p1"


def test_host_ports_never_share_a_minion_and_the_rest_waits_with_a_reason():
    client = RecordingClient()
    for n in ("n1", "n2", "n3"):
        put(client, node(n))
    for i in range(5):
        put(client, pod(f"p{i}", containers=[container(host_port=80)]))
    s = scheduler(client)
    s.sync_once()
    placed = nodes_of(client)
    bound = [n for n in placed.values() if n]
    assert sorted(bound) == ["n1", "n2", "n3"]
    waiting = [client.get("Pod", name) for name, n in placed.items() if not n]
    assert len(waiting) == 2
    for p in waiting:
        assert p["status"]["phase"] == "Pending" and p["status"]["reason"] == FAILED_SCHEDULING
        assert p["status"]["message"] == "no minion fits: host port 80 in use on 3 minions"
    assert len(events(client, FAILED_SCHEDULING)) == 2


def port_clash():
    """One minion whose host port 80 pod "a" holds, and pod "b" wanting it too, after one scheduling pass."""
    client = RecordingClient()
    put(client, node("n1"))
    put(client, pod("a", containers=[container(host_port=80)], node_name="n1"))
    put(client, pod("b", containers=[container(host_port=80)]))
    s = scheduler(client)
    s.sync_once()
    return client, s


def test_unschedulable_backoff_doubles_and_events_are_not_repeated_within_it():
    client, s = port_clash()
    assert s.backoff[("default", "b")].delay_s == 1.0
    assert s.next_deadline_s() == 1.0
    client.clear()
    s.reconcile()  # backoff not over: nothing tried, nothing written
    client.clock.advance(0.5)
    s.reconcile()
    assert client.actions == []
    client.clock.advance(0.6)
    s.reconcile()  # retried: still no fit; delay doubles; same message, one more event at most
    assert s.backoff[("default", "b")].delay_s == 2.0
    assert client.writes("update_status") == []  # the reason is already written
    before = len(events(client, FAILED_SCHEDULING))
    for _ in range(6):
        client.clock.advance(70)
        s.reconcile()
    assert s.backoff[("default", "b")].delay_s == 60.0  # capped
    assert len(events(client, FAILED_SCHEDULING)) <= before + 6


def test_identical_failure_event_at_most_once_per_backoff_period():
    client, s = port_clash()
    assert len(events(client, FAILED_SCHEDULING)) == 1
    # node changes make it retry at once, repeatedly, within one backoff period: no new identical event
    for i in range(5):
        cur = client.get("Node", "n1", "")
        cur["metadata"]["labels"] = {"round": str(i)}
        client.inner.update(cur)
        s.sync_once()
        client.clock.advance(0.1)
    assert len(events(client, FAILED_SCHEDULING)) == 1


def test_retried_at_once_when_a_minion_appears_and_reason_cleared_on_bind():
    client = RecordingClient()
    put(client, pod("a"))
    s = scheduler(client)
    s.sync_once()
    # without any ready minion pods are parked: no status writes, no events (a cluster being set up, or an
    # API-only benchmark, sees no controller writes for its pods)
    assert events(client, FAILED_SCHEDULING) == [] and client.writes("update_status") == []
    put(client, node("n1", labels={"disk": "hdd"}))
    put(client, pod("b", node_selector={"disk": "ssd"}, labels={"app": "b"}))
    s.sync_once()
    assert client.get("Pod", "b")["status"]["reason"] == FAILED_SCHEDULING
    put(client, node("n2", labels={"disk": "ssd"}))
    s.sync_once()  # no clock advance: the new minion cancels the backoff
    assert pod_node(client.get("Pod", "a")) in ("n1", "n2")
    b = client.get("Pod", "b")
    assert pod_node(b) == "n2" and b["status"].get("reason", "") == ""  # the reason is cleared on bind


def test_retried_at_once_when_a_pod_is_deleted():
    client, s = port_clash()
    client.inner.delete("Pod", "a")
    s.sync_once()
    assert pod_node(client.get("Pod", "b")) == "n1"


def test_resources_node_selector_and_readiness():
    client = RecordingClient()
    put(client, node("small", cpu=1000, memory=1000))
    put(client, node("big", cpu=4000, memory=4000, labels={"disk": "ssd"}))
    put(client, node("down", ready=False))
    put(client, pod("fat", containers=[container(cpu=2000)]))
    put(client, pod("ssd", node_selector={"disk": "ssd"}, labels={"app": "x"}))
    put(client, pod("nowhere", node_selector={"gpu": "yes"}, labels={"app": "y"}))
    scheduler(client).sync_once()
    placed = nodes_of(client)
    assert placed["fat"] == "big" and placed["ssd"] == "big" and placed["nowhere"] == ""
    msg = client.get("Pod", "nowhere")["status"]["message"]
    assert "node selector does not match on 2 minions" in msg and "minion not ready on 1 minion" in msg


def test_spreads_pods_of_one_controller_or_service():
    client = RecordingClient()
    for n in ("n1", "n2", "n3"):
        put(client, node(n))
    put(client, rc("web", replicas=6))
    put(client, service("db", selector={"app": "db"}))
    for i in range(6):
        put(client, pod(f"w{i}"))
        put(client, pod(f"d{i}", labels={"app": "db"}))
    scheduler(client, seed=3).sync_once()
    placed = nodes_of(client)
    web = Counter(n for name, n in placed.items() if name.startswith("w"))
    db = Counter(n for name, n in placed.items() if name.startswith("d"))
    assert web == {"n1": 2, "n2": 2, "n3": 2} and db == {"n1": 2, "n2": 2, "n3": 2}


def test_a_pod_bound_by_someone_else_is_not_bound_again():
    client = RecordingClient()
    put(client, node("n1"))
    put(client, node("n2"))
    put(client, pod("a"))
    s = scheduler(client)
    s.node_informer.relist()
    s.pod_informer.relist()
    client.inner.bind("default", "a", "n2")  # e.g. the previous leader's late bind won
    s.reconcile()  # our cache still says unbound: the bind is refused (atomic), nothing breaks
    assert pod_node(client.get("Pod", "a")) == "n2"
    assert s.assumed == {}
    s.sync_once()
    assert s.queue == {}


def test_not_leader_stops_the_scheduler():
    client = RecordingClient()
    put(client, node("n1"))
    put(client, pod("a"))
    s = scheduler(client)
    client.fail_with = NotLeader("stale")
    s.sync_once()
    assert s.stop_event.is_set() and pod_node(client.get("Pod", "a")) == ""


def test_terminated_pods_free_their_host_ports():
    client = RecordingClient()
    put(client, node("n1"))
    put(client, pod("dead", containers=[container(host_port=80)], node_name="n1", phase="Failed"))
    put(client, pod("b", containers=[container(host_port=80)]))
    scheduler(client).sync_once()
    assert pod_node(client.get("Pod", "b")) == "n1"
