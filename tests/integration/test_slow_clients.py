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



def test_a_silent_tls_client_is_cut_after_the_handshake_timeout(secure):
    cluster, pki = secure
    port = cluster.secure_ports["m1"]
    silent = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        time.sleep(0.2)  # the acceptor took it and waits for its ClientHello
        r = requests.get(f"https://127.0.0.1:{port}/healthz", verify=str(pki.ca_cert), timeout=30)
        assert r.status_code in (200, 401)  # answered once the silent handshake was cut
        took = seconds_until_closed(silent, 30)
        assert took <= HANDSHAKE_TIMEOUT_S + 5, took
    finally:
        silent.close()


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
