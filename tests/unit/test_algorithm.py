"""Scheduler predicates and priorities: pure functions."""

import random

from raftkube.controllers.algorithm import (NodeInfo, PodRequest, failure_message, find_fit, fits_host_ports,
                                            fits_resources, least_requested_score, matches_node_selector,
                                            node_is_ready, pod_request)
from raftkube.model.objects import deepcopy
from tests.unit.fakes import container, node, pod


def info(name="n1", **kw) -> NodeInfo:
    return NodeInfo(name, **kw)


def test_pod_request_sums_limits_and_collects_host_ports():
    p = pod("p", containers=[container("a", host_port=80, cpu=100, memory=1000),
                             container("b", host_port=0, cpu=50)], node_selector={"disk": "ssd"})
    assert pod_request(p) == PodRequest(frozenset({80}), 150, 1000, (("disk", "ssd"),))
    assert pod_request(pod("q")) == PodRequest()


def test_host_ports_predicate():
    n = info()
    assert fits_host_ports(PodRequest(frozenset({80})), n) is None
    n.add(PodRequest(frozenset({80})))
    assert fits_host_ports(PodRequest(frozenset({80})), n) == "host port 80 in use"
    assert fits_host_ports(PodRequest(frozenset({81})), n) is None
    assert fits_host_ports(PodRequest(), n) is None
    n.remove(PodRequest(frozenset({80})))
    assert fits_host_ports(PodRequest(frozenset({80})), n) is None


def test_resources_predicate_zero_capacity_is_unlimited_and_zero_request_always_fits():
    n = info(cpu_capacity=1000, memory_capacity=1000)
    n.add(PodRequest(cpu=600, memory=600))
    assert fits_resources(PodRequest(cpu=400), n) is None
    assert fits_resources(PodRequest(cpu=401), n) == "insufficient cpu"
    assert fits_resources(PodRequest(memory=401), n) == "insufficient memory"
    assert fits_resources(PodRequest(), n) is None
    unlimited = info(cpu_capacity=0, memory_capacity=0)
    unlimited.add(PodRequest(cpu=10**6, memory=10**12))
    assert fits_resources(PodRequest(cpu=10**6, memory=10**12), unlimited) is None


def test_node_selector_must_be_subset_of_labels():
    n = info(labels={"disk": "ssd", "zone": "a"})
    assert matches_node_selector(PodRequest(node_selector=(("disk", "ssd"),)), n) is None
    assert matches_node_selector(PodRequest(node_selector=(("disk", "hdd"),)), n) is not None
    assert matches_node_selector(PodRequest(node_selector=(("gpu", "yes"),)), n) is not None
    assert matches_node_selector(PodRequest(), info()) is None


def test_ready_predicate_uses_condition_and_unschedulable():
    assert node_is_ready(PodRequest(), NodeInfo.from_node(node("a"))) is None
    assert node_is_ready(PodRequest(), NodeInfo.from_node(node("a", ready=False))) == "minion not ready"
    cordoned = deepcopy(node("a"))
    cordoned["spec"] = {"unschedulable": True}
    assert node_is_ready(PodRequest(), NodeInfo.from_node(cordoned)) == "minion unschedulable"
    no_conditions = node("a")
    no_conditions["status"]["conditions"] = []
    assert node_is_ready(PodRequest(), NodeInfo.from_node(no_conditions)) is not None


def test_least_requested_score():
    n = info(cpu_capacity=1000, memory_capacity=2000)
    n.add(PodRequest(cpu=500, memory=0))
    assert least_requested_score(PodRequest(), n) == 25  # (50 + 0) / 2
    assert least_requested_score(PodRequest(memory=1000), n) == 50  # (50 + 50) / 2
    assert least_requested_score(PodRequest(cpu=10), info()) == 0


def test_find_fit_prefers_least_requested_then_spreading_then_random():
    busy, idle = info("busy", cpu_capacity=1000), info("idle", cpu_capacity=1000)
    busy.add(PodRequest(cpu=500))
    assert find_fit(PodRequest(cpu=100), [busy, idle], rng=random.Random(0)).node == "idle"
    a, b, c = info("a"), info("b"), info("c")
    assert find_fit(PodRequest(), [a, b, c], {"a": 2, "b": 1}, random.Random(0)).node == "c"
    assert find_fit(PodRequest(), [a, b, c], {"a": 1, "b": 1, "c": 1}, random.Random(0)).node in "abc"
    picks = {find_fit(PodRequest(), [a, b, c], {}, random.Random(seed)).node for seed in range(30)}
    assert picks == {"a", "b", "c"}  # ties are broken by the injected random source
    same = [find_fit(PodRequest(), [a, b, c], {}, random.Random(7)).node for _ in range(5)]
    assert len(set(same)) == 1  # deterministic for a given seed


def test_find_fit_failure_message_counts_reasons():
    nodes = []
    for name in ("a", "b", "c"):
        n = info(name)
        n.add(PodRequest(frozenset({80})))
        nodes.append(n)
    nodes.append(info("d", ready=False))
    fit = find_fit(PodRequest(frozenset({80})), nodes)
    assert fit.node is None
    assert fit.message == "no minion fits: host port 80 in use on 3 minions; minion not ready on 1 minion"
    assert failure_message({}) == "no minions available"
