"""Namespaces on the leader (Kubernetes' namespace controller): ``default`` always exists, and a namespace
being deleted (``status.phase`` Terminating: the API's DELETE only marks it) is emptied, then removed.

Emptying deletes the namespace's replication controllers first (so none replaces the pods that go next),
then its services, endpoints, pods and events; the namespace object is deleted once a pass finds nothing
left in it. While a namespace is terminating the controller runs again every ``retry_s``.
"""

from __future__ import annotations

import logging

from raftkube.controllers.base import Controller
from raftkube.model.errors import AlreadyExists, ApiError, NotFound, NotLeader
from raftkube.model.objects import DEFAULT_NAMESPACE, TERMINATING, name_of

log = logging.getLogger(__name__)

#: what a namespace holds, in the order it is emptied
CONTENT_KINDS = ("ReplicationController", "Service", "Endpoints", "Pod", "Event")


def default_namespace() -> dict:
    return {"kind": "Namespace", "metadata": {"name": DEFAULT_NAMESPACE}}


class NamespaceController(Controller):
    name = "namespaces"

    def __init__(self, client, *, retry_s: float = 0.5, **kw):
        super().__init__(client, **kw)
        self.retry_s = retry_s
        self.ns_informer = self.informer("Namespace", lambda _old, _new: self.wake())
        self.informers = [self.ns_informer]

    def _terminating(self) -> list[dict]:
        return [ns for ns in self.ns_informer.items() if (ns.get("status") or {}).get("phase") == TERMINATING]

    def next_deadline_s(self) -> float | None:
        return self.retry_s if self._terminating() else None

    def reconcile(self) -> None:
        if not any(name_of(ns) == DEFAULT_NAMESPACE for ns in self.ns_informer.items()):
            try:
                self.ns_informer.store_local(self.client.create(default_namespace()))
            except AlreadyExists:
                pass
        for ns in self._terminating():
            if self.stop_event.is_set():
                return
            self._empty(name_of(ns))

    def _empty(self, namespace: str) -> None:
        left = 0
        for kind in CONTENT_KINDS:
            items, _rev = self.client.list(kind, namespace)
            left += len(items)
            for obj in items:
                try:
                    self.client.delete(kind, name_of(obj), namespace)
                except NotLeader:
                    raise
                except NotFound:
                    pass
                except ApiError as exc:
                    log.warning("namespace %s: deleting %s %s failed: %s", namespace, kind, name_of(obj), exc)
        if left:
            log.info("namespace %s: deleted %d object(s) it held", namespace, left)
            return  # the next pass checks that nothing came back (an RC's pod created meanwhile)
        try:
            self.client.delete("Namespace", namespace, "")
            log.info("namespace %s: deleted", namespace)
        except NotFound:
            pass
