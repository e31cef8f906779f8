"""Connections per client address (raftkube/api/clientlimit.py) on both API servers, in process on loopback:
past the limit a new connection gets one 429 with Retry-After and a Status and is closed; once one of the
client's connections closes, a new one is served."""

import json
import socket
import ssl

import pytest

from raftkube.api.server import ApiServer
from raftkube.api.tls import SecureServer
from raftkube.pki import ensure_pki
from raftkube.testing.waiting import poll_until

LIMIT = 3


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


@pytest.fixture(params=["plain", "tls"])
def server(request, tmp_path):
    if request.param == "plain":
        srv = ApiServer(app, "127.0.0.1", 0, threads=4, connections_per_client=LIMIT).start()
        yield srv, lambda: socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        srv.close()
        return
    pki = ensure_pki(tmp_path / "pki", [("m1", "127.0.0.1")], [])
    cert, key = pki.master("m1")
    srv = SecureServer(app, "127.0.0.1", 0, 8, str(cert), str(key), str(pki.ca_cert),
                       connections_per_client=LIMIT).start()
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    yield srv, lambda: ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port), timeout=10),
                                       server_hostname="127.0.0.1")
    srv.close()


def _get(sock) -> bytes:
    """One keep-alive GET and its whole answer, head and body (what came before EOF if the server closed)."""
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got and (chunk := sock.recv(65536)):
        got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    length = next((int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")),
                  0)
    while len(body) < length and (chunk := sock.recv(65536)):
        body += chunk
    return head + b"\r\n\r\n" + body


def _refused(sock) -> dict:
    """The answer a refused connection gets at once, before it sends anything, then EOF."""
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 429"), answer
    assert b"Retry-After: 1" in head and b"Connection: close" in head
    return json.loads(body)


def test_connections_past_the_per_client_limit_get_429_until_one_closes(server, caplog):
    srv, connect = server
    held = [connect() for _ in range(LIMIT)]
    try:
        for s in held:
            assert _get(s).startswith(b"HTTP/1.1 200")
        extra = connect()
        try:
            status = _refused(extra)
        finally:
            extra.close()
        assert status["kind"] == "Status" and status["code"] == 429 and status["reason"] == "TooManyRequests"
        assert "api.connections_per_client" in status["message"]
        assert any("refused a connection from 127.0.0.1" in r.getMessage() for r in caplog.records)
        for s in held:  # the client's other connections are still served
            assert _get(s).startswith(b"HTTP/1.1 200")
        held.pop().close()

        def served():
            s = connect()
            try:
                return _get(s).startswith(b"HTTP/1.1 200")
            finally:
                s.close()
        poll_until(served, 10, what="a new connection served once one of the client's closed")
    finally:
        for s in held:
            s.close()
