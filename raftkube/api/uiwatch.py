"""``GET /ui/watch?resources=pods,nodes,...&resourceVersion=RV``: the dashboard's one stream of several watches.

A browser opens at most six HTTP/1.1 connections to one host:port, and every watch holds one: six watches
(nodes, pods, RCs, services, endpoints, events) would leave none for ``/raft`` and ``/metrics``. This stream
carries the events of the named core/v1 resources (all namespaces), each line ``{"resource": "pods", "type":
..., "object": ...}`` with the object as ``/api/v1`` encodes it, and an ``ERROR`` line (410 Expired) when RV is
too old (the page lists again). Since resourceVersions are the one Raft revision, one RV serves every
resource: the page lists each, watches from the lowest list RV, and skips a resource's events at or below
its own list's RV. One waitress thread streams; one plain thread per resource reads its registry watch.
"""

from __future__ import annotations

import json
import queue
import threading
import time

from raftkube.model.errors import BadRequest, Gone

_END = object()


class MultiWatchResource:
    needs_ready = True

    def __init__(self, version, registry, keepalive_s: float = 15.0):
        self.version = version  # core/v1: its encoding, and its Status for errors
        self.registry = registry
        self.keepalive_s = keepalive_s

    def on_get(self, req, resp):
        names = [n for n in (req.get_param("resources") or "").split(",") if n]
        if not names or len(names) > 16:
            raise BadRequest("resources: name 1 to 16 core/v1 resources, comma-separated")
        kinds = []
        for name in dict.fromkeys(names):
            res = self.version.resource(name)
            if res is None or "watch" not in res.verbs:
                raise BadRequest(f"resources: {name!r} is not a watchable core/v1 resource")
            kinds.append((name, res.kind))
        raw = req.get_param("resourceVersion") or "0"
        try:
            rv = int(raw)
            if rv < 0:
                raise ValueError
        except ValueError:
            raise BadRequest(f"resourceVersion: {raw!r} is not a non-negative integer") from None
        disconnected = req.env.get("waitress.client_disconnected") or (lambda: False)
        resp.content_type = "application/json"
        resp.stream = self._stream(kinds, rv, disconnected)

    def _stream(self, kinds, rv, disconnected):
        events: queue.Queue = queue.Queue(maxsize=10000)
        stop = threading.Event()

        def done() -> bool:
            return stop.is_set() or disconnected()

        def offer(item) -> None:
            # a slow reader fills the queue: wait for room, but never past the end of the stream
            while not done():
                try:
                    events.put(item, timeout=0.5)
                    return
                except queue.Full:
                    continue

        def follow(name, kind):
            try:
                for ev in self.registry.watch(kind, None, None, None, rv, stop=done, poll_s=0.5):
                    if ev is not None:
                        offer((name, ev))
            except Exception as exc:  # noqa: BLE001 - Gone (410) or another error ends the stream with it
                offer((name, exc))
            finally:
                offer((name, _END))

        threads = [threading.Thread(target=follow, args=k, name=f"ui-watch-{k[0]}", daemon=True) for k in kinds]
        yield self.version.watch_filler
        for t in threads:
            t.start()
        encode = self.version.encode
        idle_since = time.monotonic()
        try:
            while not disconnected():
                try:
                    name, ev = events.get(timeout=0.5)
                except queue.Empty:
                    if time.monotonic() - idle_since >= self.keepalive_s:
                        idle_since = time.monotonic()
                        yield self.version.watch_filler
                    continue
                idle_since = time.monotonic()
                if ev is _END or isinstance(ev, Exception):
                    code, reason = (410, "Expired") if isinstance(ev, Gone) else (500, "InternalError")
                    status = self.version.status_body(code, reason, getattr(ev, "message", None) or str(ev)
                                                      or f"the watch of {name} ended")
                    yield json.dumps({"resource": name, "type": "ERROR", "object": status}).encode() + b"\n"
                    return  # the page lists again and reopens
                yield json.dumps({"resource": name, "type": ev.type, "object": encode(ev.object)},
                                 separators=(",", ":")).encode() + b"\n"
        finally:
            stop.set()
