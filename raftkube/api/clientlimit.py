"""Connections per client address on an API port: past ``limit`` open at once, a new one is answered 429.

Both servers (api/server.py: waitress, api/tls.py: cheroot) count a connection from the moment it is accepted
until it closes (on the TLS port, until a watch's connection is handed to the watch pump, which counts
watches itself: api.watches_per_client). The refused connection gets one ``429 Too Many Requests`` with
``Retry-After`` and a Status body, and is closed; the log says which address, at most once a minute each.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict

log = logging.getLogger(__name__)

_LOG_EVERY_S = 60.0


class ClientConnections:
    def __init__(self, limit: int, port_name: str):
        self.limit = limit
        self.port_name = port_name
        self._open: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._logged: dict[str, float] = {}
        self.refused = 0

    def acquire(self, address: str) -> bool:
        """Count one more connection of ``address``; False (and nothing counted) over the limit."""
        with self._lock:
            if self._open[address] >= self.limit:
                self.refused += 1
                now = time.monotonic()
                if now - self._logged.get(address, -_LOG_EVERY_S) >= _LOG_EVERY_S:
                    self._logged[address] = now
                    log.warning("%s: refused a connection from %s: it has %d open (api.connections_per_client); "
                                "answered 429", self.port_name, address, self._open[address])
                return False
            self._open[address] += 1
            return True

    def release(self, address: str) -> None:
        with self._lock:
            self._open[address] -= 1
            if self._open[address] <= 0:
                del self._open[address]

    def open(self, address: str) -> int:
        with self._lock:
            return self._open.get(address, 0)

    def refusal(self) -> bytes:
        """The whole HTTP answer to a refused connection."""
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": f"too many connections from this client: {self.limit} "
                                      "(api.connections_per_client)",
                           "reason": "TooManyRequests", "details": {"retryAfterSeconds": 1},
                           "code": 429}).encode()
        return (b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
