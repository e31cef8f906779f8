"""v1beta1 events <-> internal events.

``involvedObject.apiVersion``: an internal event carries none (it is about an internal object); on output
the field reads ``v1beta1``, the version it is read through. A client's own value other than ``v1beta1``
(``""`` or none at all included) is kept as it was written and shown as such.
"""

from __future__ import annotations

from typing import Any

from raftkube.apis.v1beta1.meta import ts_out
from raftkube.apis.v1beta1.reader import Reader
from raftkube.apis.v1beta1.resources import API_VERSION

INVOLVED_FIELDS = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")


def event_from_wire(r: Reader, body: dict) -> dict:
    io = r.dict_(body, "involvedObject", "")
    involved = {}
    for f in INVOLVED_FIELDS:
        v = io.get(f)
        if f == "resourceVersion" and isinstance(v, int) and not isinstance(v, bool):
            involved[f] = str(v)  # an ObjectReference's resourceVersion is a string; accept a number too
        elif f == "apiVersion":
            v = r.str_(io, f, "involvedObject")
            if v != API_VERSION:
                involved[f] = v
        else:
            involved[f] = r.str_(io, f, "involvedObject")
    return {"involvedObject": involved,
            **{f: r.str_(body, f, "") for f in ("status", "reason", "message", "source")},
            "timestamp": r.ts(body, "timestamp", "")}


def api_version_view(stored: str | None) -> str:
    """``involvedObject.apiVersion`` as v1beta1 shows it."""
    return API_VERSION if stored is None else stored


def event_to_wire(obj: dict) -> dict:
    io = dict(obj.get("involvedObject") or {})
    io["apiVersion"] = api_version_view(io.get("apiVersion"))
    w: dict[str, Any] = {"involvedObject": {f: io[f] for f in INVOLVED_FIELDS if io.get(f)}}
    for f in ("status", "reason", "message", "source"):
        if obj.get(f):
            w[f] = obj[f]
    w["timestamp"] = ts_out(obj.get("timestamp"))
    return w
