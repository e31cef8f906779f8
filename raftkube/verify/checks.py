"""The checkers of a verify run: pure functions from the history's records (history.py) to verdicts.

- ``registers``: every compare-and-set register is linearizable (linearizable.py);
- ``creates``: every acknowledged create is there at the end on every master, nothing is there that no client
  created (or that was deleted with an acknowledgement, or refused), nothing twice, every master alike;
- ``watches``: per watch session, events in revision order, no duplicates, and no gaps from the revision it
  (re)started at: every event any watcher saw in that range, this one saw too, and all agree on each revision;
- ``availability``: the longest stretch without an acknowledged write, overall and during each fault, and
  how long after each heal the first write was acknowledged again.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from raftkube.verify.linearizable import INF, Op, check_registers

WRITES = ("cas", "create", "delete")


@dataclass
class Check:
    name: str
    ok: bool | None  # None: no verdict (the search ran out of time)
    summary: str
    details: list[str] = field(default_factory=list)


def ops_of(records: list[dict], f: str | tuple) -> list[dict]:
    fs = (f,) if isinstance(f, str) else f
    return [r for r in records if r.get("type") == "op" and r["f"] in fs]


def register_histories(records: list[dict]) -> dict[str, list[Op]]:
    out: dict[str, list[Op]] = defaultdict(list)
    for r in ops_of(records, ("read", "cas")):
        end = INF if r["outcome"] == "unknown" else r["end"]
        out[r["key"]].append(Op(r["id"], r["f"], r["start"], end, r["outcome"], r.get("value"), r.get("old"),
                                r.get("new"), f"{r['process']}@{r['master']}"))
    return dict(out)


def registers(records: list[dict], budget_s: float = 60.0) -> Check:
    meta = next((r for r in records if r.get("type") == "meta"), {})
    results = check_registers(register_histories(records), meta.get("initial", {}), budget_s)
    bad = [r for r in results if r.ok is False]
    undecided = [r for r in results if r.ok is None]
    n_ops = sum(r.ops for r in results)
    details = []
    for r in bad:
        details.append(f"register {r.key}: not linearizable; the shortest window found ({len(r.window)} ops):")
        details += [f"  {op.describe()}" for op in r.window]
    details += [f"register {r.key}: {r.note}" for r in undecided]
    ok = False if bad else (None if undecided else True)
    summary = (f"{len(results)} registers, {n_ops} ops checked: "
               + (f"{len(bad)} NOT linearizable" if bad else "undecided" if undecided else "linearizable"))
    return Check("linearizable registers", ok, summary, details)


def creates(records: list[dict]) -> Check:
    attempts: dict[str, list[str]] = defaultdict(list)
    for r in ops_of(records, "create"):
        attempts[r["key"]].append(r["outcome"])
    deletes: dict[str, list[dict]] = defaultdict(list)
    for r in ops_of(records, "delete"):
        deletes[r["key"]].append(r)
    finals = [r for r in records if r.get("type") == "final"]
    problems = []
    if not finals:
        problems.append("no final state was read from any master")
    for r in finals:
        present = set(r["items"])
        m = r["master"]
        problems += [f"{m}: {name} listed twice" for name in r.get("duplicates", [])]
        for name, outcomes in attempts.items():
            ds = [d["outcome"] for d in deletes.get(name, [])]
            if "ok" in outcomes and name not in present and not any(o in ("ok", "unknown") for o in ds):
                problems.append(f"{m}: acknowledged create {name} is missing")
            if name in present and "ok" in ds:
                problems.append(f"{m}: {name} is present after an acknowledged delete")
            if name in present and all(o == "fail" for o in outcomes):
                problems.append(f"{m}: {name} is present although its create was refused")
        problems += [f"{m}: {name} exists but no client created it" for name in sorted(present - set(attempts))]
    for name, ds in deletes.items():
        for d in ds:  # the workload deletes only objects whose create was acknowledged, once
            if d["outcome"] == "fail" and d.get("status") == 404 and "ok" in attempts.get(name, []):
                problems.append(f"delete #{d['id']} of acknowledged {name} answered 404 at {d['end']:.3f}")
    states = {r["master"]: sorted(r["items"]) for r in finals}
    if len({tuple(s) for s in states.values()}) > 1:
        problems.append("the masters' final states differ: "
                        + "; ".join(f"{m}: {len(s)} objects" for m, s in sorted(states.items())))
    acked = sum(1 for o in attempts.values() if "ok" in o)
    unknown = sum(1 for o in attempts.values() if "ok" not in o and "unknown" in o)
    summary = (f"{acked} acknowledged creates, {unknown} unknown, {sum(len(d) for d in deletes.values())} deletes, "
               f"{len(finals)} masters' final states: " + (f"{len(problems)} problems" if problems else "ok"))
    return Check("acknowledged creates", not problems, summary, problems)


def watches(records: list[dict]) -> Check:
    sessions = [r for r in records if r.get("type") == "watch"]
    seen: dict[int, tuple] = {}
    problems = []
    for s in sessions:
        for rv, kind, name in s["events"]:
            if seen.setdefault(rv, (kind, name)) != (kind, name):
                problems.append(f"revision {rv}: {seen[rv]} for one watcher, {(kind, name)} for another")
    revisions = sorted(seen)
    n_events = 0
    for s in sessions:
        rvs = [e[0] for e in s["events"]]
        n_events += len(rvs)
        where = f"watch {s['process']}@{s['master']} from {s['from_rv']} at {s['start']:.3f}"
        for a, b in zip([s["from_rv"]] + rvs, rvs):
            if b <= a:
                problems.append(f"{where}: revision {b} after {a} ({'duplicate' if a == b else 'out of order'})")
        if rvs:
            got = set(rvs)
            missing = [rv for rv in revisions if s["from_rv"] < rv <= rvs[-1] and rv not in got]
            if missing:
                problems.append(f"{where}: {len(missing)} events missing (first {missing[:5]})")
    resumes = sum(1 for s in sessions if s["reason"] == "lost")
    gone = sum(1 for s in sessions if s["reason"] == "gone")
    summary = (f"{len(sessions)} sessions ({resumes} lost and resumed, {gone} told 410), {n_events} events: "
               + (f"{len(problems)} problems" if problems else "ok"))
    return Check("watches", not problems, summary, problems)


def fault_windows(records: list[dict], end: float) -> list[dict]:
    """Each fault from its start to its heal (or the end of the run): {fault, detail, start, heal, majority}."""
    open_: dict[str, dict] = {}
    windows = []
    for r in records:
        if r.get("type") != "fault":
            continue
        if r["action"] == "start":
            open_[r["detail"]] = w = {"fault": r["fault"], "detail": r["detail"], "start": r["t"], "heal": None,
                                      "majority": True}
            windows.append(w)
        elif r["detail"] in open_:
            w = open_.pop(r["detail"])
            w["heal"], w["majority"] = r["t"], r.get("majority", True)
    for w in windows:
        if w["heal"] is None:
            w["heal"] = end
    return windows


def longest_gap(times: list[float], lo: float, hi: float) -> tuple[float, float]:
    """The longest stretch of [lo, hi] without a time in ``times`` (sorted): (length, start)."""
    points = [lo] + [t for t in times if lo < t < hi] + [hi]
    best = max(((b - a, a) for a, b in zip(points, points[1:])), default=(0.0, lo))
    return best


def availability(records: list[dict], target_s: float = 3.0) -> tuple[Check, dict]:
    acks = sorted(r["end"] for r in ops_of(records, WRITES) if r["outcome"] == "ok")
    ops = ops_of(records, WRITES)
    if not ops:
        return Check("availability", False, "no writes were attempted"), {}
    lo, hi = min(r["start"] for r in ops), max(r["end"] for r in ops)
    overall, at = longest_gap(acks, lo, hi)
    windows = fault_windows(records, hi)
    per_kind: dict[str, float] = defaultdict(float)
    rows = []
    late = []
    for w in windows:
        gap, _ = longest_gap(acks, w["start"], w["heal"])
        per_kind[w["fault"]] = max(per_kind[w["fault"]], gap)
        after = next((t for t in acks if t > w["heal"]), None)
        recovery = None if after is None else after - w["heal"]
        rows.append({**w, "longest_gap_s": gap, "recovery_s": recovery})
        if w["majority"] and w["heal"] < hi and (recovery is None or recovery > target_s):
            late.append(f"{w['detail']} healed at {w['heal']:.3f}: "
                        + ("no write acknowledged after it" if recovery is None else
                           f"first acknowledged write {recovery:.2f} s later"))
    recoveries = [r["recovery_s"] for r in rows if r["majority"] and r["recovery_s"] is not None]
    worst = max(recoveries, default=0.0)
    summary = (f"{len(acks)} acknowledged writes; longest without one {overall:.2f} s (from {at:.1f} s); "
               f"after {len(recoveries)} heals writes acknowledged again within {worst:.2f} s (target {target_s:.0f} s)")
    figures = {"acked_writes": len(acks), "longest_gap_s": overall, "longest_gap_at": at,
               "per_fault_longest_gap_s": dict(per_kind), "worst_recovery_s": worst, "faults": rows}
    return Check("availability", not late, summary, late), figures


def run_all(records: list[dict], budget_s: float = 60.0) -> tuple[list[Check], dict]:
    avail, figures = availability(records)
    return [registers(records, budget_s), creates(records), watches(records), avail], figures
