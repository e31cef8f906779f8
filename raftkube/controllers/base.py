"""What every controller shares: informers (``raftkube.informer``), one per kind for a term, and the run loop.

A controller is level-triggered: ``sync_once()`` relists its informers from the client (the store is the
truth) and reconciles everything. It runs at start and every ``relist_period_s``; in between, watch events
keep the informers current and wake the loop, which calls ``reconcile()`` on the cached state, and so does
the periodic resync every ``resync_period_s``. A write answered ``NotLeader`` means this
master was deposed: the controller stops.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Callable

from raftkube.controllers.stats import ControllerStats
from raftkube.informer import Handler, Informer, InformerSettings, ObjKey, obj_key
from raftkube.model.errors import ApiError, Conflict, NotFound, NotLeader
from raftkube.model.objects import namespace_of, name_of, uid_of

log = logging.getLogger(__name__)

__all__ = ["Controller", "LabelIndex", "ObjKey", "SharedInformers", "WATCH", "obj_key"]  # ObjKey, obj_key: re-exported

#: how the controllers' informers recover: a failed watch relists after 0.2, 0.4, ... s, up to 5 s
WATCH = InformerSettings(retry_s=0.2, max_retry_s=5.0)



def delete_by_uid(client, informer: Informer, obj: dict) -> bool:
    """Delete ``obj`` only if its name still holds this very object (its uid is the precondition), then drop it
    from ``informer``'s cache. True when it is gone (now or already); False after a refusal, which is logged
    (a Conflict: the name belongs to a newer object now). NotLeader propagates: the controller stops."""
    kind, what = informer.kind, f"{namespace_of(obj)}/{name_of(obj)}"
    try:
        client.delete(kind, name_of(obj), namespace_of(obj), uid=uid_of(obj))
    except NotLeader:
        raise
    except NotFound:
        pass
    except Conflict:
        log.info("%s %s: not deleted, the name now belongs to another object", kind, what)
        return False
    except ApiError as exc:
        log.warning("%s %s: delete failed: %s", kind, what, exc)
        return False
    informer.store_local(obj, deleted=True)
    return True


class SharedInformers:
    """One informer per kind for all the controllers of a leadership term: one watch and one decoded copy
    of each object instead of one per controller (measured: the controllers' separate pod watches cost the
    leader about a quarter of its create throughput)."""

    def __init__(self, client):
        self.client = client
        self._by_kind: dict[str, Informer] = {}
        self._stop = threading.Event()

    def get(self, kind: str, handler: Handler | None = None) -> Informer:
        informer = self._by_kind.get(kind)
        if informer is None:
            informer = self._by_kind[kind] = Informer(self.client, kind, shared=True, settings=WATCH,
                                                      stop=self._stop, name="controllers")
        if handler is not None:
            informer.add_handler(handler)
        return informer

    def start(self) -> "SharedInformers":
        for kind, informer in self._by_kind.items():
            informer.start(f"ctrl-watch-{kind.lower()}")
        return self

    def stop(self) -> None:
        self._stop.set()
        for informer in self._by_kind.values():
            informer.close()


class LabelIndex:
    """Pods grouped by (namespace, label set): selecting for 30 controllers over 3,000 pods matches each
    distinct label set once instead of every pod."""

    def __init__(self):
        self._groups: dict[str, dict[frozenset, tuple[dict, dict[str, dict]]]] = {}
        self.lock = threading.RLock()

    @staticmethod
    def _where(obj: dict) -> tuple[str, frozenset]:
        return namespace_of(obj), frozenset(((obj.get("metadata") or {}).get("labels") or {}).items())

    def update(self, old: dict | None, new: dict | None) -> None:
        with self.lock:
            if old is not None:
                ns, ls = self._where(old)
                group = self._groups.get(ns, {}).get(ls)
                if group is not None:
                    group[1].pop(name_of(old), None)
                    if not group[1]:
                        del self._groups[ns][ls]
            if new is not None:
                ns, ls = self._where(new)
                groups = self._groups.setdefault(ns, {})
                if ls not in groups:
                    groups[ls] = (dict(ls), {})
                groups[ls][1][name_of(new)] = new

    def select(self, namespace: str, selector) -> list[dict]:
        """Objects of ``namespace`` whose labels match ``selector`` (a LabelSelector)."""
        out: list[dict] = []
        with self.lock:
            for labels, members in (self._groups.get(namespace) or {}).values():
                if selector.matches(labels):
                    out.extend(members.values())
        return out


class Controller:
    """The loop around ``sync_once``/``reconcile``: wake-ups from watches, periodic full resync."""

    name = "controller"
    #: after a wake-up, wait this long so a burst of events is handled by one reconcile
    debounce_s = 0.02
    #: a controller with a work queue: a method returning its length (``raftkube_controller_queue_depth``)
    queue_depth = None

    def __init__(self, client, *, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None, resync_period_s: float = 10.0, relist_period_s: float = 300.0,
                 informers: SharedInformers | None = None):
        self.client = client
        self._shared = informers
        self.clock = clock
        self.rng = rng or random.Random()
        self.resync_period_s = resync_period_s
        self.relist_period_s = relist_period_s
        self.informers: list[Informer] = []
        self.stop_event = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self.stats = ControllerStats()  # the manager gives it the process-wide one of its name

    def informer(self, kind: str, handler: Handler | None = None) -> Informer:
        """This controller's view of a kind: the term's shared informer when there is one, else its own."""
        if self._shared is not None:
            return self._shared.get(kind, handler)
        return Informer(self.client, kind, handler, settings=WATCH, stop=self.stop_event, name=self.name)

    # ---- what subclasses provide ------------------------------------------------------------
    def reconcile(self) -> None:
        raise NotImplementedError

    def next_deadline_s(self) -> float | None:
        """Seconds until the controller wants to run again on its own (backoff expiry), or None."""
        return None

    # ---- driving ----------------------------------------------------------------------------
    def sync_once(self) -> None:
        """List everything from the client, then reconcile: the level-triggered unit of work."""
        for informer in self.informers:
            informer.relist(max_age_s=1.0 if informer.shared else 0.0)
        self.reconcile()

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> "Controller":
        t = threading.Thread(target=self.run, name=f"ctrl-{self.name}", daemon=True)
        self._threads.append(t)
        t.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self._wake.set()
        for informer in self.informers:
            if not informer.shared:  # shared ones belong to the manager's term
                informer.close()

    def join(self, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(deadline - time.monotonic(), 0.0))

    def _timed(self, fn) -> None:
        """``fn()`` (a sync), its duration and whether it raised counted in ``stats``."""
        t0 = time.perf_counter()
        ok = False
        try:
            fn()
            ok = True
        finally:
            self.stats.synced(time.perf_counter() - t0, ok)

    def run(self) -> None:
        stop = self.stop_event
        try:
            while not stop.is_set():  # first full sync; retried until it works
                try:
                    self._timed(self.sync_once)
                    break
                except NotLeader:
                    raise
                except ApiError as exc:
                    log.warning("%s: initial sync failed: %s", self.name, exc)
                    stop.wait(0.5)
            for informer in self.informers:
                if informer.shared:  # watched once for every controller by SharedInformers
                    continue
                self._threads += informer.start(f"ctrl-{self.name}-watch-{informer.kind.lower()}").threads
            next_resync = time.monotonic() + self.resync_period_s
            next_relist = time.monotonic() + self.relist_period_s
            while not stop.is_set():
                timeout = next_resync - time.monotonic()
                own = self.next_deadline_s()
                if own is not None:
                    timeout = min(timeout, own)
                self._wake.wait(max(timeout, 0.0))
                if stop.is_set():
                    break
                if self._wake.is_set():
                    stop.wait(self.debounce_s)
                    self._wake.clear()
                try:
                    # The periodic resync reconciles the watch-fed caches; relisting from the store (decoding
                    # every object, which holds the GIL for a while and once starved the Raft tick thread into
                    # elections) is a rare safety net: watches that fail relist on their own.
                    now = time.monotonic()
                    if now >= next_relist:
                        next_relist = now + self.relist_period_s
                        next_resync = now + self.resync_period_s
                        self._timed(self.sync_once)
                    else:
                        if now >= next_resync:
                            next_resync = now + self.resync_period_s
                        self._timed(self.reconcile)
                except NotLeader:
                    raise
                except ApiError as exc:
                    log.warning("%s: sync failed: %s", self.name, exc)
                    stop.wait(0.2)
                except Exception:  # a bug in one pass must not end the controller
                    log.exception("%s: sync crashed; retrying", self.name)
                    stop.wait(1.0)
        except NotLeader as exc:
            log.info("%s: no longer leader (%s); stopping", self.name, exc)
            self.stop()
        except Exception:
            log.exception("%s crashed; stopping", self.name)
            self.stop()
