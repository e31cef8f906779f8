"""The Raft replica of one master: the store's ``Store`` interface over pysyncobj (state/syncobj.py), with
group commit (state/proposer.py), ReadIndex reads (state/readindex.py), leadership and status.

Everything that crosses the Raft port or lands in the journal is a pickle of ``(funcID, (bytes,))``: our
payloads are msgpack bytes, snapshots are msgpack (not pickle).
"""

from __future__ import annotations

import logging
import os
import threading
import struct
import time
import zlib
from pathlib import Path

from raftkube.config import RaftConfig
from raftkube.model.errors import AlreadyExists, ApiError, BadRequest, Conflict, NotFound, NotLeader, Unavailable
from raftkube.state.codec import pack, unpack
from raftkube.state.journal import DurableJournal, JournalCorrupt
from raftkube.state.machine import StateMachine, check_result
from raftkube.state import members as member_records
from raftkube.state import reconfig
from raftkube.state.members import MemberList
from raftkube.state.proposer import Proposer
from raftkube.state.syncobj import LEADER, ROLES, BackgroundSnapshots, PortLimits, RaftNode, SyncObjConf, \
    membership_change, node_id
from raftkube.state.watch import WatchHub

log = logging.getLogger(__name__)

#: snapshots: this magic, a CRC-32 of the rest, then msgpack (earlier releases wrote the msgpack alone)
SNAPSHOT_MAGIC = b"RKSNAP1\n"


def read_snapshot(path: Path) -> dict:
    raw = path.read_bytes()
    if raw.startswith(SNAPSHOT_MAGIC):
        head = len(SNAPSHOT_MAGIC) + 4
        (crc,) = struct.unpack_from("<I", raw, len(SNAPSHOT_MAGIC))
        if len(raw) < head or zlib.crc32(raw[head:]) != crc:
            raise JournalCorrupt(f"{path}: snapshot damaged (checksum mismatch); refusing to start. Restore this "
                                 "master's data directory from a healthy master or remove it to resync")
        raw = raw[head:]
    try:
        return unpack(raw)
    except Exception as exc:
        raise JournalCorrupt(f"{path}: snapshot unreadable ({exc}); refusing to start") from None


def encode_snapshot(doc: dict) -> bytes:
    """A snapshot file's bytes: ``{"raft": [prev entry, last entry, member addresses], "state": ...}``."""
    blob = pack(doc)
    return SNAPSHOT_MAGIC + struct.pack("<I", zlib.crc32(blob)) + blob


def check_snapshot(path: Path) -> None:
    """Before the node starts: a damaged snapshot stops the master (pysyncobj would log it and go on without
    it); an empty one was created and never synced, so it holds nothing: it is removed."""
    if not path.exists():
        return
    if path.stat().st_size == 0:
        log.warning("%s: empty (never synced); ignoring it", path)
        path.unlink()
        return
    read_snapshot(path)


class NotAMember(Exception):
    """The member list this master holds (its data directory, else the seed) does not name it."""


def _records_by_address(addresses, seed: dict[str, dict]) -> dict[str, dict]:
    """Records for a snapshot's member addresses (snapshots written before the member list had names): the
    seed's record for an address it knows, else one named after the address."""
    known = {member_records.address(r): r for r in seed.values()}
    out = {}
    for addr in addresses:
        rec = known.get(addr)
        if rec is None:
            host, port = addr.rsplit(":", 1)
            rec = member_records.record(addr, host, 0, int(port))
        out[rec["name"]] = rec
    return out


class Leadership:
    """'Leader and has committed an entry of its own term', as a value the controller manager can wait on.

    ``epoch`` is the replicated leader epoch this master claimed; controller writes carry it and the state
    machine rejects them once another master has claimed a newer one. While this master stays leader, an
    epoch superseded by another claim is claimed again: ``epoch`` becomes None (controllers stop), then the
    new epoch (they start again under it).
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
                 settings: RaftConfig, *, fsync: bool = True, quota_bytes: int | None = None,
                 seed: dict[str, dict] | None = None):
        """``quota_bytes`` is only shown in ``status()``: the registry puts the quota into the ops it proposes.

        ``seed``: the member records (state/members.py) a new cluster starts with (cluster.toml, or what
        ``--join`` learned); default: ``peers`` and this master, without API ports. The member list in the data
        directory (snapshot and journal), when there is one, wins over it; ``self_address`` and ``peers`` are
        then only a fallback. Raises ``NotAMember`` if the list does not name this master."""
        self.name = name
        self.settings = settings
        self.quota_bytes = quota_bytes
        if seed is None:
            seed = {}
            for n, addr in {**peers, name: self_address}.items():
                host, port = addr.rsplit(":", 1)
                seed[n] = member_records.record(n, host, 0, int(port))
        self._seed = seed
        self._hub = WatchHub(settings.watch_ring)
        self._machine = StateMachine(on_events=self._hub.publish, on_reset=self._hub.reset)
        self.leadership = Leadership()
        self.role_changes: dict[str, int] = {}  # role -> how often this master took it (/metrics)
        self._ready = threading.Event()
        self._role_changed = threading.Event()
        self._stop = threading.Event()

        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(data_dir, 0o700)
        if not fsync:
            log.warning("fsync = false: the Raft journal is never synced; acknowledged writes survive a crash of "
                        "this process but NOT a power loss or an OS crash of a majority of masters")
        dump_file = data_dir / "raft.dump"
        check_snapshot(dump_file)
        journal = DurableJournal(data_dir, fsync=fsync)
        self._members = self._load_members(dump_file, journal)
        journal.on_append = self._on_append
        journal.on_truncate_from = self._members.truncated
        current = self._members.current()
        if name not in current:
            journal._destroy()
            raise NotAMember(f"master {name} is not a member of the cluster (its member list: "
                             f"{', '.join(sorted(current)) or 'empty'}): it was removed, or it was never added "
                             f"(`raftkube members add {name} ...` on the cluster, then `raftkube master {name} "
                             f"--join URL`)")
        self_address = member_records.address(current[name])
        peer_addresses = sorted(member_records.address(r) for n, r in current.items() if n != name)
        self._snapshots = BackgroundSnapshots(str(dump_file), self._capture, self._encode, fsync)
        conf = SyncObjConf(
            password=None,  # the port is encrypted and authenticated by RaftNode.encryptor (AES-GCM)
            bindAddress=self_address,
            journalFile=str(data_dir / "raft.wal"),
            fullDumpFile=str(dump_file),
            serializer=self._snapshots.serialize,
            serializeChecker=self._snapshots.check,
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
            dynamicMembershipChange=True,  # changes only through state/reconfig.py
            onStateChanged=self._on_state_changed,
            onReady=self._ready.set,
        )
        limits = PortLimits(settings.handshake_timeout_s, settings.max_handshakes)
        self._raft = RaftNode(self_address, peer_addresses, conf, self._machine.apply, secret, journal,
                              port_limits=limits, election_backoff_cap=settings.election_backoff_cap,
                              members=self._members)
        self._proposer = Proposer(self._raft.propose, max_batch=settings.max_batch,
                                  max_inflight=settings.max_inflight, write_timeout_s=settings.write_timeout_s)
        self._proposer.start()
        self._leader_thread = threading.Thread(target=self._leader_loop, name="raft-leader", daemon=True)
        self._leader_thread.start()

    # ---- the member list -------------------------------------------------------------------
    def _load_members(self, dump_file: Path, journal: DurableJournal) -> MemberList:
        """The snapshot's members (else the seed), then every change in the journal after it."""
        self._startup_load = dump_file.exists()
        if self._startup_load:
            doc = read_snapshot(dump_file)
            index = max(doc["raft"][0][1], doc["raft"][1][1])
            members = MemberList(self._snapshot_members(doc), index)
        else:
            members = MemberList(self._seed, 0)
        for i in range(len(journal)):
            command, idx, _term = journal[i]
            change = membership_change(command, idx)
            if change is not None:
                members.appended(change)
        return members

    def _snapshot_members(self, doc: dict) -> dict[str, dict]:
        return doc.get("members") or _records_by_address(doc["raft"][2], self._seed)

    def _on_append(self, command: bytes, idx: int) -> None:
        change = membership_change(command, idx)
        if change is not None:
            self._members.appended(change)
            log.info("membership: %s %s (log index %d); members now %s", change.op, change.record["name"], idx,
                     ", ".join(sorted(self._members.current())))

    def _names(self) -> dict[str, str]:
        """Raft address -> name, for every member."""
        return self._members.by_address()

    # ---- snapshots (tick thread) ------------------------------------------------------------
    def _capture(self, data):
        """Tick thread: an immutable copy (object bodies are immutable bytes); encoded by raft-snapshot. The
        members are those at the snapshot's index (pysyncobj passes the newest configuration, which may
        include a change after it that is later rolled back)."""
        prev_entry, last_entry, _cluster = data
        members = self._members.at(max(prev_entry[1], last_entry[1]))
        return {"raft": [list(prev_entry), list(last_entry), sorted(member_records.address(r) for r in members.values())],
                "members": members, "state": self._machine.snapshot()}

    _encode = staticmethod(encode_snapshot)

    def _deserialize(self, file_name: str):
        doc = read_snapshot(Path(file_name))
        self._machine.restore(doc["state"])
        prev_entry, last_entry, cluster = doc["raft"]
        if self._startup_load:  # this master's own snapshot, at start: the members include its journal's changes
            self._startup_load = False
            members = self._members.current()
        else:  # one the leader sent: the log after it follows
            members = self._snapshot_members(doc)
            self._members.reset(members, max(prev_entry[1], last_entry[1]))
        log.info("loaded snapshot at revision %d", self._machine.revision)
        # the others (pysyncobj compares the addresses with its own Node, so it would keep this master's as a peer)
        return tuple(prev_entry), tuple(last_entry), {member_records.address(r) for n, r in members.items()
                                                      if n != self.name}

    # ---- tick-thread callbacks: only set flags ----------------------------------------------
    def _on_state_changed(self, old: int, new: int) -> None:
        role = ROLES.get(new, str(new))
        self.role_changes[role] = self.role_changes.get(role, 0) + 1
        if new != LEADER:
            self.leadership._set(None)  # stop controllers at once
        self._role_changed.set()

    # ---- the Store interface ----------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def write_timeout_s(self) -> float:
        return self.settings.write_timeout_s

    def submit(self, txn: dict, timeout_s: float | None = None) -> list:
        """Commit one transaction; returns its per-op results (revisions) or raises an ApiError.

        ``Timeout`` means the outcome is unknown: the entry may still apply later.
        """
        return check_result(self._proposer.submit(txn, timeout_s))

    #: UNSAFE, for `raftkube verify`'s test of its own checker only: serve every read from local state without
    #: the read barrier (stale reads on a partitioned master). Set by master.py from RAFTKUBE_UNSAFE_STALE_READS.
    unsafe_stale_reads = False

    def read(self, consistent: bool = True, timeout_s: float | None = None) -> StateMachine:
        if consistent and not self.unsafe_stale_reads:
            self._barrier(timeout_s)
        return self._machine

    def watch(self, kind: str, cursor: int, wait_s: float):
        events, seen = self._hub.kind_events_after(kind, cursor, wait_s)
        return None if self._hub.closed else (events, seen)

    def on_watch_events(self, fn) -> None:
        self._hub.add_listener(fn)

    def close_watches(self) -> None:
        self._hub.close()

    def _barrier(self, timeout_s: float | None = None) -> None:
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

    # ---- leadership -------------------------------------------------------------------------
    def _leader_term(self) -> int | None:
        """The Raft term in which this master is leader now, or None: the term read before and after the
        role is the same, so the master was leader in that very term."""
        term = self._raft.raftCurrentTerm
        if not self._raft._isLeader() or self._raft.raftCurrentTerm != term:
            return None
        return term

    def _leader_loop(self) -> None:
        """Claims the leader epoch after becoming leader; only then is this master 'the leader'.

        The claim carries the term this master leads in, so the state machine refuses it if it commits after
        a newer leader's claim. If another claim supersedes this master's epoch while it is still leader
        (a deposed leader's claim of the same term, a tool), it stops its controllers and claims again.
        """
        while not self._stop.is_set():
            self._role_changed.wait(0.2)
            self._role_changed.clear()
            if self._stop.is_set():
                break
            term = self._leader_term()
            if term is None:
                self.leadership._set(None)
                continue
            held = self.leadership.epoch
            if held is not None:
                m = self._machine
                with m.lock:  # not in the middle of a transaction that may still roll back
                    epoch, holder = m.epoch, m.epoch_holder
                if epoch == held and holder == self.name:
                    continue
                log.warning("master %s: leader epoch %d superseded by epoch %d of %r while still leader "
                            "(term %d); stopping the controllers and claiming again", self.name, held, epoch,
                            holder, term)
                self.leadership._set(None)
            try:
                [epoch] = self.submit({"ops": [{"op": "claim", "holder": self.name, "term": term}]}, timeout_s=2.0)
            except ApiError as exc:
                log.info("could not claim leadership yet: %s", exc)
                self._role_changed.set()
                self._stop.wait(0.05)
                continue
            m = self._machine
            if self._leader_term() == term and m.epoch == epoch and m.epoch_holder == self.name:
                log.info("master %s is leader (term %d, epoch %d)", self.name, term, epoch)
                self.leadership._set(epoch)
            else:
                self._role_changed.set()

    # ---- status -----------------------------------------------------------------------------
    def status(self) -> dict:
        st = self._raft.getStatus()
        leader_addr = node_id(st.get("leader"))
        peers = []
        for addr, name in sorted(self._names().items(), key=lambda kv: kv[1]):
            if name == self.name:
                continue
            peers.append({"name": name, "address": addr,
                          "connected": st.get(f"partner_node_status_server_{addr}") == 2})
        return {
            "name": self.name,
            "pid": os.getpid(),
            "role": ROLES.get(st["state"], str(st["state"])),
            "leader": self._names().get(leader_addr, leader_addr) if leader_addr else None,
            "term": st["raft_term"],
            "commitIndex": st["commit_idx"],
            "appliedIndex": st["last_applied"],
            "ready": self.ready,
            "hasQuorum": bool(st.get("has_quorum")),
            "epoch": self._machine.epoch,
            "leaderEpochHolder": self._machine.epoch_holder,
            "leaderEpochTerm": self._machine.epoch_term,
            "controllersActive": self.leadership.epoch is not None,
            "revision": self._machine.revision,
            "storeBytes": self._machine.store_bytes,  # encoded objects held, against the quota
            "quotaBytes": self.quota_bytes,
            "logLength": st["log_len"],
            "proposals": dict(self._proposer.stats),  # entries this master proposed and the writes they carried
            "raftPort": self._raft.port_stats(),  # Raft connections in their handshake, refusals (raftport.py)
            "journal": self._raft.durability(),  # syncs: how many, p50/p99 latency, entries per sync
            "snapshots": self._snapshots.stats(),  # written by the raft-snapshot thread, off the tick thread
            **self._raft.ticks.as_dict(),  # the longest gaps between two Raft ticks
            "elections": self._raft.elections.as_dict(),  # elections in a row without a leader, back-off
            "reads": dict(self._raft.reads.stats),  # linearizable reads, leader rounds, asks to the leader
            "peers": peers,
        }

    # ---- operating the masters (README "Operating the masters") -----------------------------
    def members(self) -> dict:
        """Every master of the cluster as this one sees it (the replicated member list, state/members.py); the
        match index and last contact of the others are known only on the leader (``progressKnown``)."""
        st = self._raft.getStatus()
        names = self._names()
        leader = names.get(node_id(st.get("leader")) or "")
        progress = self._raft.peer_progress()
        members = []
        for name, rec in sorted(self._members.current().items()):
            addr = member_records.address(rec)
            me = name == self.name
            role = ROLES.get(st["state"], str(st["state"])) if me else "leader" if name == leader else "follower"
            entry = {"name": name, "address": addr, "role": role, "self": me,
                     "connected": True if me else st.get(f"partner_node_status_server_{addr}") == 2,
                     "host": rec["host"], "apiPort": rec["apiPort"], "raftPort": rec["raftPort"],
                     "securePort": rec.get("securePort", 0),
                     "apiUrl": member_records.api_url(rec) if rec["apiPort"] else "",
                     "secureUrl": member_records.secure_url(rec)}
            if me:
                entry.update(matchIndex=self._raft.last_log_index(), lastContactS=0.0)
            else:
                entry.update(progress.get(addr, {"matchIndex": None, "lastContactS": None}))
            members.append(entry)
        return {"self": self.name, "leader": leader, "term": st["raft_term"], "commitIndex": st["commit_idx"],
                "appliedIndex": st["last_applied"], "progressKnown": bool(progress) or len(members) == 1,
                "raftPeers": sorted(node_id(n) for n in self._raft.otherNodes), "members": members}

    def member(self, name: str) -> dict | None:
        """Master ``name``'s record in the member list (state/members.py), or None."""
        return self._members.current().get(name)

    def change_members(self, op: str, rec: dict, timeout_s: float) -> dict:
        """On the leader: add (``op`` "add", ``rec`` a full record) or remove ("rem", ``rec`` {"name"}) one
        master through the log (state/reconfig.py); returns once the change is committed."""
        why = member_records.refusal(self._members.current(), op, rec)
        if why is not None:
            if op == "add":
                raise AlreadyExists(why)
            raise (NotFound if rec["name"] not in self._members.current() else Conflict)(why)
        if self._leader_term() is None:
            raise NotLeader(f"master {self.name} is not the leader; ask the leader to change the members")
        if op == "rem" and rec["name"] == self.name:
            raise NotLeader(self._hand_over_for_removal(timeout_s))
        started = time.monotonic()
        pending = self._raft.reconfig.start(op, rec, timeout_s)
        self._raft.wake()
        if not pending.done.wait(timeout_s + 7.0):
            raise Unavailable("the membership change did not finish (the Raft thread is stalled)", retry_after_s=1.0)
        kind, message = pending.kind, pending.message
        if kind == reconfig.OK:
            return {"op": "add" if op == "add" else "remove", "member": pending.record,
                    "tookMs": round((time.monotonic() - started) * 1000, 1),
                    "members": sorted(self._members.current())}
        if kind == reconfig.UNKNOWN_NAME:
            raise NotFound(message)
        if kind == reconfig.REFUSED and op == "add":
            raise AlreadyExists(message)
        if kind in (reconfig.REFUSED, reconfig.IN_FLIGHT):
            raise Conflict(message)
        if kind == reconfig.NOT_LEADER:
            raise NotLeader(f"master {self.name} is not the leader any more; ask the new leader")
        raise Unavailable(f"membership change failed: {message}", retry_after_s=1.0)

    def _hand_over_for_removal(self, timeout_s: float) -> str:
        """pysyncobj cannot remove its own leader: hand the leadership to the most up-to-date peer (again if an
        election gave it back to this master); the caller asks the new leader to remove this one."""
        deadline = time.monotonic() + timeout_s
        while True:
            progress = self._raft.peer_progress()
            if not progress:
                raise NotLeader(f"master {self.name} is not the leader any more; ask the new leader")
            target = max(progress, key=lambda a: progress[a]["matchIndex"] or 0)
            out = self.transfer_leadership(self._names()[target], max(1.0, min(5.0, deadline - time.monotonic())))
            if out["leader"] != self.name:
                return (f"master {self.name} was the leader: it handed the leadership to {out['leader']} so that it "
                        f"can be removed; ask {out['leader']}")
            if time.monotonic() > deadline:
                raise Unavailable(f"master {self.name} is the leader and could not hand the leadership over to be "
                                  "removed (elections gave it back); retry", retry_after_s=1.0)

    def transfer_leadership(self, target: str, timeout_s: float) -> dict:
        """Hand the leadership to master ``target`` (state/transfer.py); returns once it leads, with timings."""
        addr = {n: a for a, n in self._names().items()}.get(target)
        if addr is None:
            raise NotFound(f"no master named {target!r} (masters: {', '.join(sorted(self._names().values()))})")
        if target == self.name:
            raise BadRequest(f"master {target} is the leader already")
        if self._leader_term() is None:
            raise NotLeader(f"master {self.name} is not the leader; ask the leader to transfer")
        started = time.monotonic()
        try:
            transfer = self._raft.transfer.start(addr, timeout_s)
        except RuntimeError as exc:
            raise Conflict(str(exc)) from None
        self._raft.wake()
        if not transfer.done.wait(timeout_s + 2.0):  # the tick thread never finished it: say so, not success
            raise Unavailable(f"leadership transfer to {target} did not finish (the Raft thread is stalled)",
                              retry_after_s=1.0)
        if transfer.error is not None:
            raise Unavailable(f"leadership transfer to {target} failed: {transfer.error}", retry_after_s=1.0)
        stepped_down_ms = round((time.monotonic() - started) * 1000, 1)
        deadline = started + timeout_s
        while time.monotonic() < deadline:  # learn who won (the target, unless another master was faster)
            leader = self._names().get(node_id(self._raft.getStatus().get("leader")) or "")
            if leader is not None:
                return {"leader": leader, "previous": self.name, "steppedDownMs": stepped_down_ms,
                        "tookMs": round((time.monotonic() - started) * 1000, 1)}
            self._stop.wait(0.01)
        raise Unavailable(f"master {self.name} stepped down for {target}, but no new leader was seen in "
                          f"{timeout_s:g} s", retry_after_s=1.0)

    def backup(self, timeout_s: float | None = None) -> tuple[int, dict]:
        """The replicated state at a linearizable read point: (revision, the state machine's snapshot)."""
        machine = self.read(consistent=True, timeout_s=timeout_s)
        snap = machine.snapshot()  # under the machine's lock: one revision
        return snap["revision"], snap

    @property
    def journal_stats(self):
        """The journal's ``SyncStats`` (count, latency buckets, entries per sync), for /metrics."""
        return self._raft.journal.stats

    @property
    def snapshots(self):
        """The ``BackgroundSnapshots`` writer: count, last duration and size (for /metrics)."""
        return self._snapshots

    def force_snapshot(self) -> None:
        self._raft.forceLogCompaction()

    def close(self) -> None:
        self._stop.set()
        self._proposer.stop()
        self._role_changed.set()
        self._hub.close()
        self.leadership._set(None)
        try:
            self._raft.stop()
        except Exception:
            log.exception("raft shutdown")
        self._leader_thread.join(timeout=2)
        self._snapshots.join()
