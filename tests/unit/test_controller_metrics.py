"""Controller metrics: the manager's counts scraped through prometheus_client, moving with what the controllers did
(an RC scaled up and down, pods bound and one that fits nowhere), and kept across a change of leadership term."""

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from raftkube.config import ControllersConfig
from raftkube.controllers.manager import ControllerManager
from raftkube.controllers.metrics import ControllerCollector
from raftkube.minion.agent import NodeAgent
from raftkube.model.objects import pod_node
from raftkube.registry import LocalClient, Registry
from raftkube.state.local import LocalStore
from raftkube.state.raft import Leadership
from raftkube.testing import poll_until
from tests.unit.fakes import pod, rc


def scrape(reg) -> dict:
    out = {}
    for family in text_string_to_metric_families(generate_latest(reg).decode()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def claim(registry) -> int:
    [epoch] = registry.transaction([{"op": "claim", "holder": "test"}])
    return epoch


@pytest.fixture
def running():
    store = LocalStore()
    registry = Registry(store)
    leadership = Leadership()
    mgr = ControllerManager(lambda epoch: LocalClient(registry, epoch), leadership,
                            ControllersConfig(resync_period_s=0.5, scheduler_backoff_initial_s=0.1)).start()
    metrics = CollectorRegistry()
    metrics.register(ControllerCollector(mgr.stats))
    try:
        yield registry, leadership, mgr, metrics
    finally:
        mgr.stop()
        store.close()


def test_controller_metrics_move_with_the_work_done(running):
    registry, leadership, mgr, metrics = running
    assert value(scrape(metrics), "raftkube_controllers_active") == 0
    leadership._set(claim(registry))
    poll_until(lambda: value(scrape(metrics), "raftkube_controllers_active") == 1, 2.0, what="controllers active")
    client = LocalClient(registry)
    NodeAgent(client, "n1", "10.0.0.1").register()
    client.create(rc(replicas=3))
    poll_until(lambda: sum(1 for p in client.list("Pod")[0] if pod_node(p) == "n1") == 3, 5.0,
               what="3 pods created and bound")
    def all_counted(s):  # every controller has finished a pass, and the 3 scheduling attempts are in
        return s if (value(s, "raftkube_scheduler_attempts_total", result="scheduled") == 3 and all(
            value(s, "raftkube_controller_sync_duration_seconds_count", controller=name) >= 1
            for name in ("scheduler", "replication", "endpoints", "nodes"))) else None
    s = poll_until(lambda: all_counted(scrape(metrics)), 15.0, what="3 scheduling attempts and a pass of each counted")
    assert value(s, "raftkube_replication_pod_creates_total", result="created") == 3
    assert value(s, "raftkube_scheduler_scheduling_duration_seconds_count") == 3
    assert 0 < value(s, "raftkube_scheduler_scheduling_duration_seconds_sum") < 5
    assert value(s, "raftkube_scheduler_scheduling_duration_seconds_bucket", le="+Inf") == 3
    for name in ("scheduler", "replication", "endpoints", "nodes"):
        assert value(s, "raftkube_controller_sync_duration_seconds_count", controller=name) >= 1, name
        assert value(s, "raftkube_controller_sync_errors_total", controller=name) == 0
    assert value(s, "raftkube_controller_queue_depth", controller="scheduler") == 0

    # a pod that fits nowhere waits in the queue and counts unschedulable attempts
    client.create(pod("nowhere", {"app": "other"}, node_selector={"disk": "ssd"}))
    s = poll_until(lambda: (lambda s: s if value(s, "raftkube_scheduler_attempts_total", result="unschedulable") >= 1
                            else None)(scrape(metrics)), 3.0, what="an unschedulable attempt counted")
    assert value(s, "raftkube_controller_queue_depth", controller="scheduler") == 1

    # scale down: deletes counted; then a new term keeps counting from the same totals
    cur = client.get("ReplicationController", "web")
    cur["spec"]["replicas"] = 1
    client.update(cur)
    poll_until(lambda: value(scrape(metrics), "raftkube_replication_pod_deletes_total", result="deleted") == 2, 3.0,
               what="2 pod deletes counted")
    leadership._set(None)
    poll_until(lambda: value(scrape(metrics), "raftkube_controllers_active") == 0, 2.0, what="controllers stopped")
    leadership._set(claim(registry))
    cur = client.get("ReplicationController", "web")
    cur["spec"]["replicas"] = 2
    client.update(cur)
    s = poll_until(lambda: (lambda s: s if value(s, "raftkube_replication_pod_creates_total", result="created") == 4
                            and value(s, "raftkube_scheduler_attempts_total", result="scheduled") == 4
                            else None)(scrape(metrics)), 15.0, what="the next term's create and its scheduling counted")
