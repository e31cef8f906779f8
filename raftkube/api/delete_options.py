"""A DELETE's optional body, Kubernetes' ``DeleteOptions``: its ``preconditions`` (``uid``, ``resourceVersion``)
name the object the client means, and the state machine refuses the delete (409) if the object of that name
is another one or another version. ``propagationPolicy`` (or the older ``orphanDependents``) says whether
the dependents of a replication controller (its pods: ``ownerReferences`` to its uid) go with it: ``Orphan``
keeps them (their references to it are removed in the same transaction as the delete), ``Background`` lets
the garbage collector delete them after it, ``Foreground`` marks the owner (``deletionTimestamp``, finalizer
``foregroundDeletion``) and the collector deletes the dependents first, then the owner. Without one, v1 deletes dependents (Kubernetes' default for core/v1 controllers) and v1beta1
orphans them (2014's behaviour). ``gracePeriodSeconds`` and the rest are accepted and have no effect. The same
body in v1beta1 and v1; as in Kubernetes, preconditions and the policy come only in the body, never in the
query."""

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


#: the propagation policies Kubernetes knows
POLICIES = ("Orphan", "Background", "Foreground")


def propagation_policy(body: dict | None, *, default: str) -> str:
    """This delete's policy for the object's dependents, one of ``POLICIES`` (``orphanDependents`` true is
    Orphan, false Background); 400 for a bad policy."""
    if body is None:
        return default
    policy = body.get("propagationPolicy")
    orphan = body.get("orphanDependents")
    if orphan is not None and not isinstance(orphan, bool):
        raise BadRequest(f"orphanDependents must be a boolean, not {type(orphan).__name__}")
    if policy is None:
        return default if orphan is None else ("Orphan" if orphan else "Background")
    if policy not in POLICIES:
        raise BadRequest(f"propagationPolicy must be one of Orphan, Background, Foreground, not {str(policy)[:40]!r}")
    if orphan is not None:
        raise BadRequest("orphanDependents and propagationPolicy cannot both be set")
    return policy


def _resource_version(value) -> int:
    """v1 sends a string, v1beta1 a number; both name a positive revision (empty: none)."""
    if value is None or value == "":
        return 0
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63:
        return value
    raise BadRequest(f"preconditions.resourceVersion must be a positive integer, got {str(value)[:40]!r}")
