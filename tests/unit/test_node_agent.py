"""The heartbeat-only node agent over the in-memory store."""

import threading

from raftkube.minion.agent import NodeAgent
from raftkube.model.objects import node_ready
from raftkube.testing import poll_until
from tests.unit.fakes import FakeClock, RecordingClient


def test_registers_reuses_and_heartbeats():
    clock = FakeClock(1_800_000_000.0)
    client = RecordingClient(clock)
    agent = NodeAgent(client, "n1", "10.0.0.7", {"cpu": 2000, "memory": 1 << 30}, {"disk": "ssd"}, clock=clock)
    agent.register()
    NodeAgent(client, "n1", "10.0.0.7", clock=clock).register()  # a restart reuses the Node
    node = client.get("Node", "n1", "")
    assert node["metadata"]["labels"] == {"disk": "ssd"} and node_ready(node)
    assert node["status"]["capacity"] == {"cpu": 2000, "memory": 1 << 30} and node["status"]["hostIP"] == "10.0.0.7"
    clock.advance(5)
    agent.heartbeat()
    [cond] = client.get("Node", "n1", "")["status"]["conditions"]
    assert cond["status"] == "True" and cond["lastHeartbeatTime"] == "2027-01-15T08:00:05Z"
    assert cond["lastTransitionTime"] == "2027-01-15T08:00:00Z"
    client.inner.delete("Node", "n1", "")
    agent.heartbeat()  # the Node was removed: registered again
    assert node_ready(client.get("Node", "n1", ""))


def test_heartbeat_thread_starts_and_stops():
    client = RecordingClient()
    agent = NodeAgent(client, "n2", "10.0.0.8", heartbeat_s=0.02).start()
    assert any(t.name == "node-heartbeat" for t in threading.enumerate())
    poll_until(lambda: agent.heartbeats >= 3, 5.0, what="heartbeats")
    agent.stop()
    assert not agent._thread.is_alive()
