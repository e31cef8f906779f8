"""Namespaces at the core/v1 edge: creates go only into a namespace that exists and is not being deleted
(``default`` always exists), and a DELETE of a namespace marks it Terminating; the namespace controller on the
leader empties it and then removes it (``raftkube/controllers/namespaces.py``).

v1beta1 (2014) has no namespace objects: its creates are not checked, so kubecfg keeps working in any namespace.
"""

from __future__ import annotations

from raftkube.model.errors import Forbidden, NotFound
from raftkube.model.objects import DEFAULT_NAMESPACE, TERMINATING


def require_namespace(registry, namespace: str) -> None:
    """404 if ``namespace`` does not exist, 403 while it is being deleted (Kubernetes' answers)."""
    if namespace == DEFAULT_NAMESPACE:
        return
    try:
        ns = registry.get("Namespace", "", namespace)
    except NotFound:
        raise NotFound(f'namespace "{namespace}" not found', kind="Namespace", name=namespace) from None
    if (ns.get("status") or {}).get("phase") == TERMINATING:
        raise Forbidden(f"unable to create new content in namespace {namespace} because it is being terminated",
                        kind="Namespace", name=namespace)


def mark_terminating(registry, name: str, request=None) -> dict:
    """The DELETE of a namespace: its phase becomes Terminating (``default`` may not be deleted)."""
    if name == DEFAULT_NAMESPACE:
        raise Forbidden(f'namespaces "{name}" is forbidden: this namespace may not be deleted', kind="Namespace",
                        name=name)
    ns = registry.get("Namespace", "", name)
    if (ns.get("status") or {}).get("phase") == TERMINATING:
        return ns
    ns = dict(ns, status={**(ns.get("status") or {}), "phase": TERMINATING})
    ns["metadata"] = dict(ns["metadata"])
    return registry.update_status(ns, request=request)
