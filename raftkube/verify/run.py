"""One verify run: network, masters, workload and nemesis for ``seconds``, then heal, converge, check, report.

Everything the run creates is removed in ``finally`` (masters stopped, lazyfs disks unmounted, namespaces
deleted), also after Ctrl-C (SIGINT) or SIGTERM; a run also removes what a crashed earlier one left.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from raftkube.testing.waiting import poll_until
from raftkube.verify import checks as checkers
from raftkube.verify import report
from raftkube.verify.cluster import Cluster
from raftkube.verify.history import History, load
from raftkube.verify.nemesis import FAULTS, Nemesis
from raftkube.verify.netns import Network
from raftkube.verify.workload import Workload

log = logging.getLogger(__name__)


@dataclass
class Options:
    seconds: float = 60.0
    faults: list[str] = field(default_factory=lambda: list(FAULTS))
    seed: int = 0
    masters: int = 3
    registers: int = 3
    folder: Path = Path("verify-report")
    unsafe_stale_reads: bool = False  # the checker's own test: reads skip the read index
    fault_s: tuple[float, float] = (2.0, 6.0)
    quiet_s: float = 5.0
    check_budget_s: float = 120.0


@dataclass
class Outcome:
    ok: bool
    checks: list
    figures: dict
    folder: Path
    text: str
    nemesis_errors: list[str]


def anomalies(checks: list) -> int:
    """Safety violations found: non-linearizable registers, create and watch problems (not availability)."""
    n = 0
    for c in checks:
        if c.ok is False and c.name == "linearizable registers":
            n += sum(1 for d in c.details if "not linearizable" in d)
        elif c.ok is False and c.name in ("acknowledged creates", "watches"):
            n += len(c.details)
    return n


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _hold_signals() -> dict:
    """Teardown is not interrupted again (a second Ctrl-C would leave namespaces and mounts behind)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}


def run(opts: Options, out=print) -> Outcome:
    folder = opts.folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    hist_path = folder / "history.jsonl"
    hist_path.unlink(missing_ok=True)
    history = History(hist_path)
    names = [f"m{i + 1}" for i in range(opts.masters)]
    previous = signal.signal(signal.SIGTERM, _terminate) if threading.current_thread() is threading.main_thread() else None
    net = Network(names)
    cluster = None
    nemesis_errors: list[str] = []
    problems: list[str] = []
    interrupted = True  # until the run gets to its end
    try:
        net.create()
        cluster = Cluster(folder, net, power="power" in opts.faults, unsafe_stale_reads=opts.unsafe_stale_reads)
        out(f"verify: {len(names)} masters in namespaces rkv-m1.. on {net.addresses[names[0]]}/24, "
            f"{opts.seconds:.0f} s of {','.join(opts.faults) or 'no faults'}, seed {opts.seed}; report in {folder}")
        cluster.start_all()
        workload = Workload(history, {n: cluster.url(n) for n in names}, opts.registers, opts.seed,
                            new_session=cluster.new_session)
        initial = workload.setup()
        history.add({"type": "meta", "seed": opts.seed, "faults": opts.faults, "seconds": opts.seconds,
                     "masters": {n: net.address(n) for n in names}, "initial": initial,
                     "unsafe_stale_reads": opts.unsafe_stale_reads})
        nemesis = Nemesis(cluster, history, opts.faults, opts.seed, fault_s=opts.fault_s, quiet_s=opts.quiet_s)
        workload.start()
        try:
            nemesis.run(until_s=history.now() + opts.seconds)
        finally:
            nemesis.stop.set()  # interrupted: no healing (restarting masters can take a minute under load);
            nemesis_errors = nemesis.errors  # the outer finally tears everything down as it is
        nemesis.heal_all()
        history.fault("heal", "all", "end of the run")
        # the workload goes on over the healed cluster for a moment (recovery after the last heal)
        time.sleep(min(5.0, opts.quiet_s))
        workload.finish()
        cluster.wait_ready(timeout_s=60)

        def converged():
            revs = {cluster.raft(n)["revision"] for n in names}
            return len(revs) == 1
        poll_until(converged, 60, 0.2, what="every master at the same revision")
        workload.final_reads()
        poll_until(converged, 60, 0.2, what="every master at the same revision")
        workload.final_states()
        interrupted = False
    finally:
        held = _hold_signals()
        history.close()
        if cluster is not None:
            problems = cluster.close(kill=interrupted)  # interrupted: nothing to keep, kill -9 at once
        net.close()
        for sig, handler in held.items():
            signal.signal(sig, handler)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    records = load(hist_path)
    checks, figures = checkers.run_all(records, opts.check_budget_s)
    if problems:
        checks.append(checkers.Check("clean stop", False, "; ".join(problems)))
    ok = report.verdict(checks) and not nemesis_errors
    text = report.summary(records, checks, figures)
    if nemesis_errors:
        text += "\nnemesis errors: " + "; ".join(nemesis_errors)
    meta = next((r for r in records if r.get("type") == "meta"), {})
    page = report.write_html(folder, records, checks, figures, meta)
    out(text)
    out(f"report: {page}")
    n_anomalies = anomalies(checks)
    out(("VERDICT: ok" if ok else "VERDICT: FAILED") + f": {n_anomalies} anomalies, "
        f"worst recovery after a heal {figures.get('worst_recovery_s', 0):.2f} s, "
        f"longest without an acknowledged write {figures.get('longest_gap_s', 0):.2f} s")
    (folder / "summary.txt").write_text(text + "\n")
    return Outcome(ok, checks, figures, folder, text, nemesis_errors)
