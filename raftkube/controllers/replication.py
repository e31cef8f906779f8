"""Replication manager: keeps ``replicas`` active pods per replicationController (2014's
``pkg/controller/replication_controller.go``), with the fixes the design asks for.

- The store is the truth: every decision counts the pods that exist (the informer's copy, relisted on
  every resync and whenever a new leader starts), so a leader change never doubles a controller's pods.
- Expectations: creates and deletes in flight are remembered per RC until the informer shows them (or
  they expire), so a burst of watch events between a create and its echo does not over-create.
- The surplus is deleted preferring unscheduled pods, then not-yet-running ones, then the newest.
- A burst bounds what one RC has outstanding (Kubernetes' burstReplicas, 500): a sync starts at most
  ``burst`` creates minus those not yet seen, and as many deletes; the next sync (woken by their echoes)
  continues. One RC asking for a billion replicas then adds pods at the store's pace, until the store's quota
  refuses them (StoreFull, logged once per run of failures, retried with backoff), instead of queueing them
  all at once.
- Ownership (Kubernetes' ControllerRef): an RC counts the pods matching its selector that it controls (an
  ``ownerReferences`` entry with ``controller: true`` and its uid) and adopts those no controller owns (adds
  that reference: pods orphaned by ``propagationPolicy: Orphan``, made by hand or by 2014 code); a pod another
  controller owns is never counted, even if that owner is gone (``controllers/owner_gc.py`` deletes it).
  Deleting an RC deletes its pods through the owner garbage collector unless the delete orphans them; an RC
  being deleted (``deletionTimestamp``: a foreground delete) is left alone.
- Its pods always restart: a template stored with restartPolicy Never or OnFailure (before those were refused)
  makes pods with Always, and the controller gets one event saying so.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from raftkube.controllers.base import Controller, LabelIndex, obj_key
from raftkube.controllers.events import EventRecorder
from raftkube.model.errors import ApiError, Conflict, NotFound, NotLeader, StoreFull, Timeout
from raftkube.model.objects import (RUNNING, name_of, namespace_of, pod_active, pod_node, pod_phase, rv_of,
                                    uid_of)
from raftkube.model.selectors import selector_from_map

log = logging.getLogger(__name__)

ALWAYS = "Always"
#: the event a controller gets when its template's restartPolicy is not honoured
RESTART_POLICY_OVERRIDDEN = "RestartPolicyOverridden"


def _deletion_rank(pod: dict) -> tuple:
    """Sorts the pods to delete first: unscheduled, then not running, then the newest."""
    created = (pod.get("metadata") or {}).get("creationTimestamp") or ""
    return (1 if pod_node(pod) else 0, 1 if pod_phase(pod) == RUNNING else 0,
            _Desc(created), _Desc(rv_of(pod)), name_of(pod))


class _Desc:
    """Reverses the order of one sort-key component."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __lt__(self, other: "_Desc") -> bool:
        return other.v < self.v

    def __eq__(self, other) -> bool:
        return isinstance(other, _Desc) and other.v == self.v


def plan_replicas(rc: dict, pods: list[dict], pending_creates: int = 0, *, burst: int | None = None,
                  pending_deletes: int = 0) -> tuple[int, list[dict]]:
    """(number of pods to create, pods to delete) so that ``rc`` has exactly ``spec.replicas`` active pods.

    ``pods`` are the pods matching the RC's selector; active = not Succeeded/Failed nor being deleted. ``pending_creates``
    are creates in flight (or not yet seen): they count against creating more, but never cause a delete,
    since a create's echo may already be among ``pods``; only pods that exist are ever surplus.
    ``burst`` (None: no bound) is the most creates, and separately deletes, outstanding at once:
    ``pending_creates``/``pending_deletes`` already count towards it.
    """
    replicas = int((rc.get("spec") or {}).get("replicas") or 0)
    active = [p for p in pods if pod_active(p)]
    if len(active) > replicas:
        surplus = len(active) - replicas
        if burst is not None:
            surplus = min(surplus, max(burst - pending_deletes, 0))
        return 0, sorted(active, key=_deletion_rank)[:surplus]
    creates = max(replicas - len(active) - pending_creates, 0)
    if burst is not None:
        creates = min(creates, max(burst - pending_creates, 0))
    return creates, []


def controller_uid(pod: dict) -> str | None:
    """The uid of the controller that owns ``pod`` (its ``controller: true`` owner reference), None if none."""
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return str(ref.get("uid") or "")
    return None


def owner_reference(rc: dict) -> dict:
    md = rc.get("metadata") or {}
    return {"kind": "ReplicationController", "name": md.get("name") or "", "uid": md.get("uid") or "",
            "controller": True, "blockOwnerDeletion": True}


def claim_pods(rc: dict, pods: list[dict]) -> tuple[list[dict], list[dict]]:
    """(the pods ``rc`` controls, active pods no controller owns, to adopt) among the pods its selector
    matches. An RC without a uid (built in memory) controls every matching pod and adopts none."""
    uid = uid_of(rc)
    if not uid:
        return list(pods), []
    mine, orphans = [], []
    for p in pods:
        owner = controller_uid(p)
        if owner == uid:
            mine.append(p)
        elif owner is None and pod_active(p):
            orphans.append(p)
    return mine, orphans


def pod_from_template(rc: dict) -> dict:
    """A new pod for ``rc``: the template's spec and a copy of its labels, owned by the RC; the server names it
    ``<rc>-<5 characters>`` (``generateName``).

    Its restartPolicy is Always whatever the template says: a controller's pods always restart. A template
    that says Never or OnFailure is refused since the 422 rule, but a controller stored before it may still
    have one; its pods would run to completion and be replaced over and over (``unsupported_restart_policy``)."""
    template = (rc.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    md = rc.get("metadata") or {}
    owner = owner_reference(rc)
    spec = copy.deepcopy(template.get("spec") or {})
    spec["restartPolicy"] = ALWAYS
    return {"kind": "Pod",
            "metadata": {"name": "", "generateName": pod_name_prefix(md.get("name") or ""), "namespace": namespace_of(rc),
                         "labels": dict(tmeta.get("labels") or {}),
                         "annotations": dict(tmeta.get("annotations") or {}), "ownerReferences": [owner]},
            "spec": spec}


def pod_name_prefix(rc_name: str) -> str:
    """``generateName`` of an RC's pods: its name as a DNS label prefix. 2014's ids such as the article's
    ``redisController`` are not valid pod names, so it is lowercased and other characters become ``-``."""
    prefix = re.sub(r"[^a-z0-9-]+", "-", rc_name.lower()).strip("-")
    return f"{prefix or 'pod'}-"


def unsupported_restart_policy(rc: dict) -> str:
    """The template's restartPolicy if it is one a controller does not honour (Never, OnFailure), else ""."""
    policy = ((((rc.get("spec") or {}).get("template") or {}).get("spec") or {}).get("restartPolicy")) or ALWAYS
    return "" if policy == ALWAYS else str(policy)


@dataclass
class Expectations:
    """What one RC is waiting to see: creates in flight or not yet observed, deletes not yet observed."""

    inflight: int = 0
    created: dict[str, float] = field(default_factory=dict)  # pod name -> expiry
    unknown: list[float] = field(default_factory=list)  # creates of unknown outcome -> expiry
    deleting: dict[str, float] = field(default_factory=dict)  # pod name -> expiry
    retry_at: float = 0.0  # after a failed create, wait until then
    failures: int = 0

    def pending(self) -> int:
        return self.inflight + len(self.created) + len(self.unknown)

    def observe(self, present: set[str], now: float) -> None:
        self.created = {n: t for n, t in self.created.items() if n not in present and t > now}
        self.deleting = {n: t for n, t in self.deleting.items() if n in present and t > now}
        self.unknown = [t for t in self.unknown if t > now]

    def idle(self) -> bool:
        return not (self.inflight or self.created or self.unknown or self.deleting)


class ReplicationManager(Controller):
    name = "replication"

    def __init__(self, client, *, workers: int = 16, expectation_ttl_s: float = 30.0, burst: int = 500,
                 events: EventRecorder | None = None, **kw):
        super().__init__(client, **kw)
        self.burst = burst
        self.events = events if events is not None else EventRecorder(client, "replication-manager", threads=0)
        self._told: set[tuple[str, str, str]] = set()  # (namespace, name, uid) of controllers told about that
        self.pods = LabelIndex()
        self.pod_informer = self.informer("Pod", self._on_pod)
        self.rc_informer = self.informer("ReplicationController", self._on_rc)
        self.informers = [self.rc_informer, self.pod_informer]
        self.expectation_ttl_s = expectation_ttl_s
        self.expectations: dict[tuple[str, str], Expectations] = {}
        self.lock = threading.Lock()
        self._adopting: set[tuple] = set()  # (pod key, resourceVersion) of adoptions in flight
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="ctrl-replication-io") if workers else None

    def _on_pod(self, old: dict | None, new: dict | None) -> None:
        self.pods.update(old, new)
        self.wake()

    def _on_rc(self, old: dict | None, new: dict | None) -> None:
        self.wake()

    def stop(self) -> None:
        super().stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- reconcile --------------------------------------------------------------------------
    def reconcile(self) -> None:
        now = self.clock()
        rcs = self.rc_informer.items()
        live = {obj_key(rc) for rc in rcs}
        with self.lock:
            for key in [k for k, e in self.expectations.items() if k not in live and e.idle()]:
                del self.expectations[key]
        for rc in sorted(rcs, key=obj_key):
            if self.stop_event.is_set():
                return
            self.sync_rc(rc, now)

    def sync_rc(self, rc: dict, now: float) -> None:
        key = obj_key(rc)
        selector = (rc.get("spec") or {}).get("selector") or {}
        if not selector or (rc.get("metadata") or {}).get("deletionTimestamp"):
            return  # an RC being deleted makes, deletes and adopts no pods (Kubernetes' manager does the same)
        mine, orphans = claim_pods(rc, self.pods.select(key[0], selector_from_map(selector)))
        pods = mine + orphans  # adopted now: counted now (a failed adoption is seen by the next sync)
        with self.lock:
            exp = self.expectations.setdefault(key, Expectations())
            exp.observe({name_of(p) for p in pods}, now)
            visible = [p for p in pods if name_of(p) not in exp.deleting]
            to_create, to_delete = plan_replicas(rc, visible, exp.pending(), burst=self.burst,
                                                 pending_deletes=len(exp.deleting))
            if to_create and exp.retry_at > now:
                to_create = 0
            exp.inflight += to_create
            for pod in to_delete:
                exp.deleting[name_of(pod)] = now + self.expectation_ttl_s
            doomed = {name_of(p) for p in to_delete}
            adopt = [p for p in orphans if (obj_key(p), rv_of(p)) not in self._adopting and name_of(p) not in doomed]
            self._adopting.update((obj_key(p), rv_of(p)) for p in adopt)
        for pod in adopt:
            self._run(self._adopt, rc, pod, key)
        if to_create:
            self._tell_restart_policy(rc, key)
        if to_create or to_delete:
            log.info("rc %s/%s: %d active, want %s: creating %d, deleting %d", key[0], key[1],
                     len(visible), (rc.get("spec") or {}).get("replicas"), to_create, len(to_delete))
        for _ in range(to_create):
            self._run(self._create, rc, key)
        for pod in to_delete:
            self._run(self._delete, pod, key)

    def _tell_restart_policy(self, rc: dict, key: tuple[str, str]) -> None:
        """Once per controller (per leadership term): its template's restartPolicy is not honoured."""
        policy = unsupported_restart_policy(rc)
        told = (key[0], key[1], (rc.get("metadata") or {}).get("uid") or "")
        if not policy or told in self._told:
            return
        self._told.add(told)
        message = (f"template restartPolicy {policy} is not supported for a replication controller (stored before "
                   f"it was refused): its pods are created with restartPolicy Always; update the template to say "
                   f"Always")
        log.warning("rc %s/%s: %s", key[0], key[1], message)
        self.events.record(rc, RESTART_POLICY_OVERRIDDEN, message)

    def _run(self, fn, *args) -> None:
        if self._pool is None:
            fn(*args)
            return
        try:
            self._pool.submit(fn, *args)
        except RuntimeError:  # shut down: we are stopping
            pass

    def _create(self, rc: dict, key: tuple[str, str]) -> None:
        name, outcome, full = None, "failed", None
        try:
            if self.stop_event.is_set():
                return
            with self.lock:
                backing_off = self.expectations.setdefault(key, Expectations()).retry_at > self.clock()
            if backing_off:  # an earlier create of this burst failed (e.g. the store is full): wait
                outcome = "skipped"
                return
            created = self.client.create(pod_from_template(rc))
            name, outcome = name_of(created), "created"
        except NotLeader:
            self.stop()
        except Timeout as exc:
            outcome = "unknown"
            log.warning("rc %s/%s: create outcome unknown: %s", key[0], key[1], exc)
        except StoreFull as exc:
            outcome, full = "full", exc
        except ApiError as exc:
            log.warning("rc %s/%s: create failed: %s", key[0], key[1], exc)
        except Exception:
            log.exception("rc %s/%s: create crashed", key[0], key[1])
        finally:
            now = self.clock()
            with self.lock:  # expectations first, then the cache: never both or neither counted
                exp = self.expectations.setdefault(key, Expectations())
                exp.inflight = max(exp.inflight - 1, 0)
                if outcome == "created":
                    exp.created[name] = now + self.expectation_ttl_s
                    exp.failures = 0
                elif outcome == "unknown":
                    exp.unknown.append(now + self.expectation_ttl_s)
                elif outcome != "skipped" and not self.stop_event.is_set():
                    # the burst in flight fails alike (and a create that raced ahead may succeed in
                    # between): say so once per backoff, not once per pod
                    if full is not None and exp.retry_at <= now:
                        log.warning("rc %s/%s: creates refused, retrying with backoff: %s", key[0], key[1], full)
                    exp.failures += 1
                    exp.retry_at = now + min(0.5 * 2 ** min(exp.failures, 16), 30.0)
            self.stats.count("pod_creates", outcome)
            if outcome == "created":
                self.pod_informer.store_local(created)
            self.wake()

    def _adopt(self, rc: dict, pod: dict, key: tuple[str, str]) -> None:
        """Add ``rc``'s controller reference to an orphan pod (conditional on the version it saw: a pod changed or
        adopted by another controller meanwhile is left to the next sync)."""
        result = "failed"
        try:
            if self.stop_event.is_set():
                result = "skipped"
                return
            new = copy.deepcopy(pod)
            md = new["metadata"]
            md["ownerReferences"] = list(md.get("ownerReferences") or []) + [owner_reference(rc)]
            self.pod_informer.store_local(self.client.update(new))
            result = "adopted"
            log.info("rc %s/%s: adopted pod %s", key[0], key[1], name_of(pod))
        except NotLeader:
            self.stop()
        except (Conflict, NotFound):
            result = "gone"
        except ApiError as exc:
            log.warning("rc %s/%s: adopting pod %s failed: %s", key[0], key[1], name_of(pod), exc)
        finally:
            with self.lock:
                self._adopting.discard((obj_key(pod), rv_of(pod)))
            self.stats.count("pod_adoptions", result)
        self.wake()

    def _delete(self, pod: dict, key: tuple[str, str]) -> None:
        result = "failed"
        try:
            if self.stop_event.is_set():
                result = "skipped"
                return
            # the uid precondition: never a newer pod that took the name meanwhile
            self.client.delete("Pod", name_of(pod), namespace_of(pod), uid=uid_of(pod))
            result = "deleted"
            self.pod_informer.store_local(pod, deleted=True)
        except NotLeader:
            self.stop()
        except NotFound:
            result = "gone"
            self.pod_informer.store_local(pod, deleted=True)
        except Conflict:  # the pod it meant is gone; the one of that name now is another (the watch brings it)
            result = "gone"
            with self.lock:
                self.expectations.setdefault(key, Expectations()).deleting.pop(name_of(pod), None)
        except ApiError as exc:
            log.warning("rc %s/%s: deleting pod %s failed: %s", key[0], key[1], name_of(pod), exc)
            with self.lock:
                self.expectations.setdefault(key, Expectations()).deleting.pop(name_of(pod), None)
        finally:
            self.stats.count("pod_deletes", result)
        self.wake()

    def queue_depth(self) -> int:
        """Pod creates and deletes in flight or not yet seen by the watch."""
        with self.lock:
            return sum(e.pending() + len(e.deleting) for e in self.expectations.values())

    def wait_idle(self, timeout_s: float = 5.0) -> bool:
        """Tests: wait until no create or delete is in flight."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if all(e.inflight == 0 for e in self.expectations.values()):
                    return True
            time.sleep(0.01)
        return False
