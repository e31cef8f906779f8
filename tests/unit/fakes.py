"""Fakes for controller tests: a real single-replica store behind a client that records every write,
and a clock the test moves by hand."""

from __future__ import annotations

import copy

from raftkube.registry import LocalClient
from raftkube.registry import Registry
from raftkube.state.local import LocalStore


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingClient:
    """The Client protocol over an in-memory store (LocalStore + Registry); writes are recorded as
    ``(verb, kind, name)`` in ``actions``. ``fail_with`` makes the next writes raise an error."""

    def __init__(self, clock: FakeClock | None = None):
        self.clock = clock or FakeClock()
        self.registry = Registry(LocalStore(), clock=self.clock)
        self.inner = LocalClient(self.registry)
        self.actions: list[tuple[str, str, str]] = []
        self.fail_with: Exception | None = None

    def _record(self, verb: str, kind: str, name: str) -> None:
        self.actions.append((verb, kind, name))
        if self.fail_with is not None:
            raise self.fail_with

    def writes(self, verb: str | None = None, kind: str | None = None) -> list[tuple[str, str, str]]:
        return [a for a in self.actions if (verb is None or a[0] == verb) and (kind is None or a[1] == kind)]

    def clear(self) -> None:
        self.actions.clear()

    # ---- reads ------------------------------------------------------------------------------
    def get(self, kind, name, namespace="default"):
        return self.inner.get(kind, name, namespace)

    def list(self, kind, namespace=None, labels="", fields=""):
        return self.inner.list(kind, namespace, labels, fields)

    def watch(self, kind, namespace=None, labels="", fields="", resource_version=0):
        return self.inner.watch(kind, namespace, labels, fields, resource_version)

    # ---- writes -----------------------------------------------------------------------------
    def create(self, obj):
        obj = copy.deepcopy(obj)
        self._record("create", obj["kind"], (obj.get("metadata") or {}).get("name", ""))
        return self.inner.create(obj)

    def update(self, obj):
        obj = copy.deepcopy(obj)
        self._record("update", obj["kind"], obj["metadata"]["name"])
        return self.inner.update(obj)

    def update_status(self, obj):
        obj = copy.deepcopy(obj)
        self._record("update_status", obj["kind"], obj["metadata"]["name"])
        return self.inner.update_status(obj)

    def delete(self, kind, name, namespace="default", *, uid="", resource_version=0):
        self._record("delete", kind, name)
        return self.inner.delete(kind, name, namespace, uid=uid, resource_version=resource_version)

    def bind(self, namespace, pod, node):
        self._record("bind", "Pod", pod)
        return self.inner.bind(namespace, pod, node)


# ---- object builders: raftkube.testing.objects, re-exported for the unit tests ----------------------
from raftkube.testing.objects import container, node, pod, rc, service  # noqa: E402,F401


def put(client: RecordingClient, obj: dict) -> dict:
    """Store ``obj`` as it is (a pod's node and status included), bypassing the recorded writes."""
    obj = copy.deepcopy(obj)
    inner = client.inner
    if obj["kind"] != "Pod":
        status = obj.get("status")
        created = inner.create(obj)
        if status and obj["kind"] == "Node":
            created["status"] = status
            created = inner.update_status(created)
        return created
    node_name = obj["spec"].get("nodeName") or ""
    status = obj.get("status") or {}
    obj["metadata"].pop("resourceVersion", None)
    created = inner.create(obj)
    if node_name:
        inner.bind("default", created["metadata"]["name"], node_name)
    if status:
        cur = inner.get("Pod", created["metadata"]["name"])
        cur["status"] = dict(status)
        created = inner.update_status(cur)
    return inner.get("Pod", created["metadata"]["name"])
