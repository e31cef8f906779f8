"""``/ui/``: the dashboard, static files shipped in the package (``raftkube/ui/``: HTML, CSS, JS; no build step).

The page talks to the API itself (lists, watches, ``/raft``, ``/metrics``), so this only serves files.
"""

from __future__ import annotations

from importlib import resources

import falcon

_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".js": "text/javascript; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}


class UiResource:
    needs_ready = False

    def __init__(self):
        root = resources.files("raftkube") / "ui"
        self.files = {p.name: (p.read_bytes(), _TYPES.get("." + p.name.rsplit(".", 1)[-1], "application/octet-stream"))
                      for p in root.iterdir() if p.is_file() and not p.name.startswith((".", "_"))}

    def on_get(self, req, resp, name="index.html"):
        found = self.files.get(name)
        if found is None:
            raise falcon.HTTPNotFound()
        resp.data, resp.content_type = found
        resp.cache_control = ["no-cache"]


def add_ui(app: falcon.App) -> None:
    ui = UiResource()
    app.add_route("/ui/{name}", ui)
    app.add_route("/ui", ui)  # /ui/ too: the app strips trailing slashes
