"""pysyncobj, fenced: the only module that imports it, and every use of its internals, checked at start.

raftkube relies on more of pysyncobj than its public API, all of it here:

- durability: ``syncobj.createJournal`` hands pysyncobj raftkube's journal (state/journal.py: checksummed
  records, fdatasync with group commit, a durable term and vote); ``serializer.atomicReplace`` renames
  snapshots into place durably; the transport's ``send`` and the received-message callback hold
  acknowledgements of entries (``next_node_idx``) until the journal has them on disk (state/ackgate.py);
- AppendEntries: entries a follower already holds are trimmed from the message before pysyncobj sees it, so
  it truncates only at a real conflict (state/logmatch.py);
- the tick thread: pysyncobj's ``autoTick`` thread starts inside ``SyncObj.__init__``, before any hook could
  be installed, so the node runs with ``autoTick=False`` and its own thread calling ``doTick``;
- elections: each tick first reads what arrived while the thread was not running (``SyncObj._poller``), then
  lets pysyncobj check its election deadline; ``SyncObj.__generateRaftTimeout`` and ``__setCurrentTerm``
  (name-mangled) are overridden for the election back-off (state/election.py);

- the Raft port's framing: ``tcp_connection.zlib`` is replaced by a stand-in that does not compress, and the
  transport asks ``SyncObj.encryptor`` for every connection (``state/wire.py``'s AES-GCM instead of Fernet);
- the message hook: ``SyncObj.__transport`` (name-mangled) and its received-message callback, so that
  ReadIndex messages (``state/readindex.py``) travel on the Raft connections and vote requests can be
  dropped before pysyncobj sees them; ``SyncObj.__pipeNotifier`` wakes the tick thread; ``SyncObj.__noopIDx``
  tells when the leader's first entry of its term is committed;
- membership (state/reconfig.py, state/members.py): ``dynamicMembershipChange`` with changes proposed through
  ``_applyCommand(..., _COMMAND_TYPE.MEMBERSHIP)`` only after raftkube's checks; ``SyncObj.__doApplyCommand``
  (name-mangled) is overridden so that a committed change is not applied a second time; the transport's utility
  ``add``/``remove`` callbacks are replaced by a refusal;
- a log filter for one CRITICAL message pysyncobj 0.3.17 logs in a harmless case;
- the Raft port against abuse (``state/raftport.py``: subclasses of its TcpConnection and TcpServer that the
  transport is made to create; the handshake deadline runs as a tick callback).

``check_library()`` verifies at start that the release is the one this module was written for and that
every internal it touches exists, so an upgrade fails at once with a clear message instead of per request.
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
import time
from pathlib import Path
from typing import Callable

import pysyncobj
from pysyncobj import FAIL_REASON, SERIALIZER_STATE, SyncObj, SyncObjConf, SyncObjConsumer, replicated
from pysyncobj import serializer as _serializer
from pysyncobj import syncobj as _syncobj
from pysyncobj import tcp_connection as _tcp_connection
from pysyncobj.version import VERSION as _PYSYNCOBJ_VERSION

from raftkube.state.ackgate import AckGate
from raftkube.state.election import ElectionBackoff
from raftkube.state.journal import DurableJournal, durable_replace, fsync_dir
from raftkube.state.logmatch import trim_known_entries
from raftkube.state.members import Change, MemberList, change_of
from raftkube.state import raftport
from raftkube.state.proposer import OK, RETRY, UNKNOWN
from raftkube.state.raftport import PortGuard, PortLimits
from raftkube.state.readindex import TYPES as READ_TYPES
from raftkube.state.readindex import ReadIndex
from raftkube.state.reconfig import Reconfig
from raftkube.state.transfer import LeaderTransfer
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
    for module, name in ((_tcp_connection, "zlib"), (_syncobj, "createJournal"), (_syncobj, "_bchr"),
                         (_syncobj, "_COMMAND_TYPE"), (_serializer, "atomicReplace")):
        if not hasattr(module, name):
            raise UnsupportedLibrary(f"pysyncobj {module.__name__} no longer has {name}")
    if not hasattr(_syncobj._COMMAND_TYPE, "MEMBERSHIP") or \
            not callable(getattr(SyncObj, "_SyncObj__doApplyCommand", None)):
        raise UnsupportedLibrary("pysyncobj no longer has _COMMAND_TYPE.MEMBERSHIP or SyncObj.__doApplyCommand")
    missing = raftport.check()
    if missing:
        raise UnsupportedLibrary(f"pysyncobj no longer has {', '.join(missing)} (state/raftport.py)")


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


#: journals being handed to the SyncObj under construction, by the ``journalFile`` path in its config
_JOURNALS: dict[str, DurableJournal] = {}
#: whether snapshots renamed into a directory are synced, by directory (a node's ``fsync`` setting)
_FSYNC_DIRS: dict[str, bool] = {}
_pysyncobj_create_journal = _syncobj.createJournal


def _create_journal(journal_file):
    journal = _JOURNALS.get(journal_file)
    return journal if journal is not None else _pysyncobj_create_journal(journal_file)


#: background snapshot writers, by the absolute path of their dump file
_BACKGROUND: dict[str, "BackgroundSnapshots"] = {}


class BackgroundSnapshots:
    """Snapshots written off the tick thread, through pysyncobj's serializeChecker protocol.

    pysyncobj calls ``serialize`` on the tick thread: it only captures the state (``capture(data)`` must
    return an immutable value) and starts a ``raft-snapshot`` thread that encodes it (``encode(value) ->
    bytes``), writes ``<dump>.bg.tmp``, fsyncs, renames and fsyncs the directory. Until then ``check``
    reports SERIALIZING, so pysyncobj compacts its journal only once the snapshot is durable. A snapshot
    installed from the leader meanwhile bumps the generation: the local file is then dropped, never renamed
    over it."""

    def __init__(self, dump_file: str, capture, encode, fsync: bool = True):
        self.dump_file = os.path.abspath(dump_file)
        self._capture, self._encode, self._fsync = capture, encode, fsync
        self._lock = threading.Lock()
        self._generation = 0
        self._state = SERIALIZER_STATE.NOT_SERIALIZING
        self._thread: threading.Thread | None = None
        self.count = 0
        self.last_duration_ms = 0.0
        self.last_bytes = 0
        _BACKGROUND[self.dump_file] = self

    # tick thread
    def serialize(self, tmp_file: str, data) -> None:
        value = self._capture(data)
        with self._lock:
            generation = self._generation
            self._state = SERIALIZER_STATE.SERIALIZING
        self._thread = threading.Thread(target=self._write, args=(value, generation), name="raft-snapshot",
                                        daemon=True)
        self._thread.start()

    def check(self) -> int:
        with self._lock:
            state = self._state
            if state in (SERIALIZER_STATE.SUCCESS, SERIALIZER_STATE.FAILED):
                self._state = SERIALIZER_STATE.NOT_SERIALIZING
            return state

    def install(self, tmp_file: str) -> None:
        """A snapshot from the leader: it wins over a local one being written."""
        with self._lock:
            self._generation += 1
            durable_replace(Path(tmp_file), Path(self.dump_file), self._fsync)

    # raft-snapshot thread
    def _write(self, value, generation: int) -> None:
        started = time.monotonic()
        tmp = Path(self.dump_file + ".bg.tmp")
        try:
            blob = self._encode(value)
            with open(tmp, "wb") as fh:
                fh.write(blob)
                fh.flush()
                if self._fsync:
                    os.fsync(fh.fileno())
            with self._lock:
                if generation != self._generation:
                    tmp.unlink(missing_ok=True)
                    self._state = SERIALIZER_STATE.FAILED
                    return
                durable_replace(tmp, Path(self.dump_file), False)
                if self._fsync:
                    fsync_dir(tmp.parent)
                self.count += 1
                self.last_duration_ms = round((time.monotonic() - started) * 1000, 1)
                self.last_bytes = len(blob)
                self._state = SERIALIZER_STATE.SUCCESS
        except Exception:
            log.exception("background snapshot failed")
            with self._lock:
                self._state = SERIALIZER_STATE.FAILED

    def join(self, timeout: float = 30.0) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def stats(self) -> dict:
        return {"count": self.count, "lastDurationMs": self.last_duration_ms, "lastBytes": self.last_bytes}


def _replace_snapshot(tmp_file: str, dump_file: str) -> None:
    """pysyncobj renames every snapshot into place (one it wrote, one a leader sent): make that durable."""
    background = _BACKGROUND.get(os.path.abspath(dump_file))
    if background is not None:
        if os.path.abspath(tmp_file) == background.dump_file + ".tmp":
            return  # written and renamed by the raft-snapshot thread
        background.install(tmp_file)
        return
    fsync = _FSYNC_DIRS.get(os.path.dirname(os.path.abspath(dump_file)), True)
    durable_replace(Path(tmp_file), Path(dump_file), fsync)


def install() -> None:
    """Process-wide adjustments to pysyncobj, once, before the first node starts."""
    check_library()
    _tcp_connection.zlib = _NoCompression
    _syncobj.createJournal = _create_journal
    _serializer.atomicReplace = _replace_snapshot
    raftport.install()
    syncobj_log = logging.getLogger("pysyncobj.syncobj")
    if not any(isinstance(f, QuietDuplicateAppend) for f in syncobj_log.filters):
        syncobj_log.addFilter(QuietDuplicateAppend())


def membership_change(command: bytes, index: int) -> Change | None:
    """The membership change a log entry holds (state/members.py), or None for any other entry."""
    if not command or command[0] != _syncobj._COMMAND_TYPE.MEMBERSHIP:
        return None
    return change_of(index, pickle.loads(command[1:]))  # the log is trusted: pysyncobj unpickles every entry


def _refuse_utility(args, callback) -> None:
    """pysyncobj's utility 'add' / 'remove' on the Raft port would change the membership unchecked."""
    callback(None, FAIL_REASON.REQUEST_DENIED)


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
    """pysyncobj's SyncObj with raftkube's additions (see the module docstring), its own tick thread, and the
    ``RaftView`` that ReadIndex uses on that thread.

    The tick thread is started only once every hook is in place (pysyncobj's ``autoTick`` starts its thread
    inside ``SyncObj.__init__``, before a subclass could hook anything), so no message is ever handled or
    acknowledged without them.
    """

    def __init__(self, self_address: str, peers: list[str], conf: SyncObjConf, apply: Callable[[bytes], list],
                 secret: str, journal: DurableJournal, *, tick_period_s: float = 0.05,
                 port_limits: PortLimits = PortLimits(), election_backoff_cap: int = 8,
                 members: MemberList | None = None):
        """``members``: the member list that follows the log (state/members.py); with it, ``conf`` must have
        ``dynamicMembershipChange`` on and changes go through ``reconfig`` (state/reconfig.py)."""
        install()
        self._aead = AeadEncryptor(secret)
        # a follower ignores votes for 80% of the shortest election timeout after hearing from its leader
        self.reads = ReadIndex(self, stick_s=0.8 * conf.raftMinTimeout)
        self._consumer = _Replicated(apply)
        self.journal = journal
        self.ticks = TickGaps()
        self.elections = ElectionBackoff(conf.raftMinTimeout, conf.raftMaxTimeout, election_backoff_cap)
        self._tick_period_s = tick_period_s
        self._stopping = threading.Event()
        self._hold_commands = False  # a leadership transfer holds new commands in pysyncobj's queue
        self.transfer = LeaderTransfer(self)
        self.reconfig = Reconfig(self, members) if members is not None else None
        conf.autoTick = False
        _JOURNALS[conf.journalFile] = journal
        _FSYNC_DIRS[os.path.dirname(os.path.abspath(conf.fullDumpFile))] = journal.fsync
        try:
            super().__init__(self_address, peers, conf, consumers=[self._consumer])
        finally:
            _JOURNALS.pop(conf.journalFile, None)
        try:
            self._transport = self._SyncObj__transport
            self._notifier = self._SyncObj__pipeNotifier
            pysyncobj_handler = self._transport._onMessageReceivedCallback
            pysyncobj_send = self._transport.send
            self._SyncObj__noopIDx  # read by leader_read_index
            self._SyncObj__raftMatchIndex, self._SyncObj__lastResponseTime  # read by peer_progress
            self._SyncObj__getCurrentLogIndex  # read by last_log_index (leadership transfer)
            self._SyncObj__raftElectionDeadline, self._SyncObj__conf  # set by _startup_grace
            self._poller  # polled at the start of every tick (doTick)
            for name in ("_SyncObj__generateRaftTimeout", "_SyncObj__setCurrentTerm"):  # overridden below
                if not callable(getattr(SyncObj, name, None)):
                    raise AttributeError(f"SyncObj.{name} is gone")
            if self._SyncObj__raftLog is not journal:
                raise AttributeError("SyncObj.__raftLog is not the journal raftkube installed")
        except AttributeError as exc:  # a pysyncobj release that moved these: fail at start, not per read
            self._doDestroy()
            raise UnsupportedLibrary(f"unsupported pysyncobj internals for raftkube's Raft node: {exc}") from None

        # acknowledgements wait for the journal (state/ackgate.py): ours to the leader, and the followers' to us
        self._acks_out = AckGate(journal.synced_index, lambda: self.raftCurrentTerm, pysyncobj_send)
        self._acks_in = AckGate(journal.synced_index, lambda: self.raftCurrentTerm, pysyncobj_handler)
        journal.on_truncate = self._on_log_truncated

        def send(node, message):
            if type(message) is dict and message.get("type") == "next_node_idx":
                index = message["next_node_idx"] - 1 if message.get("success") else 0
                if self._acks_out.offer(node, message, index):
                    return
            pysyncobj_send(node, message)

        def on_message(node, message):
            if type(message) is not dict:
                pysyncobj_handler(node, message)
            elif message.get("type") in READ_TYPES:
                self.reads.on_message(node, message)
            elif message.get("type") == "next_node_idx":
                index = message["next_node_idx"] - 1 if message.get("success") else 0
                if not self._acks_in.offer(node, message, index):
                    pysyncobj_handler(node, message)
            elif self.reads.admit(node, message):
                if message.get("type") == "append_entries" and message.get("term", -1) >= self.raftCurrentTerm:
                    message = trim_known_entries(journal, message)
                pysyncobj_handler(node, message)

        self._transport.send = send
        self._transport.setOnMessageReceivedCallback(on_message)
        self.addOnTickCallback(self.reads.on_tick)
        self.addOnTickCallback(self._sync_journal)
        self.addOnTickCallback(self.transfer.on_tick)
        if self.reconfig is not None:
            self.addOnTickCallback(self.reconfig.on_tick)
        for name in ("add", "remove"):
            self._transport.setOnUtilityMessageCallback(name, _refuse_utility)
        self.port_guard = PortGuard(self._transport, port_limits)
        self.addOnTickCallback(self.port_guard.on_tick)
        self._tick_thread = threading.Thread(target=self._tick_loop, name="raft", daemon=True)
        self._tick_thread.start()

    def _tick_loop(self) -> None:
        started = False
        try:
            while not self._stopping.is_set():
                self.ticks.tick()
                try:
                    self.doTick(self._tick_period_s)
                    if self._getLeader() is not None:
                        self.elections.leader_heard()
                    if not started:
                        started = True
                        self._startup_grace()
                except Exception:
                    log.exception("Raft tick failed")  # as pysyncobj's own tick thread: log, retry
                    self._stopping.wait(self._tick_period_s)
        finally:
            self._doDestroy()

    def _startup_grace(self) -> None:
        """After the first tick (it loaded the snapshot and applied the committed journal, which can take longer
        than an election timeout), wait a full election timeout plus a connection retry for the leader before
        campaigning. Else a restarted master campaigned at once, before the leader had reconnected to it, and its
        higher term made the leader step down (no PreVote): a needless election in every rolling restart
        (measured: a restarted master's self-vote 14 ms after its API was up). Delaying an election is safe."""
        conf = self._SyncObj__conf
        grace = conf.raftMaxTimeout + conf.connectionRetryTime
        self._SyncObj__raftElectionDeadline = max(self._SyncObj__raftElectionDeadline, time.monotonic() + grace)

    def doTick(self, timeToWait=0.0):
        """One tick, which first reads every message that arrived since the last one, then runs pysyncobj's.

        pysyncobj's tick checks the election deadline (and a leader its fallback timeout) first and reads the
        sockets only at its end. A tick thread starved for longer than the election timeout (issue 15) therefore
        found its deadline passed at every tick and started a new term before reading the votes, heartbeats and
        vote requests waiting in its sockets, which were then for an old term: elections never completed. Read
        first, and a vote granted, a heartbeat or a majority of votes counts before the deadline is looked at.
        Handling the messages of one poll earlier changes no Raft rule: pysyncobj's own poll ends every tick."""
        self._poller.poll(0)
        super().doTick(timeToWait)

    def _SyncObj__generateRaftTimeout(self) -> float:
        """pysyncobj's election timeout, with the back-off after elections without a leader (state/election.py)."""
        return self.elections.timeout()

    def _SyncObj__setCurrentTerm(self, term, votedForNodeId) -> None:
        SyncObj._SyncObj__setCurrentTerm(self, term, votedForNodeId)  # durable first (DurableJournal.setCurrentTerm)
        if votedForNodeId is not None and votedForNodeId == self.selfNode.id:
            self.elections.started()

    def stop(self) -> None:
        """Stop the tick thread; it closes the connections and the journal (synced) on its way out."""
        self._stopping.set()
        self.wake()
        self._tick_thread.join(timeout=10)

    def _sync_journal(self) -> None:
        """Once per tick, after pysyncobj appended what this tick brought (the leader's new entries; the
        entries a follower received in the last poll): one fdatasync for all of it, then the acknowledgements
        it covers go out. The leader syncs while its followers receive the same entries."""
        if self.journal.sync() and not self.otherNodes:
            self.wake()  # a cluster of one commits at the start of the next tick: do not sleep in poll first
        self._acks_out.pump()
        if self._acks_in.pump():
            self.wake()  # the leader counts them at the start of the next tick: do not sleep in poll first

    def _on_log_truncated(self) -> None:
        self._acks_out.drop_all()
        self._acks_in.drop_all()

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

    def durability(self) -> dict:
        """Journal syncs and held acknowledgements, for /raft."""
        return {**self.journal.stats.as_dict(), "fsync": self.journal.fsync,
                "syncedIndex": self.journal.synced_index(),
                "acksHeld": self._acks_out.stats["held"] + self._acks_in.stats["held"],
                "acksDropped": self._acks_out.stats["dropped"] + self._acks_in.stats["dropped"]}

    def port_stats(self) -> dict:
        """The Raft port's guard, for /raft: connections in their handshake, refusals of this process by kind."""
        return {"pendingHandshakes": self.port_guard.pending(), "refused": raftport.refused()}

    # ---- operating the masters ------------------------------------------------------------------
    def _checkCommandsToApply(self):
        """pysyncobj's tick step that appends queued commands (ours and those forwarded by followers); a
        leadership transfer holds them (state/transfer.py) so the target can catch up with the end of the log."""
        if not self._hold_commands:
            super()._checkCommandsToApply()

    def _SyncObj__doApplyCommand(self, command):
        """A membership entry took effect when it was appended (state/members.py): pysyncobj applies it again
        when it commits (for its own restart, which raftkube does from the journal instead), which would
        re-add a member a later, uncommitted entry removed. Skip those; apply everything else."""
        if command and command[0] == _syncobj._COMMAND_TYPE.MEMBERSHIP:
            return None
        return SyncObj._SyncObj__doApplyCommand(self, command)

    # ---- ReconfigView (tick thread) ---------------------------------------------------------------
    def commit_index(self) -> int:
        return self.raftCommitIndex

    def propose_change(self, req: list, done: Callable[[bool, str], None]) -> None:
        def callback(result, err):
            if err == FAIL_REASON.SUCCESS:
                done(True, "committed")
            elif err == FAIL_REASON.REQUEST_DENIED:
                done(False, "pysyncobj refused the change (a change or the leader's first entry not applied yet)")
            else:
                done(False, f"the change's outcome is unknown (pysyncobj: {err}); check `raftkube members list`")
        self._applyCommand(pickle.dumps(req), callback, _syncobj._COMMAND_TYPE.MEMBERSHIP)
        self.wake()

    def peer_progress(self) -> dict[str, dict]:
        """Any thread: the leader's view of each peer by address (match index, seconds since its last answer);
        empty unless this node leads."""
        if not self._isLeader():
            return {}
        match = dict(self._SyncObj__raftMatchIndex)
        contact = dict(self._SyncObj__lastResponseTime)
        now = time.monotonic()  # pysyncobj's monotonicTime is time.monotonic on Python 3
        return {node_id(n): {"matchIndex": match.get(n),
                             "lastContactS": round(now - contact[n], 3) if n in contact else None}
                for n in list(self.otherNodes)}

    # ---- TransferView (tick thread) -------------------------------------------------------------
    def match_index(self, target: str) -> int | None:
        for node, index in self._SyncObj__raftMatchIndex.items():
            if node_id(node) == target:
                return index
        return None

    def last_log_index(self) -> int:
        return self._SyncObj__getCurrentLogIndex()

    def hold(self, on: bool) -> None:
        self._hold_commands = on

    def send_timeout_now(self, target: str) -> None:
        self.transferLeadership(target)

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


class TickGaps:
    """The longest time between two starts of a Raft tick: since start, and within the last ``window_s``.

    An idle tick waits up to its period in poll(); much longer gaps mean the tick thread was starved (the GIL,
    a slow disk, a long callback) and heartbeats were late.
    """

    def __init__(self, window_s: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.window_s = window_s
        self.clock = clock
        self.max_s = 0.0
        self._last: float | None = None
        self._window_start = clock()
        self._window_max = 0.0
        self._prev_window_max = 0.0

    def tick(self) -> None:
        now = self.clock()
        if self._last is not None:
            gap = now - self._last
            self.max_s = max(self.max_s, gap)
            if now - self._window_start >= self.window_s:
                self._prev_window_max, self._window_max, self._window_start = self._window_max, 0.0, now
            self._window_max = max(self._window_max, gap)
        self._last = now

    def as_dict(self) -> dict:
        return {"tickGapMaxMs": round(self.max_s * 1000, 1),
                "tickGapRecentMaxMs": round(max(self._window_max, self._prev_window_max) * 1000, 1)}


def first_entries() -> list[list]:
    """The two log entries of a restored snapshot (state/backup.py), in a snapshot's order: the last applied
    entry, then the one before it (pysyncobj's ``(lastAppliedEntry, prevEntry)``): no-ops at indexes 2 and 1 of
    term 0, what a node's log would hold before any election."""
    noop = _syncobj._bchr(_syncobj._COMMAND_TYPE.NO_OP)
    return [[noop, 2, 0], [noop, 1, 0]]


def node_id(node) -> str | None:
    """A pysyncobj Node (or address string) as its 'host:port' id."""
    return None if node is None else str(getattr(node, "id", node))


__all__ = ["FAIL_REASON", "LEADER", "PortLimits", "ROLES", "RaftNode", "SyncObjConf", "UnsupportedLibrary", "check_library",
           "first_entries", "install", "node_id"]
