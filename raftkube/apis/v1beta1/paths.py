"""Internal field paths -> the v1beta1 field paths a user sees in a 422 Status and in kubecfg's local check.

``spec.containers[0].image`` of a pod is ``desiredState.manifest.containers[0].image``, of a controller's
template ``desiredState.podTemplate.desiredState.manifest.containers[0].image``; ``metadata.name`` is ``id``.
A path no rule knows is returned unchanged. Endpoints' subsets have no path of their own in v1beta1: their
causes are rewritten per list entry (``endpoints.endpoints_causes_to_wire``).
"""

from __future__ import annotations

import re
from typing import Callable

from raftkube.model.errors import Cause

POD_MANIFEST = "desiredState.manifest"
TEMPLATE_MANIFEST = "desiredState.podTemplate.desiredState.manifest"

_LIMIT = re.compile(r"^(containers\[\d+\])\.resources\.limits\.(cpu|memory)")

Rule = tuple[str, str | Callable[[str], str | None]]


def _pod_spec(manifest: str) -> Callable[[str], str]:
    """The rest of a path below a pod spec, under ``manifest``; a container's ``resources.limits.cpu`` is its
    ``cpu`` on the wire."""
    def convert(rest: str) -> str:
        if rest.startswith("."):
            return manifest + "." + _LIMIT.sub(r"\1.\2", rest[1:])
        return manifest + rest
    return convert


def _only(wire: str) -> Callable[[str], str | None]:
    """The path itself, nothing below it."""
    return lambda rest: wire if not rest else None


_META: list[Rule] = [
    ("metadata.name", "id"),
    ("metadata.namespace", "namespace"),
    ("metadata.labels", "labels"),
    ("metadata.annotations", "annotations"),
    ("metadata.uid", "uid"),
    ("metadata.resourceVersion", "resourceVersion"),
    ("metadata.creationTimestamp", "creationTimestamp"),
]

#: internal kind -> (internal path prefix, wire prefix or a function of the rest of the path), first match wins
RULES: dict[str, list[Rule]] = {
    "Pod": _META + [
        ("spec.nodeSelector", "nodeSelector"),
        ("spec.nodeName", "desiredState.host"),
        ("spec.serviceEnv", "desiredState.serviceEnv"),
        ("spec", _pod_spec(POD_MANIFEST)),
        ("status.phase", "currentState.status"),
        ("status", "currentState"),
    ],
    "ReplicationController": _META + [
        ("spec.replicas", "desiredState.replicas"),
        ("spec.selector", "desiredState.replicaSelector"),
        ("spec.template.metadata.labels", "desiredState.podTemplate.labels"),
        ("spec.template.metadata.annotations", "desiredState.podTemplate.annotations"),
        ("spec.template.spec.nodeSelector", "desiredState.podTemplate.nodeSelector"),
        ("spec.template.spec", _pod_spec(TEMPLATE_MANIFEST)),
        ("status.replicas", "currentState.replicas"),
    ],
    "Service": _META + [
        ("spec.ports[0].port", "port"),
        ("spec.ports[0].targetPort", "containerPort"),
        ("spec.ports[0].protocol", "protocol"),
        ("spec.ports", _only("port")),
        ("spec.selector", "selector"),
        ("spec.portalIP", "portalIP"),
        ("spec.publicIPs", "publicIPs"),
        ("spec.createExternalLoadBalancer", "createExternalLoadBalancer"),
    ],
    "Endpoints": list(_META),
    "Node": _META + [
        ("spec.unschedulable", "unschedulable"),
        ("status.hostIP", "hostIP"),
        ("status.capacity", "resources.capacity"),
    ],
    "Event": list(_META),
}


def path_to_wire(kind: str, path: str) -> str:
    """The v1beta1 path of internal ``path`` of an object of ``kind``."""
    for prefix, target in RULES.get(kind, _META):
        if path == prefix or path.startswith(prefix) and path[len(prefix)] in ".[":
            rest = path[len(prefix):]
            if isinstance(target, str):
                return target + rest
            converted = target(rest)
            if converted is not None:
                return converted
    return path


def cause_to_wire(kind: str, cause: Cause) -> Cause:
    """A cause with its path (and the path its message starts with) in v1beta1 terms."""
    wire = path_to_wire(kind, cause.field)
    if wire == cause.field:
        return cause
    message = cause.message
    if message.startswith(cause.field):
        message = wire + message[len(cause.field):]
    return Cause(cause.reason, wire, message)
