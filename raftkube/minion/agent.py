"""The node agent: registers this minion with the masters and heartbeats its status.

``NodeAgent(client, name, address, capacity, labels, heartbeat_s)`` creates the Node (or reuses the one
already registered under that name) and then, in a thread named ``node-heartbeat``, writes its status
every ``heartbeat_s``: Ready=True, lastHeartbeatTime, hostIP and capacity. The client fails over across
the masters, so the agent survives a master going away. The kubelet builds on this agent.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from typing import Callable

from raftkube.model.errors import AlreadyExists, ApiError, Conflict, NotFound

log = logging.getLogger(__name__)


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class NodeAgent:
    def __init__(self, client, name: str, address: str, capacity: dict | None = None,
                 labels: dict | None = None, heartbeat_s: float = 5.0, *,
                 clock: Callable[[], float] = time.time, extra_status: dict | None = None):
        self.client = client
        self.name = name
        self.address = address
        self.capacity = {"cpu": int((capacity or {}).get("cpu") or 0),
                         "memory": int((capacity or {}).get("memory") or 0)}
        self.labels = dict(labels or {})
        self.heartbeat_s = heartbeat_s
        self.clock = clock
        #: more status fields to advertise (the minion's kubeletPort and serviceHost)
        self.extra_status = dict(extra_status or {})
        self.heartbeats = 0
        self._ready_since: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self) -> "NodeAgent":
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="node-heartbeat", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    # ---- the work ---------------------------------------------------------------------------
    def _status(self) -> dict:
        now = rfc3339(self.clock())
        if self._ready_since is None:
            self._ready_since = now
        return {"hostIP": self.address, "capacity": dict(self.capacity), **self.extra_status,
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                "lastHeartbeatTime": now, "lastTransitionTime": self._ready_since}]}

    def register(self) -> dict:
        """Create the Node, or reuse the one with this name."""
        node = {"kind": "Node", "metadata": {"name": self.name, "labels": dict(self.labels)},
                "spec": {"unschedulable": False}, "status": self._status()}
        try:
            created = self.client.create(node)
            log.info("minion %s registered (%s)", self.name, self.address)
            return created
        except AlreadyExists:
            log.info("minion %s already registered; reusing it", self.name)
            return self.client.get("Node", self.name, "")

    def heartbeat(self) -> dict:
        """One status write; re-registers if the Node was deleted."""
        node = {"kind": "Node", "metadata": {"name": self.name}, "status": self._status()}
        try:
            written = self.client.update_status(node)
        except NotFound:
            written = self.register()
        self.heartbeats += 1
        return written

    def _run(self) -> None:
        registered = False
        while not self._stop.is_set():
            try:
                if not registered:
                    self.register()
                    registered = True
                self.heartbeat()
            except (Conflict, ApiError) as exc:
                log.warning("minion %s: heartbeat failed: %s", self.name, exc)
            except Exception:
                log.exception("minion %s: heartbeat crashed", self.name)
            self._stop.wait(self.heartbeat_s)
