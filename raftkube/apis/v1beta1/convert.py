"""Entry points of the v1beta1 conversion: one wire body or list <-> internal objects, for any kind.

``from_wire`` normalizes: every field of the internal shape (``model/objects.py``) is present, with its
default, except the optional container structs ``livenessProbe`` and ``lifecycle`` (and the optional fields
the per-kind modules name). Unknown wire fields are ignored; wrong JSON types raise ``Invalid`` whose causes
carry the WIRE path of the bad field. ``to_wire`` emits the 2014 shape: ``omitempty`` fields are dropped when
empty, unset timestamps are ``null``, ``resourceVersion`` is a JSON number omitted when 0. For every internal
object these modules produce, ``from_wire(to_wire(obj)) == obj``.
"""

from __future__ import annotations

import copy
from typing import Any

from raftkube.apis.v1beta1.controller import rc_from_wire, rc_to_wire
from raftkube.apis.v1beta1.endpoints import endpoints_from_wire, endpoints_to_wire
from raftkube.apis.v1beta1.errors import invalid_error
from raftkube.apis.v1beta1.event import event_from_wire, event_to_wire
from raftkube.apis.v1beta1.meta import check_type_meta, meta_from_wire, meta_to_wire, resource_version
from raftkube.apis.v1beta1.node import node_from_wire, node_to_wire
from raftkube.apis.v1beta1.pod import pod_from_wire, pod_to_wire
from raftkube.apis.v1beta1.reader import Reader
from raftkube.apis.v1beta1.resources import API_VERSION, resource_of
from raftkube.apis.v1beta1.service import service_from_wire, service_to_wire
from raftkube.model.errors import BadRequest
from raftkube.model.objects import DEFAULT_NAMESPACE

_FROM_WIRE = {"Pod": pod_from_wire, "ReplicationController": rc_from_wire, "Service": service_from_wire,
              "Endpoints": endpoints_from_wire, "Node": node_from_wire, "Event": event_from_wire}
_TO_WIRE = {"Pod": pod_to_wire, "ReplicationController": rc_to_wire, "Service": service_to_wire,
            "Endpoints": endpoints_to_wire, "Node": node_to_wire, "Event": event_to_wire}


def from_wire(kind: str, body: dict, *, namespace: str = DEFAULT_NAMESPACE) -> dict:
    """A v1beta1 wire body -> the normalized internal object of internal ``kind`` (implied by the URL).

    ``namespace`` applies when the body carries none. Raises ``BadRequest`` for a body that is not an
    object or whose kind/apiVersion do not match, ``Invalid`` (wire paths) for wrongly typed fields.
    """
    res = resource_of(kind)
    if not isinstance(body, dict):
        raise BadRequest(f"the body of a {res.singular} must be a JSON object")
    check_type_meta(res, body)
    r = Reader()
    md = meta_from_wire(r, body, res, namespace)
    rest = _FROM_WIRE[kind](r, body)
    uuid = rest.pop("_uuid", "")
    if not md["uid"]:
        md["uid"] = uuid  # [K04] a pod's identity was desiredState.manifest.uuid
    if r.errs:
        raise invalid_error(kind, md["name"], r.errs.causes)
    return {"kind": kind, "metadata": md, **rest}


def to_wire(obj: dict) -> dict:
    """An internal object -> its v1beta1 wire dict (a fresh dict sharing nothing with ``obj``)."""
    res = resource_of(obj.get("kind", ""))
    out = meta_to_wire(obj, res)
    out.update(_TO_WIRE[res.kind](obj))
    return out


def list_to_wire(kind: str, items: list[dict], revision: int, self_link: str) -> dict:
    """A list of internal objects of ``kind`` -> ``PodList`` etc; MinionList also carries ``minions``."""
    res = resource_of(kind)
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
    res = resource_of(kind)
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
    r = Reader()
    rv = resource_version(r, body)
    if r.errs:
        raise BadRequest(r.errs.causes[0].message)
    return items, rv
