"""Admission (issue 18): what a caller may put in a pod, checked on the internal object of every create and update.

Both wire versions decode to the same internal objects, so one check covers v1beta1 and v1, pods and the pod
templates of replication controllers:

- ``privileged`` containers: only an admin, and only if ``[admission] allow_privileged`` (off by default).
- ``hostDir`` volumes (internal and v1 ``hostPath``): only an admin, and only if ``allow_host_dirs`` (on).
- a pod's host (``spec.nodeName``, v1beta1 ``desiredState.host``) is the server's: only a binding sets it. A
  create that names one, or an update that changes it, is refused; an update that repeats the stored host or
  leaves it empty keeps the stored one (registry/strategy.py).

A Node's ``hostIP`` lives in its status: a plain update keeps the stored status (strategy), and the status
may be written only by that minion or an admin (auth.py's node rules).
"""

from __future__ import annotations

from raftkube.api.auth import check_create
from raftkube.config import AdmissionConfig
from raftkube.model.errors import Forbidden
from raftkube.model.objects import RESOURCES_BY_KIND, name_of
from raftkube.pki import ADMIN_GROUP


def _pod_spec(obj: dict) -> dict | None:
    """The pod spec ``obj`` carries: a pod's, or a replication controller's template's."""
    if obj.get("kind") == "Pod":
        return obj.get("spec") or {}
    if obj.get("kind") == "ReplicationController":
        return ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return None


def _refuse(obj: dict, why: str) -> Forbidden:
    """``pod "x" is forbidden: ...``: the internal noun, which each version rewrites in its own terms (and so no
    field paths, which differ between versions: the message names containers and volumes)."""
    kind = obj.get("kind", "")
    return Forbidden(f'{RESOURCES_BY_KIND[kind].singular} "{name_of(obj)}" is forbidden: {why}', kind=kind,
                     name=name_of(obj))


def check_pod_spec(user, obj: dict, policy: AdmissionConfig) -> None:
    """403 if ``obj`` (a pod or a replication controller) asks for what ``user`` may not have."""
    spec = _pod_spec(obj)
    if spec is None:
        return
    admin = ADMIN_GROUP in user.groups
    def check(what: str, plural: str, allowed: bool, key: str) -> None:
        if not admin:
            raise _refuse(obj, f'{what}: {plural} are for the admin only (user "{user.name}")')
        if not allowed:
            raise _refuse(obj, f"{what}: {plural} are not allowed in this cluster ([admission] {key} = false)")
    for c in spec.get("containers") or ():
        if c.get("privileged"):
            check(f'container "{c.get("name", "")}" is privileged', "privileged containers", policy.allow_privileged,
                  "allow_privileged")
    for v in spec.get("volumes") or ():
        if v.get("hostPath") is not None:
            check(f'volume "{v.get("name", "")}" is a hostDir ({(v["hostPath"] or {}).get("path", "")})',
                  "hostDir volumes", policy.allow_host_dirs, "allow_host_dirs")


def check_host(obj: dict, old: dict | None) -> None:
    """403 if a create names a pod's host, or an update changes it (only a binding sets it)."""
    if obj.get("kind") != "Pod":
        return
    host = (obj.get("spec") or {}).get("nodeName") or ""
    stored = ((old or {}).get("spec") or {}).get("nodeName") or ""
    if host and host != stored:
        change = f'to "{host}"' if old is None or not stored else f'from "{stored}" to "{host}"'
        verb = "a create" if old is None else "an update"
        raise _refuse(obj, f"the host of a pod is set only by a binding (POST .../bindings), not by {verb} "
                           f"({change})")


def needs_old(obj: dict) -> bool:
    """Whether ``admit_update`` needs the stored object: only for a pod update that names a host."""
    return obj.get("kind") == "Pod" and bool((obj.get("spec") or {}).get("nodeName"))


def _policy(req) -> AdmissionConfig:
    return getattr(req.context, "admission", None) or AdmissionConfig()


def admit_create(req, obj: dict) -> None:
    """Every check of a create, on the decoded internal object, before anything is proposed."""
    check_create(req, obj)
    user = req.context.user
    check_pod_spec(user, obj, _policy(req))
    check_host(obj, None)


def admit_update(req, obj: dict, old: dict | None) -> None:
    """Every check of an update (PUT or PATCH); ``old`` is the stored object if ``needs_old(obj)``."""
    user = req.context.user
    check_pod_spec(user, obj, _policy(req))
    if old is not None:
        check_host(obj, old)


class AdmissionPolicy:
    """Falcon middleware: the cluster's ``[admission]`` settings for the resources' checks of this request."""

    def __init__(self, policy: AdmissionConfig):
        self.policy = policy

    def process_request(self, req, resp):
        req.context.admission = self.policy
