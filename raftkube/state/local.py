"""A single-replica store with the ``Store`` interface and no Raft: for unit tests and tools.

It applies each transaction through the same StateMachine, so everything above it behaves as on a master.
"""

from __future__ import annotations

import threading

from raftkube.state.codec import pack
from raftkube.state.machine import StateMachine, check_result
from raftkube.state.watch import WatchHub


class LocalStore:
    name = "local"
    ready = True
    write_timeout_s = 5.0

    def __init__(self, watch_ring: int = 10_000):
        self._hub = WatchHub(watch_ring)
        self._machine = StateMachine(on_events=self._hub.publish, on_reset=self._hub.reset)
        self._lock = threading.Lock()

    def submit(self, txn: dict, timeout_s: float | None = None) -> list:
        with self._lock:
            [result] = self._machine.apply(pack([txn]))
        return check_result(result)

    def read(self, consistent: bool = True, timeout_s: float | None = None) -> StateMachine:
        return self._machine

    def watch(self, kind: str, cursor: int, wait_s: float):
        events, seen = self._hub.kind_events_after(kind, cursor, wait_s)
        return None if self._hub.closed else (events, seen)

    def on_watch_events(self, fn) -> None:
        self._hub.add_listener(fn)

    def close_watches(self) -> None:
        self._hub.close()

    def status(self) -> dict:
        return {"name": self.name, "role": "leader", "leader": self.name, "term": 1, "ready": True,
                "revision": self._machine.revision, "epoch": self._machine.epoch,
                "storeBytes": self._machine.store_bytes, "peers": []}

    def close(self) -> None:
        self._hub.close()
