"""Linearizable reads without log entries: Raft's ReadIndex (Ongaro's thesis, section 6.4), over pysyncobj.

A read may use this master's local state once it has applied everything committed before the read began.
The leader knows that point, its commit index, provided it is still the leader: so it records its commit index
(the *read index*), pings every peer, and once a majority (itself included) answered from the same term, no
other leader can have been elected in between (a higher-term election needs a vote from that majority, and
a peer that has voted moved to the higher term). A follower asks the leader for a read index and waits until
it has applied that far. Every read waiting at one moment shares one round, so a round costs a handful of
small messages and no journal write, where a barrier entry costs an append, a commit and an apply on every
master.

The leader answers only after its own term's first entry (pysyncobj's no-op) is committed: before that, its
commit index may lag what the previous leader committed.

Every method except ``request`` runs on the Raft tick thread (``RaftView`` is the tick thread's view of the
node); ``request`` may be called from any thread and wakes the tick thread.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

#: callback(error): None once the local state is linearizable for the read, else why it is not (retryable)
ReadCallback = Callable[[str | None], None]

PING, PONG, ASK, ANSWER = "rk_ping", "rk_pong", "rk_read_index", "rk_read_index_answer"
TYPES = frozenset((PING, PONG, ASK, ANSWER))


class RaftView(Protocol):
    def term(self) -> int: ...
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
    def __init__(self, view: RaftView, *, max_inflight: int = 2, timeout_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic):
        self.view = view
        self.max_inflight = max_inflight
        self.timeout_s = timeout_s
        self.clock = clock
        self._lock = threading.Lock()
        self._incoming: list[ReadCallback] = []
        self._local: list[ReadCallback] = []       # taken from _incoming, waiting for a free slot
        self._remote: list[tuple] = []             # leader: followers' requests waiting for a round
        self._rounds: dict[int, _Round] = {}       # leader: rounds waiting for a majority of pongs
        self._asked: dict[int, tuple[float, list[ReadCallback]]] = {}  # follower: requests to the leader
        self._applying: list[tuple[int, list[ReadCallback]]] = []      # read index reached -> done
        self._ids = itertools.count(1)
        self.stats = {"rounds": 0, "asks": 0, "reads": 0}

    # ---- any thread ---------------------------------------------------------------------------
    def request(self, callback: ReadCallback) -> None:
        with self._lock:
            self._incoming.append(callback)
        self.view.wake()

    # ---- tick thread --------------------------------------------------------------------------
    def on_tick(self) -> None:
        now = self.clock()
        if self._incoming:
            with self._lock:
                new, self._incoming = self._incoming, []
            self._local.extend(new)
            self.stats["reads"] += len(new)
        read_index = self.view.leader_read_index()
        if read_index is not None:
            if (self._local or self._remote) and len(self._rounds) < self.max_inflight:
                self._start_round(read_index, now)
        else:
            for node, rid in self._remote:
                self.view.send(node, {"type": ANSWER, "id": rid, "error": "not the leader"})
            self._remote = []
            if self._local and len(self._asked) < self.max_inflight:
                self._ask_leader(now)
        self._expire(now)
        self._finish_applied()

    def _start_round(self, read_index: int, now: float) -> None:
        seq = next(self._ids)
        r = _Round(self.view.term(), read_index, now, local=self._local, remote=self._remote)
        self._local, self._remote = [], []
        self.stats["rounds"] += 1
        peers = self.view.peers()
        if (r.acks) * 2 > len(peers) + 1:  # a single-node cluster
            self._rounds[seq] = r
            self._complete(seq)
            return
        self._rounds[seq] = r
        for node in peers:
            self.view.send(node, {"type": PING, "seq": seq, "term": r.term})

    def _ask_leader(self, now: float) -> None:
        leader = self.view.leader()
        if leader is None:
            self._fail(self._local, "no leader")
            self._local = []
            return
        rid = next(self._ids)
        self._asked[rid] = (now, self._local)
        self._local = []
        self.stats["asks"] += 1
        self.view.send(leader, {"type": ASK, "id": rid})

    def on_message(self, node, message: dict) -> None:
        kind = message.get("type")
        if kind == PING:
            self.view.send(node, {"type": PONG, "seq": message.get("seq"), "term": self.view.term()})
        elif kind == PONG:
            r = self._rounds.get(message.get("seq"))
            if r is not None and message.get("term") == r.term:
                r.acks += 1
                if r.acks * 2 > len(self.view.peers()) + 1:
                    self._complete(message["seq"])
        elif kind == ASK:
            if self.view.leader_read_index() is None:
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

    def _complete(self, seq: int) -> None:
        r = self._rounds.pop(seq)
        if self.view.leader_read_index() is None or self.view.term() != r.term:
            self._fail(r.local, "leadership changed")
            for node, rid in r.remote:
                self.view.send(node, {"type": ANSWER, "id": rid, "error": "leadership changed"})
            return
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
        for index, callbacks in self._applying:
            if index <= applied:
                for cb in callbacks:
                    cb(None)
            else:
                still.append((index, callbacks))
        self._applying = still

    def _expire(self, now: float) -> None:
        cutoff = now - self.timeout_s
        for seq in [s for s, r in self._rounds.items() if r.started < cutoff]:
            r = self._rounds.pop(seq)
            self._fail(r.local, "no majority answered")
        for rid in [i for i, (t, _) in self._asked.items() if t < cutoff]:
            self._fail(self._asked.pop(rid)[1], "the leader did not answer")

    @staticmethod
    def _fail(callbacks: list[ReadCallback], reason: str) -> None:
        for cb in callbacks:
            cb(reason)
