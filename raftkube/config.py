"""``cluster.toml`` -> frozen dataclasses. One loader; an unknown key or a bad value is a ConfigError naming it.

Each component receives its own section. Every field has a default and a docstring-style comment, so a
minimal ``cluster.toml`` only lists the masters.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(Exception):
    """A problem with the configuration; the message names the file and the key."""


#: [cluster] quota_bytes by default: 2 GiB, etcd's default backend quota
DEFAULT_QUOTA_BYTES = 2 * 1024 ** 3
#: [cluster] max_object_bytes by default: 1.5 MiB, etcd's default request size limit
DEFAULT_MAX_OBJECT_BYTES = 1536 * 1024


@dataclass(frozen=True)
class MasterConfig:
    name: str
    #: address the API and Raft listen on (and that peers and clients use)
    host: str = "127.0.0.1"
    api_port: int = 8080
    raft_port: int = 7001
    #: the one CPU this master's process runs on: "auto" (its index in [[masters]] modulo the CPUs the process
    #: may use, so masters sharing a machine spread over its CPUs), a CPU number ("3"), or "none" (any CPU).
    #: Its threads take turns on the GIL; on one CPU a hand-off is not a cross-CPU wake-up (see master.py)
    cpu: str = "auto"
    #: the TLS API port (0: none). The plain ``api_port`` only listens on loopback; a master whose ``host`` is
    #: not a loopback address needs this (README "Security")
    secure_port: int = 0

    @property
    def raft_address(self) -> str:
        return f"{self.host}:{self.raft_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def secure_url(self) -> str:
        return f"https://{self.host}:{self.secure_port}" if self.secure_port else ""

    @property
    def plain_host(self) -> str:
        """Where the plain-HTTP API listens: ``host`` if it is a loopback address, else 127.0.0.1."""
        return self.host if is_loopback(self.host) else "127.0.0.1"


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class RaftConfig:
    #: election timeout range; a follower starts an election after U(min, max) without a heartbeat
    min_timeout_s: float = 0.3
    max_timeout_s: float = 0.6
    #: leader heartbeat period; must be below min_timeout_s / 3
    append_entries_period_s: float = 0.05
    #: a leader that hears no majority for this long steps down; below min_timeout_s so a
    #: partitioned leader steps down before a new one is elected
    leader_fallback_timeout_s: float = 0.25
    #: after each election that ends without a leader, a master's next election timeout doubles, up to this
    #: factor; hearing a leader resets it (state/election.py: starved masters stop splitting votes)
    election_backoff_cap: int = 8
    #: how often a master retries a peer it is not connected to (pysyncobj's default of 5 s makes a
    #: restarted master take seconds to rejoin, stalling elections meanwhile)
    connection_retry_s: float = 0.25
    #: snapshot + compact the log after this many entries or this many seconds
    log_compaction_min_entries: int = 5000
    log_compaction_min_time_s: float = 300.0
    #: a write not committed within this time answers 503/504 (the write may still apply later)
    write_timeout_s: float = 5.0
    #: most transactions grouped into one Raft entry, and entries in flight at once
    max_batch: int = 512
    max_inflight: int = 1
    #: Python's GIL switch interval in a master process: short, so the Raft tick thread is not starved by
    #: busy API threads (see master.py)
    gil_switch_interval_s: float = 0.001
    #: events each master keeps for watch resume; older resourceVersions get 410 Gone
    watch_ring: int = 100_000
    #: an incoming Raft connection must prove it knows the cluster secret and name its master within this time
    handshake_timeout_s: float = 5.0
    #: incoming Raft connections in their handshake at once; more are closed at once (state/raftport.py)
    max_handshakes: int = 128


@dataclass(frozen=True)
class ApiConfig:
    #: waitress (plain port) and cheroot (TLS port) worker threads per master; an open watch holds one only
    #: while its head and initial events are sent, then the watch pump serves it (api/watchpump.py)
    threads: int = 64
    #: request bodies over this size are refused with 413
    max_body_bytes: int = 3 * 1024 * 1024
    #: waitress connection limit (the plain port; open watches on it count)
    connection_limit: int = 1000
    #: connections open at once from one client address, per API port; more are answered 429 and closed
    #: (0: no limit). A watch on the TLS port stops counting once the watch pump serves it
    connections_per_client: int = 1000
    #: a request whose head and body have not all arrived this long after its first byte is cut (both ports)
    read_timeout_s: float = 30.0
    #: a connection with no request and no traffic for this long is closed (plain port: waitress'
    #: channel_timeout; the secure port's cheroot closes an idle keep-alive connection after read_timeout_s)
    idle_timeout_s: float = 120.0
    #: open watches per master (both ports); more -> 429 with Retry-After
    max_watches: int = 20_000
    #: open watches per client (user and remote address); more -> 429 with Retry-After
    watches_per_client: int = 1000
    #: unsent bytes of a watch at which the watch pump sends it no more until its client has read below it
    #: (one event is always sent to a watch below it, whatever its size)
    watch_buffer_bytes: int = 1024 * 1024
    #: a watch at watch_buffer_bytes whose client reads nothing for this long is dropped (it watches again)
    watch_stall_s: float = 30.0
    #: an idle watch stream gets filler this often (clients and proxies see it is alive)
    watch_keepalive_s: float = 15.0
    #: a v1 watch that asked for bookmarks (allowWatchBookmarks) gets a BOOKMARK this often (Kubernetes: ~1 min)
    watch_bookmark_s: float = 60.0
    #: count and time API requests and serve Prometheus metrics on /metrics
    metrics: bool = True


@dataclass(frozen=True)
class ControllersConfig:
    #: full resync period of every controller
    resync_period_s: float = 10.0
    #: relist everything from the store this often (a safety net; watch failures relist on their own)
    relist_period_s: float = 300.0
    #: a minion whose last heartbeat is older than this becomes NotReady
    node_grace_period_s: float = 40.0
    #: pods of a NotReady minion are marked Failed after this further delay
    pod_eviction_delay_s: float = 20.0
    #: how often the node lifecycle controller compares heartbeats with the grace period
    node_monitor_period_s: float = 1.0
    #: an unschedulable pod is retried after this delay, doubling up to the maximum
    scheduler_backoff_initial_s: float = 1.0
    scheduler_backoff_max_s: float = 60.0
    #: concurrent writes (binds, pod creates) per controller; they share Raft entries (group commit)
    workers: int = 16
    #: most pod creates (and, separately, deletes) one replication controller has outstanding: a sync starts at
    #: most this many, the next sync continues (Kubernetes' burstReplicas), so one controller with a huge
    #: ``replicas`` cannot flood the masters
    replica_burst: int = 500
    #: events older than this are deleted by the leader (Kubernetes: one hour)
    event_ttl_s: float = 3600.0
    #: terminated pods (Succeeded/Failed) beyond this many are deleted by the leader, oldest finished first
    #: (Kubernetes' default, 12500); 0 keeps them all. Pods of deleted minions are failed (NodeLost) and
    #: deleted whatever this says, once the minion has been missing for node_grace_period_s
    terminated_pod_gc_threshold: int = 12500


@dataclass(frozen=True)
class AdmissionConfig:
    #: may an admin create pods (and replication controllers) with ``privileged`` containers? Nobody else ever
    #: may. Off: a privileged container is root on its minion
    allow_privileged: bool = False
    #: may an admin create pods with ``hostDir`` (core/v1 ``hostPath``) volumes? Nobody else ever may. On: the
    #: 2014 examples mount host folders, and only the admin, who can do anything anyway, gets them
    allow_host_dirs: bool = True


@dataclass(frozen=True)
class ClusterConfig:
    path: Path
    masters: tuple[MasterConfig, ...]
    #: data lives under data_dir/<master name>/, relative to the config file
    data_dir: Path
    #: the Raft secret (a 0600 file, generated on first start if missing)
    secret_file: Path
    #: sync the Raft journal, the term and vote, and snapshots to disk before acknowledging anything (Raft's
    #: stable storage). false: acknowledged writes survive a process crash, not a power loss (tests only)
    fsync: bool = True
    #: the most bytes of encoded objects the store holds (etcd's quota-backend-bytes): past it, creates and
    #: growing updates are refused with 507 StoreFull; deletes and status updates still apply
    quota_bytes: int = DEFAULT_QUOTA_BYTES
    #: the most bytes one stored object may take encoded (etcd's max-request-bytes): a larger create or update
    #: is refused with 413
    max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES
    raft: RaftConfig = field(default_factory=RaftConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    controllers: ControllersConfig = field(default_factory=ControllersConfig)
    admission: AdmissionConfig = field(default_factory=AdmissionConfig)

    def master(self, name: str) -> MasterConfig:
        for m in self.masters:
            if m.name == name:
                return m
        names = ", ".join(m.name for m in self.masters)
        raise ConfigError(f"{self.path}: no master named {name!r} (masters: {names})")

    def master_index(self, name: str) -> int:
        return self.masters.index(self.master(name))

    def master_dir(self, name: str) -> Path:
        return self.data_dir / name

    @property
    def pki_dir(self) -> Path:
        """The cluster CA, certificates and token file (``raftkube init``; raftkube/pki.py)."""
        return self.data_dir / "pki"

    @property
    def api_urls(self) -> list[str]:
        return [m.api_url for m in self.masters]


def _coerce(path: str, value, typ):
    """Check one TOML value against a dataclass field type; ints are accepted for floats."""
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typ in (int, float, str, bool) and (type(value) is not typ):
        raise ConfigError(f"{path}: expected {typ.__name__}, got {type(value).__name__} {value!r}")
    return value


def _section(cls, data: dict, where: str, file: Path, **extra):
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: [{where}] must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    values = dict(extra)
    for key, value in data.items():
        if key not in known or key in extra:
            raise ConfigError(f"{file}: unknown key {where}.{key} (known: {', '.join(sorted(known - set(extra)))})")
        values[key] = _coerce(f"{file}: {where}.{key}", value, hints[key])
    try:
        obj = cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{file}: [{where}] {exc}") from None
    for f in dataclasses.fields(cls):
        v = getattr(obj, f.name)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
            raise ConfigError(f"{file}: {where}.{f.name} must not be negative, got {v!r}")
    return obj


def load(path: str | os.PathLike = "cluster.toml") -> ClusterConfig:
    file = Path(path).resolve()
    try:
        with open(file, "rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    return parse(doc, file)


def parse(doc: dict, file: Path) -> ClusterConfig:
    allowed = {"cluster", "masters", "raft", "api", "controllers", "admission"}
    for key in doc:
        if key not in allowed:
            raise ConfigError(f"{file}: unknown key {key} (known: {', '.join(sorted(allowed))})")
    cluster = doc.get("cluster", {})
    if not isinstance(cluster, dict):
        raise ConfigError(f"{file}: [cluster] must be a table")
    for key in cluster:
        if key not in ("data_dir", "secret_file", "fsync", "quota_bytes", "max_object_bytes"):
            raise ConfigError(f"{file}: unknown key cluster.{key} "
                              "(known: data_dir, fsync, max_object_bytes, quota_bytes, secret_file)")
    for key in ("data_dir", "secret_file"):
        if key in cluster and not isinstance(cluster[key], str):
            raise ConfigError(f"{file}: cluster.{key}: expected str, got {cluster[key]!r}")
    fsync = _coerce(f"{file}: cluster.fsync", cluster.get("fsync", True), bool)
    quota_bytes = _coerce(f"{file}: cluster.quota_bytes", cluster.get("quota_bytes", DEFAULT_QUOTA_BYTES), int)
    if quota_bytes <= 0:
        raise ConfigError(f"{file}: cluster.quota_bytes must be a positive number of bytes, got {quota_bytes}")
    max_object_bytes = _coerce(f"{file}: cluster.max_object_bytes",
                               cluster.get("max_object_bytes", DEFAULT_MAX_OBJECT_BYTES), int)
    if max_object_bytes < 1024:
        raise ConfigError(f"{file}: cluster.max_object_bytes must be at least 1024 bytes, got {max_object_bytes}")
    base = file.parent
    data_dir = base / cluster.get("data_dir", ".raftkube")
    secret_file = base / cluster.get("secret_file", str(Path(cluster.get("data_dir", ".raftkube")) / "secret"))

    masters_doc = doc.get("masters")
    if not isinstance(masters_doc, list) or not masters_doc:
        raise ConfigError(f"{file}: masters: at least one [[masters]] entry is required")
    masters = []
    for i, m in enumerate(masters_doc):
        where = f"masters[{i}]"
        if not isinstance(m, dict) or "name" not in m:
            raise ConfigError(f"{file}: {where}.name: required")
        mc = _section(MasterConfig, m, where, file)
        if not mc.name or not mc.name.replace("-", "").isalnum():
            raise ConfigError(f"{file}: {where}.name: invalid master name {mc.name!r}")
        if mc.cpu not in ("auto", "none") and not mc.cpu.isdigit():
            raise ConfigError(f"{file}: {where}.cpu: expected \"auto\", \"none\" or a CPU number, got {mc.cpu!r}")
        if not 0 <= mc.secure_port <= 65535:
            raise ConfigError(f"{file}: {where}.secure_port: port out of range: {mc.secure_port}")
        for port_key in ("api_port", "raft_port"):
            port = getattr(mc, port_key)
            if not 1 <= port <= 65535:
                raise ConfigError(f"{file}: {where}.{port_key}: port out of range: {port}")
        masters.append(mc)
    seen: dict = {}
    for i, m in enumerate(masters):
        uses = [("name", m.name), ("api", (m.host, m.api_port)), ("raft", (m.host, m.raft_port)),
                ("api", (m.host, m.raft_port)), ("raft", (m.host, m.api_port))]
        if m.secure_port:
            uses += [("secure", (m.host, m.secure_port)), ("api", (m.host, m.secure_port)),
                     ("raft", (m.host, m.secure_port)), ("secure", (m.host, m.api_port)),
                     ("secure", (m.host, m.raft_port))]
        for what, value in uses:
            tag = (what if what == "name" else "port", value)
            if tag in seen and seen[tag] != i:
                raise ConfigError(f"{file}: masters[{i}]: {what} {value!r} is used twice")
            seen[tag] = i

    raft = _section(RaftConfig, doc.get("raft", {}), "raft", file)
    if raft.append_entries_period_s * 3 >= raft.min_timeout_s:
        raise ConfigError(f"{file}: raft.append_entries_period_s must be below raft.min_timeout_s / 3")
    if raft.election_backoff_cap < 1:
        raise ConfigError(f"{file}: raft.election_backoff_cap must be at least 1")
    if raft.max_timeout_s <= raft.min_timeout_s:
        raise ConfigError(f"{file}: raft.max_timeout_s must exceed raft.min_timeout_s")
    if raft.max_batch < 1 or raft.max_inflight < 1 or raft.watch_ring < 16:
        raise ConfigError(f"{file}: raft.max_batch, raft.max_inflight must be >= 1 and raft.watch_ring >= 16")
    if raft.handshake_timeout_s <= 0 or raft.max_handshakes < 1:
        raise ConfigError(f"{file}: raft.handshake_timeout_s must be positive and raft.max_handshakes at least 1")
    if raft.write_timeout_s <= 0:
        raise ConfigError(f"{file}: raft.write_timeout_s must be positive")
    api = _section(ApiConfig, doc.get("api", {}), "api", file)
    if api.read_timeout_s <= 0 or api.idle_timeout_s <= 0:
        raise ConfigError(f"{file}: api.read_timeout_s and api.idle_timeout_s must be positive")
    if api.threads < 4:
        raise ConfigError(f"{file}: api.threads must be at least 4, got {api.threads}")
    if api.connections_per_client < 0:
        raise ConfigError(f"{file}: api.connections_per_client must be 0 (no limit) or more, "
                          f"got {api.connections_per_client}")
    for key in ("max_watches", "watches_per_client", "watch_buffer_bytes"):
        if getattr(api, key) < 1:
            raise ConfigError(f"{file}: api.{key} must be at least 1, got {getattr(api, key)}")
    if api.watch_buffer_bytes > 8 * 1024 * 1024:  # with one event on top, below waitress' 16 MiB watermark
        raise ConfigError(f"{file}: api.watch_buffer_bytes must be at most 8 MiB, got {api.watch_buffer_bytes}")
    for key in ("watch_keepalive_s", "watch_stall_s", "watch_bookmark_s"):
        if not getattr(api, key) > 0:
            raise ConfigError(f"{file}: api.{key} must be positive, got {getattr(api, key)}")
    controllers = _section(ControllersConfig, doc.get("controllers", {}), "controllers", file)
    if controllers.event_ttl_s <= 0:
        raise ConfigError(f"{file}: controllers.event_ttl_s must be positive, got {controllers.event_ttl_s}")
    if controllers.replica_burst < 1:
        raise ConfigError(f"{file}: controllers.replica_burst must be at least 1, got {controllers.replica_burst}")
    admission = _section(AdmissionConfig, doc.get("admission", {}), "admission", file)
    return ClusterConfig(path=file, masters=tuple(masters), data_dir=data_dir, secret_file=secret_file,
                         fsync=fsync, quota_bytes=quota_bytes, max_object_bytes=max_object_bytes, raft=raft, api=api, controllers=controllers,
                         admission=admission)


def read_or_create_secret(path: Path) -> str:
    """The cluster secret: read from a 0600 file, generated (32 random bytes, hex) if missing.

    Masters starting together race to create it: the secret is written to a private temporary file and
    linked into place, which fails if another master got there first, so nobody ever reads a half-written
    file.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another master created it first: use theirs
        finally:
            os.unlink(tmp)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(f"{path}: the cluster secret must not be readable by others (mode {mode:o}; chmod 600)")
    secret = path.read_text().strip()
    if len(secret) < 16:
        raise ConfigError(f"{path}: the cluster secret is too short (at least 16 characters)")
    return secret
