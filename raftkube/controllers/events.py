"""Event recording, best effort: a bounded queue drained by a few threads, so emitting never slows a
controller down; when the queue is full events are dropped (and counted)."""

from __future__ import annotations

import logging
import queue
import threading

from raftkube.model.errors import ApiError, NotLeader
from raftkube.model.objects import name_of, namespace_of, rv_of

log = logging.getLogger(__name__)


def make_event(obj: dict, reason: str, message: str, *, status: str = "", source: str = "") -> dict:
    md = obj.get("metadata") or {}
    return {"kind": "Event", "metadata": {"name": "", "namespace": namespace_of(obj)},
            "involvedObject": {"kind": obj.get("kind", ""), "namespace": namespace_of(obj), "name": name_of(obj),
                               "uid": md.get("uid", ""), "resourceVersion": str(rv_of(obj) or ""),
                               "fieldPath": ""},
            "status": status, "reason": reason, "message": message, "source": source}


class EventRecorder:
    def __init__(self, client, source: str, *, threads: int = 2, max_queued: int = 1000, name: str = "events"):
        self.client = client
        self.source = source
        self.dropped = 0
        self.sent = 0
        self._queue: queue.Queue = queue.Queue(max_queued)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._drain, name=f"ctrl-{name}-{i}", daemon=True)
                         for i in range(threads)]
        for t in self._threads:
            t.start()

    def record(self, obj: dict, reason: str, message: str, status: str = "") -> None:
        event = make_event(obj, reason, message, status=status, source=self.source)
        if not self._threads:
            self._send(event)
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            log.debug("event dropped (queue full): %s %s", reason, message)

    def _send(self, event: dict) -> None:
        try:
            self.client.create(event)
            self.sent += 1
        except NotLeader:
            self._stop.set()
        except ApiError as exc:
            log.debug("event not recorded: %s", exc)

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                event = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if not self._stop.is_set():
                self._send(event)

    def stop(self) -> None:
        self._stop.set()
