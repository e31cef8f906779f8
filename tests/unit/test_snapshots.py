"""Snapshots written by the raft-snapshot thread (state/syncobj.py BackgroundSnapshots), real files."""

from __future__ import annotations

import threading
import time

from pysyncobj import SERIALIZER_STATE

from raftkube.state import syncobj
from raftkube.state.raft import RaftStore, read_snapshot


def _wait_state(bg, wanted, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = bg.check()
        if state == wanted:
            return
        assert state == SERIALIZER_STATE.SERIALIZING, state
        time.sleep(0.01)
    raise AssertionError(f"snapshot never reached {wanted}")


def _doc(revision):
    return {"raft": [[1, 1], [revision, 1], []],
            "state": {"revision": revision, "objects": [["Pod", "default", f"p{i}", i, b"x" * 100]
                                                        for i in range(500)]}}


def test_background_snapshot_is_loadable_with_crc(tmp_path):
    dump = tmp_path / "raft.dump"
    bg = syncobj.BackgroundSnapshots(str(dump), lambda data: _doc(data), RaftStore._encode, fsync=True)
    bg.serialize(str(dump) + ".tmp", 7)
    syncobj._replace_snapshot(str(dump) + ".tmp", str(dump))  # what pysyncobj calls next: must be a no-op
    bg.join()
    _wait_state(bg, SERIALIZER_STATE.SUCCESS)
    assert bg.check() == SERIALIZER_STATE.NOT_SERIALIZING  # success is reported once
    doc = read_snapshot(dump)  # checks the CRC
    assert doc["state"]["revision"] == 7 and len(doc["state"]["objects"]) == 500
    assert bg.stats()["count"] == 1 and bg.stats()["lastBytes"] == dump.stat().st_size
    assert not (tmp_path / "raft.dump.bg.tmp").exists()


def test_compaction_only_after_snapshot_is_durable(tmp_path):
    dump = tmp_path / "raft.dump"
    release = threading.Event()

    def slow_encode(doc):
        release.wait(10)
        return RaftStore._encode(doc)

    bg = syncobj.BackgroundSnapshots(str(dump), _doc, slow_encode, fsync=True)
    bg.serialize(str(dump) + ".tmp", 3)
    for _ in range(5):  # pysyncobj compacts only on SUCCESS: not while the file is not in place
        assert bg.check() == SERIALIZER_STATE.SERIALIZING
        assert not dump.exists()
    release.set()
    bg.join()
    assert dump.exists()
    assert bg.check() == SERIALIZER_STATE.SUCCESS


def test_install_from_leader_during_local_write_wins(tmp_path):
    dump = tmp_path / "raft.dump"
    started, release = threading.Event(), threading.Event()

    def slow_encode(doc):
        started.set()
        release.wait(10)
        return RaftStore._encode(doc)

    bg = syncobj.BackgroundSnapshots(str(dump), _doc, slow_encode, fsync=True)
    bg.serialize(str(dump) + ".tmp", 3)
    assert started.wait(10)
    leader_tmp = tmp_path / "raft.dump.1.tmp"
    leader_tmp.write_bytes(RaftStore._encode(_doc(99)))
    syncobj._replace_snapshot(str(leader_tmp), str(dump))  # pysyncobj installing the leader's snapshot
    release.set()
    bg.join()
    assert bg.check() == SERIALIZER_STATE.FAILED  # the local one is dropped, no compaction on it
    assert read_snapshot(dump)["state"]["revision"] == 99
    assert not (tmp_path / "raft.dump.bg.tmp").exists()
