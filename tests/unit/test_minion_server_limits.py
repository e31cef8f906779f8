"""The kubelet port's limits (minion/server.py): bounded connections, read timeouts, streamed logs."""

import socket
import time

import requests

from raftkube.minion.docker_runtime import DockerRuntime
from raftkube.minion.server import MinionServer


def _closed_within(sock, limit_s: float) -> float:
    started = time.monotonic()
    sock.settimeout(0.1)
    while time.monotonic() - started < limit_s:
        try:
            if sock.recv(4096) == b"":
                break
        except socket.timeout:
            pass
        except OSError:
            break
    return time.monotonic() - started


def test_past_the_connection_cap_a_connection_gets_503_and_the_port_recovers():
    server = MinionServer(lambda: [], port=0, max_connections=3).start()
    try:
        held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(3)]
        time.sleep(0.3)  # each took a slot
        extra = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        answer = b""
        while not answer.endswith(b"\n") or b"\r\n\r\n" not in answer:
            chunk = extra.recv(4096)
            if not chunk:
                break
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in answer
        extra.close()
        assert server.httpd.refused >= 1
        for s in held:
            s.close()
        deadline = time.monotonic() + 10
        while True:  # the slots come back once the held connections are gone
            try:
                if requests.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5).text == "ok":
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        server.stop()


def test_a_silent_or_trickling_client_is_cut_after_the_read_timeout():
    server = MinionServer(lambda: [], port=0, read_timeout_s=0.5).start()
    try:
        silent = socket.create_connection(("127.0.0.1", server.port))
        assert _closed_within(silent, 10) < 5
        silent.close()
        half = socket.create_connection(("127.0.0.1", server.port))
        half.sendall(b"GET /healthz HTTP/1.1\r\n")  # the head never ends
        assert _closed_within(half, 10) < 5
        half.close()
    finally:
        server.stop()


class _Api:
    def __init__(self):
        self.calls = []

    def logs(self, container_id, **kw):
        self.calls.append(kw)
        return iter([b"a\n", b"b\n"])


def test_docker_logs_are_streamed_also_without_follow():
    runtime = DockerRuntime.__new__(DockerRuntime)
    runtime.api = _Api()
    assert list(runtime.logs("c1")) == [b"a\n", b"b\n"]
    assert runtime.api.calls == [{"stream": True, "follow": False, "stdout": True, "stderr": True, "tail": "all"}]
