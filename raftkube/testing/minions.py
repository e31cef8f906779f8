"""In-process hollow minions for tests against real masters (kubemark style: the real kubelet, node agent and
kubelet port over a ``HollowRuntime``)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from raftkube.client import HttpClient
from raftkube.minion.hollow import HollowRuntime
from raftkube.minion.kubelet import KubeletSettings
from raftkube.minion.node import MinionProcess, MinionSettings
from raftkube.minion.runtime import LABEL_CONTAINER, LABEL_POD_NAME, RuntimeContainer


@contextmanager
def hollow_minion(urls, name: str, labels: dict, *, port: int = 0) -> Iterator[HollowRuntime]:
    """A started hollow minion ``name`` (kubelet port ``port``, 0: a free one) for the ``with`` block; its
    runtime is yielded. Stopped and its Node deleted at the end."""
    runtime = HollowRuntime(name)
    client = HttpClient(urls, timeout_s=5.0)
    settings = MinionSettings(name=name, address="127.0.0.1", runtime="hollow", port=port, labels=labels,
                              heartbeat_s=0.5, kubelet=KubeletSettings(sync_period_s=1.0))
    minion = MinionProcess(client, settings, runtime_factory=lambda _n: runtime).start()
    try:
        yield runtime
    finally:
        minion.stop()
        try:
            client.delete("Node", name)
        except Exception:  # noqa: BLE001 (already gone, or the cluster is closing)
            pass


def running_container(runtime: HollowRuntime, pod: str, container: str) -> RuntimeContainer | None:
    """The running container ``container`` of pod ``pod`` in ``runtime``, or None."""
    return next((c for c in runtime.list_containers() if c.running and c.labels.get(LABEL_POD_NAME) == pod
                 and c.labels.get(LABEL_CONTAINER) == container), None)
