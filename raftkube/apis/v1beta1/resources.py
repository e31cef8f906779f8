"""The v1beta1 resource table: URL names, wire kinds, the nouns of messages, and the verbs each one serves."""

from __future__ import annotations

from raftkube.apis.version import Resource

API_VERSION = "v1beta1"
API_PREFIX = f"/api/{API_VERSION}"

_CRUD = frozenset({"list", "create", "get", "update", "delete", "watch"})

#: URL segment -> Resource (the order kubecfg lists them in)
RESOURCES: dict[str, Resource] = {r.plural: r for r in (
    Resource("Pod", "pods", "Pod", "pod", _CRUD | {"status", "bindings"}),
    Resource("ReplicationController", "replicationControllers", "ReplicationController", "replicationController",
             _CRUD),
    Resource("Service", "services", "Service", "service", _CRUD),
    Resource("Endpoints", "endpoints", "Endpoints", "endpoints", _CRUD),
    Resource("Node", "minions", "Minion", "minion", _CRUD | {"status"}),
    Resource("Event", "events", "Event", "event", _CRUD),
)}
#: internal kind -> Resource
RESOURCES_BY_KIND: dict[str, Resource] = {r.kind: r for r in RESOURCES.values()}


def resource_of(kind: str) -> Resource:
    """The v1beta1 resource of an internal kind; a kind v1beta1 does not serve is a programming error."""
    res = RESOURCES_BY_KIND.get(kind)
    if res is None:
        raise ValueError(f"no v1beta1 conversion for kind {kind!r}")
    return res
