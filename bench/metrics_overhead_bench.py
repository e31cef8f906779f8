#!/usr/bin/env python3
"""What /metrics counting costs an API request: the same in-process app with ``[api] metrics`` on and off, A/B
in one run (alternating rounds, so drift hits both alike), over falcon's WSGI simulation (no network, no Raft).

    python bench/metrics_overhead_bench.py            # 10 rounds x 2,000 requests per variant and operation

It prints the median µs per request of each variant and the difference, then the middleware alone: its three
calls for one request, timed in a loop (steadier on a shared machine than the A/B, whose noise is a few %). In-process requests are the cheapest
a master answers (a read from the local store, a create into the in-memory store), so the share printed is an
upper bound of the share in an end-to-end request (HTTP, a Raft round for a write or a linearizable read).
"""

from __future__ import annotations

import argparse
import statistics
import time

from falcon import testing

from raftkube.api.app import create_app
from raftkube.config import ApiConfig
from raftkube.registry import Registry
from raftkube.state.local import LocalStore
from raftkube.testing import pod_body


def client(metrics: bool):
    store = LocalStore()
    return testing.TestClient(create_app(Registry(store), store, ApiConfig(metrics=metrics)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    apps = {"off": client(False), "on": client(True)}
    for c in apps.values():
        assert c.simulate_post("/api/v1beta1/pods", json=pod_body("seed")).status_code == 200
    ops = {
        "read": lambda c, i: c.simulate_get("/api/v1beta1/pods/seed"),
        "create": lambda c, i: c.simulate_post("/api/v1beta1/pods", json=pod_body(f"p{i}")),
    }
    for op, fn in ops.items():
        times: dict[str, list[float]] = {"off": [], "on": []}
        n = 0
        for r in range(args.rounds):
            for variant in (("off", "on") if r % 2 == 0 else ("on", "off")):
                c = apps[variant]
                t0 = time.perf_counter()
                for _ in range(args.requests):
                    n += 1
                    fn(c, n)
                times[variant].append((time.perf_counter() - t0) / args.requests * 1e6)
        off, on = statistics.median(times["off"]), statistics.median(times["on"])
        print(f"{op:7s} metrics off {off:7.1f} µs/request   on {on:7.1f} µs/request   "
              f"difference {on - off:+6.1f} µs ({(on - off) / off * 100:+.1f} %)")
    middleware_alone()


def middleware_alone(n: int = 100_000) -> None:
    import falcon
    from prometheus_client import CollectorRegistry

    from raftkube.api.metrics import ApiMetrics
    from raftkube.apis import v1beta1

    mw = ApiMetrics(CollectorRegistry())

    class Res:
        version = v1beta1.VERSION

    res = Res()
    req = testing.create_req(path="/api/v1beta1/pods/seed", method="GET")
    req.uri_template = "/api/v1beta1/{resource}/{name}"
    params = {"resource": "pods", "name": "seed"}
    resp = falcon.Response()
    resp.status = 200
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            mw.process_request(req, resp)
            mw.process_resource(req, resp, res, params)
            mw.process_response(req, resp, res, True)
        best = min(best, (time.perf_counter() - t0) / n * 1e6)
    print(f"the middleware alone: {best:.1f} µs per request (best of 5 x {n:,})")


if __name__ == "__main__":
    main()
