"""The minion's /metrics on its kubelet port: a hollow minion over the in-memory registry runs a pod, and the
pods-by-phase gauge, container starts and runtime call latencies move with it (parsed by prometheus_client)."""

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from raftkube.minion.node import MinionProcess, MinionSettings
from raftkube.registry import LocalClient, Registry
from raftkube.state.local import LocalStore
from raftkube.testing import poll_until
from tests.unit.fakes import pod


def scrape(port) -> dict:
    r = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def minion():
    store = LocalStore()
    client = LocalClient(Registry(store))
    proc = MinionProcess(client, MinionSettings(name="n1", address="127.0.0.1", runtime="hollow", port=0,
                                                heartbeat_s=0.5)).start()
    try:
        yield client, proc
    finally:
        proc.stop()
        store.close()


def test_minion_metrics_move_with_a_pod(minion):
    client, proc = minion
    port = proc.server.port
    s = scrape(port)
    assert value(s, "raftkube_kubelet_pods", phase="Running") == 0
    assert value(s, "raftkube_kubelet_container_starts_total") == 0
    client.create(pod("p1"))
    client.bind("default", "p1", "n1")
    s = poll_until(lambda: (lambda s: s if value(s, "raftkube_kubelet_pods", phase="Running") == 1 else None)(
        scrape(port)), 10.0, what="the pod Running in /metrics")
    assert value(s, "raftkube_kubelet_container_starts_total") == 2  # the pod's infra container and its app
    assert value(s, "raftkube_runtime_operation_duration_seconds_count", operation="start") == 2
    assert value(s, "raftkube_runtime_operation_duration_seconds_count", operation="list") >= 1
    assert value(s, "raftkube_runtime_operation_errors_total", operation="start") == 0
    assert value(s, "raftkube_kubelet_containers", state="running") == 2
    assert value(s, "raftkube_kubelet_container_restarts") == 0
    # create -> Running as the kubelet saw it: one pod, a few seconds at most on this in-memory store
    assert value(s, "raftkube_kubelet_pod_start_duration_seconds_count") == 1
    assert 0 <= value(s, "raftkube_kubelet_pod_start_duration_seconds_sum") < 10
    client.delete("Pod", "p1")
    poll_until(lambda: value(scrape(port), "raftkube_kubelet_pods", phase="Running") == 0, 10.0,
               what="the deleted pod gone from /metrics")
    poll_until(lambda: value(scrape(port), "raftkube_runtime_operation_duration_seconds_count", operation="remove") == 2,
               10.0, what="its 2 containers removed, timed")
