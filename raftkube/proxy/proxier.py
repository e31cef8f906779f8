"""The proxy's I/O (2014's ``pkg/proxy/proxier.go`` and ``udp_server.go``, K04 host-port mode).

For each service the proxy listens on ``<bind_address>:<service.port>`` and forwards every TCP connection
(every UDP client) to the service's next endpoint, round robin (``balancer.RoundRobin``).

One thread, ``proxy``, runs a ``selectors`` event loop over non-blocking sockets for everything: the
listening sockets, dials, the byte relays of every connection and the UDP sessions. An idle connection
costs two file descriptors and a few hundred bytes, not a thread. Each direction of a relay holds at most
one pending chunk (``chunk_bytes``): while it is not fully written the proxy stops reading that side, so
a slow reader slows its writer instead of filling memory.

* Dial: a non-blocking connect to the next endpoint with a timeout of 1 s, then (to the following endpoint)
  2 s, then 4 s; after the last failure the client connection is closed. No endpoints: closed at once.
* TCP half-close is forwarded (EOF on one side -> ``shutdown(SHUT_WR)`` on the other once its pending data
  is written); the connection ends when both directions have ended, or at once on an error.
* UDP: one backend socket per client address, to the endpoint chosen for its first datagram; replies
  go back from the service port; a session idle for ``udp_idle_s`` (60 s) is closed.
* Listeners are opened, moved and closed by ``sync`` (plan: ``listeners.plan_listeners``); a port that
  cannot be bound is returned as a failure with its reason (the caller logs and reports it) and tried
  again on the next sync. Connections already relayed survive their listener's move or close.

Everything that touches sockets runs in the loop thread; other threads hand it work with ``call``.

Longer than the house's ~500 lines on purpose: the event loop, its TCP relays and UDP sessions share one
selector and its per-socket state, and split across modules they would pass that state back and forth.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import logging
import selectors
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Hashable

from raftkube.proxy.balancer import RoundRobin
from raftkube.model.endpoints import endpoint_pairs
from raftkube.model.objects import name_of, namespace_of
from raftkube.proxy.listeners import Listener, desired_listeners, plan_listeners, service_port

log = logging.getLogger(__name__)

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
DIAL_TIMEOUTS_S = (1.0, 2.0, 4.0)
_IN_PROGRESS = (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN, errno.EALREADY)


class ServiceStats:
    """What one service's traffic through this proxy added up to (loop thread writes, scrapes read)."""

    __slots__ = ("connections", "open", "bytes_in", "bytes_out", "dial_failures", "rejected", "datagrams")

    def __init__(self) -> None:
        self.connections = 0  # TCP connections accepted
        self.open = 0  # TCP connections relayed now
        self.bytes_in = 0  # from clients (TCP and UDP), towards the endpoints
        self.bytes_out = 0  # from the endpoints back to clients
        self.dial_failures = 0  # connects to an endpoint that failed or timed out
        self.rejected = 0  # connections closed unrelayed: no endpoints, or none answered
        self.datagrams = 0  # UDP datagrams from clients


@dataclass(frozen=True)
class ListenerFailure:
    key: Hashable
    listener: Listener
    reason: str


class _Timer:
    __slots__ = ("deadline", "fn", "cancelled")

    def __init__(self, deadline: float, fn: Callable[[], None]):
        self.deadline, self.fn, self.cancelled = deadline, fn, False

    def cancel(self) -> None:
        self.cancelled = True


class Proxier:
    def __init__(self, balancer: RoundRobin | None = None, *, bind_address: str = "0.0.0.0",
                 dial_timeouts_s: tuple[float, ...] = DIAL_TIMEOUTS_S, udp_idle_s: float = 60.0,
                 chunk_bytes: int = 1 << 20, backlog: int = 1024, share_ports: bool = False):
        self.balancer = balancer or RoundRobin()
        self.bind_address = bind_address
        # SO_REUSEPORT: several proxies of one host (the minions of `raftkube up`) listen on the same service
        # ports and the kernel spreads connections among them; a socket without it still conflicts
        self.share_ports = share_ports
        self.dial_timeouts_s = tuple(dial_timeouts_s)
        self.udp_idle_s = udp_idle_s
        self.chunk_bytes = chunk_bytes
        self.backlog = backlog
        self.sel = selectors.DefaultSelector()
        self.listeners: dict[Hashable, _TcpListener | _UdpListener] = {}  # loop thread only
        self.connections: set[_Relay] = set()
        self.accepted = 0
        self.dial_failures = 0
        self.stats: dict[Hashable, ServiceStats] = {}  # per service with a listener (metrics.ProxyCollector)
        self._timers: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()
        self._calls: deque = deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.sel.register(self._wake_r, READ, self._on_wake)
        self._stopping = False
        self._thread: threading.Thread | None = None

    # ---- lifecycle and cross-thread calls ---------------------------------------------------------
    def start(self) -> "Proxier":
        self._thread = threading.Thread(target=self._loop, name="proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._thread is None:
            return
        self._post(self._shutdown)
        self._thread.join(timeout_s)
        self._thread = None

    def call(self, fn: Callable, *args, timeout_s: float = 10.0):
        """Run ``fn(*args)`` in the loop thread and return its result (or raise its exception)."""
        if threading.current_thread() is self._thread or self._thread is None:
            return fn(*args)
        done = threading.Event()
        box: list = [None, None]

        def run():
            try:
                box[0] = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                box[1] = exc
            finally:
                done.set()
        self._post(run)
        if not done.wait(timeout_s):
            raise TimeoutError("the proxy loop did not answer")
        if box[1] is not None:
            raise box[1]
        return box[0]

    def _post(self, fn: Callable[[], None]) -> None:
        self._calls.append(fn)
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # the loop is already awake (buffer full) or stopped

    def _on_wake(self, _mask: int) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def later(self, delay_s: float, fn: Callable[[], None]) -> _Timer:
        """Run ``fn`` in the loop thread after ``delay_s`` (loop thread only)."""
        t = _Timer(time.monotonic() + delay_s, fn)
        heapq.heappush(self._timers, (t.deadline, next(self._seq), t))
        return t

    # ---- the public work --------------------------------------------------------------------------
    def sync(self, services: list[dict], endpoints: list[dict]) -> list[ListenerFailure]:
        """Make the listeners and endpoint lists match ``services`` and ``endpoints`` (all namespaces).

        Returns the listeners that could not be opened (bind errors, two services on one port).
        """
        eps = {((e.get("metadata") or {}).get("namespace") or "default", (e.get("metadata") or {}).get("name")): e
               for e in endpoints}
        port_names = {(namespace_of(s), name_of(s)): service_port(s).get("name") or "" for s in services}
        desired = desired_listeners(services)
        for key in desired:
            if self.balancer.update(key, endpoint_pairs(eps.get(key), port_names.get(key, ""))):
                log.info("service %s/%s endpoints: %s", key[0], key[1],
                         ", ".join(f"{ip}:{port}" for ip, port in self.balancer.endpoints(key)) or "(none)")
        for key in self.balancer.keys():
            if key not in desired:
                self.balancer.remove(key)
        return self.call(self._apply, desired)

    def stats_of(self, key: Hashable) -> ServiceStats:
        """The counters of service ``key`` (loop thread)."""
        st = self.stats.get(key)
        if st is None:
            st = self.stats[key] = ServiceStats()
        return st

    def open_listeners(self) -> dict[Hashable, Listener]:
        return self.call(lambda: {k: v.listener for k, v in self.listeners.items()})

    def _apply(self, desired: dict[Hashable, Listener]) -> list[ListenerFailure]:
        plan = plan_listeners(desired, {k: v.listener for k, v in self.listeners.items()})
        failures = [ListenerFailure(k, want, f"port {want} is already used by service {holder[0]}/{holder[1]}")
                    for k, want, holder in plan.conflicts]
        moved = {k for k, _old, _new in plan.moves}
        for key, have in plan.close:
            self.listeners.pop(key).close()
            if key not in moved:
                log.info("service %s/%s: closed port %s", key[0], key[1], have)
        for key in [k for k in self.stats if k not in desired]:  # a deleted service's counters go with it
            del self.stats[key]
        for key, want in plan.open:
            try:
                cls = _UdpListener if want.protocol == "UDP" else _TcpListener
                self.listeners[key] = cls(self, key, want)
            except OSError as exc:
                failures.append(ListenerFailure(key, want, f"cannot listen on {self.bind_address}:{want}: "
                                                f"{exc.strerror or exc}"))
                continue
            if key in moved:
                log.info("service %s/%s: moved to port %s", key[0], key[1], want)
            else:
                log.info("service %s/%s: listening on port %s", key[0], key[1], want)
        return failures

    # ---- the loop ---------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping:
            timeout = 1.0
            if self._timers:
                timeout = min(max(self._timers[0][0] - time.monotonic(), 0.0), 1.0)
            for key, mask in self.sel.select(timeout):
                try:
                    key.data(mask)
                except Exception:  # noqa: BLE001 - one bad connection never stops the loop
                    log.exception("proxy: handler failed")
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                t = heapq.heappop(self._timers)[2]
                if not t.cancelled:
                    try:
                        t.fn()
                    except Exception:  # noqa: BLE001
                        log.exception("proxy: timer failed")
            while self._calls:
                self._calls.popleft()()
        self.sel.close()

    def _shutdown(self) -> None:
        self._stopping = True
        for lst in list(self.listeners.values()):
            lst.close()
        self.listeners.clear()
        for conn in list(self.connections):
            conn.close()
        self.sel.unregister(self._wake_r)
        self._wake_r.close()
        self._wake_w.close()


# ---- TCP ----------------------------------------------------------------------------------------------
class _TcpListener:
    def __init__(self, proxier: Proxier, key, listener: Listener):
        self.p, self.key, self.listener = proxier, key, listener
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if proxier.share_ports:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((proxier.bind_address, listener.port))
            sock.listen(proxier.backlog)
            sock.setblocking(False)
            proxier.sel.register(sock, READ, self._on_accept)
        except OSError:
            sock.close()
            raise
        self.sock = sock

    def _on_accept(self, _mask: int) -> None:
        for _ in range(64):
            try:
                client, _addr = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and friends: try again on the next event
                log.warning("service %s/%s: accept failed: %s", self.key[0], self.key[1], exc)
                return
            self.p.accepted += 1
            _Relay(self.p, self.key, client, self.p.stats_of(self.key)).dial()

    def close(self) -> None:
        try:
            self.p.sel.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()


class _Relay:
    """One proxied TCP connection: client socket ``c``, backend socket ``b``."""

    __slots__ = ("p", "key", "c", "b", "attempt", "timer", "pend", "eof", "masks", "closed", "endpoint", "st")

    def __init__(self, proxier: Proxier, key, client: socket.socket, stats: ServiceStats):
        self.p, self.key, self.c, self.st = proxier, key, client, stats
        stats.connections += 1
        stats.open += 1
        self.b: socket.socket | None = None
        self.attempt = 0
        self.timer: _Timer | None = None
        self.pend: list = [None, None]  # [client->backend, backend->client] unwritten chunk (memoryview)
        self.eof = [False, False]  # read EOF from the client / from the backend
        self.masks = [0, 0]  # registered interest of c, b
        self.closed = False
        self.endpoint = None
        client.setblocking(False)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        proxier.connections.add(self)

    # dialing
    def dial(self) -> None:
        while not self.closed:
            if self.attempt >= len(self.p.dial_timeouts_s):
                log.warning("service %s/%s: no endpoint answered after %d attempts; closing the connection",
                            self.key[0], self.key[1], self.attempt)
                self.st.rejected += 1
                self.close()
                return
            ep = self.p.balancer.next(self.key)
            if ep is None:
                log.debug("service %s/%s: no endpoints; closing the connection", *self.key)
                self.st.rejected += 1
                self.close()
                return
            timeout_s = self.p.dial_timeouts_s[self.attempt]
            self.attempt += 1
            self.endpoint = ep
            b = socket.socket(socket.AF_INET6 if ":" in ep[0] else socket.AF_INET, socket.SOCK_STREAM)
            b.setblocking(False)
            err = b.connect_ex(ep)
            if err == 0:
                self.b = b
                self._connected()
                return
            if err in _IN_PROGRESS:
                self.b = b
                self.p.sel.register(b, WRITE, self._on_dial)
                self.masks[1] = WRITE
                self.timer = self.p.later(timeout_s, self._dial_timeout)
                return
            b.close()
            self._dial_failed(ep, errno.errorcode.get(err, str(err)))

    def _dial_failed(self, ep, why: str) -> None:
        self.p.dial_failures += 1
        self.st.dial_failures += 1
        log.info("service %s/%s: dial %s:%d failed (%s); trying the next endpoint", self.key[0], self.key[1],
                 ep[0], ep[1], why)

    def _drop_backend(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.b is not None:
            if self.masks[1]:
                self.p.sel.unregister(self.b)
                self.masks[1] = 0
            self.b.close()
            self.b = None

    def _dial_timeout(self) -> None:
        self.timer = None
        if self.closed:
            return
        self._drop_backend()
        self._dial_failed(self.endpoint, "timed out")
        self.dial()

    def _on_dial(self, _mask: int) -> None:
        if self.closed or self.b is None:
            return
        err = self.b.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err in _IN_PROGRESS:
            return
        if err:
            self._drop_backend()
            self._dial_failed(self.endpoint, errno.errorcode.get(err, str(err)))
            self.dial()
            return
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.p.sel.unregister(self.b)
        self.masks[1] = 0
        self._connected()

    def _connected(self) -> None:
        self.b.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._refresh()

    # relaying: direction 0 is client -> backend, 1 is backend -> client; socket i (c, b) reads direction i
    def _on_c(self, mask: int) -> None:
        self._on_ready(0, mask)

    def _on_b(self, mask: int) -> None:
        self._on_ready(1, mask)

    def _on_ready(self, i: int, mask: int) -> None:
        if mask & WRITE and not self.closed:
            self._flush(1 - i)
        if mask & READ and not self.closed:
            self._pump(i)
        if not self.closed:
            self._refresh()

    def _socks(self, d: int) -> tuple[socket.socket, socket.socket]:
        return (self.c, self.b) if d == 0 else (self.b, self.c)

    def _pump(self, d: int) -> None:
        src, dst = self._socks(d)
        try:
            data = src.recv(self.p.chunk_bytes)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        if not data:
            self.eof[d] = True
            self._half_close(d)
            return
        if d == 0:
            self.st.bytes_in += len(data)
        else:
            self.st.bytes_out += len(data)
        try:
            sent = dst.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.close()
            return
        if sent < len(data):
            self.pend[d] = memoryview(data)[sent:]

    def _flush(self, d: int) -> None:
        _src, dst = self._socks(d)
        view = self.pend[d]
        if view is None:
            return
        try:
            sent = dst.send(view)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        self.pend[d] = view[sent:] if sent < len(view) else None
        if self.pend[d] is None and self.eof[d]:
            self._half_close(d)

    def _half_close(self, d: int) -> None:
        if self.pend[d] is not None:
            return  # after the pending chunk is written
        _src, dst = self._socks(d)
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if self.eof[0] and self.eof[1] and self.pend[0] is None and self.pend[1] is None:
            self.close()

    def _refresh(self) -> None:
        """Register the interest each socket has now: read while its direction has nothing pending and no
        EOF yet; write while the other direction has a pending chunk for it."""
        for i, (sock, cb) in enumerate(((self.c, self._on_c), (self.b, self._on_b))):
            want = (0 if self.eof[i] or self.pend[i] is not None else READ) | \
                   (WRITE if self.pend[1 - i] is not None else 0)
            have = self.masks[i]
            if want == have:
                continue
            if not have:
                self.p.sel.register(sock, want, cb)
            elif not want:
                self.p.sel.unregister(sock)
            else:
                self.p.sel.modify(sock, want, cb)
            self.masks[i] = want

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._drop_backend()
        if self.masks[0]:
            self.p.sel.unregister(self.c)
            self.masks[0] = 0
        self.c.close()
        self.p.connections.discard(self)
        self.st.open -= 1


# ---- UDP ----------------------------------------------------------------------------------------------
class _UdpListener:
    def __init__(self, proxier: Proxier, key, listener: Listener):
        self.p, self.key, self.listener = proxier, key, listener
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if proxier.share_ports:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((proxier.bind_address, listener.port))
            sock.setblocking(False)
            proxier.sel.register(sock, READ, self._on_datagram)
        except OSError:
            sock.close()
            raise
        self.sock = sock
        self.sessions: dict[tuple, _UdpSession] = {}
        self.sweeper = proxier.later(self._sweep_period(), self._sweep)

    def _sweep_period(self) -> float:
        return max(min(self.p.udp_idle_s / 4, 5.0), 0.05)

    def _on_datagram(self, _mask: int) -> None:
        for _ in range(64):
            try:
                data, addr = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            stats = self.p.stats_of(self.key)
            stats.datagrams += 1
            stats.bytes_in += len(data)
            session = self.sessions.get(addr)
            if session is None:
                ep = self.p.balancer.next(self.key)
                if ep is None:
                    continue  # no endpoints: dropped
                try:
                    session = _UdpSession(self, addr, ep)
                except OSError as exc:
                    log.info("service %s/%s: udp to %s:%d failed: %s", self.key[0], self.key[1], ep[0], ep[1], exc)
                    continue
                self.sessions[addr] = session
            session.send(data)

    def _sweep(self) -> None:
        now = time.monotonic()
        for addr, s in list(self.sessions.items()):
            if now - s.last > self.p.udp_idle_s:
                s.close()
        self.sweeper = self.p.later(self._sweep_period(), self._sweep)

    def close(self) -> None:
        self.sweeper.cancel()
        for s in list(self.sessions.values()):
            s.close()
        try:
            self.p.sel.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()


class _UdpSession:
    """One client address of a UDP service: its own socket connected to the chosen endpoint."""

    def __init__(self, listener: _UdpListener, addr: tuple, ep: tuple[str, int]):
        self.l, self.addr, self.ep = listener, addr, ep
        self.sock = socket.socket(socket.AF_INET6 if ":" in ep[0] else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.setblocking(False)
            self.sock.connect(ep)
            listener.p.sel.register(self.sock, READ, self._on_reply)
        except OSError:
            self.sock.close()
            raise
        self.last = time.monotonic()
        self.closed = False

    def send(self, data: bytes) -> None:
        self.last = time.monotonic()
        try:
            self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            pass  # dropped, as UDP may
        except OSError:  # e.g. ECONNREFUSED from an earlier datagram: the next one picks another endpoint
            self.close()

    def _on_reply(self, _mask: int) -> None:
        for _ in range(64):
            try:
                data = self.sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.close()
                return
            self.last = time.monotonic()
            self.l.p.stats_of(self.l.key).bytes_out += len(data)
            try:
                self.l.sock.sendto(data, self.addr)
            except OSError:
                pass

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.l.sessions.pop(self.addr, None)
        try:
            self.l.p.sel.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()
