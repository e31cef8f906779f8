"""Bad input against a real master (issue 17): 10 000 rejected requests over keep-alive connections.

Every answer is a 4xx Status (never a 5xx), within the write timeout, and the store lists are unchanged.
"""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from raftkube.testing import MasterCluster, pod_body

REQUESTS = 10_000
WORKERS = 8
TIMEOUT_S = 10.0
BAD = [b'{"id": "p", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", b'{"id": "\\ud800"}', b"\xff\xfe{", b"{",
       b'{"id": NaN}', b'{"id": 1e999}', b'{"id": "p", "desiredState": 123}', b"[]", b'"x"', b"null",
       b"a: &x [1]\nb: *x\n", b'{"id": 99999999999999999999999999}']


def _bodies(rng: random.Random) -> list[tuple[str, bytes, str]]:
    out = []
    for i in range(REQUESTS):
        if i % 2:
            body = rng.choice(BAD)
        else:
            p = pod_body("p")
            p["desiredState"]["manifest"]["containers"][0]["ports"] = [{"containerPort": rng.choice([0, 70000, -1])}]
            body = json.dumps(p).encode()
        ctype = "application/yaml" if body.startswith(b"a:") else "application/json"
        out.append((rng.choice(["pods", "replicationControllers", "services"]), body, ctype))
    return out


def test_ten_thousand_bad_requests_get_4xx_and_change_nothing(tmp_path):
    c = MasterCluster(tmp_path, n=1)
    try:
        c.start_all()
        base = c.urls[0] + "/api/v1beta1/"
        r = requests.post(base + "pods", json=pod_body("keep"), timeout=TIMEOUT_S)
        assert r.status_code == 200, r.text

        def lists():
            return {k: requests.get(base + k, timeout=TIMEOUT_S).json()["items"]
                    for k in ("pods", "replicationControllers", "services")}

        before = lists()
        work = _bodies(random.Random(17))

        def run(chunk):
            s = requests.Session()
            bad = []
            slowest = 0.0
            for kind, body, ctype in chunk:
                t = time.monotonic()
                r = s.post(base + kind, data=body, headers={"Content-Type": ctype}, timeout=TIMEOUT_S)
                slowest = max(slowest, time.monotonic() - t)
                if not 400 <= r.status_code < 500 or r.json().get("kind") != "Status":
                    bad.append((kind, body[:80], r.status_code, r.text[:200]))
            return bad, slowest

        t0 = time.monotonic()
        with ThreadPoolExecutor(WORKERS) as ex:
            results = list(ex.map(run, [work[i::WORKERS] for i in range(WORKERS)]))
        took = time.monotonic() - t0
        print(f"{REQUESTS} bad requests in {took:.1f} s, slowest {max(s for _, s in results):.2f} s")
        failures = [f for b, _ in results for f in b]
        assert not failures, failures[:5]
        assert max(s for _, s in results) < TIMEOUT_S
        assert lists() == before
    finally:
        c.close()
