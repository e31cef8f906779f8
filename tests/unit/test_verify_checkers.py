"""The verifier's checkers on synthetic histories: good ones pass, and every known-bad one is caught."""

from __future__ import annotations

import itertools
import random

from raftkube.verify import checks
from raftkube.verify.linearizable import INF, Op, check_register, prune, step, IMPOSSIBLE


def read(i, s, e, value, outcome="ok"):
    return Op(i, "read", s, INF if outcome == "unknown" else e, outcome, value=value, process=f"p{i}")


def cas(i, s, e, old, new, outcome="ok"):
    return Op(i, "cas", s, INF if outcome == "unknown" else e, outcome, old=old, new=new, process=f"p{i}")


def test_sequential_history_is_linearizable():
    ops = [cas(1, 0, 1, "a", "b"), read(2, 2, 3, "b"), cas(3, 4, 5, "b", "c"), read(4, 6, 7, "c")]
    assert check_register("r", ops, "a").ok is True


def test_a_stale_read_is_caught_with_its_window():
    ops = [cas(1, 0, 1, "a", "b"), read(2, 2, 3, "a"), cas(3, 4, 5, "b", "c")]
    result = check_register("r", ops, "a")
    assert result.ok is False
    assert 2 in [op.id for op in result.window] and 1 in [op.id for op in result.window]


def test_a_refused_write_that_took_effect_is_caught_with_its_observer():
    # the anomaly raftkube verify found: a cas answered 409 whose value another client then read
    ops = [read(1, 0, 1, "a"), cas(2, 1, 9, "a", "b", "fail"), read(3, 2, 3, "b"), cas(4, 4, 5, "b", "c"),
           read(5, 10, 11, "c")]
    result = check_register("r", ops, "a")
    assert result.ok is False and {2, 3} <= {op.id for op in result.window}


def test_a_read_concurrent_with_a_write_may_see_either_value():
    for seen in ("a", "b"):
        assert check_register("r", [cas(1, 0, 4, "a", "b"), read(2, 1, 2, seen), read(3, 5, 6, "b")], "a").ok


def test_a_read_cannot_go_back_after_a_newer_read():
    ops = [cas(1, 0, 10, "a", "b"), read(2, 1, 2, "b"), read(3, 3, 4, "a")]
    assert check_register("r", ops, "a").ok is False


def test_two_successful_cas_from_the_same_value_are_a_lost_update():
    ops = [cas(1, 0, 2, "a", "b"), cas(2, 0, 2, "a", "c")]
    assert check_register("r", ops, "a").ok is False


def test_an_unknown_write_may_take_effect_much_later():
    ops = [cas(1, 0, 1, "a", "b", "unknown"), read(2, 2, 3, "a"), read(3, 50, 51, "b"), cas(4, 60, 61, "b", "c")]
    assert check_register("r", ops, "a").ok is True


def test_an_unknown_write_cannot_take_effect_before_its_call():
    ops = [read(1, 0, 1, "b"), cas(2, 5, 6, "a", "b", "unknown")]
    assert check_register("r", ops, "a").ok is False


def test_unobserved_unknown_writes_and_unknown_reads_are_dropped():
    ops = [cas(1, 0, 1, "a", "x", "unknown"), read(2, 0, 1, "zzz", "unknown"), cas(3, 2, 3, "a", "b")]
    assert [op.id for op in prune(ops)] == [3]
    assert check_register("r", ops, "a").ok is True


def test_a_refused_cas_needs_another_value_in_the_register():
    assert check_register("r", [cas(1, 0, 1, "a", "b", "fail")], "a").ok is False
    assert check_register("r", [cas(1, 0, 1, "z", "b", "fail")], "a").ok is True
    # explained by a concurrent write that may have applied (unknown, its value read later)
    ops = [cas(1, 0, 1, "a", "x", "unknown"), cas(2, 0.5, 2, "a", "b", "fail"), read(3, 3, 4, "x")]
    assert check_register("r", ops, "a").ok is True


def test_a_deleted_or_missing_register_reads_none():
    assert check_register("r", [read(1, 0, 1, None)], None).ok is True
    assert check_register("r", [read(1, 0, 1, None)], "a").ok is False


def test_the_budget_gives_no_verdict_rather_than_a_wrong_one():
    # 30 concurrent reads and a read of a value never written: every subset of the reads is a state to try
    ops = [read(i, 0, 100, "a") for i in range(30)] + [cas(100, 0, 100, "a", "b"), read(101, 0, 100, "zz")]
    result = check_register("r", ops, "a", budget_s=0.2)
    assert result.ok is None and "budget" in result.note


def brute_force(ops, initial):
    """Every order of every subset of the unknown ops, with the ok/fail ones: the definition, slowly."""
    required = [op for op in ops if op.end != INF]
    optional = [op for op in ops if op.end == INF]
    for k in range(len(optional) + 1):
        for extra in itertools.combinations(optional, k):
            chosen = required + list(extra)
            for order in itertools.permutations(chosen):
                if any(b.end < a.start for a, b in itertools.combinations(order, 2)):
                    continue  # b returned before a was called: a cannot come first
                state, good = initial, True
                for op in order:
                    state = step(state, op)
                    if state is IMPOSSIBLE:
                        good = False
                        break
                if good:
                    return True
    return False


def test_the_search_agrees_with_brute_force_on_random_small_histories():
    rng = random.Random(20)
    verdicts = set()
    for _ in range(300):
        ops = []
        for i in range(rng.randint(1, 5)):
            s = rng.uniform(0, 10)
            e = s + rng.uniform(0, 4)
            outcome = rng.choice(["ok", "ok", "ok", "fail", "unknown"])
            if rng.random() < 0.5:
                ops.append(read(i, s, e, rng.choice("abc"), "ok" if outcome == "unknown" else outcome))
            else:
                ops.append(cas(i, s, e, rng.choice("abc"), rng.choice("bcd") + str(i), outcome))
        # brute force sees every op, the search its pruned list: pruning must not change the verdict
        expected = brute_force([o for o in ops if not (o.kind == "read" and o.outcome != "ok")], "a")
        assert check_register("r", ops, "a").ok is expected, [op.describe() for op in ops]
        verdicts.add(expected)
    assert verdicts == {True, False}


# ---- creates, watches, availability ----------------------------------------------------------------------

def op(i, f, key, outcome, start=0.0, end=1.0, **kw):
    return {"type": "op", "id": i, "process": "c", "master": "m1", "f": f, "key": key, "outcome": outcome,
            "start": start, "end": end, **kw}


def final(master, names, duplicates=()):
    return {"type": "final", "master": master, "items": {n: None for n in names}, "duplicates": list(duplicates)}


def test_creates_all_present_is_ok():
    records = [op(1, "create", "c1", "ok"), op(2, "create", "c2", "unknown"), op(3, "create", "c3", "ok"),
               op(4, "delete", "c3", "ok"), final("m1", ["c1", "c2"]), final("m2", ["c1", "c2"])]
    assert checks.creates(records).ok is True


def test_a_lost_create_a_phantom_a_resurrection_a_duplicate_and_divergence_are_caught():
    records = [op(1, "create", "c1", "ok"), op(2, "create", "c2", "fail", status=409),
               op(3, "create", "c3", "ok"), op(4, "delete", "c3", "ok"),
               final("m1", ["c2", "c3", "ghost"], duplicates=["c3"]), final("m2", ["c1"])]
    check = checks.creates(records)
    assert check.ok is False
    text = "\n".join(check.details)
    for needle in ("m1: acknowledged create c1 is missing", "c2 is present although its create was refused",
                   "c3 is present after an acknowledged delete", "m1: c3 listed twice",
                   "ghost exists but no client created it", "final states differ"):
        assert needle in text


def test_a_delete_answering_404_for_an_acknowledged_create_is_caught():
    records = [op(1, "create", "c1", "ok"), op(2, "delete", "c1", "fail", status=404), final("m1", [])]
    assert "answered 404" in "\n".join(checks.creates(records).details)


def watch(from_rv, events, reason="stopped", process="w"):
    return {"type": "watch", "process": process, "master": "m1", "from_rv": from_rv, "start": 0.0, "end": 1.0,
            "events": [list(e) for e in events], "reason": reason}


E = [(5, "ADDED", "a"), (6, "ADDED", "b"), (8, "MODIFIED", "a"), (9, "DELETED", "b")]


def test_complete_ordered_watches_are_ok():
    records = [watch(4, E), watch(6, E[2:], process="x"), watch(3, [], reason="gone")]
    assert checks.watches(records).ok is True


def test_a_gap_a_duplicate_a_reordering_and_disagreement_are_caught():
    for bad, needle in ((watch(4, [E[0], E[2], E[3]]), "missing"), (watch(4, [E[0], E[0]]), "duplicate"),
                        (watch(4, [E[1], E[0]]), "out of order"),
                        (watch(4, [(5, "DELETED", "a")]), "for another"),
                        (watch(6, [E[1]]), "duplicate")):  # an event at or before the start revision
        check = checks.watches([watch(4, E, process="ref"), bad])
        assert check.ok is False and needle in "\n".join(check.details), needle


def fault(t, action, detail, majority=True):
    return {"type": "fault", "t": t, "action": action, "fault": detail.split()[0], "detail": detail,
            "majority": majority}


def test_availability_measures_gaps_and_recovery_after_each_heal():
    acks = [op(i, "cas", "r", "ok", start=t - 0.1, end=t) for i, t in enumerate([1, 2, 3, 9, 10, 11, 16.5, 18])]
    records = acks + [fault(3.5, "start", "kill m1"), fault(8, "heal", "kill m1"),
                      fault(12, "start", "partition x"), fault(13, "heal", "partition x")]
    check, figures = checks.availability(records)
    assert figures["longest_gap_s"] == 6 and figures["longest_gap_at"] == 3
    assert [round(r["recovery_s"], 3) for r in figures["faults"]] == [1, 3.5]
    assert check.ok is False and "partition x healed at 13.000: first acknowledged write 3.50 s later" in check.details
    assert figures["per_fault_longest_gap_s"] == {"kill": 4.5, "partition": 1}
