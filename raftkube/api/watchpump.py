"""The watch pump: one thread serves every open watch stream of a master, so that a watch holds no API thread.

An API worker thread validates a watch (auth, selectors, resourceVersion), sends the response head, the
initial ADDED events and hands the connection over as a ``Sink`` (api/sinks.py); the worker is then free.
The pump wakes when the store publishes events of a kind (``Registry.on_watch_events``), pulls each watcher's
events from its cursor without waiting (``WatchFeed.pull``: watchers at the same cursor share one fetch and
one decode), encodes each (encoder, revision, type) once, and queues the bytes on the sink without blocking.

Flow control: a watcher whose unsent bytes are below ``max_buffer`` always gets its next events, at least
one whatever its size; a batch stops at the event that fills the buffer and the feed is rewound to it (the
rest stays in the store's ring, not in memory of the watcher's own). A watcher at or past ``max_buffer`` is
not pulled (paused) until its sink tells that it drained below it (``Sink.when_below``; the sweep checks
too). A paused watcher whose client reads nothing for ``stall_s`` is dropped: its connection closes and the
client watches again from its last resourceVersion, or relists on 410 (the ERROR a watcher gets instead when
its cursor left the ring while it was paused, as a too-old resourceVersion does). Idle streams get
``keepalive_s`` filler, which is also how waitress' channel timeout and TCP notice a client that went away.
A watch that asked for bookmarks (``allowWatchBookmarks``) is brought up to the store's revision every
``bookmark_s`` and sent a BOOKMARK carrying it, so a client resuming there from an idle watch misses nothing
and is not sent a 410.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

from raftkube.model.errors import Gone, TooManyRequests

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PumpLimits:
    max_watches: int = 20_000  # open watches per master
    watches_per_client: int = 1000  # per (user, remote address)
    max_buffer: int = 1024 * 1024  # unsent bytes per watch at which the pump sends it no more (pauses it)
    keepalive_s: float = 15.0
    stall_s: float = 30.0  # a paused watcher whose client reads nothing for this long is dropped
    bookmark_s: float = 60.0  # a watch that asked for bookmarks gets one this often


@dataclass(eq=False)
class Watcher:
    feed: object  # registry.watchfeed.WatchFeed
    line: Callable  # WatchEvent -> bytes (one JSON line)
    line_key: object  # None: lines of this watcher cannot be shared with others
    gone_line: Callable  # message -> bytes (an ERROR line with a 410 Status)
    filler: bytes
    client: object
    sink: object = None
    last_write: float = field(default_factory=time.monotonic)
    group: tuple = ()  # watchers sharing this one's sink (/ui/watch): they end together
    paused: bool = False  # its unsent bytes reached max_buffer: not pulled until they drain below it
    stall_mark: int = 0  # while paused: the unsent bytes when its client last read some ...
    stall_since: float = 0.0  # ... and when
    bookmark: Callable | None = None  # resourceVersion -> bytes (a BOOKMARK line); None: not asked for
    last_bookmark: float = field(default_factory=time.monotonic)
    ends_at: float | None = None  # time.monotonic() when the stream ends (the client's timeoutSeconds)


class WatchPump:
    def __init__(self, registry, limits: PumpLimits = PumpLimits()):
        self.registry = registry
        self.limits = limits
        self._lock = threading.Lock()
        self._pending: list[Watcher] = []
        self._resumed: list[Watcher] = []  # paused watchers whose sink drained (any thread appends)
        self._ending: dict[object, float] = {}  # sinks ended with bytes unsent -> when they are cut anyway
        self._sweep_s = min(1.0, limits.stall_s / 4)
        self._dirty: set | None = set()  # kinds with new events; None: every kind
        self._by_kind: dict[str, set[Watcher]] = defaultdict(set)
        self._per_client: dict[object, int] = defaultdict(int)
        self._count = 0
        self._stopped = False
        self._woken = False
        self._thread: threading.Thread | None = None
        self._sel: selectors.BaseSelector | None = None
        self._wake_r = self._wake_w = -1
        self.dropped_slow = 0  # watchers dropped for not reading (stall_s with a full buffer)
        self.pauses = 0  # times a watcher reached max_buffer and was not pulled until it drained
        self.busy_s = 0.0  # time the pump thread spent serving (not waiting), for its utilisation
        registry.on_watch_events(self._on_events)

    @property
    def open_watches(self) -> int:
        return self._count

    # ---- any thread ---------------------------------------------------------------------------
    def admit(self, client) -> None:
        """Count one more watch for ``client``; 429 (TooManyRequests, Retry-After) over a limit."""
        with self._lock:
            if self._count >= self.limits.max_watches:
                raise TooManyRequests(f"this master serves its maximum of {self.limits.max_watches} watches "
                                      "(api.max_watches)", retry_after_s=5.0)
            if self._per_client[client] >= self.limits.watches_per_client:
                raise TooManyRequests(f"too many watches open by this client: {self.limits.watches_per_client} "
                                      "(api.watches_per_client)", retry_after_s=5.0)
            self._per_client[client] += 1
            self._count += 1

    def release(self, client) -> None:
        with self._lock:
            self._release_locked(client)

    def _release_locked(self, client) -> None:
        self._count -= 1
        self._per_client[client] -= 1
        if not self._per_client[client]:
            del self._per_client[client]

    def add(self, *watchers: Watcher) -> None:
        """Serve ``watchers`` (each admitted, their sink attached) from now on; several share one sink (a
        group: they are paused, resumed and dropped together)."""
        if len(watchers) > 1:
            for w in watchers:
                w.group = watchers
        with self._lock:
            if self._stopped:
                for w in watchers:
                    self._release_locked(w.client)
                watchers[0].sink.abort()
                return
            if self._thread is None:
                self._start_locked()
            self._pending.extend(watchers)
        self._wake()

    def _resume(self, w: Watcher) -> None:  # a sink's drain callback: any thread, never blocks
        with self._lock:
            self._resumed.extend(w.group or (w,))
        self._wake()

    def _on_events(self, kinds) -> None:  # the store's apply thread: never blocks
        with self._lock:
            if kinds is None:
                self._dirty = None
            elif self._dirty is not None:
                self._dirty |= kinds
        self._wake()

    def _wake(self) -> None:
        if not self._woken and self._wake_w >= 0:
            self._woken = True
            try:
                os.write(self._wake_w, b"x")
            except (BlockingIOError, OSError):
                pass

    def close(self) -> None:
        """End every stream and the pump thread."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        self._wake()
        if thread is not None:
            thread.join(timeout=5)

    # ---- the pump thread ----------------------------------------------------------------------
    def _start_locked(self) -> None:
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._run, name="watch-pump", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_sweep = time.monotonic() + self._sweep_s
        try:
            while True:
                for key, mask in self._sel.select(max(0.0, next_sweep - time.monotonic())):
                    if key.data is None:
                        self._drain_wake()
                    else:
                        key.data.sink.on_ready(mask)  # a drained sink calls back (when_below): _resumed
                        if not key.data.sink.alive():
                            self._drop(key.data, end=False)
                with self._lock:
                    self._woken = False
                    pending, self._pending = self._pending, []
                    resumed, self._resumed = self._resumed, []
                    dirty, self._dirty = self._dirty, set()
                    stopped = self._stopped
                if stopped:
                    break
                t0 = time.perf_counter()
                memo: dict = {}
                wakes: set = set()
                for w in pending:  # every watcher of a group first: one's 410 ends them all
                    self._register(w)
                for w in pending:
                    self._pull(w, memo, wakes)
                for w in resumed:
                    if self._serving(w):
                        self._pull(w, memo, wakes)
                for kind in (list(self._by_kind) if dirty is None else dirty):
                    for w in list(self._by_kind.get(kind, ())):
                        self._pull(w, memo, wakes)
                if time.monotonic() >= next_sweep:
                    self._sweep(memo, wakes)
                    next_sweep = time.monotonic() + self._sweep_s
                for wake in wakes:
                    wake()
                self.busy_s += time.perf_counter() - t0
        except Exception:  # a bug here would freeze every watch: end them, clients watch again
            log.exception("watch pump failed")
        finally:
            self._end_all()

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _register(self, w: Watcher) -> None:
        self._by_kind[w.feed.kind].add(w)
        if hasattr(w.sink, "watch") and w is (w.group or (w,))[0]:  # a socket: the selector tells of EOF and
            w.sink.watch(self._sel, w)  # room to write (once per sink)

    def _serving(self, w: Watcher) -> bool:
        return w in self._by_kind.get(w.feed.kind, ())

    def _drop(self, w: Watcher, *, end: bool) -> None:
        """Stop serving ``w``: ``end`` finishes its stream in order (what is queued, then the end; cut after
        ``stall_s`` if the client does not take it), else its connection closes at once."""
        if not self._serving(w):
            return
        for x in w.group or (w,):
            kind_set = self._by_kind.get(x.feed.kind)
            if kind_set is None or x not in kind_set:
                continue
            kind_set.discard(x)
            if not kind_set:
                del self._by_kind[x.feed.kind]
            with self._lock:
                self._release_locked(x.client)
        try:
            if end:
                w.sink.end()
                if w.sink.alive():
                    self._ending[w.sink] = time.monotonic() + self.limits.stall_s
            else:
                w.sink.abort()
        except OSError:
            pass

    def _pull(self, w: Watcher, memo: dict, wakes: set) -> None:
        sink = w.sink
        if not sink.alive():
            self._drop(w, end=False)
            return
        if sink.backlog() >= self.limits.max_buffer:  # its client has not read enough yet (or, in a group,
            if not w.paused:  # another watcher filled the sink): its events wait in the feed
                self._pause(w)
            return
        w.paused = False
        try:
            got = w.feed.pull(memo)
        except Gone as exc:
            self._send(w, w.gone_line(exc.message), wakes)
            self._drop(w, end=True)
            return
        if got is None:  # the store stopped serving watches (master stopping)
            self._drop(w, end=True)
            wakes.add(sink.wake)
            return
        events, more = got
        if events:
            room = self.limits.max_buffer - sink.backlog()
            lines, size = [], 0
            line_key = w.line_key
            for i, ev in enumerate(events):
                if line_key is None:  # lines of this watcher are its own
                    line = w.line(ev)
                else:  # encoded once per pass for every watcher of the same encoder
                    key = ("line", line_key, ev.revision, ev.type)
                    line = memo.get(key)
                    if line is None:
                        line = memo[key] = w.line(ev)
                lines.append(line)
                size += len(line)
                if size >= room and i + 1 < len(events):
                    w.feed.rewind(ev.revision)  # the rest when the client has read this
                    more = True
                    break
            self._send(w, b"".join(lines), wakes)
        if sink.backlog() >= self.limits.max_buffer:
            self._pause(w)
        elif more:
            with self._lock:
                if self._dirty is not None:
                    self._dirty.add(w.feed.kind)
            self._wake()

    def _pause(self, w: Watcher) -> None:
        self.pauses += 1
        w.paused = True
        w.stall_mark, w.stall_since = w.sink.backlog(), time.monotonic()
        when_below = getattr(w.sink, "when_below", None)
        if when_below is not None:  # else the sweep finds it drained
            when_below(self.limits.max_buffer, lambda: self._resume(w))

    def _send(self, w: Watcher, data: bytes, wakes: set) -> None:
        w.sink.send(data)
        w.last_write = time.monotonic()
        wakes.add(w.sink.wake)

    def _sweep(self, memo: dict, wakes: set) -> None:
        """Every ``_sweep_s``: drop watchers whose client went away or stalls, end those past their
        timeoutSeconds, resume drained ones, bookmark those due, send filler to idle ones, cut ended streams
        not taken in time."""
        now = time.monotonic()
        idle_before, bookmark_before = now - self.limits.keepalive_s, now - self.limits.bookmark_s
        for kind_set in list(self._by_kind.values()):
            for w in list(kind_set):
                if not w.sink.alive():
                    self._drop(w, end=False)
                elif w.ends_at is not None and now >= w.ends_at:
                    wakes.add(w.sink.wake)
                    self._drop(w, end=True)
                elif w.paused:
                    self._check_paused(w, now, memo, wakes)
                elif w.bookmark is not None and w.last_bookmark <= bookmark_before:
                    self._bookmark(w, memo, wakes)
                elif w.last_write <= idle_before:
                    self._send(w, w.filler, wakes)
        for sink, cut_at in list(self._ending.items()):
            if not sink.alive():
                del self._ending[sink]
            elif now >= cut_at:
                del self._ending[sink]
                sink.abort()

    def _check_paused(self, w: Watcher, now: float, memo: dict, wakes: set) -> None:
        backlog = w.sink.backlog()
        if backlog < self.limits.max_buffer:
            self._pull(w, memo, wakes)
        elif backlog < w.stall_mark:  # the client read some: it is slow, not stuck
            w.stall_mark, w.stall_since = backlog, now
        elif now - w.stall_since >= self.limits.stall_s:
            log.info("watch of %s dropped: its client read nothing for %.0f s with %d bytes unsent "
                     "(api.watch_stall_s)", w.feed.kind, now - w.stall_since, backlog)
            self.dropped_slow += 1
            self._drop(w, end=False)
            wakes.add(w.sink.wake)

    def _bookmark(self, w: Watcher, memo: dict, wakes: set) -> None:
        """Bring ``w`` up to the store's revision (its events of the kind so far go first, or its 410), then
        tell it that revision: every event of its kind up to it has been sent."""
        w.last_bookmark = time.monotonic()
        self._pull(w, memo, wakes)
        if w in self._by_kind.get(w.feed.kind, ()):
            self._send(w, w.bookmark(w.feed.cursor), wakes)

    def _end_all(self) -> None:
        wakes = set()
        for kind_set in list(self._by_kind.values()):
            for w in list(kind_set):
                wakes.add(w.sink.wake)
                self._drop(w, end=True)
        for wake in wakes:
            wake()
        for sink in self._ending:
            if hasattr(sink, "watch"):  # flushed by this thread's selector, which closes now
                sink.abort()
        self._ending.clear()
        with self._lock:
            for w in self._pending:
                w.sink.abort()
                self._release_locked(w.client)
            self._pending = []
        self._sel.close()
        wake_w, self._wake_w = self._wake_w, -1
        os.close(self._wake_r)
        os.close(wake_w)


def event_line(encode) -> Callable:
    """WatchEvent -> one JSON line ``{"type": ..., "object": encode(obj)}``."""
    return lambda ev: json.dumps({"type": ev.type, "object": encode(ev.object)}, separators=(",", ":")).encode() + b"\n"


def pumped_body(pump: WatchPump, watchers: list[Watcher], hand_over, filler: bytes):
    """A watch's WSGI body: the head leaves with ``filler``, then the initial events of each watcher (this
    thread, blocking, in batches), then the pump owns the connection (one sink for all ``watchers``); the
    server writes nothing more. Their admissions are released if the stream ends before that."""
    attached = False
    try:
        yield filler
        for w in watchers:
            initial, w.feed.initial = w.feed.initial, []
            for i in range(0, len(initial), 500):
                yield b"".join(w.line(ev) for ev in initial[i:i + 500])
        sink = hand_over()
        for w in watchers:
            w.sink = sink
        attached = True
        pump.add(*watchers)
    finally:
        if not attached:
            for w in watchers:
                pump.release(w.client)
