"""The deterministic state machine every master applies, entry by entry, from the Raft log.

State: objects keyed by (kind, namespace, name) holding (resourceVersion, msgpack bytes), a global
revision counter (etcd's revision: every mutation bumps it, an object's resourceVersion is the revision
of its last change) and the leader epoch that fences controller writes.

A Raft entry is a msgpack batch of transactions (group commit). Each transaction is a list of ops applied
all-or-nothing; its result is ``[ok, reason, message, revs]``. ``apply`` never raises (one exception in a
replicated method wedges every pysyncobj node) and uses no clock, randomness or I/O.

Ops (dicts)::

    {"op": "create", "key": [kind, ns, name], "data": bytes}
    {"op": "update", "key": ..., "data": bytes, "rv": expected rv (0 = unconditional)}
    {"op": "delete", "key": ..., "rv": expected rv (0 = unconditional)}
    {"op": "bind",   "key": ..., "node": str, "patch": {spec fields}}   # pod nodeName "" -> node
    {"op": "claim",  "holder": str}                                     # leader epoch += 1
Transaction: {"ops": [op...], "epoch": int (optional: rejected unless it equals the current epoch)}
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Iterable

from raftkube.model.errors import AlreadyExists, ApiError, BadRequest, Conflict, NotFound, NotLeader
from raftkube.model.objects import RESOURCES_BY_KIND
from raftkube.state.codec import pack, unpack

log = logging.getLogger(__name__)

Key = tuple  # (kind, namespace, name)

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


def _describe(key) -> str:
    kind, _ns, name = key
    res = RESOURCES_BY_KIND.get(kind)
    return f'{res.singular if res else kind} "{name}"'


_ERRORS = {"AlreadyExists": AlreadyExists, "Conflict": Conflict, "NotFound": NotFound, "NotLeader": NotLeader,
           "BadRequest": BadRequest}


def check_result(result: list) -> list:
    """A transaction's result -> its revisions, or the ApiError its failure reason names."""
    ok, reason, message, revs = result
    if not ok:
        raise _ERRORS.get(reason, ApiError)(message)
    return revs


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
        self.applied_entries = 0
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
        undo: list[tuple[Key, tuple[int, bytes] | None]] = []
        start_rev, start_epoch, start_holder = self.revision, self.epoch, self.epoch_holder
        txn_events: list[Event] = []
        try:
            if not isinstance(txn, dict):
                raise TxnFailed("BadRequest", "transaction is not a map")
            epoch = txn.get("epoch")
            if epoch is not None and epoch != self.epoch:
                raise TxnFailed("NotLeader", f"stale leader epoch {epoch} (current {self.epoch})")
            revs = [self._apply_op(op, undo, txn_events) for op in txn.get("ops") or ()]
        except TxnFailed as exc:
            self._rollback(undo, start_rev, start_epoch, start_holder)
            return [False, exc.reason, exc.message, []]
        except Exception as exc:  # never raise out of apply
            self._rollback(undo, start_rev, start_epoch, start_holder)
            return [False, "BadRequest", f"malformed operation: {exc!r}", []]
        events.extend(txn_events)
        return [True, "", "", revs]

    def _rollback(self, undo, rev, epoch, holder) -> None:
        for key, old in reversed(undo):
            table = self.objects[key[0]]
            if old is None:
                table.pop((key[1], key[2]), None)
            else:
                table[(key[1], key[2])] = old
        self.revision, self.epoch, self.epoch_holder = rev, epoch, holder

    def _apply_op(self, op: dict, undo: list, events: list[Event]) -> int:
        kind = op.get("op")
        if kind == "claim":
            self.epoch += 1
            self.epoch_holder = str(op.get("holder", ""))
            return self.epoch
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
            return self._put(table, key, op["data"], None, ADDED, undo, events)
        if cur is None:
            raise TxnFailed("NotFound", f"{_describe(key)} not found")
        if expect and expect != cur[0]:
            raise TxnFailed("Conflict", f"{_describe(key)} cannot be updated: resourceVersion {expect} "
                                        f"does not match the current {cur[0]}")
        if kind == "update":
            return self._put(table, key, op["data"], cur, MODIFIED, undo, events)
        if kind == "delete":
            undo.append((key, cur))
            del table[sub]
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
            return self._put(table, key, pack(pod), cur, MODIFIED, undo, events)
        raise TxnFailed("BadRequest", f"unknown op {kind!r}")

    def _put(self, table, key, data: bytes, cur, type_: str, undo: list, events: list[Event]) -> int:
        if not isinstance(data, bytes):
            raise TxnFailed("BadRequest", "object data must be bytes")
        undo.append((key, cur))
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
                "objects": [[kind, ns, name, rv, data]
                            for kind, table in self.objects.items()
                            for (ns, name), (rv, data) in table.items()],
            }

    def restore(self, snap: dict) -> None:
        with self.lock:
            self.objects = {k: {} for k in RESOURCES_BY_KIND}
            for kind, ns, name, rv, data in snap.get("objects", ()):
                self.objects.setdefault(kind, {})[(ns, name)] = (rv, data)
            self.revision = snap.get("revision", 0)
            self.epoch = snap.get("epoch", 0)
            self.epoch_holder = snap.get("holder", "")
        self._on_reset(self.revision)

    def fingerprint(self) -> tuple:
        """Everything replicated, in a comparable form (tests compare two machines with it)."""
        with self.lock:
            return (self.revision, self.epoch, self.epoch_holder,
                    tuple(sorted((k, ns, n, rv, d) for k, t in self.objects.items() for (ns, n), (rv, d) in t.items())))


def txn(ops: Iterable[dict], epoch: int | None = None) -> dict:
    t = {"ops": list(ops)}
    if epoch is not None:
        t["epoch"] = epoch
    return t
