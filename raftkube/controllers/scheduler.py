"""The scheduler's loop and wiring: unbound pods -> ``algorithm.find_fit`` -> atomic bind.

A cache fed by watches (minions, pods, and the RC/service selectors used for spreading) holds, per
minion, what its bound pods and the pods we are binding ("assumed") request, so scheduling one pod never
relists. Binds run on a few threads at once; a failed bind forgets its assumption. A pod that fits
nowhere stays Pending with reason ``failedScheduling`` and is retried with backoff (1 s doubling up to
60 s), or at once when a minion appears or changes or a pod goes away.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from raftkube.controllers import algorithm
from raftkube.controllers.algorithm import NodeInfo, PodRequest, pod_request
from raftkube.controllers.base import Controller, ObjKey, obj_key
from raftkube.controllers.events import EventRecorder
from raftkube.model.errors import ApiError, Conflict, NotFound, NotLeader
from raftkube.model.objects import ACTIVE_PHASES, labels_of, name_of, pod_node, pod_phase
from raftkube.model.selectors import selector_from_map

log = logging.getLogger(__name__)

FAILED_SCHEDULING = "failedScheduling"
SCHEDULED = "scheduled"

LabelSet = tuple[str, frozenset]  # (namespace, labels)


@dataclass
class Backoff:
    delay_s: float
    next_at: float
    last_event: str = ""
    last_event_at: float = float("-inf")


def _label_set(pod: dict) -> LabelSet:
    return obj_key(pod)[0], frozenset(labels_of(pod).items())


def _node_signature(node: dict) -> tuple:
    """What about a minion matters to scheduling (heartbeats alone change nothing)."""
    info = NodeInfo.from_node(node)
    return (tuple(sorted(info.labels.items())), info.cpu_capacity, info.memory_capacity, info.ready,
            info.schedulable)


class Scheduler(Controller):
    name = "scheduler"
    debounce_s = 0.005

    def __init__(self, client, *, binders: int = 16, backoff_initial_s: float = 1.0,
                 backoff_max_s: float = 60.0, events: EventRecorder | None = None, **kw):
        super().__init__(client, **kw)
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.events = events if events is not None else EventRecorder(client, "scheduler", threads=0)
        self.lock = threading.RLock()
        self.nodes: dict[str, NodeInfo] = {}  # every minion name pods refer to (usage kept here)
        self.live_nodes: dict[str, tuple] = {}  # existing minions -> scheduling signature
        self.pods: dict[ObjKey, dict] = {}
        self.assumed: dict[ObjKey, str] = {}  # binds in flight (or not yet seen by the watch)
        self.counted: dict[ObjKey, tuple[str, PodRequest, LabelSet]] = {}
        self.queue: dict[ObjKey, None] = {}  # unbound active pods, oldest first
        self._queued_at: dict[ObjKey, float] = {}  # when a queued pod was first seen unbound (latency metric)
        self.backoff: dict[ObjKey, Backoff] = {}
        self.label_sets_on: dict[str, Counter] = {}
        self.label_sets: Counter = Counter()
        self.spreaders: dict[tuple[str, str, str], tuple[str, dict]] = {}  # (kind, ns, name) -> (ns, selector)
        self._spread_cache: dict[LabelSet, list[LabelSet]] = {}
        self.bound = 0
        self._parked = False  # pods are parked while no minion is ready (logged once per parking)
        self.node_informer = self.informer("Node", self._on_node)
        self.pod_informer = self.informer("Pod", self._on_pod)
        self.informers = [self.node_informer,
                          self.informer("ReplicationController", self._on_spreader),
                          self.informer("Service", self._on_spreader),
                          self.pod_informer]
        self._pool = ThreadPoolExecutor(binders, thread_name_prefix="ctrl-scheduler-bind") if binders else None

    def stop(self) -> None:
        super().stop()
        self.events.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- cache maintenance (watch threads) --------------------------------------------------
    def _on_node(self, old: dict | None, new: dict | None) -> None:
        with self.lock:
            if new is None:
                self.live_nodes.pop(name_of(old), None)
                return
            name = name_of(new)
            info = NodeInfo.from_node(new)
            prev = self.nodes.get(name)
            if prev is not None:
                info.cpu_requested, info.memory_requested = prev.cpu_requested, prev.memory_requested
                info.host_ports, info.pods = prev.host_ports, prev.pods
            self.nodes[name] = info
            sig = _node_signature(new)
            changed = self.live_nodes.get(name) != sig
            self.live_nodes[name] = sig
            if changed:
                self._retry_all()
        if changed:
            self.wake()

    def _on_spreader(self, old: dict | None, new: dict | None) -> None:
        obj = new or old
        key = (obj["kind"],) + obj_key(obj)
        with self.lock:
            if new is None:
                self.spreaders.pop(key, None)
            else:
                sel = (new.get("spec") or {}).get("selector") or {}
                if sel:
                    self.spreaders[key] = (key[1], dict(sel))
                else:
                    self.spreaders.pop(key, None)
            self._spread_cache.clear()

    def _on_pod(self, old: dict | None, new: dict | None) -> None:
        key = obj_key(new or old)
        wake = False
        with self.lock:
            freed = False
            if new is None:
                self.pods.pop(key, None)
                self.queue.pop(key, None)
                self._queued_at.pop(key, None)
                self.backoff.pop(key, None)
                self.assumed.pop(key, None)
                freed = key in self.counted
            else:
                self.pods[key] = new
                active = pod_phase(new) in ACTIVE_PHASES
                if pod_node(new):
                    self.assumed.pop(key, None)
                    self.queue.pop(key, None)
                    self._scheduled(key)
                    self.backoff.pop(key, None)
                elif active:
                    if key not in self.queue:
                        self.queue[key] = None
                        self._queued_at.setdefault(key, self.clock())
                        wake = True
                else:
                    self.queue.pop(key, None)
                    self._queued_at.pop(key, None)
                    self.backoff.pop(key, None)
                freed = key in self.counted and not active
            self._recount(key)
            if freed:
                self._retry_all()
                wake = bool(self.queue)
        if wake:
            self.wake()

    def _recount(self, key: ObjKey) -> None:
        """Move the pod's requests to the minion it is (or is about to be) on."""
        prev = self.counted.pop(key, None)
        if prev is not None:
            node, req, ls = prev
            self.nodes[node].remove(req)
            on = self.label_sets_on[node]
            on[ls] -= 1
            if on[ls] <= 0:
                del on[ls]
            self.label_sets[ls] -= 1
            if self.label_sets[ls] <= 0:
                del self.label_sets[ls]
        pod = self.pods.get(key)
        if pod is None or pod_phase(pod) not in ACTIVE_PHASES:
            return
        node = pod_node(pod) or self.assumed.get(key)
        if not node:
            return
        req, ls = pod_request(pod), _label_set(pod)
        if node not in self.nodes:
            self.nodes[node] = NodeInfo(node, ready=False)
        self.nodes[node].add(req)
        self.label_sets_on.setdefault(node, Counter())[ls] += 1
        if ls not in self.label_sets:
            self._spread_cache.clear()
        self.label_sets[ls] += 1
        self.counted[key] = (node, req, ls)

    def _retry_all(self) -> None:
        for b in self.backoff.values():
            b.next_at = float("-inf")

    # ---- spreading --------------------------------------------------------------------------
    def _spread_counts(self, pod: dict) -> dict[str, int]:
        """Per minion, the pods sharing a replication controller or service with ``pod``."""
        ls = _label_set(pod)
        peers = self._spread_cache.get(ls)
        if peers is None:
            labels = dict(ls[1])
            sels = [selector_from_map(sel) for ns, sel in self.spreaders.values()
                    if ns == ls[0] and selector_from_map(sel).matches(labels)]
            peers = [other for other in self.label_sets
                     if other[0] == ls[0] and any(s.matches(dict(other[1])) for s in sels)] if sels else []
            self._spread_cache[ls] = peers
        if not peers:
            return {}
        counts = {}
        for node in self.live_nodes:
            on = self.label_sets_on.get(node)
            if on:
                n = sum(on.get(p, 0) for p in peers)
                if n:
                    counts[node] = n
        return counts

    # ---- scheduling -------------------------------------------------------------------------
    def next_deadline_s(self) -> float | None:
        with self.lock:
            waiting = [b.next_at for k, b in self.backoff.items() if k in self.queue]
        return max(min(waiting) - self.clock(), 0.0) if waiting else None

    def reconcile(self) -> None:
        self.schedule_pending()

    def _scheduled(self, key: ObjKey) -> None:
        """The pod is bound (our bind answered, or the watch showed it first): queued -> bound latency."""
        with self.lock:
            queued_at = self._queued_at.pop(key, None)
        if queued_at is not None:
            self.stats.observe("scheduling_duration", max(self.clock() - queued_at, 0.0))

    def queue_depth(self) -> int:
        """Active pods not bound yet."""
        with self.lock:
            return len(self.queue)

    def schedule_pending(self) -> int:
        """One pass over the unbound pods whose backoff is over; returns the number of binds started."""
        now = self.clock()
        with self.lock:
            if not self.live_nodes:
                # Nothing can fit anywhere: park every pod (no per-pod work, writes or events) until a
                # minion appears, which wakes this loop through the node informer.
                if not self._parked and self.queue:
                    self._parked = True
                    log.info("%d pod(s) wait for a ready minion", len(self.queue))
                return 0
            self._parked = False
            keys = [k for k in self.queue
                    if k not in self.assumed and (k not in self.backoff or self.backoff[k].next_at <= now)]
        started = 0
        for key in keys:
            if self.stop_event.is_set():
                break
            with self.lock:
                pod = self.pods.get(key)
                if pod is None or key not in self.queue or key in self.assumed:
                    continue
                candidates = [self.nodes[n] for n in sorted(self.live_nodes)]
                fit = algorithm.find_fit(pod_request(pod), candidates, self._spread_counts(pod), self.rng)
                if fit.node is not None:
                    self.assumed[key] = fit.node
                    self._recount(key)
            if fit.node is None:
                self._unschedulable(key, pod, fit.message, now)
                continue
            started += 1
            if self._pool is None:
                self._bind(key, pod, fit.node)
            else:
                try:
                    self._pool.submit(self._bind, key, pod, fit.node)
                except RuntimeError:  # stopping
                    break
        return started

    def _bind(self, key: ObjKey, pod: dict, node: str) -> None:
        ok = False
        try:
            if self.stop_event.is_set():
                return
            self.client.bind(key[0], key[1], node)
            ok = True
        except NotLeader:
            self.stop()
        except (Conflict, NotFound) as exc:
            log.info("pod %s/%s not bound to %s: %s", key[0], key[1], node, exc)
        except ApiError as exc:
            log.warning("pod %s/%s: binding to %s failed: %s", key[0], key[1], node, exc)
        except Exception:
            log.exception("pod %s/%s: binding crashed", key[0], key[1])
        finally:
            if not ok:
                self.stats.count("attempts", "error")
                with self.lock:
                    if self.assumed.get(key) == node:
                        del self.assumed[key]
                        self._recount(key)
                self.wake()
        if not ok:
            return
        self.bound += 1
        self.stats.count("attempts", "scheduled")
        self._scheduled(key)
        log.info("pod %s/%s bound to %s", key[0], key[1], node)
        self.events.record(pod, SCHEDULED, f"Successfully assigned {key[1]} to {node}", status="Pending")
        if ((pod.get("status") or {}).get("reason") or "") == FAILED_SCHEDULING:
            self._write_status(key, "", "")

    def _unschedulable(self, key: ObjKey, pod: dict, message: str, now: float) -> None:
        self.stats.count("attempts", "unschedulable")
        with self.lock:
            b = self.backoff.get(key)
            if b is None:
                b = self.backoff[key] = Backoff(self.backoff_initial_s, now + self.backoff_initial_s)
            else:
                b.delay_s = min(b.delay_s * 2, self.backoff_max_s)
                b.next_at = now + b.delay_s
            emit = message != b.last_event or now - b.last_event_at >= b.delay_s
            if emit:
                b.last_event, b.last_event_at = message, now
        log.log(logging.INFO if emit else logging.DEBUG, "pod %s/%s: %s (retry in %.0f s)", key[0], key[1], message,
                b.delay_s)
        status = pod.get("status") or {}
        with self.lock:
            have_minions = bool(self.live_nodes)
        # With no minion registered at all the event says it; the pod itself is left untouched, so a
        # cluster without minions (an API-only test setup) sees no controller writes to its pods.
        if have_minions and (status.get("reason") != FAILED_SCHEDULING or status.get("message") != message):
            self._write_status(key, FAILED_SCHEDULING, message)
        if emit:
            self.events.record(pod, FAILED_SCHEDULING, message, status="Pending")

    def _write_status(self, key: ObjKey, reason: str, message: str) -> None:
        """Set (or clear) the pod's scheduling reason; the status has no other writer before a kubelet."""
        try:
            pod = self.client.get("Pod", key[1], key[0])
            status = dict(pod.get("status") or {})
            if status.get("reason", "") == reason and status.get("message", "") == message:
                return
            if not reason and status.get("reason") != FAILED_SCHEDULING:
                return  # the kubelet has written since: leave its status alone
            status["reason"], status["message"] = reason, message
            pod["status"] = status
            self.pod_informer.store_local(self.client.update_status(pod))
        except NotLeader:
            self.stop()
        except (Conflict, NotFound):
            pass
        except ApiError as exc:
            log.warning("pod %s/%s: status update failed: %s", key[0], key[1], exc)
