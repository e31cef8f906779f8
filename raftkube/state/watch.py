"""The watch hub: a bounded ring of recent events every master keeps, read by watchers at their own pace.

The Raft tick thread only appends to the ring and notifies (never blocks on a watcher). A watcher holds a
cursor (the last revision it has seen) and pulls everything after it; one that falls behind the ring's
oldest event gets ``Gone`` and must relist, as in Kubernetes.
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
        self._cond = threading.Condition(threading.Lock())
        self._closed = False

    # ---- producer side (tick thread) --------------------------------------------------------
    def publish(self, events: list[Event]) -> None:
        with self._cond:
            for ev in events:
                if self._count and ev.rev != self._last_rev + 1:
                    self._reset_locked(ev.rev - 1)
                if not self._count:
                    self._first_rev = ev.rev
                if self._count == self.capacity:
                    self._head = (self._head + 1) % self.capacity
                    self._first_rev += 1
                    self._count -= 1
                self._ring[(self._head + self._count) % self.capacity] = ev
                self._count += 1
                self._last_rev = ev.rev
            self._cond.notify_all()

    def reset(self, revision: int) -> None:
        """The state was replaced wholesale (snapshot install): history before ``revision`` is gone."""
        with self._cond:
            self._reset_locked(revision)
            self._cond.notify_all()

    def _reset_locked(self, revision: int) -> None:
        self._ring = [None] * self.capacity
        self._count = 0
        self._head = 0
        self._first_rev = revision + 1
        self._last_rev = revision

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # ---- consumer side (API threads) --------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def last_revision(self) -> int:
        return self._last_rev

    def events_after(self, cursor: int, timeout_s: float, limit: int = 1000) -> list[Event]:
        """Events with revision > cursor, waiting up to ``timeout_s`` for the first one.

        Raises ``Gone`` when events after ``cursor`` have already left the ring.
        """
        with self._cond:
            if cursor >= self._last_rev and not self._closed:
                self._cond.wait_for(lambda: self._last_rev > cursor or self._closed, timeout_s)
            if self._closed:
                return []
            if cursor + 1 < self._first_rev and cursor < self._last_rev:
                raise Gone(f"too old resource version: {cursor} ({self._first_rev - 1})")
            if cursor >= self._last_rev:
                return []
            start = cursor + 1 - self._first_rev
            n = min(self._last_rev - cursor, limit)
            return [self._ring[(self._head + start + i) % self.capacity] for i in range(n)]
