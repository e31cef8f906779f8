"""The election timeout with a randomized exponential back-off (used by state/syncobj.py's RaftNode).

pysyncobj draws every election timeout from U(min, max). On a loaded machine whose Raft tick threads are
starved for longer than that (issue 15: tick gaps of 0.7-1.5 s against 0.3-0.6 s timeouts), every candidate's
deadline passes before the votes for its term arrive, so each starts a new term and the votes it then reads are
for an old one: split votes with no end. Here the n-th election in a row that a master starts without hearing
a leader in between waits ``U(min, max) * 2**(n-2)`` for n >= 2 (at most ``cap`` times the range), so the
timeouts soon outgrow the stalls and one candidate collects its votes; hearing a leader (or leading) resets
it. The first two elections after a leader keep the plain range: one split vote in a failover (two survivors
campaigning in the same term) is common and is retried at full speed, as pysyncobj does.

Only when an election starts changes: terms and votes are persisted by pysyncobj (state/journal.py) exactly
as before, so Raft's safety does not depend on it.
"""

from __future__ import annotations

import random
from typing import Callable


class ElectionBackoff:
    def __init__(self, min_s: float, max_s: float, cap: int = 8, rand: Callable[[], float] = random.random):
        if cap < 1:
            raise ValueError("election back-off cap must be at least 1")
        self.min_s, self.max_s, self.cap = min_s, max_s, cap
        self._rand = rand
        #: elections this master started since it last heard a leader (or led)
        self.elections = 0
        #: the most elections in a row without a leader, since start (/raft)
        self.max_elections = 0

    def factor(self) -> int:
        doublings = self.elections - 1
        return 1 if doublings <= 0 else min(2 ** doublings, self.cap) if doublings < 64 else self.cap

    def timeout(self) -> float:
        """The next election timeout: pysyncobj asks when an election starts, a vote is granted or the leader is
        heard. The first two elections after a leader wait U(min, max); each further one twice as long, up to cap."""
        return (self.min_s + (self.max_s - self.min_s) * self._rand()) * self.factor()

    def started(self) -> None:
        """This master voted for itself in a new term (after ``timeout()`` gave that election's deadline)."""
        self.elections += 1
        self.max_elections = max(self.max_elections, self.elections)

    def leader_heard(self) -> None:
        self.elections = 0

    def as_dict(self) -> dict:
        return {"electionsWithoutLeader": self.elections, "electionsWithoutLeaderMax": self.max_elections,
                "electionTimeoutFactor": self.factor()}
