"""``DockerRuntime``: the ContainerRuntime over a real Docker engine (the docker SDK, low-level API).

One ``GET /containers/json`` per sync lists this minion's containers by label; ``inspect`` runs once per
container state (start time, exit code) and is cached, so a sync over many pods stays cheap.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Iterator

import docker
import docker.errors

from raftkube.minion.runtime import (LABEL_MANAGED, LABEL_NODE, ContainerConfig, ImageError, RuntimeContainer,
                                     RuntimeFailure)

log = logging.getLogger(__name__)


def _split_ref(image: str) -> tuple[str, str]:
    """``repo[:tag][@digest]`` -> (repo, tag); the tag defaults to latest."""
    if "@" in image:
        return image, ""
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = image.rsplit(":", 1)
        return repo, tag
    return image, "latest"


def _parse_ts(s: str) -> str:
    """Docker's nanosecond RFC 3339 -> seconds precision ("" for the zero time)."""
    if not s or s.startswith("0001-"):
        return ""
    return s.split(".")[0].rstrip("Z") + "Z"


class DockerRuntime:
    def __init__(self, node: str, client: docker.DockerClient | None = None, extra_labels: dict | None = None,
                 pull_timeout_s: float = 120.0):
        self.node = node
        self.client = client or docker.from_env(timeout=pull_timeout_s)
        self.api = self.client.api
        self.extra_labels = dict(extra_labels or {})
        self._inspect_cache: dict[tuple[str, str], dict] = {}
        self._lock = threading.Lock()

    # ---- listing ---------------------------------------------------------------------------
    def list_containers(self) -> list[RuntimeContainer]:
        rows = self.api.containers(all=True, filters={"label": [f"{LABEL_MANAGED}=true", f"{LABEL_NODE}={self.node}"]})
        out, seen = [], set()
        for row in rows:
            cid, state = row["Id"], row.get("State") or ""
            seen.add(cid)
            if state in ("removing", "dead"):
                continue
            if state == "created":  # never started (the kubelet died between create and start)
                out.append(RuntimeContainer(id=cid, name=(row.get("Names") or ["/"])[0].lstrip("/"),
                                            labels=row.get("Labels") or {}, image=row.get("Image") or "",
                                            exit_code=128, created=float(row.get("Created") or 0),
                                            error="created but never started"))
                continue
            info = self._inspect(cid, state)
            if info is None:
                continue
            st = info.get("State") or {}
            nets = (info.get("NetworkSettings") or {}).get("Networks") or {}
            ip = next((n.get("IPAddress") for n in nets.values() if n.get("IPAddress")), "")
            out.append(RuntimeContainer(
                id=cid, name=(row.get("Names") or ["/"])[0].lstrip("/"), labels=row.get("Labels") or {},
                image=(info.get("Config") or {}).get("Image") or row.get("Image") or "",
                running=bool(st.get("Running")) and not st.get("Restarting"),
                exit_code=int(st.get("ExitCode") or 0), created=float(row.get("Created") or 0),
                started_at=_parse_ts(st.get("StartedAt") or ""), finished_at=_parse_ts(st.get("FinishedAt") or ""),
                ip=ip, error=st.get("Error") or ""))
        with self._lock:
            for key in [k for k in self._inspect_cache if k[0] not in seen]:
                del self._inspect_cache[key]
        return out

    def _inspect(self, cid: str, state: str) -> dict | None:
        key = (cid, state)
        with self._lock:
            cached = self._inspect_cache.get(key)
        if cached is not None:
            return cached
        try:
            info = self.api.inspect_container(cid)
        except docker.errors.NotFound:
            return None
        if state in ("running", "exited"):
            with self._lock:
                self._inspect_cache[key] = info
        return info

    # ---- images ----------------------------------------------------------------------------
    def _present(self, image: str) -> bool:
        try:
            self.api.inspect_image(image)
            return True
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.APIError as exc:
            if exc.status_code == 404:
                return False
            raise

    def ensure_image(self, image: str, pull_policy: str) -> None:
        policy = pull_policy or "IfNotPresent"
        present = self._present(image)
        if policy == "Never":
            if not present:
                raise ImageError(f'image "{image}" not present and the pull policy is Never')
            return
        if present and policy != "Always":
            return
        repo, tag = _split_ref(image)
        try:
            log.info("pulling image %s", image)
            self.api.pull(repo, tag=tag or None)
        except docker.errors.APIError as exc:
            reason = exc.explanation or str(exc)
            if present:
                raise ImageError(f'image "{image}" cannot be pulled (pull policy Always): {reason}') from None
            raise ImageError(f'image "{image}" not present and cannot be pulled: {reason}') from None
        except Exception as exc:  # timeouts, connection errors
            raise ImageError(f'image "{image}" not present and cannot be pulled: {exc}') from None

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self, config: ContainerConfig) -> RuntimeContainer:
        labels = {**self.extra_labels, **config.labels}
        port_bindings, exposed = {}, []
        for p in config.ports:
            key = f"{p.container_port}/{p.protocol.lower()}"
            exposed.append((p.container_port, p.protocol.lower()))
            if p.host_port:
                port_bindings.setdefault(key, []).append((p.host_ip, p.host_port) if p.host_ip else p.host_port)
        host_config = self.api.create_host_config(
            port_bindings=port_bindings or None,
            network_mode=f"container:{config.network_of}" if config.network_of else None,
            cpu_shares=config.cpu_shares or None,
            mem_limit=config.memory or None,
            privileged=config.privileged,
            binds=[f"{m.host_path}:{m.container_path}:{'ro' if m.read_only else 'rw'}" for m in config.mounts]
            or None)
        try:
            created = self.api.create_container(
                config.image, command=list(config.command) or None, name=config.name,
                hostname=config.hostname or None, environment=list(config.env) or None,
                working_dir=config.working_dir or None, labels=labels,
                ports=exposed or None, host_config=host_config)
        except docker.errors.APIError as exc:
            raise RuntimeFailure(f"create {config.name}: {exc.explanation or exc}") from None
        cid = created["Id"]
        try:
            self.api.start(cid)
        except docker.errors.APIError as exc:
            self.remove(cid)  # a created-but-never-started container would read as "exited 0"
            raise RuntimeFailure(f"start {config.name}: {exc.explanation or exc}") from None
        return RuntimeContainer(id=cid, name=config.name, labels=labels, image=config.image, running=True)

    def stop(self, container_id: str, grace_s: float) -> None:
        try:
            self.api.stop(container_id, timeout=max(0, int(round(grace_s))))
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            log.warning("stop %s: %s", container_id[:12], exc)

    def remove(self, container_id: str) -> None:
        try:
            self.api.remove_container(container_id, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code == 409:  # removal already in progress
                return
            log.warning("remove %s: %s", container_id[:12], exc)

    def exec(self, container_id: str, command: list[str], timeout_s: float) -> tuple[int, str]:
        try:
            ex = self.api.exec_create(container_id, command, stdout=True, stderr=True)
            out = self.api.exec_start(ex["Id"])
            code = self.api.exec_inspect(ex["Id"]).get("ExitCode")
        except docker.errors.APIError as exc:
            return 126, str(exc.explanation or exc)
        return (code if code is not None else 1), out.decode(errors="replace") if isinstance(out, bytes) else str(out)

    def logs(self, container_id: str, tail: int | None = None, follow: bool = False) -> Iterator[bytes]:
        kw = {"stdout": True, "stderr": True, "tail": tail if tail is not None else "all"}
        # streamed in chunks either way: a large log is never held whole in memory
        yield from self.api.logs(container_id, stream=True, follow=follow, **kw)

    def close(self) -> None:
        self.client.close()


def docker_time(s: str) -> float:
    """Docker RFC 3339 -> unix seconds (0 for the zero time)."""
    s = _parse_ts(s)
    if not s:
        return 0.0
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
