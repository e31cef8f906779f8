"""The kubelet's pure sync planner: what to start, stop and remove so the containers match the pods.

``sync_pods(desired, actual, now, unhealthy) -> [Action]`` decides from the pods bound here (pod uid ->
internal pod) and the containers that exist (``RuntimeContainer`` records); ``plan_pod`` does one pod.
No I/O, no clock, no threads (dask's worker state machine): the unit tests feed records and compare the
actions; ``executor.py`` carries them out. The restart decisions (policy, crash-loop backoff) and the
spec hashes that tell a changed container from a current one live here too.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from raftkube.model.objects import ACTIVE_PHASES, name_of, namespace_of, pod_phase
from raftkube.minion.runtime import RuntimeContainer


# ---- pure helpers ---------------------------------------------------------------------------------
def container_hash(container: dict, service_env: list | None = None) -> str:
    """adler32 of the container spec (and the pod's service env), hex: a change means recreate."""
    doc = json.dumps([container, service_env or []], sort_keys=True, separators=(",", ":"))
    return format(zlib.adler32(doc.encode()), "08x")


def infra_hash(pod: dict) -> str:
    """The infra container changes only with the pod's port bindings or hostname."""
    ports = sorted((p.get("containerPort") or 0, p.get("hostPort") or 0, (p.get("protocol") or "TCP").upper(),
                    p.get("hostIP") or "")
                   for c in (pod.get("spec") or {}).get("containers") or () for p in c.get("ports") or ())
    return format(zlib.adler32(json.dumps([name_of(pod), ports]).encode()), "08x")


def pod_uid(pod: dict) -> str:
    """The key of a pod on this minion (its uid; namespace/name for a pod written without one)."""
    return (pod.get("metadata") or {}).get("uid") or f"{namespace_of(pod)}/{name_of(pod)}"


def restart_policy(pod: dict) -> str:
    return (pod.get("spec") or {}).get("restartPolicy") or "Always"


def parse_time(s: str) -> float:
    """RFC 3339 -> unix seconds; 0.0 for an empty or unreadable time."""
    if not s:
        return 0.0
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def newest_first(cs: Iterable[RuntimeContainer]) -> list[RuntimeContainer]:
    """Instances of a container, the newest (created, then restart count) first."""
    return sorted(cs, key=lambda c: (c.created, c.restart_count), reverse=True)


def restart_backoff_s(restart_count: int, cap_s: float) -> float:
    """How long a container that has restarted ``restart_count`` times waits after its last exit."""
    return 0.0 if restart_count <= 0 else min(cap_s, float(2 ** (restart_count - 1)))


def wants_restart(policy: str, exit_code: int) -> bool:
    """Whether a container that exited with ``exit_code`` is started again under the pod's policy."""
    if policy == "Always":
        return True
    if policy == "OnFailure":
        return exit_code != 0
    return False


# ---- actions --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StartInfra:
    """Create and start the pod's infra container (its network namespace, IP and port bindings)."""

    uid: str
    pod: dict = field(hash=False, compare=False)


@dataclass(frozen=True)
class StartContainer:
    """Create and start one app container in the pod's infra container's network namespace."""

    uid: str
    container: str
    restart_count: int
    infra_id: str  # "" = the infra container started earlier in the same batch
    pod: dict = field(hash=False, compare=False)


@dataclass(frozen=True)
class StopContainer:
    """Stop a running container with the grace period; the dead container stays (its exit code counts)."""

    uid: str
    container_id: str
    reason: str


@dataclass(frozen=True)
class RemoveContainer:
    """Kill (if running) and remove a container at once."""

    uid: str
    container_id: str
    reason: str


Action = StartInfra | StartContainer | StopContainer | RemoveContainer


# ---- the pure planner -----------------------------------------------------------------------------
def sync_pods(desired: dict[str, dict], actual: list[RuntimeContainer], now: float = 0.0,
              unhealthy: frozenset[str] | set[str] = frozenset(), max_backoff_s: float = 10.0) -> list[Action]:
    """What to do so that ``actual`` matches ``desired`` (pod uid -> internal pod).

    Per pod, in order: removals and stops, then the infra container, then app containers.
    """
    by_pod: dict[str, list[RuntimeContainer]] = {}
    for c in actual:
        by_pod.setdefault(c.pod_uid, []).append(c)
    actions: list[Action] = []
    for uid, cs in by_pod.items():
        if uid not in desired:
            actions += [RemoveContainer(uid, c.id, "pod no longer bound here") for c in cs]
    for uid, pod in desired.items():
        actions += plan_pod(uid, pod, by_pod.get(uid, []), now, unhealthy, max_backoff_s)
    return actions


def plan_pod(uid: str, pod: dict, mine: list[RuntimeContainer], now: float,
             unhealthy: frozenset[str] | set[str], max_backoff_s: float = 10.0) -> list[Action]:
    """The actions for one pod (uid ``uid``) given its containers ``mine``: removals and stops first.

    A pod the store says is terminated (Failed or Succeeded) stays terminated: the master decided (e.g. it
    failed the pods of a minion it lost, and their replacements run elsewhere), so whatever of it still runs
    here is stopped (its dead containers stay, for logs) and nothing is started again.
    """
    if pod_phase(pod) not in ACTIVE_PHASES:
        return [StopContainer(uid, c.id, f"pod is {pod_phase(pod)} in the store") for c in mine if c.running]
    spec = pod.get("spec") or {}
    policy = restart_policy(pod)
    service_env = spec.get("serviceEnv") or []
    removals: list[Action] = []
    starts: list[Action] = []

    want_infra = infra_hash(pod)
    infras = newest_first(c for c in mine if c.is_infra)
    infra = next((c for c in infras if c.running and c.spec_hash == want_infra), None)
    for c in infras:
        if c is not infra:
            removals.append(RemoveContainer(uid, c.id, "infra container dead, outdated or duplicate"))

    names = [c.get("name") for c in spec.get("containers") or ()]
    apps: dict[str, list[RuntimeContainer]] = {}
    for c in mine:
        if c.is_infra:
            continue
        if c.container_name not in names:
            removals.append(RemoveContainer(uid, c.id, "container not in the pod spec"))
        else:
            apps.setdefault(c.container_name, []).append(c)

    to_start: list[tuple[str, int]] = []
    keeps = 0
    for container in spec.get("containers") or ():
        cname = container.get("name")
        want = container_hash(container, service_env)
        insts = newest_first(apps.get(cname, ()))
        keep = None
        replace_anyway = False  # spec or network changed: recreate whatever the policy
        failed_probe = False
        for c in insts:
            if not c.running:
                continue
            if keep is None and infra is not None and c.spec_hash == want and c.infra_id == infra.id \
                    and c.id not in unhealthy:
                keep = c
                continue
            if c.spec_hash != want:
                why, replace_anyway = "spec changed", True
            elif infra is None or c.infra_id != infra.id:
                why, replace_anyway = "infra container replaced", True
            elif c.id in unhealthy:
                why, failed_probe = "liveness probe failed", True
            else:
                why = "duplicate"
            removals.append(StopContainer(uid, c.id, why))
        # keep the newest dead instance (its exit code drives the restart policy); remove older ones
        dead = [c for c in insts if not c.running]
        newest_dead = dead[0] if dead else None
        for c in dead[1:]:
            removals.append(RemoveContainer(uid, c.id, "old dead instance"))
        if keep is not None:
            if newest_dead is not None and newest_dead.created < keep.created:
                pass  # last termination state, kept for status
            keeps += 1
            continue
        restart_count = (max(c.restart_count for c in insts) + 1) if insts else 0
        if not insts:
            to_start.append((cname, 0))
        elif replace_anyway:
            to_start.append((cname, restart_count))
        elif failed_probe:
            if wants_restart(policy, 1):
                to_start.append((cname, restart_count))
        else:
            last = insts[0]
            if last.running:  # a duplicate being stopped while a kept one runs: cannot happen without keep
                continue
            if wants_restart(policy, last.exit_code):
                finished = parse_time(last.finished_at)
                backoff = restart_backoff_s(last.restart_count, max_backoff_s)
                if backoff and now and finished and now - finished < backoff:
                    continue  # crash-looping: wait; the periodic resync comes back
                to_start.append((cname, restart_count))

    infra_id = infra.id if infra is not None else ""
    if to_start:
        if infra is None:
            starts.append(StartInfra(uid, pod))
        for cname, rc in to_start:
            starts.append(StartContainer(uid, cname, rc, infra_id, pod))
    return removals + starts

