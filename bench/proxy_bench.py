#!/usr/bin/env python3
"""Service proxy throughput: through the minion's service port versus directly to the pod, same run.

    python bench/proxy_bench.py                       # 3 masters, 1 docker minion, 1 busybox httpd pod
    python bench/proxy_bench.py --seconds 5 --clients 4 --bulk-mb 100 --rounds 3

Starts three real masters and a real `raftkube minion` (Docker runtime, its proxy on), creates an RC of
one busybox httpd pod (``--replicas``) serving a small ``index.html`` and a ``--bulk-mb`` file, and a
service in front of it. Then, alternating the two targets round by round (A/B/A/B, so background load
hits both alike):

  short  ``--clients`` processes, each a loop of one-request connections (HTTP/1.0 GET /, read to EOF),
         for ``--seconds``: requests/s, p50 and p99 latency;
  bulk   one connection GET /bulk read to EOF (1 MiB reads), MB/s, best of the rounds.

The direct target is the pod IP on the docker bridge; the proxied one is 127.0.0.1:<service port>, the
path a client on the minion takes. Targets: proxied >= 0.5x direct for both. Containers are labelled and
removed at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from raftkube.testing import (MasterCluster, free_ports, poll_until, rc_body, service_body, start_cli,  # noqa: E402
                              stop_process)

V1 = "/api/v1beta1"
LABEL = "io.raftkube.bench-run"


def short_worker(host: str, port: int, seconds: float, out: mp.Queue) -> None:
    req = b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"
    lat = []
    errors = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        try:
            with socket.create_connection((host, port), timeout=10) as s:
                s.sendall(req)
                got = 0
                while chunk := s.recv(65536):
                    got += len(chunk)
            if got:
                lat.append(time.perf_counter() - t0)
            else:
                errors += 1
        except OSError:
            errors += 1
    out.put((lat, errors))


def run_short(host: str, port: int, clients: int, seconds: float) -> dict:
    q: mp.Queue = mp.Queue()
    procs = [mp.Process(target=short_worker, args=(host, port, seconds, q)) for _ in range(clients)]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.monotonic() - t0
    lat = sorted(x for r, _e in results for x in r)
    errors = sum(e for _r, e in results)
    return {"rps": len(lat) / seconds, "p50_ms": pct(lat, 50) * 1e3, "p99_ms": pct(lat, 99) * 1e3,
            "n": len(lat), "errors": errors, "elapsed": elapsed}


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def run_bulk(host: str, port: int) -> tuple[float, int]:
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with socket.create_connection((host, port), timeout=30) as s:
        t0 = time.perf_counter()
        s.sendall(b"GET /bulk HTTP/1.0\r\nHost: x\r\n\r\n")
        total = 0
        while n := s.recv_into(view):
            total += n
        dt = time.perf_counter() - t0
    return total / dt / 1e6, total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="duration of each short-request round")
    ap.add_argument("--clients", type=int, default=4, help="client processes for short requests")
    ap.add_argument("--bulk-mb", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--replicas", type=int, default=1, help="pods behind the service (direct uses the first)")
    args = ap.parse_args()

    import docker
    dk = docker.from_env()
    run_id = uuid.uuid4().hex[:8]
    work = Path(tempfile.mkdtemp(prefix="proxy-bench-"))
    cluster = MasterCluster(work).start_all()
    urls = cluster.urls
    kport, svc_port = free_ports(2)
    minion = start_cli(["minion", "--masters", ",".join(urls), "--name", "bench-minion", "--address", "127.0.0.1",
                        "--port", kport, "--heartbeat", "1", "--container-label", f"{LABEL}={run_id}"],
                       work / "minion.log", cwd=work)
    try:
        poll_until(lambda: requests.get(f"http://127.0.0.1:{kport}/healthz", timeout=1).text == "ok", 30,
                   what="minion up")
        labels = {"name": "benchweb"}
        cmd = (f"mkdir -p /www && echo hello > /www/index.html && "
               f"dd if=/dev/zero of=/www/bulk bs=1048576 count={args.bulk_mb} 2>/dev/null && "
               "exec httpd -f -p 80 -h /www")
        web = {"name": "web", "image": "raftkube/busybox:latest", "command": ["sh", "-c", cmd],
               "ports": [{"containerPort": 80}]}
        rc = rc_body("benchweb", args.replicas, labels=labels, containers=[web])
        svc = service_body("benchweb", svc_port, labels)
        for path, body in (("/services", svc), ("/replicationControllers", rc)):
            r = requests.post(urls[0] + V1 + path, json=body, timeout=10)
            r.raise_for_status()

        def ready():
            eps = requests.get(urls[0] + f"{V1}/endpoints/benchweb", timeout=5).json().get("endpoints") or []
            return eps if len(eps) == args.replicas else None
        eps = poll_until(ready, 90, 0.2, what="endpoints ready")
        pod_ip, pod_port = eps[0].rsplit(":", 1)
        targets = {"direct": (pod_ip, int(pod_port)), "proxied": ("127.0.0.1", svc_port)}
        for name, (h, p) in targets.items():  # the pod is serving and the bulk file is complete
            poll_until(lambda: run_bulk(h, p)[1] >= args.bulk_mb << 20, 60, 0.5, what=f"{name} serving the bulk file")

        short: dict[str, list[dict]] = {k: [] for k in targets}
        bulk: dict[str, list[float]] = {k: [] for k in targets}
        for rnd in range(args.rounds):
            order = list(targets) if rnd % 2 == 0 else list(reversed(targets))
            for name in order:
                short[name].append(run_short(*targets[name], args.clients, args.seconds))
                bulk[name].append(run_bulk(*targets[name])[0])
                s = short[name][-1]
                print(f"round {rnd + 1} {name:8s} short {s['rps']:8.0f} req/s  p50 {s['p50_ms']:6.2f} ms  "
                      f"p99 {s['p99_ms']:7.2f} ms  errors {s['errors']}   bulk {bulk[name][-1]:8.0f} MB/s",
                      flush=True)

        def summary(name):
            rs = short[name]
            return (statistics.median(r["rps"] for r in rs), statistics.median(r["p50_ms"] for r in rs),
                    statistics.median(r["p99_ms"] for r in rs), max(bulk[name]), sum(r["errors"] for r in rs))
        print(f"\n{args.clients} clients x {args.seconds:.0f} s, {args.rounds} rounds (median), bulk "
              f"{args.bulk_mb} MB (best); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
        print(f"{'':10s}{'req/s':>10s}{'p50 ms':>10s}{'p99 ms':>10s}{'bulk MB/s':>12s}{'errors':>8s}")
        for name in targets:
            rps, p50, p99, mbs, errs = summary(name)
            print(f"{name:10s}{rps:10.0f}{p50:10.2f}{p99:10.2f}{mbs:12.0f}{errs:8d}")
        d, pr = summary("direct"), summary("proxied")
        print(f"{'ratio':10s}{pr[0] / d[0]:10.2f}{'':20s}{pr[3] / d[3]:12.2f}   (target >= 0.5 for both)")
        return 0
    finally:
        try:
            requests.delete(urls[0] + f"{V1}/services/benchweb", timeout=5)
        except requests.RequestException:
            pass
        try:
            stop_process(minion, signal.SIGTERM, 20, "docker minion process")
        except AssertionError as exc:
            print(f"warning: {exc}")
        for c in dk.containers.list(all=True, filters={"label": f"{LABEL}={run_id}"}):
            c.remove(force=True)
        cluster.close()


if __name__ == "__main__":
    sys.exit(main())
