#!/usr/bin/env python3
"""API throughput/latency: 3 raftkube masters vs. a 3-member etcd 3.4 cluster, same run, same clients.

    python bench/api_bench.py                 # full run: C in {1, 8, 32}, 5 s per cell, 1 s warm-up
    python bench/api_bench.py --quick         # smoke run (short cells)
    python bench/api_bench.py --duration 10 --concurrency 1,8,32 --procs 2
    python bench/api_bench.py --tls           # over TLS: raftkube's secure ports vs etcd with client TLS

Operations (both systems, ~1 KB JSON documents, clients round-robin over all 3 endpoints, keep-alive):
  create  raftkube: POST /api/v1beta1/pods (new unique pod)     -> 200
          etcd:     POST /v3/kv/txn, compare create_revision==0, put    -> succeeded=true
  read    raftkube: GET /api/v1beta1/pods/<id> (linearizable)   -> 200
          etcd:     POST /v3/kv/range (serializable=false)      -> count==1
The same create and read cells also run through core/v1 (system ``raftkube-v1``: POST
/api/v1/namespaces/default/pods -> 201, GET .../pods/<id> -> 200, the same pod in its v1 form) against the same
masters, right after the v1beta1 cell of each (op, C): A/B interleaved. ``--apis v1beta1`` leaves them out.
Diagnostics (not targets), with --ops: localread (raftkube ?resourceVersion=0, etcd serializable range: the read
without its consensus round) and healthz (raftkube /healthz, etcd /health: the HTTP floor).

The load comes from --procs client processes (multiprocessing, spawn) each running C/procs threads, so the
client's GIL does not cap the servers. Every cell: warm-up, then a fixed measured window; an op counts if it
started and finished inside the window. The script also records the CPU time the server processes and the
client processes consumed per cell (from /proc), and watches the raftkube /raft term/leader for the whole run.

--tls (issue 18): raftkube's secure ports (cheroot, TLS 1.2+; the admin's bearer token on every request) against
etcd serving clients over https (``--cert-file/--key-file``, no client certificates); both with server
certificates of one cluster CA (``raftkube init``), which the clients verify. Keep-alive connections, so a
handshake is paid once per connection. Peer traffic is as without --tls.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing as mp
import os
import shutil
import signal
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

PODS = "/api/v1beta1/pods"
V1_PODS = "/api/v1/namespaces/default/pods"
BODY_TARGET = 1024          # bytes of the JSON document written by a create
OPS = ("create", "read", "localread", "healthz")
READ_KEYS = 200             # objects pre-created in each system for the read cells
REQ_TIMEOUT_S = 10.0
MAX_OPS_PER_THREAD = 5_000_000
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------------------------- documents

def pod_doc(name: str) -> dict:
    """A v1beta1 pod (raftkube.testing's pod_body) padded with env vars to ~BODY_TARGET bytes of JSON."""
    from raftkube.testing import pod_body
    body = pod_body(name)
    c = body["desiredState"]["manifest"]["containers"][0]
    c["env"] = []
    base = len(json.dumps(body, separators=(",", ":")))
    i = 0
    while base < BODY_TARGET - 40 and i < 64:
        room = BODY_TARGET - base - len(f'{{"name":"PAD_{i}","value":""}},')
        val = "x" * max(1, min(80, room))
        c["env"].append({"name": f"PAD_{i}", "value": val})
        base = len(json.dumps(body, separators=(",", ":")))
        i += 1
    return body


def v1_pod_doc(name: str) -> dict:
    """The same pod (name, labels, padded container) in its core/v1 form."""
    body = pod_doc(name)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": body["labels"]},
            "spec": {"containers": body["desiredState"]["manifest"]["containers"]}}


def pod_bytes(name: str, api: str = "v1beta1") -> bytes:
    return json.dumps(v1_pod_doc(name) if api == "v1" else pod_doc(name), separators=(",", ":")).encode()


def b64(s: bytes | str) -> str:
    if isinstance(s, str):
        s = s.encode()
    return base64.b64encode(s).decode()


def etcd_key(name: str) -> str:
    return f"/registry/pods/default/{name}"


def etcd_txn_body(name: str, value: bytes) -> bytes:
    k = b64(etcd_key(name))
    return json.dumps({
        "compare": [{"key": k, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}],
        "success": [{"request_put": {"key": k, "value": b64(value)}}],
    }).encode()


def etcd_range_body(name: str, serializable: bool = False) -> bytes:
    return json.dumps({"key": b64(etcd_key(name)), "serializable": serializable}).encode()


# ----------------------------------------------------------------------------------------------- client side

class Conn:
    """One keep-alive HTTP/1.1 connection (https with ``tls``: {"ca": file, "headers": {...}}); reconnects after
    any error."""

    def __init__(self, hostport: tuple[str, int], tls: dict | None = None):
        self.hostport = hostport
        self.c: http.client.HTTPConnection | None = None
        self.headers = dict((tls or {}).get("headers") or {})
        self.context = ssl.create_default_context(cafile=tls["ca"]) if tls else None

    def request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        if self.c is None:
            if self.context is not None:
                self.c = http.client.HTTPSConnection(*self.hostport, timeout=REQ_TIMEOUT_S, context=self.context)
            else:
                self.c = http.client.HTTPConnection(*self.hostport, timeout=REQ_TIMEOUT_S)
        try:
            headers = dict(self.headers)
            if body is not None:
                headers["Content-Type"] = "application/json"
            self.c.request(method, path, body=body, headers=headers)
            r = self.c.getresponse()
            data = r.read()
            if r.will_close:
                self.close()
            return r.status, data
        except Exception:
            self.close()
            raise

    def close(self):
        if self.c is not None:
            try:
                self.c.close()
            except Exception:
                pass
            self.c = None


def one_op(system: str, op: str, conn: Conn, name: str, value: bytes | None) -> str | None:
    """Run one operation; None on success, else a short error string."""
    if system.startswith("raftkube"):
        pods, created = (V1_PODS, 201) if system == "raftkube-v1" else (PODS, 200)
        if op == "create":
            st, data = conn.request("POST", pods, value)
            return None if st == created else f"http {st}: {data[:120]!r}"
        if op == "read":
            st, data = conn.request("GET", f"{pods}/{name}", None)
        elif op == "localread":  # diagnostic: the same GET from local state, without the consensus round
            st, data = conn.request("GET", f"{pods}/{name}?resourceVersion=0", None)
        else:  # "healthz", diagnostic: the HTTP floor of one master
            st, data = conn.request("GET", "/healthz", None)
        return None if st == 200 else f"http {st}: {data[:120]!r}"
    if op == "create":
        st, data = conn.request("POST", "/v3/kv/txn", etcd_txn_body(name, value))
        if st != 200:
            return f"http {st}: {data[:120]!r}"
        return None if json.loads(data).get("succeeded") else "txn not succeeded (key exists)"
    if op == "healthz":
        st, data = conn.request("GET", "/health", None)
        return None if st == 200 else f"http {st}: {data[:120]!r}"
    st, data = conn.request("POST", "/v3/kv/range", etcd_range_body(name, serializable=op == "localread"))
    if st != 200:
        return f"http {st}: {data[:120]!r}"
    return None if str(json.loads(data).get("count")) == "1" else f"range count != 1: {data[:120]!r}"


def client_thread(spec: dict, gidx: int, out: dict, lock: threading.Lock) -> None:
    endpoints = spec["endpoints"]
    conns = [Conn(hp, spec.get("tls")) for hp in endpoints]
    rr = gidx % len(conns)
    lats: list[float] = []
    errors = 0
    err_samples: list[str] = []
    warm_end, end = spec["warm_end"], spec["end"]
    # Pre-build create bodies lazily but cheaply: the pod JSON template with the name substituted.
    template = spec["template"]
    seq = 0
    try:
        for _ in range(MAX_OPS_PER_THREAD):
            now = time.monotonic()
            if now >= end:
                break
            if spec["op"] == "create":
                name = f"{spec['prefix']}-{gidx}-{seq}"
                value = template.replace(b"@@NAME@@", name.encode())
            else:
                name = spec["read_names"][(gidx * 7 + seq) % len(spec["read_names"])]
                value = None
            seq += 1
            conn = conns[rr]
            rr = (rr + 1) % len(conns)
            t0 = time.monotonic()
            try:
                err = one_op(spec["system"], spec["op"], conn, name, value)
            except Exception as exc:  # connection reset, timeout, ...
                err = f"{type(exc).__name__}: {exc}"
            t1 = time.monotonic()
            if t0 >= warm_end and t1 <= end:
                if err is None:
                    lats.append(t1 - t0)
                else:
                    errors += 1
                    if len(err_samples) < 3:
                        err_samples.append(err)
            elif err is not None and t0 >= warm_end:
                errors += 1
    finally:
        for c in conns:
            c.close()
    with lock:
        out["lats"].extend(lats)
        out["errors"] += errors
        out["err_samples"].extend(err_samples[: max(0, 5 - len(out["err_samples"]))])


def client_worker(conn, widx: int) -> None:
    """Client process: receive cell specs over the pipe, run them with threads, send back results."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent owns shutdown
    for _ in range(10_000):
        msg = conn.recv()
        if msg is None:
            return
        spec = msg
        out = {"lats": [], "errors": 0, "err_samples": []}
        lock = threading.Lock()
        cpu0 = time.process_time()
        threads = [threading.Thread(target=client_thread, args=(spec, g, out, lock), daemon=True)
                   for g in spec["gidx"]]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=spec["end"] - time.monotonic() + REQ_TIMEOUT_S + 5)
        out["cpu_s"] = time.process_time() - cpu0
        out["stuck_threads"] = sum(t.is_alive() for t in threads)
        conn.send(out)


class ClientPool:
    def __init__(self, n: int):
        ctx = mp.get_context("spawn")
        self.pipes, self.procs = [], []
        for i in range(n):
            a, b = ctx.Pipe()
            p = ctx.Process(target=client_worker, args=(b, i), daemon=True, name=f"bench-client-{i}")
            p.start()
            self.pipes.append(a)
            self.procs.append(p)

    def run(self, system, op, endpoints, conc, warmup, duration, prefix, template, read_names, tls=None) -> dict:
        nproc = min(len(self.procs), conc)
        groups = [list(range(i, conc, nproc)) for i in range(nproc)]
        start = time.monotonic() + 0.2
        warm_end = start + warmup
        end = warm_end + duration
        for i, g in enumerate(groups):
            self.pipes[i].send({"system": system, "op": op, "endpoints": endpoints, "gidx": g,
                                "warm_end": warm_end, "end": end, "prefix": prefix,
                                "template": template, "read_names": read_names, "tls": tls})
        res = {"lats": [], "errors": 0, "err_samples": [], "cpu_s": 0.0, "stuck_threads": 0}
        deadline = end + REQ_TIMEOUT_S + 30
        for i in range(nproc):
            if not self.pipes[i].poll(max(0.1, deadline - time.monotonic())):
                raise RuntimeError(f"client process {i} did not report within the deadline")
            r = self.pipes[i].recv()
            res["lats"].extend(r["lats"])
            res["errors"] += r["errors"]
            res["err_samples"].extend(r["err_samples"])
            res["cpu_s"] += r["cpu_s"]
            res["stuck_threads"] += r["stuck_threads"]
        return res

    def close(self):
        for p in self.pipes:
            try:
                p.send(None)
            except Exception:
                pass
        for p in self.procs:
            p.join(timeout=3)
            if p.is_alive():
                p.terminate()
                p.join(timeout=3)


# ----------------------------------------------------------------------------------------------- servers

def proc_cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


class EtcdCluster:
    def __init__(self, workdir: Path, n: int = 3, certs: list[tuple[str, str]] | None = None, ca: str = ""):
        """``certs``: (certificate, key) per member: its clients then speak https, verified with ``ca``."""
        from raftkube.testing import free_ports
        self.workdir = workdir
        self.certs, self.ca = certs, ca
        self.scheme = "https" if certs else "http"
        self.names = [f"e{i + 1}" for i in range(n)]
        ports = free_ports(2 * n)
        self.client_ports = dict(zip(self.names, ports[:n]))
        self.peer_ports = dict(zip(self.names, ports[n:]))
        self.procs: dict[str, subprocess.Popen] = {}

    def start_all(self, timeout_s: float = 30.0):
        initial = ",".join(f"{n}=http://127.0.0.1:{self.peer_ports[n]}" for n in self.names)
        for i, n in enumerate(self.names):
            curl = f"{self.scheme}://127.0.0.1:{self.client_ports[n]}"
            purl = f"http://127.0.0.1:{self.peer_ports[n]}"
            cmd = ["etcd", "--name", n, "--data-dir", str(self.workdir / f"{n}.etcd"),
                   "--listen-client-urls", curl, "--advertise-client-urls", curl,
                   "--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
                   "--initial-cluster", initial, "--initial-cluster-state", "new",
                   "--initial-cluster-token", "raftkube-bench", "--logger", "zap",
                   "--log-outputs", str(self.workdir / f"{n}.log")]
            if self.certs:
                cmd += ["--cert-file", self.certs[i][0], "--key-file", self.certs[i][1]]
            log = open(self.workdir / f"{n}.stdout", "ab")
            self.procs[n] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
            log.close()
        deadline = time.monotonic() + timeout_s
        while True:
            ok = 0
            for n in self.names:
                if self.procs[n].poll() is not None:
                    raise RuntimeError(f"etcd {n} exited with {self.procs[n].returncode}; see {self.workdir}")
                try:
                    c = self._connection(n, 1)
                    c.request("GET", "/health")
                    body = c.getresponse().read()
                    c.close()
                    ok += json.loads(body).get("health") == "true"
                except Exception:
                    pass
            if ok == len(self.names):
                return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"etcd cluster not healthy within {timeout_s}s; logs in {self.workdir}")
            time.sleep(0.1)

    def endpoints(self):
        return [("127.0.0.1", self.client_ports[n]) for n in self.names]

    def _connection(self, name: str, timeout: float) -> http.client.HTTPConnection:
        if self.certs:
            return http.client.HTTPSConnection("127.0.0.1", self.client_ports[name], timeout=timeout,
                                               context=ssl.create_default_context(cafile=self.ca))
        return http.client.HTTPConnection("127.0.0.1", self.client_ports[name], timeout=timeout)

    def status(self, name: str) -> dict:
        c = self._connection(name, 2)
        try:
            c.request("POST", "/v3/maintenance/status", body=b"{}")
            return json.loads(c.getresponse().read())
        finally:
            c.close()

    def pids(self):
        return [p.pid for p in self.procs.values() if p.poll() is None]

    def close(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        self.procs.clear()


class LeaderWatch(threading.Thread):
    """Polls /raft on every master every `interval` s and records every (term, leader) it sees."""

    def __init__(self, cluster, interval: float = 0.5):
        super().__init__(daemon=True)
        self.cluster, self.interval = cluster, interval
        self.seen: set[tuple] = set()
        self.failed_polls = 0
        self.stop_ev = threading.Event()

    def poll_once(self):
        for n in self.cluster.names:
            try:
                st = self.cluster.raft(n, timeout_s=2.0)
                self.seen.add((st["term"], st["leader"]))
            except Exception:
                self.failed_polls += 1

    def run(self):
        for _ in range(100_000):
            if self.stop_ev.wait(self.interval):
                return
            self.poll_once()


# ----------------------------------------------------------------------------------------------- main

def pct(sorted_vals: list[float], q: float) -> float:
    if not sorted_vals:
        return float("nan")
    i = min(len(sorted_vals) - 1, max(0, int(round(q * (len(sorted_vals) - 1)))))
    return sorted_vals[i]


def journal_report(before: dict, after: dict, run_s: float) -> str:
    """Per master over the run: journal syncs/s, entries per sync, sync p50/p99 (recent), longest tick gap."""
    parts = []
    for name in sorted(after):
        jb, ja = before[name].get("journal") or {}, after[name].get("journal") or {}
        syncs = (ja.get("syncs") or 0) - (jb.get("syncs") or 0)
        parts.append(f"{name}: {syncs / run_s:.0f} syncs/s, {ja.get('entriesPerSync')} entries/sync (since start), "
                     f"sync p50 {ja.get('syncMsP50')} ms p99 {ja.get('syncMsP99')} ms, "
                     f"tick gap max {after[name].get('tickGapMaxMs')} ms")
    return "raftkube journal (fsync " + str((after[sorted(after)[0]].get("journal") or {}).get("fsync")) + "): " \
        + "; ".join(parts)


def prepopulate(system, endpoints, names, template, tls=None):
    conns = [Conn(hp, tls) for hp in endpoints]
    try:
        for i, name in enumerate(names):
            value = template.replace(b"@@NAME@@", name.encode())
            for attempt in range(5):
                try:
                    err = one_op(system, "create", conns[i % len(conns)], name, value)
                except Exception as exc:
                    err = repr(exc)
                if err is None or "exists" in err or "409" in err:
                    break
                time.sleep(0.2)
            else:
                raise RuntimeError(f"{system}: could not pre-create {name}: {err}")
    finally:
        for c in conns:
            c.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=5.0, help="measured seconds per cell (default 5)")
    ap.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per cell (default 1)")
    ap.add_argument("--concurrency", default="1,8,32", help="comma-separated C values (default 1,8,32)")
    ap.add_argument("--procs", type=int, default=2, help="client processes (default 2)")
    ap.add_argument("--ops", default="create,read",
                    help="comma-separated: create,read (the targets); diagnostics: localread (a GET from the local "
                         "state: ?resourceVersion=0 / etcd serializable range), healthz (the HTTP floor)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 s cells, 0.3 s warm-up")
    ap.add_argument("--no-etcd", action="store_true", help="run raftkube only")
    ap.add_argument("--apis", default="v1beta1,v1",
                    help="raftkube API versions to run the cells through (default v1beta1,v1)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    ap.add_argument("--metrics", choices=("on", "off"), default="on",
                    help="[api] metrics of the masters (off: for the A/B of what /metrics counting costs)")
    ap.add_argument("--tls", action="store_true",
                    help="over TLS: raftkube's secure ports (admin token) vs etcd with --cert-file/--key-file")
    ap.add_argument("--raft", action="append", default=[], metavar="KEY=VALUE",
                    help="a [raft] setting of the masters, e.g. max_inflight=2 (repeatable; for A/B runs)")
    ap.add_argument("--master-cpu", default="auto",
                    help="the masters' cpu setting: auto (each pinned to one CPU, the default), none, or a CPU number")
    args = ap.parse_args(argv)
    if args.quick:
        args.duration, args.warmup = 1.0, 0.3
    concs = [int(x) for x in args.concurrency.split(",") if x.strip()]
    ops = [x.strip() for x in args.ops.split(",") if x.strip()]
    assert all(o in OPS for o in ops), ops
    assert all(1 <= c <= 256 for c in concs), concs

    from bench.common import close_cluster, keep_or_remove
    from raftkube.testing import MasterCluster

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    have_etcd = shutil.which("etcd") is not None and not args.no_etcd
    if not have_etcd:
        print("NOTE: etcd not installed (or --no-etcd): running raftkube only, no ratios." if not args.no_etcd
              else "NOTE: --no-etcd: running raftkube only.")
    workdir = Path(tempfile.mkdtemp(prefix="raftkube-apibench-"))
    cluster = etcd = pool = watch = None
    results = []
    exit_code = 0
    try:
        t0 = time.monotonic()
        (workdir / "raftkube").mkdir()
        extra = "" if args.metrics == "on" else "\n[api]\nmetrics = false\n"
        if args.raft:
            extra += "\n[raft]\n" + "".join(f"{kv.strip()}\n" for kv in args.raft)
        cluster = MasterCluster(workdir / "raftkube", secure=args.tls, extra_toml=extra)
        if args.master_cpu != "auto":  # every [[masters]] table gets the setting (config.py: cpu)
            text = cluster.config.read_text()
            for name in cluster.names:
                text = text.replace(f'name = "{name}"\n', f'name = "{name}"\ncpu = "{args.master_cpu}"\n')
            cluster.config.write_text(text)
        tls = {}  # system -> the clients' TLS settings
        if args.tls:
            from raftkube.pki import Pki
            from raftkube.testing.processes import CLI
            subprocess.run([*CLI, "init", "--config", cluster.config], cwd=cluster.workdir, check=True,
                           capture_output=True, timeout=60)
            pki = Pki(cluster.workdir / "data" / "pki")
            tls["raftkube"] = {"ca": str(pki.ca_cert),
                               "headers": {"Authorization": f"Bearer {pki.token_of('admin')}"}}
            tls["etcd"] = {"ca": str(pki.ca_cert)}
        cluster.start_all()
        ports = cluster.secure_ports if args.tls else cluster.api_ports
        rk_endpoints = [("127.0.0.1", ports[n]) for n in cluster.names]
        apis = [a.strip() for a in args.apis.split(",") if a.strip()]
        assert apis and set(apis) <= {"v1beta1", "v1"}, apis
        systems = [("raftkube" if a == "v1beta1" else "raftkube-v1", rk_endpoints) for a in apis]
        if have_etcd:
            (workdir / "etcd").mkdir()
            certs = [tuple(map(str, pki.master(n))) for n in cluster.names] if args.tls else None
            etcd = EtcdCluster(workdir / "etcd", certs=certs, ca=tls.get("etcd", {}).get("ca", "")).start_all()
            systems.append(("etcd", etcd.endpoints()))
        print(f"clusters up in {time.monotonic() - t0:.1f}s; workdir {workdir}")
        print(f"document: {len(pod_bytes('x' * 12))} B JSON (v1: {len(pod_bytes('x' * 12, 'v1'))} B); cells: ops={ops} C={concs} "
              f"warm-up {args.warmup}s + {args.duration}s; {args.procs} client processes; "
              f"{os.cpu_count()} CPUs" + ("; over TLS (raftkube secure ports, etcd client TLS)" if args.tls else ""))

        templates = {sysname: pod_bytes("@@NAME@@", "v1" if sysname == "raftkube-v1" else "v1beta1")
                     for sysname, _eps in systems}
        tls["raftkube-v1"] = tls.get("raftkube")
        read_names = [f"read-{i}" for i in range(READ_KEYS)]  # one set for both API versions: the same store
        for sysname, eps in systems:
            prepopulate(sysname, eps, read_names, templates[sysname], tls.get(sysname))

        before = {n: cluster.raft(n) for n in cluster.names}
        t_before = time.monotonic()
        etcd_before = {n: etcd.status(n) for n in etcd.names} if etcd else {}
        watch = LeaderWatch(cluster)
        watch.poll_once()
        watch.start()
        pool = ClientPool(args.procs)

        cell = 0
        for op in ops:
            for conc in concs:
                for sysname, eps in systems:
                    cell += 1
                    pids = (list(p.pid for p in cluster.procs.values()) if sysname.startswith("raftkube")
                            else etcd.pids())
                    s0 = proc_cpu_s(pids)
                    each0 = [proc_cpu_s([pid]) for pid in pids]
                    r = pool.run(sysname, op, eps, conc, args.warmup, args.duration,
                                 prefix=f"b{cell:02d}", template=templates[sysname], read_names=read_names,
                                 tls=tls.get(sysname))
                    s1 = proc_cpu_s(pids)
                    wall = args.warmup + args.duration + 0.2
                    each = sorted((proc_cpu_s([pid]) - c0) / wall for pid, c0 in zip(pids, each0))
                    lats = sorted(r["lats"])
                    n = len(lats)
                    row = {"system": sysname, "op": op, "C": conc, "ops_s": n / args.duration,
                           "p50_ms": pct(lats, 0.50) * 1e3, "p99_ms": pct(lats, 0.99) * 1e3,
                           "max_ms": (lats[-1] * 1e3 if lats else float("nan")), "errors": r["errors"],
                           # server CPU includes the warm-up, so normalise by the whole cell's wall time
                           "srv_cpu": (s1 - s0) / (args.warmup + args.duration + 0.2),
                           "cli_cpu": r["cpu_s"] / (args.warmup + args.duration + 0.2),
                           "err_samples": r["err_samples"], "stuck": r["stuck_threads"]}
                    results.append(row)
                    print(f"  {sysname:11s} {op:6s} C={conc:<3d} {row['ops_s']:8.0f} ops/s  "
                          f"p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms  errors {row['errors']}"
                          f"  server CPU {row['srv_cpu']:.2f} cores ({' + '.join(f'{c:.2f}' for c in each)}),"
                          f" client CPU {row['cli_cpu']:.2f} cores", flush=True)
                    for e in r["err_samples"][:3]:
                        print(f"      error sample: {e}")
                    if r["stuck_threads"]:
                        print(f"      WARNING: {r['stuck_threads']} client threads still running after the cell")

        watch.stop_ev.set()
        watch.join(timeout=5)
        watch.poll_once()
        after = {n: cluster.raft(n) for n in cluster.names}
        run_s = time.monotonic() - t_before

        # ------------------------------------------------------------------ report
        print()
        print(f"{'system':11s}  {'op':6s}  {'C':>3s}  {'ops/s':>8s}  {'p50 ms':>7s}  {'p99 ms':>7s}  {'max ms':>7s}"
              f"  {'errors':>6s}  {'srv CPU':>7s}  {'cli CPU':>7s}")
        for row in results:
            print(f"{row['system']:11s}  {row['op']:6s}  {row['C']:>3d}  {row['ops_s']:>8.0f}  {row['p50_ms']:>7.2f}"
                  f"  {row['p99_ms']:>7.2f}  {row['max_ms']:>7.1f}  {row['errors']:>6d}  {row['srv_cpu']:>7.2f}"
                  f"  {row['cli_cpu']:>7.2f}")
        print("(srv/cli CPU: cores used on average by the server / client processes during the cell)")
        if {"raftkube", "raftkube-v1"} <= {r["system"] for r in results}:
            print()
            print("raftkube v1 / v1beta1")
            print(f"{'op':6s}  {'C':>3s}  {'ops/s':>7s}  {'p50':>7s}  {'p99':>7s}")
            for op in ops:
                for conc in concs:
                    a, b = (next(r for r in results if r["system"] == s and r["op"] == op and r["C"] == conc)
                            for s in ("raftkube-v1", "raftkube"))
                    ratio = (lambda x, y: x / y if y else float("nan"))
                    print(f"{op:6s}  {conc:>3d}  {ratio(a['ops_s'], b['ops_s']):>7.2f}  "
                          f"{ratio(a['p50_ms'], b['p50_ms']):>7.2f}  {ratio(a['p99_ms'], b['p99_ms']):>7.2f}")
        if etcd:
            print()
            print("raftkube / etcd")
            print(f"{'op':6s}  {'C':>3s}  {'ops/s':>7s}  {'p50':>7s}  {'p99':>7s}")
            for op in ops:
                for conc in concs:
                    rk = next(r for r in results if r["system"] == "raftkube" and r["op"] == op and r["C"] == conc)
                    et = next(r for r in results if r["system"] == "etcd" and r["op"] == op and r["C"] == conc)
                    ratio = (lambda a, b: a / b if b else float("nan"))
                    print(f"{op:6s}  {conc:>3d}  {ratio(rk['ops_s'], et['ops_s']):>7.2f}  "
                          f"{ratio(rk['p50_ms'], et['p50_ms']):>7.2f}  {ratio(rk['p99_ms'], et['p99_ms']):>7.2f}")
        print()
        terms_b = {n: (s["term"], s["leader"]) for n, s in before.items()}
        terms_a = {n: (s["term"], s["leader"]) for n, s in after.items()}
        leaders_seen = sorted(watch.seen, key=lambda x: (x[0], str(x[1])))
        watch.seen |= set(terms_b.values()) | set(terms_a.values())
        # every new term is an election (a leader change, or at least a disruption); count them
        changes = max(0, len({t for t, _ in watch.seen}) - 1)
        print(f"raftkube before: {terms_b}")
        print(f"raftkube after:  {terms_a}")
        print(f"raftkube (term, leader) seen while running (polled every 0.5 s): {leaders_seen}"
              + (f"; {watch.failed_polls} /raft polls failed" if watch.failed_polls else ""))
        print(f"leader changes: {changes}")
        print("raftkube proposals (Raft entries each master proposed, the writes they carried) and reads: "
              + "; ".join(f"{n}: {after[n].get('proposals')} {after[n].get('reads')}" for n in cluster.names))
        print(journal_report(before, after, run_s))
        if etcd:
            etcd_after = {n: etcd.status(n) for n in etcd.names}
            eb = {(s.get("leader"), s.get("raftTerm")) for s in etcd_before.values()}
            ea = {(s.get("leader"), s.get("raftTerm")) for s in etcd_after.values()}
            print(f"etcd (leader id, raft term) before {sorted(eb)} after {sorted(ea)}"
                  f" -> leader changes: {0 if eb == ea else 'yes'}")
        if changes:
            exit_code = 2
        if any(r["errors"] for r in results):
            exit_code = exit_code or 1
    except KeyboardInterrupt:
        print("interrupted; stopping everything", file=sys.stderr)
        exit_code = 130
    finally:
        if watch is not None:
            watch.stop_ev.set()
        if pool is not None:
            pool.close()
        if etcd is not None:
            etcd.close()
        if cluster is not None and not close_cluster(cluster):
            exit_code = exit_code or 3
        keep_or_remove(workdir, args.keep or exit_code not in (0, 1))
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
