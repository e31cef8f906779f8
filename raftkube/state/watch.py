"""The watch hub: a bounded ring of recent events every master keeps, read by watchers at their own pace.

The Raft tick thread only appends to the ring and notifies (never blocks on a watcher). A watcher holds a
cursor (the last revision it has seen) and pulls everything after it; one that falls behind the ring's
oldest event gets ``Gone`` and must relist, as in Kubernetes. A watcher of one kind is woken only by events
of that kind: on the leader, every pod write would otherwise wake every informer thread. Listeners
(``add_listener``: the API's watch pump) are told which kinds changed, after the lock is released; they must
return at once.
"""

from __future__ import annotations

import threading

from raftkube.model.errors import Gone
from raftkube.state.machine import Event


class WatchHub:
    def __init__(self, capacity: int = 100_000):
        self.capacity = capacity
        self._ring: list[Event | None] = [None] * capacity
        self._count = 0  # events in the ring
        self._head = 0  # index of the oldest event
        self._first_rev = 1  # revision of the oldest event (or of the next one when empty)
        self._last_rev = 0  # revision of the newest event published
        self._lock = threading.Lock()
        self._kind_conds: dict[str, threading.Condition] = {}  # the watchers of each kind, one lock
        self._kind_rev: dict[str, int] = {}  # revision of the newest event of each kind
        self._floor = 0  # history before it is unknown here (the ring's start): any kind may have changed
        self._closed = False
        self._listeners: list = []  # fn(kinds: set[str] | None): None means every kind (reset, close)

    def add_listener(self, fn) -> None:
        """Call ``fn(kinds)`` after every publish (the kinds that changed), reset and close (``None``)."""
        self._listeners.append(fn)

    def _tell(self, kinds) -> None:
        for fn in self._listeners:
            fn(kinds)

    # ---- producer side (tick thread) --------------------------------------------------------
    def publish(self, events: list[Event]) -> None:
        with self._lock:
            for ev in events:
                if self._count and ev.rev != self._last_rev + 1:
                    self._reset_locked(ev.rev - 1)
                if not self._count:
                    self._first_rev = ev.rev
                    self._floor = max(self._floor, ev.rev - 1)
                if self._count == self.capacity:
                    self._head = (self._head + 1) % self.capacity
                    self._first_rev += 1
                    self._count -= 1
                self._ring[(self._head + self._count) % self.capacity] = ev
                self._count += 1
                self._last_rev = ev.rev
                self._kind_rev[ev.key[0]] = ev.rev
            kinds = {ev.key[0] for ev in events}
            for kind in kinds:
                cond = self._kind_conds.get(kind)
                if cond is not None:
                    cond.notify_all()
        self._tell(kinds)

    def reset(self, revision: int) -> None:
        """The state was replaced wholesale (snapshot install): history before ``revision`` is gone."""
        with self._lock:
            self._reset_locked(revision)
            self._notify_everyone()
        self._tell(None)

    def _reset_locked(self, revision: int) -> None:
        self._ring = [None] * self.capacity
        self._count = 0
        self._head = 0
        self._first_rev = revision + 1
        self._last_rev = revision
        self._floor = revision
        for kind in set(self._kind_rev) | set(self._kind_conds):
            self._kind_rev[kind] = revision  # wakes every watcher: those behind get Gone

    def _notify_everyone(self) -> None:
        for cond in self._kind_conds.values():
            cond.notify_all()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._notify_everyone()
        self._tell(None)

    # ---- consumer side (API threads) --------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def last_revision(self) -> int:
        return self._last_rev

    def kind_events_after(self, kind: str, cursor: int, timeout_s: float,
                          limit: int = 1000) -> tuple[list[Event], int]:
        """Events of ``kind`` with revision > cursor, waiting up to ``timeout_s`` for the first one; returns
        them and the revision the caller has now seen (its next cursor, also when no event is returned).

        Raises ``Gone`` when events after ``cursor`` have already left the ring; not for a kind whose newest
        event is not after ``cursor`` (an idle kind's watcher resumes however far the ring moved on since).
        """
        with self._lock:
            cond = self._kind_conds.get(kind)
            if cond is None:
                cond = self._kind_conds[kind] = threading.Condition(self._lock)
            if cursor >= self._kind_rev.get(kind, 0) and not self._closed:
                cond.wait_for(lambda: self._kind_rev.get(kind, 0) > cursor or self._closed, timeout_s)
            if self._closed:
                return [], cursor
            if max(self._kind_rev.get(kind, 0), self._floor) <= cursor:  # nothing of this kind after it
                return [], max(cursor, self._last_rev)
            self._check_not_gone(cursor)
            out: list[Event] = []
            seen = cursor
            start = cursor + 1 - self._first_rev
            for i in range(max(0, self._last_rev - cursor)):
                ev = self._ring[(self._head + start + i) % self.capacity]
                seen = ev.rev
                if ev.key[0] == kind:
                    out.append(ev)
                    if len(out) >= limit:
                        break
            return out, seen

    def _check_not_gone(self, cursor: int) -> None:
        if cursor + 1 < self._first_rev and cursor < self._last_rev:
            raise Gone(f"too old resource version: {cursor} ({self._first_rev - 1})")
