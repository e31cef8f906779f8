"""Acknowledgements wait for the journal (state/ackgate.py), and AppendEntries skip known entries
(state/logmatch.py)."""

from __future__ import annotations

from raftkube.state.ackgate import AckGate
from raftkube.state.logmatch import trim_known_entries


class Disk:
    def __init__(self):
        self.synced = 0
        self.term = 1
        self.sent: list[tuple[str, dict]] = []

    def gate(self) -> AckGate:
        return AckGate(lambda: self.synced, lambda: self.term, lambda peer, m: self.sent.append((peer, m)))


def ack(n: int) -> dict:
    return {"type": "next_node_idx", "next_node_idx": n + 1, "success": True, "reset": False}


def test_an_ack_waits_until_the_journal_has_its_entries():
    d = Disk()
    g = d.gate()
    d.synced = 3
    assert g.offer("leader", ack(3), 3) is False  # on disk already: send at once
    assert g.offer("leader", ack(5), 5) is True
    assert g.pump() == 0 and d.sent == []
    d.synced = 5
    assert g.pump() == 1 and d.sent == [("leader", ack(5))]
    assert len(g) == 0


def test_messages_to_one_peer_keep_their_order():
    d = Disk()
    g = d.gate()
    assert g.offer("a", ack(2), 2)
    failure = {"type": "next_node_idx", "next_node_idx": 2, "success": False, "reset": True}
    assert g.offer("a", failure, 0)  # acknowledges nothing, but must not overtake the held ack
    assert g.offer("b", ack(0), 0) is False  # another peer is not held up
    d.synced = 1
    g.pump()
    assert d.sent == []
    d.synced = 2
    g.pump()
    assert d.sent == [("a", ack(2)), ("a", failure)]


def test_held_acks_are_dropped_when_the_log_loses_entries_or_the_term_changes():
    d = Disk()
    g = d.gate()
    g.offer("a", ack(4), 4)
    g.drop_all()  # a conflict truncated the log: index 4 may now hold another entry
    d.synced = 10
    assert g.pump() == 0 and d.sent == []
    g.offer("a", ack(12), 12)
    d.term = 2
    d.synced = 12
    assert g.pump() == 0 and d.sent == [] and g.stats["dropped"] == 2


LOG = [(b"", i, 1 if i <= 5 else 2) for i in range(3, 9)]  # indexes 3..8, terms 1 (3..5) and 2 (6..8)


def ae(prev: int, prev_term: int, *idx_terms) -> dict:
    return {"type": "append_entries", "term": 2, "commit_index": 0, "prevLogIdx": prev, "prevLogTerm": prev_term,
            "entries": [(b"", i, t) for i, t in idx_terms]}


def test_entries_the_follower_holds_are_not_sent_to_pysyncobj_again():
    got = trim_known_entries(LOG, ae(4, 1, (5, 1), (6, 2), (7, 2), (8, 2), (9, 2), (10, 2)))
    assert (got["prevLogIdx"], got["prevLogTerm"]) == (8, 2)
    assert [e[1] for e in got["entries"]] == [9, 10]


def test_a_resend_of_the_whole_tail_becomes_a_heartbeat_at_the_end_of_the_log():
    got = trim_known_entries(LOG, ae(5, 1, (6, 2), (7, 2), (8, 2)))
    assert (got["prevLogIdx"], got["prevLogTerm"], got["entries"]) == (8, 2, [])


def test_a_conflict_still_truncates_from_the_first_different_entry():
    got = trim_known_entries(LOG, ae(4, 1, (5, 1), (6, 3), (7, 3)))
    assert (got["prevLogIdx"], got["prevLogTerm"]) == (5, 1)
    assert [(e[1], e[2]) for e in got["entries"]] == [(6, 3), (7, 3)]


def test_messages_that_do_not_match_or_end_early_are_left_to_pysyncobj():
    for msg in (ae(4, 2, (5, 1)),  # prevLogTerm mismatch: pysyncobj answers reset
                ae(12, 2, (13, 2)),  # beyond the log
                ae(4, 1, (5, 1), (6, 2)),  # all known but ending before the log does
                ae(8, 2)):  # no entries
        assert trim_known_entries(LOG, msg) is msg
