"""The Raft journal on disk: checksummed records, fdatasync with group commit, a durable term and vote.

pysyncobj's own journal writes into an mmap and never syncs it; this one replaces it (state/syncobj.py
installs it) and implements the same interface (``add``, ``clear``, ``deleteEntriesFrom``/``To``, indexing,
``setCurrentTerm``...), keeping every entry in memory as pysyncobj expects.

Files in the master's data directory:

- ``raft.wal``: an 8-byte magic, then one record per entry: ``<u32 length><u32 crc32><u64 index><u64 term>``
  followed by ``length`` bytes of pysyncobj's command. The CRC covers index, term and command. Appends go
  to the end; a conflict truncates the file; a compaction rewrites the few remaining entries into a new
  file (written, fsync'd, renamed, directory fsync'd).
- ``raft.meta``: the current term, the vote and the commit index, as JSON with a CRC; replaced atomically
  (temporary file, fsync, rename, directory fsync).

Durability (``fsync=True``, the default):

- **Entries.** ``add`` only writes; ``sync`` fdatasyncs what was written since the last sync, once per
  pass of the Raft tick thread, so one sync covers every entry appended meanwhile (group commit), and
  ``synced_index`` says how far the log is on disk. Acknowledgements of entries wait for it
  (state/ackgate.py): a follower answers AppendEntries, and the leader counts a follower's answer towards
  a commit (so also itself), only once its own journal has the entries on disk. A cluster of one master
  commits at the start of the tick after its append, after that tick's sync.
- **Term and vote.** ``setCurrentTerm`` writes ``raft.meta`` durably before it returns, that is before the
  vote is sent or the higher term acted on.
- **Commit index.** Saved at most once a second, never above ``synced_index``.

At start, a record cut short or failing its CRC at the end of the file (a write torn by a power loss: it was
never synced, so never acknowledged) is dropped and the file truncated there; a bad record followed by good
ones is corruption and stops the master (``JournalCorrupt`` names the file and the offset). A file that is
empty or shorter than its header (created, never synced) holds nothing synced: it starts empty.

``fsync=False`` skips every sync (tests that do not need durability): acknowledged writes then survive a
process crash but not a power loss, and the master says so in its log.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import pickle
import struct
import threading
import time
import zlib
from collections import deque
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

MAGIC = b"RKWAL\x00\x01\n"
_HEAD = struct.Struct("<IIQQ")  # command length, crc32(index, term, command), index, term
_IDX_TERM = struct.Struct("<QQ")
#: a record longer than this is not a record (a corrupt length field), whatever the bytes after it say
MAX_RECORD = 1 << 30
WAL, META = "raft.wal", "raft.meta"
#: pysyncobj's own journal files, imported once by ``migrate_pysyncobj_journal``
OLD_JOURNAL = "raft.journal"


class JournalCorrupt(Exception):
    """A record in the middle of the journal (or the meta file) is damaged: the master must not start."""


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durable_replace(tmp: Path, dst: Path, fsync: bool = True) -> None:
    """Rename an already written ``tmp`` over ``dst`` so that after a power loss ``dst`` is either the old
    or the new file, complete: fsync the data, rename, fsync the directory."""
    if fsync:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    os.replace(tmp, dst)
    if fsync:
        fsync_dir(dst.parent)


def encode_record(command: bytes, idx: int, term: int) -> bytes:
    body = _IDX_TERM.pack(idx, term)
    crc = zlib.crc32(command, zlib.crc32(body))
    return _HEAD.pack(len(command), crc, idx, term) + command


def _parse(data: bytes, start: int) -> tuple[tuple[bytes, int, int], int] | None:
    """The record at ``start`` and the offset after it, or None if there is no valid record there."""
    if start + _HEAD.size > len(data):
        return None
    length, crc, idx, term = _HEAD.unpack_from(data, start)
    end = start + _HEAD.size + length
    if length > MAX_RECORD or end > len(data):
        return None
    command = bytes(data[start + _HEAD.size:end])
    if zlib.crc32(command, zlib.crc32(_IDX_TERM.pack(idx, term))) != crc:
        return None
    return (command, idx, term), end


def _valid_record_after(data: bytes, start: int) -> int | None:
    """Offset of a valid record somewhere after ``start`` (a corrupt record in the middle), or None."""
    for pos in range(start + 1, len(data) - _HEAD.size + 1):
        if _parse(data, pos) is not None:
            return pos
    return None


def read_records(path: Path) -> tuple[list[tuple[bytes, int, int]], list[int], int]:
    """The entries of a journal file, their offsets and the offset where the valid records end."""
    data = path.read_bytes()
    if len(data) < len(MAGIC):
        return [], [], 0  # created, never synced: nothing in it was acknowledged
    if data[:len(MAGIC)] != MAGIC:
        raise JournalCorrupt(f"{path}: not a raftkube journal (bad magic at offset 0)")
    entries, offsets, pos = [], [], len(MAGIC)
    while pos < len(data):
        got = _parse(data, pos)
        if got is None:
            later = _valid_record_after(data, pos)
            if later is not None:
                raise JournalCorrupt(f"{path}: damaged record at offset {pos} followed by valid records (at "
                                     f"offset {later}); refusing to start. Restore this master's data directory "
                                     "from a healthy master or remove it to resync from the others")
            log.warning("%s: dropping a torn record at the end (offset %d, %d bytes): it was never synced",
                        path, pos, len(data) - pos)
            break
        entry, end = got
        if entries and entry[1] != entries[-1][1] + 1:
            raise JournalCorrupt(f"{path}: record at offset {pos} has index {entry[1]} after {entries[-1][1]}")
        entries.append(entry)
        offsets.append(pos)
        pos = end
    return entries, offsets, pos


class Meta:
    """The term, vote and commit index in ``raft.meta``, replaced atomically on every change."""

    def __init__(self, path: Path, fsync: bool):
        self.path = path
        self.fsync = fsync
        self.term, self.voted_for, self.commit_index = 0, None, 1
        if path.exists():
            raw = path.read_bytes()
            if raw:
                self._decode(raw)

    def _decode(self, raw: bytes) -> None:
        try:
            body, crc = raw.rstrip(b"\n").rsplit(b"\n", 1)
            if zlib.crc32(body) != int(crc, 16):
                raise ValueError("checksum mismatch")
            doc = json.loads(body)
            self.term, self.voted_for, self.commit_index = doc["term"], doc["votedFor"], doc["commitIndex"]
        except (ValueError, KeyError, TypeError) as exc:
            raise JournalCorrupt(f"{self.path}: damaged ({exc}); refusing to start (the term and vote are "
                                 "needed to vote safely)") from None

    def save(self, term: int, voted_for, commit_index: int) -> None:
        body = json.dumps({"term": term, "votedFor": voted_for, "commitIndex": commit_index}, sort_keys=True).encode()
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(body + b"\n" + f"{zlib.crc32(body):08x}".encode() + b"\n")
        durable_replace(tmp, self.path, self.fsync)
        self.term, self.voted_for, self.commit_index = term, voted_for, commit_index


class SyncStats:
    """Syncs of the journal: how many, how long, how many entries each covered (for /raft)."""

    #: upper bounds (seconds) of the sync latency histogram that /metrics exports (``buckets``)
    BOUNDS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

    def __init__(self, keep: int = 2048):
        self.syncs = 0
        self.entries = 0
        self.bytes = 0
        self.seconds = 0.0
        self.buckets = [0] * (len(self.BOUNDS) + 1)  # per bound, not cumulative; the last is +Inf
        self._latency_s: deque[float] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def record(self, seconds: float, entries: int) -> None:
        with self._lock:
            self.syncs += 1
            self.entries += entries
            self.seconds += seconds
            self.buckets[bisect.bisect_left(self.BOUNDS, seconds)] += 1
            self._latency_s.append(seconds)

    def as_dict(self) -> dict:
        with self._lock:
            lat = sorted(self._latency_s)
        pick = (lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 3)) if lat else (lambda q: None)
        return {"syncs": self.syncs, "entriesPerSync": round(self.entries / self.syncs, 2) if self.syncs else None,
                "syncMsP50": pick(0.5), "syncMsP99": pick(0.99), "bytesWritten": self.bytes}


class DurableJournal:
    """pysyncobj's Journal interface over ``raft.wal`` and ``raft.meta`` in ``directory`` (see module doc).

    Single-threaded: every method runs on the Raft tick thread (``synced_index`` may be read from anywhere).
    """

    def __init__(self, directory: Path, *, fsync: bool = True):
        self.directory = Path(directory)
        self.fsync = fsync
        self.on_truncate: Callable[[], None] = lambda: None
        #: every entry appended (command, index) and the index a truncation starts at: the member list
        #: follows the log through them (state/members.py)
        self.on_append: Callable[[bytes, int], None] = lambda command, idx: None
        self.on_truncate_from: Callable[[int], None] = lambda idx: None
        self.stats = SyncStats()
        self._path = self.directory / WAL
        migrate_pysyncobj_journal(self.directory, fsync)
        self._meta = Meta(self.directory / META, fsync)
        self._entries, self._offsets, end = read_records(self._path) if self._path.exists() else ([], [], 0)
        self._open(end)
        self._synced = self._entries[-1][1] if self._entries else 0  # what was read back is on disk
        self._dirty = 0  # records written (or removed) since the last sync
        self._commit_index = self._meta.commit_index
        self._commit_saved = self._commit_index

    def _open(self, end: int) -> None:
        """Open ``raft.wal`` for appending after offset ``end`` (dropping a torn tail), creating it durably."""
        if end < len(MAGIC):  # missing, empty or shorter than the magic: start a fresh file
            tmp = self._path.with_name(WAL + ".tmp")
            with open(tmp, "wb") as fh:
                fh.write(MAGIC)
            durable_replace(tmp, self._path, self.fsync)
            end = len(MAGIC)
        self._fd = os.open(self._path, os.O_WRONLY | os.O_APPEND)
        if os.fstat(self._fd).st_size > end:
            os.ftruncate(self._fd, end)
            if self.fsync:
                os.fdatasync(self._fd)
        self._end = end

    def _last_index(self) -> int:
        return self._entries[-1][1] if self._entries else 0

    # ---- pysyncobj's Journal interface -------------------------------------------------------
    def add(self, command, idx, term):
        record = encode_record(bytes(command), idx, term)
        os.write(self._fd, record)
        self._entries.append((command, idx, term))
        self._offsets.append(self._end)
        self._end += len(record)
        self.stats.bytes += len(record)
        self._dirty += 1
        self.on_append(command, idx)

    def clear(self):
        self._truncate(0)

    def deleteEntriesFrom(self, entryFrom):
        self._truncate(entryFrom)

    def deleteEntriesTo(self, entryTo):
        """Compaction, after a snapshot: keep entries from position ``entryTo`` on, in a new file."""
        keep = self._entries[entryTo:]
        if self.fsync:
            fsync_dir(self.directory)  # the snapshot's rename first: only then may the log lose its prefix
        tmp = self._path.with_name(WAL + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(MAGIC)
            offsets, end = [], len(MAGIC)
            for command, idx, term in keep:
                record = encode_record(bytes(command), idx, term)
                fh.write(record)
                offsets.append(end)
                end += len(record)
        durable_replace(tmp, self._path, self.fsync)
        os.close(self._fd)
        self._fd = os.open(self._path, os.O_WRONLY | os.O_APPEND)
        self._entries, self._offsets, self._end = list(keep), offsets, end
        self._synced, self._dirty = self._last_index(), 0  # all of it was just synced

    def _truncate(self, position: int) -> None:
        if position >= len(self._entries):
            return
        offset = self._offsets[position]
        self.on_truncate_from(self._entries[position][1])
        os.ftruncate(self._fd, offset)
        del self._entries[position:]
        del self._offsets[position:]
        self._end = offset
        self._synced = min(self._synced, self._last_index())
        self._dirty += 1  # the shorter length must reach the disk too
        self.on_truncate()

    def __getitem__(self, item):
        return self._entries[item]

    def __len__(self):
        return len(self._entries)

    def setRaftCommitIndex(self, raftCommitIndex):
        self._commit_index = raftCommitIndex

    def getRaftCommitIndex(self):
        return max(1, min(self._commit_index, self._last_index()))

    def setCurrentTerm(self, term, votedForNodeId):
        """Durable before it returns: pysyncobj sends the vote, or acts on the term, right after."""
        if (term, votedForNodeId) == (self._meta.term, self._meta.voted_for):
            return
        if votedForNodeId is not None and votedForNodeId != self._meta.voted_for:
            log.info("term %d: vote for %s", term, votedForNodeId)
        self._meta.save(term, votedForNodeId, min(self._commit_saved, self._synced))

    def getCurrentTerm(self):
        return self._meta.term

    def getVotedForNodeId(self):
        return self._meta.voted_for

    def onOneSecondTimer(self):
        """Save the commit index (at most once a second; never beyond what is on disk)."""
        commit = min(self._commit_index, self._synced)
        if commit > self._commit_saved:
            self._meta.save(self._meta.term, self._meta.voted_for, commit)
            self._commit_saved = commit

    def flush(self):
        self.sync()

    def _destroy(self):
        self.sync()
        self.onOneSecondTimer()
        os.close(self._fd)

    # ---- syncing --------------------------------------------------------------------------------
    def synced_index(self) -> int:
        """The index up to which the log is on disk."""
        return self._synced

    def sync(self) -> bool:
        """Group commit: one fdatasync covers every record written since the last one; False if none was."""
        if not self._dirty:
            return False
        started = time.monotonic()
        if self.fsync:
            os.fdatasync(self._fd)
        self.stats.record(time.monotonic() - started, self._dirty)
        self._synced, self._dirty = self._last_index(), 0
        return True


def migrate_pysyncobj_journal(directory: Path, fsync: bool) -> None:
    """Import pysyncobj's own journal (``raft.journal`` + ``.meta``, written by earlier raftkube releases)
    into ``raft.wal`` / ``raft.meta`` once; the old files are kept with a ``.migrated`` suffix."""
    old = directory / OLD_JOURNAL
    if not old.exists() or (directory / WAL).exists():
        return
    data = old.read_bytes()
    entries = []
    if len(data) >= 40:  # name (24) + version (8) + format (4) + end of the last record (4)
        last = struct.unpack_from("<I", data, 36)[0]
        pos = 40
        while pos < min(last, len(data)) and pos + 4 <= len(data):
            size = struct.unpack_from("<I", data, pos)[0]
            record = data[pos + 4:pos + 4 + size]
            if len(record) < 16:
                break
            idx, term = struct.unpack_from("<QQ", record)
            entries.append((record[16:], idx, term))
            pos += size + 8
    meta_doc = {}
    old_meta = directory / (OLD_JOURNAL + ".meta")
    if old_meta.exists() and old_meta.stat().st_size:
        try:
            meta_doc = pickle.loads(old_meta.read_bytes())  # our own data directory (0700), as pysyncobj did
        except Exception:
            log.warning("%s: unreadable; starting from term 0", old_meta)
    tmp = directory / (WAL + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(MAGIC)
        for command, idx, term in entries:
            fh.write(encode_record(command, idx, term))
    durable_replace(tmp, directory / WAL, fsync)
    Meta(directory / META, fsync).save(meta_doc.get("currentTerm", 0), meta_doc.get("votedForNodeId"),
                                       meta_doc.get("raftCommitIndex", 1))
    for path in (old, old_meta):
        if path.exists():
            os.replace(path, path.with_name(path.name + ".migrated"))
    log.info("imported %d entries of pysyncobj's journal %s into %s", len(entries), old, directory / WAL)
