"""A DELETE's optional body, Kubernetes' ``DeleteOptions``: its ``preconditions`` (``uid``, ``resourceVersion``)
name the object the client means, and the state machine refuses the delete (409) if the object of that name
is another one or another version. Every other field (``propagationPolicy``, ``gracePeriodSeconds``, what
kubectl sends) is accepted and has no effect. The same body in v1beta1 and v1; as in Kubernetes, preconditions
come only in the body, never in the query."""

from __future__ import annotations

from raftkube.model.errors import BadRequest


def delete_preconditions(body: dict | None) -> tuple[int, str]:
    """(resourceVersion, uid) a delete must match (0 and "": none); 400 for a body that is not DeleteOptions."""
    if body is None:
        return 0, ""
    kind = body.get("kind")
    if kind not in (None, "", "DeleteOptions"):
        raise BadRequest(f"the body of a delete must be DeleteOptions, not {str(kind)[:40]!r}")
    pre = body.get("preconditions")
    if pre is None:
        return 0, ""
    if not isinstance(pre, dict):
        raise BadRequest(f"preconditions must be an object with uid and resourceVersion, not {type(pre).__name__}")
    uid = pre.get("uid")
    if uid is not None and not isinstance(uid, str):
        raise BadRequest(f"preconditions.uid must be a string, not {type(uid).__name__}")
    return _resource_version(pre.get("resourceVersion")), uid or ""


def _resource_version(value) -> int:
    """v1 sends a string, v1beta1 a number; both name a positive revision (empty: none)."""
    if value is None or value == "":
        return 0
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63:
        return value
    raise BadRequest(f"preconditions.resourceVersion must be a positive integer, got {str(value)[:40]!r}")
