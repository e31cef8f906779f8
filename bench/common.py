"""What only the benchmark scripts share: a teardown that reports instead of raising, keeping or removing the
work dir, and a pod watch that timestamps Running. Masters, ports, waiting and the pod bodies come from
``raftkube.testing`` (shared with the tests)."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from pathlib import Path


def close_cluster(cluster) -> bool:
    """Stop a raftkube.testing.MasterCluster; False (and the reason printed) if a master did not stop cleanly."""
    try:
        cluster.close()
    except AssertionError as exc:
        print(f"raftkube shutdown problem: {exc}", file=sys.stderr)
        return False
    return True


def keep_or_remove(workdir: Path, keep: bool) -> None:
    """Keep the work dir (logs and data) for a look afterwards, or remove it."""
    if keep:
        print(f"logs and data kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


class PodWatch:
    """Pods (optionally of one label selector) as a watch of the API shows them, from a thread that reconnects.

    ``seen``: the last object of each pod; ``first_running``: when each pod was first seen Running (kept after
    it is deleted); ``running``: the same for pods not deleted since.
    """

    def __init__(self, client, labels: str = ""):
        self.client, self.labels = client, labels
        self.seen: dict[str, dict] = {}
        self.first_running: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._w = None
        threading.Thread(target=self._run, name="bench-watch", daemon=True).start()

    def wait_connected(self, timeout_s: float = 30.0) -> None:
        if not self._connected.wait(timeout_s):
            raise RuntimeError(f"the pod watch did not connect within {timeout_s}s")

    def _run(self):
        while not self._stop.is_set():
            try:
                _, rv = self.client.list("Pod", labels=self.labels)
                self._w = self.client.watch("Pod", labels=self.labels, resource_version=rv)
                self._connected.set()
                for ev in self._w:
                    if ev is None:
                        continue
                    name = ev.object["metadata"]["name"]
                    self.seen[name] = ev.object
                    if ev.type == "DELETED":
                        self.running.pop(name, None)
                    elif (ev.object.get("status") or {}).get("phase") == "Running":
                        now = time.monotonic()
                        self.first_running.setdefault(name, now)
                        self.running.setdefault(name, now)
            except Exception:  # noqa: BLE001 - reconnect
                if self._stop.wait(0.2):
                    return

    def stop(self):
        self._stop.set()
        if self._w is not None:
            self._w.close()
