"""One master process: Raft replica of the store + REST API (+ the controller manager on the leader)."""

from __future__ import annotations

import gc
import logging
import os
import resource
import sys
import threading

from prometheus_client import CollectorRegistry

from raftkube.api.app import create_app
from raftkube.api.auth import Authenticator
from raftkube.api.revocations import RevocationList
from raftkube.api.server import ApiServer
from raftkube.api.tls import SecureServer
from raftkube.api.watchpump import PumpLimits, WatchPump
from raftkube.config import ClusterConfig, ConfigError, MasterConfig, is_loopback, read_or_create_secret
from raftkube.controllers.manager import ControllerManager
from raftkube.pki import Pki
from raftkube.registry import LocalClient, Registry
from raftkube.state.journal import JournalCorrupt
from raftkube.state.members import record
from raftkube.state.raft import NotAMember, RaftStore
from raftkube.state.syncobj import UnsupportedLibrary

log = logging.getLogger(__name__)

#: the cyclic collector's thresholds in a master (Python's default is (700, 10, 10)); measured in an interleaved
#: A/B at 32 concurrent creates: +9% creates/s, -7% CPU per create
GC_THRESHOLDS = (20_000, 20, 20)


def choose_cpu(setting: str, index: int, allowed: set[int], where: str = "") -> int | None:
    """The CPU a master runs on for its ``cpu`` setting (config.py), or None to leave it to the kernel.

    ``index`` is the master's place in ``[[masters]]``; ``allowed`` the CPUs the process may use.
    """
    if setting == "none" or len(allowed) < 2:
        return None
    if setting == "auto":
        return sorted(allowed)[index % len(allowed)]
    cpu = int(setting)
    if cpu not in allowed:
        raise ConfigError(f"{where}masters[{index}].cpu: CPU {cpu} is not one this process may use "
                          f"({', '.join(map(str, sorted(allowed)))})")
    return cpu


def pin_process(cpu: int) -> None:
    """Run every thread of this process, and every thread it starts later, on ``cpu``.

    A master's threads take turns holding the GIL: each request passes it between the waitress loop, a worker
    and the Raft tick thread several times. Spread over CPUs, every hand-off wakes a thread on another CPU
    (an inter-processor interrupt; in a VM, an exit to the hypervisor) and moves the interpreter's working set
    between caches; on one CPU the next thread runs when the current one blocks. Measured with three masters
    on two CPUs, 32 concurrent creates: 15-30% more creates/s for 15-25% less CPU per create (bench/README.md).
    """
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), {cpu})
        except ProcessLookupError:  # a thread that just ended
            pass


def raise_fd_limit() -> None:
    """The soft limit of open files up to the hard one (often 1 024 of 524 288): watches are connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            log.warning("cannot raise the open files limit from %d to %d", soft, hard)


class StartError(Exception):
    """This master cannot start (a damaged data directory, an unsupported library): the message says why."""


def seed_of(config: ClusterConfig) -> dict[str, dict]:
    """The member list a new cluster starts with: cluster.toml's masters (state/members.py records)."""
    return {m.name: record(m.name, m.host, m.api_port, m.raft_port, m.secure_port) for m in config.masters}


def master_config(config: ClusterConfig, rec: dict) -> MasterConfig:
    """A member's settings: its record's addresses (the replicated list wins over cluster.toml), cluster.toml's
    ``cpu`` if it lists the master."""
    listed = next((m for m in config.masters if m.name == rec["name"]), None)
    return MasterConfig(rec["name"], rec["host"], rec["apiPort"], rec["raftPort"],
                        cpu=listed.cpu if listed is not None else "auto", secure_port=rec.get("securePort", 0))


class Master:
    def __init__(self, config: ClusterConfig, name: str, seed: dict[str, dict] | None = None):
        """``seed``: the member list to start a new data directory with (what ``--join`` learned from the
        cluster); default cluster.toml's masters. A data directory's own member list wins over both."""
        self.config = config
        self.seed = seed if seed is not None else seed_of(config)
        if name in self.seed:
            self.me = master_config(config, self.seed[name])
        elif config.master_dir(name).is_dir() and any(config.master_dir(name).iterdir()):
            self.me = MasterConfig(name)  # a joined master's restart: its data directory's list says where it is
        else:
            raise StartError(f"master {name} is not in {config.path} and has no data directory "
                             f"({config.master_dir(name)}): a new master starts with --join URL")
        self.store: RaftStore | None = None
        self.server: ApiServer | None = None
        self.secure_server: SecureServer | None = None
        self.controllers: ControllerManager | None = None
        self.watch_pump: WatchPump | None = None

    def _check_plain_only_on_loopback(self, me: MasterConfig) -> None:
        cfg = self.config
        if is_loopback(me.host) or me.secure_port:
            return
        listed = [m.name for m in cfg.masters]
        where = (f"masters[{listed.index(me.name)}].secure_port is not set in {cfg.path}" if me.name in listed else
                 "its secure_port is not set (`raftkube members add --secure-port`)")
        raise StartError(
            f"master {me.name}: host {me.host!r} is not a loopback address and {where}: the plain-HTTP API is for "
            f"loopback only (no TLS, no credentials); set secure_port (and run `raftkube init`) to serve other "
            f"hosts over TLS")

    def start(self) -> "Master":
        cfg, me = self.config, self.me
        self._check_plain_only_on_loopback(me)
        if hasattr(os, "sched_setaffinity"):  # Linux
            cpu = choose_cpu(me.cpu, sorted({*self.seed, me.name}).index(me.name), os.sched_getaffinity(0),
                             f"{cfg.path}: ")
            if cpu is not None:
                pin_process(cpu)  # first, so that every thread started below inherits it
                log.info("master %s runs on CPU %d (cpu = %r)", me.name, cpu, me.cpu)
        # The Raft tick thread shares the GIL with every API and controller thread. With the default 5 ms
        # switch interval a busy API starved it past the election timeout (leader changes under load);
        # a shorter interval lets it in promptly for a small throughput cost.
        sys.setswitchinterval(cfg.raft.gil_switch_interval_s)
        # Every request allocates thousands of short-lived containers; with the default thresholds (700, 10, 10)
        # the collector ran so often that it took ~5% of a master's CPU (perf) under a write load. Objects
        # that live for the whole process (modules, config) are frozen out of every collection.
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        pki = Pki(cfg.pki_dir)
        if me.secure_port and not all(p.exists() for p in (pki.ca_cert, *pki.master(me.name))):
            raise StartError(f"master {me.name}: secure_port is set but {pki.master(me.name)[0]} or {pki.ca_cert} "
                             f"is missing: run `raftkube init --config {cfg.path}` first")
        secret = read_or_create_secret(cfg.secret_file)
        peers = {n: f"{r['host']}:{r['raftPort']}" for n, r in self.seed.items() if n != me.name}
        try:
            self.store = RaftStore(me.name, me.raft_address, peers, cfg.master_dir(me.name), secret, cfg.raft,
                                   fsync=cfg.fsync, quota_bytes=cfg.quota_bytes, seed=self.seed)
        except (JournalCorrupt, UnsupportedLibrary, NotAMember) as exc:
            raise StartError(f"master {me.name}: {exc}") from None
        members = self.store.members()["members"]
        self.me = me = master_config(cfg, self.store.member(me.name))  # the data directory's list wins
        try:
            self._check_plain_only_on_loopback(me)
        except StartError:
            self.store.close()
            raise
        if os.environ.get("RAFTKUBE_UNSAFE_STALE_READS") == "1":  # only `raftkube verify`'s checker test sets it
            self.store.unsafe_stale_reads = True
            log.warning("UNSAFE: RAFTKUBE_UNSAFE_STALE_READS=1: reads skip the read index and may be stale")
        registry = Registry(self.store, quota_bytes=cfg.quota_bytes, max_object_bytes=cfg.max_object_bytes)
        raise_fd_limit()  # every open watch is a connection
        self.watch_pump = WatchPump(registry, PumpLimits(cfg.api.max_watches, cfg.api.watches_per_client,
                                                         cfg.api.watch_buffer_bytes, cfg.api.watch_keepalive_s,
                                                         cfg.api.watch_stall_s, cfg.api.watch_bookmark_s))
        self.metrics = CollectorRegistry()  # this process's Prometheus metrics, served on /metrics
        app = create_app(registry, self.store, cfg.api, metrics=self.metrics,
                         masters=[(m["name"], m["apiUrl"]) for m in members if m["apiUrl"]],
                         authenticator=Authenticator(pki.tokens, revoked=RevocationList(registry, self.store).revoked),
                         admission=cfg.admission, watch_pump=self.watch_pump,
                         secure_urls={m["name"]: m["secureUrl"] for m in members if m["secureUrl"]})
        if me.secure_port:  # first: once the plain port answers (readiness checks use it), so does this one
            cert, key = pki.master(me.name)
            self.secure_server = SecureServer(app, me.host, me.secure_port, cfg.api.threads, str(cert), str(key),
                                              str(pki.ca_cert), cfg.api.connection_limit,
                                              cfg.api.read_timeout_s, cfg.api.connections_per_client).start()
        self.server = ApiServer(app, me.plain_host, me.api_port, cfg.api.threads, cfg.api.connection_limit,
                                cfg.api.read_timeout_s, cfg.api.idle_timeout_s, cfg.api.connections_per_client).start()
        self.controllers = ControllerManager(lambda epoch: LocalClient(registry, epoch), self.store.leadership,
                                             cfg.controllers).start()
        if cfg.api.metrics:  # scraped with the API's and the store's metrics
            from raftkube.controllers.metrics import ControllerCollector
            self.metrics.register(ControllerCollector(self.controllers.stats))
        log.info("master %s: API on %s, Raft on %s, data in %s", me.name, me.api_url, me.raft_address,
                 cfg.master_dir(me.name))
        return self

    def stop(self) -> None:
        log.info("master %s stopping", self.me.name)
        if self.controllers is not None:
            self.controllers.stop()
        if self.store is not None:
            self.store.close_watches()  # ends open watch streams
        if self.watch_pump is not None:
            self.watch_pump.close()
        if self.server is not None:
            self.server.close()
        if self.secure_server is not None:
            self.secure_server.close()
        if self.store is not None:
            self.store.close()
        log.info("master %s stopped", self.me.name)


def run_master(config: ClusterConfig, name: str, stop: threading.Event, seed: dict[str, dict] | None = None) -> None:
    master = Master(config, name, seed).start()
    try:
        stop.wait()
    finally:
        master.stop()
