"""``/ui/``: the dashboard, static files shipped in the package (``raftkube/ui/``: HTML, CSS, JS; no build step).

The page talks to the API itself (lists, watches, ``/raft``, ``/metrics``), so this serves the files and
``/ui/masters.json``: the masters of the cluster (name and API URL), so that the page can show every
master's ``/raft`` and move to another master when the one it was loaded from dies. Reading another master
is a cross-origin request (another port), so every GET/HEAD answer carries ``Access-Control-Allow-Origin:
*`` (``CrossOriginReads``). Writes get no CORS headers, no preflight is answered: a page of another origin
cannot read anything it could not already fetch, and gets no new way to write.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Sequence

import falcon

_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".js": "text/javascript; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml",
          ".json": "application/json"}


class CrossOriginReads:
    """Middleware: GET and HEAD answers may be read by a page of any origin (the dashboard of another master);
    not those of the admin endpoints (a backup of the whole store, api/operate.py)."""

    def process_response(self, req, resp, resource, req_succeeded):
        if req.method in ("GET", "HEAD") and not getattr(resource, "admin_only", False):
            resp.set_header("Access-Control-Allow-Origin", "*")


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


def add_ui(app: falcon.App, masters: Sequence[tuple[str, str]] = (), registry=None, version=None) -> None:
    """``/ui``, ``/ui/`` (the app strips trailing slashes), ``/ui/<file>``; ``masters``: (name, API URL) pairs;
    with the registry and core/v1 ``version``, ``/ui/watch`` (raftkube/api/uiwatch.py)."""
    ui = UiResource(masters)
    if registry is not None and version is not None:
        from raftkube.api.uiwatch import MultiWatchResource
        app.add_route("/ui/watch", MultiWatchResource(version, registry))
    app.add_route("/ui/{name}", ui)
    app.add_route("/ui", ui)
