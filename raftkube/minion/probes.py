"""Liveness probes: which are due (pure) and running one (I/O).

``due_probes`` decides, from the pods bound here, the containers that exist, the containers already found
unhealthy, when each container was last probed and the time now, which liveness probes to run: the newest
running instance of every container with a ``livenessProbe``, once ``initialDelaySeconds`` have passed
since it started and ``period_s`` since its last probe. No I/O and no clock of its own, so the unit tests
drive it with a fake clock.

``run_probe`` runs one: ``exec`` in the container (2014 wanted the output ``ok``; exit code 0 counts as
well), ``httpGet`` (2xx and 3xx pass) or ``tcpSocket`` (the port accepts) against the pod IP. A failed
probe marks the container unhealthy; the planner then restarts it per the pod's restart policy.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Mapping

import requests

from raftkube.minion.planner import newest_first, parse_time
from raftkube.minion.runtime import ContainerRuntime, RuntimeContainer


@dataclass(frozen=True)
class DueProbe:
    """One liveness probe to run now: of container ``instance`` (spec ``container``) of pod ``uid``."""

    uid: str
    instance: RuntimeContainer
    pod_ip: str
    pod: dict = field(hash=False, compare=False)
    container: dict = field(hash=False, compare=False)

    @property
    def probe(self) -> dict:
        return self.container.get("livenessProbe") or {}


def due_probes(desired: dict[str, dict], actual: list[RuntimeContainer], now: float, *,
               unhealthy: frozenset[str] | set[str] = frozenset(), last_probed: Mapping[str, float] | None = None,
               period_s: float = 0.0) -> list[DueProbe]:
    """The liveness probes due at ``now`` (unix seconds), in pod then container order.

    ``desired``: pod uid -> internal pod; ``actual``: the containers that exist; ``unhealthy``: container
    ids whose probe already failed (they wait for the planner's restart, not for another probe);
    ``last_probed``: container id -> when its probe last ran. A container never probed, or whose last
    probe is ``period_s`` old or more, is due; so is one whose last probe lies in the future (the clock
    was set back).
    """
    last_probed = last_probed or {}
    out: list[DueProbe] = []
    for uid, pod in desired.items():
        mine = [c for c in actual if c.pod_uid == uid]
        infra = next((c for c in mine if c.is_infra and c.running), None)
        for container in (pod.get("spec") or {}).get("containers") or ():
            probe = container.get("livenessProbe")
            if not probe:
                continue
            c = next((c for c in newest_first(mine) if c.container_name == container.get("name") and c.running),
                     None)
            if c is None or c.id in unhealthy:
                continue
            started = parse_time(c.started_at) or c.created
            if now - started < float(probe.get("initialDelaySeconds") or 0):
                continue
            last = last_probed.get(c.id)
            if last is not None and 0 <= now - last < period_s:
                continue
            out.append(DueProbe(uid, c, infra.ip if infra else "", pod, container))
    return out


def run_probe(runtime: ContainerRuntime, due: DueProbe, timeout_s: float) -> tuple[bool, str]:
    """Run one probe: (passed, why it failed)."""
    probe, container, c, pod_ip = due.probe, due.container, due.instance, due.pod_ip
    if probe.get("exec"):
        code, out = runtime.exec(c.id, list(probe["exec"].get("command") or []), timeout_s)
        # 2014 wanted the output "ok"; an exit code of 0 (the later rule) is accepted as well
        if out.strip().lower() == "ok" or code == 0:
            return True, ""
        return False, f"exit code {code}, output {out.strip()[:100]!r}"
    if probe.get("httpGet"):
        g = probe["httpGet"]
        host = g.get("host") or pod_ip
        port = resolve_port(g.get("port"), container)
        path = g.get("path") or "/"
        if not path.startswith("/"):
            path = "/" + path
        try:
            r = requests.get(f"http://{host}:{port}{path}", timeout=timeout_s)
        except requests.RequestException as exc:
            return False, f"GET {path}: {exc.__class__.__name__}"
        return 200 <= r.status_code < 400, f"GET {path}: HTTP {r.status_code}"
    if probe.get("tcpSocket"):
        port = resolve_port(probe["tcpSocket"].get("port"), container)
        try:
            with socket.create_connection((pod_ip, port), timeout=timeout_s):
                return True, ""
        except OSError as exc:
            return False, f"connect {pod_ip}:{port}: {exc}"
    return True, ""


def resolve_port(port, container: dict) -> int:
    """A probe's port: a number, or the name of one of the container's ports (0 if unknown)."""
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for p in container.get("ports") or ():
        if p.get("name") == port:
            return int(p.get("containerPort") or 0)
    return 0
