"""Per-kind rules for create and update: which fields the server owns and which the user may change."""

from __future__ import annotations

import hashlib

from raftkube.model.objects import ACTIVE, DEFAULT_NAMESPACE, PENDING, RESOURCES_BY_KIND

#: the characters of a generated name's suffix (Kubernetes' ``utilrand`` alphabet: no vowels, no 0/1/3)
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
GENERATED_SUFFIX_LEN = 5
#: a generated name is at most 63 characters: the prefix is cut to leave room for the suffix
MAX_GENERATE_PREFIX = 63 - GENERATED_SUFFIX_LEN


def generated_name(prefix: str, uid: str) -> str:
    """``prefix`` (cut to 58 characters) and 5 characters derived from the new object's uid (deterministic:
    the caller picks the uid, the state machine never invents anything)."""
    n = int.from_bytes(hashlib.sha256(uid.encode()).digest()[:8], "big")
    suffix = ""
    for _ in range(GENERATED_SUFFIX_LEN):
        n, r = divmod(n, len(_SUFFIX_ALPHABET))
        suffix += _SUFFIX_ALPHABET[r]
    return prefix[:MAX_GENERATE_PREFIX] + suffix


def normalize_meta(obj: dict) -> dict:
    """Default the metadata of ``obj`` in a fresh dict: callers (controllers) often pass shallow copies of
    objects they cache, whose metadata must not change under them."""
    md = obj["metadata"] = dict(obj.get("metadata") or {})
    if RESOURCES_BY_KIND[obj["kind"]].namespaced:
        md["namespace"] = md.get("namespace") or DEFAULT_NAMESPACE
    else:
        md.pop("namespace", None)
    md.setdefault("labels", {})
    md.setdefault("annotations", {})
    return md


def prepare_for_create(obj: dict, *, uid: str, now: str, event_suffix: str) -> None:
    """Server-set fields of a new object (the state machine never invents them: it must be deterministic)."""
    md = normalize_meta(obj)
    kind = obj["kind"]
    if not md.get("name"):
        if md.get("generateName"):
            md["name"] = generated_name(md["generateName"], uid)
        elif kind in ("Pod", "ReplicationController"):
            md["name"] = uid
        elif kind == "Event":
            involved = (obj.get("involvedObject") or {}).get("name") or "event"
            md["name"] = f"{involved}.{event_suffix}"
    md["uid"] = uid
    md["creationTimestamp"] = now
    md.pop("resourceVersion", None)
    md.pop("deletionTimestamp", None)  # only a delete sets it
    if not md.get("finalizers"):
        md.pop("finalizers", None)
    if kind == "Pod":
        spec = obj.setdefault("spec", {})
        spec["nodeName"] = ""  # only a binding sets the host
        spec.pop("serviceEnv", None)
        spec["restartPolicy"] = spec.get("restartPolicy") or "Always"
        obj["status"] = {"phase": PENDING}
    elif kind == "ReplicationController":
        obj["status"] = {"replicas": 0}
    elif kind == "Node":
        status = obj.setdefault("status", {})
        status.setdefault("conditions", [])
    elif kind == "Event":
        obj["timestamp"] = obj.get("timestamp") or now
    elif kind == "Namespace":
        obj["status"] = {"phase": ACTIVE}


def prepare_for_update(new: dict, old: dict) -> None:
    """Carry over what a user update must not change: identity, and for pods the binding and status."""
    md, old_md = normalize_meta(new), old["metadata"]
    md["uid"] = old_md.get("uid", "")
    md["creationTimestamp"] = old_md.get("creationTimestamp")
    md["namespace"] = old_md.get("namespace", md.get("namespace"))
    if not md.get("annotations") and old_md.get("annotations"):
        md["annotations"] = old_md["annotations"]
    for k in ("generateName", "ownerReferences"):  # v1beta1 cannot express them: a PUT through it keeps them
        if not md.get(k) and old_md.get(k):
            md[k] = old_md[k]
    if "finalizers" not in md and old_md.get("finalizers"):  # v1beta1 (v1 always says: [] for none)
        md["finalizers"] = old_md["finalizers"]
    if not md.get("finalizers"):
        md.pop("finalizers", None)
    if old_md.get("deletionTimestamp"):  # set by a delete, never by an update (nor cleared: no resurrection)
        md["deletionTimestamp"] = old_md["deletionTimestamp"]
    else:
        md.pop("deletionTimestamp", None)
    kind = new["kind"]
    if kind == "Pod":
        spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
        spec["nodeName"] = old_spec.get("nodeName", "")
        if "serviceEnv" in old_spec:  # set at bind time only, never by a user update
            spec["serviceEnv"] = old_spec["serviceEnv"]
        else:
            spec.pop("serviceEnv", None)
        spec["restartPolicy"] = spec.get("restartPolicy") or old_spec.get("restartPolicy") or "Always"
        new["status"] = old.get("status") or {"phase": PENDING}
    elif kind in ("Node", "ReplicationController", "Namespace"):
        new["status"] = old.get("status") or {}


def prepare_status_update(new: dict, old: dict) -> dict:
    """A status write: the stored object with only ``status`` replaced."""
    merged = dict(old)
    merged["metadata"] = dict(old["metadata"])
    merged["status"] = new.get("status") or {}
    return merged
