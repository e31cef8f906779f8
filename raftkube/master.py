"""One master process: Raft replica of the store + REST API (+ the controller manager on the leader)."""

from __future__ import annotations

import gc
import logging
import sys
import threading

from raftkube.api.app import create_app
from raftkube.api.server import ApiServer
from raftkube.config import ClusterConfig, read_or_create_secret
from raftkube.controllers.manager import ControllerManager
from raftkube.registry import Registry
from raftkube.state.raft import RaftStore

log = logging.getLogger(__name__)

#: the cyclic collector's thresholds in a master (Python's default is (700, 10, 10)); measured in an interleaved
#: A/B at 32 concurrent creates: +9% creates/s, -7% CPU per create
GC_THRESHOLDS = (20_000, 20, 20)


class _QuietDuplicateAppend(logging.Filter):
    """pysyncobj 0.3.17 logs CRITICAL when a follower receives append_entries it already has (the leader
    re-sends after an immediate send plus a heartbeat). The entries are identical by Raft's log matching
    property, so nothing diverges; keep it out of the logs at DEBUG instead of CRITICAL."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("truncating already-applied log entries"):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


class Master:
    def __init__(self, config: ClusterConfig, name: str):
        self.config = config
        self.me = config.master(name)
        self.store: RaftStore | None = None
        self.server: ApiServer | None = None
        self.controllers: ControllerManager | None = None

    def start(self) -> "Master":
        cfg, me = self.config, self.me
        # The Raft tick thread shares the GIL with every API and controller thread. With the default 5 ms
        # switch interval a busy API starved it past the election timeout (leader changes under load);
        # a shorter interval lets it in promptly for a small throughput cost.
        sys.setswitchinterval(cfg.raft.gil_switch_interval_s)
        # Every request allocates thousands of short-lived containers; with the default thresholds (700, 10, 10)
        # the collector ran so often that it took ~5% of a master's CPU (perf) under a write load. Objects
        # that live for the whole process (modules, config) are frozen out of every collection.
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        logging.getLogger("pysyncobj.syncobj").addFilter(_QuietDuplicateAppend())
        secret = read_or_create_secret(cfg.secret_file)
        peers = {m.name: m.raft_address for m in cfg.masters if m.name != me.name}
        self.store = RaftStore(me.name, me.raft_address, peers, cfg.master_dir(me.name), secret, cfg.raft)
        registry = Registry(self.store)
        app = create_app(registry, self.store, cfg.api)
        self.server = ApiServer(app, me.host, me.api_port, cfg.api.threads, cfg.api.connection_limit).start()
        self.controllers = ControllerManager(registry, self.store.leadership, cfg.controllers).start()
        log.info("master %s: API on %s, Raft on %s, data in %s", me.name, me.api_url, me.raft_address,
                 cfg.master_dir(me.name))
        return self

    def stop(self) -> None:
        log.info("master %s stopping", self.me.name)
        if self.controllers is not None:
            self.controllers.stop()
        if self.store is not None:
            self.store.hub.close()  # ends open watch streams, freeing their API threads
        if self.server is not None:
            self.server.close()
        if self.store is not None:
            self.store.close()
        log.info("master %s stopped", self.me.name)


def run_master(config: ClusterConfig, name: str, stop: threading.Event) -> None:
    master = Master(config, name).start()
    try:
        stop.wait()
    finally:
        master.stop()
