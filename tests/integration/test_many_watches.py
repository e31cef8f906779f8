"""2 000 open watches on one master (the API has 64 worker threads): it still answers, every watcher gets the
events, the watch limit answers 429 with Retry-After, an object far larger than the watch buffer reaches
watchers on both ports, and a watcher that does not read is dropped."""

import asyncio
import json
import re
import socket
import ssl
import subprocess
import time

import pytest
import requests

from raftkube.pki import Pki
from raftkube.testing.cluster import MasterCluster
from raftkube.testing.processes import CLI
from raftkube.testing.waiting import poll_until

WATCHES = 2000
PLAIN = 500  # of them on the plain port (waitress), the rest over TLS (cheroot hands them to the pump)
POD = {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    work = tmp_path_factory.mktemp("watches")
    cluster = MasterCluster(work, n=1, secure=True, extra_toml=f"\n[api]\nmax_watches = {WATCHES}\n"
                                                                f"watches_per_client = {WATCHES}\n"
                                                                "watch_buffer_bytes = 65536\n"
                                                                "watch_stall_s = 2\n")
    subprocess.run([*CLI, "init", "--config", cluster.config], cwd=work, check=True, capture_output=True, timeout=60)
    try:
        cluster.start_all()
        pki = Pki(work / "data" / "pki")
        yield cluster, pki, f"https://127.0.0.1:{cluster.secure_ports['m1']}"
    finally:
        try:
            cluster.close()
        finally:
            print(cluster.logs())


def _session(pki):
    s = requests.Session()
    s.trust_env = False
    s.verify = str(pki.ca_cert)
    s.headers["Authorization"] = f"Bearer {pki.token_of('admin')}"
    return s


class Watches:
    """N watch connections from one asyncio loop in a thread: what each has received so far."""

    def __init__(self, targets, token, path):
        self.targets, self.token, self.path = targets, token, path
        self.received = [bytearray() for _ in targets]
        self.heads: list[bytes | None] = [None] * len(targets)
        self.ended = [False] * len(targets)

    async def _one(self, i, sem):
        host, port, ctx = self.targets[i]
        async with sem:
            reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
            writer.write(f"GET {self.path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {self.token}"
                         f"\r\n\r\n".encode())
            self.heads[i] = await reader.readuntil(b"\r\n\r\n")
        try:
            while data := await reader.read(65536):
                self.received[i] += data
        finally:
            self.ended[i] = True
            writer.close()
            try:
                await writer.wait_closed()  # the transport closed here, not left to the garbage collector
            except (OSError, asyncio.CancelledError):
                pass

    def start(self):
        import threading
        self.loop = asyncio.new_event_loop()

        async def main():
            sem = asyncio.Semaphore(50)
            self.tasks = [asyncio.ensure_future(self._one(i, sem)) for i in range(len(self.targets))]
            await asyncio.gather(*self.tasks, return_exceptions=True)
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(main(),), daemon=True)
        self.thread.start()
        return self

    def close(self):
        for t in self.tasks:
            self.loop.call_soon_threadsafe(t.cancel)
        self.thread.join(timeout=30)
        if not self.thread.is_alive():
            self.loop.close()  # an unclosed loop is a ResourceWarning that fails a later test


def test_two_thousand_watches_and_the_master_still_answers(master):
    cluster, pki, url = master
    s = _session(pki)
    assert s.post(f"{url}/api/v1/namespaces/default/pods", json={**POD, "metadata": {"name": "first"}},
                  timeout=10).status_code == 201
    rv = s.get(f"{url}/api/v1/namespaces/default/pods", timeout=10).json()["metadata"]["resourceVersion"]
    tls = ssl.create_default_context(cafile=str(pki.ca_cert))
    targets = [("127.0.0.1", cluster.api_ports["m1"], None)] * PLAIN + \
              [("127.0.0.1", cluster.secure_ports["m1"], tls)] * (WATCHES - PLAIN)
    watches = Watches(targets, pki.token_of("admin"),
                      f"/api/v1/namespaces/default/pods?watch=true&resourceVersion={rv}").start()
    try:
        poll_until(lambda: all(h is not None for h in watches.heads), 180, interval_s=0.5,
                   what=f"{WATCHES} watches open")
        assert all(h.startswith(b"HTTP/1.1 200") for h in watches.heads)
        # one more is over api.max_watches: 429 with Retry-After, a Status naming the limit
        r = s.get(f"{url}/api/v1/namespaces/default/pods?watch=true&resourceVersion={rv}", timeout=10)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1, r.text
        assert r.json()["reason"] == "TooManyRequests" and "api.max_watches" in r.json()["message"]
        # GETs and creates answer while every watch is open (each held a worker thread before the pump)
        took = []
        for i in range(30):
            t = time.monotonic()
            assert s.get(f"{url}/api/v1/namespaces/default/pods/first", timeout=10).status_code == 200
            took.append(time.monotonic() - t)
            t = time.monotonic()
            assert s.post(f"{url}/api/v1/namespaces/default/pods", json={**POD, "metadata": {"name": f"p{i}"}},
                          timeout=10).status_code == 201
            took.append(time.monotonic() - t)
        took.sort()
        assert took[len(took) // 2] < 0.5 and took[-1] < 5, took
        # every watcher gets every event, in order
        names = [f'"name":"p{i}"'.encode() for i in range(30)]

        def all_delivered():
            return all(all(n in bytes(r) for n in names) for r in watches.received)
        poll_until(all_delivered, 120, interval_s=0.5, what="30 events on every watcher")
        for r in watches.received[:: 97]:
            body = bytes(r)
            assert [body.index(n) for n in names] == sorted(body.index(n) for n in names)
        assert not any(watches.ended)
    finally:
        watches.close()
    # the closed watches are released: a new one is admitted again
    poll_until(lambda: s.get(f"{url}/api/v1/namespaces/default/pods?watch=true&resourceVersion={rv}",
                             timeout=10, stream=True).status_code == 200, 60, interval_s=0.5,
               what="a watch admitted after the others closed")


def test_an_object_larger_than_the_watch_buffer_reaches_watchers_on_both_ports(master):
    cluster, pki, url = master
    s = _session(pki)
    rv = s.get(f"{url}/api/v1/namespaces/default/pods", timeout=10).json()["metadata"]["resourceVersion"]
    path = f"/api/v1/namespaces/default/pods?watch=true&resourceVersion={rv}"
    plain = requests.Session()
    plain.trust_env = False
    dropped_before = _dropped(s, url)
    streams = [plain.get(f"http://127.0.0.1:{cluster.api_ports['m1']}{path}", stream=True, timeout=30),
               s.get(url + path, stream=True, timeout=30)]
    try:
        assert [r.status_code for r in streams] == [200, 200]
        # 1.2 MiB: under max_object_bytes (1.5 MiB), 19 times watch_buffer_bytes; in two env values (annotations
        # are capped at 256 KiB, a string at 1 MiB)
        pad = "x" * (600 * 1024)
        env = [{"name": "PAD1", "value": pad}, {"name": "PAD2", "value": pad}]
        for name in ("huge", "huge-again"):
            body = {**POD, "metadata": {"name": name},
                    "spec": {"containers": [{"name": "c", "image": "busybox", "env": env}]}}
            r = s.post(f"{url}/api/v1/namespaces/default/pods", json=body, timeout=30)
            assert r.status_code == 201, r.text
        for r in streams:
            got = []
            for line in r.iter_lines(chunk_size=65536):
                if line.strip():
                    ev = json.loads(line)
                    got.append((ev["type"], ev["object"]["metadata"]["name"],
                                sum(len(e["value"]) for e in ev["object"]["spec"]["containers"][0]["env"])))
                if len(got) == 2:
                    break
            assert got == [("ADDED", "huge", 2 * len(pad)), ("ADDED", "huge-again", 2 * len(pad))]
        assert _dropped(s, url) == dropped_before
    finally:
        for r in streams:
            r.close()
        plain.close()
        for name in ("huge", "huge-again"):
            s.delete(f"{url}/api/v1/namespaces/default/pods/{name}", timeout=30)


def _dropped(session, url) -> float:
    """The master's count of watchers dropped for not reading (its /metrics; the socket is not touched)."""
    text = session.get(url + "/metrics", timeout=10).text
    return float(re.search(r"^raftkube_watch_dropped (\S+)$", text, re.M)[1])


def test_a_watcher_that_does_not_read_is_dropped(master):
    cluster, pki, url = master
    s = _session(pki)
    rv = s.get(f"{url}/api/v1/namespaces/default/pods", timeout=10).json()["metadata"]["resourceVersion"]
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window it offers stays small
    raw.connect(("127.0.0.1", cluster.api_ports["m1"]))
    try:
        raw.sendall(f"GET /api/v1/namespaces/default/pods?watch=true&resourceVersion={rv} HTTP/1.1\r\n"
                    "Host: x\r\n\r\n".encode())
        dropped_before = _dropped(s, url)
        big = {**POD, "metadata": {"name": "", "annotations": {"pad": "x" * 60000}}}
        # ~60 KB per event: past the 64 KiB cap once the kernel's buffers are full (the master's send buffer
        # grows to tcp_wmem's maximum, 4 MiB here), so keep writing until the watch is dropped (at most ~12 MB)
        for i in range(200):
            big["metadata"]["name"] = f"big{i}"
            assert s.post(f"{url}/api/v1/namespaces/default/pods", json=big, timeout=10).status_code == 201
            if i >= 40 and _dropped(s, url) > dropped_before:
                break
        raw.settimeout(30)

        def closed():
            return raw.recv(1 << 20) == b""
        poll_until(closed, 60, interval_s=0.01, what="the stuck watch's connection closed")
        assert s.get(f"{url}/api/v1/namespaces/default/pods/big0", timeout=10).status_code == 200
    finally:
        raw.close()


def _threads(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^Threads:\s+(\d+)$", f.read(), re.M)[1])


def test_ui_watch_streams_hold_no_thread(master):
    """The dashboard's /ui/watch (six resources on one stream) is served by the watch pump: 60 open streams on
    both ports leave the master's thread count where it was (it held seven threads per stream before)."""
    cluster, pki, url = master
    s = _session(pki)
    pid = cluster.procs["m1"].pid
    rv = s.get(f"{url}/api/v1/pods", timeout=10).json()["metadata"]["resourceVersion"]
    path = f"/ui/watch?resources=nodes,pods,replicationcontrollers,services,endpoints,events&resourceVersion={rv}"
    plain = requests.Session()
    plain.trust_env = False
    streams = []
    try:
        streams.append(plain.get(f"http://127.0.0.1:{cluster.api_ports['m1']}{path}", stream=True, timeout=30))
        before = _threads(pid)  # the watch pump's thread exists by now
        for i in range(59):
            streams.append(plain.get(f"http://127.0.0.1:{cluster.api_ports['m1']}{path}", stream=True, timeout=30)
                           if i % 2 else s.get(url + path, stream=True, timeout=30))
        assert [r.status_code for r in streams] == [200] * 60
        assert s.post(f"{url}/api/v1/namespaces/default/pods", json={**POD, "metadata": {"name": "ui-seen"}},
                      timeout=10).status_code == 201
        for r in streams:
            for line in r.iter_lines():
                if line.strip():
                    ev = json.loads(line)
                    assert (ev["resource"], ev["type"], ev["object"]["metadata"]["name"]) == \
                        ("pods", "ADDED", "ui-seen")
                    break
        assert _threads(pid) <= before + 2, (before, _threads(pid))  # +2: a Raft or GC thread may come and go
    finally:
        for r in streams:
            r.close()
        plain.close()
