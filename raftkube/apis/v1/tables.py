"""``meta.k8s.io/v1`` Table responses (``Accept: application/json;as=Table;...``): the columns kubectl prints
for each kind (``-o wide`` shows the columns of priority 1), every row carrying its object's metadata."""

from __future__ import annotations

import datetime

from raftkube.apis.v1.convert import to_wire
from raftkube.model.selectors import format_labels


def _age(ts: str | None) -> str:
    if not ts:
        return "<unknown>"
    try:
        t = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    s = int((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())
    s = max(s, 0)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def _col(name: str, typ: str = "string", priority: int = 0) -> dict:
    return {"name": name, "type": typ, "format": "name" if name == "Name" else "", "description": "",
            "priority": priority}


def _pod(obj: dict) -> list:
    st, spec = obj.get("status") or {}, obj.get("spec") or {}
    cs = st.get("containerStatuses") or []
    ready = sum(1 for c in cs if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in cs)
    return [f"{ready}/{len(spec.get('containers') or [])}", st.get("phase") or "Pending", restarts,
            st.get("podIP") or "<none>", spec.get("nodeName") or "<none>"]


def _rc(obj: dict) -> list:
    spec = obj.get("spec") or {}
    cs = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    st = obj.get("status") or {}
    return [int(spec.get("replicas") or 0), int(st.get("replicas") or 0), int(st.get("readyReplicas") or 0),
            ",".join(c.get("name") or "" for c in cs), ",".join(c.get("image") or "" for c in cs), format_labels(spec.get("selector")) or "<none>"]


def _svc(obj: dict) -> list:
    spec = obj.get("spec") or {}
    ports = ",".join(f"{p.get('port')}/{p.get('protocol') or 'TCP'}" for p in spec.get("ports") or ()) or "<none>"
    ext = ",".join(spec.get("publicIPs") or ()) or "<none>"
    lb = "LoadBalancer" if spec.get("createExternalLoadBalancer") else "ClusterIP"
    return [lb, spec.get("portalIP") or "<none>", ext, ports, format_labels(spec.get("selector")) or "<none>"]


def _node(obj: dict) -> list:
    st, spec = obj.get("status") or {}, obj.get("spec") or {}
    ready = next((c.get("status") for c in st.get("conditions") or () if c.get("type") == "Ready"), None)
    status = {"True": "Ready", "False": "NotReady"}.get(ready, "Unknown")
    if spec.get("unschedulable"):
        status += ",SchedulingDisabled"
    return [status, "<none>", "v1.0.0-raftkube", st.get("hostIP") or "<none>"]


def _ep(obj: dict) -> list:
    eps = [f"{a.get('ip')}:{p.get('port')}" for s in obj.get("subsets") or () for a in s.get("addresses") or ()
           for p in s.get("ports") or ()]
    return [",".join(eps) or "<none>"]


def _ev(obj: dict) -> list:
    io = obj.get("involvedObject") or {}
    return ["Normal", obj.get("reason") or "", f"{(io.get('kind') or '').lower()}/{io.get('name') or ''}",
            obj.get("message") or ""]


def _ns(obj: dict) -> list:
    return [(obj.get("status") or {}).get("phase") or "Active"]


#: internal kind -> (columns after Name, the Age column's position, row function)
_TABLES = {
    "Pod": ([_col("Ready"), _col("Status"), _col("Restarts", "integer"), _col("IP", priority=1),
             _col("Node", priority=1)], 3, _pod),
    "ReplicationController": ([_col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"),
                               _col("Containers", priority=1), _col("Images", priority=1),
                               _col("Selector", priority=1)], 3, _rc),
    "Service": ([_col("Type"), _col("Cluster-IP"), _col("External-IP"), _col("Port(s)"),
                 _col("Selector", priority=1)], 4, _svc),
    "Node": ([_col("Status"), _col("Roles"), _col("Version"), _col("Internal-IP", priority=1)], 2, _node),
    "Endpoints": ([_col("Endpoints")], 1, _ep),
    "Event": ([_col("Type"), _col("Reason"), _col("Object"), _col("Message")], 0, _ev),
    "Namespace": ([_col("Status")], 1, _ns),
}


#: ``includeObject`` values: what ``rows[].object`` holds (kubectl's ``--sort-by`` asks for ``Object``)
INCLUDE_OBJECT = ("Metadata", "Object", "None")


def table(kind: str, items: list[dict], revision: int, *, with_columns: bool = True,
          include: str = "Metadata") -> dict:
    """A Table of ``items``; ``include`` (``includeObject``) puts in each row a PartialObjectMetadata (the
    default), the whole v1 object, or nothing."""
    cols, age_at, row_fn = _TABLES[kind]
    columns = [_col("Name"), *cols]
    columns.insert(1 + age_at, _col("Age"))
    rows = []
    for obj in items:
        wire = to_wire(obj)
        cells = row_fn(obj)
        cells.insert(age_at, _age((obj.get("metadata") or {}).get("creationTimestamp")))
        row = {"cells": [wire["metadata"]["name"], *cells]}
        if include == "Object":
            row["object"] = wire
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": wire["metadata"]}
        rows.append(row)
    out = {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
           "metadata": {"resourceVersion": str(int(revision or 0))}, "rows": rows}
    if with_columns:
        out["columnDefinitions"] = columns
    return out
