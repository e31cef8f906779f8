"""Leadership transfer (Raft thesis 3.10), driven by the leader's tick thread.

pysyncobj 0.3.17's ``transferLeadership(node)`` sends ``timeout_now`` only if the target's match index equals the
leader's last log index at that instant, and returns at once either way. Under a write load that instant rarely
comes (every group-commit entry moves the end of the log), so the request is denied. This module adds what the
thesis asks for around it:

1. **stop accepting proposals**: the leader leaves new commands (its own and those forwarded by followers) in
   pysyncobj's queue instead of appending them (``hold``);
2. **bring the target up to date**: wait until its match index (acknowledged only once durable on the target,
   state/ackgate.py) reaches the end of the leader's log;
3. **let it start an election first**: ``send_timeout_now`` (pysyncobj's ``transferLeadership``); the target
   campaigns at once with a higher term. The old leader steps down when it sees that term, before it votes
   (pysyncobj handles ``request_vote`` so), which also ends its read lease (state/readindex.py): the other
   followers ignore the target's vote request while they still hear from the old leader, so the target wins with
   the old leader's vote, after the old leader stopped serving lease reads;
4. release the held commands once this master is no longer leader: pysyncobj then forwards them (or answers
   NOT_LEADER / MISSING_LEADER, which the proposers retry) to the new leader. If the target has not taken over by
   the deadline the commands are released here and the transfer fails; this master stays leader.

Everything except ``start`` runs on the tick thread; ``Transfer.done`` is set when the outcome is known.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Protocol


class TransferView(Protocol):
    def is_leader(self) -> bool: ...
    def match_index(self, target: str) -> int | None: ...
    def last_log_index(self) -> int: ...
    def hold(self, on: bool) -> None: ...
    def send_timeout_now(self, target: str) -> None: ...


class Transfer:
    """One hand-over: its target, deadline and outcome (``error`` None when this master stepped down)."""

    def __init__(self, target: str, deadline: float):
        self.target = target
        self.deadline = deadline
        self.sent_at: float | None = None
        self.caught_up_at: float | None = None
        self.error: str | None = None
        self.done = threading.Event()


class LeaderTransfer:
    def __init__(self, view: TransferView, clock: Callable[[], float] = time.monotonic,
                 resend_s: float = 0.3):
        self.view = view
        self.clock = clock
        self.resend_s = resend_s
        self._lock = threading.Lock()
        self._current: Transfer | None = None

    def start(self, target: str, timeout_s: float) -> Transfer:
        """Any thread: begin a hand-over to ``target`` (a peer's Raft address); one at a time."""
        with self._lock:
            if self._current is not None:
                raise RuntimeError(f"a leadership transfer to {self._current.target} is in progress")
            self._current = Transfer(target, self.clock() + timeout_s)
            return self._current

    @property
    def active(self) -> bool:
        return self._current is not None

    def on_tick(self) -> None:
        t = self._current
        if t is None:
            return
        now = self.clock()
        if not self.view.is_leader():
            self._finish(t, None if t.sent_at is not None else "this master is not the leader")
            return
        if now >= t.deadline:
            self._finish(t, "the target did not catch up and take over in time" if t.sent_at is None
                         else "the target did not win its election in time")
            return
        self.view.hold(True)
        if t.sent_at is not None and now - t.sent_at < self.resend_s:
            return
        match = self.view.match_index(t.target)
        if match is not None and match >= self.view.last_log_index():
            if t.caught_up_at is None:
                t.caught_up_at = now
            t.sent_at = now
            self.view.send_timeout_now(t.target)

    def _finish(self, t: Transfer, error: str | None) -> None:
        self.view.hold(False)
        t.error = error
        with self._lock:
            self._current = None
        t.done.set()
