"""Pod status writes of the kubelets of one minion process, coalesced per pod, on a few shared threads.

``StatusPusher.push(pod, done)`` queues the pod's status; a newer push for the same pod replaces one not yet
sent, and one pod is never written by two threads at once. ``done(ok)`` tells the kubelet whether the write
went through (a pod deleted meanwhile counts as written), so a failed one is retried on its next sync.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

import requests

from raftkube.model.errors import ApiError, NotFound
from raftkube.model.objects import name_of, namespace_of

log = logging.getLogger(__name__)


class StatusPusher:
    """Coalescing status writes through the client, on a few threads shared by all kubelets here."""

    def __init__(self, client, threads: int = 2, name: str = "kubelet-status", client_for=None):
        """``client_for(pod)``: the client to write that pod's status with (the credential of the minion it is
        bound to, for hollow minions with one each); None: ``client``."""
        self.client = client
        self.client_for = client_for or (lambda pod: client)
        self._pending: dict[tuple[str, str], tuple[dict, Callable[[bool], None]]] = {}
        self._order: list[tuple[str, str]] = []
        self._cond = threading.Condition()
        self._stop = False
        self._threads = [threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True) for i in range(threads)]
        self._busy: set[tuple[str, str]] = set()

    def start(self) -> "StatusPusher":
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=5)

    def push(self, pod: dict, done: Callable[[bool], None]) -> None:
        key = (namespace_of(pod), name_of(pod))
        with self._cond:
            if key not in self._pending:
                self._order.append(key)
            self._pending[key] = (pod, done)
            self._cond.notify()

    def _next(self):
        with self._cond:
            while True:
                if self._stop:
                    return None
                for i, key in enumerate(self._order):
                    if key not in self._busy:
                        self._order.pop(i)
                        self._busy.add(key)
                        return key, self._pending.pop(key)
                self._cond.wait(1.0)

    def _run(self) -> None:
        while True:
            item = self._next()
            if item is None:
                return
            key, (pod, done) = item
            ok = False
            try:
                self.client_for(pod).update_status(pod)
                ok = True
            except NotFound:
                ok = True  # deleted meanwhile: nothing to report
            except (ApiError, requests.RequestException, OSError) as exc:
                log.warning("status of pod %s/%s not written: %s", key[0], key[1], exc)
            finally:
                with self._cond:
                    self._busy.discard(key)
                    self._cond.notify()
            try:
                done(ok)
            except Exception:  # noqa: BLE001
                log.exception("status callback failed")

