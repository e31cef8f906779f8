"""The pods bound to this minion (or to every hollow minion of the process), from a list + watch.

One ``PodSource`` can feed many kubelets: hollow minions in one process share one watch of every bound
pod. It relists on 410 Gone and resumes the watch after a lost master.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Iterable

import requests

from raftkube.model.errors import ApiError, Gone
from raftkube.model.objects import pod_node
from raftkube.minion.planner import pod_uid

log = logging.getLogger(__name__)


class PodSource:
    """The pods bound to some minions, kept from a list + watch; calls ``listener(node)`` on changes.

    ``fields`` is ``DesiredState.Host=<node>`` for one kubelet, or ``DesiredState.Host!=`` for all bound
    pods (one watch shared by many hollow kubelets).
    """

    def __init__(self, client, fields: str, name: str = "kubelet-watch", retry_s: float = 1.0):
        self.client = client
        self.fields = fields
        self.name = name
        self.retry_s = retry_s
        self._by_node: dict[str, dict[str, dict]] = {}
        self._listeners: dict[str, Callable[[str], None]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watch = None
        self._thread: threading.Thread | None = None
        self.synced = threading.Event()

    def subscribe(self, node: str, listener: Callable[[str], None]) -> None:
        with self._lock:
            self._listeners[node] = listener

    def pods_for(self, node: str) -> dict[str, dict]:
        with self._lock:
            return dict(self._by_node.get(node) or {})

    def start(self) -> "PodSource":
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        w = self._watch
        if w is not None:
            try:
                w.close()  # HttpClient's close wakes the reading thread at once
            except Exception:  # noqa: BLE001 - closing a broken stream
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _notify(self, nodes: Iterable[str]) -> None:
        with self._lock:
            listeners = [self._listeners[n] for n in set(nodes) if n in self._listeners]
        for fn in listeners:
            fn("pods")

    def _replace_all(self, pods: list[dict]) -> None:
        by_node: dict[str, dict[str, dict]] = {}
        for p in pods:
            by_node.setdefault(pod_node(p), {})[pod_uid(p)] = p
        with self._lock:
            changed = set(self._by_node) | set(by_node)
            self._by_node = by_node
        self._notify(changed)

    def _apply(self, ev_type: str, pod: dict) -> None:
        node, uid = pod_node(pod), pod_uid(pod)
        with self._lock:
            # a pod never moves between nodes, but drop it from wherever it was to be safe
            touched = {n for n, pods in self._by_node.items() if uid in pods}
            old = next((self._by_node[n][uid] for n in touched), None)
            for n in touched:
                self._by_node[n].pop(uid, None)
            if ev_type != "DELETED" and node:
                self._by_node.setdefault(node, {})[uid] = pod
                touched.add(node)
        if old is not None and ev_type != "DELETED" and old.get("spec") == pod.get("spec"):
            return  # a status write (most often the kubelet's own): nothing to sync
        self._notify(touched)

    def _run(self) -> None:
        rv = 0  # 0: (re)list first; else resume the watch after this revision (on any master)
        while not self._stop.is_set():
            try:
                if not rv:
                    pods, rv = self.client.list("Pod", None, fields=self.fields)
                    self._replace_all(pods)
                    self.synced.set()
                self._watch = self.client.watch("Pod", None, fields=self.fields, resource_version=rv)
                if self._stop.is_set():
                    break
                for ev in self._watch:
                    if self._stop.is_set():
                        break
                    if ev is None:
                        continue
                    self._apply(ev.type, ev.object)
                    rv = max(rv, ev.revision)
                if not self._stop.is_set():
                    log.info("pod watch ended; resuming after revision %d", rv)
            except Gone:
                log.info("pod watch: revision %d compacted (410); relisting", rv)
                rv = 0
            except (ApiError, requests.RequestException, OSError, ValueError) as exc:
                if self._stop.is_set():
                    break
                log.warning("pod watch failed (%s); retrying in %.1fs from revision %d", exc, self.retry_s, rv)
                self._stop.wait(self.retry_s)
            finally:
                w, self._watch = self._watch, None
                if w is not None:
                    try:
                        w.close()
                    except Exception:  # noqa: BLE001
                        pass
