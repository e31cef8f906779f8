"""Operating the masters, the pure parts: backup files and restored data directories (state/backup.py), and the
leadership transfer's steps on the leader's tick (state/transfer.py) against a fake Raft view."""

import pytest

from raftkube.state.backup import BackupError, checksum, decode_backup, encode_backup, restore
from raftkube.state.machine import StateMachine, txn
from raftkube.state.raft import read_snapshot
from raftkube.state.transfer import LeaderTransfer


def machine_with_objects(n=3) -> StateMachine:
    from raftkube.state.codec import pack
    m = StateMachine()
    m.apply(pack([{"ops": [{"op": "claim", "holder": "m1", "term": 7}]}]))
    for i in range(n):
        m.apply(pack([txn([{"op": "create", "key": ["Pod", "default", f"p{i}"], "data": b"x" * i}])]))
    m.apply(pack([{**txn([{"op": "create", "key": ["Pod", "default", "r"], "data": b"r"}]), "rid": "abc", "at": 5.0}]))
    return m


def test_a_backup_round_trips_with_its_revision_and_checksum():
    m = machine_with_objects()
    raw = encode_backup(m.revision, m.snapshot())
    doc = decode_backup(raw)
    assert doc["revision"] == m.revision == 4 and doc["objects"] == 4
    assert doc["state"]["objects"] == m.snapshot()["objects"]
    assert len(checksum(raw)) == 64


@pytest.mark.parametrize("damage", [lambda raw: raw[:-1], lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]),
                                    lambda raw: b"PK" + raw[2:], lambda raw: raw[:20]])
def test_a_damaged_or_foreign_file_is_refused(damage):
    m = machine_with_objects()
    with pytest.raises(BackupError, match="checksum mismatch|not a raftkube snapshot"):
        decode_backup(damage(encode_backup(m.revision, m.snapshot())))


def test_restore_writes_a_snapshot_per_master_that_keeps_revisions_and_resets_the_epoch_term(tmp_path):
    m = machine_with_objects()
    doc = decode_backup(encode_backup(m.revision, m.snapshot()))
    dirs = [tmp_path / "data" / n for n in ("m1", "m2", "m3")]
    restore(doc, dirs, ["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"], fsync=False)
    for d in dirs:
        assert sorted(p.name for p in d.iterdir()) == ["raft.dump"] and (d.stat().st_mode & 0o777) == 0o700
        snap = read_snapshot(d / "raft.dump")
        last, prev, members = snap["raft"]
        assert (last[1:], prev[1:]) == ([2, 0], [1, 0]) and members == sorted(members) and len(members) == 3
        r = StateMachine()
        r.restore(snap["state"])
        assert r.revision == m.revision and r.objects == m.objects
        # a new cluster's terms start again: a claim of term 1 must win; the old epoch number goes on
        assert (r.epoch, r.epoch_holder, r.epoch_term) == (m.epoch, "", 0) and not r.requests
        from raftkube.state.codec import pack
        assert r.apply(pack([{"ops": [{"op": "claim", "holder": "m2", "term": 1}]}]))[0][0] is True


def test_restore_refuses_an_existing_data_directory_and_writes_nothing(tmp_path):
    m = machine_with_objects()
    doc = decode_backup(encode_backup(m.revision, m.snapshot()))
    (tmp_path / "m2").mkdir()
    (tmp_path / "m2" / "raft.wal").write_bytes(b"old")
    with pytest.raises(BackupError, match="refusing to overwrite existing data: .*m2"):
        restore(doc, [tmp_path / "m1", tmp_path / "m2"], ["a:1", "b:2"], fsync=False)
    assert not (tmp_path / "m1").exists() and (tmp_path / "m2" / "raft.wal").read_bytes() == b"old"


class FakeView:
    def __init__(self):
        self.leader, self.match, self.last = True, 5, 10
        self.held, self.sent = False, []

    def is_leader(self):
        return self.leader

    def match_index(self, target):
        return self.match

    def last_log_index(self):
        return self.last

    def hold(self, on):
        self.held = on

    def send_timeout_now(self, target):
        self.sent.append(target)


def make(view, now):
    return LeaderTransfer(view, clock=lambda: now[0], resend_s=0.3)


def test_transfer_holds_proposals_until_the_target_caught_up_then_sends_timeout_now_and_releases_on_step_down():
    view, now = FakeView(), [0.0]
    lt = make(view, now)
    t = lt.start("b:2", 2.0)
    lt.on_tick()
    assert view.held and view.sent == []  # behind: hold the log's end still, wait
    view.match = 10
    now[0] = 0.1
    lt.on_tick()
    assert view.sent == ["b:2"] and view.held and not t.done.is_set()
    now[0] = 0.2
    lt.on_tick()
    assert view.sent == ["b:2"]  # not again before resend_s
    now[0] = 0.45
    lt.on_tick()
    assert view.sent == ["b:2", "b:2"]
    view.leader = False  # the target's higher term: stepped down
    lt.on_tick()
    assert t.done.is_set() and t.error is None and not view.held and not lt.active


def test_transfer_that_never_catches_up_fails_at_its_deadline_and_leadership_stays():
    view, now = FakeView(), [0.0]
    lt = make(view, now)
    t = lt.start("b:2", 1.0)
    lt.on_tick()
    now[0] = 1.0
    lt.on_tick()
    assert t.done.is_set() and "did not catch up" in t.error and not view.held and view.sent == []
    t2 = lt.start("b:2", 1.0)  # the next one may start
    assert not t2.done.is_set()


def test_one_transfer_at_a_time_and_not_on_a_follower():
    view, now = FakeView(), [0.0]
    lt = make(view, now)
    lt.start("b:2", 1.0)
    with pytest.raises(RuntimeError, match="in progress"):
        lt.start("c:3", 1.0)
    view.leader = False
    lt2 = make(view, now)
    t = lt2.start("b:2", 1.0)
    lt2.on_tick()
    assert t.error == "this master is not the leader" and not view.held
