"""What the controllers count, for ``/metrics`` (raftkube/controllers/metrics.py turns it into Prometheus).

Plain counters under a lock, no prometheus import: a controller counts into its ``stats`` (a fresh
``ControllerStats`` by default; the manager hands each controller its process-wide one, so that counts
outlive a leadership term and stay monotonic as Prometheus counters must).
"""

from __future__ import annotations

import bisect
import threading
from typing import Callable

#: reconcile and scheduling durations (seconds)
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Histogram:
    """Counts per bucket (not cumulative), sum and count."""

    def __init__(self, buckets=DURATION_BUCKETS):
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1


class ControllerStats:
    """One controller's syncs (a histogram of their durations), failed syncs, named counters by result and
    histograms by name, and ``queue_depth`` (set by the running controller, None when it has no queue)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.syncs = Histogram()
        self.sync_errors = 0
        self.counters: dict[tuple[str, str], int] = {}
        self.histograms: dict[str, Histogram] = {}
        self.queue_depth: Callable[[], int] | None = None

    def synced(self, seconds: float, ok: bool = True) -> None:
        with self.lock:
            self.syncs.observe(seconds)
            if not ok:
                self.sync_errors += 1

    def count(self, what: str, result: str, n: int = 1) -> None:
        with self.lock:
            self.counters[(what, result)] = self.counters.get((what, result), 0) + n

    def observe(self, what: str, seconds: float) -> None:
        with self.lock:
            h = self.histograms.get(what)
            if h is None:
                h = self.histograms[what] = Histogram()
            h.observe(seconds)


class ProcessStats:
    """The ``ControllerStats`` of every controller name in this process, and whether controllers run here."""

    def __init__(self):
        self._by_name: dict[str, ControllerStats] = {}
        self._lock = threading.Lock()
        self.active: Callable[[], bool] = lambda: False

    def get(self, name: str) -> ControllerStats:
        with self._lock:
            stats = self._by_name.get(name)
            if stats is None:
                stats = self._by_name[name] = ControllerStats()
            return stats

    def items(self) -> list[tuple[str, ControllerStats]]:
        with self._lock:
            return sorted(self._by_name.items())
