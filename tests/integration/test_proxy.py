"""The proxier over real loopback sockets (no masters, no Docker): plain TCP/UDP backends on 127.0.0.1."""

from __future__ import annotations

import hashlib
import socket
import socketserver
import threading

import pytest

from raftkube.model.endpoints import subsets_from_pairs
from raftkube.proxy.metrics import ProxyCollector
from raftkube.proxy.proxier import Proxier
from raftkube.testing import free_ports, poll_until


class _Named(socketserver.BaseRequestHandler):
    def handle(self):
        data = b""
        while not data.endswith(b"\n"):
            chunk = self.request.recv(65536)
            if not chunk:
                break
            data += chunk
        if data.startswith(b"ECHO"):  # echo everything until EOF, then a digest
            h = hashlib.sha256(data[5:])
            while True:
                chunk = self.request.recv(1 << 20)
                if not chunk:
                    break
                h.update(chunk)
            self.request.sendall(h.hexdigest().encode())
            return
        self.request.sendall(self.server.name.encode())


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def backends():
    servers = []
    for i in range(3):
        s = _Server(("127.0.0.1", 0), _Named)
        s.name = f"b{i}"
        threading.Thread(target=s.serve_forever, name=f"backend-{i}", daemon=True).start()
        servers.append(s)
    yield servers
    for s in servers:
        s.shutdown()
        s.server_close()


@pytest.fixture
def proxier():
    p = Proxier(bind_address="127.0.0.1", dial_timeouts_s=(0.3, 0.3, 0.3), udp_idle_s=0.5).start()
    yield p
    p.stop()


def svc(name, port, protocol="TCP"):
    return {"kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"name": "", "port": port, "targetPort": 0, "protocol": protocol}],
                     "selector": {"a": "b"}}}


def eps(name, addrs):
    return {"kind": "Endpoints", "metadata": {"name": name, "namespace": "default"},
            "subsets": subsets_from_pairs(addrs)}


def ask(port: int, msg: bytes = b"hi\n", timeout_s: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(msg)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def closed_at_once(port: int, within_s: float) -> bool:
    """The proxy closes the connection (EOF or reset) without an answer within ``within_s``."""
    with socket.create_connection(("127.0.0.1", port), timeout=within_s) as s:
        try:
            return s.recv(10) == b""
        except ConnectionResetError:
            return True


def test_round_robin_over_three_backends(proxier, backends):
    port = free_ports(1)[0]
    assert proxier.sync([svc("web", port)], [eps("web", [s.server_address for s in backends])]) == []
    got = [ask(port) for _ in range(6)]
    assert got == [b"b0", b"b1", b"b2", b"b0", b"b1", b"b2"] or sorted(got[:3]) == [b"b0", b"b1", b"b2"]
    assert set(got[:3]) == {b"b0", b"b1", b"b2"} and got[:3] == got[3:]


def blackhole():
    """A loopback address where a connect hangs: a listener whose backlog is full (SYNs are dropped)."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    filler = socket.create_connection(hole.getsockname(), timeout=2)
    return hole, filler


def test_failed_dial_moves_on_to_the_next_endpoint(proxier, backends):
    port, dead = free_ports(2)
    hole, filler = blackhole()
    try:
        live = backends[0].server_address
        # sorted order: the blackhole (times out), the dead port (refused), then the live backend
        addrs = sorted([hole.getsockname(), ("127.0.0.1", dead), live])
        proxier.sync([svc("web", port)], [eps("web", addrs)])
        proxier.balancer._index[("default", "web")] = addrs.index(hole.getsockname())
        before = proxier.dial_failures
        got = ask(port)
        assert got == b"b0"
        assert proxier.dial_failures - before >= 1
    finally:
        filler.close()
        hole.close()


def test_every_dial_failing_closes_the_connection(proxier):
    port, dead = free_ports(2)
    hole, filler = blackhole()
    try:
        proxier.sync([svc("web", port)], [eps("web", [hole.getsockname(), ("127.0.0.1", dead)])])
        before = proxier.dial_failures
        assert closed_at_once(port, within_s=5)  # 3 attempts (timeout/refused), then closed
        assert proxier.dial_failures - before == 3
    finally:
        filler.close()
        hole.close()


def test_no_endpoints_closes_at_once(proxier):
    port = free_ports(1)[0]
    proxier.sync([svc("web", port)], [])
    assert closed_at_once(port, within_s=1)


def samples(proxier) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in ProxyCollector(proxier).collect() for s in family.samples}


def test_metrics_count_connections_bytes_dial_failures_and_rejections_per_service(proxier, backends):
    web, db, dead = free_ports(3)
    addrs = sorted([("127.0.0.1", dead), backends[0].server_address])  # the balancer keeps endpoints sorted
    proxier.sync([svc("web", web), svc("db", db)], [eps("web", addrs)])
    proxier.balancer._index[("default", "web")] = addrs.index(("127.0.0.1", dead))  # refused, then the live one
    assert ask(web, b"hello\n") == b"b0"
    assert closed_at_once(db, within_s=2)  # db has no endpoints
    labels = (("namespace", "default"), ("service", "web"))

    def counted():
        s = samples(proxier)
        return s if s.get(("raftkube_proxy_open_connections", labels)) == 0 else None
    s = poll_until(counted, 5, what="the relayed connection closed")
    assert s[("raftkube_proxy_connections_total", labels)] == 1
    assert s[("raftkube_proxy_dial_failures_total", labels)] == 1
    assert s[("raftkube_proxy_bytes_total", tuple(sorted(labels + (("direction", "in"),))))] == len(b"hello\n")
    assert s[("raftkube_proxy_bytes_total", tuple(sorted(labels + (("direction", "out"),))))] == len(b"b0")
    assert s[("raftkube_proxy_rejected_connections_total", labels)] == 0
    db_labels = (("namespace", "default"), ("service", "db"))
    assert s[("raftkube_proxy_rejected_connections_total", db_labels)] == 1
    proxier.sync([svc("web", web)], [])  # db deleted: its series go with it
    assert not [k for k in samples(proxier) if k[1] == db_labels]


def test_listener_moves_and_closes_and_a_busy_port_is_reported(proxier, backends):
    p1, p2 = free_ports(2)
    e = [eps("web", [backends[1].server_address])]
    proxier.sync([svc("web", p1)], e)
    assert ask(p1) == b"b1"
    proxier.sync([svc("web", p2)], e)  # port change: moves
    assert ask(p2) == b"b1"
    with pytest.raises(ConnectionRefusedError):
        ask(p1)
    # a port somebody else holds: reported with the reason, the other service still works
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    busy_port = busy.getsockname()[1]
    failures = proxier.sync([svc("web", p2), svc("taken", busy_port)], e)
    assert [(f.key, f.listener.port) for f in failures] == [(("default", "taken"), busy_port)]
    assert "in use" in failures[0].reason
    assert ask(p2) == b"b1"
    busy.close()
    assert proxier.sync([svc("web", p2), svc("taken", busy_port)], e) == []  # retried: now free
    proxier.sync([], [])  # deleted: closed
    with pytest.raises(ConnectionRefusedError):
        ask(p2)


def test_bulk_transfer_half_close_and_no_thread_per_connection(proxier, backends):
    port = free_ports(1)[0]
    proxier.sync([svc("web", port)], [eps("web", [backends[2].server_address])])
    payload = (b"0123456789abcdef" * 65536) * 20  # 20 MiB
    h = hashlib.sha256(payload).hexdigest().encode()
    assert ask(port, b"ECHO\n" + payload, timeout_s=30) == h
    before = threading.active_count()
    idle = [socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(50)]
    try:
        poll_until(lambda: len(proxier.connections) >= 50, 5, what="50 relayed connections")
        assert threading.active_count() - before <= 50 + 1  # the backends' own threads, none in the proxy
        assert ask(port) == b"b2"
    finally:
        for s in idle:
            s.close()
    poll_until(lambda: not proxier.connections, 5, what="relays closed after their clients")


def test_udp_sessions_round_robin_and_idle_timeout(proxier):
    backs = []
    for i in range(2):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        backs.append(u)

    def serve(u, name):
        while True:
            try:
                data, addr = u.recvfrom(65535)
            except OSError:
                return
            u.sendto(name + b":" + data, addr)
    for i, u in enumerate(backs):
        threading.Thread(target=serve, args=(u, f"u{i}".encode()), daemon=True).start()
    port = free_ports(1)[0]
    proxier.sync([svc("dns", port, "UDP")], [eps("dns", [u.getsockname() for u in backs])])
    clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    try:
        answers = []
        for c in clients:
            c.settimeout(2)
            c.sendto(b"q1", ("127.0.0.1", port))
            answers.append(c.recv(100))
            c.sendto(b"q2", ("127.0.0.1", port))  # same session, same backend
            assert c.recv(100) == answers[-1][:3] + b"q2"
        assert sorted(a[:2] for a in answers) == [b"u0", b"u1"]
        lst = proxier.call(lambda: proxier.listeners[("default", "dns")])
        assert len(lst.sessions) == 2
        poll_until(lambda: proxier.call(lambda: len(lst.sessions)) == 0, 5, what="idle UDP sessions closed")
    finally:
        for s in clients + backs:
            s.close()
