"""The secure API port: the same Falcon app under cheroot with TLS (waitress has no TLS of its own).

cheroot (CherryPy's WSGI server: thread pool, blocking sockets, the standard ``ssl`` module) was chosen because it
is well kept, pure Python, and serves TLS itself, so the secure port needs no proxy in front. The server asks for a
client certificate (optional) signed by the cluster CA; the verified certificate goes to the app in the WSGI
environ as ``raftkube.peer_cert`` (``ssl.getpeercert()``), and ``raftkube.secure`` marks every request of this
port, so that the authentication middleware (api/auth.py) requires a credential on it.

A watch stream leaves cheroot's thread: ``raftkube.stream_sink`` in the environ takes the TLS socket from
cheroot once the head and first events are written (no terminating chunk, the connection lingers: cheroot
neither closes it nor reads from it again) and gives it to the watch pump (api/watchpump.py) as a
non-blocking ``SocketSink``.

Slow clients (api/deadlines.py): cheroot does the TLS handshake in its one acceptor thread, so a client that
connects and sends nothing held every other new connection. Here the acceptor only wraps the socket; the new
connection waits in cheroot's selector, like an idle kept-alive one, until the client sends its first bytes
(or ``read_timeout_s``: closed), and then a worker thread does the handshake, which must finish within
``HANDSHAKE_TIMEOUT_S``. A request's head and body must have arrived ``read_timeout_s`` after a worker thread
took the connection (disarmed when the app starts its response); cheroot's own ``timeout`` (per ``recv``, and for
an idle kept-alive connection) is ``read_timeout_s`` too.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading

from cheroot import errors as _errors
from cheroot import server as _cheroot
from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from raftkube.api.clientlimit import ClientConnections
from raftkube.api.deadlines import Deadlines
from raftkube.api.sinks import SocketSink

#: a TLS handshake blocks cheroot's acceptor thread: it must finish within this time
HANDSHAKE_TIMEOUT_S = 5.0

log = logging.getLogger(__name__)


class _Adapter(BuiltinSSLAdapter):
    def __init__(self, cert: str, key: str, ca: str):
        super().__init__(cert, key)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=ca)
        ctx.load_cert_chain(cert, key)
        ctx.verify_mode = ssl.CERT_OPTIONAL  # a token instead of a certificate is fine
        self.context = ctx
        self.handshakes = Deadlines("TLS handshake")

    def wrap(self, sock):
        """In the acceptor thread: no handshake yet (``handshake``, in a worker thread, does it)."""
        return self.context.wrap_socket(sock, do_handshake_on_connect=False, server_side=True), {}

    def handshake(self, sock: ssl.SSLSocket, timeout_s: float) -> dict:
        """The TLS handshake, within ``HANDSHAKE_TIMEOUT_S``; the connection's WSGI environ entries. Failures as
        cheroot's own ``wrap`` raises them: ``NoSSLError`` for plain HTTP, ``FatalSSLAlert`` for the rest."""
        sock.settimeout(HANDSHAKE_TIMEOUT_S)
        self.handshakes.arm(sock, HANDSHAKE_TIMEOUT_S)
        try:
            sock.do_handshake()
        except ssl.SSLError as exc:
            if exc.errno == ssl.SSL_ERROR_SSL and "http request" in str(exc).lower():
                raise _errors.NoSSLError(*exc.args) from exc
            raise _errors.FatalSSLAlert(*exc.args) from exc
        except OSError as exc:  # the client went away, or the deadline shut the socket
            raise _errors.FatalSSLAlert(*exc.args) from exc
        finally:
            self.handshakes.disarm(sock)
        sock.settimeout(timeout_s)
        return self.get_environ(sock)

    def get_environ(self, sock):
        env = super().get_environ(sock)
        env["raftkube.peer_cert"] = sock.getpeercert() or None
        return env


_PLAIN_HTTP_MESSAGE = b"The client sent a plain HTTP request, but this port only speaks HTTPS.\n"
PLAIN_HTTP_ANSWER = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(_PLAIN_HTTP_MESSAGE), _PLAIN_HTTP_MESSAGE))


class _Connection(_cheroot.HTTPConnection):
    """One request per call of ``communicate`` (cheroot parks a kept-alive connection between requests); the
    first call does the TLS handshake."""

    def __init__(self, server, sock, makefile=_cheroot.MakeFile):
        super().__init__(server, sock, makefile)
        self.tls_pending = True  # not handshaken yet
        self.waited = False  # has waited in the selector for the client's first bytes

    def _handshake(self) -> bool:
        try:
            self.ssl_env = self.server.ssl_adapter.handshake(self.socket, self.server.timeout)
        except _errors.NoSSLError:
            try:  # the raw socket: the TLS layer has nothing to send
                socket.socket.sendall(self.socket, PLAIN_HTTP_ANSWER)
            except OSError:
                pass
            return False
        except _errors.FatalSSLAlert as exc:
            self.server.error_log(f"client {self.remote_addr}:{self.remote_port}: TLS handshake failed: {exc}")
            return False
        self.tls_pending = False
        return self._admit()

    client: str | None = None  # the address counted in ClientConnections until close (a watch: its hand-over)

    def _admit(self) -> bool:
        """Count this connection for its client address (api.connections_per_client); over it, one 429."""
        clients = getattr(self.server, "raftkube_clients", None)
        if clients is None or not self.remote_addr:
            return True
        if clients.acquire(self.remote_addr):
            self.client = self.remote_addr
            return True
        try:
            self.socket.sendall(clients.refusal())
        except OSError:
            pass
        return False

    def close(self):
        client, self.client = self.client, None
        if client is not None:
            self.server.raftkube_clients.release(client)
        super().close()

    def communicate(self):
        if self.tls_pending and not self._handshake():
            return False  # cheroot closes it
        deadlines, timeout_s = self.server.raftkube_requests
        deadlines.arm(self.socket, timeout_s)
        try:
            return super().communicate()
        finally:
            deadlines.disarm(self.socket)


class _Gateway(wsgi.Gateway_10):
    def start_response(self, status, headers, exc_info=None):
        self.req.server.raftkube_requests[0].disarm(self.req.conn.socket)  # the request has arrived
        return super().start_response(status, headers, exc_info)

    def get_environ(self):
        env = super().get_environ()
        env["raftkube.stream_sink"] = self._hand_off
        return env

    def _hand_off(self) -> SocketSink:
        req = self.req
        chunked, req.chunked_write = req.chunked_write, False  # cheroot must not end the body
        req.close_connection = True  # cheroot's thread lets go of the connection after this request
        req.conn.linger = True  # ... without closing the socket: it is the pump's now
        return SocketSink(req.conn.socket, chunked)


class _Server(wsgi.Server):
    def process_conn(self, conn):
        """A new connection waits in the selector for its first bytes before a worker takes it (and, in it, the
        handshake): a silent client holds a file descriptor, no thread."""
        if getattr(conn, "tls_pending", False) and not conn.waited:
            conn.waited = True
            self._connections.put(conn)
            return
        super().process_conn(conn)


def _marked(app):
    def secure_app(environ, start_response):
        environ["raftkube.secure"] = True
        return app(environ, start_response)
    return secure_app


class SecureServer:
    """``app`` over TLS on ``host:port`` in a thread the master can stop."""

    def __init__(self, app, host: str, port: int, threads: int, cert: str, key: str, ca: str,
                 connection_limit: int = 1000, read_timeout_s: float = 30.0, connections_per_client: int = 0):
        self._server = _Server((host, port), _marked(app), numthreads=threads, server_name="raftkube",
                               request_queue_size=256, timeout=read_timeout_s)
        self.requests = Deadlines("request")
        self._server.raftkube_requests = (self.requests, read_timeout_s)
        self._server.ConnectionClass = _Connection
        # cheroot keeps at most 10 idle keep-alive connections by default and closes the others after their
        # response: past 10 clients, every request then paid a new TLS handshake (a quarter of the CPU at 32)
        self._server.keep_alive_conn_limit = connection_limit
        self._server.gateway = _Gateway
        self._server.ssl_adapter = self._adapter = _Adapter(cert, key, ca)
        self._server.prepare()
        if connections_per_client:  # counted once a connection's TLS handshake is done (_Connection._admit)
            self._server.raftkube_clients = ClientConnections(connections_per_client, "secure API port")
        self._thread = threading.Thread(target=self._server.serve, name="api-tls", daemon=True)

    @property
    def port(self) -> int:
        return self._server.bind_addr[1]

    def start(self) -> "SecureServer":
        self.requests.start()
        self._adapter.handshakes.start()
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.stop()
        self._thread.join(timeout=2)
        self.requests.stop()
        self._adapter.handshakes.stop()
