"""The deterministic state machine every master applies, entry by entry, from the Raft log.

State: objects keyed by (kind, namespace, name) holding (resourceVersion, msgpack bytes), a global
revision counter (etcd's revision: every mutation bumps it, an object's resourceVersion is the revision
of its last change), the total size of the stored bytes (for the quota), and the leader epoch that fences
controller writes with the Raft term in which it was claimed.

A Raft entry is a msgpack batch of transactions (group commit). Each transaction is a list of ops applied
all-or-nothing; its result is ``[ok, reason, message, revs]``. ``apply`` never raises (one exception in a
replicated method wedges every pysyncobj node) and uses no clock, randomness or I/O.

Ops (dicts)::

    {"op": "create", "key": [kind, ns, name], "data": bytes, "quota": int (optional)}
    {"op": "update", "key": ..., "data": bytes, "rv": expected rv (0 = unconditional), "quota": ...}
    {"op": "delete", "key": ..., "rv": expected rv (0 = none), "uid": expected metadata.uid ("" = none)}
    {"op": "bind",   "key": ..., "node": str, "patch": {spec fields}}   # pod nodeName "" -> node
    {"op": "claim",  "holder": str, "term": int}                        # leader epoch += 1
Transaction: {"ops": [op...], "epoch": int (optional: rejected unless it equals the current epoch),
              "rid": str (optional request id), "at": float (the proposer's clock, seconds)}

Request ids (exactly-once writes): a transaction with a ``rid`` that the machine has applied before is not applied
again; its result is the first one's, marked ``REPLAYED`` (a fifth element). Refused transactions are not
remembered (they changed nothing, so running a replay of one is safe). A client that replays a write whose
outcome it does not know (a timeout, a connection lost after the commit, on the same or another master) gets
the first outcome. Ids are remembered for ``REQUEST_WINDOW_S`` of proposer time after the newest one seen and
at most ``REQUEST_IDS_MAX`` of them, oldest dropped first; both are constants of the release, since every
replica must forget the same ids at the same entry. They are part of the snapshot.

Quota: an op that stores bytes may carry ``quota`` (the proposer's ``[cluster] quota_bytes``); it is refused
(``StoreFull``) when it would grow the stored bytes past that number. The quota travels in the op, not in each
replica's config, so every replica decides the same even if the masters' configs differ. Deletes and ops
without a quota (status updates, binds) always apply: a full store can still be emptied and keep running.

Delete preconditions (Kubernetes' DeleteOptions.preconditions): a delete may name the resourceVersion and the uid
it expects; either one that does not match the stored object refuses the transaction (``Conflict``, "Precondition
failed: ..."), so a delete meant for one object never removes a newer one of the same name.

Claims are fenced by Raft term: a claim carries the term in which its holder was leader when it decided to
claim, and one from a term older than the current epoch's is refused (``NotLeader``). A deposed leader's claim
that commits after its successor's (pysyncobj forwards a follower's proposals to the leader) cannot take the
epoch from the successor's controllers.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from typing import Callable, Iterable

from raftkube.model.errors import (PRECONDITION, AlreadyExists, ApiError, BadRequest, Conflict, NotFound, NotLeader,
                                   StoreFull)
from raftkube.model.objects import RESOURCES_BY_KIND
from raftkube.state.codec import pack, unpack

log = logging.getLogger(__name__)

Key = tuple  # (kind, namespace, name)

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"

#: how long (proposer seconds) and how many request ids the machine remembers, and the longest id it takes
REQUEST_WINDOW_S = 60.0
REQUEST_IDS_MAX = 100_000
REQUEST_ID_MAX_LEN = 64
#: the fifth element of the result of a transaction not applied again because its request id was seen
REPLAYED = "replayed"


def _check_delete_preconditions(key, cur: tuple[int, bytes], rv: int, uid: str) -> None:
    """Refuse a delete whose preconditions do not match the stored object (Kubernetes' wording)."""
    if uid:
        if not isinstance(uid, str):
            raise TxnFailed("BadRequest", f"delete precondition uid must be a string, got {uid!r}")
        stored = (unpack(cur[1]).get("metadata") or {}).get("uid") or ""
        if uid != stored:
            raise TxnFailed("Conflict", f"{_describe(key)} cannot be deleted: {PRECONDITION} "
                                        f"UID in precondition: {uid}, UID in object meta: {stored}")
    if rv and rv != cur[0]:
        raise TxnFailed("Conflict", f"{_describe(key)} cannot be deleted: {PRECONDITION} "
                                    f"ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {cur[0]}")


def _describe(key) -> str:
    kind, _ns, name = key
    res = RESOURCES_BY_KIND.get(kind)
    return f'{res.singular if res else kind} "{name}"'


_ERRORS = {"AlreadyExists": AlreadyExists, "Conflict": Conflict, "NotFound": NotFound, "NotLeader": NotLeader,
           "BadRequest": BadRequest, "StoreFull": StoreFull}


class Replayed(list):
    """The revisions of a transaction that had applied before, under the same request id."""


def check_result(result: list) -> list:
    """A transaction's result -> its revisions (``Replayed`` if it was a replay of an applied one), or the
    ApiError its failure reason names."""
    ok, reason, message, revs = result[:4]
    if not ok:
        raise _ERRORS.get(reason, ApiError)(message)
    return Replayed(revs) if result[4:] == [REPLAYED] else revs


class TxnFailed(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class Event:
    """One change, as kept in the watch ring: ``data``/``prev`` are msgpack bytes (stored form)."""

    __slots__ = ("rev", "type", "key", "data", "prev", "prev_rv")

    def __init__(self, rev: int, type_: str, key: Key, data: bytes | None, prev: bytes | None, prev_rv: int):
        self.rev = rev
        self.type = type_
        self.key = key
        self.data = data
        self.prev = prev
        self.prev_rv = prev_rv

    def __repr__(self) -> str:
        return f"Event({self.rev}, {self.type}, {self.key})"


class StateMachine:
    """Replicated state plus a lock for readers (the lock is not replicated state)."""

    def __init__(self, on_events: Callable[[list[Event]], None] | None = None,
                 on_reset: Callable[[int], None] | None = None):
        self.objects: dict[str, dict[tuple[str, str], tuple[int, bytes]]] = {k: {} for k in RESOURCES_BY_KIND}
        self.revision = 0
        self.epoch = 0
        self.epoch_holder = ""
        self.epoch_term = 0  # the Raft term the current epoch was claimed in
        self.store_bytes = 0  # sum of len(data) over every stored object
        self.applied_entries = 0
        # request id -> (proposer time, result), oldest first
        self.requests: OrderedDict[str, tuple[float, list]] = OrderedDict()
        self.requests_at = 0.0  # the newest proposer time seen with a request id
        self.lock = threading.RLock()
        self._on_events = on_events or (lambda events: None)
        self._on_reset = on_reset or (lambda revision: None)

    # ---- replicated entry point -------------------------------------------------------------
    def apply(self, entry: bytes) -> list:
        """Apply one Raft entry (a batch of transactions); returns one result per transaction."""
        try:
            txns = unpack(entry)
        except Exception as exc:  # a corrupt entry must not wedge the cluster
            log.error("undecodable entry ignored: %s", exc)
            return []
        results = []
        events: list[Event] = []
        with self.lock:
            self.applied_entries += 1
            for txn in txns:
                results.append(self._apply_txn(txn, events))
        if events:
            try:
                self._on_events(events)
            except Exception:  # the watch hub must never break apply
                log.exception("watch fan-out failed")
        return results

    def _apply_txn(self, txn, events: list[Event]) -> list:
        rid = txn.get("rid") if isinstance(txn, dict) else None
        if rid is None:
            return self._run_txn(txn, events)
        if not isinstance(rid, str) or not 0 < len(rid) <= REQUEST_ID_MAX_LEN:
            return [False, "BadRequest", f"request id must be a string of 1 to {REQUEST_ID_MAX_LEN} characters", []]
        seen = self.requests.get(rid)
        if seen is not None:
            return seen[1] + [REPLAYED]
        result = self._run_txn(txn, events)
        if result[0]:  # a refused transaction changed nothing: trying it again is safe, and a refusal stores nothing
            self._remember(rid, txn.get("at"), result)
        return result

    def _remember(self, rid: str, at, result: list) -> None:
        if isinstance(at, (int, float)) and not isinstance(at, bool) and math.isfinite(at) and at > self.requests_at:
            self.requests_at = float(at)
        self.requests[rid] = (self.requests_at, result)
        requests, horizon = self.requests, self.requests_at - REQUEST_WINDOW_S
        while len(requests) > REQUEST_IDS_MAX or next(iter(requests.values()))[0] < horizon:
            requests.popitem(last=False)  # times are stored non-decreasing: the oldest is first

    def outcome(self, rid: str) -> list | None:
        """The result of the transaction with this request id, if it applied here within the window."""
        seen = self.requests.get(rid)
        return None if seen is None else seen[1]

    def _run_txn(self, txn, events: list[Event]) -> list:
        undo: list[tuple[Key, tuple[int, bytes] | None]] = []
        start = self._counters()
        txn_events: list[Event] = []
        try:
            if not isinstance(txn, dict):
                raise TxnFailed("BadRequest", "transaction is not a map")
            epoch = txn.get("epoch")
            if epoch is not None and epoch != self.epoch:
                raise TxnFailed("NotLeader", f"stale leader epoch {epoch} (current {self.epoch})")
            revs = [self._apply_op(op, undo, txn_events) for op in txn.get("ops") or ()]
        except TxnFailed as exc:
            self._rollback(undo, start)
            return [False, exc.reason, exc.message, []]
        except Exception as exc:  # never raise out of apply
            self._rollback(undo, start)
            return [False, "BadRequest", f"malformed operation: {exc!r}", []]
        events.extend(txn_events)
        return [True, "", "", revs]

    def _counters(self) -> tuple:
        return self.revision, self.epoch, self.epoch_holder, self.epoch_term, self.store_bytes

    def _rollback(self, undo, counters: tuple) -> None:
        for key, old in reversed(undo):
            table = self.objects[key[0]]
            if old is None:
                table.pop((key[1], key[2]), None)
            else:
                table[(key[1], key[2])] = old
        self.revision, self.epoch, self.epoch_holder, self.epoch_term, self.store_bytes = counters

    def _apply_op(self, op: dict, undo: list, events: list[Event]) -> int:
        kind = op.get("op")
        if kind == "claim":
            return self._claim(op)
        key = tuple(op["key"])
        table = self.objects.get(key[0])
        if table is None:
            raise TxnFailed("BadRequest", f"unknown kind {key[0]!r}")
        sub = (key[1], key[2])
        cur = table.get(sub)
        expect = int(op.get("rv") or 0)
        if kind == "create":
            if cur is not None:
                raise TxnFailed("AlreadyExists", f"{_describe(key)} already exists")
            return self._put(table, key, op["data"], None, ADDED, undo, events, _quota(op))
        if cur is None:
            raise TxnFailed("NotFound", f"{_describe(key)} not found")
        if kind == "delete":
            _check_delete_preconditions(key, cur, expect, op.get("uid") or "")
        elif expect and expect != cur[0]:
            raise TxnFailed("Conflict", f"{_describe(key)} cannot be updated: resourceVersion {expect} "
                                        f"does not match the current {cur[0]}")
        if kind == "update":
            return self._put(table, key, op["data"], cur, MODIFIED, undo, events, _quota(op))
        if kind == "delete":
            undo.append((key, cur))
            del table[sub]
            self.store_bytes -= len(cur[1])
            self.revision += 1
            events.append(Event(self.revision, DELETED, key, None, cur[1], cur[0]))
            return self.revision
        if kind == "bind":
            pod = unpack(cur[1])
            spec = pod.setdefault("spec", {})
            host = spec.get("nodeName") or ""
            if host:
                raise TxnFailed("Conflict", f"{_describe(key)} is already assigned to host {host!r}")
            spec["nodeName"] = str(op["node"])
            for field_name, value in (op.get("patch") or {}).items():
                spec[field_name] = value
            return self._put(table, key, pack(pod), cur, MODIFIED, undo, events, _quota(op))
        raise TxnFailed("BadRequest", f"unknown op {kind!r}")

    def _claim(self, op: dict) -> int:
        holder = str(op.get("holder", ""))
        term = op.get("term") or 0  # claims of earlier releases carry none: term 0
        if not isinstance(term, int) or isinstance(term, bool) or term < 0:
            raise TxnFailed("BadRequest", f"claim term must be a non-negative integer, got {term!r}")
        if term < self.epoch_term:
            raise TxnFailed("NotLeader", f"stale leader claim by {holder!r} from term {term}: epoch {self.epoch} "
                                         f"was claimed by {self.epoch_holder!r} in term {self.epoch_term}")
        self.epoch += 1
        self.epoch_holder = holder
        self.epoch_term = term
        return self.epoch

    def _put(self, table, key, data: bytes, cur, type_: str, undo: list, events: list[Event],
             quota: int | None = None) -> int:
        if not isinstance(data, bytes):
            raise TxnFailed("BadRequest", "object data must be bytes")
        growth = len(data) - (len(cur[1]) if cur else 0)
        if quota is not None and growth > 0 and self.store_bytes + growth > quota:
            raise TxnFailed("StoreFull", f"the store is full: {quota} bytes quota, {self.store_bytes} used; "
                                         "delete objects or raise [cluster] quota_bytes")
        undo.append((key, cur))
        self.store_bytes += growth
        self.revision += 1
        table[(key[1], key[2])] = (self.revision, data)
        events.append(Event(self.revision, type_, key, data, cur[1] if cur else None, cur[0] if cur else 0))
        return self.revision

    # ---- local reads (any thread) -----------------------------------------------------------
    def get(self, key: Key) -> tuple[int, bytes] | None:
        table = self.objects.get(key[0])
        return None if table is None else table.get((key[1], key[2]))

    def list(self, kind: str, namespace: str | None = None) -> tuple[int, list[tuple[Key, int, bytes]]]:
        """All objects of a kind (one namespace, or all when None) with the revision they reflect."""
        with self.lock:
            table = self.objects[kind]
            if namespace is None:
                items = [((kind, ns, name), rv, data) for (ns, name), (rv, data) in table.items()]
            else:
                items = [((kind, ns, name), rv, data) for (ns, name), (rv, data) in table.items()
                         if ns == namespace]
            return self.revision, items

    # ---- snapshots --------------------------------------------------------------------------
    def snapshot(self) -> dict:
        with self.lock:
            return {
                "revision": self.revision, "epoch": self.epoch, "holder": self.epoch_holder,
                "epoch_term": self.epoch_term,
                "objects": [[kind, ns, name, rv, data]
                            for kind, table in self.objects.items()
                            for (ns, name), (rv, data) in table.items()],
                "requests": [[rid, at, result] for rid, (at, result) in self.requests.items()],
                "requests_at": self.requests_at,
            }

    def restore(self, snap: dict) -> None:
        with self.lock:
            self.objects = {k: {} for k in RESOURCES_BY_KIND}
            total = 0
            for kind, ns, name, rv, data in snap.get("objects", ()):
                self.objects.setdefault(kind, {})[(ns, name)] = (rv, data)
                total += len(data)
            self.store_bytes = total  # derived from the objects, so snapshots of earlier releases have it too
            self.revision = snap.get("revision", 0)
            self.epoch = snap.get("epoch", 0)
            self.epoch_holder = snap.get("holder", "")
            self.epoch_term = snap.get("epoch_term", 0)
            self.requests = OrderedDict((rid, (at, list(result))) for rid, at, result in snap.get("requests", ()))
            self.requests_at = snap.get("requests_at", 0.0)
        self._on_reset(self.revision)

    def fingerprint(self) -> tuple:
        """Everything replicated, in a comparable form (tests compare two machines with it)."""
        with self.lock:
            return (self.revision, self.epoch, self.epoch_holder, self.epoch_term, self.store_bytes,
                    self.requests_at, tuple((rid, at, repr(result)) for rid, (at, result) in self.requests.items()),
                    tuple(sorted((k, ns, n, rv, d) for k, t in self.objects.items() for (ns, n), (rv, d) in t.items())))


def _quota(op: dict) -> int | None:
    quota = op.get("quota")
    if quota is not None and (not isinstance(quota, int) or isinstance(quota, bool) or quota < 0):
        raise TxnFailed("BadRequest", f"quota must be a non-negative integer, got {quota!r}")
    return quota


def txn(ops: Iterable[dict], epoch: int | None = None) -> dict:
    t = {"ops": list(ops)}
    if epoch is not None:
        t["epoch"] = epoch
    return t
