"""Membership changes, one server at a time, driven by the leader's tick thread.

Raft's single-server change (thesis 4.1) is safe only under three rules; pysyncobj 0.3.17 keeps the first and
not the others, so this module enforces them before it hands a change to pysyncobj:

1. the new configuration is in effect as soon as its entry is in the log (pysyncobj applies it on append, on
   the leader and on every follower, and rolls it back when the entry is truncated);
2. **a change waits until the previous one is committed.** pysyncobj's ``__changeCluster`` means to check
   that (``__changeClusterIDx``) but never sets the index, so two changes proposed back to back both went in:
   here a change is refused while the member list holds a change above the commit index (``MemberList``
   follows the log, including a change a previous leader appended), and only one change is pending at a time;
3. **the leader has committed an entry of its own term first** (the fix to the single-server algorithm,
   Ongaro, raft-dev 2015): a change waits for the leader's no-op to commit (``leader_read_index``).

The change is validated against the current member list on the tick thread, the only writer of the log, so
the check and the append cannot race. ``start`` runs on any thread; ``Change.done`` is set with the outcome.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Protocol

from raftkube.state.members import MemberList, refusal, request

#: outcomes (``Pending.kind``)
OK, REFUSED, UNKNOWN_NAME, IN_FLIGHT, NOT_LEADER, FAILED = "ok", "refused", "unknown", "in-flight", "not-leader", "failed"


class ReconfigView(Protocol):
    def is_leader(self) -> bool: ...
    def leader_read_index(self) -> int | None: ...
    def commit_index(self) -> int: ...
    def propose_change(self, req: list, done: Callable[[bool, str], None]) -> None: ...


class Pending:
    def __init__(self, op: str, rec: dict, deadline: float):
        self.op, self.record, self.deadline = op, rec, deadline
        self.proposed = False
        self.kind: str | None = None
        self.message = ""
        self.done = threading.Event()


class Reconfig:
    def __init__(self, view: ReconfigView, members: MemberList, clock: Callable[[], float] = time.monotonic):
        self.view = view
        self.members = members
        self.clock = clock
        self._lock = threading.Lock()
        self._current: Pending | None = None

    def start(self, op: str, rec: dict, timeout_s: float) -> Pending:
        """Any thread: ask for one change; refused at once (IN_FLIGHT) while another is pending."""
        p = Pending(op, rec, self.clock() + timeout_s)
        with self._lock:
            busy = self._current
            if busy is None:
                self._current = p
        if busy is not None:
            verb = "adding" if busy.op == "add" else "removing"
            self._finish(p, IN_FLIGHT, f"another membership change is in progress ({verb} {busy.record['name']}); "
                                       "retry when it is committed")
        return p

    def on_tick(self) -> None:
        p = self._current
        if p is None or p.proposed:
            if p is not None and self.clock() > p.deadline + 5.0:  # pysyncobj never answered: do not hold the slot
                self._finish(p, FAILED, "the change's outcome is unknown (no answer from the log); check "
                                        "`raftkube members list`")
            return
        if not self.view.is_leader():
            self._finish(p, NOT_LEADER, "this master is not the leader")
            return
        if self.clock() > p.deadline:
            self._finish(p, FAILED, "the leader did not commit an entry of its term in time")
            return
        if self.view.leader_read_index() is None:
            return  # a new leader's no-op is not committed yet: wait (rule 3)
        last = self.members.last_change_index()
        if last > self.view.commit_index():
            self._finish(p, IN_FLIGHT, f"the previous membership change (log index {last}) is not committed yet; "
                                       "retry when it is")
            return
        members = self.members.current()
        why = refusal(members, p.op, p.record)
        if why is not None:
            self._finish(p, UNKNOWN_NAME if p.op == "rem" and p.record["name"] not in members else REFUSED, why)
            return
        if p.op == "rem":
            p.record = members[p.record["name"]]
        p.proposed = True
        self.view.propose_change(request(p.op, p.record), lambda ok, msg: self._finish(p, OK if ok else FAILED, msg))

    def _finish(self, p: Pending, kind: str, message: str) -> None:
        p.kind, p.message = kind, message
        with self._lock:
            if self._current is p:
                self._current = None
        p.done.set()
