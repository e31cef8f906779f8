"""The minion's HTTP port (default 10250), on the standard library's ThreadingHTTPServer.

* ``GET /healthz`` -> ``ok``
* ``GET /metrics`` -> the minion process's Prometheus metrics (raftkube/minion/metrics.py)
* ``GET /pods`` -> JSON ``{"kind": "PodList", "items": [...]}``: every pod this minion runs, its status as
  the kubelet computes it, and its containers (id, docker name, running, exit code, restartCount)
* ``GET /podInfo?podID=<name>[&podNamespace=<ns>]`` -> the 2014 PodInfo map (container name -> status;
  404 ``Pod does not exist``)
* ``GET /containerLogs/{namespace}/{pod}/{container}[?tail=N][&follow=1]`` -> the container's output,
  chunked; ``follow`` streams until the container exits or the client goes away

With ``tls`` (the minion's certificate from the cluster CA, issue 18) the port serves https only, and
``/pods``, ``/podInfo`` and ``/containerLogs`` need a client certificate of the cluster CA whose groups (O)
include ``admin`` or ``masters``: none -> 401, another (a minion's) -> 403. ``/healthz`` and ``/metrics``
(counts by phase, state and operation: no names) stay open. Without ``tls`` the port listens on loopback only.

Limits: at most ``max_connections`` (64) connections are served at once, one thread each; past that a new
connection is closed at once (plain HTTP: after a 503 with Retry-After). Every read and write on a connection
times out after ``read_timeout_s`` (30 s: a silent or idle kept-alive client, a reader that stopped reading a
log); the TLS handshake after ``HANDSHAKE_TIMEOUT_S``. Logs are streamed from the runtime in chunks, never
read whole into memory.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)

#: the groups (client certificate O) that may read pods and logs: the admin's and the masters'
READER_GROUPS = frozenset({"admin", "masters"})
OPEN_PATHS = (["healthz"], ["metrics"])
HANDSHAKE_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 64
READ_TIMEOUT_S = 30.0
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 1\r\n"
         b"Connection: close\r\nContent-Length: 40\r\n\r\nthe kubelet port is serving its maximum\n")


@dataclass(frozen=True)
class KubeletTls:
    """The kubelet port's certificate and key (the minion's own: pki/minions/<name>.*) and the cluster CA that
    signs its callers' client certificates."""

    cert_file: str
    key_file: str
    ca_file: str

    def context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert_file, self.key_file)
        ctx.load_verify_locations(self.ca_file)
        ctx.verify_mode = ssl.CERT_OPTIONAL  # /healthz is open; the handler asks for a certificate elsewhere
        return ctx


class _BoundedHttpServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with at most ``max_connections`` threads: one more connection is refused at once."""

    daemon_threads = True
    busy_answer = _BUSY  # what a refused connection is told (nothing on the TLS port: it is not TLS)

    def __init__(self, address, handler, max_connections: int = MAX_CONNECTIONS):
        self._slots = threading.BoundedSemaphore(max_connections)
        self.max_connections = max_connections
        self.refused = 0
        super().__init__(address, handler)

    @property
    def in_use(self) -> int:
        """Connections being served now."""
        return self.max_connections - self._slots._value

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            self.refused += 1
            if self.refused == 1 or self.refused % 100 == 0:
                log.warning("kubelet port: %d connection(s) refused so far: every connection slot busy",
                            self.refused)
            if self.busy_answer:
                try:
                    request.settimeout(1.0)
                    request.sendall(self.busy_answer)
                except OSError:
                    pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class _TlsHttpServer(_BoundedHttpServer):
    """TLS per connection, the handshake in the connection's own thread (a slow client blocks nobody)."""

    context: ssl.SSLContext
    busy_answer = b""

    def finish_request(self, request, client_address):
        request.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            conn = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("kubelet port: TLS handshake with %s failed: %s", client_address, exc)
            return
        try:
            conn.settimeout(None)
            super().finish_request(conn, client_address)
        finally:
            conn.close()


class MinionServer:
    def __init__(self, kubelets: Callable[[], list], host: str = "0.0.0.0", port: int = 10250, metrics=None,
                 tls: KubeletTls | None = None, *, max_connections: int = MAX_CONNECTIONS,
                 read_timeout_s: float = READ_TIMEOUT_S, revoked: Callable[[str], bool] = lambda serial: False):
        """``revoked(serial)``: whether a client certificate was revoked (minion/revocations.py)."""
        self._kubelets = kubelets
        self.revoked = revoked
        self.metrics = metrics  # a prometheus CollectorRegistry, or None: no /metrics
        self.tls = tls
        handler = type("Handler", (_Handler,), {"server_ref": self, "timeout": read_timeout_s})
        if tls is None:
            host = "127.0.0.1"  # no certificate: nobody else may reach pods and logs
            self.httpd = _BoundedHttpServer((host, port), handler, max_connections)
        else:
            self.httpd = _TlsHttpServer((host, port), handler, max_connections)
            self.httpd.context = tls.context()
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> "MinionServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="minion-http", daemon=True)
        self._thread.start()
        log.info("minion %s on port %d", "https" if self.tls else "HTTP (loopback only: no certificate)", self.port)
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def kubelets(self) -> list:
        return self._kubelets()


class _Handler(BaseHTTPRequestHandler):
    server_ref: MinionServer
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # route to logging at DEBUG instead of stderr
        log.debug("%s " + fmt, self.address_string(), *args)

    def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, doc) -> None:
        self._send(code, json.dumps(doc, indent=1).encode() + b"\n")

    def _text(self, code: int, text: str) -> None:
        self._send(code, text.encode(), "text/plain; charset=utf-8")

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [unquote(p) for p in url.path.split("/") if p]
        try:
            if parts not in OPEN_PATHS and not self._authorized():
                return
            if parts == ["healthz"]:
                self._text(200, "ok")
            elif parts == ["metrics"] and self.server_ref.metrics is not None:
                from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
                self._send(200, generate_latest(self.server_ref.metrics), CONTENT_TYPE_LATEST)
            elif parts == ["pods"]:
                items = [p for k in self.server_ref.kubelets() for p in k.pods_view()]
                self._json(200, {"kind": "PodList", "items": items})
            elif parts == ["podInfo"]:
                self._pod_info(q)
            elif len(parts) == 4 and parts[0] == "containerLogs":
                self._logs(parts[1], parts[2], parts[3], q)
            else:
                self._text(404, "404 page not found\n")
        except OSError:  # the client went away, or stopped reading for read_timeout_s
            self.close_connection = True

    def _authorized(self) -> bool:
        """True if the caller may read pods and logs; else answers 401 or 403 and returns False."""
        if self.server_ref.tls is None:
            return True
        cert = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        if not cert:
            self._text(401, "Unauthorized: a client certificate of the cluster CA (a master's or an admin's) is "
                            "required\n")
            return False
        subject = [attr for rdn in cert.get("subject", ()) for attr in rdn]
        user = next((v for k, v in subject if k == "commonName"), "")
        if self.server_ref.revoked(cert.get("serialNumber", "")):
            self._text(401, f'Unauthorized: the client certificate of "{user}" (serial '
                            f'{cert.get("serialNumber", "").lower()}) is revoked\n')
            return False
        if not READER_GROUPS & {v for k, v in subject if k == "organizationName"}:
            self._text(403, f'Forbidden: user "{user}" cannot read pods or logs of this minion (only a master or '
                            "an admin can)\n")
            return False
        return True

    def _pod_info(self, q: dict) -> None:
        pod_id, ns = q.get("podID"), q.get("podNamespace") or "default"
        if not pod_id:
            self._text(400, "Missing 'podID=' query entry.\n")
            return
        for k in self.server_ref.kubelets():
            for p in k.pods_view():
                if p["name"] == pod_id and p["namespace"] == ns:
                    st = p["status"]
                    info = {cs["name"]: {"state": cs["state"], "restartCount": cs["restartCount"],
                                         "image": cs["image"]} for cs in st["containerStatuses"]}
                    if st.get("podIP"):
                        info["net"] = {"state": {"running": {}}, "restartCount": 0, "podIP": st["podIP"]}
                    self._json(200, info)
                    return
        self._text(404, "Pod does not exist\n")

    def _logs(self, ns: str, pod: str, container: str, q: dict) -> None:
        found = None
        for k in self.server_ref.kubelets():
            found = k.find_container(ns, pod, container)
            if found is not None:
                runtime = k.runtime
                break
        if found is None:
            self._text(404, f'container "{container}" of pod "{ns}/{pod}" not found on this minion\n')
            return
        tail = None
        if q.get("tail"):
            try:
                tail = int(q["tail"])
            except ValueError:
                self._text(400, "tail must be an integer\n")
                return
        follow = (q.get("follow") or "").lower() in ("1", "true", "yes")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in runtime.logs(found.id, tail=tail, follow=follow):
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
