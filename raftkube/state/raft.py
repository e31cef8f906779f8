"""The Raft node of one master: pysyncobj wiring, group commit, ReadIndex reads, leadership and status.

Only this module imports pysyncobj. Everything that crosses the Raft port or lands in the journal is a
pickle of ``(funcID, (bytes,))``: our payloads are msgpack bytes, snapshots are msgpack (not pickle).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, SyncObjConsumer, replicated
from pysyncobj import tcp_connection as _tcp_connection

from raftkube.config import RaftConfig
from raftkube.model.errors import ApiError, Timeout, Unavailable
from raftkube.state.codec import pack, unpack
from raftkube.state.machine import StateMachine, check_result
from raftkube.state.readindex import TYPES as READ_TYPES
from raftkube.state.readindex import ReadIndex
from raftkube.state.watch import WatchHub
from raftkube.state.wire import AeadEncryptor

log = logging.getLogger(__name__)

_RETRYABLE = {FAIL_REASON.QUEUE_FULL, FAIL_REASON.MISSING_LEADER, FAIL_REASON.NOT_LEADER, FAIL_REASON.DISCARDED}
_ROLES = {0: "follower", 1: "candidate", 2: "leader"}


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


_tcp_connection.zlib = _NoCompression


class _Replicated(SyncObjConsumer):
    """The pysyncobj consumer: one replicated method, which never raises."""

    def __init__(self, machine: StateMachine):
        super().__init__()
        self._machine = machine

    @replicated
    def apply(self, entry: bytes):
        try:
            return self._machine.apply(entry)
        except Exception:  # belt and braces: StateMachine.apply already catches everything
            log.exception("apply failed")
            return []


class _Node(SyncObj):
    """pysyncobj's SyncObj with two additions, the only code here besides ``_NoCompression`` that touches the
    library's internals:

    - the Raft port is encrypted and authenticated by AES-GCM (state/wire.py) instead of Fernet: the transport
      asks ``self.encryptor`` for every connection; the config carries no password, so pysyncobj never
      derives a Fernet key;
    - linearizable reads (state/readindex.py): their messages travel on the Raft connections and are handled
      before pysyncobj sees them; vote requests that come too soon after hearing from the leader are dropped
      there (what makes the leader's lease safe); the bookkeeping runs on the tick thread.
    """

    def __init__(self, self_address: str, peers: list[str], conf: SyncObjConf, consumers, secret: str):
        self._aead = AeadEncryptor(secret)  # before SyncObj.__init__ starts the tick thread
        # a follower ignores votes for 80% of the shortest election timeout after hearing from its leader
        self.reads = ReadIndex(self, stick_s=0.8 * conf.raftMinTimeout)
        super().__init__(self_address, peers, conf, consumers=consumers)
        try:
            self._transport = self._SyncObj__transport
            self._notifier = self._SyncObj__pipeNotifier
            pysyncobj_handler = self._transport._onMessageReceivedCallback
            self._SyncObj__noopIDx  # read by leader_read_index
        except AttributeError as exc:  # a pysyncobj release that moved these: fail at start, not per read
            raise RuntimeError(f"unsupported pysyncobj version for raftkube's ReadIndex: {exc}") from None

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


class _Pending:
    """One transaction waiting for its entry to commit and apply on this master."""

    __slots__ = ("txn", "deadline", "event", "state", "result", "error", "lock")
    QUEUED, SENT, DONE, CANCELLED = range(4)

    def __init__(self, txn: dict, deadline: float):
        self.txn = txn
        self.deadline = deadline
        self.event = threading.Event()
        self.state = self.QUEUED
        self.result = None
        self.error: ApiError | None = None
        self.lock = threading.Lock()

    def finish(self, result=None, error: ApiError | None = None) -> None:
        with self.lock:
            if self.state in (self.DONE, self.CANCELLED):
                return
            self.state = self.DONE
            self.result, self.error = result, error
        self.event.set()


@dataclass
class _Batch:
    items: list
    sent_at: float
    attempt: int = 0


class Leadership:
    """'Leader and has committed an entry of its own term', as a value the controller manager can wait on.

    ``epoch`` is the replicated leader epoch this master claimed; controller writes carry it and the state
    machine rejects them once another master has claimed a newer one.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._epoch: int | None = None
        self._generation = 0

    @property
    def epoch(self) -> int | None:
        return self._epoch

    def _set(self, epoch: int | None) -> None:
        with self._cond:
            if epoch != self._epoch:
                self._epoch = epoch
                self._generation += 1
                self._cond.notify_all()

    def wait_change(self, generation: int, timeout_s: float) -> tuple[int, int | None]:
        """Block until the leadership changes after ``generation``; returns (generation, epoch)."""
        with self._cond:
            self._cond.wait_for(lambda: self._generation != generation, timeout_s)
            return self._generation, self._epoch

    @property
    def generation(self) -> int:
        return self._generation


class RaftStore:
    """One master's replica of the object store."""

    def __init__(self, name: str, self_address: str, peers: dict[str, str], data_dir: Path, secret: str,
                 settings: RaftConfig):
        self.name = name
        self.settings = settings
        self._addr_to_name = {addr: n for n, addr in peers.items()}
        self._addr_to_name[self_address] = name
        self.hub = WatchHub(settings.watch_ring)
        self.machine = StateMachine(on_events=self.hub.publish, on_reset=self.hub.reset)
        self.leadership = Leadership()
        self._ready = threading.Event()
        self._role_changed = threading.Event()
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._queue: deque[_Pending] = deque()
        self._retry: list[tuple[float, _Batch]] = []
        self._inflight: dict[int, _Batch] = {}
        self._batch_ids = 0
        self.stats = {"entries": 0, "txns": 0, "retries": 0}

        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(data_dir, 0o700)
        self._dump_file = str(data_dir / "raft.dump")
        conf = SyncObjConf(
            password=None,  # the port is encrypted and authenticated by _Node.encryptor (AES-GCM)
            bindAddress=self_address,
            journalFile=str(data_dir / "raft.journal"),
            fullDumpFile=self._dump_file,
            serializer=self._serialize,
            deserializer=self._deserialize,
            appendEntriesUseBatch=False,
            raftMinTimeout=settings.min_timeout_s,
            raftMaxTimeout=settings.max_timeout_s,
            appendEntriesPeriod=settings.append_entries_period_s,
            leaderFallbackTimeout=settings.leader_fallback_timeout_s,
            connectionRetryTime=settings.connection_retry_s,
            commandsWaitLeader=False,
            logCompactionMinEntries=settings.log_compaction_min_entries,
            logCompactionMinTime=settings.log_compaction_min_time_s,
            logCompactionSplit=True,
            dynamicMembershipChange=False,
            onStateChanged=self._on_state_changed,
            onReady=self._ready.set,
        )
        self._consumer = _Replicated(self.machine)
        self._raft = _Node(self_address, sorted(peers.values()), conf, [self._consumer], secret)
        self._threads = [
            threading.Thread(target=self._propose_loop, name="raft-propose", daemon=True),
            threading.Thread(target=self._leader_loop, name="raft-leader", daemon=True),
        ]
        for t in self._threads:
            t.start()

    # ---- snapshots (tick thread) ------------------------------------------------------------
    def _serialize(self, tmp_file: str, data) -> None:
        prev_entry, last_entry, cluster = data
        blob = pack({
            "raft": [list(prev_entry), list(last_entry), sorted(str(getattr(n, "id", n)) for n in cluster)],
            "state": self.machine.snapshot(),
        })
        with open(tmp_file, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())

    def _deserialize(self, file_name: str):
        with open(file_name, "rb") as fh:
            doc = unpack(fh.read())
        self.machine.restore(doc["state"])
        prev_entry, last_entry, cluster = doc["raft"]
        log.info("loaded snapshot at revision %d", self.machine.revision)
        return tuple(prev_entry), tuple(last_entry), set(cluster)

    # ---- tick-thread callbacks: only set flags ----------------------------------------------
    def _on_state_changed(self, old: int, new: int) -> None:
        if new != 2:
            self.leadership._set(None)  # stop controllers at once
        self._role_changed.set()

    # ---- writes -----------------------------------------------------------------------------
    def submit(self, txn: dict, timeout_s: float | None = None) -> list:
        """Commit one transaction; returns its per-op results (revisions) or raises an ApiError.

        ``Timeout`` means the outcome is unknown: the entry may still apply later.

        Group commit without a hand-off: a caller that finds a free in-flight slot proposes the queue itself;
        otherwise its transaction waits in the queue, and the callback that frees a slot (tick thread)
        proposes everything queued as the next entry.
        """
        timeout_s = self.settings.write_timeout_s if timeout_s is None else timeout_s
        p = _Pending(txn, time.monotonic() + timeout_s)
        with self._cond:
            self._queue.append(p)
            take = self._take_locked(time.monotonic()) if len(self._inflight) < self.settings.max_inflight else None
        if take is not None:
            self._send(*take)
        if not p.event.wait(timeout_s):
            with p.lock:
                if p.state == p.QUEUED:
                    p.state = p.CANCELLED
                    raise Unavailable("the write could not be committed: no quorum (not sent)",
                                      retry_after_s=1.0)
                if p.state == p.SENT:
                    p.state = p.CANCELLED
                    raise Timeout("the write was not committed in time; its outcome is unknown",
                                  retry_after_s=1.0)
        if p.error is not None:
            raise p.error
        return check_result(p.result)

    def barrier(self, timeout_s: float | None = None) -> None:
        """Wait until this master has applied everything committed before the call: then local reads are
        linearizable (state/readindex.py: the leader's lease, else ReadIndex; never a log entry)."""
        reads = self._raft.reads
        if reads.fast_path():
            return
        timeout_s = self.settings.write_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout_s
        backoff = 0.005
        while True:
            waiter = reads.request()
            if not waiter.event.wait(max(0.0, deadline - time.monotonic())):
                break
            if waiter.error is None:
                return
            # no leader yet, or it just changed: retry until the deadline
            if time.monotonic() + backoff >= deadline:
                break
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 0.1)
        raise Unavailable("no quorum: cannot serve a linearizable read", retry_after_s=1.0)

    def _propose_loop(self) -> None:
        """Retries (no leader yet, or it just changed), expired callbacks, and a queue left behind by them."""
        s = self.settings
        while not self._stop.is_set():
            with self._cond:
                while not self._stop.is_set():
                    now = time.monotonic()
                    self._expire_inflight(now)
                    due = [b for t, b in self._retry if t <= now]
                    if (due or self._queue) and len(self._inflight) < s.max_inflight:
                        break
                    wake = min([t for t, _ in self._retry] + [now + 0.1]) - now
                    self._cond.wait(max(wake, 0.001))
                if self._stop.is_set():
                    break
                now = time.monotonic()
                items, attempt = [], 0
                if due:
                    self._retry = [(t, b) for t, b in self._retry if t > now]
                    for b in due:
                        items.extend(b.items)
                    attempt = max(b.attempt for b in due) + 1
                take = self._take_locked(now, items, attempt)
            if take is not None:
                self._send(*take)

    def _take_locked(self, now: float, items: list | None = None, attempt: int = 0) -> tuple | None:
        """The next entry: ``items`` (a retry) plus the queue, minus what timed out; marks it in flight."""
        items = items or []
        while self._queue and len(items) < self.settings.max_batch:
            items.append(self._queue.popleft())
        live = []
        for p in items:
            if p.deadline <= now:
                p.finish(error=Unavailable("no quorum: the write was not committed (not sent)"))
                continue
            with p.lock:
                if p.state in (p.CANCELLED, p.DONE):
                    continue
                p.state = p.SENT
            live.append(p)
        if not live:
            return None
        self._batch_ids += 1
        self._inflight[self._batch_ids] = _Batch(live, now, attempt)
        return self._batch_ids, live

    def _send(self, batch_id: int, live: list[_Pending]) -> None:
        entry = pack([p.txn for p in live])
        self.stats["entries"] += 1
        try:
            self._consumer.apply(entry, callback=lambda res, err, b=batch_id: self._done(b, res, err))
        except Exception:  # pickling or queue errors: fail the batch, keep the loop alive
            log.exception("proposing failed")
            self._done(batch_id, None, -1)

    def _expire_inflight(self, now: float) -> None:
        """A callback that never comes must not hold a slot forever (pysyncobj #75)."""
        for bid, batch in list(self._inflight.items()):
            if now - batch.sent_at > self.settings.write_timeout_s + 1.0:
                del self._inflight[bid]
                for p in batch.items:
                    p.finish(error=Timeout("the write was not committed in time; its outcome is unknown"))

    def _done(self, batch_id: int, result, err) -> None:
        """Runs on the tick thread: hand results to waiters, propose what queued meanwhile, never block."""
        take = None
        with self._cond:
            batch = self._inflight.pop(batch_id, None)
            if batch is None:
                return
            if err == FAIL_REASON.SUCCESS:
                writes = iter(result or ())
                for p in batch.items:
                    p.finish(result=next(writes, [False, "InternalError", "no result for transaction", []]))
                self.stats["txns"] += len(batch.items)
            elif err in _RETRYABLE:
                self.stats["retries"] += 1
                # no leader yet (or it just changed): retry soon; MISSING_LEADER is answered locally, so a
                # short cap costs little and lets writes resume as soon as a leader is elected
                backoff = min(0.005 * (2 ** batch.attempt), 0.05)
                self._retry.append((time.monotonic() + backoff, batch))
                self._cond.notify()
            else:
                # LEADER_CHANGED / UNKNOWN_OUTCOME: the entry may or may not apply
                for p in batch.items:
                    p.finish(error=Timeout(f"leadership changed while committing (reason {err}); "
                                           "the outcome is unknown", retry_after_s=0.5))
            if self._queue and not self._retry and len(self._inflight) < self.settings.max_inflight:
                take = self._take_locked(time.monotonic())
        if take is not None:
            self._send(*take)

    # ---- leadership -------------------------------------------------------------------------
    def _leader_loop(self) -> None:
        """Claims the leader epoch after becoming leader; only then is this master 'the leader'."""
        while not self._stop.is_set():
            self._role_changed.wait(0.2)
            self._role_changed.clear()
            if self._stop.is_set():
                break
            if not self._raft._isLeader():
                self.leadership._set(None)
                continue
            if self.leadership.epoch is not None:
                continue
            try:
                [epoch] = self.submit({"ops": [{"op": "claim", "holder": self.name}]}, timeout_s=2.0)
            except ApiError as exc:
                log.info("could not claim leadership yet: %s", exc)
                self._role_changed.set()
                self._stop.wait(0.05)
                continue
            if self._raft._isLeader() and self.machine.epoch == epoch and self.machine.epoch_holder == self.name:
                log.info("master %s is leader (term %d, epoch %d)", self.name, self._raft.raftCurrentTerm, epoch)
                self.leadership._set(epoch)
            else:
                self._role_changed.set()

    # ---- reads ------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def status(self) -> dict:
        st = self._raft.getStatus()
        leader = st.get("leader")
        leader_addr = str(getattr(leader, "id", leader)) if leader is not None else None
        peers = []
        for addr, name in sorted(self._addr_to_name.items(), key=lambda kv: kv[1]):
            if name == self.name:
                continue
            peers.append({"name": name, "address": addr,
                          "connected": st.get(f"partner_node_status_server_{addr}") == 2})
        return {
            "name": self.name,
            "pid": os.getpid(),
            "role": _ROLES.get(st["state"], str(st["state"])),
            "leader": self._addr_to_name.get(leader_addr, leader_addr) if leader_addr else None,
            "term": st["raft_term"],
            "commitIndex": st["commit_idx"],
            "appliedIndex": st["last_applied"],
            "ready": self.ready,
            "hasQuorum": bool(st.get("has_quorum")),
            "epoch": self.machine.epoch,
            "leaderEpochHolder": self.machine.epoch_holder,
            "controllersActive": self.leadership.epoch is not None,
            "revision": self.machine.revision,
            "logLength": st["log_len"],
            "proposals": dict(self.stats),  # entries this master proposed and the writes they carried
            "reads": dict(self._raft.reads.stats),  # linearizable reads, leader rounds, asks to the leader
            "peers": peers,
        }

    def force_snapshot(self) -> None:
        self._raft.forceLogCompaction()

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._role_changed.set()
        self.hub.close()
        self.leadership._set(None)
        try:
            self._raft.destroy_synchronous()
        except Exception:
            log.exception("raft shutdown")
        for t in self._threads:
            t.join(timeout=2)
