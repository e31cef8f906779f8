"""Pod garbage collection on the leader (Kubernetes' PodGC controller), so the store does not grow with
every pod that ever ran.

- Terminated pods (Succeeded or Failed) beyond ``terminated_pod_gc_threshold`` are deleted, oldest first:
  by finish time (the latest ``finishedAt`` of its containers; the creation time for a pod that never
  reported one, e.g. one failed with NodeLost), then by creation time. 0 turns this off.
- Orphans: a pod bound to a minion whose Node object is gone (deleted, never registered) has no kubelet
  that will ever report on it. Once the minion has been missing for ``orphan_grace_s`` (the node grace
  period; a GET of the Node confirms it is gone, the informer may lag a fresh registration), its
  pods that are not terminated are marked Failed (reason NodeLost, with an event), so replication managers
  replace them, and its terminated pods are deleted whatever the threshold; a pod failed this way is
  deleted by the next pass.

Runs every resync period (and when a Node is deleted), never on every pod event: one pass reads every pod.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from raftkube.controllers.base import Controller, delete_by_uid, obj_key
from raftkube.controllers.events import EventRecorder
from raftkube.controllers.nodes import NODE_LOST, parse_time
from raftkube.model.errors import ApiError, Conflict, NotFound, NotLeader
from raftkube.model.objects import ACTIVE_PHASES, FAILED, PENDING, name_of, namespace_of, pod_node, pod_phase

log = logging.getLogger(__name__)

#: Kubernetes' default for --terminated-pod-gc-threshold
DEFAULT_THRESHOLD = 12500


def is_terminated(pod: dict) -> bool:
    return pod_phase(pod) not in ACTIVE_PHASES


def finish_time(pod: dict) -> float | None:
    """When the pod's last container finished (``finishedAt`` of its terminated containers), or None."""
    times = [parse_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
             for cs in (pod.get("status") or {}).get("containerStatuses") or ()]
    times = [t for t in times if t is not None]
    return max(times) if times else None


def gc_order(pod: dict) -> tuple:
    """Oldest first: finish time (creation time when there is none), then creation time, then the key."""
    created = parse_time((pod.get("metadata") or {}).get("creationTimestamp")) or 0.0
    finished = finish_time(pod)
    return (created if finished is None else finished, created, obj_key(pod))


def surplus_terminated(pods, threshold: int) -> list[dict]:
    """The terminated pods among ``pods`` beyond ``threshold``, oldest first (threshold <= 0: none)."""
    if threshold <= 0:
        return []
    terminated = [p for p in pods if is_terminated(p)]
    if len(terminated) <= threshold:
        return []
    return sorted(terminated, key=gc_order)[:len(terminated) - threshold]


class PodGarbageCollector(Controller):
    name = "pod-gc"

    def __init__(self, client, *, threshold: int = DEFAULT_THRESHOLD, orphan_grace_s: float = 40.0,
                 workers: int = 8, events: EventRecorder | None = None, **kw):
        super().__init__(client, **kw)
        self.threshold = threshold
        self.orphan_grace_s = orphan_grace_s
        self.events = events if events is not None else EventRecorder(client, "pod-gc", threads=0)
        self.pod_informer = self.informer("Pod")  # no handler: a pass reads every pod, not one per event
        self.node_informer = self.informer("Node", self._on_node)
        self.informers = [self.node_informer, self.pod_informer]
        self.workers = workers
        self._missing: dict[str, float] = {}  # minion name -> when this leader first saw pods bound to it missing

    def _on_node(self, old: dict | None, new: dict | None) -> None:
        if new is None:
            self.wake()

    def next_deadline_s(self) -> float | None:
        if not self._missing:
            return None
        return max(min(self._missing.values()) + self.orphan_grace_s - self.clock(), 0.05)

    # ---- one pass ---------------------------------------------------------------------------
    def reconcile(self) -> None:
        now = self.clock()
        pods = self.pod_informer.items()
        nodes = {name_of(n) for n in self.node_informer.items()}
        bound: set[str] = set()
        terminated: list[dict] = []
        for p in pods:  # one loop: it runs on the leader over every pod, holding the GIL
            node = (p.get("spec") or {}).get("nodeName")
            if node:
                bound.add(node)
            if ((p.get("status") or {}).get("phase") or PENDING) not in ACTIVE_PHASES:
                terminated.append(p)
        self._missing = {n: self._missing.get(n, now) for n in bound - nodes}
        gone = {n for n, since in list(self._missing.items()) if now - since >= self.orphan_grace_s and self._gone(n)}
        doomed: list[dict] = []
        if gone:
            for pod in [p for p in pods if pod_node(p) in gone]:
                if is_terminated(pod):
                    doomed.append(pod)
                elif not self.stop_event.is_set():
                    self._fail(pod)
            terminated = [p for p in terminated if pod_node(p) not in gone]
        orphans = len(doomed)
        doomed += surplus_terminated(terminated, self.threshold)
        if doomed:
            deleted = self._delete_all(doomed)
            log.info("deleted %d terminated pod(s) (%d of deleted minions; threshold %d)", deleted, orphans,
                     self.threshold)

    def _gone(self, node: str) -> bool:
        """The informer may lag a minion that just registered: ask the store."""
        try:
            self.client.get("Node", node, "")
        except NotFound:
            return True
        except NotLeader:
            raise
        except ApiError as exc:
            log.warning("minion %s: checking it exists failed: %s", node, exc)
            return False
        self._missing.pop(node, None)
        return False

    def _fail(self, pod: dict) -> None:
        node = pod_node(pod)
        message = f"minion {node} was deleted"
        obj = dict(pod)
        obj["status"] = {**(pod.get("status") or {}), "phase": FAILED, "reason": NODE_LOST, "message": message}
        try:
            written = self.client.update_status(obj)  # carries the resourceVersion: a newer write wins
        except NotLeader:
            raise
        except (Conflict, NotFound):
            return  # changed or gone meanwhile: the next pass looks again
        except ApiError as exc:
            log.warning("pod %s/%s: marking Failed failed: %s", namespace_of(pod), name_of(pod), exc)
            return
        self.pod_informer.store_local(written)
        log.warning("pod %s/%s marked Failed: %s", namespace_of(pod), name_of(pod), message)
        self.events.record(written, NODE_LOST, f"{message}: pod marked Failed and will be deleted")

    def _delete_one(self, pod: dict) -> bool:
        if self.stop_event.is_set():
            return False
        return delete_by_uid(self.client, self.pod_informer, pod)  # never a newer pod of the name

    def _delete_all(self, pods: list[dict]) -> int:
        """Delete in parallel (the deletes share Raft entries), oldest first into the queue."""
        if self.workers <= 1 or len(pods) == 1:
            return sum(self._delete_one(p) for p in pods)
        with ThreadPoolExecutor(min(self.workers, len(pods)), thread_name_prefix="ctrl-pod-gc") as pool:
            futures = [pool.submit(self._delete_one, p) for p in pods]
            # a NotLeader raised in a worker ends the pass (and the controller)
            return sum(f.result() for f in futures)
