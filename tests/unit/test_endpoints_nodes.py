"""Endpoints controller and node lifecycle: planners and sync_once against the in-memory store."""

from raftkube.controllers.endpoints import EndpointsController, plan_endpoints, resolve_port, same_endpoints
from raftkube.controllers.nodes import NodeLifecycleController, disrupted, parse_time, plan_node
from raftkube.model.endpoints import endpoint_pairs
from raftkube.model.objects import node_ready
from tests.unit.fakes import FakeClock, RecordingClient, container, node, pod, put, service

# ---- endpoints ------------------------------------------------------------------------------

def _subset(ip: str, port: int) -> dict:
    return {"addresses": [{"ip": ip}], "ports": [{"port": port}]}



def test_resolve_port_number_name_or_first():
    p = pod("p", containers=[container("a", container_port=6379, port_name="redis"),
                             container("b", container_port=9000, port_name="metrics")])
    assert resolve_port(8080, p) == 8080
    assert resolve_port("metrics", p) == 9000
    assert resolve_port("nope", p) is None
    assert resolve_port(0, p) == 6379
    assert resolve_port("", p) == 6379


def test_plan_endpoints_running_matching_pods_only():
    pods = [pod("a", pod_ip="10.1.0.2", phase="Running", node_name="n"),
            pod("b", pod_ip="10.1.0.1", phase="Running", node_name="n"),
            pod("no-ip", phase="Pending", node_name="n"),
            pod("dead", pod_ip="10.1.0.9", phase="Failed", node_name="n"),
            pod("other", labels={"app": "db"}, pod_ip="10.1.0.3", phase="Running")]
    assert plan_endpoints(service(), pods) == [{"addresses": [{"ip": "10.1.0.1"}, {"ip": "10.1.0.2"}],
                                                "ports": [{"port": 80}]}]
    assert same_endpoints([_subset("b", 1), _subset("a", 2)], [_subset("a", 2), _subset("b", 1)])
    assert same_endpoints([{"addresses": [{"ip": "a"}, {"ip": "b"}], "ports": [{"port": 1}]}],
                          [_subset("b", 1), _subset("a", 1)])
    assert not same_endpoints([_subset("a", 1)], [_subset("a", 2)])


def test_plan_endpoints_orders_by_ip_then_port_and_covers_every_service_port():
    pods = [pod("a", pod_ip="10.1.0.2", phase="Running", containers=[container(container_port=81, port_name="web")]),
            pod("b", pod_ip="10.1.0.1", phase="Running", containers=[container(container_port=82, port_name="web")]),
            pod("c", pod_ip="10.1.0.3", phase="Running", containers=[container(container_port=81, port_name="web")])]
    svc = service(container_port="web")
    # one service port: the (ip, port) pairs sorted, a run of one port per subset
    assert plan_endpoints(svc, pods) == [_subset("10.1.0.1", 82),
                                         {"addresses": [{"ip": "10.1.0.2"}, {"ip": "10.1.0.3"}],
                                          "ports": [{"port": 81}]}]
    svc["spec"]["ports"] = [{"name": "web", "port": 80, "targetPort": "web"},
                            {"name": "fixed", "port": 90, "targetPort": 9090}]
    assert plan_endpoints(svc, pods[:1]) == [
        {"addresses": [{"ip": "10.1.0.2"}], "ports": [{"port": 81, "name": "web"}]},
        {"addresses": [{"ip": "10.1.0.2"}], "ports": [{"port": 9090, "name": "fixed"}]}]


def test_endpoints_written_only_on_change_and_removed_with_the_service():
    client = RecordingClient()
    put(client, service())
    put(client, pod("a", pod_ip="10.1.0.1", phase="Running", node_name="n1"))
    c = EndpointsController(client)
    c.sync_once()
    assert client.writes() == [("create", "Endpoints", "web")]
    assert client.get("Endpoints", "web")["subsets"] == [_subset("10.1.0.1", 80)]
    client.clear()
    c.sync_once()
    c.reconcile()
    assert client.actions == []  # unchanged: no write
    put(client, pod("b", pod_ip="10.1.0.0", phase="Running", node_name="n1"))
    c.sync_once()
    assert client.writes() == [("update", "Endpoints", "web")]
    assert endpoint_pairs(client.get("Endpoints", "web")) == [("10.1.0.0", 80), ("10.1.0.1", 80)]
    client.clear()
    client.inner.delete("Service", "web")
    c.sync_once()
    assert client.writes() == [("delete", "Endpoints", "web")]


# ---- node lifecycle -------------------------------------------------------------------------
HB = "2027-01-15T08:00:00Z"


def hb_ts() -> float:
    return parse_time(HB)


def test_plan_node_grace_then_eviction():
    n = node("n1", heartbeat=HB)
    assert plan_node(n, 39, 40, 20).mark_not_ready is False
    assert plan_node(n, 41, 40, 20) == plan_node(n, 41, 40, 20)
    assert plan_node(n, 41, 40, 20).mark_not_ready and not plan_node(n, 41, 40, 20).evict
    assert plan_node(n, 61, 40, 20).evict
    down = node("n1", heartbeat=HB, ready=False)
    assert not plan_node(down, 41, 40, 20).mark_not_ready  # already marked


def test_disrupted_when_most_minions_are_not_ready():
    assert not disrupted(0, 0) and not disrupted(1, 2) and disrupted(2, 2) and disrupted(1, 1)
    assert not disrupted(1, 3) and disrupted(2, 3) and not disrupted(5, 10) and disrupted(6, 10)


def heartbeat(client, name: str, when: str) -> None:
    n = client.get("Node", name, "")
    n["status"]["conditions"][0]["lastHeartbeatTime"] = when
    client.inner.update_status(n)


def test_a_new_leader_gives_every_minion_a_full_grace_period_from_takeover():
    """After a master outage longer than the grace period, the heartbeats in the store are old: the leader
    that takes over judges them from when it took over, not from their timestamps."""
    clock = FakeClock(hb_ts() + 600)  # ten minutes without a leader
    client = RecordingClient(clock)
    for i in range(3):
        put(client, node(f"n{i}", heartbeat=HB))
        put(client, pod(f"p{i}", node_name=f"n{i}", phase="Running"))
    c = NodeLifecycleController(client, clock=clock, grace_period_s=40, eviction_delay_s=20)
    c.sync_once()
    assert client.actions == []  # the old code marked all three NotReady and failed every pod here
    clock.advance(39)
    for i in range(2):  # two minions heartbeat again; n2 stays silent
        heartbeat(client, f"n{i}", "2027-01-15T08:10:39Z")
    c.sync_once()
    assert client.writes() == []
    clock.advance(2)
    c.sync_once()
    assert client.writes() == [("update_status", "Node", "n2")]
    clock.advance(20)
    c.sync_once()
    assert client.writes()[-1] == ("update_status", "Pod", "p2")


def test_a_minion_whose_clock_is_off_is_not_evicted():
    clock = FakeClock(hb_ts())
    client = RecordingClient(clock)
    put(client, node("n1", heartbeat=HB))
    put(client, pod("a", node_name="n1", phase="Running"))
    c = NodeLifecycleController(client, clock=clock, grace_period_s=40, eviction_delay_s=20)
    c.sync_once()
    for minute in range(5):  # its clock is an hour behind, but it heartbeats every 10 s
        for second in range(0, 60, 10):
            clock.advance(10)
            heartbeat(client, "n1", f"2027-01-15T07:{minute:02d}:{second:02d}Z")
            c.sync_once()
    assert client.writes() == [] and node_ready(client.get("Node", "n1", ""))


def test_no_eviction_when_most_minions_go_not_ready_at_once(caplog):
    clock = FakeClock(hb_ts())
    client = RecordingClient(clock)
    for i in range(3):
        put(client, node(f"n{i}", heartbeat=HB))
        put(client, pod(f"p{i}", node_name=f"n{i}", phase="Running"))
    c = NodeLifecycleController(client, clock=clock, grace_period_s=40, eviction_delay_s=20)
    c.sync_once()
    with caplog.at_level("WARNING", logger="raftkube.controllers.nodes"):
        clock.advance(41)
        c.sync_once()
        clock.advance(60)
        c.sync_once()
        c.sync_once()
    assert sorted(w[2] for w in client.writes() if w[1] == "Node") == ["n0", "n1", "n2"]  # marked NotReady
    assert all(client.get("Pod", f"p{i}")["status"]["phase"] == "Running" for i in range(3))  # no pod failed
    events = [e for e in client.list("Event")[0] if e["reason"] == "EvictionsHeld"]
    assert sorted(e["involvedObject"]["name"] for e in events) == ["n0", "n1", "n2"]
    assert all(client.get("Pod", f"p{i}")["status"]["phase"] == "Running" for i in range(3))
    held = [r.getMessage() for r in caplog.records if "evicting no pods" in r.getMessage()]
    assert held == ["3 of 3 minions are NotReady at once: assuming a control-plane or network problem, "
                    "evicting no pods until most are Ready again"]


def test_node_becomes_not_ready_after_grace_and_its_pods_fail_after_the_delay():
    clock = FakeClock(hb_ts())
    client = RecordingClient(clock)
    put(client, node("n1", heartbeat=HB))
    put(client, node("n2", heartbeat=HB))
    put(client, pod("a", node_name="n1", phase="Running"))
    put(client, pod("b", node_name="n2", phase="Running"))
    c = NodeLifecycleController(client, clock=clock, grace_period_s=40, eviction_delay_s=20)
    c.sync_once()  # the leader sees both heartbeats now
    clock.advance(30)
    c.sync_once()
    assert client.actions == []
    clock.advance(15)
    # n2 heartbeats; n1 does not
    n2 = client.get("Node", "n2", "")
    n2["status"]["conditions"][0]["lastHeartbeatTime"] = "2027-01-15T08:00:44Z"
    client.inner.update_status(n2)
    c.sync_once()
    assert client.writes() == [("update_status", "Node", "n1")]
    n1 = client.get("Node", "n1", "")
    assert not node_ready(n1) and n1["status"]["conditions"][0]["status"] == "Unknown"
    assert node_ready(client.get("Node", "n2", ""))
    client.clear()
    clock.advance(10)
    c.sync_once()
    assert client.actions == []  # marked once, eviction not due yet
    clock.advance(11)
    c.sync_once()
    assert client.writes() == [("update_status", "Pod", "a")]
    a = client.get("Pod", "a")
    assert a["status"]["phase"] == "Failed" and a["status"]["reason"] == "NodeLost"
    assert client.get("Pod", "b")["status"]["phase"] == "Running"
    client.clear()
    c.sync_once()
    assert client.actions == []  # nothing left to evict
