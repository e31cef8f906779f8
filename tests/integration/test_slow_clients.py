"""Slow-loris on a master's API ports (api/server.py, api/tls.py): a client trickling a request's head or body is cut
within api.read_timeout_s, and the master keeps answering others meanwhile."""

import socket
import ssl
import subprocess
import time

import pytest
import requests

from raftkube.api.tls import HANDSHAKE_TIMEOUT_S
from raftkube.pki import Pki
from raftkube.testing import running_cluster
from raftkube.testing.cluster import MasterCluster
from raftkube.testing.processes import CLI
from raftkube.testing.waiting import seconds_until_closed

READ_TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    toml = f"\n[api]\nread_timeout_s = {READ_TIMEOUT_S}\n"
    with running_cluster(tmp_path_factory.mktemp("slow"), n=1, extra_toml=toml) as c:
        yield c


def _trickle(url_port: int, head: bytes, drip: bytes, limit_s: float = 30.0):
    """Send ``head`` then ``drip`` every 0.3 s; return (seconds until the master closed, answers to others)."""
    s = socket.create_connection(("127.0.0.1", url_port), timeout=5)
    s.sendall(head)
    started = time.monotonic()
    answered = 0
    try:
        while time.monotonic() - started < limit_s:
            time.sleep(0.3)
            try:
                s.sendall(drip)
                s.settimeout(0.01)
                if s.recv(1024) == b"":
                    break
            except socket.timeout:
                pass
            except OSError:  # reset or broken pipe: closed
                break
            answered += requests.get(f"http://127.0.0.1:{url_port}/healthz", timeout=5).status_code == 200
        return time.monotonic() - started, answered
    finally:
        s.close()


def test_a_client_trickling_its_headers_is_cut_and_others_are_answered(master):
    port = master.api_ports[master.names[0]]
    took, answered = _trickle(port, b"GET /api/v1beta1/pods HTTP/1.1\r\nHost: x\r\n", b"X-Slow: 1\r\n")
    assert READ_TIMEOUT_S - 0.5 <= took <= READ_TIMEOUT_S + 5, took
    assert answered >= 3  # the master answered others while the trickler was connected


def test_a_client_trickling_its_body_is_cut(master):
    port = master.api_ports[master.names[0]]
    head = (b"POST /api/v1beta1/pods HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n{")
    took, _ = _trickle(port, head, b" ")
    assert READ_TIMEOUT_S - 0.5 <= took <= READ_TIMEOUT_S + 5, took


def test_a_fast_request_on_a_kept_alive_connection_is_not_cut(master):
    port = master.api_ports[master.names[0]]
    with requests.Session() as session:
        for _ in range(3):  # an idle kept-alive connection between requests is not a slow request
            assert session.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
            time.sleep(READ_TIMEOUT_S)


# ---- the secure port (cheroot) ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    work = tmp_path_factory.mktemp("slow-tls")
    cluster = MasterCluster(work, n=1, secure=True, extra_toml=f"\n[api]\nread_timeout_s = {READ_TIMEOUT_S}\n")
    subprocess.run([*CLI, "init", "--config", cluster.config], cwd=work, check=True, capture_output=True,
                   timeout=60)
    try:
        cluster.start_all()
        yield cluster, Pki(work / "data" / "pki")
    finally:
        try:
            cluster.close()
        finally:
            print(cluster.logs())



def test_silent_tls_clients_hold_no_one_else(secure):
    """Clients that connect and send nothing wait in cheroot's selector (no handshake in the acceptor thread):
    others are answered at once, and the silent ones are closed after read_timeout_s like idle connections. With
    the handshake in the acceptor (before), each silent client held every new connection for
    HANDSHAKE_TIMEOUT_S, so three of them held this GET for 15 s: past its 10 s timeout."""
    cluster, pki = secure
    port = cluster.secure_ports["m1"]
    silent = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
    try:
        r = requests.get(f"https://127.0.0.1:{port}/healthz", verify=str(pki.ca_cert), timeout=10)
        assert r.status_code == 200
        for s in silent:
            took = seconds_until_closed(s, 30)
            assert took <= READ_TIMEOUT_S + 5, took
    finally:
        for s in silent:
            s.close()


def test_a_tls_handshake_that_stalls_is_cut_after_the_handshake_timeout(secure):
    """A client that starts a handshake (a record header of a ClientHello) and stops: the worker thread doing it
    gives up after HANDSHAKE_TIMEOUT_S; others are answered meanwhile."""
    cluster, pki = secure
    port = cluster.secure_ports["m1"]
    stalled = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        stalled.sendall(b"\x16\x03\x01\x02\x00")  # handshake record, TLS 1.0 framing, 512 bytes to come
        started = time.monotonic()
        r = requests.get(f"https://127.0.0.1:{port}/healthz", verify=str(pki.ca_cert), timeout=10)
        assert r.status_code == 200
        seconds_until_closed(stalled, 30)
        took = time.monotonic() - started  # from the stalled handshake's start to the cut
        assert HANDSHAKE_TIMEOUT_S - 1 <= took <= HANDSHAKE_TIMEOUT_S + 5, took
    finally:
        stalled.close()


def test_plain_http_on_the_tls_port_gets_a_plain_answer(secure):
    cluster, _ = secure
    port = cluster.secure_ports["m1"]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 Bad Request") and b"only speaks HTTPS" in answer, answer


def test_a_tls_client_trickling_its_headers_is_cut(secure):
    cluster, pki = secure
    port = cluster.secure_ports["m1"]
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 30 and not closed:
            time.sleep(0.3)
            try:
                s.sendall(b"X-Slow: 1\r\n")
                s.settimeout(0.01)
                closed = s.recv(1024) == b""
            except (socket.timeout, ssl.SSLWantReadError):
                pass
            except (OSError, ssl.SSLError):
                closed = True
        took = time.monotonic() - started
    assert closed and READ_TIMEOUT_S - 0.5 <= took <= READ_TIMEOUT_S + 5, took
    r = requests.get(f"https://127.0.0.1:{port}/healthz", verify=str(pki.ca_cert), timeout=10)
    assert r.status_code in (200, 401)
