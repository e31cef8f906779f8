"""v1beta1 container manifests (``desiredState.manifest`` of a pod, of a controller's pod template) <->
internal pod specs: containers, volumes, restart policy.

* Volumes: wire ``source.hostDir|emptyDir|persistentDisk|gitRepo`` <-> internal
  ``hostPath|emptyDir|gcePersistentDisk|gitRepo`` next to ``name``; a missing source means ``emptyDir``.
* Pull policies ``PullAlways|PullNever|PullIfNotPresent`` <-> ``Always|Never|IfNotPresent``; restart
  policies ``{always: {}}`` etc. <-> ``Always|OnFailure|Never``.
* Container ``cpu``/``memory`` <-> ``resources.limits``.
"""

from __future__ import annotations

import copy
from typing import Any

from raftkube.apis.v1beta1.reader import Reader, join
from raftkube.apis.v1beta1.resources import API_VERSION

PULL_TO_WIRE = {"Always": "PullAlways", "Never": "PullNever", "IfNotPresent": "PullIfNotPresent"}
PULL_FROM_WIRE = {v: k for k, v in PULL_TO_WIRE.items()}

RESTART_FROM_WIRE = {"always": "Always", "onFailure": "OnFailure", "never": "Never"}
RESTART_TO_WIRE = {v: k for k, v in RESTART_FROM_WIRE.items()}

VOLUME_FROM_WIRE = {"hostDir": "hostPath", "emptyDir": "emptyDir", "persistentDisk": "gcePersistentDisk",
                    "gitRepo": "gitRepo"}
VOLUME_TO_WIRE = {v: k for k, v in VOLUME_FROM_WIRE.items()}

MANIFEST_VERSIONS = ("v1beta1", "v1beta2")


def _handler_from_wire(r: Reader, h: dict, p: str) -> dict:
    """The action part of a probe or lifecycle handler: httpGet / tcpSocket / exec."""
    out: dict[str, Any] = {}
    if r.has(h, "httpGet"):
        g = r.dict_(h, "httpGet", p)
        gp = join(p, "httpGet")
        out["httpGet"] = {"path": r.str_(g, "path", gp), "port": r.int_or_str(g, "port", gp),
                          "host": r.str_(g, "host", gp)}
    if r.has(h, "tcpSocket"):
        t = r.dict_(h, "tcpSocket", p)
        out["tcpSocket"] = {"port": r.int_or_str(t, "port", join(p, "tcpSocket"))}
    if r.has(h, "exec"):
        e = r.dict_(h, "exec", p)
        out["exec"] = {"command": r.str_list(e, "command", join(p, "exec"))}
    return out


def _container_from_wire(r: Reader, c: dict, p: str) -> dict:
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
        lp = join(p, "livenessProbe")
        probe = r.dict_(c, "livenessProbe", p)
        out["livenessProbe"] = {**_handler_from_wire(r, probe, lp),
                                "initialDelaySeconds": r.int_(probe, "initialDelaySeconds", lp)}
    if r.has(c, "lifecycle"):
        lp = join(p, "lifecycle")
        lc = r.dict_(c, "lifecycle", p)
        out["lifecycle"] = {k: _handler_from_wire(r, r.dict_(lc, k, lp), join(lp, k))
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


def _volume_from_wire(r: Reader, v: dict, p: str) -> dict:
    out: dict[str, Any] = {"name": r.str_(v, "name", p)}
    src = r.dict_(v, "source", p)
    sp = join(p, "source")
    if r.has(src, "hostDir"):
        h = r.dict_(src, "hostDir", sp)
        out["hostPath"] = {"path": r.str_(h, "path", join(sp, "hostDir"))}
    elif r.has(src, "persistentDisk"):
        d, dp = r.dict_(src, "persistentDisk", sp), join(sp, "persistentDisk")
        out["gcePersistentDisk"] = {"pdName": r.str_(d, "pdName", dp), "fsType": r.str_(d, "fsType", dp),
                                    "partition": r.int_(d, "partition", dp), "readOnly": r.bool_(d, "readOnly", dp)}
    elif r.has(src, "gitRepo"):
        g, gp = r.dict_(src, "gitRepo", sp), join(sp, "gitRepo")
        out["gitRepo"] = {"repository": r.str_(g, "repository", gp), "revision": r.str_(g, "revision", gp)}
    else:  # emptyDir, or no source at all (2014 treated a missing source as an empty dir)
        r.dict_(src, "emptyDir", sp)
        out["emptyDir"] = {}
    return out


def _volume_to_wire(v: dict) -> dict:
    source = {VOLUME_TO_WIRE[k]: copy.deepcopy(val) for k, val in v.items() if k in VOLUME_TO_WIRE}
    return {"name": v.get("name") or "", "source": source or None}


def _restart_policy_from_wire(r: Reader, m: dict, p: str) -> str:
    rp = r.dict_(m, "restartPolicy", p)
    chosen = [k for k in RESTART_FROM_WIRE if rp.get(k) is not None]
    if len(chosen) > 1:
        r.errs.invalid(join(p, "restartPolicy"), ",".join(chosen), "only one restart policy may be set")
    return RESTART_FROM_WIRE[chosen[0]] if chosen else "Always"


def manifest_from_wire(r: Reader, m: dict, p: str) -> dict:
    """A ContainerManifest -> the pod spec's containers, volumes and restartPolicy."""
    version = r.str_(m, "version", p)
    if not version:
        r.errs.required(join(p, "version"))
    elif version.lower() not in MANIFEST_VERSIONS:
        r.errs.unsupported(join(p, "version"), version)
    return {
        "containers": [_container_from_wire(r, c, cp) for c, cp in r.items(m, "containers", p)],
        "volumes": [_volume_from_wire(r, v, vp) for v, vp in r.items(m, "volumes", p)],
        "restartPolicy": _restart_policy_from_wire(r, m, p),
    }


def manifest_to_wire(spec: dict, manifest_id: str, uuid: str = "") -> dict:
    w: dict[str, Any] = {"version": API_VERSION, "id": manifest_id}
    if uuid:
        w["uuid"] = uuid
    w["volumes"] = [_volume_to_wire(v) for v in spec.get("volumes") or ()]
    w["containers"] = [_container_to_wire(c) for c in spec.get("containers") or ()]
    policy = spec.get("restartPolicy") or "Always"
    w["restartPolicy"] = {RESTART_TO_WIRE.get(policy, "always"): {}}
    return w


def env_from_wire(r: Reader, d: dict, key: str, p: str) -> list[dict]:
    return [{"name": r.str_(x, "name", xp), "value": r.str_(x, "value", xp)} for x, xp in r.items(d, key, p)]
