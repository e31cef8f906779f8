"""The kubelet port's limits (minion/server.py): bounded connections, read timeouts, streamed logs."""

import socket
import time

import requests

from raftkube.minion.docker_runtime import DockerRuntime
from raftkube.minion.server import MinionServer
from raftkube.testing import poll_until
from raftkube.testing.waiting import seconds_until_closed



def test_past_the_connection_cap_a_connection_gets_503_and_the_port_recovers():
    server = MinionServer(lambda: [], port=0, max_connections=3).start()
    try:
        held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(3)]
        poll_until(lambda: server.httpd.in_use == 3, 10, what="each held connection in a slot")
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
        # the slots come back once the held connections are gone
        poll_until(lambda: requests.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5).text == "ok", 10,
                   what="the port answering again")
    finally:
        server.stop()


def test_a_silent_or_trickling_client_is_cut_after_the_read_timeout():
    server = MinionServer(lambda: [], port=0, read_timeout_s=0.5).start()
    try:
        silent = socket.create_connection(("127.0.0.1", server.port))
        assert seconds_until_closed(silent, 10) < 5
        silent.close()
        half = socket.create_connection(("127.0.0.1", server.port))
        half.sendall(b"GET /healthz HTTP/1.1\r\n")  # the head never ends
        assert seconds_until_closed(half, 10) < 5
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
