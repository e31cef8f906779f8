"""v1beta1 object metadata (``id``, ``uid``, ``namespace``, ``labels``, ... at the top level of a body) and
type metadata (``kind``/``apiVersion``)."""

from __future__ import annotations

from typing import Any

from raftkube.apis.v1beta1.reader import Reader
from raftkube.apis.v1beta1.resources import API_PREFIX, API_VERSION
from raftkube.apis.version import Resource
from raftkube.model.errors import BadRequest
from raftkube.model.objects import DEFAULT_NAMESPACE


def ts_out(s: str | None) -> str | None:
    """An internal timestamp on the wire: unset is ``null``."""
    return s or None


def resource_version(r: Reader, body: dict) -> int:
    v = body.get("resourceVersion")
    if v is None or v == "":
        return 0
    if isinstance(v, str) and v.isdigit():
        return int(v)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        r.errs.invalid("resourceVersion", v, "must be a non-negative integer")
        return 0
    return v


def meta_from_wire(r: Reader, body: dict, res: Resource, namespace: str) -> dict:
    md = {
        "name": r.str_(body, "id", ""),
        "uid": r.str_(body, "uid", ""),
        "creationTimestamp": r.ts(body, "creationTimestamp", ""),
        "resourceVersion": resource_version(r, body),
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


def meta_to_wire(obj: dict, res: Resource) -> dict:
    md = obj.get("metadata") or {}
    name = md.get("name") or ""
    ns = (md.get("namespace") or DEFAULT_NAMESPACE) if res.namespaced else ""
    out: dict[str, Any] = {"kind": res.wire_kind, "apiVersion": API_VERSION, "id": name}
    if md.get("uid"):
        out["uid"] = md["uid"]
    out["creationTimestamp"] = ts_out(md.get("creationTimestamp"))
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


def check_type_meta(res: Resource, body: dict) -> None:
    """``kind`` and ``apiVersion`` may be absent; when present they must match the resource and v1beta1."""
    kind = body.get("kind")
    if kind not in (None, "") and kind not in (res.wire_kind, res.kind):
        raise BadRequest(f"data of kind '{kind}', obj of type '{res.wire_kind}'")
    version = body.get("apiVersion")
    if version not in (None, "") and version != API_VERSION:
        raise BadRequest(f"unsupported apiVersion '{version}': this server speaks {API_VERSION}")


def delete_options(uid: str = "", resource_version: int = 0) -> dict:
    """The body of a DELETE that only deletes the object with this uid / at this resourceVersion."""
    pre: dict = {}
    if uid:
        pre["uid"] = uid
    if resource_version:
        pre["resourceVersion"] = resource_version
    return {"kind": "DeleteOptions", "apiVersion": API_VERSION, "preconditions": pre}
