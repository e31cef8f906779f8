#!/usr/bin/env python3
"""Many watches on the masters: N pod watches over TLS spread over 3 masters, plus a create and GET load.

    python bench/watch_bench.py                    # N in {1000, 5000, 10000}
    python bench/watch_bench.py --watches 2000 --rate 5 --duration 20

Each cell starts a fresh 3-master cluster with TLS (``raftkube init``), opens N watches of
``/api/v1/namespaces/bench/pods`` from ``resourceVersion`` = the list's (as an informer does) round-robin over
the masters' secure ports, from ``--clients`` asyncio processes (no thread per watch), then a
second process creates pods at ``--rate``/s and GETs one pod in a loop (2 threads, keep-alive, TLS) for
``--duration`` s. Reported:

- delivery: for every (watcher, created pod), the time from the create's acknowledgement (201: committed)
  to the event at that watcher, p50/p99/max; an event seen before the acknowledgement counts 0 (it often
  is: a follower's watchers get it as soon as that master applies it); ``from_send``: the same from the
  moment the POST was sent (commit included). Events missed (a watch dropped or not yet delivered at the
  end) are counted.
- memory per watch: the masters' RSS (sum) after the watches opened minus before, divided by N.
- API latency meanwhile: creates and GETs p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import re
import resource
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

NAMESPACE = "bench"
NAME = re.compile(rb'"name":"wb-(\d+)"')


def _pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# ------------------------------------------------------------------------------------------------ the watchers

class Watchers:
    def __init__(self, urls, ca: str, token: str, n: int, rv: int, max_events: int):
        self.urls, self.token, self.n, self.rv = urls, token, n, rv
        self.ctx = ssl.create_default_context(cafile=ca)
        self.seen = [bytearray(max_events) for _ in range(n)]
        self.arrivals: list[list[float]] = [[] for _ in range(max_events)]  # per pod: arrival times
        self.open = 0
        self.closed = 0
        self.failed = 0

    async def _one(self, i: int, opened: asyncio.Semaphore, ready: asyncio.Event):  # noqa: C901
        host, port = self.urls[i % len(self.urls)]
        try:
            async with opened:
                reader, writer = await asyncio.open_connection(host, port, ssl=self.ctx)
                writer.write((f"GET /api/v1/namespaces/{NAMESPACE}/pods?watch=true&resourceVersion={self.rv} "
                              f"HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {self.token}\r\n\r\n").encode())
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head.split(b"\r\n")[0].decode())
            self.open += 1
            if self.open + self.failed == self.n:
                ready.set()
            seen, tail = self.seen[i], b""
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                now = time.time()
                buf = tail + data
                for m in NAME.finditer(buf):
                    k = int(m.group(1))
                    if k < len(seen) and not seen[k]:
                        seen[k] = 1
                        self.arrivals[k].append(now)
                tail = buf[-64:]
            self.closed += 1
        except Exception as exc:  # noqa: BLE001 - counted and reported
            self.failed += 1
            if self.failed <= 3:
                print(f"watch {i}: {exc!r}", file=sys.stderr)
            if self.open + self.failed == self.n:
                ready.set()

    async def run(self, opened_q, stop_evt):
        sem = asyncio.Semaphore(50)
        ready = asyncio.Event()
        tasks = [asyncio.create_task(self._one(i, sem, ready)) for i in range(self.n)]
        await ready.wait()
        opened_q.put((self.open, self.failed))
        await asyncio.get_running_loop().run_in_executor(None, stop_evt.wait)
        for t in tasks:
            t.cancel()


def _client(urls, ca, token, n, rv, max_events, opened_q, stop_evt, out_q):
    """One client process: ``n`` watches from one asyncio loop; their arrival times at the end."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    w = Watchers(urls, ca, token, n, rv, max_events)
    asyncio.run(w.run(opened_q, stop_evt))
    out_q.put({"arrivals": w.arrivals, "open": w.open, "closed": w.closed, "failed": w.failed})


# ------------------------------------------------------------------------------------------------ the load

def _load(url: str, ca: str, token: str, rate: float, duration: float, out):
    import requests
    s = requests.Session()
    s.trust_env = False  # REQUESTS_CA_BUNDLE would replace the cluster's CA
    s.verify = ca
    s.headers["Authorization"] = f"Bearer {token}"
    acks, create_lat, get_lat = {}, [], []
    stop = time.monotonic() + duration

    def getter():
        g = requests.Session()
        g.trust_env, g.verify, g.headers = False, ca, dict(s.headers)
        while time.monotonic() < stop:
            t = time.perf_counter()
            r = g.get(f"{url}/api/v1/namespaces/{NAMESPACE}/pods/anchor", timeout=10)
            get_lat.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text

    threads = [threading.Thread(target=getter) for _ in range(2)]
    for t in threads:
        t.start()
    k, start = 0, time.monotonic()
    while time.monotonic() < stop:
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"wb-{k}"},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        t, sent = time.perf_counter(), time.time()
        r = s.post(f"{url}/api/v1/namespaces/{NAMESPACE}/pods", json=body, timeout=10)
        create_lat.append(time.perf_counter() - t)
        acks[k] = (sent, time.time())
        assert r.status_code == 201, r.text
        k += 1
        time.sleep(max(0.0, start + k / rate - time.monotonic()))
    for t in threads:
        t.join()
    out.put({"acks": acks, "create": create_lat, "get": get_lat})


# ------------------------------------------------------------------------------------------------ one cell

def cell(n: int, rate: float, duration: float, clients: int) -> dict:
    import requests

    from raftkube.pki import Pki
    from raftkube.testing.cluster import MasterCluster
    from raftkube.testing.processes import CLI
    from bench.common import close_cluster

    work = Path(tempfile.mkdtemp(prefix="watch-bench-"))
    extra = (f"\n[api]\nwatches_per_client = {n + 100}\nmax_watches = {n + 1000}\n"
             f"connections_per_client = {n + 100}\n")  # every watch is from 127.0.0.1
    cluster = MasterCluster(work, n=3, extra_toml=extra, secure=True)
    subprocess.run([*CLI, "init", "--config", cluster.config], cwd=work, check=True, capture_output=True, timeout=60)
    cluster.start_all()
    try:
        pki = Pki(work / "data" / "pki")
        token, ca = pki.token_of("admin"), str(pki.ca_cert)
        urls = [("127.0.0.1", cluster.secure_ports[m]) for m in cluster.names]
        base = f"https://127.0.0.1:{urls[0][1]}"
        h = {"Authorization": f"Bearer {token}"}
        r = requests.post(f"{base}/api/v1/namespaces/{NAMESPACE}/pods", headers=h, verify=ca, timeout=10,
                          json={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "anchor"},
                                "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
        assert r.status_code == 201, r.text
        rv = int(requests.get(f"{base}/api/v1/namespaces/{NAMESPACE}/pods", headers=h, verify=ca,
                              timeout=10).json()["metadata"]["resourceVersion"])
        pids = [cluster.procs[m].pid for m in cluster.names]
        rss_before = sum(_rss_kib(p) for p in pids)
        max_events = int(rate * duration) + 10
        mpc = mp.get_context("spawn")
        opened_q, out_q, stop_evt = mpc.Queue(), mpc.Queue(), mpc.Event()
        shares = [n // clients + (1 if i < n % clients else 0) for i in range(clients)]
        t_open = time.monotonic()
        procs = [mpc.Process(target=_client, args=(urls[i % 3:] + urls[:i % 3], ca, token, k, rv, max_events,
                                                   opened_q, stop_evt, out_q)) for i, k in enumerate(shares)]
        for p in procs:
            p.start()
        for _ in procs:
            opened_q.get(timeout=900)
        result = {"open_s": time.monotonic() - t_open}
        time.sleep(2)  # the masters settle
        result["rss_delta_kib"] = sum(_rss_kib(p) for p in pids) - rss_before
        q = mpc.Queue()
        p = mpc.Process(target=_load, args=(base, ca, token, rate, duration, q))
        p.start()
        result["load"] = q.get(timeout=duration + 120)
        p.join()
        time.sleep(3)  # the last events arrive
        stop_evt.set()
        outs = [out_q.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        arrivals = [sum((o["arrivals"][k] for o in outs), []) for k in range(max_events)]
        n_open = sum(o["open"] for o in outs)
        load = result["load"]
        delays, from_send, missed = [], [], 0
        for k, (sent, ack) in load["acks"].items():
            arr = arrivals[k] if k < max_events else []
            delays += [max(0.0, a - ack) for a in arr]
            from_send += [a - sent for a in arr]
            missed += n_open - len(arr)
        return {"watches": n, "clients": clients, "opened": n_open, "failed": sum(o["failed"] for o in outs),
                "dropped": sum(o["closed"] for o in outs),
                "open_s": round(result["open_s"], 1), "events": len(load["acks"]),
                "delivery_p50_ms": round(_pct(delays, 0.5) * 1000, 1),
                "delivery_p99_ms": round(_pct(delays, 0.99) * 1000, 1),
                "delivery_max_ms": round(max(delays) * 1000, 1) if delays else None, "missed": missed,
                "from_send_p50_ms": round(_pct(from_send, 0.5) * 1000, 1),
                "from_send_p99_ms": round(_pct(from_send, 0.99) * 1000, 1),
                "rss_per_watch_kib": round(result["rss_delta_kib"] / n, 1),
                "create_p50_ms": round(_pct(load["create"], 0.5) * 1000, 1),
                "create_p99_ms": round(_pct(load["create"], 0.99) * 1000, 1),
                "get_p50_ms": round(_pct(load["get"], 0.5) * 1000, 1),
                "get_p99_ms": round(_pct(load["get"], 0.99) * 1000, 1), "gets": len(load["get"])}
    finally:
        close_cluster(cluster)
        subprocess.run(["rm", "-rf", str(work)], check=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--watches", default="1000,5000,10000")
    ap.add_argument("--rate", type=float, default=5.0, help="pod creates per second")
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--clients", type=int, default=4, help="watch client processes (one asyncio loop each)")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for n in (int(x) for x in args.watches.split(",")):
        print(json.dumps(cell(n, args.rate, args.duration, args.clients)), flush=True)


if __name__ == "__main__":
    main()
