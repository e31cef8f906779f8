"""ReadIndex and the leader lease (state/readindex.py), driven through a fake Raft view: no sockets, no clock."""

import pytest

from raftkube.state.readindex import ANSWER, ASK, PING, PONG, ReadIndex


class FakeRaft:
    def __init__(self, *, leader=True, term=5, commit=10, applied=10, peers=("b", "c")):
        self.leading, self.current_term, self.commit, self.applied_index = leader, term, commit, applied
        self.peer_list, self.leader_node, self.sent, self.wakes = list(peers), "a" if leader else "b", [], 0
        self.noop_committed = True

    def term(self): return self.current_term
    def is_leader(self): return self.leading
    def leader_read_index(self): return self.commit if self.leading and self.noop_committed else None
    def leader(self): return self.leader_node
    def peers(self): return self.peer_list
    def applied(self): return self.applied_index
    def send(self, node, message): self.sent.append((node, message))
    def wake(self): self.wakes += 1

    def take(self, kind):
        out = [(n, m) for n, m in self.sent if m["type"] == kind]
        self.sent = [(n, m) for n, m in self.sent if m["type"] != kind]
        return out


class Clock:
    def __init__(self): self.t = 100.0
    def __call__(self): return self.t


@pytest.fixture
def clock():
    return Clock()


def make(raft, clock):
    return ReadIndex(raft, stick_s=0.24, clock=clock)


def test_reads_arriving_together_share_one_waiter_and_one_wake_up(clock):
    raft = FakeRaft()
    ri = make(raft, clock)
    w1, w2 = ri.request(), ri.request()
    assert w1 is w2 and raft.wakes == 1
    ri.on_tick()
    assert ri.request() is not w1  # the next reads wait for the next round


def test_the_leader_confirms_its_term_with_a_majority_before_answering(clock):
    raft = FakeRaft()
    ri = make(raft, clock)
    w = ri.request()
    ri.on_tick()
    pings = raft.take(PING)
    assert [n for n, _ in pings] == ["b", "c"] and not w.event.is_set()
    seq = pings[0][1]["seq"]
    ri.on_message("b", {"type": PONG, "seq": seq, "term": 4})  # an older term is no acknowledgement
    assert not w.event.is_set()
    ri.on_message("c", {"type": PONG, "seq": seq, "term": 5})  # leader + c = 2 of 3
    assert w.event.is_set() and w.error is None


def test_the_read_waits_until_the_read_index_is_applied(clock):
    raft = FakeRaft(commit=12, applied=10)
    ri = make(raft, clock)
    w = ri.request()
    ri.on_tick()
    seq = raft.take(PING)[0][1]["seq"]
    ri.on_message("b", {"type": PONG, "seq": seq, "term": 5})
    assert not w.event.is_set()
    raft.applied_index = 12
    ri.on_tick()
    assert w.event.is_set() and w.error is None


def test_a_leader_that_stepped_down_meanwhile_fails_the_round(clock):
    raft = FakeRaft()
    ri = make(raft, clock)
    w = ri.request()
    ri.on_tick()
    seq = raft.take(PING)[0][1]["seq"]
    raft.leading = False
    ri.on_message("b", {"type": PONG, "seq": seq, "term": 5})
    assert w.event.is_set() and w.error == "leadership changed"


def test_rounds_in_flight_fail_at_once_when_the_leader_steps_down(clock):
    raft = FakeRaft()
    ri = make(raft, clock)
    w = ri.request()
    ri.on_tick()
    assert raft.take(PING)
    ri.on_message("b", {"type": ASK, "id": 3})  # no lease yet: queued for the next round
    raft.leading = False
    ri.on_tick()
    assert w.event.is_set() and w.error == "leadership changed"
    assert raft.take(ANSWER) == [("b", {"type": ANSWER, "id": 3, "error": "not the leader"})]


def test_no_answer_before_the_leaders_own_first_entry_is_committed(clock):
    raft = FakeRaft()
    raft.noop_committed = False
    ri = make(raft, clock)
    ri.on_message("b", {"type": ASK, "id": 7})
    assert raft.take(ANSWER) == [("b", {"type": ANSWER, "id": 7, "error": "not the leader"})]


def test_lease_answers_at_once_until_it_runs_out_and_is_renewed_while_reads_come(clock):
    raft = FakeRaft()
    ri = make(raft, clock)
    assert not ri.fast_path()  # no lease yet
    ri.request()
    ri.on_tick()
    seq = raft.take(PING)[0][1]["seq"]
    ri.on_message("b", {"type": PONG, "seq": seq, "term": 5})
    assert ri.fast_path()
    ri.on_message("c", {"type": ASK, "id": 1})  # a follower's request: answered from the lease
    assert raft.take(ANSWER) == [("c", {"type": ANSWER, "id": 1, "index": 10})]
    clock.t += ri.lease_s * 0.6  # past half the lease: the next tick renews it
    ri.on_tick()
    renew = raft.take(PING)
    assert len(renew) == 2 and ri.fast_path()
    clock.t += ri.lease_s * 0.5  # the first lease ran out; the renewal has no majority yet
    assert not ri.fast_path()
    ri.on_message("b", {"type": PONG, "seq": renew[0][1]["seq"], "term": 5})
    assert ri.fast_path()
    raft.current_term = 6  # a new term: the lease of term 5 is worthless
    assert not ri.fast_path()


def test_lease_needs_everything_committed_applied_first(clock):
    raft = FakeRaft(commit=11, applied=10)
    ri = make(raft, clock)
    ri.request()
    ri.on_tick()
    ri.on_message("b", {"type": PONG, "seq": raft.take(PING)[0][1]["seq"], "term": 5})
    assert not ri.fast_path()
    raft.applied_index = 11
    assert ri.fast_path()


def test_follower_asks_the_leader_and_waits_for_its_index(clock):
    raft = FakeRaft(leader=False, commit=20, applied=18)
    ri = make(raft, clock)
    w = ri.request()
    ri.on_tick()
    [(to, ask)] = raft.take(ASK)
    assert to == "b"
    ri.on_message("b", {"type": ANSWER, "id": ask["id"], "index": 19})
    assert not w.event.is_set()
    raft.applied_index = 19
    ri.on_tick()
    assert w.event.is_set() and w.error is None


def test_follower_without_leader_or_answer_fails_retryably(clock):
    raft = FakeRaft(leader=False)
    raft.leader_node = None
    ri = make(raft, clock)
    w = ri.request()
    ri.on_tick()
    assert w.error == "no leader"
    raft.leader_node = "b"
    w2 = ri.request()
    ri.on_tick()
    clock.t += 3.0
    ri.on_tick()
    assert w2.event.is_set() and w2.error == "the leader did not answer"


def test_follower_ignores_votes_soon_after_hearing_from_its_leader(clock):
    raft = FakeRaft(leader=False)
    ri = make(raft, clock)
    vote = {"type": "request_vote", "term": 6}
    assert ri.admit("c", vote)  # never heard from a leader
    assert ri.admit("b", {"type": "append_entries", "term": 5})
    assert not ri.admit("c", vote)
    clock.t += 0.25  # past stick_s
    assert ri.admit("c", vote)
    ri.on_message("b", {"type": PING, "seq": 1, "term": 5})  # a ping of the current term counts as contact
    assert raft.take(PONG) == [("b", {"type": PONG, "seq": 1, "term": 5})]
    assert not ri.admit("c", vote)
    assert ri.stats["votes_ignored"] == 2
