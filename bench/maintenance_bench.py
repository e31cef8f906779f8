#!/usr/bin/env python3
"""Write gaps during planned maintenance (issue 22): leadership transfers, a rolling restart and membership
changes, under a write load.

    flock /tmp/bench.lock python bench/maintenance_bench.py              # 10 transfers, 2 rolling restarts, 2 x changes
    flock /tmp/bench.lock python bench/maintenance_bench.py --transfers 5 --restarts 1 --changes 3 --writers 4

Writer threads (raftkube.testing.load.Writers: round-robin over the 3 masters, failing over on 503 and connection
errors, one request id per pod) create pods all the time. Figures, each the longest time without an acknowledged
write (from any writer) in a window:

  idle      a window of the same length with no maintenance (this machine's own noise, for comparison);
  transfer  from 0.5 s before `POST /raft/transfer-leader` (to the next master) until 0.5 s after it answered;
            also the time the call took and how long the leader held proposals for the target to catch up;
  rolling   a whole rolling restart: for each master in turn, transfer the leadership away if it leads, SIGTERM,
            start again, wait until all 3 are ready with one leader;
  add       from 0.5 s before `POST /raft/members` (a new master, on the leader) until 0.5 s after the new
            master, started with --join, is ready (has caught up with the snapshot and the log);
  remove    from 0.5 s before `DELETE /raft/members/<an original follower>` until 0.5 s after it was stopped;
  replace   a follower is killed (SIGKILL) and its data directory deleted; from 0.5 s before the kill until 0.5 s
            after its replacement (removed, a new one added and joined) is ready.
Each round of changes (add, remove, replace) leaves three masters.
Also `at_end`: how often (of ~200 samples of /raft/members on the leader, under the same load) a follower's match
index was at the end of the leader's log, the only moment pysyncobj's own transferLeadership() accepts.
Target (issue 22): the rolling restart's longest gap < 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import close_cluster, keep_or_remove  # noqa: E402
from raftkube.testing import MasterCluster  # noqa: E402
from raftkube.testing.load import Writers  # noqa: E402

MARGIN_S = 0.5
TARGET_ROLLING_S = 1.0


class TransferFailed(Exception):
    pass


def transfer(cluster: MasterCluster, leader: str, target: str) -> dict:
    started = time.monotonic()
    r = requests.post(cluster.url(leader) + "/raft/transfer-leader", json={"name": target, "timeoutSeconds": 5},
                      timeout=15)
    if r.status_code != 200:
        raise TransferFailed(f"{leader} -> {target}: {r.status_code} {r.text[:300]}")
    return {**r.json(), "callS": time.monotonic() - started}


def at_end_fraction(cluster: MasterCluster, leader: str, samples: int = 200) -> float:
    hits = total = 0
    for _ in range(samples):
        view = requests.get(cluster.url(leader) + "/raft/members", timeout=5).json()
        me = next(m for m in view["members"] if m["self"])
        for m in view["members"]:
            if not m["self"] and m["matchIndex"] is not None:
                total += 1
                hits += m["matchIndex"] >= me["matchIndex"]
        time.sleep(0.005)
    return hits / max(total, 1)


def stop(cluster: MasterCluster, name: str) -> str | None:
    """SIGTERM and wait; a master still running after 15 s gets SIGABRT (PYTHONFAULTHANDLER: its threads' stacks
    go to its log) and the reason is returned, so the run goes on and the log tells what hung."""
    proc = cluster.procs.pop(name)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
        return None
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        proc.wait(timeout=10)
        return f"{name} did not stop within 15 s of SIGTERM (stacks in {cluster.workdir / (name + '.log')})"


def change(cluster: MasterCluster, method: str, path: str, body: dict | None = None) -> dict:
    """A membership change on the leader (asked again if the leader changed on the way)."""
    for _ in range(20):
        leader = cluster.wait_ready()
        r = requests.request(method, cluster.url(leader) + path, json=body, timeout=30)
        if r.status_code in (200, 201):
            return r.json()
        if r.status_code != 503:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
        time.sleep(0.2)
    raise RuntimeError(f"{method} {path}: no leader took it")


def add_master(cluster: MasterCluster, writers: Writers, name: str) -> None:
    api, raft = cluster.new_master(name)
    leader = cluster.wait_ready()
    change(cluster, "POST", "/raft/members", {"name": name, "host": "127.0.0.1", "apiPort": api, "raftPort": raft})
    cluster.join(name, leader)
    cluster.wait_ready(names=cluster.running(), timeout_s=60)
    writers.urls.append(cluster.url(name))


def remove_master(cluster: MasterCluster, name: str) -> None:
    change(cluster, "DELETE", f"/raft/members/{name}")
    if name in cluster.procs:
        stop(cluster, name)


def _gap(writers: Writers, action) -> float:
    """The longest write gap around ``action()`` (with MARGIN_S of writes before and after it)."""
    time.sleep(MARGIN_S)
    start = time.monotonic() - MARGIN_S
    action()
    time.sleep(MARGIN_S)
    return writers.longest_gap(start, time.monotonic())


def membership_round(cluster: MasterCluster, writers: Writers, first: int) -> dict:
    """Add a master, remove an original follower, replace a killed one whose data is gone: the gap of each."""
    gaps = {"add": _gap(writers, lambda: add_master(cluster, writers, f"m{first}"))}
    leader = cluster.wait_ready()
    victim = next(n for n in cluster.running() if n != leader)
    gaps["remove"] = _gap(writers, lambda: remove_master(cluster, victim))
    leader = cluster.wait_ready()
    dead = next(n for n in cluster.running() if n != leader)

    def replace():
        cluster.kill(dead)
        shutil.rmtree(cluster.data_dir(dead))
        remove_master(cluster, dead)
        add_master(cluster, writers, f"m{first + 1}")
    gaps["replace"] = _gap(writers, replace)
    return {k: round(v, 3) for k, v in gaps.items()}


def rolling_restart(cluster: MasterCluster) -> dict:
    """Each master in turn; the leader hands over first, to the master restarted longest ago."""
    transfers, failed = 0, []
    for i, name in enumerate(cluster.names):
        for _ in range(3):
            leader = cluster.wait_ready()
            if leader != name:
                break
            target = cluster.names[(i + 1) % len(cluster.names)]
            try:
                transfer(cluster, leader, target)
                transfers += 1
            except TransferFailed as exc:
                failed.append(str(exc))
                print(f"transfer failed, again: {exc}", file=sys.stderr, flush=True)
        cluster.wait_ready()
        stuck = stop(cluster, name)
        if stuck:
            failed.append(stuck)
            print(stuck, file=sys.stderr, flush=True)
        cluster.start(name)
        cluster.wait_ready(names=cluster.names, timeout_s=30)
    return {"transfers": transfers, "problems": failed}  # failed transfers, masters that did not stop


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transfers", type=int, default=10)
    ap.add_argument("--restarts", type=int, default=2, help="rolling restarts of all 3 masters")
    ap.add_argument("--changes", type=int, default=2, help="rounds of add, remove, replace")
    ap.add_argument("--writers", type=int, default=4, help="writer threads (default 4)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (master logs, data)")
    args = ap.parse_args(argv)
    os.environ["PYTHONFAULTHANDLER"] = "1"  # the masters inherit it: SIGABRT dumps their stacks
    workdir = Path(tempfile.mkdtemp(prefix="raftkube-maintenance-"))
    cluster = MasterCluster(workdir)
    out: dict[str, list] = {"idle": [], "transfer": [], "rolling": [], "changes": []}
    ok = True
    try:
        cluster.start_all()
        with Writers(cluster.urls, n=args.writers) as writers:
            writers.wait_for(200)
            out["at_end"] = [at_end_fraction(cluster, cluster.wait_ready())]
            for i in range(args.transfers):
                leader = cluster.wait_ready()
                target = cluster.names[(cluster.names.index(leader) + 1) % len(cluster.names)]
                time.sleep(MARGIN_S)
                start = time.monotonic() - MARGIN_S
                res = transfer(cluster, leader, target)
                time.sleep(MARGIN_S)
                gap = writers.longest_gap(start, time.monotonic())
                row = {"gapS": round(gap, 3), "callS": round(res["callS"], 3), "tookMs": res["tookMs"],
                       "steppedDownMs": res["steppedDownMs"], "from": leader, "to": res["leader"]}
                out["transfer"].append(row)
                print(json.dumps({"transfer": i, **row}), flush=True)
                t0 = time.monotonic()  # an idle window as long as that one
                time.sleep(2 * MARGIN_S + res["callS"])
                out["idle"].append(round(writers.longest_gap(t0, time.monotonic()), 3))
            for i in range(args.restarts):
                start = time.monotonic()
                res = rolling_restart(cluster)
                row = {"gapS": round(writers.longest_gap(start, time.monotonic()), 3),
                       "durationS": round(time.monotonic() - start, 1), **res}
                out["rolling"].append(row)
                print(json.dumps({"rolling": i, **row}), flush=True)
            for i in range(args.changes):
                row = membership_round(cluster, writers, 4 + 2 * i)
                out["changes"].append(row)
                print(json.dumps({"changes": i, **row}), flush=True)
            acked = len(writers.acked)
        if writers.errors:
            ok = False
            print(f"writer errors: {writers.errors[:5]}", file=sys.stderr)
    finally:
        ok = close_cluster(cluster) and ok
        keep_or_remove(workdir, args.keep or any(r["problems"] for r in out["rolling"]))

    def med(xs):
        return round(statistics.median(xs), 3) if xs else None
    gaps = [r["gapS"] for r in out["transfer"]]
    rolling = [r["gapS"] for r in out["rolling"]]
    summary = {"writers": args.writers, "acked": acked, "idle_gap_median_s": med(out["idle"]),
               "idle_gap_max_s": max(out["idle"], default=None),
               "transfer_gap_median_s": med(gaps), "transfer_gap_max_s": max(gaps, default=None),
               "transfer_call_median_s": med([r["callS"] for r in out["transfer"]]),
               "rolling_gap_s": rolling, "rolling_duration_s": [r["durationS"] for r in out["rolling"]],
               "follower_at_log_end": round(out["at_end"][0], 3),
               "rolling_below_target": all(g < TARGET_ROLLING_S for g in rolling),
               **{f"{k}_gap_s": [r[k] for r in out["changes"]] for k in ("add", "remove", "replace")}}
    print("SUMMARY " + json.dumps(summary), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
