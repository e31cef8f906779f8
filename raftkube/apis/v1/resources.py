"""The core/v1 resource table and its discovery document (``GET /api/v1``), as K8S-V1.md §2 lists it."""

from __future__ import annotations

from raftkube.apis.version import Resource

API_VERSION = "v1"
API_PREFIX = f"/api/{API_VERSION}"

_CRUD = frozenset({"list", "create", "get", "update", "delete", "watch"})

#: URL segment -> Resource
RESOURCES: dict[str, Resource] = {r.plural: r for r in (
    Resource("Pod", "pods", "Pod", "pods", _CRUD | {"status", "bindings"}),
    Resource("ReplicationController", "replicationcontrollers", "ReplicationController", "replicationcontrollers",
             _CRUD),
    Resource("Service", "services", "Service", "services", _CRUD),
    Resource("Endpoints", "endpoints", "Endpoints", "endpoints", _CRUD),
    Resource("Node", "nodes", "Node", "nodes", _CRUD | {"status"}),
    Resource("Event", "events", "Event", "events", _CRUD),
    Resource("Namespace", "namespaces", "Namespace", "namespaces", _CRUD | {"status"}),
)}
RESOURCES_BY_KIND: dict[str, Resource] = {r.kind: r for r in RESOURCES.values()}

SHORT_NAMES = {"pods": ["po"], "replicationcontrollers": ["rc"], "services": ["svc"], "endpoints": ["ep"],
               "events": ["ev"], "nodes": ["no"], "namespaces": ["ns"]}
CATEGORIES = {"pods": ["all"], "replicationcontrollers": ["all"], "services": ["all"]}
_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def resource_of(kind: str) -> Resource:
    res = RESOURCES_BY_KIND.get(kind)
    if res is None:
        raise ValueError(f"no v1 conversion for kind {kind!r}")
    return res


def discovery() -> dict:
    """The APIResourceList of ``GET /api/v1``: names, kinds, verbs, shortNames, categories, subresources."""
    out = []
    for res in RESOURCES.values():
        entry = {"name": res.plural, "singularName": "", "namespaced": res.namespaced, "kind": res.wire_kind,
                 "verbs": list(_VERBS)}
        if res.plural in SHORT_NAMES:
            entry["shortNames"] = SHORT_NAMES[res.plural]
        if res.plural in CATEGORIES:
            entry["categories"] = CATEGORIES[res.plural]
        out.append(entry)
        if "status" in res.verbs:
            out.append({"name": f"{res.plural}/status", "singularName": "", "namespaced": res.namespaced,
                        "kind": res.wire_kind, "verbs": ["get", "update"]})
    out.append({"name": "bindings", "singularName": "", "namespaced": True, "kind": "Binding", "verbs": ["create"]})
    out.append({"name": "pods/binding", "singularName": "", "namespaced": True, "kind": "Binding",
                "verbs": ["create"]})
    out.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]})
    out.append({"name": "replicationcontrollers/scale", "singularName": "", "namespaced": True,
                "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": API_VERSION, "resources": out}
