"""Linearizability of compare-and-set registers: Wing & Gong's search with Lowe's cache, one register at a time.

A register is one object whose value is a label. Its operations, as the workload records them:

- ``read``: returned ``value`` (None: the object did not exist);
- ``cas``: replace ``old`` by ``new`` (a GET then a PUT with the read's resourceVersion). Every written value is
  unique, so a precondition on the resourceVersion is the same as one on the value (no ABA).

Outcomes: ``ok`` (it took effect, once, between its call and its return), ``fail`` (a definite refusal: for a
cas, the register did not hold ``old`` at some point between call and return, and nothing changed), ``unknown``
(a timeout, a 5xx, a lost connection: it may take effect at any time after its call, or never). Unknown reads
(and refused ones) say nothing and are dropped. An unknown cas whose ``new`` value nobody ever observed (no read returned it, no
other cas started from it) can only have been the last change of its register, or none: a final read after the
run observes the last value, so such an op is dropped too, which keeps the search small.

The search (Lowe, "Testing for linearizability", 2017): walk the calls and returns in time order; at a call, try
to linearize that op now (the model accepts it and the pair "set of linearized ops, state" was not seen before),
else go on to the next call; at the return of an op not yet linearized, undo the last choice. A history is
linearizable when every op that returned (ok or fail) has been linearized. Registers are independent (a
linearizable history of each is a linearizable history of all: Herlihy & Wing's locality), so each is searched
alone, under a time budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

INF = float("inf")


@dataclass(frozen=True)
class Op:
    id: int
    kind: str  # read | cas
    start: float
    end: float  # INF for unknown outcomes
    outcome: str  # ok | fail | unknown
    value: object = None  # read: what it returned
    old: object = None  # cas: the value it read
    new: object = None  # cas: the value it wrote
    process: str = ""

    def describe(self) -> str:
        what = f"read -> {self.value!r}" if self.kind == "read" else f"cas {self.old!r} -> {self.new!r}"
        end = "..." if self.end == INF else f"{self.end:.3f}"
        return f"#{self.id} {self.process} [{self.start:.3f}, {end}] {what} {self.outcome}"


@dataclass
class Result:
    key: str
    ok: bool | None  # None: the budget ran out before an answer
    ops: int
    explored: int = 0
    window: list[Op] = field(default_factory=list)  # the shortest stretch found with no linearization
    note: str = ""


IMPOSSIBLE = object()


def step(state, op: Op):
    """The register model: the state after ``op`` from ``state``, or IMPOSSIBLE if ``op`` cannot happen there."""
    if op.kind == "read":
        return state if op.value == state else IMPOSSIBLE
    if op.outcome == "fail":  # a refused compare-and-set: the register held something else
        return state if op.old != state else IMPOSSIBLE
    return op.new if op.old == state else IMPOSSIBLE


def prune(ops: list[Op]) -> list[Op]:
    """Drop what constrains nothing: reads that returned nothing, and unknown writes of values nobody observed."""
    observed = {op.value for op in ops if op.kind == "read" and op.outcome == "ok"}
    observed |= {op.old for op in ops if op.kind == "cas"}
    kept = []
    for op in ops:
        if op.kind == "read" and op.outcome != "ok":
            continue  # a read that failed or timed out returned nothing
        if op.outcome == "unknown" and op.new not in observed:
            continue
        if op.outcome == "unknown":
            op = Op(op.id, op.kind, op.start, INF, "unknown", op.value, op.old, op.new, op.process)
        kept.append(op)
    return kept


class _Entry:
    __slots__ = ("op", "index", "is_call", "match", "prev", "next")

    def __init__(self, op, index, is_call):
        self.op, self.index, self.is_call = op, index, is_call
        self.match = self.prev = self.next = None


def _entries(ops: list[Op]) -> _Entry:
    """The doubly linked list of calls and returns in time order (a return before a call at the same time)."""
    events = []
    for i, op in enumerate(ops):
        call = _Entry(op, i, True)
        events.append((op.start, 1, i, call))
        if op.end != INF:
            ret = _Entry(op, i, False)
            call.match = ret
            events.append((op.end, 0, i, ret))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    head = _Entry(None, -1, False)
    prev = head
    for *_, entry in events:
        prev.next, entry.prev = entry, prev
        prev = entry
    return head


def _lift(entry: _Entry) -> None:
    entry.prev.next = entry.next
    if entry.next is not None:
        entry.next.prev = entry.prev
    ret = entry.match
    if ret is not None:
        ret.prev.next = ret.next
        if ret.next is not None:
            ret.next.prev = ret.prev


def _unlift(entry: _Entry) -> None:
    ret = entry.match
    if ret is not None:
        ret.prev.next = ret
        if ret.next is not None:
            ret.next.prev = ret
    entry.prev.next = entry
    if entry.next is not None:
        entry.next.prev = entry


def check_register(key: str, ops: list[Op], initial=None, budget_s: float = 10.0) -> Result:
    """Is this register's history linearizable from ``initial``? (Wing & Gong / Lowe, with a time budget.)"""
    ops = prune(ops)
    required = sum(1 for op in ops if op.end != INF)
    result = Result(key, None, len(ops))
    if not ops:
        result.ok = True
        return result
    head = _entries(ops)
    deadline = time.monotonic() + budget_s
    state, linearized, done = initial, 0, 0
    cache: set = set()
    stack: list[tuple[_Entry, object]] = []
    entry = head.next
    best_done, stuck_at = -1, None  # the furthest the search got, and the return it could not pass there
    explored = 0
    while done < required:
        explored += 1
        if explored & 0xFFF == 0 and time.monotonic() > deadline:
            result.explored, result.note = explored, f"no answer within the {budget_s:.0f} s budget"
            return result
        if entry is None:  # cannot happen while a required op is left: its return is still in the list
            break
        if entry.is_call:
            new_state = step(state, entry.op)
            if new_state is not IMPOSSIBLE:
                bits = linearized | (1 << entry.index)
                if (bits, new_state) not in cache:
                    cache.add((bits, new_state))
                    stack.append((entry, state))
                    linearized, state = bits, new_state
                    if entry.match is not None:
                        done += 1
                    _lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:  # the return of an op not linearized yet: undo the last choice
            if done > best_done:
                best_done, stuck_at = done, entry
            if not stack:
                break
            top, state = stack.pop()
            linearized &= ~(1 << top.index)
            if top.match is not None:
                done -= 1
            _unlift(top)
            entry = top.next
    result.explored = explored
    if done >= required:
        result.ok = True
        return result
    result.ok = False
    result.window = _window(ops, stuck_at.op if stuck_at is not None else ops[0])
    return result


def _window(ops: list[Op], stuck: Op) -> list[Op]:
    """The ops around the return that no linearization could pass: it, the ops concurrent with it, the ones
    that completed just before it started (the values it could have seen), and the first observer of each value
    written among them."""
    concurrent = [op for op in ops if op.start <= stuck.end and op.end >= stuck.start]
    before = [op for op in ops if op.end < stuck.start]
    before.sort(key=lambda op: op.end)
    window = before[-3:] + concurrent
    # and the first op that observed each value written in the window (a read of it, a cas from it): the
    # evidence that a write took effect, when the anomaly is a write reported as refused
    written = {op.new for op in window if op.kind == "cas"}
    first: dict = {}
    for op in sorted(ops, key=lambda op: op.start):
        seen = op.value if op.kind == "read" else op.old
        if seen in written and seen not in first and op.id not in {w.id for w in window}:
            first[seen] = op
    window += list(first.values())
    return sorted({op.id: op for op in window}.values(), key=lambda op: op.start)


def check_registers(histories: dict[str, list[Op]], initial: dict[str, object], budget_s: float = 30.0) -> list[Result]:
    """Every register on its own (locality), sharing one time budget."""
    results = []
    deadline = time.monotonic() + budget_s
    for key in sorted(histories):
        left = max(0.5, deadline - time.monotonic())
        results.append(check_register(key, histories[key], initial.get(key), budget_s=left))
    return results
