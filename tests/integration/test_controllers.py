"""Controllers on three real masters with heartbeat-only minions (NodeAgent over HttpClient in this process)."""

from collections import Counter

import pytest

from raftkube.client import HttpClient
from raftkube.minion.agent import NodeAgent
from raftkube.model.endpoints import endpoint_pairs
from raftkube.model.objects import ACTIVE_PHASES, name_of, pod_node, pod_phase
from raftkube.testing import objects, poll_until, running_cluster
from tests.conftest import call_failed

CONTROLLERS_TOML = """
[controllers]
resync_period_s = 2.0
node_grace_period_s = 3.0
pod_eviction_delay_s = 1.0
node_monitor_period_s = 0.2
"""


@pytest.fixture
def ctl(tmp_path, request):
    with running_cluster(tmp_path, extra_toml=CONTROLLERS_TOML, failed=lambda: call_failed(request)) as cluster:
        client = HttpClient(cluster.urls, timeout_s=5.0, retry_for_s=15.0)
        agents = [NodeAgent(HttpClient(cluster.urls, timeout_s=2.0), f"minion-{i}", f"10.0.0.{i + 1}",
                            heartbeat_s=0.5).start() for i in range(3)]
        poll_until(lambda: len(client.list("Node")[0]) == 3, 10.0, what="3 minions registered")
        yield cluster, client, agents
        for a in agents:
            a.stop()


def rc(name: str, replicas: int, host_port: int = 0) -> dict:
    return objects.rc(name, replicas, {"app": name}, [objects.container(host_port=host_port)])


def pods_of(client, app: str) -> list[dict]:
    return client.list("Pod", labels=f"app={app}")[0]


def active(pods):
    return [p for p in pods if pod_phase(p) in ACTIVE_PHASES]


def settled(client, app: str, n: int):
    """Exactly n active pods, all bound; returns them."""
    pods = active(pods_of(client, app))
    return pods if len(pods) == n and all(pod_node(p) for p in pods) else None


def resize(client, name: str, replicas: int) -> None:
    def attempt():
        cur = client.get("ReplicationController", name)
        cur["spec"]["replicas"] = replicas
        client.update(cur)
        return True
    poll_until(attempt, 10.0, what=f"resize {name} to {replicas}")


def test_rc_spread_resize_replace_and_host_ports(ctl):
    cluster, client, _agents = ctl
    client.create(rc("web", 5))
    pods = poll_until(lambda: settled(client, "web", 5), 15.0, what="5 bound web pods")
    spread = Counter(pod_node(p) for p in pods)
    assert set(spread) == {"minion-0", "minion-1", "minion-2"} and max(spread.values()) == 2
    assert client.get("ReplicationController", "web")["status"]["replicas"] == 5
    # events are recorded asynchronously (best effort, after the binding): the last may lag the pods
    poll_until(lambda: sum(1 for e in client.list("Event")[0] if e["reason"] == "scheduled") >= 5, 10.0,
               what="a scheduled event per pod")

    resize(client, "web", 2)
    poll_until(lambda: len(pods_of(client, "web")) == 2 and settled(client, "web", 2), 15.0, what="2 web pods")
    resize(client, "web", 7)
    pods = poll_until(lambda: len(pods_of(client, "web")) == 7 and settled(client, "web", 7), 15.0,
                      what="7 web pods")
    assert max(Counter(pod_node(p) for p in pods).values()) == 3

    # endpoints: the running pods of a service (the pod IPs a kubelet would report)
    client.create({"kind": "Service", "metadata": {"name": "web"},
                   "spec": {"ports": [{"name": "", "port": 9000, "targetPort": 0, "protocol": "TCP"}],
                            "selector": {"app": "web"}}})
    for i, p in enumerate(pods[:2]):
        p["status"] = {"phase": "Running", "podIP": f"172.17.0.{i + 2}"}
        client.update_status(p)
    poll_until(lambda: sorted(endpoint_pairs(client.get("Endpoints", "web")))
               == [("172.17.0.2", 80), ("172.17.0.3", 80)], 10.0, what="endpoints of the running pods")
    pods = settled(client, "web", 7)

    victim = name_of(pods[0])
    client.delete("Pod", victim)
    poll_until(lambda: (lambda ps: ps and victim not in {name_of(p) for p in ps})(settled(client, "web", 7)),
               15.0, what="a replacement for the deleted pod")

    # same host port: at most one per minion; the fourth waits with a reason
    client.create(rc("hp", 4, host_port=8080))
    poll_until(lambda: sum(1 for p in pods_of(client, "hp") if pod_node(p)) == 3 and len(pods_of(client, "hp")) == 4,
               15.0, what="3 of 4 host-port pods bound")
    hp = pods_of(client, "hp")
    assert len({pod_node(p) for p in hp if pod_node(p)}) == 3
    [waiting] = [p for p in hp if not pod_node(p)]
    poll_until(lambda: client.get("Pod", name_of(waiting))["status"].get("message", "").startswith("no minion fits"),
               10.0, what="the unschedulable pod's reason")


def test_leader_killed_while_scaling_new_leader_finishes_exactly(ctl):
    cluster, client, _agents = ctl
    leader = cluster.leader()
    n = 300
    client.create(rc("big", n))
    at_kill = poll_until(lambda: len(pods_of(client, "big")) >= 10 and len(pods_of(client, "big")), 10.0,
                         interval_s=0.01, what="scaling under way")
    cluster.kill(leader)
    assert at_kill < n, "the RC finished before the kill: make it bigger"
    cluster.wait_ready(timeout_s=20.0)
    pods = poll_until(lambda: settled(client, "big", n), 40.0, what=f"exactly {n} bound pods after failover")
    assert len(pods_of(client, "big")) == n  # no duplicates, no leftovers
    assert len({name_of(p) for p in pods}) == n
    # the new leader owns it from here (a late create of the old leader would show up as an extra pod)
    resize(client, "big", 10)
    poll_until(lambda: len(pods_of(client, "big")) == 10 and settled(client, "big", 10), 20.0,
               what="scaled down to 10 by the new leader")


def test_minion_that_stops_heartbeating_gets_its_pods_replaced(ctl):
    cluster, client, agents = ctl
    client.create(rc("app", 6))
    pods = poll_until(lambda: settled(client, "app", 6), 15.0, what="6 bound pods")
    lost = agents[0]
    on_lost = {name_of(p) for p in pods if pod_node(p) == lost.name}
    assert on_lost
    lost.stop()
    poll_until(lambda: client.get("Node", lost.name, "")["status"]["conditions"][0]["status"] != "True",
               15.0, what="the silent minion marked NotReady")

    def replaced():
        pods = pods_of(client, "app")
        failed = {name_of(p) for p in pods if pod_phase(p) == "Failed"}
        live = active(pods)
        return (failed == on_lost and len(live) == 6 and all(pod_node(p) and pod_node(p) != lost.name for p in live)
                and all(p["status"].get("reason") == "NodeLost" for p in pods if name_of(p) in on_lost))
    poll_until(replaced, 20.0, what="pods of the lost minion failed and replaced elsewhere")
    lost.start()  # heartbeats again: Ready again
    poll_until(lambda: client.get("Node", lost.name, "")["status"]["conditions"][0]["status"] == "True",
               10.0, what="the minion Ready again")
