"""The proxy's view of the cluster (2014's ``pkg/proxy/config/api.go``): services and endpoints of every
namespace, listed and then watched through the ``Client`` of any master.

Two watch threads (``proxy-services``, ``proxy-endpoints``) keep a local copy of each kind current; a
failed watch relists after ``retry_s`` (1 s), a 410 Gone relists at once. The ``proxy-sync`` thread calls
``on_change(services, endpoints)`` after every change (debounced by ``debounce_s``) and every
``resync_s`` (30 s) relists both kinds first, so a missed event is repaired within a resync period.
The first ``on_change`` waits until both kinds have been listed once.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from raftkube.model.errors import ApiError, Gone
from raftkube.model.objects import name_of, namespace_of, rv_of

log = logging.getLogger(__name__)


class _Cache:
    """A local copy of one kind; events older than what is cached are ignored (a relist may be newer)."""

    def __init__(self, client, kind: str):
        self.client = client
        self.kind = kind
        self.objects: dict[tuple[str, str], dict] = {}
        self.revision = 0
        self.synced = threading.Event()
        self.lock = threading.Lock()

    def relist(self) -> None:
        items, revision = self.client.list(self.kind)
        with self.lock:
            listed = {(namespace_of(o), name_of(o)): o for o in items}
            for key, old in list(self.objects.items()):
                if key not in listed and rv_of(old) <= revision:
                    del self.objects[key]
            for key, new in listed.items():
                old = self.objects.get(key)
                if old is None or rv_of(new) >= rv_of(old):
                    self.objects[key] = new
            self.revision = max(self.revision, revision)
        self.synced.set()

    def apply(self, ev) -> None:
        key = (namespace_of(ev.object), name_of(ev.object))
        with self.lock:
            self.revision = max(self.revision, ev.revision)
            old = self.objects.get(key)
            if old is not None and rv_of(old) > ev.revision:
                return
            if ev.type == "DELETED":
                self.objects.pop(key, None)
            else:
                self.objects[key] = ev.object

    def items(self) -> list[dict]:
        with self.lock:
            return list(self.objects.values())


class ServiceConfig:
    def __init__(self, client, on_change: Callable[[list[dict], list[dict]], None], *,
                 resync_s: float = 30.0, retry_s: float = 1.0, debounce_s: float = 0.01):
        self.client = client
        self.on_change = on_change
        self.resync_s = resync_s
        self.retry_s = retry_s
        self.debounce_s = debounce_s
        self.services = _Cache(client, "Service")
        self.endpoints = _Cache(client, "Endpoints")
        self.syncs = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._watches: dict[str, object] = {}
        self._threads: list[threading.Thread] = []

    def start(self) -> "ServiceConfig":
        self._stop.clear()
        self._threads = [threading.Thread(target=self._watch_loop, args=(c,), daemon=True,
                                          name=f"proxy-{c.kind.lower()}")
                         for c in (self.services, self.endpoints)]
        self._threads.append(threading.Thread(target=self._sync_loop, name="proxy-sync", daemon=True))
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        for w in list(self._watches.values()):
            try:
                w.close()
            except Exception:  # noqa: BLE001 - closing a broken stream
                pass
        # A watch blocked in a read does not always notice ``close`` from another thread (it wakes at the
        # next event); its thread is a daemon that does nothing more once stopped, so do not wait for it.
        for t in self._threads:
            t.join(timeout_s if t.name == "proxy-sync" else 0.2)

    # ---- threads ----------------------------------------------------------------------------------
    def _watch_loop(self, cache: _Cache) -> None:
        relist = True
        while not self._stop.is_set():
            try:
                if relist:
                    cache.relist()
                    relist = False
                    self._wake.set()
                watch = self._watches[cache.kind] = self.client.watch(cache.kind, resource_version=cache.revision)
                if self._stop.is_set():
                    break
                for ev in watch:
                    if self._stop.is_set():
                        break
                    if ev is not None:
                        cache.apply(ev)
                        self._wake.set()
                relist = True  # the stream ended
            except Gone:
                log.info("proxy: watch of %s: revision %d is gone; relisting", cache.kind, cache.revision)
                relist = True
            except ApiError as exc:
                if not self._stop.is_set():
                    log.warning("proxy: watch of %s failed (%s); relisting in %.0f s", cache.kind, exc, self.retry_s)
                relist = True
                self._stop.wait(self.retry_s)
            except Exception:  # noqa: BLE001 - never let a watch thread die
                if not self._stop.is_set():
                    log.exception("proxy: watch of %s crashed; relisting", cache.kind)
                relist = True
                self._stop.wait(self.retry_s)
            finally:
                w = self._watches.pop(cache.kind, None)
                if w is not None:
                    try:
                        w.close()
                    except Exception:  # noqa: BLE001
                        pass

    def _sync_loop(self) -> None:
        first = True
        while not self._stop.is_set():
            if not (self.services.synced.is_set() and self.endpoints.synced.is_set()):
                self._stop.wait(0.05)
                continue
            woken = True if first else self._wake.wait(self.resync_s)
            first = False
            if self._stop.is_set():
                return
            if woken:
                self._stop.wait(self.debounce_s)
            else:
                for cache in (self.services, self.endpoints):
                    try:
                        cache.relist()
                    except ApiError as exc:
                        log.warning("proxy: resync of %s failed: %s", cache.kind, exc)
            self._wake.clear()
            try:
                self.on_change(self.services.items(), self.endpoints.items())
                self.syncs += 1
            except Exception:  # noqa: BLE001
                log.exception("proxy: sync failed")
