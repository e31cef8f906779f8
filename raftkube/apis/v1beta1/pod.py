"""v1beta1 pods <-> internal pods, and the pod status a kubelet writes (``currentState``).

* ``desiredState.serviceEnv`` carries ``spec.serviceEnv`` (omitted when empty); ``currentState.reason``
  carries ``status.reason``; each ``currentState.info`` entry carries ``ready`` (defaulting to "the container
  is running"). ``info["net"]`` is emitted when there is a pod IP and is skipped on input (its ``podIP`` is
  the fallback for ``currentState.podIP``).
* Phases: Pending->Waiting, Running->Running, Succeeded/Failed->Terminated; back: Waiting->Pending,
  Terminated->Failed (the internal names are accepted on input too).
* [K04] a pod's identity was ``desiredState.manifest.uuid``: it fills ``uid`` when the body has none.
"""

from __future__ import annotations

from typing import Any

from raftkube.apis.v1beta1.errors import invalid_error
from raftkube.apis.v1beta1.manifest import env_from_wire, manifest_from_wire, manifest_to_wire
from raftkube.apis.v1beta1.meta import ts_out
from raftkube.apis.v1beta1.reader import Reader, join
from raftkube.model.errors import BadRequest

NET_CONTAINER = "net"
NET_IMAGE = "kubernetes/pause:latest"

PHASE_TO_WIRE = {"Pending": "Waiting", "Running": "Running", "Succeeded": "Terminated", "Failed": "Terminated"}
WIRE_TO_PHASE = {"Waiting": "Pending", "Running": "Running", "Terminated": "Failed",
                 # internal names, accepted from lenient clients
                 "Pending": "Pending", "Succeeded": "Succeeded", "Failed": "Failed"}


def phase_to_wire(phase: str) -> str:
    """Internal pod phase -> v1beta1 status (``Waiting``/``Running``/``Terminated``)."""
    return PHASE_TO_WIRE.get(phase or "Pending", "Waiting")


def phase_from_wire(status: str) -> str:
    """v1beta1 status -> internal phase; empty is ``Pending``, unknown values are returned unchanged."""
    return WIRE_TO_PHASE.get(status or "Waiting", status)


def _state_from_wire(r: Reader, st: dict, p: str) -> dict:
    if r.has(st, "running"):
        run = r.dict_(st, "running", p)
        return {"running": {"startedAt": r.ts(run, "startedAt", join(p, "running"))}}
    for key in ("termination", "terminated"):
        if r.has(st, key):
            t, tp = r.dict_(st, key, p), join(p, key)
            return {"terminated": {"exitCode": r.int_(t, "exitCode", tp), "signal": r.int_(t, "signal", tp),
                                   "reason": r.str_(t, "reason", tp), "message": r.str_(t, "message", tp),
                                   "startedAt": r.ts(t, "startedAt", tp), "finishedAt": r.ts(t, "finishedAt", tp)}}
    w = r.dict_(st, "waiting", p)
    wp = join(p, "waiting")
    return {"waiting": {"reason": r.str_(w, "reason", wp), "message": r.str_(w, "message", wp)}}


def _state_to_wire(state: dict) -> dict:
    if "running" in state:
        return {"running": {"startedAt": ts_out((state["running"] or {}).get("startedAt"))}}
    if "terminated" in state:
        t = state["terminated"] or {}
        return {"termination": {"exitCode": t.get("exitCode") or 0, "signal": t.get("signal") or 0,
                                "reason": t.get("reason") or "", "message": t.get("message") or "",
                                "startedAt": ts_out(t.get("startedAt")),
                                "finishedAt": ts_out(t.get("finishedAt"))}}
    w = state.get("waiting") or {}
    return {"waiting": {"reason": w.get("reason") or "", **({"message": w["message"]} if w.get("message") else {})}}


def status_from_wire(r: Reader, cs: dict, p: str) -> dict:
    status = r.str_(cs, "status", p)
    phase = phase_from_wire(status)
    if phase not in PHASE_TO_WIRE:
        r.errs.unsupported(join(p, "status"), status)
        phase = "Pending"
    net_ip = ""
    statuses = []
    info_p = join(p, "info")
    for name, ci in r.dict_(cs, "info", p).items():
        ip = f"{info_p}.{name}"
        ci = r.as_dict(ci, ip)
        if name == NET_CONTAINER:
            net_ip = r.str_(ci, "podIP", ip)
            continue
        state = _state_from_wire(r, r.dict_(ci, "state", ip), join(ip, "state"))
        ready = r.bool_(ci, "ready", ip) if r.has(ci, "ready") else "running" in state
        statuses.append({"name": name, "image": r.str_(ci, "image", ip),
                         "restartCount": r.int_(ci, "restartCount", ip), "ready": ready, "state": state})
    return {"phase": phase, "hostIP": r.str_(cs, "hostIP", p), "podIP": r.str_(cs, "podIP", p) or net_ip,
            "message": r.str_(cs, "message", p), "reason": r.str_(cs, "reason", p),
            "containerStatuses": statuses}


def pod_status_from_wire(body: dict) -> dict:
    """The internal pod ``status`` from a wire pod's ``currentState`` (the kubelet's status PUT)."""
    if not isinstance(body, dict):
        raise BadRequest("the body of a pod must be a JSON object")
    r = Reader()
    status = status_from_wire(r, r.dict_(body, "currentState", ""), "currentState")
    if r.errs:
        raise invalid_error("Pod", body.get("id") if isinstance(body.get("id"), str) else "", r.errs.causes)
    return status


def _status_to_wire(status: dict, node: str) -> dict:
    w: dict[str, Any] = {"status": phase_to_wire(status.get("phase") or "Pending")}
    if node:
        w["host"] = node
    for key in ("hostIP", "podIP", "message", "reason"):
        if status.get(key):
            w[key] = status[key]
    info: dict[str, Any] = {}
    for cs in status.get("containerStatuses") or ():
        info[cs.get("name") or ""] = {"state": _state_to_wire(cs.get("state") or {}),
                                      "restartCount": cs.get("restartCount") or 0,
                                      "image": cs.get("image") or "", "ready": bool(cs.get("ready"))}
    if status.get("podIP"):
        info[NET_CONTAINER] = {"state": {"running": {"startedAt": None}}, "restartCount": 0,
                               "podIP": status["podIP"], "image": NET_IMAGE}
    if info:
        w["info"] = info
    return w


def pod_from_wire(r: Reader, body: dict) -> dict:
    ds = r.dict_(body, "desiredState", "")
    manifest = r.dict_(ds, "manifest", "desiredState")
    spec = manifest_from_wire(r, manifest, "desiredState.manifest")
    spec["nodeName"] = r.str_(ds, "host", "desiredState")
    spec["nodeSelector"] = r.str_map(body, "nodeSelector", "")
    spec["serviceEnv"] = env_from_wire(r, ds, "serviceEnv", "desiredState")
    return {"spec": spec,
            "status": status_from_wire(r, r.dict_(body, "currentState", ""), "currentState"),
            "_uuid": r.str_(manifest, "uuid", "desiredState.manifest")}


def pod_to_wire(obj: dict) -> dict:
    md, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    node = spec.get("nodeName") or ""
    ds: dict[str, Any] = {"manifest": manifest_to_wire(spec, md.get("name") or "", md.get("uid") or "")}
    if node:
        ds["host"] = node
    ds["status"] = "Running"
    if spec.get("serviceEnv"):
        ds["serviceEnv"] = [{"name": e.get("name") or "", "value": e.get("value") or ""}
                            for e in spec["serviceEnv"]]
    w: dict[str, Any] = {"desiredState": ds, "currentState": _status_to_wire(status, node)}
    if spec.get("nodeSelector"):
        w["nodeSelector"] = dict(spec["nodeSelector"])
    return w
