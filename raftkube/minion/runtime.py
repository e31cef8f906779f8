"""The one seam between the kubelet and containers: the ``ContainerRuntime`` protocol.

The kubelet sees containers only as ``RuntimeContainer`` records (what runs, with the labels it put on
them) and creates them from ``ContainerConfig`` (what to run). ``DockerRuntime`` (``docker_runtime.py``)
drives a real engine; ``HollowRuntime`` (``hollow.py``) keeps containers in memory for scale tests; the
unit tests use a fake.

Everything the kubelet needs to recognise its own containers after a restart is in their labels
(``LABEL_*``), so a new kubelet process adopts running containers instead of duplicating them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Protocol

# Labels on every container the kubelet creates.
LABEL_MANAGED = "io.raftkube.managed"  # "true"
LABEL_NODE = "io.raftkube.node"  # the minion name: kubelets on one engine leave each other alone
LABEL_POD_UID = "io.raftkube.pod.uid"
LABEL_POD_NAMESPACE = "io.raftkube.pod.namespace"
LABEL_POD_NAME = "io.raftkube.pod.name"
LABEL_CONTAINER = "io.raftkube.container.name"  # INFRA_NAME for the infra container
LABEL_HASH = "io.raftkube.container.hash"  # adler32 of the container spec, hex
LABEL_RESTART_COUNT = "io.raftkube.container.restartCount"
LABEL_INFRA_ID = "io.raftkube.container.infra"  # app containers: the infra container they share

INFRA_NAME = "net"  # the 2014 name of the infra ("network") container


class ImageError(Exception):
    """An image is not present and cannot be pulled; ``str()`` is the user-facing Waiting reason."""


class RuntimeFailure(Exception):
    """The runtime refused an operation (create/start failed); the kubelet retries on the next sync."""


@dataclass(frozen=True)
class PortBinding:
    container_port: int
    host_port: int
    protocol: str = "TCP"
    host_ip: str = ""


@dataclass(frozen=True)
class Mount:
    host_path: str
    container_path: str
    read_only: bool = False


@dataclass(frozen=True)
class ContainerConfig:
    """What to create. Infra containers carry hostname and port bindings; app containers join one."""

    name: str  # the docker container name, k8s_<container>.<hash>_<pod>.<ns>.api_<uid8>_<rand>
    image: str
    labels: dict[str, str]
    command: tuple[str, ...] = ()
    working_dir: str = ""
    env: tuple[str, ...] = ()  # "NAME=value"
    hostname: str = ""
    network_of: str = ""  # container id whose network namespace to join ("" = own namespace)
    ports: tuple[PortBinding, ...] = ()
    cpu_shares: int = 0
    memory: int = 0
    privileged: bool = False
    mounts: tuple[Mount, ...] = ()
    pull_policy: str = "IfNotPresent"  # Always | Never | IfNotPresent ("" = IfNotPresent)


@dataclass(frozen=True)
class RuntimeContainer:
    """A container as the kubelet sees it (running or dead)."""

    id: str
    name: str
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    image: str = ""
    running: bool = False
    exit_code: int = 0
    created: float = 0.0  # unix seconds
    started_at: str = ""  # RFC 3339
    finished_at: str = ""
    ip: str = ""  # infra containers: the pod IP
    error: str = ""

    @property
    def pod_uid(self) -> str:
        return self.labels.get(LABEL_POD_UID, "")

    @property
    def container_name(self) -> str:
        return self.labels.get(LABEL_CONTAINER, "")

    @property
    def spec_hash(self) -> str:
        return self.labels.get(LABEL_HASH, "")

    @property
    def restart_count(self) -> int:
        try:
            return int(self.labels.get(LABEL_RESTART_COUNT, "0"))
        except ValueError:
            return 0

    @property
    def infra_id(self) -> str:
        return self.labels.get(LABEL_INFRA_ID, "")

    @property
    def is_infra(self) -> bool:
        return self.container_name == INFRA_NAME


class ContainerRuntime(Protocol):
    """What the kubelet needs from a container engine. Calls block; the kubelet calls from its threads."""

    def list_containers(self) -> list[RuntimeContainer]:
        """Every container of this minion's kubelet (label ``LABEL_NODE``), running or dead."""
        ...

    def ensure_image(self, image: str, pull_policy: str) -> None:
        """Make the image available per policy, or raise ImageError with a clear reason."""
        ...

    def start(self, config: ContainerConfig) -> RuntimeContainer:
        """Create and start a container; raise RuntimeFailure when the engine refuses."""
        ...

    def stop(self, container_id: str, grace_s: float) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``; the dead container stays (its exit code counts)."""
        ...

    def remove(self, container_id: str) -> None:
        """Kill (if running) and remove at once; a container that is already gone is not an error."""
        ...

    def exec(self, container_id: str, command: list[str], timeout_s: float) -> tuple[int, str]:
        """Run a command in a running container: (exit code, output)."""
        ...

    def logs(self, container_id: str, tail: int | None = None, follow: bool = False) -> Iterator[bytes]:
        """The container's output (stdout and stderr), as chunks; ``follow`` streams until it exits."""
        ...

    def close(self) -> None: ...
