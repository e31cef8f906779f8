"""v1beta1 minions <-> internal nodes.

``hostIP`` and ``resources.capacity`` are the node's status; ``status: {conditions: [...], kubeletPort,
kubeletTLS, serviceHost}`` carries the rest of it; ``unschedulable: true`` is emitted when set. Nodes have no namespace.
"""

from __future__ import annotations

from typing import Any

from raftkube.apis.v1beta1.meta import ts_out
from raftkube.apis.v1beta1.reader import Reader


def node_from_wire(r: Reader, body: dict) -> dict:
    cap = r.dict_(r.dict_(body, "resources", ""), "capacity", "resources")
    st = r.dict_(body, "status", "")
    conditions = [{"type": r.str_(c, "type", cp), "status": r.str_(c, "status", cp),
                   "reason": r.str_(c, "reason", cp), "lastHeartbeatTime": r.ts(c, "lastHeartbeatTime", cp),
                   "lastTransitionTime": r.ts(c, "lastTransitionTime", cp)}
                  for c, cp in r.items(st, "conditions", "status")]
    node = {"spec": {"unschedulable": r.bool_(body, "unschedulable", "")},
            "status": {"hostIP": r.str_(body, "hostIP", ""),
                       "capacity": {"cpu": r.int_(cap, "cpu", "resources.capacity"),
                                    "memory": r.int_(cap, "memory", "resources.capacity")},
                       "conditions": conditions,
                       "kubeletPort": r.int_(st, "kubeletPort", "status")}}
    if r.bool_(st, "kubeletTLS", "status"):  # only when set, as serviceHost
        node["status"]["kubeletTLS"] = True
    if r.str_(st, "serviceHost", "status"):  # only when set: from_wire(to_wire(obj)) == obj
        node["status"]["serviceHost"] = r.str_(st, "serviceHost", "status")
    return node


def node_to_wire(obj: dict) -> dict:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    cap = status.get("capacity") or {}
    w: dict[str, Any] = {}
    if status.get("hostIP"):
        w["hostIP"] = status["hostIP"]
    w["resources"] = {"capacity": {"cpu": cap.get("cpu") or 0, "memory": cap.get("memory") or 0}}
    if spec.get("unschedulable"):
        w["unschedulable"] = True
    st: dict[str, Any] = {"conditions": [
        {"type": c.get("type") or "", "status": c.get("status") or "", "reason": c.get("reason") or "",
         "lastHeartbeatTime": ts_out(c.get("lastHeartbeatTime")),
         "lastTransitionTime": ts_out(c.get("lastTransitionTime"))}
        for c in status.get("conditions") or ()]}
    if status.get("kubeletPort"):
        st["kubeletPort"] = status["kubeletPort"]
    if status.get("kubeletTLS"):
        st["kubeletTLS"] = True
    if status.get("serviceHost"):
        st["serviceHost"] = status["serviceHost"]
    w["status"] = st
    return w
