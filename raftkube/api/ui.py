"""``/ui/``: the dashboard, static files shipped in the package (``raftkube/ui/``: HTML, CSS, JS; no build step).

The page talks to the API itself (lists, watches, ``/raft``, ``/metrics``), so this serves the files and
``/ui/masters.json``: the masters of the cluster (name and API URL), so that the page can show every
master's ``/raft`` and move to another master when the one it was loaded from dies. Reading another master
is a cross-origin request (another port), so a GET/HEAD answer lets a page read it when the page comes from one
of the cluster's masters (``CrossOriginReads``: the request's ``Origin`` is one of the masters' URLs, or a
loopback alias of one, and is echoed back). Any other page gets no CORS header: without that, a web page open
in a browser on a master's host could read every object through the loopback plain port, which needs no
credential. Writes get no CORS headers and no preflight is answered; the API refuses the bodies a browser sends
cross-site without a preflight (resources.read_value: 415 for form and text/plain bodies).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Iterable, Sequence
from urllib.parse import urlsplit

import falcon

_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".js": "text/javascript; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml",
          ".json": "application/json"}


_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def master_origins(urls: Iterable[str]) -> frozenset[str]:
    """The web origins of the masters' API URLs (``scheme://host:port``); a loopback master also under its other
    loopback names (a page opened at http://localhost:8080 reads http://127.0.0.1:8081)."""
    out = set()
    for url in urls:
        parts = urlsplit(url)
        if not parts.scheme or not parts.hostname:
            continue
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        hosts = _LOOPBACK_NAMES if host in _LOOPBACK_NAMES or host.startswith("127.") else (host,)
        out.update(f"{parts.scheme}://{h}:{port}" for h in hosts)
    return frozenset(out)


class CrossOriginReads:
    """Middleware: GET and HEAD answers may be read by a page from one of ``origins`` (the dashboard loaded from
    another master); not those of the admin endpoints (a backup of the whole store, api/operate.py)."""

    def __init__(self, origins: Iterable[str] = ()):
        self.origins = frozenset(origins)

    def process_response(self, req, resp, resource, req_succeeded):
        if req.method in ("GET", "HEAD") and not getattr(resource, "admin_only", False):
            origin = req.get_header("Origin")
            resp.append_header("Vary", "Origin")
            if origin in self.origins:
                resp.set_header("Access-Control-Allow-Origin", origin)


class UiResource:
    needs_ready = False

    def __init__(self, masters: Sequence[tuple[str, str]] = ()):
        root = resources.files("raftkube") / "ui"
        self.files = {p.name: (p.read_bytes(), _TYPES.get("." + p.name.rsplit(".", 1)[-1], "application/octet-stream"))
                      for p in root.iterdir() if p.is_file() and not p.name.startswith((".", "_"))}
        listed = [{"name": name, "url": url} for name, url in masters]
        self.files["masters.json"] = (json.dumps({"masters": listed}).encode(), _TYPES[".json"])

    def on_get(self, req, resp, name="index.html"):
        found = self.files.get(name)
        if found is None:
            raise falcon.HTTPNotFound()
        resp.data, resp.content_type = found
        resp.cache_control = ["no-cache"]


def add_ui(app: falcon.App, masters: Sequence[tuple[str, str]] = (), registry=None, version=None,
           pump=None) -> None:
    """``/ui``, ``/ui/`` (the app strips trailing slashes), ``/ui/<file>``; ``masters``: (name, API URL) pairs;
    with the registry and core/v1 ``version``, ``/ui/watch`` (raftkube/api/uiwatch.py, served by ``pump``)."""
    ui = UiResource(masters)
    if registry is not None and version is not None:
        from raftkube.api.uiwatch import MultiWatchResource
        app.add_route("/ui/watch", MultiWatchResource(version, registry, pump))
    app.add_route("/ui/{name}", ui)
    app.add_route("/ui", ui)
