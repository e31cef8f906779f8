"""The controller manager: started by every master, runs the controllers only while this master leads.

It waits on the store's ``Leadership``: when an epoch appears (this master is leader and has committed
its own claim, so its local state is current), it starts the scheduler, replication manager, endpoints,
node lifecycle, event and pod garbage collectors, the namespace controller and the owner garbage collector
(cascading deletes) with an in-process client whose writes carry that epoch.
When leadership goes, it stops them at once; a write already on its way is rejected by the state machine
(NotLeader).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Callable

from raftkube.config import ControllersConfig
from raftkube.controllers.base import Controller, SharedInformers
from raftkube.controllers.endpoints import EndpointsController
from raftkube.controllers.event_gc import EventGarbageCollector
from raftkube.controllers.events import EventRecorder
from raftkube.controllers.namespaces import NamespaceController
from raftkube.controllers.nodes import NodeLifecycleController
from raftkube.controllers.owner_gc import OwnerGarbageCollector
from raftkube.controllers.pod_gc import PodGarbageCollector
from raftkube.controllers.replication import ReplicationManager
from raftkube.controllers.scheduler import Scheduler
from raftkube.controllers.stats import ProcessStats

log = logging.getLogger(__name__)


def build_controllers(client, config: ControllersConfig, *, rng: random.Random | None = None,
                      clock: Callable[[], float] = time.monotonic,
                      wall_clock: Callable[[], float] = time.time) -> tuple[list[Controller], list]:
    """The controllers of one leadership term, over ``client``; returns (controllers, other stoppables)."""
    rng = rng or random.Random()
    shared = SharedInformers(client)  # one watch per kind for all of them
    events = EventRecorder(client, "scheduler", threads=2, name="scheduler-events")
    controllers: list[Controller] = [
        Scheduler(client, clock=clock, rng=random.Random(rng.random()), resync_period_s=config.resync_period_s,
                  relist_period_s=config.relist_period_s, informers=shared, binders=config.workers,
                  backoff_initial_s=config.scheduler_backoff_initial_s,
                  backoff_max_s=config.scheduler_backoff_max_s, events=events),
        ReplicationManager(client, clock=clock, rng=random.Random(rng.random()),
                           resync_period_s=config.resync_period_s, relist_period_s=config.relist_period_s,
                           workers=config.workers, burst=config.replica_burst, informers=shared),
        EndpointsController(client, clock=clock, resync_period_s=config.resync_period_s,
                            relist_period_s=config.relist_period_s, informers=shared),
        NodeLifecycleController(client, clock=wall_clock, resync_period_s=config.resync_period_s,
                                relist_period_s=config.relist_period_s, informers=shared,
                                grace_period_s=config.node_grace_period_s,
                                eviction_delay_s=config.pod_eviction_delay_s,
                                check_period_s=config.node_monitor_period_s),
        EventGarbageCollector(client, clock=wall_clock, ttl_s=config.event_ttl_s,
                              resync_period_s=config.resync_period_s, relist_period_s=config.relist_period_s,
                              informers=shared),
        PodGarbageCollector(client, clock=clock, threshold=config.terminated_pod_gc_threshold,
                            orphan_grace_s=config.node_grace_period_s, resync_period_s=config.resync_period_s,
                            relist_period_s=config.relist_period_s, informers=shared),
        NamespaceController(client, clock=clock, resync_period_s=config.resync_period_s,
                            relist_period_s=config.relist_period_s, informers=shared),
        OwnerGarbageCollector(client, clock=clock, resync_period_s=config.resync_period_s,
                              relist_period_s=config.relist_period_s, informers=shared),
    ]
    return controllers, [events, shared]


class ControllerManager:
    """``client_for(epoch)`` is the client of one leadership term: its writes carry that epoch (the master
    passes ``lambda epoch: LocalClient(registry, epoch)``)."""

    def __init__(self, client_for: Callable[[int], object], leadership, config: ControllersConfig, *,
                 rng: random.Random | None = None):
        self.client_for = client_for
        self.leadership = leadership
        self.config = config
        self.rng = rng or random.Random()
        self.epoch: int | None = None
        self.controllers: list[Controller] = []
        self._extras: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ctrl-manager", daemon=True)
        self.stats = ProcessStats()  # what the controllers counted, across terms (for /metrics)
        self.stats.active = lambda: self.active

    def start(self) -> "ControllerManager":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        old = self._switch(None)
        self._thread.join(timeout=5)
        for c in old:
            c.join(1.0)

    @property
    def active(self) -> bool:
        return self.epoch is not None

    def _run(self) -> None:
        generation = -1
        while not self._stop.is_set():
            generation, epoch = self.leadership.wait_change(generation, 1.0)
            if self._stop.is_set():
                break
            try:
                self._switch(epoch)
            except Exception:
                log.exception("controller manager: switching to epoch %s failed", epoch)

    def _switch(self, epoch: int | None) -> list[Controller]:
        """Stop the controllers of the previous term (without waiting for them) and start this term's."""
        if epoch == self.epoch:
            return []
        old, old_extras = self.controllers, self._extras
        for c in old:  # at once: no more writes from the old term
            c.stop()
        for x in old_extras:
            x.stop()
        self.controllers, self._extras, self.epoch = [], [], epoch
        if epoch is not None and not self._stop.is_set():
            client = self.client_for(epoch)
            self.controllers, self._extras = build_controllers(client, self.config, rng=self.rng)
            for c in self.controllers:
                c.stats = self.stats.get(c.name)
                c.stats.queue_depth = c.queue_depth
                c.start()
            for x in self._extras:
                if isinstance(x, SharedInformers):
                    x.start()
            log.info("controllers started (epoch %d): %s", epoch, ", ".join(c.name for c in self.controllers))
        elif old:
            log.info("controllers stopped: no longer leader")
        return old
