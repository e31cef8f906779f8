"""Round-robin load balancer (2014's ``pkg/proxy/roundrobin.go``), pure and thread-safe.

One endpoint list per service key; ``next(key)`` hands out the endpoints in turn. Updating a service
with a *different* list resets its index to 0; the same list (any order: lists are normalized) keeps it,
so a periodic resync does not disturb the rotation. After a failed dial the caller simply asks for
``next`` again, which is the following endpoint.
"""

from __future__ import annotations

import threading
from typing import Hashable

Endpoint = tuple[str, int]  # (ip, port)


def normalize(endpoints) -> list[Endpoint]:
    """``[{"ip", "port"}]`` (or (ip, port) pairs) -> sorted unique (ip, port) with port > 0 (2014 drops
    entries whose port is not > 0)."""
    out = set()
    for e in endpoints or ():
        ip, port = (e.get("ip") or "", e.get("port") or 0) if isinstance(e, dict) else e
        try:
            port = int(port)
        except (TypeError, ValueError):
            continue
        if ip and 0 < port < 65536:
            out.add((ip, port))
    return sorted(out)


class RoundRobin:
    def __init__(self):
        self._lock = threading.Lock()
        self._endpoints: dict[Hashable, list[Endpoint]] = {}
        self._index: dict[Hashable, int] = {}

    def update(self, key: Hashable, endpoints) -> bool:
        """Set the endpoints of ``key``; returns True (and resets the rotation) if the list changed."""
        eps = normalize(endpoints)
        with self._lock:
            if self._endpoints.get(key) == eps and key in self._endpoints:
                return False
            self._endpoints[key] = eps
            self._index[key] = 0
            return True

    def remove(self, key: Hashable) -> None:
        with self._lock:
            self._endpoints.pop(key, None)
            self._index.pop(key, None)

    def keys(self) -> list:
        with self._lock:
            return list(self._endpoints)

    def endpoints(self, key: Hashable) -> list[Endpoint]:
        with self._lock:
            return list(self._endpoints.get(key) or ())

    def next(self, key: Hashable) -> Endpoint | None:
        """The next endpoint of ``key`` in turn; None when it has none."""
        with self._lock:
            eps = self._endpoints.get(key)
            if not eps:
                return None
            i = self._index.get(key, 0) % len(eps)
            self._index[key] = (i + 1) % len(eps)
            return eps[i]
