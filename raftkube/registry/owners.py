"""Owner references between objects: which pods a replication controller owns, and the store ops that orphan
them (Kubernetes' ``propagationPolicy: Orphan``). The ops go in the same transaction as the owner's delete, so
no pod is ever left pointing at an owner that is gone while it was meant to be kept (the garbage collector
would delete it), and no replication manager adopts it while its owner still exists."""

from __future__ import annotations

from raftkube.state.codec import decode_object, encode_object

OWNER_KINDS = ("ReplicationController",)
#: the finalizer of an owner deleted with ``propagationPolicy: Foreground`` (Kubernetes' name)
FOREGROUND_FINALIZER = "foregroundDeletion"


def deleting_in_foreground(obj: dict) -> bool:
    """Whether ``obj`` is an owner waiting for its dependents to go (a foreground delete)."""
    md = obj.get("metadata") or {}
    return bool(md.get("deletionTimestamp")) and FOREGROUND_FINALIZER in (md.get("finalizers") or ())


def references_to(obj: dict, uid: str) -> list[dict]:
    """The ownerReferences of ``obj`` that name ``uid``."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [r for r in refs if isinstance(r, dict) and uid and r.get("uid") == uid]


def orphan_ops(view, owner: dict) -> list[dict]:
    """Update ops removing the references to ``owner`` from the pods of its namespace in ``view`` (each
    conditional on the pod's resourceVersion, so a pod changed meanwhile refuses the whole transaction)."""
    uid = (owner.get("metadata") or {}).get("uid") or ""
    if owner.get("kind") not in OWNER_KINDS or not uid:
        return []
    ns = (owner.get("metadata") or {}).get("namespace") or ""
    _rev, raw = view.list("Pod", ns)
    ops = []
    for key, rv, data in raw:
        if uid.encode() not in data:  # most pods: no need to decode
            continue
        pod = decode_object(data, rv)
        if not references_to(pod, uid):
            continue
        md = pod["metadata"]
        md["ownerReferences"] = [r for r in md.get("ownerReferences") or [] if r not in references_to(pod, uid)]
        if not md["ownerReferences"]:
            del md["ownerReferences"]
        ops.append({"op": "update", "key": list(key), "data": encode_object(pod), "rv": rv})
    return ops
