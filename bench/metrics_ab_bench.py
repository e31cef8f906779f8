"""End-to-end cost of the API metrics (issue 21): two clusters in one run, ``[api] metrics`` off and on, cells ABBA.

    python bench/metrics_ab_bench.py                      # 4 rounds, C=8, 3 s cells, creates and GETs
    python bench/metrics_ab_bench.py --rounds 6 --concurrency 32 --duration 5

Two clusters of three masters run side by side for the whole run: "off" (``[api] metrics = false``) and "on"
(the default). For every round and op the cells go off, on, on, off (the next round on, off, off, on), so
neither variant always runs first or second and a drift over the run (page cache, CPU frequency, other load on
the machine) falls on both. The cluster not measured idles (heartbeats only). The clients are api_bench's
(``bench/api_bench.py``: multiprocessing client processes, keep-alive connections, 1 KB v1beta1 pods,
linearizable GETs). Printed: every cell, then per op the median ops/s and server CPU per op of each variant and
the ratio on/off of each round's means with their median: the figure to quote (0.97 = a 3 % cost).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.api_bench import READ_KEYS, ClientPool, pod_bytes, prepopulate, proc_cpu_s  # noqa: E402
from bench.common import close_cluster, keep_or_remove  # noqa: E402

VARIANTS = {"off": "\n[api]\nmetrics = false\n", "on": ""}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=4, help="rounds of ABBA cells per op (default 4)")
    ap.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    ap.add_argument("--duration", type=float, default=3.0, help="measured seconds per cell (default 3)")
    ap.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per cell (default 1)")
    ap.add_argument("--procs", type=int, default=2, help="client processes (default 2)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    args = ap.parse_args(argv)

    from raftkube.testing import MasterCluster
    workdir = Path(tempfile.mkdtemp(prefix="raftkube-metrics-ab-"))
    clusters: dict[str, MasterCluster] = {}
    pool = None
    template = pod_bytes("@@NAME@@")
    read_names = [f"read-{i}" for i in range(READ_KEYS)]
    cells: list[tuple[int, str, str, float, float]] = []  # round, op, variant, ops/s, server µs CPU per op
    clean = True
    try:
        for name, toml in VARIANTS.items():
            (workdir / name).mkdir()
            clusters[name] = MasterCluster(workdir / name, extra_toml=toml)
            clusters[name].start_all()
            endpoints = [("127.0.0.1", clusters[name].api_ports[n]) for n in clusters[name].names]
            prepopulate("raftkube", endpoints, read_names, template)
        pool = ClientPool(args.procs)
        print(f"two clusters (metrics off, on) up; C={args.concurrency}, {args.warmup} s warm-up + {args.duration} s "
              f"per cell, {args.rounds} rounds; workdir {workdir}")
        print(f"{'round':>5s}  {'op':6s}  {'metrics':7s}  {'ops/s':>7s}  {'µs CPU/op':>9s}")
        cell = 0
        for rnd in range(args.rounds):
            order = ("off", "on", "on", "off") if rnd % 2 == 0 else ("on", "off", "off", "on")
            for op in ("create", "read"):
                for variant in order:
                    cell += 1
                    cluster = clusters[variant]
                    pids = [p.pid for p in cluster.procs.values()]
                    endpoints = [("127.0.0.1", cluster.api_ports[n]) for n in cluster.names]
                    cpu0 = proc_cpu_s(pids)
                    r = pool.run("raftkube", op, endpoints, args.concurrency, args.warmup, args.duration,
                                 prefix=f"ab{cell:03d}", template=template, read_names=read_names)
                    cpu = proc_cpu_s(pids) - cpu0  # includes the warm-up: per op over every op of the cell
                    done = len(r["lats"])
                    ops_s = done / args.duration
                    per_op = cpu * 1e6 / (done * (args.warmup + args.duration) / args.duration) if done else 0.0
                    cells.append((rnd, op, variant, ops_s, per_op))
                    print(f"{rnd:>5d}  {op:6s}  {variant:7s}  {ops_s:>7.0f}  {per_op:>9.0f}"
                          + (f"  errors {r['errors']}" if r["errors"] else ""), flush=True)
        print()
        for op, noun in (("create", "creates"), ("read", "GETs")):
            mine = [c for c in cells if c[1] == op]
            med = {v: statistics.median(c[3] for c in mine if c[2] == v) for v in VARIANTS}
            cpu = {v: statistics.median(c[4] for c in mine if c[2] == v) for v in VARIANTS}
            ratios = [statistics.mean(c[3] for c in mine if c[0] == rnd and c[2] == "on")
                      / statistics.mean(c[3] for c in mine if c[0] == rnd and c[2] == "off")
                      for rnd in range(args.rounds)]
            print(f"{noun}: median {med['off']:.0f}/s off, {med['on']:.0f}/s on; server CPU per op {cpu['off']:.0f} "
                  f"µs off, {cpu['on']:.0f} µs on ({cpu['on'] / cpu['off'] - 1:+.1%}); on/off per round "
                  f"{', '.join(f'{x:.3f}' for x in ratios)}: median {statistics.median(ratios):.3f}")
    finally:
        if pool is not None:
            pool.close()
        for cluster in clusters.values():
            clean = close_cluster(cluster) and clean
        keep_or_remove(workdir, args.keep)
    return 0 if clean else 1


if __name__ == "__main__":
    t0 = time.monotonic()
    code = main()
    print(f"({time.monotonic() - t0:.0f} s)")
    sys.exit(code)
