"""Registry: the object-level operations every master serves, over the replicated store."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterator

from raftkube.model import validation
from raftkube.config import DEFAULT_MAX_OBJECT_BYTES
from raftkube.model.errors import (AlreadyExists, ApiError, BadRequest, Conflict, NotFound, RequestTooLarge,
                                   Timeout)
from raftkube.model.objects import (DEFAULT_NAMESPACE, RESOURCES_BY_KIND, key_of, labels_of, name_of,
                                    namespace_of, pod_active, pod_ready, rv_of)
from raftkube.model.services import service_env, service_host
from raftkube.model.selectors import FieldSelector, LabelSelector, selector_from_map
from raftkube.model.watch import WatchEvent
from raftkube.registry import strategy
from raftkube.registry.owners import FOREGROUND_FINALIZER, OWNER_KINDS, orphan_ops
from raftkube.registry.watchfeed import WatchFeed, WatchFilter
from raftkube.state.codec import decode_object, encode_object
from raftkube.state.machine import ADDED, DELETED, Replayed, check_result

log = logging.getLogger(__name__)

#: tries of a delete without the client's resourceVersion that other writes keep overtaking
DELETE_ATTEMPTS = 5
#: renderings get_rendered keeps (least recently read dropped first)
RENDERED_CACHE_SIZE = 4096
#: how many names ``create`` generates from a ``generateName`` before it answers AlreadyExists
GENERATE_NAME_TRIES = 5


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class WriteRequest:
    """A client's id for one logical write, the same on each attempt (``Raftkube-Request-Id``); ``replay``:
    not the first attempt (``Raftkube-Attempt`` > 1), so the first may have applied on any master."""

    id: str
    replay: bool = False


class Registry:
    """Every write carries a request id (the client's ``WriteRequest``, or one of its own), so a re-submission
    after an unknown outcome, here or by the client on another master, applies at most once and answers with the
    first outcome (state/machine.py's request ids).

    ``quota_bytes`` (``[cluster] quota_bytes``; None: no quota) goes into every create and update this
    registry proposes, so the state machine refuses them (StoreFull) once the store holds that many bytes;
    status updates, binds and deletes carry none and always apply.

    ``max_object_bytes`` (``[cluster] max_object_bytes``; None: no cap): a create or update whose object takes
    more bytes encoded is refused with 413 before anything is proposed."""

    def __init__(self, store, *, clock: Callable[[], float] = time.time,
                 new_uid: Callable[[], str] = lambda: str(uuid.uuid4()), quota_bytes: int | None = None,
                 max_object_bytes: int | None = DEFAULT_MAX_OBJECT_BYTES):
        self.store = store
        self.quota_bytes = quota_bytes
        self.max_object_bytes = max_object_bytes
        self.clock = clock
        self.new_uid = new_uid
        self._labels_cache: dict[tuple, tuple[int, dict | None, bool]] = {}  # pod key -> (rv, labels or None
        # if terminated, whether it is ready), for RC counts
        # (render, key) -> (rv, rendered): the last rendering of each object read through get_rendered
        self._rendered: OrderedDict[tuple, tuple[int, bytes]] = OrderedDict()
        self._rendered_lock = threading.Lock()

    # ---- reads ------------------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str, *, consistent: bool = True) -> dict:
        _, rv, data = self._lookup(kind, namespace, name, consistent)
        return self._decorate(decode_object(data, rv))

    def _lookup(self, kind: str, namespace: str, name: str, consistent: bool) -> tuple[tuple, int, bytes]:
        """(key, resourceVersion, stored bytes) of one object, or NotFound."""
        key = self._key(kind, namespace, name)
        found = self.store.read(consistent).get(key)
        if found is None:
            raise NotFound(f'{RESOURCES_BY_KIND[kind].singular} "{name}" not found', kind=kind, name=name)
        return key, found[0], found[1]

    def get_rendered(self, kind: str, namespace: str, name: str, render: Callable[[dict], bytes], *,
                     consistent: bool = True) -> bytes:
        """``render(get(...))``, remembered per object and resourceVersion (an object never changes without a
        new one): reading an unchanged object again skips decoding and rendering. Not for RCs, whose replica
        count is computed on read."""
        if kind == "ReplicationController":
            return render(self.get(kind, namespace, name, consistent=consistent))
        key, rv, data = self._lookup(kind, namespace, name, consistent)
        ckey = (render, key)
        with self._rendered_lock:
            hit = self._rendered.get(ckey)
            if hit is not None and hit[0] == rv:
                self._rendered.move_to_end(ckey)
                return hit[1]
        out = render(decode_object(data, rv))
        with self._rendered_lock:
            self._rendered[ckey] = (rv, out)
            self._rendered.move_to_end(ckey)
            while len(self._rendered) > RENDERED_CACHE_SIZE:
                self._rendered.popitem(last=False)
        return out

    def list(self, kind: str, namespace: str | None = None, labels: LabelSelector | None = None,
             fields: FieldSelector | None = None, *, consistent: bool = True) -> tuple[list[dict], int]:
        """Objects of a kind (``namespace`` None = all), filtered; returns (items, revision)."""
        view = self.store.read(consistent)
        if not RESOURCES_BY_KIND[kind].namespaced:
            namespace = None
        revision, raw = view.list(kind, namespace)
        items = []
        for _key, rv, data in raw:
            obj = decode_object(data, rv)
            if labels is not None and not labels.matches(labels_of(obj)):
                continue
            if fields is not None and not fields.matches(obj):
                continue
            items.append(obj)
        items.sort(key=lambda o: (namespace_of(o), name_of(o)))
        if kind == "ReplicationController":
            self._count_replicas(items)
        return items, revision

    def _decorate(self, obj: dict) -> dict:
        if obj["kind"] == "ReplicationController":
            self._count_replicas([obj])
        return obj

    def _count_replicas(self, rcs: list[dict]) -> None:
        """RC status.replicas is computed on read: the pods matching the selector that are active (``pod_active``:
        Succeeded/Failed pods do not count, so waits on the count end when one lingers, nor pods being deleted); ``readyReplicas`` those
        of them that are ready (``pod_ready``: Running, every container ready)."""
        if not rcs:
            return
        by_ns: dict[str, list[tuple[dict, bool]]] = {}
        for rc in rcs:
            ns = namespace_of(rc)
            if ns not in by_ns:
                by_ns[ns] = self._pod_labels(ns)
            sel = (rc.get("spec") or {}).get("selector") or {}
            count = ready = 0
            if sel:
                s = selector_from_map(sel)
                for lbl, is_ready in by_ns[ns]:
                    if s.matches(lbl):
                        count += 1
                        ready += is_ready
            status = rc.setdefault("status", {})
            status["replicas"], status["readyReplicas"] = count, ready

    def _pod_labels(self, namespace: str) -> list[tuple[dict, bool]]:
        """(labels, ready) of every pod in a namespace that is not terminated, decoding only pods changed since
        the last call."""
        _rev, raw = self.store.read(consistent=False).list("Pod", namespace)
        cache = self._labels_cache
        out = []
        for key, rv, data in raw:
            hit = cache.get(key)
            if hit is None or hit[0] != rv:
                pod = decode_object(data, rv)
                live = pod_active(pod)
                hit = cache[key] = (rv, (pod["metadata"].get("labels") or {}) if live else None, pod_ready(pod))
            if hit[1] is not None:
                out.append((hit[1], hit[2]))
        if len(cache) > 2 * len(raw) + 1024:  # forget deleted pods now and then
            live = {key for key, _rv, _data in raw}
            for key in [k for k in list(cache) if k[1] == namespace and k not in live]:
                cache.pop(key, None)  # API threads share the cache: tolerate concurrent changes
        return out

    # ---- writes -----------------------------------------------------------------------------
    def create(self, obj: dict, *, epoch: int | None = None, request: WriteRequest | None = None) -> dict:
        """Create ``obj``. A name generated from ``generateName`` that is taken (5 random characters: with
        thousands of pods of one RC a collision is likely) is generated again, up to ``GENERATE_NAME_TRIES``
        times, unless the write has a client request id (its outcome is the one the id remembers)."""
        if rv_of(obj):
            raise BadRequest("resourceVersion may not be set on objects to be created")
        md = obj.get("metadata") or {}
        tries = GENERATE_NAME_TRIES if not md.get("name") and md.get("generateName") and request is None else 1
        for attempt in range(tries):
            if attempt:
                obj["metadata"]["name"] = ""
            uid = self.new_uid()
            now = self.clock()
            strategy.prepare_for_create(obj, uid=uid, now=rfc3339(now), event_suffix=f"{int(now * 1e9):x}")
            validation.validate(obj)
            try:
                return self._write("create", key_of(obj), obj, 0, epoch, self.quota_bytes, request)
            except AlreadyExists:
                if attempt == tries - 1:
                    raise
        raise AssertionError("unreachable")

    def update(self, obj: dict, *, epoch: int | None = None, require_rv: bool = True,
               request: WriteRequest | None = None) -> dict:
        """Replace an object; ``metadata.resourceVersion`` must match the stored one (409 otherwise)."""
        kind = obj["kind"]
        rv = rv_of(obj)
        if require_rv and not rv:
            name = name_of(obj)
            raise Conflict(f'{RESOURCES_BY_KIND[kind].singular} "{name}" cannot be updated: '
                           "resourceVersion must be set to the current version (GET the object first)",
                           kind=kind, name=name)
        if kind == "Event":
            raise BadRequest("events are immutable: they cannot be updated")
        strategy.normalize_meta(obj)
        key = key_of(obj)
        first = self._first_outcome(request)
        if first is not None:
            return self._replay_answer(first, key)
        old = self._local(key)
        if rv and rv != rv_of(old):
            old = self._fresh(key)  # a stale local copy must not answer 409
        if rv and rv != rv_of(old):
            raise Conflict(f'{RESOURCES_BY_KIND[kind].singular} "{key[2]}" cannot be updated: resourceVersion '
                           f"{rv} does not match the current {rv_of(old)}", kind=kind, name=key[2])
        strategy.prepare_for_update(obj, old)
        validation.validate(obj)
        validation.validate_deleting_update(old, obj)
        if kind == "Pod":
            validation.validate_pod_update(old, obj)
        if obj["metadata"].get("deletionTimestamp") and not obj["metadata"].get("finalizers"):
            return self._finalized(key, obj, rv_of(old), epoch, request)
        return self._write("update", key, obj, rv_of(old), epoch, self.quota_bytes, request)

    def _finalized(self, key, obj: dict, expect_rv: int, epoch: int | None, request: WriteRequest | None) -> dict:
        """An update that removes the last finalizer of an object being deleted deletes it (Kubernetes'
        store does the same), conditional on the version it was read from; answers the object as deleted."""
        revs = self._named(key, self._submit, [{"op": "delete", "key": list(key), "rv": expect_rv}], epoch, request)
        if isinstance(revs, Replayed):
            return self._gone(key, revs)
        obj["metadata"]["resourceVersion"] = revs[-1]
        return self._decorate(obj)

    def update_status(self, obj: dict, *, epoch: int | None = None, request: WriteRequest | None = None) -> dict:
        """Replace only ``status`` (pods from the kubelet, minions' heartbeats); the spec is untouched.

        Without a resourceVersion the write applies to whatever version is current (the status has one
        writer; a lost race is retried on a fresh read, each try a transaction of its own, so the client's
        request id is not used: a replay writes the same status again); with one, it is a compare-and-swap
        like any update, applied at most once per request id.
        """
        strategy.normalize_meta(obj)
        key = key_of(obj)
        if not rv_of(obj):
            request = None
        first = self._first_outcome(request)
        if first is not None:
            return self._replay_answer(first, key)
        for attempt in range(5):
            old = self._local(key) if attempt == 0 else self._fresh(key)  # lost a race: re-read it fresh
            rv = rv_of(obj)
            if rv and rv != rv_of(old):
                old = self._fresh(key)
            if rv and rv != rv_of(old):
                raise Conflict(f'{RESOURCES_BY_KIND[key[0]].singular} "{key[2]}" cannot be updated: '
                               f"resourceVersion {rv} does not match the current {rv_of(old)}",
                               kind=key[0], name=key[2])
            merged = strategy.prepare_status_update(obj, old)
            validation.validate(merged)
            if key[0] == "Pod":  # checked against the version the write is conditional on: atomic
                validation.validate_pod_status_update(old, merged)
            try:  # no quota: a full store still takes the kubelet's pod status and the minions' heartbeats
                return self._write("update", key, merged, rv_of(old), epoch, None, request)
            except Conflict:
                if rv or attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def _write(self, op_name: str, key, obj: dict, expect_rv: int, epoch: int | None, quota: int | None,
               request: WriteRequest | None) -> dict:
        """Propose a create or update of ``obj`` (refused with StoreFull past ``quota``); answer with the
        stored object."""
        op = {"op": op_name, "key": list(key), "data": encode_object(obj)}
        if self.max_object_bytes is not None and len(op["data"]) > self.max_object_bytes:
            raise RequestTooLarge(f'{RESOURCES_BY_KIND[key[0]].singular} "{key[2]}" is too large: '
                                  f'{len(op["data"])} bytes encoded, the most is {self.max_object_bytes} '
                                  "([cluster] max_object_bytes)", kind=key[0], name=key[2])
        if expect_rv:
            op["rv"] = expect_rv
        if quota is not None:
            op["quota"] = quota
        revs = self._submit([op], epoch, request)
        if isinstance(revs, Replayed):  # an earlier attempt of the client's, maybe prepared on another master
            return self._current(key, revs)
        obj["metadata"]["resourceVersion"] = revs[0]
        return self._decorate(obj)

    def delete(self, kind: str, namespace: str, name: str, *, epoch: int | None = None, rv: int = 0,
               uid: str = "", orphan: bool = False, foreground: bool = False,
               request: WriteRequest | None = None) -> dict:
        """Delete an object and answer with the version deleted; ``rv``/``uid`` (DeleteOptions.preconditions)
        are checked by the state machine as the delete applies: 409 when the object there is not that version
        or not that object. ``orphan`` keeps its dependents: their references to it are removed in the same
        transaction (``owners.orphan_ops``; without it the garbage collector deletes them). ``foreground``
        (an owner kind only: nothing else has dependents) marks the object instead (``deletionTimestamp``, the
        ``foregroundDeletion`` finalizer) and answers it marked; the owner garbage collector deletes its
        dependents, then removes the finalizer, which deletes it (``update``). An object with finalizers of its
        own is marked the same way by any delete (answered marked) and goes when an update removes the last one.

        Without the client's ``rv`` the delete carries the resourceVersion of the copy it answers with, and a
        lost race (a write in between, or this master's copy behind) is tried again on a fresh read, so the
        answer is never an older version, nor another object of the same name."""
        key = self._key(kind, namespace, name)
        if foreground and kind in OWNER_KINDS:
            return self._mark_for_foreground(key, rv, uid, epoch, request)
        first = self._first_outcome(request)
        if first is not None:
            return self._gone(key, self._named(key, check_result, first))
        old = self._local(key)
        for attempt in range(DELETE_ATTEMPTS):
            # finalizers of its own hold the object (a Background or Orphan delete drops foregroundDeletion):
            # it is marked, and deleted when an update removes the last of them
            held = [f for f in old["metadata"].get("finalizers") or () if f != FOREGROUND_FINALIZER]
            if held and old["metadata"].get("deletionTimestamp") and held == old["metadata"]["finalizers"]:
                return self._decorate(old)  # already marked so: a second delete changes nothing
            if held:
                if uid and old["metadata"].get("uid") != uid:
                    raise Conflict(f'{RESOURCES_BY_KIND[kind].singular} "{name}" cannot be deleted: the '
                                   f"precondition uid {uid} does not match the object", kind=kind, name=name)
                marked = self._being_deleted(old, held)
                op = {"op": "update", "key": list(key), "data": encode_object(marked), "rv": rv or rv_of(old)}
            else:
                op = {"op": "delete", "key": list(key), "rv": rv or rv_of(old)}
                if uid:
                    op["uid"] = uid
            ops = (orphan_ops(self._local_view(), old) if orphan else []) + [op]
            try:
                revs = self._named(key, self._submit, ops, epoch, request)
            except Conflict:
                if rv and not orphan:
                    raise  # the client's own precondition
                old = self._fresh(key)  # (with orphan, a dependent that changed meanwhile also refuses)
                if rv and rv_of(old) != rv:
                    raise  # a refused delete is not remembered: the same request id may go again
                if uid and old["metadata"].get("uid") != uid:
                    raise
                if attempt == DELETE_ATTEMPTS - 1:
                    raise Conflict(f'{RESOURCES_BY_KIND[kind].singular} "{name}" cannot be deleted: it changed '
                                   f"{DELETE_ATTEMPTS} times while being deleted; try again", kind=kind,
                                   name=name) from None
                continue
            if isinstance(revs, Replayed):
                return self._gone(key, revs)
            if held:
                marked["metadata"]["resourceVersion"] = revs[-1]
                return self._decorate(marked)
            return old
        raise AssertionError("unreachable")

    def _being_deleted(self, obj: dict, finalizers: list[str]) -> dict:
        """A copy of ``obj`` marked for deletion (its ``deletionTimestamp`` kept if it has one) with ``finalizers``."""
        md = dict(obj["metadata"])
        md["deletionTimestamp"] = md.get("deletionTimestamp") or rfc3339(self.clock())
        md["finalizers"] = finalizers
        return dict(obj, metadata=md)

    def _mark_for_foreground(self, key, rv: int, uid: str, epoch: int | None, request: WriteRequest | None) -> dict:
        """A foreground delete: ``deletionTimestamp`` and the ``foregroundDeletion`` finalizer, as one update
        conditional on the version read (without the client's ``rv`` a lost race is read again and retried).
        An object already marked answers as it is: a second delete is fine."""
        first = self._first_outcome(request)
        if first is not None:
            return self._replay_answer(first, key)
        for attempt in range(DELETE_ATTEMPTS):
            old = self._local(key) if attempt == 0 else self._fresh(key)
            if rv and rv != rv_of(old):
                old = self._fresh(key)
            if (rv and rv != rv_of(old)) or (uid and old["metadata"].get("uid") != uid):
                raise Conflict(f'{RESOURCES_BY_KIND[key[0]].singular} "{key[2]}" cannot be deleted: the '
                               "precondition (uid, resourceVersion) does not match the object", kind=key[0],
                               name=key[2])
            finalizers = list(old["metadata"].get("finalizers") or ())
            if FOREGROUND_FINALIZER in finalizers and old["metadata"].get("deletionTimestamp"):
                return self._decorate(old)
            marked = self._being_deleted(old, finalizers + [FOREGROUND_FINALIZER])
            try:  # no quota: a delete goes through on a full store
                return self._write("update", key, marked, rv_of(old), epoch, None, request)
            except Conflict:
                if rv or attempt == DELETE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _named(key, fn, *args):
        """``fn(*args)``, its Conflict naming the object (an API version words it in its own terms)."""
        try:
            return fn(*args)
        except Conflict as exc:
            if not exc.name:
                exc.kind, exc.name = key[0], key[2]
            raise

    def bind(self, namespace: str, pod_name: str, node: str, *, service_env: list | None = None,
             epoch: int | None = None, request: WriteRequest | None = None) -> dict:
        """Atomically set a pod's host ("" -> node); fails with 409 if it is already bound."""
        key = self._key("Pod", namespace, pod_name)
        first = self._first_outcome(request)
        if first is not None:
            return self._replay_answer(first, key)
        self._local(key)  # 404 before proposing
        if not node:
            raise BadRequest("binding needs a host")
        if service_env is None:
            service_env = self._service_env(key[1], node)
        op = {"op": "bind", "key": list(key), "node": node}
        if service_env:
            op["patch"] = {"serviceEnv": service_env}
        return self._current(key, self._submit([op], epoch, request))

    def _service_env(self, namespace: str, node: str) -> list[dict]:
        """The service variables of a pod bound now to ``node``: this namespace's services (local read)."""
        view = self._local_view()
        _rev, raw = view.list("Service", namespace)
        services = [decode_object(data, rv) for _key, rv, data in raw]
        if not services:
            return []
        found = view.get(self._key("Node", "", node))
        return service_env(services, service_host(decode_object(found[1], found[0]) if found else None, node))

    def transaction(self, ops: list[dict], *, epoch: int | None = None) -> list:
        """Raw batch of store ops, applied atomically (for controllers that need several at once)."""
        return self.store.submit({"ops": ops, **({"epoch": epoch} if epoch is not None else {})})

    def _submit(self, ops: list[dict], epoch: int | None, request: WriteRequest | None) -> list:
        """Submit under a request id, settling an unknown outcome by a linearizable re-read, all within the
        write timeout: the first attempt's result if it applied, else a re-submission, which the state machine
        applies only if the first never does (same id). Returns the revisions; ``Replayed`` ones when the write
        had applied before this call (the client's earlier attempt)."""
        rid = request.id if request is not None else uuid.uuid4().hex
        txn = {"ops": ops, "rid": rid, "at": self.clock()}
        if epoch is not None:
            txn["epoch"] = epoch
        timeout_s = self.store.write_timeout_s
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self.store.submit(txn, timeout_s=max(deadline - time.monotonic(), 0.05))
            except Timeout as exc:
                log.info("write outcome unknown (%s); re-reading", exc)
                remaining = deadline - time.monotonic()
                if remaining <= 0.05:
                    raise
                try:
                    first = self.store.read(consistent=True, timeout_s=remaining).outcome(rid)
                except ApiError:
                    raise exc from None
                if first is not None:
                    return check_result(first)

    def _first_outcome(self, request: WriteRequest | None) -> list | None:
        """The result of an earlier attempt of this request that applied (for a replay: on state at least as
        new as the request, since the first attempt may have applied on another master a moment ago)."""
        if request is None:
            return None
        first = self._local_view().outcome(request.id)
        if first is None and request.replay:
            first = self.store.read(consistent=True).outcome(request.id)
        return first

    def _replay_answer(self, first: list, key) -> dict:
        """Answer a replay as its first attempt was answered: the same error, or the object as it is now."""
        return self._current(key, check_result(first))

    def _current(self, key, revs: list) -> dict:
        """The object at ``key`` as this master has it after the write at ``revs`` (or a later one)."""
        found = self._local_view().get(key)
        if found is not None:
            return self._decorate(decode_object(found[1], found[0]))
        return self._gone(key, revs)

    @staticmethod
    def _gone(key, revs: list) -> dict:
        """What a replayed delete answers: the deleted object's kind and name, and the revision of the delete
        (the object itself is no longer known; one of the same name may exist again)."""
        return {"kind": key[0], "metadata": {"name": key[2], "namespace": key[1],
                                             "resourceVersion": revs[-1] if revs else 0}}

    def _local_view(self):
        """This master's applied state, without waiting (writes check their preconditions in the log)."""
        return self.store.read(consistent=False)

    def _local(self, key) -> dict:
        """The object as this master has it; a miss is confirmed on state at least as new as the request
        (a linearizable read) before it becomes a 404: this master may not have applied yet the create that
        another master acknowledged a moment ago."""
        found = self._local_view().get(key)
        if found is None:
            return self._fresh(key)
        return decode_object(found[1], found[0])

    def _fresh(self, key) -> dict:
        """The object after a linearizable read (for deciding an error: 404, or a 409 on resourceVersion)."""
        found = self.store.read(consistent=True).get(key)
        if found is None:
            raise NotFound(f'{RESOURCES_BY_KIND[key[0]].singular} "{key[2]}" not found', kind=key[0], name=key[2])
        return decode_object(found[1], found[0])

    @staticmethod
    def _key(kind: str, namespace: str, name: str) -> tuple:
        ns = (namespace or DEFAULT_NAMESPACE) if RESOURCES_BY_KIND[kind].namespaced else ""
        return kind, ns, name

    # ---- watch ------------------------------------------------------------------------------
    def watch_feed(self, kind: str, namespace: str | None = None, labels: LabelSelector | None = None,
                   fields: FieldSelector | None = None, resource_version: int = 0) -> WatchFeed:
        """A watch that never waits (``WatchFeed.pull``): for the API's watch pump. Resource version 0: the
        feed's ``initial`` events are ADDED for every current object."""
        if not RESOURCES_BY_KIND[kind].namespaced:
            namespace = None
        flt = WatchFilter(namespace, labels, fields, self._decorate)
        initial: list[WatchEvent] = []
        cursor = resource_version
        if not resource_version:
            items, cursor = self.list(kind, namespace, labels, fields, consistent=False)
            initial = [WatchEvent(ADDED, obj, rv_of(obj)) for obj in items]
        return WatchFeed(self.store, kind, cursor, flt, initial)

    def on_watch_events(self, fn: Callable) -> None:
        """``fn(kinds)`` after the store publishes events (``None``: every kind); it must return at once."""
        self.store.on_watch_events(fn)

    def watch(self, kind: str, namespace: str | None = None, labels: LabelSelector | None = None,
              fields: FieldSelector | None = None, resource_version: int = 0,
              stop: Callable[[], bool] = lambda: False, poll_s: float = 1.0) -> Iterator[WatchEvent | None]:
        """Events for one kind after ``resource_version`` (0: ADDED for every current object first).

        Yields ``None`` every ``poll_s`` without events (so a stream can notice a closed client).
        Filtered watches turn transitions into ADDED/DELETED. Raises Gone when the revision is too old.
        """
        feed = self.watch_feed(kind, namespace, labels, fields, resource_version)
        yield from feed.initial
        # a revision this master has not applied yet (another master is ahead) simply waits for it
        while not stop():
            got = self.store.watch(kind, feed.cursor, poll_s)
            if got is None:  # the store stopped serving watches
                return
            events, seen = got
            feed.cursor = max(feed.cursor, seen)  # events of other kinds after the last one of ours
            if not events:
                yield None
                continue
            yield from feed.filter.translate(events)


__all__ = ["Registry", "WriteRequest", "rfc3339"]
