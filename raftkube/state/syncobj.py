"""pysyncobj, fenced: the only module that imports it, and every use of its internals, checked at start.

raftkube relies on more of pysyncobj than its public API, all of it here:

- the Raft port's framing: ``tcp_connection.zlib`` is replaced by a stand-in that does not compress, and the
  transport asks ``SyncObj.encryptor`` for every connection (``state/wire.py``'s AES-GCM instead of Fernet);
- the message hook: ``SyncObj.__transport`` (name-mangled) and its received-message callback, so that
  ReadIndex messages (``state/readindex.py``) travel on the Raft connections and vote requests can be
  dropped before pysyncobj sees them; ``SyncObj.__pipeNotifier`` wakes the tick thread; ``SyncObj.__noopIDx``
  tells when the leader's first entry of its term is committed;
- a log filter for one CRITICAL message pysyncobj 0.3.17 logs in a harmless case.

``check_library()`` verifies at start that the release is the one this module was written for and that
every internal it touches exists, so an upgrade fails at once with a clear message instead of per request.
"""

from __future__ import annotations

import logging
from typing import Callable

import pysyncobj
from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, SyncObjConsumer, replicated
from pysyncobj import tcp_connection as _tcp_connection
from pysyncobj.version import VERSION as _PYSYNCOBJ_VERSION

from raftkube.state.proposer import OK, RETRY, UNKNOWN
from raftkube.state.readindex import TYPES as READ_TYPES
from raftkube.state.readindex import ReadIndex
from raftkube.state.wire import AeadEncryptor

log = logging.getLogger(__name__)

#: the pysyncobj release whose internals this module was written against (pinned in pyproject.toml)
PYSYNCOBJ_VERSION = "0.3.17"

_RETRYABLE = {FAIL_REASON.QUEUE_FULL, FAIL_REASON.MISSING_LEADER, FAIL_REASON.NOT_LEADER, FAIL_REASON.DISCARDED}
ROLES = {0: "follower", 1: "candidate", 2: "leader"}
LEADER = 2


class UnsupportedLibrary(RuntimeError):
    pass


def check_library() -> None:
    """Fail unless the installed pysyncobj is the release the internals below were written for."""
    if _PYSYNCOBJ_VERSION != PYSYNCOBJ_VERSION:
        raise UnsupportedLibrary(f"raftkube needs pysyncobj {PYSYNCOBJ_VERSION} (its Raft node uses that release's "
                                 f"internals); installed: {_PYSYNCOBJ_VERSION} at {pysyncobj.__file__}")
    if not hasattr(_tcp_connection, "zlib"):
        raise UnsupportedLibrary("pysyncobj.tcp_connection no longer frames messages with zlib")


class _NoCompression:
    """Stands in for ``zlib`` in pysyncobj's framing (``zlib.compress(pickle(msg), 3)`` per message and peer).

    Compressing every Raft message cost about 5% of a leader's CPU under a create load (perf: libz) for
    traffic that is a few MB/s at most; the frames are AES-GCM sealed either way (state/wire.py). Every master
    of a cluster runs this module, so both ends of a Raft connection agree on the framing.
    """

    @staticmethod
    def compress(data: bytes, level: int = -1) -> bytes:
        return data

    @staticmethod
    def decompress(data: bytes) -> bytes:
        return data


class QuietDuplicateAppend(logging.Filter):
    """pysyncobj 0.3.17 logs CRITICAL when a follower receives append_entries it already has (the leader
    re-sends after an immediate send plus a heartbeat). The entries are identical by Raft's log matching
    property, so nothing diverges; keep it out of the logs at DEBUG instead of CRITICAL."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("truncating already-applied log entries"):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def install() -> None:
    """Process-wide adjustments to pysyncobj, once, before the first node starts."""
    check_library()
    _tcp_connection.zlib = _NoCompression
    syncobj_log = logging.getLogger("pysyncobj.syncobj")
    if not any(isinstance(f, QuietDuplicateAppend) for f in syncobj_log.filters):
        syncobj_log.addFilter(QuietDuplicateAppend())


class _Replicated(SyncObjConsumer):
    """The pysyncobj consumer: one replicated method, which never raises."""

    def __init__(self, apply: Callable[[bytes], list]):
        super().__init__()
        self._apply = apply

    @replicated
    def apply(self, entry: bytes):
        try:
            return self._apply(entry)
        except Exception:  # belt and braces: StateMachine.apply already catches everything
            log.exception("apply failed")
            return []


class RaftNode(SyncObj):
    """pysyncobj's SyncObj with raftkube's additions (see the module docstring), and the ``RaftView`` that
    ReadIndex uses on the tick thread."""

    def __init__(self, self_address: str, peers: list[str], conf: SyncObjConf, apply: Callable[[bytes], list],
                 secret: str):
        install()
        self._aead = AeadEncryptor(secret)  # before SyncObj.__init__ starts the tick thread
        # a follower ignores votes for 80% of the shortest election timeout after hearing from its leader
        self.reads = ReadIndex(self, stick_s=0.8 * conf.raftMinTimeout)
        self._consumer = _Replicated(apply)
        super().__init__(self_address, peers, conf, consumers=[self._consumer])
        try:
            self._transport = self._SyncObj__transport
            self._notifier = self._SyncObj__pipeNotifier
            pysyncobj_handler = self._transport._onMessageReceivedCallback
            self._SyncObj__noopIDx  # read by leader_read_index
        except AttributeError as exc:  # a pysyncobj release that moved these: fail at start, not per read
            self.destroy()
            raise UnsupportedLibrary(f"unsupported pysyncobj internals for raftkube's Raft node: {exc}") from None

        def on_message(node, message):
            if type(message) is not dict:
                pysyncobj_handler(node, message)
            elif message.get("type") in READ_TYPES:
                self.reads.on_message(node, message)
            elif self.reads.admit(node, message):
                pysyncobj_handler(node, message)

        self._transport.setOnMessageReceivedCallback(on_message)
        self.addOnTickCallback(self.reads.on_tick)

    @property
    def encryptor(self):
        return self._aead

    def propose(self, entry: bytes, done: Callable[[list | None, str], None]) -> None:
        """Append ``entry`` through Raft; ``done(results, outcome)`` runs on the tick thread (proposer.py)."""
        def callback(result, err):
            if err == FAIL_REASON.SUCCESS:
                done(result, OK)
            elif err in _RETRYABLE:
                done(None, RETRY)
            else:  # LEADER_CHANGED / UNKNOWN_OUTCOME: the entry may or may not apply
                done(None, UNKNOWN)

        self._consumer.apply(entry, callback=callback)

    # ---- RaftView for ReadIndex (tick thread) --------------------------------------------------
    def term(self) -> int:
        return self.raftCurrentTerm

    def is_leader(self) -> bool:
        return self._isLeader()

    def leader_read_index(self) -> int | None:
        if not self._isLeader():
            return None
        noop = self._SyncObj__noopIDx
        commit = self.raftCommitIndex
        return commit if noop is not None and commit >= noop else None

    def leader(self):
        return self._getLeader()

    def peers(self) -> list:
        return list(self.otherNodes)

    def applied(self) -> int:
        return self.raftLastApplied

    def send(self, node, message: dict) -> None:
        self._transport.send(node, message)

    def wake(self) -> None:
        self._notifier.notify()


def node_id(node) -> str | None:
    """A pysyncobj Node (or address string) as its 'host:port' id."""
    return None if node is None else str(getattr(node, "id", node))


__all__ = ["FAIL_REASON", "LEADER", "ROLES", "RaftNode", "SyncObjConf", "UnsupportedLibrary", "check_library",
           "install", "node_id"]
