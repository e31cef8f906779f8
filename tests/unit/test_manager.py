"""Controller manager: controllers run only while an epoch is claimed; the epoch fences their writes."""

import threading
import time

from raftkube.client import LocalClient
from raftkube.config import ControllersConfig
from raftkube.controllers.manager import ControllerManager
from raftkube.minion.agent import NodeAgent
from raftkube.model.errors import NotLeader
from raftkube.model.objects import node_ready, pod_node
from raftkube.registry import Registry
from raftkube.state.local import LocalStore
from raftkube.state.raft import Leadership
from tests.helpers import holds_for, poll_until
from tests.unit.fakes import rc


def ctrl_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("ctrl-") and t.name != "ctrl-manager"}


def claim(registry) -> int:
    [epoch] = registry.transaction([{"op": "claim", "holder": "test"}])
    return epoch


def test_controllers_follow_leadership_and_stale_epochs_are_refused():
    registry = Registry(LocalStore())
    leadership = Leadership()
    mgr = ControllerManager(registry, leadership, ControllersConfig(resync_period_s=1.0)).start()
    try:
        holds_for(lambda: not mgr.active and not ctrl_threads(), 0.05, what="no controllers without leadership")
        epoch = claim(registry)
        t0 = time.monotonic()
        leadership._set(epoch)
        poll_until(lambda: {"ctrl-scheduler", "ctrl-replication", "ctrl-endpoints", "ctrl-nodes"} <= ctrl_threads(),
                   2.0, what="controller threads")
        assert time.monotonic() - t0 < 0.5
        client = LocalClient(registry)
        NodeAgent(client, "n1", "10.0.0.1").register()
        client.create(rc(replicas=3))
        poll_until(lambda: sum(1 for p in client.list("Pod")[0] if pod_node(p) == "n1") == 3, 5.0,
                   what="3 pods created and bound")
        assert node_ready(client.get("Node", "n1", ""))
        leadership._set(None)
        poll_until(lambda: not mgr.active, 1.0)
        # a newer claim elsewhere: anything written with the old epoch is refused
        claim(registry)
        stale = LocalClient(registry, epoch)
        try:
            stale.create(rc("late", replicas=1))
            raise AssertionError("a stale epoch was accepted")
        except NotLeader:
            pass
        cur = client.get("ReplicationController", "web")
        cur["spec"]["replicas"] = 5
        client.update(cur)
        # no controller runs without leadership: the resize to 5 is not acted on
        holds_for(lambda: len(client.list("Pod")[0]) == 3, 0.3, what="3 pods without a leader")
    finally:
        mgr.stop()
    poll_until(lambda: not ctrl_threads(), 3.0, what="controller threads gone")
