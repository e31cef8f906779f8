"""The controllers' client on the leader: the ``Client`` protocol (raftkube/client.py) over the registry.

The master builds one per leadership term (``LocalClient(registry, epoch)``) and hands it to the controller
manager: reads are this master's local state, writes carry the leader epoch, so a deposed leader's late
writes are refused by the state machine.
"""

from __future__ import annotations

import threading

from raftkube.model.objects import DEFAULT_NAMESPACE
from raftkube.model.selectors import parse_field_selector, parse_label_selector


class LocalClient:
    """The controllers' client on the leader: the registry directly, local reads, epoch-fenced writes."""

    def __init__(self, registry, epoch: int | None = None):
        self.registry = registry
        self.epoch = epoch

    def get(self, kind, name, namespace=DEFAULT_NAMESPACE):
        return self.registry.get(kind, namespace, name, consistent=False)

    def list(self, kind, namespace=None, labels="", fields=""):
        return self.registry.list(kind, namespace, parse_label_selector(labels) if labels else None,
                                  parse_field_selector(kind, fields) if fields else None, consistent=False)

    def create(self, obj):
        return self.registry.create(obj, epoch=self.epoch)

    def update(self, obj):
        return self.registry.update(obj, epoch=self.epoch)

    def update_status(self, obj):
        return self.registry.update_status(obj, epoch=self.epoch)

    def delete(self, kind, name, namespace=DEFAULT_NAMESPACE, *, uid="", resource_version=0):
        self.registry.delete(kind, namespace, name, epoch=self.epoch, rv=resource_version, uid=uid)

    def bind(self, namespace, pod, node):
        self.registry.bind(namespace, pod, node, epoch=self.epoch)

    def watch(self, kind, namespace=None, labels="", fields="", resource_version=0):
        return _LocalWatch(self.registry, kind, namespace, labels, fields, resource_version)


class _LocalWatch:
    def __init__(self, registry, kind, namespace, labels, fields, resource_version):
        self._stopped = threading.Event()
        self._gen = registry.watch(kind, namespace, parse_label_selector(labels) if labels else None,
                                   parse_field_selector(kind, fields) if fields else None, resource_version,
                                   stop=self._stopped.is_set, poll_s=0.5)

    def __iter__(self):
        return self._gen

    def close(self):
        self._stopped.set()
