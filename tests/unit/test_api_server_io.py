"""How the API server puts responses on the wire (raftkube/api/server.py): a real waitress on a loopback port
serving a small WSGI app, driven over raw sockets."""

import socket
import threading

import pytest

from raftkube.api import server as server_module
from raftkube.api.server import ApiServer

BIG = 8 * 1024 * 1024  # more than a socket buffer holds: the loop thread has to finish the send
release_stream = threading.Event()


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/stream":  # no length: chunked, like a watch
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _stream()
    body = b"x" * BIG if path == "/big" else (path * 100).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _stream():
    yield b"first\n"
    release_stream.wait(10)
    yield b"second\n"


@pytest.fixture
def api():
    srv = ApiServer(app, "127.0.0.1", 0, threads=4).start()
    yield srv
    srv.close()


def _connect(srv) -> tuple[socket.socket, object]:
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    return sock, sock.makefile("rb")


def _read_response(f) -> tuple[dict, bytes]:
    status = f.readline()
    assert status.startswith(b"HTTP/1.1 200"), status
    headers = {}
    while (line := f.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        return headers, f.read(int(headers["content-length"]))
    return headers, b""


def test_keep_alive_requests_are_answered_in_order_with_one_send_each_and_no_loop_wake_up(api, monkeypatch):
    sends, pulls = [], []
    real_send = server_module._Channel.send
    monkeypatch.setattr(server_module._Channel, "send", lambda self, data, do_close=True: (
        sends.append(len(data)), real_send(self, data, do_close))[1])
    real_pull = api._server.trigger.pull_trigger
    monkeypatch.setattr(api._server.trigger, "pull_trigger", lambda *a: (pulls.append(1), real_pull(*a))[1])
    sock, f = _connect(api)
    with sock, f:
        for i in range(20):
            sock.sendall(f"GET /r{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            _, body = _read_response(f)
            assert body == f"/r{i}".encode() * 100
    assert len(sends) == 20  # status line, headers and body in one send(), not two
    # the worker sent each response itself; a pull can only come from the next request racing the check
    assert len(pulls) < 10, pulls


def test_pipelined_requests_are_all_answered(api):
    sock, f = _connect(api)
    with sock, f:
        sock.sendall(b"".join(f"GET /p{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(5)))
        for i in range(5):
            _, body = _read_response(f)
            assert body == f"/p{i}".encode() * 100


def test_a_response_larger_than_the_socket_buffer_arrives_whole_and_the_connection_stays_usable(api):
    sock, f = _connect(api)
    with sock, f:
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        _, body = _read_response(f)
        assert len(body) == BIG and body.count(b"x") == BIG
        sock.sendall(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_response(f)[1] == b"/after" * 100


def test_connection_close_is_honoured(api):
    sock, f = _connect(api)
    with sock, f:
        sock.sendall(b"GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        headers, body = _read_response(f)
        assert body == b"/bye" * 100 and headers.get("connection") == "close"
        assert f.read() == b""  # the server closed its end


def test_a_streamed_response_delivers_each_chunk_as_it_is_written(api):
    release_stream.clear()
    sock, f = _connect(api)
    with sock, f:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        headers, _ = _read_response(f)
        assert headers["transfer-encoding"] == "chunked"
        assert f.read(11) == b"6\r\nfirst\n\r\n"  # before the app goes on
        release_stream.set()
        assert f.read(17) == b"7\r\nsecond\n\r\n0\r\n\r\n"
