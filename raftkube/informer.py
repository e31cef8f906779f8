"""The one list-and-watch cache: ``Informer`` (client-go's informer, as small as this cluster needs).

An informer keeps a local copy of one kind (optionally narrowed by namespace, labels or fields) current,
seeing the cluster through the ``Client`` protocol only:

* **List, then watch** from the list's revision. Events move the copy forward; an event older than the
  object the copy holds (a relist raced the watch) is ignored, so the copy never goes back in time.
* **410 Gone** (the revision left the masters' watch window) relists at once. Any other failure of the
  list or the watch waits a backoff and then relists, or resumes the watch from the last revision
  (``InformerSettings.relist_on_error``); a stream that ends cleanly is resumed (or relisted:
  ``relist_on_end``).
* **Handlers** ``(old, new)`` see every change in the order it happened (None old: added; None new:
  deleted; ``EventHandlers`` splits them into add/update/delete), called under the store's lock from the
  thread that made the change: they must be quick. Relist handlers run after every (re)list.
* **Periods**, optional: relist every ``relist_period_s``; re-deliver every cached object to the handlers
  as ``(obj, obj)`` every ``resync_period_s`` (``tick``, on a thread of its own; deadlines come from the
  injected clock, so a test drives them with a fake one).
* **A thread-safe store** (``Store``) keyed by (namespace, name), with indexers.
* **A stop event**, injectable so that the informers of one owner stop together.

Used by the controllers (``controllers/base.py``: one informer per kind for a leadership term), the proxy
(services and endpoints) and the kubelet (the pods bound to a minion; one informer feeds every hollow
kubelet of a process).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Hashable, Iterable

from raftkube.client import Client
from raftkube.model.errors import ApiError, Gone
from raftkube.model.objects import name_of, namespace_of, rv_of

log = logging.getLogger(__name__)

ObjKey = tuple[str, str]  # (namespace, name)
Handler = Callable[[dict | None, dict | None], None]  # (old, new): None old = added, None new = deleted
IndexFunc = Callable[[dict], Iterable[Hashable]]  # an object -> the values it is indexed under


def obj_key(obj: dict) -> ObjKey:
    return namespace_of(obj), name_of(obj)


@dataclass(frozen=True)
class EventHandlers:
    """A handler from separate add/update/delete callbacks (each optional)."""

    on_add: Callable[[dict], None] | None = None
    on_update: Callable[[dict, dict], None] | None = None
    on_delete: Callable[[dict], None] | None = None

    def __call__(self, old: dict | None, new: dict | None) -> None:
        if old is None:
            if new is not None and self.on_add is not None:
                self.on_add(new)
        elif new is None:
            if self.on_delete is not None:
                self.on_delete(old)
        elif self.on_update is not None:
            self.on_update(old, new)


@dataclass(frozen=True)
class InformerSettings:
    """How an informer lists, watches and recovers."""

    retry_s: float = 1.0
    """Wait after a failed list or watch (not 410 Gone, which relists at once); doubled for each further
    failure in a row up to ``max_retry_s``. A delivered event ends the row."""
    max_retry_s: float = 1.0
    relist_on_error: bool = True
    """After a failed list or watch, relist; False resumes the watch from the last revision seen."""
    relist_on_end: bool = False
    """After a watch stream ended without an error, relist; False resumes from the last revision."""
    relist_period_s: float = 0.0
    """Relist this long after the last list (0: never on a timer)."""
    resync_period_s: float = 0.0
    """Re-deliver every cached object to the handlers as ``(obj, obj)`` this often (0: never)."""


class Store:
    """Objects of one kind by (namespace, name), with indices; safe to use from any thread.

    ``indexers``: index name -> function giving the values an object is filed under (``by_index``)."""

    def __init__(self, indexers: dict[str, IndexFunc] | None = None):
        self.lock = threading.RLock()
        self._objects: dict[ObjKey, dict] = {}
        self._indexers = dict(indexers or {})
        self._indices: dict[str, dict[Hashable, dict[ObjKey, dict]]] = {name: {} for name in self._indexers}

    def get(self, key: ObjKey) -> dict | None:
        with self.lock:
            return self._objects.get(key)

    def items(self) -> list[dict]:
        with self.lock:
            return list(self._objects.values())

    def snapshot(self) -> dict[ObjKey, dict]:
        """Key -> object, a copy."""
        with self.lock:
            return dict(self._objects)

    def __len__(self) -> int:
        with self.lock:
            return len(self._objects)

    def by_index(self, index: str, value: Hashable) -> list[dict]:
        """The objects filed under ``value`` in ``index``."""
        with self.lock:
            return list((self._indices[index].get(value) or {}).values())

    def index_values(self, index: str) -> list[Hashable]:
        """The values of ``index`` that have objects."""
        with self.lock:
            return list(self._indices[index])

    def put(self, key: ObjKey, obj: dict) -> dict | None:
        """Store ``obj`` under ``key``; returns what was there."""
        with self.lock:
            old = self._objects.get(key)
            if old is not None:
                self._unindex(key, old)
            self._objects[key] = obj
            for name, fn in self._indexers.items():
                for value in fn(obj):
                    self._indices[name].setdefault(value, {})[key] = obj
            return old

    def delete(self, key: ObjKey) -> dict | None:
        """Remove ``key``; returns what was there."""
        with self.lock:
            old = self._objects.pop(key, None)
            if old is not None:
                self._unindex(key, old)
            return old

    def _unindex(self, key: ObjKey, obj: dict) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in fn(obj):
                bucket = index.get(value)
                if bucket is not None:
                    bucket.pop(key, None)
                    if not bucket:
                        del index[value]


class _Local:
    """An event made from the result of our own write (``store_local``)."""

    __slots__ = ("type", "object", "revision")

    def __init__(self, type_: str, obj: dict, revision: int):
        self.type, self.object, self.revision = type_, obj, revision


class Informer:
    """A local copy of one kind, kept current by a list + watch; see the module's docstring."""

    def __init__(self, client: Client, kind: str, handler: Handler | None = None, *, namespace: str | None = None,
                 labels: str = "", fields: str = "", settings: InformerSettings = InformerSettings(),
                 indexers: dict[str, IndexFunc] | None = None, stop: threading.Event | None = None,
                 clock: Callable[[], float] = time.monotonic, shared: bool = False, name: str = "informer"):
        """``stop``: the event that ends the watch (a new one if None); ``shared``: owned by a set of
        informers serving several users, which starts and stops it; ``name`` prefixes the log lines."""
        self.client = client
        self.kind = kind
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.settings = settings
        self.clock = clock
        self.shared = shared
        self.name = name
        self.store = Store(indexers)
        self.lock = self.store.lock
        self.handlers: list[Handler] = [handler] if handler is not None else []
        self.relist_handlers: list[Callable[[], None]] = []
        self.revision = 0
        self.synced = threading.Event()  # set once the first list is in
        self.stop_event = stop if stop is not None else threading.Event()
        self.threads: list[threading.Thread] = []
        self._watch = None
        self._listed_at = float("-inf")
        self._next_relist: float | None = None
        self._next_resync: float | None = None

    # ---- handlers ---------------------------------------------------------------------------
    def add_handler(self, handler: Handler) -> None:
        with self.lock:
            self.handlers.append(handler)

    def add_relist_handler(self, fn: Callable[[], None]) -> None:
        """``fn()`` after every (re)list, once its changes went to the handlers (outside the lock)."""
        with self.lock:
            self.relist_handlers.append(fn)

    def _notify(self, old: dict | None, new: dict | None) -> None:
        for handler in self.handlers:
            handler(old, new)

    # ---- the store --------------------------------------------------------------------------
    def items(self) -> list[dict]:
        return self.store.items()

    def get(self, key: ObjKey) -> dict | None:
        return self.store.get(key)

    def by_index(self, index: str, value: Hashable) -> list[dict]:
        return self.store.by_index(index, value)

    def index_values(self, index: str) -> list[Hashable]:
        return self.store.index_values(index)

    # ---- changes ----------------------------------------------------------------------------
    def relist(self, max_age_s: float = 0.0) -> None:
        """List from the client and bring the copy to it; with ``max_age_s``, a list that recent is reused
        (several users of one informer all relist when they start)."""
        now = self.clock()
        if max_age_s and self.synced.is_set() and now - self._listed_at < max_age_s:
            return
        self._listed_at = now
        items, revision = self.client.list(self.kind, namespace=self.namespace, labels=self.labels,
                                           fields=self.fields)
        listed = {obj_key(o): o for o in items}
        with self.lock:
            for key, old in self.store.snapshot().items():
                if key not in listed and rv_of(old) <= revision:
                    self.store.delete(key)
                    self._notify(old, None)
            for key, new in listed.items():
                old = self.store.get(key)
                if old is None or rv_of(new) > rv_of(old):
                    self.store.put(key, new)
                    self._notify(old, new)
            self.revision = max(self.revision, revision)
            self.synced.set()
            if self.settings.relist_period_s > 0:
                self._next_relist = now + self.settings.relist_period_s
            relist_handlers = list(self.relist_handlers)
        for fn in relist_handlers:
            fn()

    def apply(self, ev) -> None:
        """One watch event (``type``, ``object``, ``revision``)."""
        obj = ev.object
        key = obj_key(obj)
        with self.lock:
            self.revision = max(self.revision, ev.revision)
            old = self.store.get(key)
            if old is not None and rv_of(old) > ev.revision:
                return  # a relist already saw something newer
            if ev.type == "DELETED":
                if old is None:
                    return
                self.store.delete(key)
                self._notify(old, None)
            else:
                self.store.put(key, obj)
                self._notify(old, obj)

    def store_local(self, obj: dict, deleted: bool = False) -> None:
        """Record the result of our own write at once (the watch confirms it later): no double writes."""
        self.apply(_Local("DELETED" if deleted else "MODIFIED", obj, rv_of(obj)))

    def resync(self) -> None:
        """Deliver every cached object to the handlers again, as ``(obj, obj)``."""
        with self.lock:
            for obj in self.store.items():
                self._notify(obj, obj)

    # ---- the watch --------------------------------------------------------------------------
    def _backoff_s(self, failures: int) -> float:
        return min(self.settings.retry_s * 2 ** (failures - 1), self.settings.max_retry_s)

    def run(self) -> None:
        """List (unless a list is in already), then watch until the stop event; recovers as configured."""
        stop = self.stop_event
        s = self.settings
        relist = not self.synced.is_set()
        failures = 0
        while not stop.is_set():
            try:
                if relist:
                    self.relist()
                    relist = False
                self._watch = self.client.watch(self.kind, namespace=self.namespace, labels=self.labels,
                                                fields=self.fields, resource_version=self.revision)
                if stop.is_set():
                    break
                for ev in self._watch:
                    if stop.is_set():
                        break
                    if ev is not None:
                        self.apply(ev)
                        failures = 0
                else:
                    if stop.is_set():
                        break
                    log.info("%s: watch of %s ended; %s after revision %d", self.name, self.kind,
                             "relisting" if s.relist_on_end else "resuming", self.revision)
                    relist = s.relist_on_end
            except Gone:
                if stop.is_set():
                    break
                log.info("%s: watch of %s: revision %d is gone (410); relisting", self.name, self.kind,
                         self.revision)
                relist = True
            except Exception as exc:  # noqa: BLE001 - never let a watch thread die
                if stop.is_set():
                    break
                failures += 1
                delay = self._backoff_s(failures)
                relist = relist or s.relist_on_error
                then = "relisting" if relist else f"resuming from revision {self.revision}"
                if isinstance(exc, ApiError):
                    log.warning("%s: watch of %s failed (%s); %s in %.1fs", self.name, self.kind, exc, then, delay)
                else:
                    log.exception("%s: watch of %s crashed; %s in %.1fs", self.name, self.kind, then, delay)
                stop.wait(delay)
            finally:
                self.close()

    def close(self) -> None:
        """End the current watch stream (the loop goes on unless the stop event is set)."""
        w, self._watch = self._watch, None
        if w is not None:
            try:
                w.close()  # HttpClient's close wakes the reading thread at once
            except Exception:  # noqa: BLE001 - closing a broken stream
                pass

    # ---- periods ----------------------------------------------------------------------------
    def tick(self, now: float) -> float:
        """Run the periodic relist or resync due at ``now``; returns the seconds until the next is due."""
        s = self.settings
        periods = [p for p in (s.relist_period_s, s.resync_period_s) if p > 0]
        if not periods:
            return float("inf")
        if not self.synced.is_set():
            return min(periods)
        if s.relist_period_s > 0:
            if self._next_relist is None:
                self._next_relist = now + s.relist_period_s
            if now >= self._next_relist:
                try:
                    self.relist()  # sets the next deadline
                except Exception as exc:  # noqa: BLE001 - the watch thread recovers; try again soon
                    log.warning("%s: periodic relist of %s failed: %s", self.name, self.kind, exc)
                    self._next_relist = now + s.retry_s
        if s.resync_period_s > 0:
            if self._next_resync is None:
                self._next_resync = now + s.resync_period_s
            if now >= self._next_resync:
                self._next_resync = now + s.resync_period_s
                self.resync()
        deadlines = [d for d in (self._next_relist, self._next_resync) if d is not None]
        return max(min(deadlines) - now, 0.0)

    def _periodic(self) -> None:
        while not self.stop_event.wait(self.tick(self.clock())):
            pass

    # ---- threads ----------------------------------------------------------------------------
    def start(self, thread_name: str = "") -> "Informer":
        """The watch in a thread named ``thread_name`` (and ``<name>-resync`` when a period is set)."""
        name = thread_name or f"informer-{self.kind.lower()}"
        threads = [threading.Thread(target=self.run, name=name, daemon=True)]
        if self.settings.relist_period_s > 0 or self.settings.resync_period_s > 0:
            threads.append(threading.Thread(target=self._periodic, name=f"{name}-resync", daemon=True))
        self.threads += threads
        for t in threads:
            t.start()
        return self

    def stop(self, timeout_s: float = 0.0) -> None:
        """Set the stop event, end the watch, and wait up to ``timeout_s`` for the threads."""
        self.stop_event.set()
        self.close()
        if timeout_s > 0:
            deadline = time.monotonic() + timeout_s
            for t in self.threads:
                t.join(max(deadline - time.monotonic(), 0.0))
