"""core/v1 wire bodies <-> internal objects.

``to_wire`` emits the v1 shape (``kind``/``apiVersion``, ``metadata`` with a string ``resourceVersion``,
quantities as strings, ``imageID`` on container statuses). ``from_wire`` reads a v1 body by restating it
in the v1beta1 shape and running the v1beta1 reader over it (one normalizer and type checker for both
versions: every internal field defaulted); the v1 parts v1beta1 cannot hold (Service ``ports[]``,
Endpoints ``subsets``) are read directly. First slice: type errors name v1beta1 paths.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from raftkube.apis.v1.resources import API_VERSION, resource_of
from raftkube.apis.v1beta1 import from_wire as beta_from_wire
from raftkube.model.errors import ApiError, BadRequest, Cause, Invalid
from raftkube.model.objects import DEFAULT_NAMESPACE, pod_ready

# ---- quantities ---------------------------------------------------------------------------------------
_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_QTY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")


def parse_quantity(v: Any, *, milli: bool, path: str) -> int:
    """``"500m"``/``"1"``/``"64Mi"`` (or a number) -> milli-units (``milli``) or units."""
    if v in (None, ""):
        return 0
    if isinstance(v, bool):
        raise Invalid(f"{path}: Invalid value: {v!r}: must be a quantity")
    if isinstance(v, (int, float)):
        return int(v * 1000) if milli else int(v)
    m = _QTY.match(str(v))
    if not m:
        raise Invalid(f"{path}: Invalid value: {v!r}: must be a quantity such as 500m or 64Mi")
    n, suffix = float(m.group(1)), m.group(2)
    if suffix == "m":
        return int(n) if milli else int(n / 1000)
    n *= _SUFFIX.get(suffix, 1)
    return int(n * 1000) if milli else int(n)


def cpu_out(milli: int) -> str:
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def memory_out(n: int) -> str:
    for suffix in ("Gi", "Mi", "Ki"):
        if n and n % _SUFFIX[suffix] == 0:
            return f"{n // _SUFFIX[suffix]}{suffix}"
    return str(n)


# ---- to the wire ----------------------------------------------------------------------------------------
def meta_out(obj: dict, namespaced: bool) -> dict:
    md = obj.get("metadata") or {}
    out: dict[str, Any] = {"name": md.get("name") or ""}
    if namespaced:
        out["namespace"] = md.get("namespace") or DEFAULT_NAMESPACE
    if md.get("uid"):
        out["uid"] = md["uid"]
    out["resourceVersion"] = str(int(md.get("resourceVersion") or 0))
    out["creationTimestamp"] = md.get("creationTimestamp") or None
    if md.get("labels"):
        out["labels"] = dict(md["labels"])
    if md.get("annotations"):
        out["annotations"] = dict(md["annotations"])
    if md.get("generateName"):
        out["generateName"] = md["generateName"]
    if md.get("ownerReferences"):
        out["ownerReferences"] = [{"apiVersion": API_VERSION, **r} for r in md["ownerReferences"]]
    if md.get("deletionTimestamp"):
        out["deletionTimestamp"] = md["deletionTimestamp"]
    if md.get("finalizers"):
        out["finalizers"] = list(md["finalizers"])
    return out


def _container_out(c: dict) -> dict:
    c = copy.deepcopy(c)
    limits = (c.pop("resources", None) or {}).get("limits") or {}
    res = {}
    if limits.get("cpu"):
        res["cpu"] = cpu_out(int(limits["cpu"]))
    if limits.get("memory"):
        res["memory"] = memory_out(int(limits["memory"]))
    c["resources"] = {"limits": res} if res else {}
    if not c.get("privileged"):
        c.pop("privileged", None)
    else:
        c["securityContext"] = {"privileged": True}
        c.pop("privileged")
    for k in ("command", "workingDir", "terminationMessagePath", "ports", "env", "volumeMounts", "imagePullPolicy"):
        if not c.get(k):
            c.pop(k, None)
    for p in c.get("ports") or ():
        for k in ("name", "hostIP", "hostPort"):
            if not p.get(k):
                p.pop(k, None)
    return c


def _pod_spec_out(spec: dict) -> dict:
    out: dict[str, Any] = {"containers": [_container_out(c) for c in spec.get("containers") or ()],
                           "restartPolicy": spec.get("restartPolicy") or "Always"}
    if spec.get("volumes"):
        out["volumes"] = copy.deepcopy(spec["volumes"])
    if spec.get("nodeName"):
        out["nodeName"] = spec["nodeName"]
    if spec.get("nodeSelector"):
        out["nodeSelector"] = dict(spec["nodeSelector"])
    return out


def _pod_status_out(st: dict) -> dict:
    out: dict[str, Any] = {"phase": st.get("phase") or "Pending"}
    for k in ("hostIP", "podIP", "message", "reason"):
        if st.get(k):
            out[k] = st[k]
    if st.get("podIP"):
        out["podIPs"] = [{"ip": st["podIP"]}]
    statuses = []
    for cs in st.get("containerStatuses") or ():
        cs = copy.deepcopy(cs)
        cs.setdefault("imageID", "")
        cs["restartCount"] = int(cs.get("restartCount") or 0)
        cs["ready"] = bool(cs.get("ready"))
        cs["image"] = cs.get("image") or ""
        statuses.append(cs)
    if statuses:
        out["containerStatuses"] = statuses
    out["conditions"] = [{"type": "Ready", "status": "True" if pod_ready({"status": st}) else "False"}]
    return out


def _pod_out(obj: dict) -> dict:
    return {"spec": _pod_spec_out(obj.get("spec") or {}), "status": _pod_status_out(obj.get("status") or {})}


def _rc_out(obj: dict) -> dict:
    spec = obj.get("spec") or {}
    tpl = spec.get("template") or {}
    tmd = tpl.get("metadata") or {}
    tmeta = {"creationTimestamp": None}
    for k in ("labels", "annotations"):
        if tmd.get(k):
            tmeta[k] = dict(tmd[k])
    return {"spec": {"replicas": int(spec.get("replicas") or 0), "selector": dict(spec.get("selector") or {}),
                     "template": {"metadata": tmeta, "spec": _pod_spec_out(tpl.get("spec") or {})}},
            "status": _rc_status_out(obj.get("status") or {})}


def _rc_status_out(st: dict) -> dict:
    """``replicas`` always; the counts Kubernetes omits when zero only when they are not (every counted pod
    matches the selector, so it is fully labeled; with no minReadySeconds a ready pod is available)."""
    replicas, ready = int(st.get("replicas") or 0), int(st.get("readyReplicas") or 0)
    out = {"replicas": replicas}
    if replicas:
        out["fullyLabeledReplicas"] = replicas
    if ready:
        out["readyReplicas"] = out["availableReplicas"] = ready
    return out


def _service_out(obj: dict) -> dict:
    spec = obj.get("spec") or {}
    ports = []
    for p in spec.get("ports") or ():
        w = {"port": int(p.get("port") or 0), "protocol": p.get("protocol") or "TCP",
             "targetPort": p.get("targetPort") or int(p.get("port") or 0)}
        if p.get("name"):
            w["name"] = p["name"]
        ports.append(w)
    out: dict[str, Any] = {"ports": ports, "selector": dict(spec.get("selector") or {}),
                           "type": "LoadBalancer" if spec.get("createExternalLoadBalancer") else "ClusterIP"}
    if spec.get("portalIP"):
        out["clusterIP"] = spec["portalIP"]
        out["clusterIPs"] = [spec["portalIP"]]
    if spec.get("publicIPs"):
        out["externalIPs"] = list(spec["publicIPs"])
    return {"spec": out, "status": {"loadBalancer": {}}}


def _endpoints_out(obj: dict) -> dict:
    return {"subsets": copy.deepcopy(obj.get("subsets") or [])}


def _node_out(obj: dict) -> dict:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    cap = st.get("capacity") or {}
    capacity = {"cpu": cpu_out(int(cap.get("cpu") or 0)), "memory": memory_out(int(cap.get("memory") or 0)),
                "pods": "110"}
    conditions = [{k: c.get(k) or ("" if k in ("type", "status", "reason") else None)
                   for k in ("type", "status", "reason", "lastHeartbeatTime", "lastTransitionTime")}
                  for c in st.get("conditions") or ()]
    out: dict[str, Any] = {"capacity": capacity, "allocatable": dict(capacity), "conditions": conditions,
                           "daemonEndpoints": {"kubeletEndpoint": {"Port": int(st.get("kubeletPort") or 0)}},
                           "nodeInfo": {k: "" for k in ("machineID", "systemUUID", "bootID", "kernelVersion",
                                                        "osImage", "containerRuntimeVersion", "kubeProxyVersion",
                                                        "operatingSystem", "architecture")}
                           | {"kubeletVersion": "v1.0.0-raftkube", "operatingSystem": "linux"}}
    if st.get("hostIP"):
        out["addresses"] = [{"type": "InternalIP", "address": st["hostIP"]}]
    return {"spec": {"unschedulable": True} if spec.get("unschedulable") else {}, "status": out}


def _event_out(obj: dict) -> dict:
    io = {k: v for k, v in (obj.get("involvedObject") or {}).items() if v}
    io.setdefault("apiVersion", API_VERSION)
    out: dict[str, Any] = {"involvedObject": io, "reason": obj.get("reason") or "",
                           "message": obj.get("message") or "",
                           "source": {"component": obj.get("source") or ""},
                           "firstTimestamp": obj.get("timestamp") or None, "lastTimestamp": obj.get("timestamp") or None,
                           "count": 1, "type": "Normal"}
    return out


def _namespace_out(obj: dict) -> dict:
    return {"spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": (obj.get("status") or {}).get("phase") or "Active"}}


_TO_WIRE = {"Namespace": _namespace_out, "Pod": _pod_out, "ReplicationController": _rc_out, "Service": _service_out,
            "Endpoints": _endpoints_out, "Node": _node_out, "Event": _event_out}


def to_wire(obj: dict) -> dict:
    res = resource_of(obj.get("kind", ""))
    out: dict[str, Any] = {"kind": res.wire_kind, "apiVersion": API_VERSION,
                           "metadata": meta_out(obj, res.namespaced)}
    out.update(_TO_WIRE[res.kind](obj))
    return out


def list_to_wire(kind: str, items: list[dict], revision: int) -> dict:
    res = resource_of(kind)
    return {"kind": f"{res.wire_kind}List", "apiVersion": API_VERSION,
            "metadata": {"resourceVersion": str(int(revision or 0))}, "items": [to_wire(i) for i in items]}


# ---- from the wire ----------------------------------------------------------------------------------------
def _d(v: Any, path: str) -> dict:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise Invalid(f"{path}: Invalid value: must be an object")
    return v


def _l(v: Any, path: str) -> list:
    if v is None:
        return []
    if not isinstance(v, list):
        raise Invalid(f"{path}: Invalid value: must be a list")
    return v


_PULL = {"Always": "PullAlways", "Never": "PullNever", "IfNotPresent": "PullIfNotPresent"}
_VOLUME = {"hostPath": "hostDir", "emptyDir": "emptyDir", "gcePersistentDisk": "persistentDisk",
           "gitRepo": "gitRepo"}
_RESTART = {"Always": "always", "OnFailure": "onFailure", "Never": "never"}


def _container_in(c: Any, p: str) -> dict:
    c = dict(_d(c, p))
    limits = _d(_d(c.pop("resources", None), f"{p}.resources").get("limits"), f"{p}.resources.limits")
    if limits.get("cpu") not in (None, ""):
        c["cpu"] = parse_quantity(limits["cpu"], milli=True, path=f"{p}.resources.limits.cpu")
    if limits.get("memory") not in (None, ""):
        c["memory"] = parse_quantity(limits["memory"], milli=False, path=f"{p}.resources.limits.memory")
    sc = _d(c.pop("securityContext", None), f"{p}.securityContext")
    if sc.get("privileged"):
        c["privileged"] = True
    if isinstance(c.get("imagePullPolicy"), str):
        c["imagePullPolicy"] = _PULL.get(c["imagePullPolicy"], c["imagePullPolicy"])
    return c


def _manifest_in(spec: dict, name: str, p: str) -> dict:
    volumes = []
    for i, v in enumerate(_l(spec.get("volumes"), f"{p}.volumes")):
        v = _d(v, f"{p}.volumes[{i}]")
        src = {_VOLUME[k]: v[k] for k in _VOLUME if k in v}
        volumes.append({"name": v.get("name"), **({"source": src} if src else {})})
    policy = spec.get("restartPolicy") or "Always"
    return {"version": "v1beta1", "id": name,
            "containers": [_container_in(c, f"{p}.containers[{i}]")
                           for i, c in enumerate(_l(spec.get("containers"), f"{p}.containers"))],
            "volumes": volumes, "restartPolicy": {_RESTART.get(policy, policy): {}}}


def _meta_in(body: dict, res, namespace: str) -> tuple[dict, dict]:
    md = _d(body.get("metadata"), "metadata")
    ns = md.get("namespace") or namespace
    beta = {"id": md.get("name") or "", "uid": md.get("uid"), "labels": md.get("labels"),
            "annotations": md.get("annotations"), "resourceVersion": md.get("resourceVersion"),
            "creationTimestamp": md.get("creationTimestamp")}
    if res.namespaced:
        beta["namespace"] = ns
    return md, {k: v for k, v in beta.items() if v is not None}


#: a finalizer is a qualified name (Kubernetes: a 253-character prefix, "/", a 63-character name)
MAX_FINALIZER_LEN = 317

_OWNER_FIELDS = {"kind": str, "name": str, "uid": str, "controller": bool, "blockOwnerDeletion": bool}


def _identity_in(md: dict) -> dict:
    """``generateName``, ``ownerReferences`` and ``finalizers`` (v1 only: v1beta1 has none of them), type-checked.
    ``finalizers`` is always set (an empty list: none), so that an update through v1 can remove the last one
    while one through v1beta1, which cannot express them, keeps them. ``deletionTimestamp`` is the server's."""
    out: dict[str, Any] = {}
    gen = md.get("generateName")
    if gen not in (None, ""):
        if not isinstance(gen, str):
            raise Invalid("metadata.generateName: Invalid value: must be a string")
        out["generateName"] = gen
    refs = []
    for i, r in enumerate(_l(md.get("ownerReferences"), "metadata.ownerReferences")):
        r = _d(r, f"metadata.ownerReferences[{i}]")
        ref = {}
        for k, t in _OWNER_FIELDS.items():
            if r.get(k) is not None:
                if not isinstance(r[k], t):
                    raise Invalid(f"metadata.ownerReferences[{i}].{k}: Invalid value: {r[k]!r}: must be a {t.__name__}")
                ref[k] = r[k]
        if not ref.get("kind") or not ref.get("name") or not ref.get("uid"):
            raise Invalid(f"metadata.ownerReferences[{i}]: Invalid value: kind, name and uid are required")
        refs.append(ref)
    if refs:
        out["ownerReferences"] = refs
    finalizers = _l(md.get("finalizers"), "metadata.finalizers")
    for i, f in enumerate(finalizers):
        if not isinstance(f, str) or not f or len(f) > MAX_FINALIZER_LEN:
            raise Invalid(f"metadata.finalizers[{i}]: Invalid value: {str(f)[:40]!r}: must be a non-empty string "
                          f"of at most {MAX_FINALIZER_LEN} characters")
    out["finalizers"] = list(dict.fromkeys(finalizers))
    return out


def _namespace_in(body: dict) -> dict:
    """A v1 Namespace (v1beta1 has none: read here): its metadata; ``spec.finalizers`` are not kept."""
    md = _d(body.get("metadata"), "metadata")
    out: dict[str, Any] = {"name": md.get("name") or ""}
    for k, t in (("name", str), ("uid", str), ("creationTimestamp", str), ("labels", dict), ("annotations", dict)):
        v = md.get(k)
        if v is not None and not isinstance(v, t):
            raise Invalid(f"metadata.{k}: Invalid value: {v!r}: must be a{'n object' if t is dict else ' string'}")
        if v:
            out[k] = dict(v) if t is dict else v
    rv = md.get("resourceVersion")
    if rv not in (None, ""):
        if not str(rv).isdigit():
            raise BadRequest(f"metadata.resourceVersion must be a string of digits, not {rv!r}")
        out["resourceVersion"] = int(rv)
    out.update(_identity_in(md))
    return {"kind": "Namespace", "metadata": out}


#: v1beta1 field paths (the reader v1 bodies are restated for) -> their v1 names, most specific first
_V1_PATHS = {
    "Pod": (("desiredState.manifest", "spec"), ("desiredState.host", "spec.nodeName"),
            ("nodeSelector", "spec.nodeSelector")),
    "ReplicationController": (
        ("desiredState.podTemplate.desiredState.manifest", "spec.template.spec"),
        ("desiredState.podTemplate.labels", "spec.template.metadata.labels"),
        ("desiredState.podTemplate.annotations", "spec.template.metadata.annotations"),
        ("desiredState.podTemplate.nodeSelector", "spec.template.spec.nodeSelector"),
        ("desiredState.podTemplate", "spec.template"), ("desiredState.replicaSelector", "spec.selector"),
        ("desiredState.replicas", "spec.replicas")),
}
_META_PATHS = (("id", "metadata.name"), ("namespace", "metadata.namespace"), ("labels", "metadata.labels"),
               ("annotations", "metadata.annotations"), ("uid", "metadata.uid"),
               ("resourceVersion", "metadata.resourceVersion"))


def v1_path(path: str, kind: str) -> str:
    """A v1beta1 field path of ``kind`` said in v1 (``desiredState.manifest.containers[0].image`` ->
    ``spec.containers[0].image``); other paths unchanged."""
    for old, new in (*_V1_PATHS.get(kind, ()), *_META_PATHS):
        if path == old or path.startswith((old + ".", old + "[")):
            return new + path[len(old):]
    return path


def v1_paths(exc: ApiError, kind: str) -> ApiError:
    """``exc`` with its causes' fields (and the messages naming them) in v1 terms."""
    if not exc.causes:
        return exc
    causes, message = [], exc.message
    for c in exc.causes:
        field = v1_path(c.field, kind)
        causes.append(Cause(c.reason, field, c.message.replace(c.field, field, 1)))
        message = message.replace(f"{c.field}:", f"{field}:", 1)
    out = copy.copy(exc)
    out.message, out.causes, out.args = message, tuple(causes), (message,)
    return out


def from_wire(kind: str, body: dict, *, namespace: str = DEFAULT_NAMESPACE) -> dict:
    """A v1 wire body -> the normalized internal object of ``kind`` (implied by the URL)."""
    res = resource_of(kind)
    if not isinstance(body, dict):
        raise BadRequest(f"the body of a {res.wire_kind} must be a JSON object")
    if body.get("kind") not in (None, "", res.wire_kind):
        raise BadRequest(f"data of kind '{body['kind']}', obj of type '{res.wire_kind}'")
    if body.get("apiVersion") not in (None, "", API_VERSION):
        raise BadRequest(f"unsupported apiVersion '{body['apiVersion']}': this resource speaks {API_VERSION}")
    if kind == "Namespace":
        return _namespace_in(body)
    md, beta = _meta_in(body, res, namespace)
    spec = _d(body.get("spec"), "spec")
    name = beta["id"]
    if kind == "Pod":
        beta["desiredState"] = {"manifest": _manifest_in(spec, name, "spec"), "host": spec.get("nodeName") or ""}
        if spec.get("nodeSelector") is not None:
            beta["nodeSelector"] = spec["nodeSelector"]
    elif kind == "ReplicationController":
        tpl = _d(spec.get("template"), "spec.template")
        tmd = _d(tpl.get("metadata"), "spec.template.metadata")
        tspec = _d(tpl.get("spec"), "spec.template.spec")
        beta["desiredState"] = {"replicas": spec.get("replicas", 1), "replicaSelector": spec.get("selector"),
                                "podTemplate": {"labels": tmd.get("labels"), "annotations": tmd.get("annotations"),
                                                "nodeSelector": tspec.get("nodeSelector"),
                                                "desiredState": {"manifest": _manifest_in(tspec, "",
                                                                                          "spec.template.spec")}}}
        beta["desiredState"] = {k: v for k, v in beta["desiredState"].items() if v is not None}
        tplb = beta["desiredState"]["podTemplate"]
        beta["desiredState"]["podTemplate"] = {k: v for k, v in tplb.items() if v is not None}
    elif kind == "Node":
        beta["unschedulable"] = bool(spec.get("unschedulable"))
    elif kind == "Event":
        for k in ("involvedObject", "reason", "message"):
            if body.get(k) is not None:
                beta[k] = body[k]
        io = beta.get("involvedObject")
        if isinstance(io, dict) and io.get("apiVersion") in (None, API_VERSION):
            # internal: no apiVersion = "the version the event is read through" (v1beta1 reads its own as that)
            beta["involvedObject"] = dict(io, apiVersion="v1beta1")
        src = body.get("source")
        beta["source"] = src.get("component") or "" if isinstance(src, dict) else (src or "")
        if body.get("lastTimestamp") or body.get("firstTimestamp"):
            beta["timestamp"] = body.get("lastTimestamp") or body.get("firstTimestamp")
    try:
        obj = beta_from_wire(kind, beta, namespace=beta.get("namespace") or namespace)
    except ApiError as exc:  # the v1beta1 reader names its own fields: say them as the client wrote them
        raise v1_paths(exc, kind) from None
    obj["metadata"].update(_identity_in(md))
    if kind == "Service":
        ports = []
        for i, p in enumerate(_l(spec.get("ports"), "spec.ports")):
            p = _d(p, f"spec.ports[{i}]")
            port = p.get("port")
            if isinstance(port, bool) or not isinstance(port, int):
                raise Invalid(f"spec.ports[{i}].port: Invalid value: {port!r}: must be an integer")
            target = p.get("targetPort", port)
            ports.append({"name": p.get("name") or "", "port": port, "protocol": p.get("protocol") or "TCP",
                          "targetPort": target if target not in (None, "") else port})
        selector = _d(spec.get("selector"), "spec.selector")
        obj["spec"].update({"ports": ports, "selector": dict(selector),
                            "createExternalLoadBalancer": spec.get("type") == "LoadBalancer",
                            "publicIPs": list(spec.get("externalIPs") or []),
                            "portalIP": spec.get("clusterIP") if spec.get("clusterIP") not in (None, "None") else ""})
    elif kind == "Endpoints":
        subsets = []
        for i, s in enumerate(_l(body.get("subsets"), "subsets")):
            s = _d(s, f"subsets[{i}]")
            subsets.append({"addresses": [{"ip": _d(a, "address").get("ip") or ""} for a in _l(s.get("addresses"), "")],
                            "ports": [{k: v for k, v in _d(p, "port").items() if k in ("port", "name", "protocol")}
                                      for p in _l(s.get("ports"), "")]})
        obj["subsets"] = subsets
    return obj
