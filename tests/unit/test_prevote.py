"""Pre-Vote (state/prevote.py) against a fake view of a Raft node: who says yes, when a candidate campaigns."""

from __future__ import annotations

from raftkube.state.prevote import ANSWER, ASK, PreVote


class FakeNode:
    def __init__(self, term=3, last_log=(10, 3), peers=("b", "c"), leader_recent=False):
        self._term, self._last_log, self._peers, self._leader_recent = term, last_log, list(peers), leader_recent
        self.sent: list[tuple[str, dict]] = []
        self.campaigns = 0
        self.holds = 0
        self.adopted: list[int] = []

    def term(self):
        return self._term

    def last_log(self):
        return self._last_log

    def peers(self):
        return self._peers

    def send(self, node, message):
        self.sent.append((node, message))

    def leader_recent(self):
        return self._leader_recent

    def adopt_term(self, term):
        self.adopted.append(term)
        self._term = term

    def campaign(self):
        self.campaigns += 1

    def hold_election(self):
        self.holds += 1


def ask(term=4, index=10, last_term=3):
    return {"type": ASK, "term": term, "last_log_index": index, "last_log_term": last_term}


def answer_to(node: FakeNode, message: dict) -> dict:
    pv = PreVote(node)
    pv.on_message("a", message)
    [(to, reply)] = node.sent
    assert to == "a" and reply["type"] == ANSWER
    return reply


def test_a_peer_that_heard_no_leader_grants_a_pre_vote_and_changes_nothing():
    node = FakeNode(term=3, last_log=(10, 3))
    reply = answer_to(node, ask(term=4, index=10, last_term=3))
    assert reply == {"type": ANSWER, "term": 4, "granted": True, "current_term": 3}
    assert node.term() == 3 and not node.adopted and node.campaigns == 0
    assert node.holds == 1  # it gives the candidate a moment before campaigning itself


def test_a_refusal_holds_nothing():
    node = FakeNode(leader_recent=True)
    answer_to(node, ask())
    assert node.holds == 0


def test_a_peer_that_hears_its_leader_refuses():
    reply = answer_to(FakeNode(leader_recent=True), ask())
    assert reply["granted"] is False


def test_a_candidate_with_a_shorter_or_older_log_is_refused():
    assert answer_to(FakeNode(last_log=(10, 3)), ask(index=9, last_term=3))["granted"] is False
    assert answer_to(FakeNode(last_log=(10, 3)), ask(index=50, last_term=2))["granted"] is False
    assert answer_to(FakeNode(last_log=(10, 3)), ask(index=2, last_term=4))["granted"] is True


def test_a_proposed_term_not_above_the_peers_is_refused_with_the_peers_term():
    reply = answer_to(FakeNode(term=5), ask(term=5))
    assert reply["granted"] is False and reply["current_term"] == 5


def test_malformed_asks_are_refused():
    assert answer_to(FakeNode(), {"type": ASK, "term": "4"})["granted"] is False
    assert answer_to(FakeNode(), {"type": ASK, "term": 4, "last_log_index": None, "last_log_term": 3})["granted"] is False


def test_a_majority_of_pre_votes_starts_the_election_once():
    node = FakeNode(term=3, peers=("b", "c"))
    pv = PreVote(node)
    pv.start()
    assert [m["term"] for _, m in node.sent] == [4, 4] and {n for n, _ in node.sent} == {"b", "c"}
    assert node.sent[0][1]["last_log_index"] == 10 and node.sent[0][1]["last_log_term"] == 3
    assert not pv.may_campaign() and node.campaigns == 0
    pv.on_message("b", {"type": ANSWER, "term": 4, "granted": True, "current_term": 3})
    assert node.campaigns == 1 and pv.may_campaign()
    pv.on_message("c", {"type": ANSWER, "term": 4, "granted": True, "current_term": 3})
    assert node.campaigns == 1
    pv.leader_heard()  # a leader's heartbeat before the election started: the win is void
    assert not pv.may_campaign()


def test_refusals_and_stale_answers_do_not_start_an_election():
    node = FakeNode(term=3, peers=("b", "c", "d", "e"))
    pv = PreVote(node)
    pv.start()
    pv.on_message("b", {"type": ANSWER, "term": 4, "granted": True, "current_term": 3})
    pv.on_message("b", {"type": ANSWER, "term": 4, "granted": True, "current_term": 3})  # counted once
    pv.on_message("c", {"type": ANSWER, "term": 4, "granted": False, "current_term": 3})
    pv.on_message("d", {"type": ANSWER, "term": 3, "granted": True, "current_term": 2})  # an older round
    assert node.campaigns == 0 and not pv.may_campaign()
    pv.on_message("e", {"type": ANSWER, "term": 4, "granted": True, "current_term": 3})
    assert node.campaigns == 1


def test_a_won_pre_vote_is_void_once_the_term_moved():
    node = FakeNode(term=3, peers=("b", "c"))
    pv = PreVote(node)
    pv.start()
    pv.on_message("b", {"type": ANSWER, "term": 4, "granted": True, "current_term": 3})
    node._term = 4  # a leader of term 4 was heard meanwhile
    assert not pv.may_campaign()


def test_a_refusal_with_a_higher_term_is_adopted():
    node = FakeNode(term=3, peers=("b", "c"))
    pv = PreVote(node)
    pv.start()
    pv.on_message("b", {"type": ANSWER, "term": 4, "granted": False, "current_term": 7})
    assert node.adopted == [7] and node.campaigns == 0
    node.sent.clear()
    pv.start()
    assert {m["term"] for _, m in node.sent} == {8}


def test_a_cluster_of_one_needs_no_answer():
    node = FakeNode(peers=())
    pv = PreVote(node)
    pv.start()
    assert node.campaigns == 1 and not node.sent
