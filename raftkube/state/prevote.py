"""Pre-Vote (Raft thesis 9.6), driven by the tick thread of state/syncobj.py's RaftNode.

pysyncobj starts an election as soon as a follower's election deadline passes: it raises its term and asks for
votes. A master cut off from the leader (a partition, a restart) so raised its term with every timeout, and
once back its higher term made a healthy leader step down. Here a master whose deadline passed first asks
its peers whether they would vote for it at ``term + 1`` (``rk_pre_vote``, with its last log index and
term). Answering changes nothing on the responder: not its term, not its vote, not its election deadline. A
peer says yes only if

- the proposed term is above its own term,
- the candidate's log is at least as up to date as its own (the rule of a real vote), and
- it is not the leader and has not heard from a leader within ``stick_s`` (``ReadIndex.leader_recent``, the
  window in which it also ignores real vote requests).

Only with yes from a majority (itself included) does the master start the real election, at once; otherwise
it asks again after its next election timeout. A master that says yes holds its own election for a moment
(half the shortest timeout, RaftNode.hold_election): without that, two followers whose timeouts expire within
one pre-vote round trip of each other (they last heard the same heartbeat) both won their pre-votes and
split the real vote, the window being the pre-vote round trip plus the vote's delivery instead of the vote's
delivery alone (2 split votes in 5 failovers on this loaded VM). It is shorter than the shortest timeout, so a
candidate that keeps asking but never hears the answers (one-way loss) cannot hold off the others' elections. A "no" that carries a higher term makes the candidate adopt
that term as a follower (as any Raft message with a higher term does), so masters whose terms drifted apart
with no leader converge instead of refusing each other forever.

A leadership transfer skips Pre-Vote: the target's ``timeout_now`` starts the election at once
(state/transfer.py). The term and vote are persisted by pysyncobj exactly as before (state/journal.py); a
pre-vote persists nothing.

A master that runs this module with peers that do not (a rolling upgrade) gets no answers from them: it
campaigns only once a majority runs it, while the others elect as before.
"""

from __future__ import annotations

from typing import Protocol

ASK, ANSWER = "rk_pre_vote", "rk_pre_vote_answer"
TYPES = frozenset((ASK, ANSWER))


class PreVoteView(Protocol):
    def term(self) -> int: ...
    def last_log(self) -> tuple[int, int]:
        """(last log index, term of the last log entry)."""
    def peers(self) -> list: ...
    def send(self, node, message: dict) -> None: ...
    def leader_recent(self) -> bool:
        """This master leads, or heard from a leader within the stickiness window."""
    def adopt_term(self, term: int) -> None:
        """Move to a higher term as a follower, with no vote (durably, as pysyncobj does)."""
    def campaign(self) -> None:
        """Start the real election now (the next tick)."""
    def hold_election(self) -> None:
        """Having just said yes to another candidate: do not start an election of its own for a moment."""


def _node_id(node) -> str:
    return str(getattr(node, "id", node))


class PreVote:
    def __init__(self, view: PreVoteView):
        self.view = view
        self._term: int | None = None      # the term proposed by the round in progress
        self._granted: set[str] = set()
        self._won: int | None = None       # the term a majority said yes to, until a leader is heard
        # rounds started, rounds won, pre-votes this master granted and refused to others
        self.stats = {"rounds": 0, "won": 0, "granted": 0, "refused": 0}

    # ---- candidate --------------------------------------------------------------------------
    def may_campaign(self) -> bool:
        """True if a majority said yes to ``term + 1`` and no leader was heard since: let pysyncobj start the
        election."""
        return self._won is not None and self._won == self.view.term() + 1

    def leader_heard(self) -> None:
        """An append_entries of the current term (or newer) arrived: a won pre-vote is void."""
        self._won = None

    def start(self) -> None:
        """This master's election deadline passed: ask every peer about ``term + 1``."""
        term = self.view.term() + 1
        if term != self._term:
            self._term, self._granted = term, set()
        self._won = None
        self.stats["rounds"] += 1
        if self._majority():
            self._win()
            return
        index, last_term = self.view.last_log()
        for node in self.view.peers():
            self.view.send(node, {"type": ASK, "term": term, "last_log_index": index, "last_log_term": last_term})

    def _majority(self) -> bool:
        return (len(self._granted) + 1) * 2 > len(self.view.peers()) + 1

    def _win(self) -> None:
        self._won = self._term
        self.stats["won"] += 1
        self.view.campaign()

    # ---- both -------------------------------------------------------------------------------
    def on_message(self, node, message: dict) -> None:
        kind = message.get("type")
        if kind == ASK:
            self._answer(node, message)
        elif kind == ANSWER:
            self._count(node, message)

    def _answer(self, node, message: dict) -> None:
        term = self.view.term()
        proposed = message.get("term")
        grant = (type(proposed) is int and proposed > term and not self.view.leader_recent()
                 and self._log_ok(message.get("last_log_index"), message.get("last_log_term")))
        self.stats["granted" if grant else "refused"] += 1
        if grant:
            self.view.hold_election()
        self.view.send(node, {"type": ANSWER, "term": proposed, "granted": grant, "current_term": term})

    def _log_ok(self, index, last_term) -> bool:
        if type(index) is not int or type(last_term) is not int:
            return False
        my_index, my_term = self.view.last_log()
        return last_term > my_term or (last_term == my_term and index >= my_index)

    def _count(self, node, message: dict) -> None:
        current = message.get("current_term")
        if type(current) is int and current > self.view.term():
            self._term, self._granted, self._won = None, set(), None
            self.view.adopt_term(current)
            return
        if self._term is None or message.get("term") != self._term or self._term != self.view.term() + 1:
            return  # an answer to an older round
        if message.get("granted") is True:
            self._granted.add(_node_id(node))
            if self._won is None and self._majority():
                self._win()

    def as_dict(self) -> dict:
        return dict(self.stats)
