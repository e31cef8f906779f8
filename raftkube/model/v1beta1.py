"""Conversion between the v1beta1 wire JSON (2014, ``pkg/api/v1beta1``) and internal objects.

``from_wire`` normalizes: every field of the internal shape (``model/objects.py``) is present, with its
default, except the optional container structs ``livenessProbe`` and ``lifecycle``. Unknown wire fields
are ignored; wrong JSON types raise ``Invalid`` whose causes carry the WIRE path of the bad field.
``to_wire`` emits the 2014 shape: ``omitempty`` fields are dropped when empty, unset timestamps are
``null``, ``resourceVersion`` is a JSON number omitted when 0.

Choices not dictated by 2014 (the internal model holds more than v1beta1 had; these keep
``from_wire(to_wire(obj)) == obj``):

* Volumes: wire ``source.hostDir|emptyDir|persistentDisk|gitRepo`` <-> internal
  ``hostPath|emptyDir|gcePersistentDisk|gitRepo`` next to ``name``; a missing source means ``emptyDir``.
* Pods: ``desiredState.serviceEnv`` carries ``spec.serviceEnv`` (omitted when empty);
  ``currentState.reason`` carries ``status.reason``; each ``currentState.info`` entry carries ``ready``
  (defaulting to "the container is running"). ``info["net"]`` is emitted when there is a pod IP and is
  skipped on input (its ``podIP`` is the fallback for ``currentState.podIP``).
* Minions: ``status: {conditions: [...], kubeletPort, serviceHost}`` carries the node status beyond ``hostIP`` and
  ``resources.capacity``; ``unschedulable: true`` is emitted when set. Nodes have no namespace.
* A pod template's ``manifest.id`` is emitted as the controller's id (it was free text in 2014).
* Phases: Pending->Waiting, Running->Running, Succeeded/Failed->Terminated; back: Waiting->Pending,
  Terminated->Failed (the internal names are accepted on input too).
"""

from __future__ import annotations

import copy
from typing import Any

from raftkube.model.errors import BadRequest, FieldErrors
from raftkube.model.objects import DEFAULT_NAMESPACE, RESOURCES_BY_KIND, Resource
from raftkube.model.validation import invalid_error

API_VERSION = "v1beta1"
API_PREFIX = "/api/v1beta1"
NET_CONTAINER = "net"
NET_IMAGE = "kubernetes/pause:latest"

PHASE_TO_WIRE = {"Pending": "Waiting", "Running": "Running", "Succeeded": "Terminated", "Failed": "Terminated"}
WIRE_TO_PHASE = {"Waiting": "Pending", "Running": "Running", "Terminated": "Failed",
                 # internal names, accepted from lenient clients
                 "Pending": "Pending", "Succeeded": "Succeeded", "Failed": "Failed"}

PULL_TO_WIRE = {"Always": "PullAlways", "Never": "PullNever", "IfNotPresent": "PullIfNotPresent"}
PULL_FROM_WIRE = {v: k for k, v in PULL_TO_WIRE.items()}

RESTART_FROM_WIRE = {"always": "Always", "onFailure": "OnFailure", "never": "Never"}
RESTART_TO_WIRE = {v: k for k, v in RESTART_FROM_WIRE.items()}

VOLUME_FROM_WIRE = {"hostDir": "hostPath", "emptyDir": "emptyDir", "persistentDisk": "gcePersistentDisk",
                    "gitRepo": "gitRepo"}
VOLUME_TO_WIRE = {v: k for k, v in VOLUME_FROM_WIRE.items()}

MANIFEST_VERSIONS = ("v1beta1", "v1beta2")


def phase_to_wire(phase: str) -> str:
    """Internal pod phase -> v1beta1 status (``Waiting``/``Running``/``Terminated``)."""
    return PHASE_TO_WIRE.get(phase or "Pending", "Waiting")


def phase_from_wire(status: str) -> str:
    """v1beta1 status -> internal phase; empty is ``Pending``, unknown values are returned unchanged."""
    return WIRE_TO_PHASE.get(status or "Waiting", status)


# --- typed reading of wire JSON ---------------------------------------------------------------------

def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Reader:
    """Typed access to wire dicts; a wrong type is recorded under its wire path and read as the default."""

    def __init__(self) -> None:
        self.errs = FieldErrors()

    def _bad(self, path: str, value: Any, want: str) -> None:
        self.errs.invalid(path, value, f"must be {want}")

    def as_dict(self, value: Any, path: str) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self._bad(path, value, "an object")
            return {}
        return value

    def dict_(self, d: dict, key: str, path: str) -> dict:
        return self.as_dict(d.get(key), _join(path, key))

    def has(self, d: dict, key: str) -> bool:
        return d.get(key) is not None

    def list_(self, d: dict, key: str, path: str) -> list:
        v = d.get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            self._bad(_join(path, key), v, "a list")
            return []
        return v

    def str_(self, d: dict, key: str, path: str, default: str = "") -> str:
        v = d.get(key)
        if v is None:
            return default
        if not isinstance(v, str):
            self._bad(_join(path, key), v, "a string")
            return default
        return v

    def ts(self, d: dict, key: str, path: str) -> str:
        """An RFC 3339 timestamp; ``null`` reads as ``""``."""
        return self.str_(d, key, path)

    def int_(self, d: dict, key: str, path: str, default: int = 0) -> int:
        v = d.get(key)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, int):
            self._bad(_join(path, key), v, "an integer")
            return default
        return v

    def bool_(self, d: dict, key: str, path: str) -> bool:
        v = d.get(key)
        if v is None:
            return False
        if not isinstance(v, bool):
            self._bad(_join(path, key), v, "a boolean")
            return False
        return v

    def int_or_str(self, d: dict, key: str, path: str) -> int | str:
        v = d.get(key)
        if v is None:
            return 0
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            self._bad(_join(path, key), v, "an integer or a string")
            return 0
        return v

    def str_map(self, d: dict, key: str, path: str) -> dict[str, str]:
        m = self.dict_(d, key, path)
        out = {}
        for k, v in m.items():
            if not isinstance(v, str):
                self._bad(_join(path, key), v, "a map of strings")
                continue
            out[k] = v
        return out

    def str_list(self, d: dict, key: str, path: str) -> list[str]:
        out = []
        for i, v in enumerate(self.list_(d, key, path)):
            if not isinstance(v, str):
                self._bad(f"{_join(path, key)}[{i}]", v, "a string")
                continue
            out.append(v)
        return out

    def items(self, d: dict, key: str, path: str):
        """``(item_dict, item_path)`` for each entry of a list of objects."""
        base = _join(path, key)
        for i, v in enumerate(self.list_(d, key, path)):
            p = f"{base}[{i}]"
            yield self.as_dict(v, p), p


def _ts_out(s: str | None) -> str | None:
    return s or None


# --- metadata -------------------------------------------------------------------------------------

def _resource_version(r: _Reader, body: dict) -> int:
    v = body.get("resourceVersion")
    if v is None or v == "":
        return 0
    if isinstance(v, str) and v.isdigit():
        return int(v)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        r.errs.invalid("resourceVersion", v, "must be a non-negative integer")
        return 0
    return v


def _meta_from_wire(r: _Reader, body: dict, res: Resource, namespace: str) -> dict:
    md = {
        "name": r.str_(body, "id", ""),
        "uid": r.str_(body, "uid", ""),
        "creationTimestamp": r.ts(body, "creationTimestamp", ""),
        "resourceVersion": _resource_version(r, body),
        "labels": r.str_map(body, "labels", ""),
        "annotations": r.str_map(body, "annotations", ""),
    }
    if res.namespaced:
        md["namespace"] = r.str_(body, "namespace", "") or namespace or DEFAULT_NAMESPACE
    return md


def self_link(res: Resource, name: str, namespace: str) -> str:
    link = f"{API_PREFIX}/{res.plural}/{name}"
    if res.namespaced and namespace and namespace != DEFAULT_NAMESPACE:
        link += f"?namespace={namespace}"
    return link


def _meta_to_wire(obj: dict, res: Resource) -> dict:
    md = obj.get("metadata") or {}
    name = md.get("name") or ""
    ns = (md.get("namespace") or DEFAULT_NAMESPACE) if res.namespaced else ""
    out: dict[str, Any] = {"kind": res.wire_kind, "apiVersion": API_VERSION, "id": name}
    if md.get("uid"):
        out["uid"] = md["uid"]
    out["creationTimestamp"] = _ts_out(md.get("creationTimestamp"))
    out["selfLink"] = self_link(res, name, ns)
    rv = int(md.get("resourceVersion") or 0)
    if rv:
        out["resourceVersion"] = rv
    if ns:
        out["namespace"] = ns
    if md.get("labels"):
        out["labels"] = dict(md["labels"])
    if md.get("annotations"):
        out["annotations"] = dict(md["annotations"])
    return out


# --- containers and manifests ---------------------------------------------------------------------

def _handler_from_wire(r: _Reader, h: dict, p: str) -> dict:
    """The action part of a probe or lifecycle handler: httpGet / tcpSocket / exec."""
    out: dict[str, Any] = {}
    if r.has(h, "httpGet"):
        g = r.dict_(h, "httpGet", p)
        gp = _join(p, "httpGet")
        out["httpGet"] = {"path": r.str_(g, "path", gp), "port": r.int_or_str(g, "port", gp),
                          "host": r.str_(g, "host", gp)}
    if r.has(h, "tcpSocket"):
        t = r.dict_(h, "tcpSocket", p)
        out["tcpSocket"] = {"port": r.int_or_str(t, "port", _join(p, "tcpSocket"))}
    if r.has(h, "exec"):
        e = r.dict_(h, "exec", p)
        out["exec"] = {"command": r.str_list(e, "command", _join(p, "exec"))}
    return out


def _container_from_wire(r: _Reader, c: dict, p: str) -> dict:
    ports = [{"name": r.str_(x, "name", xp), "hostPort": r.int_(x, "hostPort", xp),
              "containerPort": r.int_(x, "containerPort", xp),
              "protocol": r.str_(x, "protocol", xp) or "TCP", "hostIP": r.str_(x, "hostIP", xp)}
             for x, xp in r.items(c, "ports", p)]
    env = [{"name": r.str_(x, "name", xp) or r.str_(x, "key", xp), "value": r.str_(x, "value", xp)}
           for x, xp in r.items(c, "env", p)]
    mounts = [{"name": r.str_(x, "name", xp), "mountPath": r.str_(x, "mountPath", xp) or r.str_(x, "path", xp),
               "readOnly": r.bool_(x, "readOnly", xp)}
              for x, xp in r.items(c, "volumeMounts", p)]
    pull = r.str_(c, "imagePullPolicy", p)
    out: dict[str, Any] = {
        "name": r.str_(c, "name", p),
        "image": r.str_(c, "image", p),
        "command": r.str_list(c, "command", p),
        "workingDir": r.str_(c, "workingDir", p),
        "ports": ports,
        "env": env,
        "resources": {"limits": {"cpu": r.int_(c, "cpu", p), "memory": r.int_(c, "memory", p)}},
        "volumeMounts": mounts,
        "terminationMessagePath": r.str_(c, "terminationMessagePath", p),
        "privileged": r.bool_(c, "privileged", p),
        # unknown values pass through so that validation reports them with the other errors
        "imagePullPolicy": PULL_FROM_WIRE.get(pull, pull),
    }
    if r.has(c, "livenessProbe"):
        lp = _join(p, "livenessProbe")
        probe = r.dict_(c, "livenessProbe", p)
        out["livenessProbe"] = {**_handler_from_wire(r, probe, lp),
                                "initialDelaySeconds": r.int_(probe, "initialDelaySeconds", lp)}
    if r.has(c, "lifecycle"):
        lp = _join(p, "lifecycle")
        lc = r.dict_(c, "lifecycle", p)
        out["lifecycle"] = {k: _handler_from_wire(r, r.dict_(lc, k, lp), _join(lp, k))
                            for k in ("postStart", "preStop") if r.has(lc, k)}
    return out


def _container_to_wire(c: dict) -> dict:
    w: dict[str, Any] = {"name": c.get("name") or "", "image": c.get("image") or ""}
    if c.get("command"):
        w["command"] = list(c["command"])
    if c.get("workingDir"):
        w["workingDir"] = c["workingDir"]
    if c.get("ports"):
        w["ports"] = [_port_to_wire(p) for p in c["ports"]]
    if c.get("env"):
        w["env"] = [{"name": e.get("name") or "", **({"value": e["value"]} if e.get("value") else {})}
                    for e in c["env"]]
    limits = (c.get("resources") or {}).get("limits") or {}
    if limits.get("memory"):
        w["memory"] = limits["memory"]
    if limits.get("cpu"):
        w["cpu"] = limits["cpu"]
    if c.get("volumeMounts"):
        w["volumeMounts"] = [{"name": m.get("name") or "",
                              **({"readOnly": True} if m.get("readOnly") else {}),
                              **({"mountPath": m["mountPath"]} if m.get("mountPath") else {})}
                             for m in c["volumeMounts"]]
    if c.get("livenessProbe") is not None:
        w["livenessProbe"] = copy.deepcopy(c["livenessProbe"])
    if c.get("lifecycle") is not None:
        w["lifecycle"] = copy.deepcopy(c["lifecycle"])
    if c.get("terminationMessagePath"):
        w["terminationMessagePath"] = c["terminationMessagePath"]
    if c.get("privileged"):
        w["privileged"] = True
    pull = c.get("imagePullPolicy") or ""
    w["imagePullPolicy"] = PULL_TO_WIRE.get(pull, pull)
    return w


def _port_to_wire(p: dict) -> dict:
    w: dict[str, Any] = {}
    if p.get("name"):
        w["name"] = p["name"]
    if p.get("hostPort"):
        w["hostPort"] = p["hostPort"]
    w["containerPort"] = p.get("containerPort") or 0
    if p.get("protocol"):
        w["protocol"] = p["protocol"]
    if p.get("hostIP"):
        w["hostIP"] = p["hostIP"]
    return w


def _volume_from_wire(r: _Reader, v: dict, p: str) -> dict:
    out: dict[str, Any] = {"name": r.str_(v, "name", p)}
    src = r.dict_(v, "source", p)
    sp = _join(p, "source")
    if r.has(src, "hostDir"):
        h = r.dict_(src, "hostDir", sp)
        out["hostPath"] = {"path": r.str_(h, "path", _join(sp, "hostDir"))}
    elif r.has(src, "persistentDisk"):
        d, dp = r.dict_(src, "persistentDisk", sp), _join(sp, "persistentDisk")
        out["gcePersistentDisk"] = {"pdName": r.str_(d, "pdName", dp), "fsType": r.str_(d, "fsType", dp),
                                    "partition": r.int_(d, "partition", dp), "readOnly": r.bool_(d, "readOnly", dp)}
    elif r.has(src, "gitRepo"):
        g, gp = r.dict_(src, "gitRepo", sp), _join(sp, "gitRepo")
        out["gitRepo"] = {"repository": r.str_(g, "repository", gp), "revision": r.str_(g, "revision", gp)}
    else:  # emptyDir, or no source at all (2014 treated a missing source as an empty dir)
        r.dict_(src, "emptyDir", sp)
        out["emptyDir"] = {}
    return out


def _volume_to_wire(v: dict) -> dict:
    source = {VOLUME_TO_WIRE[k]: copy.deepcopy(val) for k, val in v.items() if k in VOLUME_TO_WIRE}
    return {"name": v.get("name") or "", "source": source or None}


def _restart_policy_from_wire(r: _Reader, m: dict, p: str) -> str:
    rp = r.dict_(m, "restartPolicy", p)
    chosen = [k for k in RESTART_FROM_WIRE if rp.get(k) is not None]
    if len(chosen) > 1:
        r.errs.invalid(_join(p, "restartPolicy"), ",".join(chosen), "only one restart policy may be set")
    return RESTART_FROM_WIRE[chosen[0]] if chosen else "Always"


def _manifest_from_wire(r: _Reader, m: dict, p: str) -> dict:
    """A ContainerManifest -> the pod spec's containers, volumes and restartPolicy."""
    version = r.str_(m, "version", p)
    if not version:
        r.errs.required(_join(p, "version"))
    elif version.lower() not in MANIFEST_VERSIONS:
        r.errs.unsupported(_join(p, "version"), version)
    return {
        "containers": [_container_from_wire(r, c, cp) for c, cp in r.items(m, "containers", p)],
        "volumes": [_volume_from_wire(r, v, vp) for v, vp in r.items(m, "volumes", p)],
        "restartPolicy": _restart_policy_from_wire(r, m, p),
    }


def _manifest_to_wire(spec: dict, manifest_id: str, uuid: str = "") -> dict:
    w: dict[str, Any] = {"version": API_VERSION, "id": manifest_id}
    if uuid:
        w["uuid"] = uuid
    w["volumes"] = [_volume_to_wire(v) for v in spec.get("volumes") or ()]
    w["containers"] = [_container_to_wire(c) for c in spec.get("containers") or ()]
    policy = spec.get("restartPolicy") or "Always"
    w["restartPolicy"] = {RESTART_TO_WIRE.get(policy, "always"): {}}
    return w


def _env_from_wire(r: _Reader, d: dict, key: str, p: str) -> list[dict]:
    return [{"name": r.str_(x, "name", xp), "value": r.str_(x, "value", xp)} for x, xp in r.items(d, key, p)]


# --- pods -------------------------------------------------------------------------------------------

def _state_from_wire(r: _Reader, st: dict, p: str) -> dict:
    if r.has(st, "running"):
        run = r.dict_(st, "running", p)
        return {"running": {"startedAt": r.ts(run, "startedAt", _join(p, "running"))}}
    for key in ("termination", "terminated"):
        if r.has(st, key):
            t, tp = r.dict_(st, key, p), _join(p, key)
            return {"terminated": {"exitCode": r.int_(t, "exitCode", tp), "signal": r.int_(t, "signal", tp),
                                   "reason": r.str_(t, "reason", tp), "message": r.str_(t, "message", tp),
                                   "startedAt": r.ts(t, "startedAt", tp), "finishedAt": r.ts(t, "finishedAt", tp)}}
    w = r.dict_(st, "waiting", p)
    wp = _join(p, "waiting")
    return {"waiting": {"reason": r.str_(w, "reason", wp), "message": r.str_(w, "message", wp)}}


def _state_to_wire(state: dict) -> dict:
    if "running" in state:
        return {"running": {"startedAt": _ts_out((state["running"] or {}).get("startedAt"))}}
    if "terminated" in state:
        t = state["terminated"] or {}
        return {"termination": {"exitCode": t.get("exitCode") or 0, "signal": t.get("signal") or 0,
                                "reason": t.get("reason") or "", "message": t.get("message") or "",
                                "startedAt": _ts_out(t.get("startedAt")),
                                "finishedAt": _ts_out(t.get("finishedAt"))}}
    w = state.get("waiting") or {}
    return {"waiting": {"reason": w.get("reason") or "", **({"message": w["message"]} if w.get("message") else {})}}


def _pod_status_from_wire(r: _Reader, cs: dict, p: str) -> dict:
    status = r.str_(cs, "status", p)
    phase = phase_from_wire(status)
    if phase not in PHASE_TO_WIRE:
        r.errs.unsupported(_join(p, "status"), status)
        phase = "Pending"
    net_ip = ""
    statuses = []
    info_p = _join(p, "info")
    for name, ci in r.dict_(cs, "info", p).items():
        ip = f"{info_p}.{name}"
        ci = r.as_dict(ci, ip)
        if name == NET_CONTAINER:
            net_ip = r.str_(ci, "podIP", ip)
            continue
        state = _state_from_wire(r, r.dict_(ci, "state", ip), _join(ip, "state"))
        ready = r.bool_(ci, "ready", ip) if r.has(ci, "ready") else "running" in state
        statuses.append({"name": name, "image": r.str_(ci, "image", ip),
                         "restartCount": r.int_(ci, "restartCount", ip), "ready": ready, "state": state})
    return {"phase": phase, "hostIP": r.str_(cs, "hostIP", p), "podIP": r.str_(cs, "podIP", p) or net_ip,
            "message": r.str_(cs, "message", p), "reason": r.str_(cs, "reason", p),
            "containerStatuses": statuses}


def pod_status_from_wire(body: dict) -> dict:
    """The internal pod ``status`` from a wire pod's ``currentState`` (the kubelet's status PUT)."""
    if not isinstance(body, dict):
        raise BadRequest("the body of a pod must be a JSON object")
    r = _Reader()
    status = _pod_status_from_wire(r, r.dict_(body, "currentState", ""), "currentState")
    if r.errs:
        raise invalid_error("Pod", body.get("id") if isinstance(body.get("id"), str) else "", r.errs.causes)
    return status


def _pod_status_to_wire(status: dict, node: str) -> dict:
    w: dict[str, Any] = {"status": phase_to_wire(status.get("phase") or "Pending")}
    if node:
        w["host"] = node
    for key in ("hostIP", "podIP", "message", "reason"):
        if status.get(key):
            w[key] = status[key]
    info: dict[str, Any] = {}
    for cs in status.get("containerStatuses") or ():
        info[cs.get("name") or ""] = {"state": _state_to_wire(cs.get("state") or {}),
                                      "restartCount": cs.get("restartCount") or 0,
                                      "image": cs.get("image") or "", "ready": bool(cs.get("ready"))}
    if status.get("podIP"):
        info[NET_CONTAINER] = {"state": {"running": {"startedAt": None}}, "restartCount": 0,
                               "podIP": status["podIP"], "image": NET_IMAGE}
    if info:
        w["info"] = info
    return w


def _pod_from_wire(r: _Reader, body: dict) -> dict:
    ds = r.dict_(body, "desiredState", "")
    manifest = r.dict_(ds, "manifest", "desiredState")
    spec = _manifest_from_wire(r, manifest, "desiredState.manifest")
    spec["nodeName"] = r.str_(ds, "host", "desiredState")
    spec["nodeSelector"] = r.str_map(body, "nodeSelector", "")
    spec["serviceEnv"] = _env_from_wire(r, ds, "serviceEnv", "desiredState")
    return {"spec": spec,
            "status": _pod_status_from_wire(r, r.dict_(body, "currentState", ""), "currentState"),
            "_uuid": r.str_(manifest, "uuid", "desiredState.manifest")}


def _pod_to_wire(obj: dict) -> dict:
    md, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    node = spec.get("nodeName") or ""
    ds: dict[str, Any] = {"manifest": _manifest_to_wire(spec, md.get("name") or "", md.get("uid") or "")}
    if node:
        ds["host"] = node
    ds["status"] = "Running"
    if spec.get("serviceEnv"):
        ds["serviceEnv"] = [{"name": e.get("name") or "", "value": e.get("value") or ""}
                            for e in spec["serviceEnv"]]
    w: dict[str, Any] = {"desiredState": ds, "currentState": _pod_status_to_wire(status, node)}
    if spec.get("nodeSelector"):
        w["nodeSelector"] = dict(spec["nodeSelector"])
    return w


# --- replication controllers ----------------------------------------------------------------------

def _rc_from_wire(r: _Reader, body: dict) -> dict:
    ds = r.dict_(body, "desiredState", "")
    tpl = r.dict_(ds, "podTemplate", "desiredState")
    tp = "desiredState.podTemplate"
    tds = r.dict_(tpl, "desiredState", tp)
    tspec = _manifest_from_wire(r, r.dict_(tds, "manifest", f"{tp}.desiredState"), f"{tp}.desiredState.manifest")
    tspec["nodeSelector"] = r.str_map(tpl, "nodeSelector", tp)
    cs = r.dict_(body, "currentState", "")
    return {
        "spec": {"replicas": r.int_(ds, "replicas", "desiredState"),
                 "selector": r.str_map(ds, "replicaSelector", "desiredState"),
                 "template": {"metadata": {"labels": r.str_map(tpl, "labels", tp),
                                           "annotations": r.str_map(tpl, "annotations", tp)},
                              "spec": tspec}},
        "status": {"replicas": r.int_(cs, "replicas", "currentState")},
    }


def _rc_to_wire(obj: dict) -> dict:
    md, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    template = spec.get("template") or {}
    tmd, tspec = template.get("metadata") or {}, template.get("spec") or {}
    tpl: dict[str, Any] = {"desiredState": {"manifest": _manifest_to_wire(tspec, md.get("name") or "")},
                           "labels": dict(tmd.get("labels") or {})}
    if tmd.get("annotations"):
        tpl["annotations"] = dict(tmd["annotations"])
    if tspec.get("nodeSelector"):
        tpl["nodeSelector"] = dict(tspec["nodeSelector"])
    return {
        "desiredState": {"replicas": spec.get("replicas") or 0,
                         "replicaSelector": dict(spec.get("selector") or {}),
                         "podTemplate": tpl},
        "currentState": {"replicas": status.get("replicas") or 0,
                         "podTemplate": {"desiredState": {"manifest": {"version": "", "id": ""}}}},
    }


# --- services, endpoints ----------------------------------------------------------------------------

def _service_from_wire(r: _Reader, body: dict) -> dict:
    return {"spec": {
        "port": r.int_(body, "port", ""),
        "containerPort": r.int_or_str(body, "containerPort", ""),
        "selector": r.str_map(body, "selector", ""),
        "protocol": r.str_(body, "protocol", "") or "TCP",
        "createExternalLoadBalancer": r.bool_(body, "createExternalLoadBalancer", ""),
        "publicIPs": r.str_list(body, "publicIPs", ""),
        "portalIP": r.str_(body, "portalIP", ""),
    }}


def _service_to_wire(obj: dict) -> dict:
    spec = obj.get("spec") or {}
    w: dict[str, Any] = {"port": spec.get("port") or 0}
    if spec.get("protocol"):
        w["protocol"] = spec["protocol"]
    w["selector"] = dict(spec.get("selector") or {})
    if spec.get("createExternalLoadBalancer"):
        w["createExternalLoadBalancer"] = True
    if spec.get("publicIPs"):
        w["publicIPs"] = list(spec["publicIPs"])
    cport = spec.get("containerPort")
    w["containerPort"] = cport if isinstance(cport, (int, str)) and not isinstance(cport, bool) else 0
    if spec.get("portalIP"):
        w["portalIP"] = spec["portalIP"]
    return w


def _endpoints_from_wire(r: _Reader, body: dict) -> dict:
    out = []
    for i, s in enumerate(r.list_(body, "endpoints", "")):
        path = f"endpoints[{i}]"
        if not isinstance(s, str):
            r.errs.invalid(path, s, "must be a string 'ip:port'")
            continue
        host, sep, port = s.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not sep or not port.isdigit():
            r.errs.invalid(path, s, "must be 'ip:port'")
            continue
        out.append({"ip": host, "port": int(port)})
    return {"endpoints": out}


def _endpoints_to_wire(obj: dict) -> dict:
    def one(e: dict) -> str:
        ip = e.get("ip") or ""
        return f"[{ip}]:{e.get('port') or 0}" if ":" in ip else f"{ip}:{e.get('port') or 0}"
    return {"endpoints": [one(e) for e in obj.get("endpoints") or ()]}


# --- minions -----------------------------------------------------------------------------------------

def _node_from_wire(r: _Reader, body: dict) -> dict:
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
    if r.str_(st, "serviceHost", "status"):  # only when set: from_wire(to_wire(obj)) == obj
        node["status"]["serviceHost"] = r.str_(st, "serviceHost", "status")
    return node


def _node_to_wire(obj: dict) -> dict:
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
         "lastHeartbeatTime": _ts_out(c.get("lastHeartbeatTime")),
         "lastTransitionTime": _ts_out(c.get("lastTransitionTime"))}
        for c in status.get("conditions") or ()]}
    if status.get("kubeletPort"):
        st["kubeletPort"] = status["kubeletPort"]
    if status.get("serviceHost"):
        st["serviceHost"] = status["serviceHost"]
    w["status"] = st
    return w


# --- events --------------------------------------------------------------------------------------------

INVOLVED_FIELDS = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")


def _event_from_wire(r: _Reader, body: dict) -> dict:
    io = r.dict_(body, "involvedObject", "")
    involved = {}
    for f in INVOLVED_FIELDS:
        v = io.get(f)
        if f == "resourceVersion" and isinstance(v, int) and not isinstance(v, bool):
            v = str(v)  # an ObjectReference's resourceVersion is a string; accept a number too
            involved[f] = v
        else:
            involved[f] = r.str_(io, f, "involvedObject")
    return {"involvedObject": involved,
            **{f: r.str_(body, f, "") for f in ("status", "reason", "message", "source")},
            "timestamp": r.ts(body, "timestamp", "")}


def _event_to_wire(obj: dict) -> dict:
    io = obj.get("involvedObject") or {}
    w: dict[str, Any] = {"involvedObject": {f: io[f] for f in INVOLVED_FIELDS if io.get(f)}}
    for f in ("status", "reason", "message", "source"):
        if obj.get(f):
            w[f] = obj[f]
    w["timestamp"] = _ts_out(obj.get("timestamp"))
    return w


# --- entry points ----------------------------------------------------------------------------------

_FROM_WIRE = {"Pod": _pod_from_wire, "ReplicationController": _rc_from_wire, "Service": _service_from_wire,
              "Endpoints": _endpoints_from_wire, "Node": _node_from_wire, "Event": _event_from_wire}
_TO_WIRE = {"Pod": _pod_to_wire, "ReplicationController": _rc_to_wire, "Service": _service_to_wire,
            "Endpoints": _endpoints_to_wire, "Node": _node_to_wire, "Event": _event_to_wire}


def _resource(kind: str) -> Resource:
    res = RESOURCES_BY_KIND.get(kind)
    if res is None:
        raise ValueError(f"no v1beta1 conversion for kind {kind!r}")
    return res


def check_type_meta(res: Resource, body: dict) -> None:
    """``kind`` and ``apiVersion`` may be absent; when present they must match the resource and v1beta1."""
    kind = body.get("kind")
    if kind not in (None, "") and kind not in (res.wire_kind, res.kind):
        raise BadRequest(f"data of kind '{kind}', obj of type '{res.wire_kind}'")
    version = body.get("apiVersion")
    if version not in (None, "") and version != API_VERSION:
        raise BadRequest(f"unsupported apiVersion '{version}': this server speaks {API_VERSION}")


def from_wire(kind: str, body: dict, *, namespace: str = DEFAULT_NAMESPACE) -> dict:
    """A v1beta1 wire body -> the normalized internal object of internal ``kind`` (implied by the URL).

    ``namespace`` applies when the body carries none. Raises ``BadRequest`` for a body that is not an
    object or whose kind/apiVersion do not match, ``Invalid`` (wire paths) for wrongly typed fields.
    """
    res = _resource(kind)
    if not isinstance(body, dict):
        raise BadRequest(f"the body of a {res.singular} must be a JSON object")
    check_type_meta(res, body)
    r = _Reader()
    md = _meta_from_wire(r, body, res, namespace)
    rest = _FROM_WIRE[kind](r, body)
    uuid = rest.pop("_uuid", "")
    if not md["uid"]:
        md["uid"] = uuid  # [K04] a pod's identity was desiredState.manifest.uuid
    if r.errs:
        raise invalid_error(kind, md["name"], r.errs.causes)
    return {"kind": kind, "metadata": md, **rest}


def to_wire(obj: dict) -> dict:
    """An internal object -> its v1beta1 wire dict (a fresh dict sharing nothing with ``obj``)."""
    res = _resource(obj.get("kind", ""))
    out = _meta_to_wire(obj, res)
    out.update(_TO_WIRE[res.kind](obj))
    return out


def list_to_wire(kind: str, items: list[dict], revision: int, self_link: str) -> dict:
    """A list of internal objects of ``kind`` -> ``PodList`` etc; MinionList also carries ``minions``."""
    res = _resource(kind)
    out: dict[str, Any] = {"kind": f"{res.wire_kind}List", "apiVersion": API_VERSION, "selfLink": self_link}
    if revision:
        out["resourceVersion"] = int(revision)
    wire_items = [to_wire(i) for i in items]
    if kind == "Node":
        out["minions"] = wire_items
        out["items"] = copy.deepcopy(wire_items)
    else:
        out["items"] = wire_items
    return out


def list_from_wire(kind: str, body: dict) -> tuple[list[dict], int]:
    """A wire list -> (internal items, list resourceVersion); MinionList falls back to ``minions``."""
    res = _resource(kind)
    if not isinstance(body, dict):
        raise BadRequest(f"a {res.wire_kind}List must be a JSON object")
    list_kind = body.get("kind")
    if list_kind not in (None, "") and list_kind != f"{res.wire_kind}List":
        raise BadRequest(f"data of kind '{list_kind}', obj of type '{res.wire_kind}List'")
    raw = body.get("items")
    if raw is None and kind == "Node":
        raw = body.get("minions")
    if raw is not None and not isinstance(raw, list):
        raise BadRequest("items must be a list")
    items = [from_wire(kind, item, namespace=(item.get("namespace") if isinstance(item, dict) else None)
                       or DEFAULT_NAMESPACE) for item in raw or ()]
    r = _Reader()
    rv = _resource_version(r, body)
    if r.errs:
        raise BadRequest(r.errs.causes[0].message)
    return items, rv
