"""The Raft port's guards (state/raftport.py) on real sockets and pysyncobj's poller."""

import errno
import socket
import struct
import time

import pysyncobj.pickle as pickle
import pytest
from pysyncobj.poller import createPoller

from raftkube.state import raftport, syncobj
from raftkube.state.raftport import HANDSHAKE_FRAME_BYTES, GuardedConnection, GuardedServer, PortGuard, PortLimits
from raftkube.state.wire import AeadEncryptor

syncobj.install()  # the no-compression framing every master uses


def _poll(poller, until, deadline_s=5.0):
    deadline = time.monotonic() + deadline_s
    while not until():
        assert time.monotonic() < deadline, "condition not reached"
        poller.poll(0.05)


def _frame(enc, message) -> bytes:
    data = enc.encrypt_at_time(pickle.dumps(message), int(time.monotonic()))
    return struct.pack("i", len(data)) + data


@pytest.fixture
def link():
    poller = createPoller("auto")
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    got = []
    conn = GuardedConnection(poller=poller, socket=ours, onMessageReceived=got.append, timeout=60)
    conn.encryptor = AeadEncryptor("s3cret")
    yield poller, conn, theirs, got
    conn.disconnect()
    theirs.close()


def _closed(theirs) -> bool:
    theirs.setblocking(False)
    try:
        return theirs.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def test_a_huge_length_prefix_closes_the_connection_before_the_frame_is_buffered(link):
    poller, conn, theirs, got = link
    before = raftport.refused()["oversized"]
    theirs.sendall(struct.pack("i", 2**31 - 1) + b"x" * 1000)
    _poll(poller, lambda: conn.state == 0)
    assert raftport.refused()["oversized"] == before + 1
    assert got == [] and _closed(theirs)


def test_a_negative_length_prefix_closes_the_connection(link):
    poller, conn, theirs, _ = link
    theirs.sendall(struct.pack("i", -5))
    _poll(poller, lambda: conn.state == 0)


def test_before_authenticating_a_frame_may_not_exceed_the_handshake_size(link):
    poller, conn, theirs, _ = link
    theirs.sendall(struct.pack("i", HANDSHAKE_FRAME_BYTES + 1))
    _poll(poller, lambda: conn.state == 0)


def test_after_one_authenticated_frame_large_frames_pass(link):
    poller, conn, theirs, got = link
    enc = AeadEncryptor("s3cret")
    theirs.sendall(_frame(enc, "hello"))
    _poll(poller, lambda: got == ["hello"])
    assert conn.authenticated
    big = b"y" * (4 * HANDSHAKE_FRAME_BYTES)
    theirs.setblocking(True)
    data = _frame(enc, big) + _frame(enc, "after")
    sent = 0
    while sent < len(data):  # the socket buffer is smaller than the frame: send while the poller reads
        theirs.settimeout(0.01)
        try:
            sent += theirs.send(data[sent:sent + 65536])
        except socket.timeout:
            pass
        poller.poll(0)
    _poll(poller, lambda: len(got) == 3)
    assert got[1:] == [big, "after"] and conn.state != 0


def test_a_frame_with_the_wrong_secret_is_dropped_without_authenticating(link):
    poller, conn, theirs, got = link
    theirs.sendall(_frame(AeadEncryptor("other"), "hi"))
    _poll(poller, lambda: conn.state == 0)
    assert got == [] and not conn.authenticated


class _Transport:
    def __init__(self, server):
        self._server = server
        self._unknownConnections = set()

    def accept(self, conn):
        self._unknownConnections.add(conn)


@pytest.fixture
def server():
    poller = createPoller("auto")
    transport = _Transport(None)
    srv = GuardedServer(poller, "127.0.0.1", 0, onNewConnection=transport.accept)
    srv._TcpServer__port = 0
    srv.bind()
    transport._server = srv
    guard = PortGuard(transport, PortLimits(handshake_timeout_s=0.3, max_handshakes=3), sweep_every_s=0)
    yield poller, srv, transport, guard
    for conn in list(transport._unknownConnections):
        conn.disconnect()
    srv.unbind()


def _address(srv):
    return srv._TcpServer__socket.getsockname()


def test_connections_that_stay_silent_are_closed_after_the_handshake_timeout(server):
    poller, srv, transport, guard = server
    clients = [socket.create_connection(_address(srv)) for _ in range(2)]
    _poll(poller, lambda: guard.pending() == 2)
    before = raftport.refused()["handshake_timeout"]
    _poll(poller, lambda: (guard.on_tick(), guard.pending() == 0)[1])
    assert raftport.refused()["handshake_timeout"] == before + 2
    assert all(_closed(c) for c in clients)
    for c in clients:
        c.close()


def test_past_the_handshake_cap_new_connections_are_closed_at_once(server):
    poller, srv, transport, guard = server
    clients = [socket.create_connection(_address(srv)) for _ in range(3)]
    _poll(poller, lambda: guard.pending() == 3)
    extra = socket.create_connection(_address(srv))
    _poll(poller, lambda: _closed(extra))
    assert guard.pending() == 3
    for c in clients + [extra]:
        c.close()


class _FailingSocket:
    def __init__(self, real):
        self.real = real

    def accept(self):
        raise OSError(errno.EMFILE, "Too many open files")

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_an_accept_error_pauses_the_listener_and_it_accepts_again_later(server):
    poller, srv, transport, guard = server
    real = srv._TcpServer__socket
    srv._TcpServer__socket = _FailingSocket(real)
    client = socket.create_connection(real.getsockname())
    before = raftport.refused()["accept_failed"]
    _poll(poller, lambda: srv.paused)
    assert raftport.refused()["accept_failed"] == before + 1
    srv._TcpServer__socket = real  # file descriptors are back
    srv.resume_if_due(time.monotonic() + 1)
    _poll(poller, lambda: guard.pending() == 1)  # the waiting connection is accepted: the listener lives
    client.close()
