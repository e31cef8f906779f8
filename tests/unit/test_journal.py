"""The durable Raft journal (state/journal.py): records survive reopening, torn tails are dropped, damage in
the middle stops the master, term and vote are on disk, one sync covers many entries."""

from __future__ import annotations

import os

import pytest

from raftkube.state import journal as journal_mod
from raftkube.state.journal import MAGIC, WAL, DurableJournal, JournalCorrupt, encode_record


def entries(n: int, start: int = 1, term: int = 1, size: int = 40) -> list[tuple[bytes, int, int]]:
    return [(bytes([i % 251]) * size, i, term) for i in range(start, start + n)]


@pytest.fixture
def opened():
    journals = []

    def open_journal(path, **kw) -> DurableJournal:
        j = DurableJournal(path, **kw)
        journals.append(j)
        return j
    yield open_journal
    for j in journals:
        try:
            j._destroy()
        except OSError:  # closed by the test already
            pass


def reopen(j: DurableJournal, opened, **kw) -> DurableJournal:
    j._destroy()
    return opened(j.directory, **kw)


def test_entries_term_and_vote_survive_reopening(tmp_path, opened):
    j = opened(tmp_path)
    assert len(j) == 0 and j.getCurrentTerm() == 0 and j.getVotedForNodeId() is None
    for e in entries(5):
        j.add(*e)
    j.setCurrentTerm(3, "127.0.0.1:7002")
    j.setRaftCommitIndex(4)
    assert j.sync() and j.synced_index() == 5
    j2 = reopen(j, opened)
    assert j2[:] == entries(5)
    assert (j2.getCurrentTerm(), j2.getVotedForNodeId()) == (3, "127.0.0.1:7002")
    assert j2.getRaftCommitIndex() == 4
    assert j2.synced_index() == 5


def test_a_torn_record_at_the_end_is_dropped(tmp_path, opened):
    j = opened(tmp_path)
    for e in entries(3):
        j.add(*e)
    j._destroy()
    path = tmp_path / WAL
    size = path.stat().st_size
    os.truncate(path, size - 7)  # the last record cut short by a power loss
    j2 = opened(tmp_path)
    assert [e[1] for e in j2] == [1, 2]
    assert path.stat().st_size == size - len(encode_record(*entries(1, start=3)[0]))  # truncated there
    j2.add(*entries(1, start=3, term=2)[0])  # and the log goes on after it
    j3 = reopen(j2, opened)
    assert [(e[1], e[2]) for e in j3] == [(1, 1), (2, 1), (3, 2)]


def test_garbage_after_the_last_record_is_dropped(tmp_path, opened):
    j = opened(tmp_path)
    for e in entries(2):
        j.add(*e)
    j._destroy()
    with open(tmp_path / WAL, "ab") as fh:
        fh.write(b"\x00" * 4096)  # e.g. a preallocated, never written tail
    assert [e[1] for e in opened(tmp_path)] == [1, 2]


def test_a_damaged_record_in_the_middle_stops_with_file_and_offset(tmp_path, opened):
    j = opened(tmp_path)
    for e in entries(4):
        j.add(*e)
    j._destroy()
    path = tmp_path / WAL
    second = len(MAGIC) + len(encode_record(*entries(1)[0]))
    data = bytearray(path.read_bytes())
    data[second + 30] ^= 0xFF  # a flipped byte inside record 2
    path.write_bytes(bytes(data))
    with pytest.raises(JournalCorrupt) as exc:
        DurableJournal(tmp_path)
    assert str(path) in str(exc.value) and f"offset {second}" in str(exc.value)


@pytest.mark.parametrize("content", [b"", b"RKW"])
def test_an_empty_or_short_journal_is_a_journal_with_nothing_in_it(tmp_path, opened, content):
    (tmp_path / WAL).write_bytes(content)  # created, never synced, then a power loss
    (tmp_path / "raft.meta").write_bytes(b"")
    j = opened(tmp_path)
    assert len(j) == 0 and j.getCurrentTerm() == 0
    j.add(*entries(1)[0])
    assert [e[1] for e in reopen(j, opened)] == [1]


def test_a_damaged_meta_file_stops_the_master(tmp_path, opened):
    j = opened(tmp_path)
    j.setCurrentTerm(7, "a:1")
    j._destroy()
    meta = tmp_path / "raft.meta"
    meta.write_bytes(meta.read_bytes().replace(b"7", b"9", 1))
    with pytest.raises(JournalCorrupt, match="raft.meta"):
        DurableJournal(tmp_path)


def test_conflict_truncation_and_compaction_reach_the_file(tmp_path, opened):
    j = opened(tmp_path)
    for e in entries(6):
        j.add(*e)
    j.deleteEntriesFrom(3)  # a new leader's entries replace 4..6
    for e in entries(2, start=4, term=2):
        j.add(*e)
    assert [(e[1], e[2]) for e in j] == [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2)]
    j.deleteEntriesTo(3)  # compaction after a snapshot at index 3
    assert [e[1] for e in j] == [4, 5]
    j.add(*entries(1, start=6, term=2)[0])
    j2 = reopen(j, opened)
    assert [(e[1], e[2]) for e in j2] == [(4, 2), (5, 2), (6, 2)]


def test_the_commit_index_never_exceeds_the_log_read_back(tmp_path, opened):
    j = opened(tmp_path)
    for e in entries(3):
        j.add(*e)
    j.setRaftCommitIndex(3)
    j.sync()
    j._destroy()
    os.truncate(tmp_path / WAL, len(MAGIC) + len(encode_record(*entries(1)[0])))  # entries 2, 3 lost
    assert opened(tmp_path).getRaftCommitIndex() == 1


def test_one_sync_covers_every_entry_written_since_the_last_one(tmp_path, opened, monkeypatch):
    calls = []
    real = os.fdatasync
    monkeypatch.setattr(journal_mod.os, "fdatasync", lambda fd: (calls.append(fd), real(fd)))
    j = opened(tmp_path)
    for e in entries(50):
        j.add(*e)
    assert j.synced_index() == 0  # written, not on disk: nothing may acknowledge them yet
    assert j.sync() is True and j.synced_index() == 50
    assert j.sync() is False  # nothing new: no second fdatasync
    assert len(calls) == 1
    assert j.stats.as_dict()["entriesPerSync"] == 50


def test_a_truncation_takes_the_synced_index_back_and_needs_a_sync(tmp_path, opened):
    j = opened(tmp_path)
    for e in entries(3):
        j.add(*e)
    j.sync()
    truncated = []
    j.on_truncate = lambda: truncated.append(j.synced_index())
    j.deleteEntriesFrom(1)  # a conflict: entries 2..3 replaced
    assert truncated == [1] and j.synced_index() == 1
    for e in entries(2, start=2, term=2):
        j.add(*e)
    assert j.synced_index() == 1
    assert j.sync() and j.synced_index() == 3


def test_without_fsync_nothing_is_synced_but_everything_works(tmp_path, opened, monkeypatch):
    monkeypatch.setattr(journal_mod.os, "fdatasync", lambda fd: pytest.fail("fdatasync with fsync off"))
    monkeypatch.setattr(journal_mod.os, "fsync", lambda fd: pytest.fail("fsync with fsync off"))
    j = opened(tmp_path, fsync=False)
    for e in entries(3):
        j.add(*e)
    j.setCurrentTerm(2, None)
    assert j.sync() and j.synced_index() == 3
    j._destroy()
    assert [e[1] for e in opened(tmp_path, fsync=False)] == [1, 2, 3]


def test_pysyncobj_journals_of_earlier_releases_are_imported_once(tmp_path, opened):
    from pysyncobj.journal import FileJournal
    old = FileJournal(str(tmp_path / "raft.journal"))
    for e in entries(4):
        old.add(*e)
    old.setCurrentTerm(5, "127.0.0.1:7003")
    old.setRaftCommitIndex(3)
    old.onOneSecondTimer()
    old._destroy()
    j = opened(tmp_path)
    assert j[:] == entries(4)
    assert (j.getCurrentTerm(), j.getVotedForNodeId(), j.getRaftCommitIndex()) == (5, "127.0.0.1:7003", 3)
    assert (tmp_path / "raft.journal.migrated").exists() and not (tmp_path / "raft.journal").exists()
    j.add(*entries(1, start=5, term=5)[0])
    assert [e[1] for e in reopen(j, opened)] == [1, 2, 3, 4, 5]
