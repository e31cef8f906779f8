"""The minion's HTTP port (default 10250), on the standard library's ThreadingHTTPServer.

* ``GET /healthz`` -> ``ok``
* ``GET /metrics`` -> the minion process's Prometheus metrics (raftkube/minion/metrics.py)
* ``GET /pods`` -> JSON ``{"kind": "PodList", "items": [...]}``: every pod this minion runs, its status as
  the kubelet computes it, and its containers (id, docker name, running, exit code, restartCount)
* ``GET /podInfo?podID=<name>[&podNamespace=<ns>]`` -> the 2014 PodInfo map (container name -> status;
  404 ``Pod does not exist``)
* ``GET /containerLogs/{namespace}/{pod}/{container}[?tail=N][&follow=1]`` -> the container's output,
  chunked; ``follow`` streams until the container exits or the client goes away
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)


class MinionServer:
    def __init__(self, kubelets: Callable[[], list], host: str = "0.0.0.0", port: int = 10250, metrics=None):
        self._kubelets = kubelets
        self.metrics = metrics  # a prometheus CollectorRegistry, or None: no /metrics
        handler = type("Handler", (_Handler,), {"server_ref": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> "MinionServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="minion-http", daemon=True)
        self._thread.start()
        log.info("minion HTTP on port %d", self.port)
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
        except (BrokenPipeError, ConnectionResetError):
            pass

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
