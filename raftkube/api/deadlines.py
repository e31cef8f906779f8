"""Deadlines on blocking sockets: a watchdog thread shuts down a socket whose deadline passed.

cheroot (the secure port) reads a request with blocking sockets whose timeout applies to each ``recv``: a
client sending a byte every few seconds never times out and holds a worker thread (or, during the TLS
handshake, the one acceptor thread). ``Deadlines.arm(sock, seconds)`` before a read that must finish in
time, ``disarm(sock)`` after; past the deadline the watchdog shuts the socket down (the OS-level shutdown,
also for an ``ssl.SSLSocket``), so the blocked read returns at once and cheroot drops the connection.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

log = logging.getLogger(__name__)


class Deadlines:
    def __init__(self, what: str, period_s: float = 0.25, log_every_s: float = 10.0):
        self.what = what
        self._period_s = period_s
        self._log_every_s = log_every_s
        self._armed: dict[socket.socket, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.cut = 0
        self._unlogged = 0
        self._logged_at = float("-inf")
        self._thread = threading.Thread(target=self._run, name=f"deadlines-{what}", daemon=True)

    def start(self) -> "Deadlines":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def arm(self, sock: socket.socket, seconds: float) -> None:
        with self._lock:
            self._armed[sock] = time.monotonic() + seconds

    def disarm(self, sock: socket.socket) -> None:
        with self._lock:
            self._armed.pop(sock, None)

    def expire(self, now: float) -> int:
        """Shut down every socket past its deadline; how many."""
        with self._lock:
            late = [s for s, deadline in self._armed.items() if deadline <= now]
            for s in late:
                del self._armed[s]
        for s in late:
            try:
                socket.socket.shutdown(s, socket.SHUT_RDWR)  # the OS-level shutdown, not SSLSocket's unwrap
            except OSError:
                pass  # already closed
        if late:
            self.cut += len(late)
            self._unlogged += len(late)
            if now - self._logged_at >= self._log_every_s:
                log.warning("cut %d connection(s) whose %s did not arrive in time", self._unlogged, self.what)
                self._logged_at, self._unlogged = now, 0
        return len(late)

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            self.expire(time.monotonic())
