"""The kubelet's executor: carry out one pod's planned actions against the ``ContainerRuntime``.

The planner (``planner.py``) decides; ``Executor.run(uid, actions, stop)`` removes, stops and starts
containers in the order given, pulling images per policy and building each ``ContainerConfig``
(``container_config.py``). What it learns on the way is kept for the pod's status: the reason a container
could not start (image missing, runtime refusal) is its Waiting reason until it starts, and an image that
failed to pull is not tried again for ``image_backoff_s``. emptyDir volumes live under ``root_dir``; the
directory of a pod that is gone is removed with its last containers.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import threading
import time
from typing import Callable, Iterable

from raftkube.minion.container_config import app_config, infra_config
from raftkube.minion.planner import Action, RemoveContainer, StartContainer, StartInfra, StopContainer
from raftkube.minion.runtime import (INFRA_NAME, ContainerConfig, ContainerRuntime, ImageError, RuntimeContainer,
                                     RuntimeFailure)

log = logging.getLogger(__name__)


class Executor:
    def __init__(self, node: str, runtime: ContainerRuntime, *, bound: Callable[[str], bool], infra_image: str,
                 stop_grace_s: float, image_backoff_s: float, root_dir: str,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None):
        """``bound(uid)``: whether the pod is still bound here (its volume directory stays while it is)."""
        self.node = node
        self.runtime = runtime
        self.bound = bound
        self.infra_image = infra_image
        self.stop_grace_s = stop_grace_s
        self.image_backoff_s = image_backoff_s
        self.root_dir = root_dir
        self.clock = clock
        self.rng = rng or random.Random()
        self._lock = threading.Lock()
        self._waiting: dict[str, dict[str, str]] = {}  # pod uid -> container -> reason
        self._image_failures: dict[str, tuple[float, str]] = {}  # image -> (until, reason)

    # ---- carrying out ------------------------------------------------------------------------
    def run(self, uid: str, actions: list[Action], stop: threading.Event) -> None:
        """One pod's actions, in order; once ``stop`` is set only removals go on. Raises what the runtime
        raises beyond ImageError and RuntimeFailure (the caller logs it; the next sync tries again)."""
        infra_id = ""
        for a in actions:
            if stop.is_set() and not isinstance(a, RemoveContainer):
                return
            if isinstance(a, RemoveContainer):
                log.info("kubelet %s: removing container %s (%s)", self.node, a.container_id[:12], a.reason)
                self.runtime.remove(a.container_id)
            elif isinstance(a, StopContainer):
                log.info("kubelet %s: stopping container %s (%s)", self.node, a.container_id[:12], a.reason)
                self.runtime.stop(a.container_id, self.stop_grace_s)
            elif isinstance(a, StartInfra):
                c = self._start(uid, INFRA_NAME, self.infra_image, "Never",
                                lambda p=a.pod: infra_config(self.node, p, uid, self.infra_image, self.rng))
                if c is None:
                    return  # no network: the app containers cannot start either
                infra_id = c.id
            elif isinstance(a, StartContainer):
                container = next(c for c in a.pod["spec"]["containers"] if c.get("name") == a.container)
                net = a.infra_id or infra_id
                if not net:
                    continue
                self._start(uid, a.container, container.get("image") or "",
                            container.get("imagePullPolicy") or "IfNotPresent",
                            lambda a=a, net=net: app_config(self.node, a.pod, uid, a.container, a.restart_count,
                                                            net, self.rng, self._volume_dir))
        if not any(isinstance(a, (StartInfra, StartContainer)) for a in actions):
            if all(isinstance(a, RemoveContainer) for a in actions) and not self.bound(uid):
                self._cleanup_pod_dir(uid)

    def _start(self, uid: str, cname: str, image: str, policy: str,
               make: Callable[[], ContainerConfig]) -> RuntimeContainer | None:
        now = self.clock()
        failure = self._image_failures.get(image)
        try:
            if failure is not None and failure[0] > now:
                raise ImageError(failure[1])
            self.runtime.ensure_image(image, policy)
            self._image_failures.pop(image, None)
            config = make()
            c = self.runtime.start(config)
        except ImageError as exc:
            if failure is None or failure[0] <= now:
                log.warning("kubelet %s: pod %s container %s: %s", self.node, uid, cname, exc)
                self._image_failures[image] = (now + self.image_backoff_s, str(exc))
            self._set_waiting(uid, cname, str(exc))
            return None
        except RuntimeFailure as exc:
            log.warning("kubelet %s: pod %s container %s: %s", self.node, uid, cname, exc)
            self._set_waiting(uid, cname, f"container cannot start: {exc}")
            return None
        self._set_waiting(uid, cname, None)
        log.info("kubelet %s: started container %s (%s) of pod %s", self.node, config.name, c.id[:12], uid)
        return c

    # ---- waiting reasons (for the pod status) ------------------------------------------------
    def _set_waiting(self, uid: str, cname: str, reason: str | None) -> None:
        with self._lock:
            if reason is None:
                (self._waiting.get(uid) or {}).pop(cname, None)
            else:
                self._waiting.setdefault(uid, {})[cname] = reason

    def waiting(self) -> dict[str, dict[str, str]]:
        """Pod uid -> container -> why it could not start (a copy)."""
        with self._lock:
            return {uid: dict(w) for uid, w in self._waiting.items()}

    def waiting_for(self, uid: str) -> dict[str, str]:
        with self._lock:
            return dict(self._waiting.get(uid) or {})

    def forget(self, keep: Iterable[str]) -> None:
        """Drop the waiting reasons of every pod not in ``keep``."""
        keep = set(keep)
        with self._lock:
            for uid in [u for u in self._waiting if u not in keep]:
                del self._waiting[uid]

    # ---- volumes -----------------------------------------------------------------------------
    def _volume_dir(self, uid: str, vol: dict) -> str:
        if vol.get("hostPath"):
            return (vol["hostPath"] or {}).get("path") or ""
        if "emptyDir" in vol or not any(k in vol for k in ("gcePersistentDisk", "gitRepo")):
            path = os.path.join(self.root_dir, "pods", uid, "volumes", vol.get("name") or "")
            os.makedirs(path, exist_ok=True)
            return path
        return ""

    def _cleanup_pod_dir(self, uid: str) -> None:
        path = os.path.join(self.root_dir, "pods", uid)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
