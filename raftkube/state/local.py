"""A single-replica store with the RaftStore interface and no Raft: for unit tests and tools.

It applies each transaction through the same StateMachine, so everything above it behaves as on a master.
"""

from __future__ import annotations

import threading

from raftkube.state.codec import pack
from raftkube.state.machine import StateMachine, check_result
from raftkube.state.watch import WatchHub


class LocalStore:
    name = "local"

    def __init__(self, watch_ring: int = 10_000):
        self.hub = WatchHub(watch_ring)
        self.machine = StateMachine(on_events=self.hub.publish, on_reset=self.hub.reset)
        self._lock = threading.Lock()
        self.ready = True

    def submit(self, txn: dict, timeout_s: float | None = None) -> list:
        with self._lock:
            [result] = self.machine.apply(pack([txn]))
        return check_result(result)

    def barrier(self, timeout_s: float | None = None) -> None:
        return None

    def status(self) -> dict:
        return {"name": self.name, "role": "leader", "leader": self.name, "term": 1, "ready": True,
                "revision": self.machine.revision, "epoch": self.machine.epoch, "peers": []}

    def close(self) -> None:
        self.hub.close()
