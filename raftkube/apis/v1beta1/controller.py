"""v1beta1 replication controllers <-> internal ones.

The pod template is ``desiredState.podTemplate`` (labels, annotations, nodeSelector and a manifest); a
template's ``manifest.id`` is emitted as the controller's id (it was free text in 2014).
``currentState.replicas`` is computed by the registry on read.
"""

from __future__ import annotations

from typing import Any

from raftkube.apis.v1beta1.manifest import manifest_from_wire, manifest_to_wire
from raftkube.apis.v1beta1.reader import Reader


def rc_from_wire(r: Reader, body: dict) -> dict:
    ds = r.dict_(body, "desiredState", "")
    tpl = r.dict_(ds, "podTemplate", "desiredState")
    tp = "desiredState.podTemplate"
    tds = r.dict_(tpl, "desiredState", tp)
    tspec = manifest_from_wire(r, r.dict_(tds, "manifest", f"{tp}.desiredState"), f"{tp}.desiredState.manifest")
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


def rc_to_wire(obj: dict) -> dict:
    md, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    template = spec.get("template") or {}
    tmd, tspec = template.get("metadata") or {}, template.get("spec") or {}
    tpl: dict[str, Any] = {"desiredState": {"manifest": manifest_to_wire(tspec, md.get("name") or "")},
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
