"""Group commit (state/proposer.py) against a fake Raft layer: batching, the in-flight limit, retries,
unknown outcomes and callbacks that never come."""

from __future__ import annotations

import threading

import pytest

from raftkube.model.errors import Timeout, Unavailable
from raftkube.state.codec import unpack
from raftkube.state.proposer import OK, RETRY, UNKNOWN, Proposer
from raftkube.testing import poll_until


class FakeRaft:
    """Records every proposed entry with its callback; the test decides when and how each one ends."""

    def __init__(self):
        self.lock = threading.Lock()
        self.proposed: list[tuple[list, object]] = []

    def propose(self, entry: bytes, done) -> None:
        with self.lock:
            self.proposed.append((unpack(entry), done))

    def entry(self, i: int) -> list:
        return self.proposed[i][0]

    def finish(self, i: int, outcome: str = OK) -> None:
        txns, done = self.proposed[i]
        done([[True, "", "", [t["n"]]] for t in txns] if outcome == OK else None, outcome)

    def count(self) -> int:
        with self.lock:
            return len(self.proposed)


def submit_in_thread(p: Proposer, n: int, out: dict, timeout_s: float = 5.0) -> threading.Thread:
    def run():
        try:
            out[n] = p.submit({"n": n}, timeout_s)
        except Exception as exc:  # the test asserts on it
            out[n] = exc
    t = threading.Thread(target=run, name=f"writer-{n}")
    t.start()
    return t


@pytest.fixture
def raft():
    return FakeRaft()


def make(raft, **kw) -> Proposer:
    opts = dict(max_batch=512, max_inflight=1, write_timeout_s=5.0)
    opts.update(kw)
    return Proposer(raft.propose, **opts).start()


def test_writers_arriving_during_an_entry_share_the_next_one(raft):
    p = make(raft)
    out: dict = {}
    try:
        threads = [submit_in_thread(p, 0, out)]
        poll_until(lambda: raft.count() == 1, 2.0, what="the first entry")
        threads += [submit_in_thread(p, n, out) for n in range(1, 6)]
        poll_until(lambda: len(p._queue) == 5, 2.0, what="five writers queued behind the entry in flight")
        assert raft.count() == 1  # one entry in flight at most
        raft.finish(0)
        poll_until(lambda: raft.count() == 2, 2.0, what="the second entry")
        assert sorted(t["n"] for t in raft.entry(1)) == [1, 2, 3, 4, 5]
        raft.finish(1)
        for t in threads:
            t.join(2)
        assert out == {n: [True, "", "", [n]] for n in range(6)}
        assert p.stats == {"entries": 2, "txns": 6, "retries": 0}
    finally:
        p.stop()


def test_the_batch_size_is_bounded(raft):
    p = make(raft, max_batch=2)
    out: dict = {}
    try:
        threads = [submit_in_thread(p, 0, out)]
        poll_until(lambda: raft.count() == 1, 2.0)
        threads += [submit_in_thread(p, n, out) for n in range(1, 6)]
        poll_until(lambda: len(p._queue) == 5, 2.0)
        for i in range(4):
            raft.finish(i)
            poll_until(lambda: raft.count() == i + 2 or len(out) == 6, 2.0)
        assert [len(raft.entry(i)) for i in range(raft.count())] == [1, 2, 2, 1]
        for t in threads:
            t.join(2)
    finally:
        p.stop()


def test_entries_in_flight_never_exceed_the_limit(raft):
    p = make(raft, max_inflight=2)
    out: dict = {}
    try:
        threads = [submit_in_thread(p, n, out) for n in range(4)]
        poll_until(lambda: raft.count() == 2 and len(p._queue) == 2, 2.0, what="two entries in flight, two queued")
        raft.finish(0)
        poll_until(lambda: raft.count() == 3, 2.0)
        assert len(raft.entry(2)) == 2  # both queued writers, in one entry
        raft.finish(1)
        raft.finish(2)
        for t in threads:
            t.join(2)
        assert all(out[n] == [True, "", "", [n]] for n in range(4))
    finally:
        p.stop()


def test_an_entry_the_raft_layer_refused_is_proposed_again(raft):
    p = make(raft)
    out: dict = {}
    try:
        t = submit_in_thread(p, 7, out)
        poll_until(lambda: raft.count() == 1, 2.0)
        raft.finish(0, RETRY)  # e.g. no leader yet
        poll_until(lambda: raft.count() == 2, 2.0, what="the retry")
        assert raft.entry(1) == raft.entry(0)
        raft.finish(1)
        t.join(2)
        assert out[7] == [True, "", "", [7]]
        assert p.stats["retries"] == 1
    finally:
        p.stop()


def test_an_unknown_outcome_is_a_timeout_for_the_writer(raft):
    p = make(raft)
    out: dict = {}
    try:
        t = submit_in_thread(p, 1, out)
        poll_until(lambda: raft.count() == 1, 2.0)
        raft.finish(0, UNKNOWN)  # the leader changed while committing
        t.join(2)
        assert isinstance(out[1], Timeout)
    finally:
        p.stop()


def test_a_callback_that_never_comes_times_out_and_frees_the_slot(raft):
    p = make(raft, write_timeout_s=0.2)
    out: dict = {}
    try:
        t = submit_in_thread(p, 1, out, timeout_s=0.2)
        t.join(2)
        assert isinstance(out[1], Timeout)  # sent: the outcome is unknown
        poll_until(lambda: not p._inflight, 3.0, what="the in-flight slot freed after write timeout + 1 s")
        t = submit_in_thread(p, 2, out)
        poll_until(lambda: raft.count() == 2, 2.0, what="a new entry once the slot is free")
        raft.finish(1)
        t.join(2)
        assert out[2] == [True, "", "", [2]]
    finally:
        p.stop()


def test_a_writer_that_never_got_a_slot_is_unavailable_not_unknown(raft):
    p = make(raft, write_timeout_s=5.0)
    out: dict = {}
    try:
        first = submit_in_thread(p, 1, out)
        poll_until(lambda: raft.count() == 1, 2.0)
        second = submit_in_thread(p, 2, out, timeout_s=0.2)  # queued behind an entry that never finishes
        second.join(2)
        assert isinstance(out[2], Unavailable) and not isinstance(out[2], Timeout)
        raft.finish(0)
        first.join(2)
        assert raft.count() == 1  # the cancelled writer was never proposed
    finally:
        p.stop()
