"""A pod's status from its containers, computed by the kubelet (pure).

``pod_status`` builds the internal status (phase, podIP, per-container state and restartCount) with every
field present, and ``normalize_status`` brings a status as the API returns it to the same full shape, so
the kubelet pushes a status only when it differs from what the store already holds.
"""

from __future__ import annotations

from raftkube.model.objects import FAILED, PENDING, RUNNING, SUCCEEDED
from raftkube.minion.planner import newest_first, restart_policy, wants_restart
from raftkube.minion.runtime import RuntimeContainer


def creating_reason(image: str) -> str:
    return f"Image: {image} is ready, container is creating"


def pod_status(pod: dict, mine: list[RuntimeContainer], host_ip: str, waiting: dict[str, str] | None = None,
               unhealthy: frozenset[str] | set[str] = frozenset()) -> dict:
    """The pod's status from its containers (internal shape, every field present so it compares).

    ``waiting``: container name -> the reason it could not be started (image pull, runtime refusal).
    """
    waiting = waiting or {}
    spec = pod.get("spec") or {}
    policy = restart_policy(pod)
    infra = next((c for c in newest_first(c for c in mine if c.is_infra) if c.running), None)
    statuses = []
    n_running = n_waiting = 0
    all_done, any_failed = True, False
    for container in spec.get("containers") or ():
        cname, image = container.get("name") or "", container.get("image") or ""
        insts = newest_first(c for c in mine if not c.is_infra and c.container_name == cname)
        restart_count = max((c.restart_count for c in insts), default=0)
        running = next((c for c in insts if c.running), None)
        if running is not None:
            state = {"running": {"startedAt": running.started_at}}
            ready = running.id not in unhealthy
            n_running += 1
            all_done = False
        elif cname in waiting:
            state = {"waiting": {"reason": waiting[cname], "message": ""}}
            ready = False
            n_waiting += 1
            all_done = False
        elif insts:
            last = insts[0]
            state = {"terminated": {"exitCode": last.exit_code, "signal": 0,
                                    "reason": "Completed" if last.exit_code == 0 else "Error",
                                    "message": last.error, "startedAt": last.started_at,
                                    "finishedAt": last.finished_at}}
            ready = False
            if wants_restart(policy, last.exit_code):
                all_done = False
            any_failed = any_failed or last.exit_code != 0
        else:
            state = {"waiting": {"reason": creating_reason(image), "message": ""}}
            ready = False
            n_waiting += 1
            all_done = False
        statuses.append({"name": cname, "image": image, "restartCount": restart_count, "ready": ready,
                         "state": state})
    if statuses and all_done:
        phase = FAILED if any_failed else SUCCEEDED
    elif n_waiting or not statuses:
        phase = PENDING
    else:
        phase = RUNNING
    return {"phase": phase, "hostIP": host_ip, "podIP": infra.ip if infra is not None else "",
            "message": "", "reason": "", "containerStatuses": statuses}


def normalize_status(status: dict | None) -> dict:
    """A status as the API returns it, in the full shape ``pod_status`` builds (for comparisons)."""
    status = status or {}
    out = []
    for cs in status.get("containerStatuses") or ():
        st = cs.get("state") or {}
        if "running" in st:
            state = {"running": {"startedAt": (st["running"] or {}).get("startedAt") or ""}}
        elif "terminated" in st:
            t = st["terminated"] or {}
            state = {"terminated": {"exitCode": t.get("exitCode") or 0, "signal": t.get("signal") or 0,
                                    "reason": t.get("reason") or "", "message": t.get("message") or "",
                                    "startedAt": t.get("startedAt") or "", "finishedAt": t.get("finishedAt") or ""}}
        else:
            w = st.get("waiting") or {}
            state = {"waiting": {"reason": w.get("reason") or "", "message": w.get("message") or ""}}
        out.append({"name": cs.get("name") or "", "image": cs.get("image") or "",
                    "restartCount": cs.get("restartCount") or 0, "ready": bool(cs.get("ready")), "state": state})
    return {"phase": status.get("phase") or PENDING, "hostIP": status.get("hostIP") or "",
            "podIP": status.get("podIP") or "", "message": status.get("message") or "",
            "reason": status.get("reason") or "", "containerStatuses": out}

