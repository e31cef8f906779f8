"""The internal object model: plain dicts in the modern Kubernetes shape (metadata / spec / status).

Objects are plain JSON-like dicts (str keys; values are dict, list, str, int, float, bool, None) so the
store can msgpack them cheaply. They know no wire version: each API version (``raftkube/apis/<version>/``)
converts its wire JSON to and from these shapes, and names its own resources, kinds and field paths.
Field names below are the internal ones; every field is optional on input and defaulted by the
version's conversion.

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

Service (core/v1 shape)::

    {"kind": "Service", "metadata": ObjectMeta,
     "spec": {"ports": [{"name": str ("" when there is one port), "port": int, "protocol": "TCP"|"UDP",
                         "targetPort": int|str (a container port number or name; 0/"" = first port of
                                                the first container)}],
              "selector": {str: str}, "createExternalLoadBalancer": bool, "publicIPs": [str], "portalIP": str}}

Endpoints (name = service name; core/v1 shape, helpers in ``model/endpoints.py``)::

    {"kind": "Endpoints", "metadata": ObjectMeta,
     "subsets": [{"addresses": [{"ip": str}], "ports": [{"port": int, "name": str (optional),
                                                         "protocol": str (optional)}]}]}

    Every address of a subset serves every port of that subset.

Node::

    {"kind": "Node", "metadata": ObjectMeta,
     "spec": {"unschedulable": bool},
     "status": {"hostIP": str, "capacity": {"cpu": int milli-cpu, "memory": int bytes},
                "conditions": [{"type": "Ready", "status": "True"|"False"|"Unknown",
                                "reason", "lastHeartbeatTime", "lastTransitionTime"}],
                "kubeletPort": int, "kubeletTLS": bool (the kubelet port serves https, with credentials),
                "serviceHost": str (where this minion's containers reach its service proxy)}}

Event::

    {"kind": "Event", "metadata": ObjectMeta,
     "involvedObject": {"kind", "namespace", "name", "uid", "resourceVersion", "fieldPath",
                        "apiVersion" (optional: absent = "the version the event is read through";
                                      present only when a client gave some other value, "" included)},
     "status": str, "reason": str, "message": str, "source": str, "timestamp": RFC 3339 str}

CertificateRevocation (no API version serves it as a resource; api/revocations.py, README "Security")::

    {"kind": "CertificateRevocation", "metadata": {"name": serial number, lowercase hex without leading zeros},
     "spec": {"subject": str (the certificate's subject, for people), "reason": str}}
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True)
class Kind:
    """One kind the store holds: how internal messages name one object, and whether names are namespaced.

    What a kind is called on a wire (URL segment, wire kind, the noun of its messages) belongs to each
    API version's resource table; the version rewrites ``singular`` in messages it serves.
    """

    kind: str
    singular: str  # 'pod "redis" not found'
    namespaced: bool = True


#: every kind of the internal model, by name
RESOURCES_BY_KIND: dict[str, Kind] = {k.kind: k for k in (
    Kind("Pod", "pod"),
    Kind("ReplicationController", "replicationController"),
    Kind("Service", "service"),
    Kind("Endpoints", "endpoints"),
    Kind("Node", "node", namespaced=False),
    Kind("Event", "event"),
    Kind("Namespace", "namespace", namespaced=False),
    Kind("CertificateRevocation", "certificate revocation", namespaced=False),
)}

# Namespace phases: a namespace being deleted is Terminating until the namespace controller has emptied it.
ACTIVE, TERMINATING = "Active", "Terminating"

# Pod phases.
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


def uid_of(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("uid") or ""


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


def pod_active(pod: dict) -> bool:
    """A pod an RC counts (Kubernetes' FilterActivePods): not Succeeded or Failed, and not being deleted."""
    return pod_phase(pod) in ACTIVE_PHASES and not (pod.get("metadata") or {}).get("deletionTimestamp")


def pod_ready(pod: dict) -> bool:
    """Kubernetes' Ready condition of a pod: Running, with container statuses, every one of them ready."""
    st = pod.get("status") or {}
    statuses = st.get("containerStatuses") or ()
    return st.get("phase") == RUNNING and bool(statuses) and all(c.get("ready") for c in statuses)


def node_ready(node: dict) -> bool:
    for cond in (node.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False
