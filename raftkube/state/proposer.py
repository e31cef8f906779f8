"""Group commit: many concurrent transactions share one Raft entry, with a bounded number of entries in flight.

A writer that finds a free in-flight slot proposes the queue itself (no hand-off to another thread on the
write path); otherwise its transaction waits in the queue, and the callback that frees a slot proposes
everything queued meanwhile as the next entry. A thread of its own only retries entries the Raft layer
could not take yet (no leader, or it just changed) and fails entries whose callback never came.

The Raft layer is a function, ``propose(entry, done)``: it sends ``entry`` (msgpack bytes of the list of
transactions) and later calls ``done(results, outcome)`` from any thread, exactly once, where ``outcome``
is ``OK`` (``results`` holds one result per transaction), ``RETRY`` (the entry was certainly not appended:
propose it again) or ``UNKNOWN`` (it may or may not apply later). ``done`` must not block.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from raftkube.model.errors import ApiError, Timeout, Unavailable
from raftkube.state.codec import pack

log = logging.getLogger(__name__)

OK, RETRY, UNKNOWN = "ok", "retry", "unknown"

Propose = Callable[[bytes, Callable[[list | None, str], None]], None]

#: the result of a transaction the Raft layer answered without one (never expected)
_NO_RESULT = [False, "InternalError", "no result for transaction", []]


class _Pending:
    """One transaction waiting for its entry to commit and apply on this master."""

    __slots__ = ("txn", "deadline", "event", "state", "result", "error", "lock")
    QUEUED, SENT, DONE, CANCELLED = range(4)

    def __init__(self, txn: dict, deadline: float):
        self.txn = txn
        self.deadline = deadline
        self.event = threading.Event()
        self.state = self.QUEUED
        self.result = None
        self.error: ApiError | None = None
        self.lock = threading.Lock()

    def finish(self, result=None, error: ApiError | None = None) -> None:
        with self.lock:
            if self.state in (self.DONE, self.CANCELLED):
                return
            self.state = self.DONE
            self.result, self.error = result, error
        self.event.set()


@dataclass
class _Batch:
    items: list
    sent_at: float
    attempt: int = 0


class Proposer:
    """Batches transactions into Raft entries; ``submit`` blocks until its transaction's entry applied here."""

    def __init__(self, propose: Propose, *, max_batch: int, max_inflight: int, write_timeout_s: float,
                 clock: Callable[[], float] = time.monotonic, name: str = "raft-propose"):
        self._propose = propose
        self.max_batch = max_batch
        self.max_inflight = max_inflight
        self.write_timeout_s = write_timeout_s
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: deque[_Pending] = deque()
        self._retry: list[tuple[float, _Batch]] = []
        self._inflight: dict[int, _Batch] = {}
        self._batch_ids = 0
        self._stop = threading.Event()
        self.stats = {"entries": 0, "txns": 0, "retries": 0}
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> "Proposer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    # ---- writers ----------------------------------------------------------------------------
    def submit(self, txn: dict, timeout_s: float | None = None):
        """The transaction's result once its entry applied on this master, or an ApiError.

        ``Unavailable``: it was never sent (no leader within the timeout). ``Timeout``: it was sent and its
        outcome is unknown (the entry may still apply later).
        """
        timeout_s = self.write_timeout_s if timeout_s is None else timeout_s
        p = _Pending(txn, self._clock() + timeout_s)
        with self._cond:
            self._queue.append(p)
            take = self._take_locked(self._clock()) if len(self._inflight) < self.max_inflight else None
        if take is not None:
            self._send(*take)
        if not p.event.wait(timeout_s):
            with p.lock:
                if p.state == p.QUEUED:
                    p.state = p.CANCELLED
                    raise Unavailable("the write could not be committed: no quorum (not sent)", retry_after_s=1.0)
                if p.state == p.SENT:
                    p.state = p.CANCELLED
                    raise Timeout("the write was not committed in time; its outcome is unknown", retry_after_s=1.0)
        if p.error is not None:
            raise p.error
        return p.result

    # ---- the retry thread ---------------------------------------------------------------------
    def _loop(self) -> None:
        """Retries (no leader yet, or it just changed), expired callbacks, and a queue left behind by them."""
        while not self._stop.is_set():
            with self._cond:
                while not self._stop.is_set():
                    now = self._clock()
                    self._expire_inflight(now)
                    due = [b for t, b in self._retry if t <= now]
                    if (due or self._queue) and len(self._inflight) < self.max_inflight:
                        break
                    wake = min([t for t, _ in self._retry] + [now + 0.1]) - now
                    self._cond.wait(max(wake, 0.001))
                if self._stop.is_set():
                    break
                now = self._clock()
                items, attempt = [], 0
                if due:
                    self._retry = [(t, b) for t, b in self._retry if t > now]
                    for b in due:
                        items.extend(b.items)
                    attempt = max(b.attempt for b in due) + 1
                take = self._take_locked(now, items, attempt)
            if take is not None:
                self._send(*take)

    def _take_locked(self, now: float, items: list | None = None, attempt: int = 0) -> tuple | None:
        """The next entry: ``items`` (a retry) plus the queue, minus what timed out; marks it in flight."""
        items = items or []
        while self._queue and len(items) < self.max_batch:
            items.append(self._queue.popleft())
        live = []
        for p in items:
            if p.deadline <= now:
                p.finish(error=Unavailable("no quorum: the write was not committed (not sent)"))
                continue
            with p.lock:
                if p.state in (p.CANCELLED, p.DONE):
                    continue
                p.state = p.SENT
            live.append(p)
        if not live:
            return None
        self._batch_ids += 1
        self._inflight[self._batch_ids] = _Batch(live, now, attempt)
        return self._batch_ids, live

    def _send(self, batch_id: int, live: list[_Pending]) -> None:
        entry = pack([p.txn for p in live])
        self.stats["entries"] += 1
        try:
            self._propose(entry, lambda results, outcome, b=batch_id: self._done(b, results, outcome))
        except Exception:  # pickling or queue errors: fail the batch, keep the loop alive
            log.exception("proposing failed")
            self._done(batch_id, None, UNKNOWN)

    def _expire_inflight(self, now: float) -> None:
        """A callback that never comes must not hold a slot forever (pysyncobj #75)."""
        for bid, batch in list(self._inflight.items()):
            if now - batch.sent_at > self.write_timeout_s + 1.0:
                del self._inflight[bid]
                for p in batch.items:
                    p.finish(error=Timeout("the write was not committed in time; its outcome is unknown"))

    def _done(self, batch_id: int, results, outcome: str) -> None:
        """Runs on the Raft thread: hand results to waiters, propose what queued meanwhile, never block."""
        take = None
        with self._cond:
            batch = self._inflight.pop(batch_id, None)
            if batch is None:
                return
            if outcome == OK:
                writes = iter(results or ())
                for p in batch.items:
                    p.finish(result=next(writes, _NO_RESULT))
                self.stats["txns"] += len(batch.items)
            elif outcome == RETRY:
                self.stats["retries"] += 1
                # no leader yet (or it just changed): retry soon; MISSING_LEADER is answered locally, so a
                # short cap costs little and lets writes resume as soon as a leader is elected
                backoff = min(0.005 * (2 ** batch.attempt), 0.05)
                self._retry.append((self._clock() + backoff, batch))
                self._cond.notify()
            else:
                for p in batch.items:
                    p.finish(error=Timeout("leadership changed while committing; the outcome is unknown",
                                           retry_after_s=0.5))
            if self._queue and not self._retry and len(self._inflight) < self.max_inflight:
                take = self._take_locked(self._clock())
        if take is not None:
            self._send(*take)
