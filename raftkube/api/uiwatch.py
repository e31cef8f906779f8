"""``GET /ui/watch?resources=pods,nodes,...&resourceVersion=RV``: the dashboard's one stream of several watches.

A browser opens at most six HTTP/1.1 connections to one host:port, and every watch holds one: six watches
(nodes, pods, RCs, services, endpoints, events) would leave none for ``/raft`` and ``/metrics``. This stream
carries the events of the named core/v1 resources (all namespaces), each line ``{"resource": "pods", "type":
..., "object": ...}`` with the object as ``/api/v1`` encodes it, and an ``ERROR`` line (410 Expired) when RV is
too old (the page lists again). Since resourceVersions are the one Raft revision, one RV serves every
resource: the page lists each, watches from the lowest list RV, and skips a resource's events at or below
its own list's RV.

The watch pump (api/watchpump.py) serves it like any watch, one watcher per resource, all writing to the one
connection (a group: admitted each against the watch limits, paused and dropped together, ended together
when one gets a 410); the worker thread is free once the head is sent. Without a pump or a server that hands
connections over (Falcon's test client) the worker thread polls the feeds itself.
"""

from __future__ import annotations

import json
import time

from raftkube.api.watchpump import Watcher, pumped_body
from raftkube.model.errors import BadRequest, Gone


class MultiWatchResource:
    needs_ready = True

    def __init__(self, version, registry, pump=None, poll_s: float = 0.05):
        self.version = version  # core/v1: its encoding, and its Status for errors
        self.registry = registry
        self.pump = pump
        self.poll_s = poll_s

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
        resp.content_type = "application/json"
        hand_over = req.env.get("raftkube.stream_sink")
        if self.pump is None or hand_over is None:
            resp.stream = self._stream(kinds, rv, req.env.get("waitress.client_disconnected") or (lambda: False))
            return
        client = (getattr(getattr(req.context, "user", None), "name", None), req.remote_addr)
        watchers = []
        try:
            for name, kind in kinds:
                self.pump.admit(client)  # 429 over a limit
                try:
                    watchers.append(self._watcher(name, kind, rv, client))
                except BaseException:
                    self.pump.release(client)
                    raise
        except BaseException:
            for w in watchers:
                self.pump.release(w.client)
            raise
        resp.stream = pumped_body(self.pump, watchers, hand_over, self.version.watch_filler)
        req.context.watch_pumped = True  # counted by the pump (raftkube_api_watches)

    def _watcher(self, name: str, kind: str, rv: int, client=None) -> Watcher:
        encode = self.version.encode

        def line(ev) -> bytes:
            return json.dumps({"resource": name, "type": ev.type, "object": encode(ev.object)},
                              separators=(",", ":")).encode() + b"\n"

        def gone_line(message: str) -> bytes:
            status = self.version.status_body(410, "Expired", message)
            return json.dumps({"resource": name, "type": "ERROR", "object": status}).encode() + b"\n"

        feed = self.registry.watch_feed(kind, None, None, None, rv)
        return Watcher(feed, line, ("ui", name), gone_line, self.version.watch_filler, client)

    def _stream(self, kinds, rv, disconnected):
        """This thread follows every feed (no pump): Falcon's test client."""
        watchers = [self._watcher(name, kind, rv) for name, kind in kinds]
        yield self.version.watch_filler
        for w in watchers:
            initial, w.feed.initial = w.feed.initial, []
            if initial:
                yield b"".join(w.line(ev) for ev in initial)
        while not disconnected():
            memo: dict = {}
            out = []
            for w in watchers:
                try:
                    got = w.feed.pull(memo)
                except Gone as exc:
                    yield b"".join(out) + w.gone_line(exc.message)
                    return  # the page lists again and reopens
                if got is None:  # the store stopped serving watches
                    yield b"".join(out)
                    return
                out.extend(w.line(ev) for ev in got[0])
            if out:
                yield b"".join(out)
            else:
                time.sleep(self.poll_s)
