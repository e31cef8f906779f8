"""The proxy's view of the cluster (2014's ``pkg/proxy/config/api.go``): services and endpoints of every
namespace, listed and then watched through the ``Client`` of any master.

Two informers (``raftkube.informer``; threads ``proxy-service``, ``proxy-endpoints``) keep a local copy of
each kind current; a failed watch relists after ``retry_s`` (1 s), a 410 Gone or an ended stream relists at
once. The ``proxy-sync`` thread calls ``on_change(services, endpoints)`` after every change (debounced by
``debounce_s``) and every ``resync_s`` (30 s) relists both kinds first, so a missed event is repaired within
a resync period. The first ``on_change`` waits until both kinds have been listed once.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from raftkube.informer import Informer, InformerSettings
from raftkube.model.errors import ApiError

log = logging.getLogger(__name__)


class ServiceConfig:
    def __init__(self, client, on_change: Callable[[list[dict], list[dict]], None], *,
                 resync_s: float = 30.0, retry_s: float = 1.0, debounce_s: float = 0.01):
        self.client = client
        self.on_change = on_change
        self.resync_s = resync_s
        self.retry_s = retry_s
        self.debounce_s = debounce_s
        self.syncs = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        watch = InformerSettings(retry_s=retry_s, max_retry_s=retry_s, relist_on_end=True)
        self.services = Informer(client, "Service", self._changed, settings=watch, stop=self._stop, name="proxy")
        self.endpoints = Informer(client, "Endpoints", self._changed, settings=watch, stop=self._stop,
                                  name="proxy")
        for informer in (self.services, self.endpoints):
            informer.add_relist_handler(self._wake.set)
        self._thread: threading.Thread | None = None

    def _changed(self, old: dict | None, new: dict | None) -> None:
        self._wake.set()

    def start(self) -> "ServiceConfig":
        self._stop.clear()
        for informer in (self.services, self.endpoints):
            informer.start(f"proxy-{informer.kind.lower()}")
        self._thread = threading.Thread(target=self._sync_loop, name="proxy-sync", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        # A watch blocked in a read does not always notice ``close`` from another thread (it wakes at the
        # next event); its thread is a daemon that does nothing more once stopped, so do not wait for it.
        for informer in (self.services, self.endpoints):
            informer.stop(timeout_s=0.2)
        if self._thread is not None:
            self._thread.join(timeout_s)

    # ---- the sync thread --------------------------------------------------------------------------
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
