"""The Raft port against abuse: frame lengths checked as they arrive, handshakes with a deadline, a listener
that survives ``accept()`` errors.

pysyncobj 0.3.17's TCP transport, left alone, lets any TCP peer
- announce a frame of up to 2 GiB (a signed 32-bit length prefix) and have the master buffer all of it before
  a byte is authenticated (``TcpConnection.__processParseMessage`` waits for the whole frame);
- hold a connection forever by sending nothing: the connection timeout is checked only when the connection
  has a poll event, and a silent one has none;
- close the listener for good with one failed ``accept()`` (``TcpServer.__onNewConnection`` unbinds on any
  error but EAGAIN, e.g. EMFILE when the process is out of file descriptors; nothing binds it again).

``GuardedConnection`` and ``GuardedServer`` subclass the library's classes (``install`` makes the transport
create them) and fix the three:
- every length prefix is checked right after the receive that brought it: a connection that has not yet
  sent one frame that decrypted with the cluster secret may announce at most ``HANDSHAKE_FRAME_BYTES``
  (pysyncobj's handshake frames are a 32-byte key and a node address; a peer sends nothing else before our
  answer to its first frame), an authenticated one anything but a negative length (its frames carry log
  entries and snapshot chunks, and a cap below the largest entry would wedge replication);
- ``PortGuard.on_tick`` closes incoming connections that have not identified themselves as a peer within
  ``handshake_timeout_s``, and a new connection is closed at once while ``max_handshakes`` are pending;
- an ``accept()`` error is logged and the listener paused for ``ACCEPT_RETRY_S``, then resumed; the listen
  backlog is ``BACKLOG`` instead of 5.
Each kind of refusal is logged once per ``LOG_EVERY_S`` with a count, not once per connection.
"""

from __future__ import annotations

import errno
import logging
import socket
import struct
import time
from dataclasses import dataclass

from pysyncobj import tcp_connection as _tcp_connection
from pysyncobj import tcp_server as _tcp_server
from pysyncobj import transport as _transport
from pysyncobj.poller import POLL_EVENT_TYPE

log = logging.getLogger(__name__)

#: the largest frame a connection may announce before it sent one that authenticated
HANDSHAKE_FRAME_BYTES = 64 * 1024
#: how long the listener rests after a failed accept() (out of file descriptors, buffers)
ACCEPT_RETRY_S = 0.5
#: the listen backlog (pysyncobj's is 5: a burst of connections fills it and a peer's reconnect waits for
#: SYN retries, 1 s and more) and the connections accepted per poll event of the listener
BACKLOG = 128
ACCEPTS_PER_EVENT = 32
#: one log line per kind of refusal per this many seconds
LOG_EVERY_S = 10.0
_PREFIX = struct.Struct("i")  # pysyncobj's framing: native signed int length, then the frame


@dataclass(frozen=True)
class PortLimits:
    #: an incoming connection must identify itself as a peer within this time
    handshake_timeout_s: float = 5.0
    #: incoming connections still in their handshake; more are closed at once
    max_handshakes: int = 128


class _Throttled:
    """Counts refusals of one kind and logs them at most once per ``LOG_EVERY_S``."""

    def __init__(self, message: str):
        self.message = message
        self.count = 0
        self._pending = 0
        self._last = float("-inf")

    def __call__(self, detail: str, n: int = 1) -> None:
        self.count += n
        self._pending += n
        now = time.monotonic()
        if now - self._last >= LOG_EVERY_S:
            log.warning("Raft port: %s (%d since the last report; last: %s)", self.message, self._pending, detail)
            self._last, self._pending = now, 0


#: refusal counters of this process, for /raft and tests
REFUSED = {"oversized": _Throttled("closed a connection announcing a frame over its limit"),
           "handshake_timeout": _Throttled("closed connections that did not identify themselves in time"),
           "handshakes_full": _Throttled("closed a new connection: too many connections in their handshake"),
           "accept_failed": _Throttled("accept() failed; the listener pauses and retries")}


def refused() -> dict[str, int]:
    return {kind: counter.count for kind, counter in REFUSED.items()}


def _peer(sock) -> str:
    try:
        host, port = sock.getpeername()[:2]
        return f"{host}:{port}"
    except (OSError, AttributeError, TypeError, ValueError):
        return "?"


class GuardedConnection(_tcp_connection.TcpConnection):
    """pysyncobj's connection, checking every frame's length prefix as soon as it is received."""

    def __init__(self, *args, **kwargs):
        self._reset()
        super().__init__(*args, **kwargs)
        self.peer = _peer(kwargs.get("socket"))

    def _reset(self) -> None:
        self.opened = time.monotonic()
        self.authenticated = False
        self._scan = 0  # offset in the read buffer of the next length prefix not yet checked

    def connect(self, host, port):
        self._reset()
        self.peer = f"{host}:{port}"
        return super().connect(host, port)

    def disconnect(self):
        self._scan = 0
        super().disconnect()

    def _TcpConnection__processRead(self):
        more = super()._TcpConnection__processRead()
        if more and not self._frames_allowed():
            REFUSED["oversized"](self.peer)
            self.disconnect()
            return False
        return more

    def _frames_allowed(self) -> bool:
        buf = self._TcpConnection__readBuffer
        while self._scan + _PREFIX.size <= len(buf):
            length = _PREFIX.unpack_from(buf, self._scan)[0]
            if length < 0 or (not self.authenticated and length > HANDSHAKE_FRAME_BYTES):
                return False
            self._scan += _PREFIX.size + length
        return True

    def _TcpConnection__processParseMessage(self):
        before = len(self._TcpConnection__readBuffer)
        message = super()._TcpConnection__processParseMessage()
        if message is not None:  # it decrypted: the peer knows the cluster secret
            self.authenticated = True
            self._scan -= before - len(self._TcpConnection__readBuffer)
        return message


class GuardedServer(_tcp_server.TcpServer):
    """pysyncobj's listener: accept() errors pause it instead of closing it; connections are guarded."""

    #: set by the Raft node once its transport exists (state/syncobj.py); None: no handshake cap
    guard: "PortGuard | None" = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._paused_until: float | None = None

    def bind(self):
        super().bind()
        self._TcpServer__socket.listen(BACKLOG)

    def _TcpServer__onNewConnection(self, descr, event):
        if event & POLL_EVENT_TYPE.READ:
            for _ in range(ACCEPTS_PER_EVENT):
                if not self._accept_one():
                    break
        elif event & POLL_EVENT_TYPE.ERROR:
            REFUSED["accept_failed"]("error event on the listening socket")
            self._pause()

    def _accept_one(self) -> bool:
        try:
            sock, _addr = self._TcpServer__socket.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                return False
            if exc.errno in (errno.ECONNABORTED, errno.EINTR):
                return True
            REFUSED["accept_failed"](f"{errno.errorcode.get(exc.errno, exc.errno)}: {exc.strerror}")
            self._pause()
            return False
        if self.guard is not None and not self.guard.admit():
            REFUSED["handshakes_full"](_peer(sock))
            sock.close()
        else:
            self._serve(sock)
        return True

    def _serve(self, sock) -> None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._TcpServer__sendBufferSize)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._TcpServer__recvBufferSize)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
        except OSError:  # the peer is already gone
            sock.close()
            return
        conn = GuardedConnection(poller=self._TcpServer__poller, socket=sock,
                                 timeout=self._TcpServer__connectionTimeout,
                                 sendBufferSize=self._TcpServer__sendBufferSize,
                                 recvBufferSize=self._TcpServer__recvBufferSize,
                                 keepalive=self._TcpServer__keepalive)
        self._TcpServer__onNewConnectionCallback(conn)

    def _pause(self) -> None:
        fileno = self._TcpServer__fileno
        if fileno is not None and self._paused_until is None:
            self._TcpServer__poller.unsubscribe(fileno)
            self._paused_until = time.monotonic() + ACCEPT_RETRY_S

    def resume_if_due(self, now: float) -> None:
        fileno = self._TcpServer__fileno
        if self._paused_until is not None and now >= self._paused_until:
            self._paused_until = None
            if fileno is not None:
                self._TcpServer__poller.subscribe(fileno, self._TcpServer__onNewConnection,
                                                  POLL_EVENT_TYPE.READ | POLL_EVENT_TYPE.ERROR)

    @property
    def paused(self) -> bool:
        return self._paused_until is not None


class PortGuard:
    """One Raft node's guard: the handshake deadline and cap over its transport's incoming connections.
    ``on_tick`` runs on the tick thread (a pysyncobj tick callback)."""

    def __init__(self, transport, limits: PortLimits, sweep_every_s: float = 0.25):
        self._transport = transport
        self.limits = limits
        self._sweep_every_s = sweep_every_s
        self._next_sweep = 0.0
        server = transport._server
        if isinstance(server, GuardedServer):
            server.guard = self

    def pending(self) -> int:
        return len(self._transport._unknownConnections)

    def admit(self) -> bool:
        return self.pending() < self.limits.max_handshakes

    def on_tick(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._sweep_every_s
        server = self._transport._server
        if isinstance(server, GuardedServer):
            server.resume_if_due(now)
        late = [c for c in list(self._transport._unknownConnections)
                if now - getattr(c, "opened", now) > self.limits.handshake_timeout_s]
        for conn in late:
            conn.disconnect()
            self._transport._unknownConnections.discard(conn)
        if late:
            REFUSED["handshake_timeout"](getattr(late[-1], "peer", "?"), len(late))


def check() -> list[str]:
    """The pysyncobj internals this module overrides or reads, missing from the installed release."""
    needed = [(_tcp_connection.TcpConnection, "_TcpConnection__processRead"),
              (_tcp_connection.TcpConnection, "_TcpConnection__processParseMessage"),
              (_tcp_server.TcpServer, "_TcpServer__onNewConnection"),
              (_transport, "TcpServer"), (_transport, "TcpConnection")]
    return [f"{getattr(owner, '__name__', owner)}.{name}" for owner, name in needed if not hasattr(owner, name)]


def install() -> None:
    """Make pysyncobj's TCP transport create the guarded classes (process-wide, idempotent)."""
    _transport.TcpServer = GuardedServer
    _transport.TcpConnection = GuardedConnection


__all__ = ["HANDSHAKE_FRAME_BYTES", "GuardedConnection", "GuardedServer", "PortGuard", "PortLimits", "check",
           "install", "refused"]
