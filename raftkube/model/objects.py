"""The internal object model: plain dicts in the modern Kubernetes shape (metadata / spec / status).

Objects are plain JSON-like dicts (str keys; values are dict, list, str, int, float, bool, None) so the
store can msgpack them cheaply and a later ``/api/v1`` is a thin layer. The v1beta1 wire format is a
conversion (``model/v1beta1.py``). Field names below are the internal ones; every field is optional on
input and defaulted by ``model/defaults.py``-style helpers in the conversion.

ObjectMeta (``obj["metadata"]``)::

    name, namespace ("default"), uid, creationTimestamp (RFC 3339 str), resourceVersion (int, 0 = unset),
    labels {str: str}, annotations {str: str}

Pod::

    {"kind": "Pod", "metadata": ObjectMeta,
     "spec": {"containers": [Container], "volumes": [Volume], "restartPolicy": "Always"|"OnFailure"|"Never",
              "nodeName": "" (set only by a bind), "nodeSelector": {str: str},
              "serviceEnv": [EnvVar] (service variables computed at bind time, appended to each container's env)},
     "status": {"phase": "Pending"|"Running"|"Succeeded"|"Failed", "hostIP": "", "podIP": "",
                "message": "", "reason": "",
                "containerStatuses": [{"name", "image", "restartCount": int, "ready": bool,
                                        "state": {"waiting": {"reason", "message"}}
                                               | {"running": {"startedAt"}}
                                               | {"terminated": {"exitCode", "signal", "reason", "message",
                                                                 "startedAt", "finishedAt"}}}]}}

Container::

    {"name", "image", "command": [str], "workingDir": str,
     "ports": [{"name", "hostPort": int, "containerPort": int, "protocol": "TCP"|"UDP", "hostIP"}],
     "env": [{"name", "value"}],
     "resources": {"limits": {"cpu": int milli-cpu, "memory": int bytes}},
     "volumeMounts": [{"name", "mountPath", "readOnly": bool}],
     "livenessProbe": {"httpGet": {"path", "port": int|str, "host"} | "tcpSocket": {"port"}
                       | "exec": {"command": [str]}, "initialDelaySeconds": int},
     "lifecycle": {...}, "terminationMessagePath": str, "privileged": bool,
     "imagePullPolicy": "Always"|"Never"|"IfNotPresent"}

ReplicationController::

    {"kind": "ReplicationController", "metadata": ObjectMeta,
     "spec": {"replicas": int, "selector": {str: str},
              "template": {"metadata": {"labels": {...}, "annotations": {...}}, "spec": PodSpec}},
     "status": {"replicas": int (computed on read)}}

Service::

    {"kind": "Service", "metadata": ObjectMeta,
     "spec": {"port": int, "containerPort": int|str (0/"" = first port of first container),
              "selector": {str: str}, "protocol": "TCP"|"UDP", "createExternalLoadBalancer": bool,
              "publicIPs": [str], "portalIP": str}}

Endpoints (name = service name)::

    {"kind": "Endpoints", "metadata": ObjectMeta, "endpoints": [{"ip": str, "port": int}]}

Node (v1beta1 "Minion")::

    {"kind": "Node", "metadata": ObjectMeta,
     "spec": {"unschedulable": bool},
     "status": {"hostIP": str, "capacity": {"cpu": int milli-cpu, "memory": int bytes},
                "conditions": [{"type": "Ready", "status": "True"|"False"|"Unknown",
                                "reason", "lastHeartbeatTime", "lastTransitionTime"}],
                "kubeletPort": int,
                "serviceHost": str (where this minion's containers reach its service proxy)}}

Event::

    {"kind": "Event", "metadata": ObjectMeta,
     "involvedObject": {"kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"},
     "status": str, "reason": str, "message": str, "source": str, "timestamp": RFC 3339 str}
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True)
class Resource:
    """One REST resource: its internal kind, v1beta1 path name and whether names are namespaced."""

    kind: str
    plural: str  # the v1beta1 URL segment
    wire_kind: str  # the v1beta1 "kind"
    singular: str  # how 2014 messages name one object: 'pod "redis" not found'
    namespaced: bool = True
    watchable: bool = True


RESOURCES: dict[str, Resource] = {r.plural: r for r in (
    Resource("Pod", "pods", "Pod", "pod"),
    Resource("ReplicationController", "replicationControllers", "ReplicationController", "replicationController"),
    Resource("Service", "services", "Service", "service"),
    Resource("Endpoints", "endpoints", "Endpoints", "endpoints"),
    Resource("Node", "minions", "Minion", "minion", namespaced=False),
    Resource("Event", "events", "Event", "event"),
)}
RESOURCES_BY_KIND: dict[str, Resource] = {r.kind: r for r in RESOURCES.values()}

# Pod phases (internal) and their v1beta1 wire status.
PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"
ACTIVE_PHASES = (PENDING, RUNNING)


def meta(obj: dict) -> dict:
    return obj.setdefault("metadata", {})


def name_of(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def namespace_of(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("namespace") or DEFAULT_NAMESPACE


def labels_of(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("labels") or {}


def rv_of(obj: dict) -> int:
    return int((obj.get("metadata") or {}).get("resourceVersion") or 0)


def key_of(obj: dict) -> tuple[str, str, str]:
    """The store key: (kind, namespace, name); cluster-scoped kinds use namespace ""."""
    kind = obj["kind"]
    ns = namespace_of(obj) if RESOURCES_BY_KIND[kind].namespaced else ""
    return kind, ns, name_of(obj)


def deepcopy(obj: dict) -> dict:
    return copy.deepcopy(obj)


def pod_node(pod: dict) -> str:
    return (pod.get("spec") or {}).get("nodeName") or ""


def pod_phase(pod: dict) -> str:
    return (pod.get("status") or {}).get("phase") or PENDING


def node_ready(node: dict) -> bool:
    for cond in (node.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False
