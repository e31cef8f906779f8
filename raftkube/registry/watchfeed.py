"""One watch's view of the store's events: its filter (namespace, labels, fields) and its cursor.

``WatchFilter`` turns the store's events of one kind into the watch's events: transitions into and out of a
filtered watch become ADDED and DELETED. ``WatchFeed`` pulls without waiting (``pull``), for the API's watch
pump that serves every open watch from one thread; ``Registry.watch`` wraps the same filter in a blocking
generator. A ``memo`` dict shared by the feeds of one pass lets thousands of watches at the same cursor
fetch and decode each event once (the objects in it are read only).
"""

from __future__ import annotations

from typing import Callable

from raftkube.model.objects import labels_of, namespace_of
from raftkube.model.selectors import FieldSelector, LabelSelector
from raftkube.model.watch import WatchEvent
from raftkube.state.codec import decode_object
from raftkube.state.machine import ADDED, DELETED, MODIFIED, Event

#: most store events one fetch returns (the hub's own default)
FETCH_LIMIT = 1000


class WatchFilter:
    def __init__(self, namespace: str | None, labels: LabelSelector | None, fields: FieldSelector | None,
                 decorate: Callable[[dict], dict]):
        self.namespace, self.labels, self.fields = namespace, labels, fields
        self.decorate = decorate

    def matches(self, obj: dict | None) -> bool:
        if obj is None:
            return False
        if self.namespace is not None and namespace_of(obj) != self.namespace:
            return False
        if self.labels is not None and not self.labels.matches(labels_of(obj)):
            return False
        return self.fields is None or self.fields.matches(obj)

    def _in_scope(self, ev_key, data: bytes | None, rv: int, get) -> tuple[bool, dict | None]:
        """Whether a stored version is in this watch, decoding it only when needed: the namespace is in
        the key, so an unfiltered watch never decodes the previous version of a MODIFIED object."""
        if data is None or (self.namespace is not None and ev_key[1] != self.namespace):
            return False, None
        if self.labels is None and self.fields is None:
            return True, None
        obj = get(data, rv)
        return self.matches(obj), obj

    def translate(self, events: list[Event], memo: dict | None = None) -> list[WatchEvent]:
        """The watch's events for the store's ``events`` (decoded objects shared through ``memo``)."""
        memo = {} if memo is None else memo

        def new_of(ev):  # the stored object after the event, decorated (RC replica counts)
            found = memo.get(("new", ev.rev))
            if found is None:
                found = memo[("new", ev.rev)] = self.decorate(decode_object(ev.data, ev.rev))
            return found

        def old_of(ev):
            found = memo.get(("old", ev.rev))
            if found is None:
                found = memo[("old", ev.rev)] = decode_object(ev.prev, ev.prev_rv)
            return found

        out: list[WatchEvent] = []
        for ev in events:
            now_in, _ = self._in_scope(ev.key, ev.data, ev.rev, lambda d, r, ev=ev: new_of(ev))
            was_in, _ = self._in_scope(ev.key, ev.prev, ev.prev_rv, lambda d, r, ev=ev: old_of(ev))
            if ev.type == DELETED:
                if was_in:
                    old = old_of(ev)
                    old["metadata"]["resourceVersion"] = ev.rev  # the same for every watch: shared safely
                    out.append(WatchEvent(DELETED, old, ev.rev))
                continue
            if now_in and was_in:
                out.append(WatchEvent(MODIFIED, new_of(ev), ev.rev))
            elif now_in:
                out.append(WatchEvent(ADDED, new_of(ev), ev.rev))
            elif was_in:
                out.append(WatchEvent(DELETED, new_of(ev), ev.rev))
        return out


class WatchFeed:
    """A watch of ``kind`` from revision ``cursor``: ``pull`` never waits."""

    def __init__(self, store, kind: str, cursor: int, flt: WatchFilter, initial: list[WatchEvent]):
        self.store, self.kind, self.cursor, self.filter = store, kind, cursor, flt
        self.initial = initial  # ADDED for every current object (resourceVersion 0), sent before any event

    def pull(self, memo: dict) -> tuple[list[WatchEvent], bool] | None:
        """(events after the cursor, whether more may be waiting); None once the store stopped serving
        watches. Raises ``Gone`` when the cursor's events have left the store's ring."""
        key = ("fetch", self.kind, self.cursor)
        got = memo.get(key)
        if got is None:
            got = memo[key] = self.store.watch(self.kind, self.cursor, 0)
        if got is None:
            return None
        events, seen = got
        self.cursor = max(self.cursor, seen)
        return self.filter.translate(events, memo), len(events) >= FETCH_LIMIT

    def rewind(self, revision: int) -> None:
        """The next ``pull`` returns the events after ``revision`` again: the caller took the last ``pull``'s
        events only up to it (the watch pump sends no more to a client that has not read what it has)."""
        self.cursor = revision
