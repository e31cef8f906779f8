#!/usr/bin/env python3
"""Scheduler + replication manager throughput on three real masters with 100 heartbeat-only minions.

    python bench/scheduler_bench.py                       # 100 minions, 3,000 pods from 30 RCs
    python bench/scheduler_bench.py --minions 20 --rcs 5 --replicas 100

The minions are NodeAgents (register + heartbeat over HTTP) in this process. At t0 all RCs are created at
once; the replication manager on the leader creates the pods and the scheduler binds them. A watch on a
follower records when each pod is first seen bound. Figures: time until all pods are bound (from t0), the
bind rate (pods bound / time between first and last bind, and the best 1 s window), spreading, and the
leader's RSS (VmRSS and peak VmHWM from /proc/<pid>/status).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from raftkube.client import HttpClient  # noqa: E402
from raftkube.minion.agent import NodeAgent  # noqa: E402
from raftkube.model.objects import name_of, pod_node  # noqa: E402
from raftkube.testing import MasterCluster, objects, poll_until  # noqa: E402


def rss_kib(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def rc(name: str, replicas: int) -> dict:
    return objects.rc(name, replicas, {"app": name}, [objects.container(cpu=10, memory=1 << 20)])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minions", type=int, default=100)
    ap.add_argument("--rcs", type=int, default=30)
    ap.add_argument("--replicas", type=int, default=100)
    ap.add_argument("--heartbeat", type=float, default=5.0, help="minion heartbeat period (s)")
    ap.add_argument("--timeout", type=float, default=180.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    total = args.rcs * args.replicas

    with tempfile.TemporaryDirectory(prefix="sched-bench-") as tmp:
        cluster = MasterCluster(Path(tmp))
        cluster.start_all()
        agents: list[NodeAgent] = []
        try:
            leader = cluster.leader()
            follower = next(n for n in cluster.names if n != leader)
            pid = cluster.procs[leader].pid
            client = HttpClient(cluster.urls, timeout_s=30.0, retry_for_s=30.0)
            rss_before = rss_kib(pid)
            shared = HttpClient(cluster.urls, timeout_s=10.0)  # sessions are per thread: one client will do
            agents = [NodeAgent(shared, f"minion-{i:03d}", f"10.1.{i // 250}.{i % 250 + 1}",
                                {"cpu": 4000, "memory": 8 << 30}, heartbeat_s=args.heartbeat).start()
                      for i in range(args.minions)]
            poll_until(lambda: len(client.list("Node")[0]) == args.minions, 60.0, what="minions registered")
            print(f"cluster: 3 masters, leader {leader} (pid {pid}); {args.minions} minions registered; "
                  f"creating {args.rcs} RCs x {args.replicas} = {total} pods")

            bound_at: dict[str, float] = {}
            node_of: dict[str, str] = {}
            created: set[str] = set()
            done = threading.Event()
            watcher = HttpClient([cluster.url(follower)], timeout_s=30.0)
            _items, rev = watcher.list("Pod")

            def watch() -> None:
                w = watcher.watch("Pod", resource_version=rev)
                for ev in w:
                    if ev is None:
                        continue
                    name = name_of(ev.object)
                    created.add(name)
                    if pod_node(ev.object) and name not in bound_at:
                        bound_at[name] = time.monotonic()
                        node_of[name] = pod_node(ev.object)
                        if len(bound_at) >= total:
                            done.set()
                            w.close()
                            return
            t = threading.Thread(target=watch, name="bench-watch", daemon=True)
            t.start()
            time.sleep(0.2)

            t0 = time.monotonic()
            for i in range(args.rcs):
                client.create(rc(f"rc{i:02d}", args.replicas))
            t_rcs = time.monotonic() - t0
            peak_rss = rss_kib(pid)
            while not done.wait(0.5):
                peak_rss = max(peak_rss, rss_kib(pid), key=lambda r: r["VmRSS"])
                if time.monotonic() - t0 > args.timeout:
                    break
            t_end = time.monotonic()
            rss_after = rss_kib(pid)

            n = len(bound_at)
            times = sorted(bound_at.values())
            if not times:
                print("no pod was bound")
                return 1
            first, last = times[0] - t0, times[-1] - t0
            per_second = Counter(int(x - t0) for x in times)
            spread = Counter(node_of.values())
            print(f"RCs created in {t_rcs:.2f} s; pods seen: {len(created)}; bound: {n}/{total}")
            print(f"first bind at {first:.2f} s, all {n} bound at {last:.2f} s after t0"
                  + ("" if n == total else f" (TIMED OUT after {t_end - t0:.0f} s)"))
            print(f"bind rate: {n / max(last, 1e-9):.0f} pods/s from t0; {n / max(last - first, 1e-9):.0f} pods/s "
                  f"first->last bind; best 1 s window {max(per_second.values())} pods/s")
            print(f"spreading: {len(spread)} minions used, pods per minion min {min(spread.values())} "
                  f"max {max(spread.values())}")
            print(f"leader {leader} RSS: before minions {rss_before['VmRSS'] / 1024:.0f} MiB, "
                  f"peak sampled {peak_rss['VmRSS'] / 1024:.0f} MiB, after {rss_after['VmRSS'] / 1024:.0f} MiB "
                  f"(VmHWM {rss_after['VmHWM'] / 1024:.0f} MiB)")
            st = cluster.raft(leader)
            print(f"leader still {st['leader']} (term {st['term']}), revision {st['revision']}")
            return 0 if n == total else 1
        finally:
            for a in agents:
                a._stop.set()
            for a in agents:
                a.stop(1.0)
            cluster.close()


if __name__ == "__main__":
    sys.exit(main())
