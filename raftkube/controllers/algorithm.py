"""The scheduling algorithm: pure predicates and priorities (2014's ``pkg/scheduler``), no I/O, no clock.

A pod's requirements (``PodRequest``) and a minion's state (``NodeInfo``: capacity, what its pods already
request, host ports in use) are small values; each predicate returns ``None`` when the minion fits or a
short reason ("host port 80 in use") when it does not. ``find_fit`` runs the predicates over all minions,
ranks the ones that fit by least-requested, then by how many pods of the same replication controller or
service they already run (spreading), and breaks ties with the injected random source.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from raftkube.model.objects import labels_of, node_ready


@dataclass(frozen=True)
class PodRequest:
    """What a pod asks of a minion: host ports, cpu (milli) and memory (bytes) limits, a node selector."""

    host_ports: frozenset[int] = frozenset()
    cpu: int = 0
    memory: int = 0
    node_selector: tuple[tuple[str, str], ...] = ()


def pod_request(pod: dict) -> PodRequest:
    spec = pod.get("spec") or {}
    ports, cpu, mem = set(), 0, 0
    for c in spec.get("containers") or ():
        for p in c.get("ports") or ():
            hp = p.get("hostPort") or 0
            if hp:
                ports.add(int(hp))
        limits = (c.get("resources") or {}).get("limits") or {}
        cpu += int(limits.get("cpu") or 0)
        mem += int(limits.get("memory") or 0)
    return PodRequest(frozenset(ports), cpu, mem, tuple(sorted((spec.get("nodeSelector") or {}).items())))


@dataclass
class NodeInfo:
    """One minion as the scheduler sees it: its object plus what its (bound or assumed) pods use."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    cpu_capacity: int = 0  # 0 = unlimited
    memory_capacity: int = 0
    ready: bool = True
    schedulable: bool = True
    cpu_requested: int = 0
    memory_requested: int = 0
    host_ports: Counter = field(default_factory=Counter)
    pods: int = 0

    @classmethod
    def from_node(cls, node: dict) -> "NodeInfo":
        cap = (node.get("status") or {}).get("capacity") or {}
        return cls(name=(node.get("metadata") or {}).get("name", ""), labels=dict(labels_of(node)),
                   cpu_capacity=int(cap.get("cpu") or 0), memory_capacity=int(cap.get("memory") or 0),
                   ready=node_ready(node), schedulable=not (node.get("spec") or {}).get("unschedulable"))

    def add(self, req: PodRequest, sign: int = 1) -> None:
        self.cpu_requested += sign * req.cpu
        self.memory_requested += sign * req.memory
        self.pods += sign
        for p in req.host_ports:
            self.host_ports[p] += sign
            if self.host_ports[p] <= 0:
                del self.host_ports[p]

    def remove(self, req: PodRequest) -> None:
        self.add(req, -1)


# ---- predicates: None = fits, else the reason --------------------------------------------------
def node_is_ready(req: PodRequest, node: NodeInfo) -> str | None:
    if not node.ready:
        return "minion not ready"
    if not node.schedulable:
        return "minion unschedulable"
    return None


def matches_node_selector(req: PodRequest, node: NodeInfo) -> str | None:
    for k, v in req.node_selector:
        if node.labels.get(k) != v:
            return "node selector does not match"
    return None


def fits_host_ports(req: PodRequest, node: NodeInfo) -> str | None:
    for p in sorted(req.host_ports):
        if node.host_ports.get(p):
            return f"host port {p} in use"
    return None


def fits_resources(req: PodRequest, node: NodeInfo) -> str | None:
    """2014's PodFitsResources: a pod asking for nothing always fits; a capacity of 0 is unlimited."""
    if req.cpu and node.cpu_capacity and node.cpu_requested + req.cpu > node.cpu_capacity:
        return "insufficient cpu"
    if req.memory and node.memory_capacity and node.memory_requested + req.memory > node.memory_capacity:
        return "insufficient memory"
    return None


PREDICATES = (node_is_ready, matches_node_selector, fits_host_ports, fits_resources)


def check_predicates(req: PodRequest, node: NodeInfo) -> str | None:
    for predicate in PREDICATES:
        reason = predicate(req, node)
        if reason is not None:
            return reason
    return None


# ---- priorities: lower is better -----------------------------------------------------------------
def least_requested_score(req: PodRequest, node: NodeInfo) -> int:
    """⌊(cpu% + memory%) / 2⌋ of what the minion's pods request, this pod included; 0 when unlimited."""
    def pct(requested: int, capacity: int) -> int:
        return (requested * 100) // capacity if capacity else 0
    return (pct(node.cpu_requested + req.cpu, node.cpu_capacity)
            + pct(node.memory_requested + req.memory, node.memory_capacity)) // 2


@dataclass(frozen=True)
class Fit:
    node: str | None  # the chosen minion, None if none fits
    failures: Mapping[str, int]  # reason -> number of minions that failed for it

    @property
    def message(self) -> str:
        return failure_message(self.failures)


def failure_message(failures: Mapping[str, int]) -> str:
    if not failures:
        return "no minions available"
    parts = [f"{reason} on {n} minion{'s' if n != 1 else ''}"
             for reason, n in sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))]
    return "no minion fits: " + "; ".join(parts)


def find_fit(req: PodRequest, nodes: Iterable[NodeInfo], spread: Mapping[str, int] | None = None,
             rng: random.Random | None = None) -> Fit:
    """Filter by the predicates, rank by (least requested, same-controller pods on the minion), pick one.

    ``spread`` maps a minion name to the number of pods already on it that share a replication controller
    or service with this pod. Ties are broken uniformly by ``rng``.
    """
    spread = spread or {}
    failures: Counter = Counter()
    best: list[str] = []
    best_key: tuple[int, int] | None = None
    for node in nodes:
        reason = check_predicates(req, node)
        if reason is not None:
            failures[reason] += 1
            continue
        key = (least_requested_score(req, node), spread.get(node.name, 0))
        if best_key is None or key < best_key:
            best_key, best = key, [node.name]
        elif key == best_key:
            best.append(node.name)
    if not best:
        return Fit(None, dict(failures))
    best.sort()
    return Fit(best[0] if len(best) == 1 else (rng or random).choice(best), dict(failures))
