#!/usr/bin/env python3
"""Density with hollow minions (kubemark style): 100 minions in one process, 3,000 pods from RCs.

    python bench/density_bench.py                         # 100 hollow minions, 30 RCs x 100 replicas
    python bench/density_bench.py --minions 20 --rcs 5 --replicas 100 --keep

Setup: three `raftkube master` processes (scheduler, replication manager on the leader) and ONE
`raftkube minion --runtime hollow --count N` process: N real kubelets + node agents over the hollow runtime
(no containers), sharing one watch of all bound pods. The RCs are created at once; a watch through the API
records when each pod is first Running. Meanwhile a probe writes one Event every 0.1 s through the API
(round-robin over the masters) and records the latency; another samples every master's /raft (leader
changes) and the leader's RSS (/proc/<pid>/status VmRSS).
Targets (issue 4): all Running <= 60 s; API write p99 <= 1 s during the run; no leader change; leader RSS <= 1 GiB.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from raftkube.client import HttpClient  # noqa: E402
from bench.common import PodWatch, close_cluster, keep_or_remove  # noqa: E402
from raftkube.testing import MasterCluster, poll_until, rc_body, start_cli, stop_process  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(p / 100 * len(xs) + 0.5)) - 1))] if xs else float("nan")


def rss_mb(pid: int) -> float:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minions", type=int, default=100)
    ap.add_argument("--rcs", type=int, default=30)
    ap.add_argument("--replicas", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    want = args.rcs * args.replicas

    work = Path(tempfile.mkdtemp(prefix="density-"))
    cluster = MasterCluster(work)
    minion = None
    ok = False
    stop = threading.Event()
    try:
        cluster.start_all()
        client = HttpClient(cluster.urls)
        minion = start_cli(["minion", "--masters", ",".join(cluster.urls), "--runtime", "hollow", "--count",
                            args.minions, "--name-prefix", "hollow-", "--port", "0", "--address", "127.0.0.1"],
                           work / "hollow.log", cwd=work)
        t_reg = time.monotonic()
        poll_until(lambda: len([n for n in client.list("Node")[0] if n["metadata"]["name"].startswith("hollow-")])
                   >= args.minions, 120, 0.5, what=f"{args.minions} hollow minions registered")
        print(f"{args.minions} hollow minions registered in {time.monotonic() - t_reg:.1f} s (one process, "
              f"pid {minion.pid})")
        time.sleep(3)  # let the node lifecycle controller and scheduler see them Ready (a bench, not a test)

        # ---- samplers: leader/term, leader RSS, API write latency
        leaders: list[tuple[float, str, int]] = []
        rss: dict[str, float] = {}
        lat: list[float] = []
        errors: list[str] = []

        def sample_raft():
            while not stop.is_set():
                for name in cluster.names:
                    try:
                        st = cluster.raft(name, timeout_s=2)
                        if st.get("role") == "leader":
                            leaders.append((time.monotonic(), name, st.get("term")))
                            rss[name] = max(rss.get(name, 0.0), rss_mb(cluster.procs[name].pid))
                    except Exception:  # noqa: BLE001
                        pass
                stop.wait(0.5)

        def probe():
            s = requests.Session()
            urls = itertools.cycle(cluster.urls)
            for i in itertools.count():
                if stop.wait(0.1):
                    return
                body = {"id": f"probe-{i}", "kind": "Event", "status": "bench", "reason": "probe",
                        "message": "density bench write probe", "source": "density-bench",
                        "involvedObject": {"kind": "Pod", "name": "probe", "namespace": "default"}}
                t0 = time.monotonic()
                try:
                    r = s.post(next(urls) + "/api/v1beta1/events", json=body, timeout=10)
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {r.text[:100]}")
                        continue
                except requests.RequestException as exc:
                    errors.append(str(exc))
                    continue
                lat.append(time.monotonic() - t0)

        threading.Thread(target=sample_raft, daemon=True).start()
        threading.Thread(target=probe, daemon=True).start()
        watch = PodWatch(HttpClient(cluster.urls), "bench=density")
        watch.wait_connected()

        t0 = time.monotonic()
        for i in range(args.rcs):
            name = f"dens-{i:02d}"
            rc = rc_body(name, args.replicas, labels={"bench": "density"}, selector={"rc": name},
                         template_labels={"rc": name, "bench": "density"},
                         containers=[{"name": "app", "image": "raftkube/busybox:latest", "command": ["sleep", "100000"],
                                      "cpu": 10, "memory": 4000000}])
            r = requests.post(cluster.urls[i % 3] + "/api/v1beta1/replicationControllers", json=rc, timeout=30)
            assert r.status_code == 200, r.text
        t_created = time.monotonic() - t0
        last_report = 0.0
        while len(watch.running) < want:
            now = time.monotonic() - t0
            if now > args.timeout:
                break
            if now - last_report >= 5:
                print(f"  t={now:5.1f}s  pods seen {len(watch.seen):5d}  Running {len(watch.running):5d}")
                last_report = now
            time.sleep(0.2)
        done = len(watch.running)
        t_all = (max(watch.running.values()) - t0) if done >= want else float("inf")
        stop.set()
        watch.stop()
        terms = {(n, t) for _, n, t in leaders}
        print(f"density: {args.minions} hollow minions, {args.rcs} RCs x {args.replicas} = {want} pods "
              f"(RC creates took {t_created:.2f} s)")
        print(f"  all Running through the API: {t_all:.1f} s ({done}/{want})  (target <= 60 s)")
        if lat:
            print(f"  API write probe (Event create, {len(lat)} writes during the run): p50 "
                  f"{statistics.median(lat) * 1000:.0f} ms  p99 {pct(lat, 99) * 1000:.0f} ms  max "
                  f"{max(lat) * 1000:.0f} ms  errors {len(errors)}  (target p99 <= 1 s)")
        if errors:
            print(f"  first probe error: {errors[0]}")
        print(f"  leader (name, term) seen: {sorted(terms)}  -> leader changes: {max(0, len(terms) - 1)}  "
              f"(target 0)")
        print("  leader RSS max: " + ", ".join(f"{n} {v:.0f} MiB" for n, v in sorted(rss.items()))
              + "  (target <= 1024 MiB)")
        print(f"  hollow minion process RSS: {rss_mb(minion.pid):.0f} MiB")
        ok = True
        return 0 if done >= want else 1
    finally:
        stop.set()
        if minion is not None:
            try:
                stop_process(minion, signal.SIGTERM, 20, "hollow minion process")
            except AssertionError as exc:
                print(f"warning: {exc}")
        close_cluster(cluster)
        keep_or_remove(work, args.keep or not ok)


if __name__ == "__main__":
    sys.exit(main())
