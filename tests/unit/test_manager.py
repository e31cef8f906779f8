"""Controller manager: controllers run only while an epoch is claimed; the epoch fences their writes."""

import threading
import time

from raftkube.registry import LocalClient
from raftkube.config import ControllersConfig
from raftkube.controllers.manager import ControllerManager
from raftkube.minion.agent import NodeAgent
from raftkube.model.errors import NotLeader
from raftkube.model.objects import node_ready, pod_node
from raftkube.registry import Registry
from raftkube.state.local import LocalStore
from raftkube.state.raft import Leadership
from raftkube.testing import holds_for, poll_until
from tests.unit.fakes import rc


def ctrl_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("ctrl-") and t.name != "ctrl-manager"}


def claim(registry) -> int:
    [epoch] = registry.transaction([{"op": "claim", "holder": "test"}])
    return epoch


def test_controllers_follow_leadership_and_stale_epochs_are_refused():
    registry = Registry(LocalStore())
    leadership = Leadership()
    mgr = ControllerManager(lambda epoch: LocalClient(registry, epoch), leadership,
                            ControllersConfig(resync_period_s=1.0)).start()
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


def test_shared_informers_serve_every_handler_from_one_list_and_one_watch():
    from raftkube.controllers.base import SharedInformers

    registry = Registry(LocalStore())
    client = LocalClient(registry)
    client.create({"kind": "Pod", "metadata": {"name": "a"},
                   "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    calls = {"list": 0}
    real_list = client.list

    def counting_list(*args, **kw):
        calls["list"] += 1
        return real_list(*args, **kw)

    client.list = counting_list
    shared = SharedInformers(client)
    seen1, seen2 = [], []
    first = shared.get("Pod", lambda old, new: seen1.append(new and new["metadata"]["name"]))
    second = shared.get("Pod", lambda old, new: seen2.append(new and new["metadata"]["name"]))
    assert first is second and first.shared
    first.relist(max_age_s=1.0)
    second.relist(max_age_s=1.0)  # a list that recent is reused
    assert calls["list"] == 1 and seen1 == seen2 == ["a"]
    shared.start()
    try:
        client.create({"kind": "Pod", "metadata": {"name": "b"},
                       "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
        poll_until(lambda: seen1 == seen2 == ["a", "b"], 5.0, what="both handlers called by the one watch")
        assert [t.name for t in threading.enumerate()].count("ctrl-watch-pod") == 1
    finally:
        shared.stop()
