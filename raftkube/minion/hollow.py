"""``HollowRuntime``: a ContainerRuntime with no containers, as Kubernetes' kubemark "hollow node".

Containers "start" instantly and run until stopped; every image is present; probes succeed. Each writes one
log line when it starts (``<image> started in hollow container <name>``); ``write_log`` adds more. State is
kept in memory, so many hollow minions can share one process to simulate a large cluster against real
masters: everything above the runtime (watch, sync decisions, status pushes, heartbeats) is the real code.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import Iterator

from raftkube.minion.runtime import INFRA_NAME, LABEL_CONTAINER, ContainerConfig, RuntimeContainer

_ip_counter = itertools.count(1)
_ip_lock = threading.Lock()


def _next_ip() -> str:
    with _ip_lock:
        n = next(_ip_counter)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def _now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class HollowRuntime:
    def __init__(self, node: str = "hollow"):
        self.node = node
        self._containers: dict[str, RuntimeContainer] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._logs: dict[str, bytearray] = {}

    def list_containers(self) -> list[RuntimeContainer]:
        with self._lock:
            return list(self._containers.values())

    def ensure_image(self, image: str, pull_policy: str) -> None:
        return None

    def start(self, config: ContainerConfig) -> RuntimeContainer:
        with self._lock:
            cid = f"hollow-{self.node}-{next(self._ids):08d}"
        infra = config.labels.get(LABEL_CONTAINER) == INFRA_NAME
        c = RuntimeContainer(id=cid, name=config.name, labels=dict(config.labels), image=config.image,
                             running=True, created=time.time(), started_at=_now_rfc3339(),
                             ip=_next_ip() if infra else "")
        with self._lock:
            self._containers[cid] = c
            name = config.labels.get(LABEL_CONTAINER) or config.name
            self._logs[cid] = bytearray(f"{config.image} started in hollow container {name}\n".encode())
        return c

    def write_log(self, container_id: str, data: bytes) -> None:
        """Append to a container's output (tests: what ``kubectl logs`` should show)."""
        with self._lock:
            self._logs.setdefault(container_id, bytearray()).extend(data)

    def stop(self, container_id: str, grace_s: float) -> None:
        with self._lock:
            c = self._containers.get(container_id)
            if c is not None and c.running:
                self._containers[container_id] = replace(c, running=False, exit_code=0, finished_at=_now_rfc3339())

    def kill(self, container_id: str, exit_code: int = 137) -> None:
        """Simulate a crash (tests)."""
        with self._lock:
            c = self._containers.get(container_id)
            if c is not None:
                self._containers[container_id] = replace(c, running=False, exit_code=exit_code,
                                                         finished_at=_now_rfc3339())

    def remove(self, container_id: str) -> None:
        with self._lock:
            self._containers.pop(container_id, None)
            self._logs.pop(container_id, None)

    def exec(self, container_id: str, command: list[str], timeout_s: float) -> tuple[int, str]:
        return 0, "ok"

    def logs(self, container_id: str, tail: int | None = None, follow: bool = False,
             poll_s: float = 0.1) -> Iterator[bytes]:
        """The output so far (its last ``tail`` lines); with ``follow``, then what is written until the container
        stops or is removed (polled: hollow containers have no real output to wait on)."""
        with self._lock:
            data = bytes(self._logs.get(container_id, b""))
        lines = data.splitlines(keepends=True)
        yield b"".join(lines[-tail:] if tail is not None and tail > 0 else ([] if tail == 0 else lines))
        sent = len(data)
        while follow:
            with self._lock:
                c = self._containers.get(container_id)
                data = bytes(self._logs.get(container_id, b""))
            if len(data) > sent:
                yield data[sent:]
                sent = len(data)
            elif c is None or not c.running:
                return
            else:
                yield b""  # lets the server notice a client that went away
                time.sleep(poll_s)

    def close(self) -> None:
        pass
