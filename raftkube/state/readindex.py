"""Linearizable reads without log entries: ReadIndex and leader leases (Ongaro's thesis, 6.4 and 4.2.3).

A read may use this master's local state once it has applied everything committed before the read began.
The leader knows that point, its commit index, provided it is still the leader:

- **ReadIndex.** The leader records its commit index (the *read index*) and pings every peer; once a majority
  (itself included) answered from the same term, no other leader can have been elected in between (a higher
  term needs a vote from that majority, and a peer that votes moves to the higher term). A follower asks the
  leader for a read index and waits until it has applied that far. Reads waiting at one moment share a round.
- **Lease.** A follower that heard from its leader (an append_entries or a ping) ignores vote requests for
  ``stick_s`` afterwards (pysyncobj itself would grant them at any time). So when a majority answered a ping
  sent at ``t0``, no other leader can exist before ``t0 + stick_s``: until ``t0 + lease_s`` (a little less,
  for clock-rate differences) the leader answers reads and followers' requests at once, and renews the
  lease with a ping round while reads keep coming. A leader that steps down (for instance to vote) stops
  answering at once, lease or not.

The leader answers only after its own term's first entry (pysyncobj's no-op) is committed: before that, its
commit index may lag what the previous leader committed.

``request`` and ``fast_path`` may be called from any thread; everything else runs on the Raft tick thread
(``RaftView`` is that thread's view of the node).
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol


class Waiter:
    """The reads that arrived together: they wait on one event and share one outcome."""

    __slots__ = ("event", "error")

    def __init__(self):
        self.event = threading.Event()
        self.error: str | None = None  # None: the local state is now linearizable for them; else why not

    def finish(self, error: str | None) -> None:
        self.error = error
        self.event.set()


PING, PONG, ASK, ANSWER = "rk_ping", "rk_pong", "rk_read_index", "rk_read_index_answer"
TYPES = frozenset((PING, PONG, ASK, ANSWER))
_ACTIVE_S = 1.0  # keep renewing the lease while reads came within this long


class RaftView(Protocol):
    def term(self) -> int: ...
    def is_leader(self) -> bool: ...
    def leader_read_index(self) -> int | None:
        """The commit index if this node leads and has committed an entry of its term, else None."""
    def leader(self): ...
    def peers(self) -> list: ...
    def applied(self) -> int: ...
    def send(self, node, message: dict) -> None: ...
    def wake(self) -> None: ...


@dataclass
class _Round:
    term: int
    index: int
    started: float
    acks: int = 1  # the leader itself
    local: list = field(default_factory=list)
    remote: list = field(default_factory=list)  # (node, request id)


class ReadIndex:
    def __init__(self, view: RaftView, *, stick_s: float, max_inflight: int = 8, timeout_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic):
        self.view = view
        self.stick_s = stick_s
        self.lease_s = stick_s * 0.9
        self.max_inflight = max_inflight
        self.timeout_s = timeout_s
        self.clock = clock
        self._lock = threading.Lock()
        self._incoming: Waiter | None = None
        self._local: list[Waiter] = []             # taken from _incoming, not served yet
        self._remote: list[tuple] = []             # leader: followers' requests not answered yet
        self._rounds: dict[int, _Round] = {}       # leader: ping rounds waiting for a majority
        self._asked: dict[int, tuple[float, list[Waiter]]] = {}  # follower: requests to the leader
        self._applying: list[tuple[int, list[Waiter]]] = []      # read index reached -> done
        self._ids = itertools.count(1)
        self._lease_term = -1
        self._lease_until = 0.0
        self._last_read = -1e9
        self._leader_contact = -1e9  # follower: last append_entries or ping from the leader
        # batches of reads that waited, reads served at once by the leader's lease, ping rounds, asks
        self.stats = {"batches": 0, "leased": 0, "rounds": 0, "asks": 0, "votes_ignored": 0}

    # ---- any thread ---------------------------------------------------------------------------
    def fast_path(self) -> bool:
        """True if this leader holds its lease and has applied all it committed: read locally now."""
        index = self._leased_index(self.clock())
        if index is not None and self.view.applied() >= index:
            self.stats["leased"] += 1
            self._last_read = self.clock()
            return True
        return False

    def request(self) -> Waiter:
        """Join the reads waiting for the next round; wait on the returned Waiter's event."""
        with self._lock:
            waiter = self._incoming
            if waiter is None:
                waiter = self._incoming = Waiter()
                wake = True
            else:
                wake = False
        if wake:
            self.view.wake()
        return waiter

    def _leased_index(self, now: float) -> int | None:
        if now < self._lease_until and self.view.term() == self._lease_term:
            return self.view.leader_read_index()
        return None

    # ---- tick thread: messages --------------------------------------------------------------
    def admit(self, node, message: dict) -> bool:
        """Look at a Raft message before pysyncobj does; False drops it (a vote request too soon)."""
        kind = message.get("type")
        if kind == "append_entries":
            if message.get("term", -1) >= self.view.term():
                self._leader_contact = self.clock()
        elif kind == "request_vote":
            if not self.view.is_leader() and self.heard_leader():
                self.stats["votes_ignored"] += 1
                return False
        return True

    def heard_leader(self) -> bool:
        """This follower heard from its leader within ``stick_s`` (it ignores vote requests, refuses pre-votes)."""
        return self.clock() - self._leader_contact < self.stick_s

    def on_message(self, node, message: dict) -> None:
        kind = message.get("type")
        if kind == PING:
            term = self.view.term()
            if message.get("term") == term:
                self._leader_contact = self.clock()  # before the pong: the leader's lease starts earlier
            self.view.send(node, {"type": PONG, "seq": message.get("seq"), "term": term})
        elif kind == PONG:
            r = self._rounds.get(message.get("seq"))
            if r is not None and message.get("term") == r.term:
                r.acks += 1
                if self._majority(r.acks):
                    self._complete(message["seq"])
        elif kind == ASK:
            self._last_read = self.clock()
            index = self._leased_index(self.clock())
            if index is not None:
                self.view.send(node, {"type": ANSWER, "id": message.get("id"), "index": index})
            elif self.view.leader_read_index() is None:
                self.view.send(node, {"type": ANSWER, "id": message.get("id"), "error": "not the leader"})
            else:
                self._remote.append((node, message.get("id")))
        elif kind == ANSWER:
            asked = self._asked.pop(message.get("id"), None)
            if asked is None:
                return
            if message.get("error"):
                self._fail(asked[1], str(message["error"]))
            else:
                self._applying.append((int(message["index"]), asked[1]))
                self._finish_applied()

    # ---- tick thread: every tick ------------------------------------------------------------
    def on_tick(self) -> None:
        now = self.clock()
        if self._incoming is not None:
            with self._lock:
                new, self._incoming = self._incoming, None
            self._local.append(new)
            self.stats["batches"] += 1
            self._last_read = now
        if self.view.leader_read_index() is not None:
            self._lead(now)
        else:
            for node, rid in self._remote:
                self.view.send(node, {"type": ANSWER, "id": rid, "error": "not the leader"})
            self._remote = []
            for seq in list(self._rounds):  # stepped down: no round of the old term can succeed
                self._complete(seq)
            if self._local and len(self._asked) < self.max_inflight:
                self._ask_leader(now)
        self._expire(now)
        self._finish_applied()

    def _lead(self, now: float) -> None:
        index = self._leased_index(now)
        if index is not None:
            for node, rid in self._remote:
                self.view.send(node, {"type": ANSWER, "id": rid, "index": index})
            if self._local:
                self._applying.append((index, self._local))
            self._local, self._remote = [], []
            renew = self._lease_until - now < self.lease_s / 2 and now - self._last_read < _ACTIVE_S
            if renew and not self._rounds:
                self._start_round(now)
        elif (self._local or self._remote) and len(self._rounds) < self.max_inflight:
            self._start_round(now)

    def _start_round(self, now: float) -> None:
        seq = next(self._ids)
        r = _Round(self.view.term(), self.view.leader_read_index(), now, local=self._local, remote=self._remote)
        self._local, self._remote = [], []
        self.stats["rounds"] += 1
        self._rounds[seq] = r
        if self._majority(r.acks):  # a single-node cluster
            self._complete(seq)
            return
        for node in self.view.peers():
            self.view.send(node, {"type": PING, "seq": seq, "term": r.term})

    def _majority(self, acks: int) -> bool:
        return acks * 2 > len(self.view.peers()) + 1

    def _ask_leader(self, now: float) -> None:
        leader = self.view.leader()
        if leader is None or self.view.is_leader():
            self._fail(self._local, "no leader")
            self._local = []
            return
        rid = next(self._ids)
        self._asked[rid] = (now, self._local)
        self._local = []
        self.stats["asks"] += 1
        self.view.send(leader, {"type": ASK, "id": rid})

    def _complete(self, seq: int) -> None:
        r = self._rounds.pop(seq)
        if self.view.leader_read_index() is None or self.view.term() != r.term:
            self._fail(r.local, "leadership changed")
            for node, rid in r.remote:
                self.view.send(node, {"type": ANSWER, "id": rid, "error": "leadership changed"})
            return
        if self._lease_term != r.term or r.started + self.lease_s > self._lease_until:
            self._lease_term, self._lease_until = r.term, r.started + self.lease_s
        for node, rid in r.remote:
            self.view.send(node, {"type": ANSWER, "id": rid, "index": r.index})
        if r.local:
            self._applying.append((r.index, r.local))
            self._finish_applied()

    def _finish_applied(self) -> None:
        if not self._applying:
            return
        applied = self.view.applied()
        still = []
        for index, waiters in self._applying:
            if index <= applied:
                for w in waiters:
                    w.finish(None)
            else:
                still.append((index, waiters))
        self._applying = still

    def _expire(self, now: float) -> None:
        cutoff = now - self.timeout_s
        for seq in [s for s, r in self._rounds.items() if r.started < cutoff]:
            r = self._rounds.pop(seq)
            self._fail(r.local, "no majority answered")
        for rid in [i for i, (t, _) in self._asked.items() if t < cutoff]:
            self._fail(self._asked.pop(rid)[1], "the leader did not answer")

    @staticmethod
    def _fail(waiters: list[Waiter], reason: str) -> None:
        for w in waiters:
            w.finish(reason)
