"""Errors in v1beta1 terms: Status bodies, the 2014 ``Invalid`` message, and the translation of the registry's
errors (internal nouns and field paths) into the nouns and paths of v1beta1."""

from __future__ import annotations

import copy
from typing import Iterable

from raftkube.apis.v1beta1.endpoints import endpoints_causes_to_wire
from raftkube.apis.v1beta1.paths import cause_to_wire
from raftkube.apis.v1beta1.resources import API_VERSION, RESOURCES_BY_KIND
from raftkube.apis.version import Resource
from raftkube.model.errors import ApiError, Cause, Invalid
from raftkube.model.objects import RESOURCES_BY_KIND as KINDS


def singular(kind: str) -> str:
    """How v1beta1 messages name one object of internal ``kind``."""
    res = RESOURCES_BY_KIND.get(kind)
    return res.singular if res else kind.lower()


def invalid_error(kind: str, name: str, causes: Iterable[Cause]) -> Invalid:
    """The 2014 ``Invalid``: ``<singular> "<name>" is invalid: <first cause message>``."""
    causes = list(causes)
    first = causes[0].message if causes else "unknown error"
    return Invalid(f'{singular(kind)} "{name}" is invalid: {first}', kind=kind, name=name, causes=causes)


def causes_to_wire(kind: str, obj: dict | None, causes: Iterable[Cause]) -> list[Cause]:
    """Validation causes of an internal object of ``kind`` (``obj``, when known) with v1beta1 field paths."""
    causes = list(causes)
    if kind == "Endpoints":
        return endpoints_causes_to_wire(obj, causes, lambda c: cause_to_wire(kind, c))
    return [cause_to_wire(kind, c) for c in causes]


def error_to_wire(exc: ApiError, res: Resource | None, obj: dict | None = None) -> ApiError:
    """An error of the registry in v1beta1 terms.

    Validation errors get v1beta1 field paths and the message that quotes the first of them. Messages about
    one object start with the internal noun of its kind (``node "m1" not found``; the state machine's
    errors say so without naming the kind, so the request's resource stands in); v1beta1 says ``minion``.
    """
    kind = exc.kind or (res.kind if res else "")
    if kind not in RESOURCES_BY_KIND:
        return exc
    if isinstance(exc, Invalid) and exc.kind and exc.causes:
        return invalid_error(exc.kind, exc.name, causes_to_wire(exc.kind, obj, exc.causes))
    internal, wire = KINDS[kind].singular, singular(kind)
    if internal == wire or not exc.message.startswith(f'{internal} "'):
        return exc
    out = copy.copy(exc)
    out.message = wire + exc.message[len(internal):]
    out.args = (out.message,)
    return out


def status_body(code: int, reason: str, message: str, *, kind: str = "", name: str = "", causes=(),
                retry_after_s: float | None = None) -> dict:
    """A failure Status; ``details.kind`` names the kind as v1beta1 messages do (``minion``)."""
    body = {"kind": "Status", "apiVersion": API_VERSION, "status": "Failure", "message": message,
            "reason": reason, "code": code}
    details = {}
    if name:
        details["id"] = name
    if kind:
        res = RESOURCES_BY_KIND.get(kind)
        details["kind"] = res.singular if res else kind
    if causes:
        details["causes"] = [c.to_dict() for c in causes]
    if retry_after_s is not None:
        details["retryAfterSeconds"] = max(1, int(round(retry_after_s)))
    if details:
        body["details"] = details
    return body


def success_body() -> dict:
    return {"kind": "Status", "apiVersion": API_VERSION, "status": "Success", "code": 200}
