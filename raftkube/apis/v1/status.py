"""core/v1 status writes (``PUT .../pods/<name>/status``): the v1 ``status`` of a pod -> the internal one.

The shapes are alike (``phase``, ``hostIP``, ``podIP``, ``message``, ``reason``, ``containerStatuses`` with
``state.waiting|running|terminated``); what v1 computes on the way out (``conditions``, ``podIPs``,
``imageID``) is not stored. A wrong type or an unknown phase is a 422 naming the v1 field.
"""

from __future__ import annotations

from typing import Any

from raftkube.model.errors import BadRequest, Invalid
from raftkube.model.objects import DEFAULT_NAMESPACE

PHASES = ("Pending", "Running", "Succeeded", "Failed")
_STATE_FIELDS = {"waiting": {"reason": str, "message": str},
                 "running": {"startedAt": str},
                 "terminated": {"exitCode": int, "signal": int, "reason": str, "message": str, "startedAt": str,
                                "finishedAt": str}}


def _typed(d: dict, key: str, t: type, path: str, default: Any = None) -> Any:
    v = d.get(key)
    if v is None:
        return default
    if not isinstance(v, t) or (t is int and isinstance(v, bool)):
        raise Invalid(f"{path}.{key}: Invalid value: {v!r}: must be a {'string' if t is str else t.__name__}")
    return v


def _obj(v: Any, path: str) -> dict:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise Invalid(f"{path}: Invalid value: must be an object")
    return v


def _state_in(state: dict, path: str) -> dict:
    out = {}
    for name, fields in _STATE_FIELDS.items():
        if state.get(name) is not None:
            s = _obj(state[name], f"{path}.{name}")
            out[name] = {k: s[k] for k in fields if _typed(s, k, fields[k], f"{path}.{name}") is not None}
    if len(out) > 1:
        raise Invalid(f"{path}: Invalid value: a container has one state of waiting, running and terminated")
    return out


def pod_status_in(body: Any, *, namespace: str, name: str) -> dict:
    """A v1 Pod body (only its ``metadata`` and ``status`` count) -> an internal pod carrying the status."""
    if not isinstance(body, dict):
        raise BadRequest("the body of a Pod must be a JSON object")
    md, st = _obj(body.get("metadata"), "metadata"), _obj(body.get("status"), "status")
    phase = _typed(st, "phase", str, "status", "Pending")
    if phase not in PHASES:
        raise Invalid(f"status.phase: Unsupported value: {phase!r}: supported values: {', '.join(PHASES)}",
                      kind="Pod", name=name)
    status: dict[str, Any] = {"phase": phase}
    for k in ("hostIP", "podIP", "message", "reason"):
        if _typed(st, k, str, "status"):
            status[k] = st[k]
    statuses = []
    cs_list = st.get("containerStatuses")
    if cs_list is not None and not isinstance(cs_list, list):
        raise Invalid("status.containerStatuses: Invalid value: must be a list")
    for i, cs in enumerate(cs_list or ()):
        p = f"status.containerStatuses[{i}]"
        cs = _obj(cs, p)
        statuses.append({"name": _typed(cs, "name", str, p, ""), "image": _typed(cs, "image", str, p, ""),
                         "restartCount": _typed(cs, "restartCount", int, p, 0),
                         "ready": bool(_typed(cs, "ready", bool, p, False)),
                         "state": _state_in(_obj(cs.get("state"), f"{p}.state"), f"{p}.state")})
    if statuses:
        status["containerStatuses"] = statuses
    rv = md.get("resourceVersion")
    if rv not in (None, "") and not str(rv).isdigit():
        raise BadRequest(f"metadata.resourceVersion must be a string of digits, not {rv!r}")
    ns = md.get("namespace") or namespace or DEFAULT_NAMESPACE
    return {"kind": "Pod", "metadata": {"name": name, "namespace": ns, "resourceVersion": int(rv or 0)},
            "status": status}
