"""Cascading deletes on the leader (the part of Kubernetes' garbage collector that core/v1 needs): a pod
whose ``ownerReferences`` all name replication controllers that no longer exist is deleted.

A delete with ``propagationPolicy: Orphan`` removes the references in the same transaction as the owner
(``registry/owners.py``), so what is left pointing at a missing owner was meant to go with it (``Background``,
``Foreground``, core/v1's default). A separate controller rather than a pass of the replication manager: it
has one job, and other owner kinds can join ``OWNER_KINDS`` without touching replication. Before deleting, the
owner is looked up again (the leader's own state holds every RC created before its pods), so an RC informer
that lags behind the pod informer never costs a pod; each delete carries the pod's uid.

Foreground deletes (Kubernetes' semantics): an owner with ``deletionTimestamp`` and the ``foregroundDeletion``
finalizer has every dependent (a pod with an ownerReference to its uid) deleted; once none is left whose
reference says ``blockOwnerDeletion: true`` (the others are not waited for), the finalizer is removed, which
deletes the owner when it was the last one. Each pass lists the owner's namespace afresh (the leader's state,
not the informer, which may lag), and passes repeat every ``retry_s`` while an owner waits.
"""

from __future__ import annotations

import logging

from raftkube.controllers.base import Controller, delete_by_uid, obj_key
from raftkube.model.errors import Conflict, NotFound
from raftkube.model.objects import name_of, namespace_of, uid_of
from raftkube.registry.owners import FOREGROUND_FINALIZER, OWNER_KINDS, deleting_in_foreground, references_to

log = logging.getLogger(__name__)


def owner_uids(pod: dict) -> frozenset[tuple[str, str, str]]:
    """(kind, name, uid) of the owners of ``pod``; empty when any owner is of a kind this collector does not
    know (then the pod is never collected)."""
    refs = (pod.get("metadata") or {}).get("ownerReferences") or []
    out = set()
    for r in refs:
        if not isinstance(r, dict) or r.get("kind") not in OWNER_KINDS or not r.get("uid"):
            return frozenset()
        out.add((r["kind"], str(r.get("name") or ""), r["uid"]))
    return frozenset(out)


class OwnerGarbageCollector(Controller):
    name = "owner-gc"

    def __init__(self, client, *, retry_s: float = 0.5, **kw):
        super().__init__(client, **kw)
        self.retry_s = retry_s
        self.owned: dict[tuple, tuple[dict, frozenset]] = {}  # pod key -> (pod, its owners)
        self.pod_informer = self.informer("Pod", self._on_pod)
        self.rc_informer = self.informer("ReplicationController", self._on_rc)
        self.informers = [self.rc_informer, self.pod_informer]

    def _on_pod(self, old: dict | None, new: dict | None) -> None:
        if old is not None:
            self.owned.pop(obj_key(old), None)
        if new is not None and (owners := owner_uids(new)):
            self.owned[obj_key(new)] = (new, owners)
            self.wake()

    def _on_rc(self, old: dict | None, new: dict | None) -> None:
        if new is None or deleting_in_foreground(new):
            self.wake()

    def _waiting(self) -> list[dict]:
        return [rc for rc in self.rc_informer.items() if deleting_in_foreground(rc)]

    def next_deadline_s(self) -> float | None:
        return self.retry_s if self._waiting() else None

    def reconcile(self) -> None:
        for owner in self._waiting():
            if self.stop_event.is_set():
                return
            self._delete_in_foreground(owner)
        if not self.owned:
            return
        live = {uid_of(rc) for rc in self.rc_informer.items()}
        for pod, owners in list(self.owned.values()):
            if self.stop_event.is_set():
                return
            if any(uid in live for _kind, _name, uid in owners) or self._owner_exists(pod, owners):
                continue
            if not delete_by_uid(self.client, self.pod_informer, pod):
                continue
            log.info("pod %s/%s: deleted, its owner is gone", namespace_of(pod), name_of(pod))
            self.owned.pop(obj_key(pod), None)
            self.stats.count("pod_deletes", "owner_gone")

    def _owner_exists(self, pod: dict, owners) -> bool:
        for kind, name, uid in owners:
            try:
                if uid_of(self.client.get(kind, name, namespace_of(pod))) == uid:
                    return True
            except NotFound:
                continue
        return False

    def _delete_in_foreground(self, owner: dict) -> None:
        """Delete ``owner``'s dependents; when a fresh list finds none that blocks, remove its finalizer (which
        deletes it). A pass that deleted blocking dependents lists once more to see them gone."""
        for _ in range(2):
            if not self._delete_dependents(owner):
                self._remove_finalizer(owner)
                return

    def _delete_dependents(self, owner: dict) -> int:
        """Delete every pod of ``owner``'s namespace that references it; how many of them blocked it."""
        uid, ns = uid_of(owner), namespace_of(owner)
        pods, _rev = self.client.list("Pod", ns)
        blocking = 0
        for pod in pods:
            refs = references_to(pod, uid)
            if not refs:
                continue
            if delete_by_uid(self.client, self.pod_informer, pod):
                log.info("pod %s/%s: deleted, its owner %s is being deleted in the foreground", ns, name_of(pod),
                         name_of(owner))
                self.stats.count("pod_deletes", "foreground")
            if any(r.get("blockOwnerDeletion") for r in refs):
                blocking += 1
        return blocking

    def _remove_finalizer(self, owner: dict) -> None:
        ns = namespace_of(owner)
        try:
            fresh = self.client.get(owner["kind"], name_of(owner), ns)
        except NotFound:
            return
        if uid_of(fresh) != uid_of(owner) or not deleting_in_foreground(fresh):
            return
        md = fresh["metadata"] = dict(fresh["metadata"])
        md["finalizers"] = [f for f in md.get("finalizers") or () if f != FOREGROUND_FINALIZER]
        try:
            self.client.update(fresh)
        except (Conflict, NotFound):
            return  # changed meanwhile: the next pass sees it
        log.info("%s %s/%s: its dependents are gone, finalizer %s removed", owner["kind"], ns, name_of(owner),
                 FOREGROUND_FINALIZER)
