"""Event garbage collection: the leader deletes events older than ``event_ttl_s`` (Kubernetes keeps events
one hour), so the store does not grow with every scheduling decision and warning ever recorded. An event's
age is taken from its ``timestamp`` (its creation time when that is missing), on the master's clock."""

from __future__ import annotations

import logging
import time

from raftkube.controllers.base import Controller, delete_by_uid, obj_key
from raftkube.controllers.nodes import parse_time

log = logging.getLogger(__name__)


def event_time(event: dict) -> float | None:
    return parse_time(event.get("timestamp")) or parse_time((event.get("metadata") or {}).get("creationTimestamp"))


def expired_events(events, now: float, ttl_s: float) -> list[dict]:
    """The events older than ``ttl_s`` at ``now``, oldest first (an event without a time is kept)."""
    aged = [(t, obj_key(e), e) for e in events if (t := event_time(e)) is not None and now - t > ttl_s]
    return [e for _t, _k, e in sorted(aged, key=lambda a: (a[0], a[1]))]


class EventGarbageCollector(Controller):
    name = "event-gc"

    def __init__(self, client, *, ttl_s: float = 3600.0, check_period_s: float = 60.0, clock=time.time, **kw):
        super().__init__(client, clock=clock, **kw)
        self.ttl_s = ttl_s
        self.check_period_s = check_period_s
        self.event_informer = self.informer("Event")
        self.informers = [self.event_informer]

    def next_deadline_s(self) -> float | None:
        return self.check_period_s

    def reconcile(self) -> None:
        expired = expired_events(self.event_informer.items(), self.clock(), self.ttl_s)
        for ev in expired:
            if self.stop_event.is_set():
                return
            delete_by_uid(self.client, self.event_informer, ev)
        if expired:
            log.info("deleted %d event(s) older than %g s", len(expired), self.ttl_s)
