"""``Writers``: threads that create pods through the masters until stopped, failing over on 503 and connection
errors (one request id per pod, so a replay after an unknown outcome applies once), and keep the time of every
acknowledged write: the maintenance tests and bench/maintenance_bench.py measure write gaps with it."""

from __future__ import annotations

import threading
import time

import requests

from raftkube.testing.objects import pod_body
from raftkube.testing.waiting import poll_until

PODS = "/api/v1beta1/pods"


class Writers:
    def __init__(self, urls: list[str], n: int = 3, prefix: str = "w"):
        self.urls, self.prefix = list(urls), prefix
        self.acked: list[tuple[float, str]] = []  # (monotonic time of the acknowledgement, pod name)
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), name=f"writer-{i}", daemon=True)
                         for i in range(n)]

    def __enter__(self) -> "Writers":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(20)

    def _run(self, i: int) -> None:
        session = requests.Session()
        seq = 0
        while not self._stop.is_set():
            name = f"{self.prefix}-{i}-{seq}"
            headers = {"Raftkube-Request-Id": f"{self.prefix}{i}x{seq}"}
            for attempt in range(200):
                url = self.urls[(i + attempt) % len(self.urls)]
                try:
                    r = session.post(url + PODS, json=pod_body(name), timeout=5, headers=headers)
                except requests.RequestException:
                    self._stop.wait(0.01)
                    continue
                if r.status_code == 200 or (r.status_code == 409 and attempt):
                    self.acked.append((time.monotonic(), name))
                    break
                if r.status_code != 503:
                    self.errors.append(f"{name}: {r.status_code} {r.text[:200]}")
                    break
                self._stop.wait(0.01)
            else:
                self.errors.append(f"{name}: never acknowledged")
            seq += 1

    def wait_for(self, n: int, timeout_s: float = 30.0) -> None:
        poll_until(lambda: len(self.acked) >= n, timeout_s, what=f"{n} acknowledged writes")

    def longest_gap(self, start: float, end: float) -> float:
        """The longest time without an acknowledged write within [start, end] (monotonic seconds)."""
        times = sorted(t for t, _ in self.acked if start <= t <= end)
        edges = [start, *times, end]
        return max(b - a for a, b in zip(edges, edges[1:]))
