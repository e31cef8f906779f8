"""The pods bound to this minion (or to every hollow minion of the process), from one informer.

``PodSource`` is an ``Informer`` (``raftkube.informer``) of pods narrowed by a field selector, indexed by
node, that tells each subscribed kubelet when its pods changed. One source can feed many kubelets: the
hollow minions of one process share one list + watch of every bound pod. The watch relists on 410 Gone
and, after a lost master, resumes from the last revision it saw (no relist) every ``retry_s``.
"""

from __future__ import annotations

import threading
from typing import Callable, Iterable

from raftkube.informer import Informer, InformerSettings
from raftkube.model.objects import ACTIVE_PHASES, pod_node, pod_phase
from raftkube.minion.planner import pod_uid


def newly_terminated(old: dict, new: dict) -> bool:
    """The pod went from active to terminated (the master failed it, or the kubelet said it finished)."""
    return pod_phase(old) in ACTIVE_PHASES and pod_phase(new) not in ACTIVE_PHASES


def _node_index(pod: dict) -> list[str]:
    node = pod_node(pod)
    return [node] if node else []


class PodSource:
    """The pods bound to some minions, kept from a list + watch; calls ``listener(node)`` on changes.

    ``fields`` is ``spec.nodeName=<node>`` for one kubelet, or ``spec.nodeName!=`` for all bound
    pods (one watch shared by many hollow kubelets).
    """

    def __init__(self, client, fields: str, name: str = "kubelet-watch", retry_s: float = 1.0):
        self.fields = fields
        self.name = name
        self._listeners: dict[str, Callable[[str], None]] = {}
        self._lock = threading.Lock()
        self.informer = Informer(client, "Pod", self._changed, fields=fields, indexers={"node": _node_index},
                                 settings=InformerSettings(retry_s=retry_s, max_retry_s=retry_s,
                                                           relist_on_error=False),
                                 name="kubelet")
        self.informer.add_relist_handler(self._relisted)

    @property
    def synced(self) -> threading.Event:
        """Set once the first list of pods is in (a kubelet kills nothing before)."""
        return self.informer.synced

    def subscribe(self, node: str, listener: Callable[[str], None]) -> None:
        with self._lock:
            self._listeners[node] = listener

    def pods_for(self, node: str) -> dict[str, dict]:
        """Pod uid -> pod, for the pods bound to ``node`` (a copy)."""
        return {pod_uid(p): p for p in self.informer.by_index("node", node)}

    def start(self) -> "PodSource":
        self.informer.start(self.name)
        return self

    def stop(self) -> None:
        self.informer.stop(timeout_s=5)

    def _notify(self, nodes: Iterable[str]) -> None:
        with self._lock:
            listeners = [self._listeners[n] for n in set(nodes) if n in self._listeners]
        for fn in listeners:
            fn("pods")

    def _changed(self, old: dict | None, new: dict | None) -> None:
        if old is not None and new is not None and pod_uid(old) == pod_uid(new) \
                and old.get("spec") == new.get("spec") and not newly_terminated(old, new):
            return  # a status write (most often the kubelet's own): nothing to sync
        self._notify(pod_node(p) for p in (old, new) if p is not None)

    def _relisted(self) -> None:
        self._notify(self.informer.index_values("node"))  # every kubelet with pods syncs after a relist
