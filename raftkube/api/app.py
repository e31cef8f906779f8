"""create_app(registry, store, settings): the v1beta1 routes of one master."""

from __future__ import annotations

import json
import logging

import falcon

from raftkube import __version__
from raftkube.api import errors
from raftkube.api.resources import (BindingResource, CollectionResource, ItemResource, StatusResource,
                                    WatchResource, read_body)
from raftkube.config import ApiConfig
from raftkube.model.errors import Unavailable

log = logging.getLogger(__name__)


class _ReadyGate:
    """Before this master has caught up with the log (pysyncobj onReady), API calls answer 503."""

    def __init__(self, store):
        self.store = store

    def process_resource(self, req, resp, resource, params):
        if getattr(resource, "needs_ready", True) and not self.store.ready:
            raise Unavailable("this master is still catching up with the Raft log", retry_after_s=1.0)


class _Plain:
    needs_ready = False

    def __init__(self, body_fn, content_type=falcon.MEDIA_TEXT):
        self.body_fn = body_fn
        self.content_type = content_type

    def on_get(self, req, resp):
        code, body = self.body_fn()
        resp.status = code
        resp.content_type = self.content_type
        resp.data = body if isinstance(body, bytes) else (json.dumps(body).encode()
                                                            if not isinstance(body, str) else body.encode())


def create_app(registry, store, settings: ApiConfig | None = None) -> falcon.App:
    settings = settings or ApiConfig()
    app = falcon.App(middleware=[_ReadyGate(store)])
    app.req_options.keep_blank_qs_values = True
    app.req_options.strip_url_path_trailing_slash = True
    errors.install(app)

    def ready():
        if store.ready:
            return 200, "ok"
        return 503, "not ready: catching up with the Raft log"

    app.add_route("/healthz", _Plain(lambda: (200, "ok")))
    app.add_route("/readyz", _Plain(ready))
    app.add_route("/version", _Plain(lambda: (200, {"major": "0", "minor": "4", "gitVersion": f"raftkube-{__version__}",
                                                    "platform": "python"}), falcon.MEDIA_JSON))
    app.add_route("/api", _Plain(lambda: (200, {"versions": ["v1beta1"]}), falcon.MEDIA_JSON))
    app.add_route("/raft", _Plain(lambda: (200, store.status()), falcon.MEDIA_JSON))

    prefix = "/api/v1beta1"
    limit = settings.max_body_bytes
    app.add_route(prefix + "/bindings", BindingResource(registry, limit))
    app.add_route(prefix + "/watch/{resource}", WatchResource(registry))
    app.add_route(prefix + "/{resource}", CollectionResource(registry, limit))
    app.add_route(prefix + "/{resource}/{name}", ItemResource(registry, limit))
    app.add_route(prefix + "/{resource}/{name}/status", StatusResource(registry, limit))
    return app


__all__ = ["create_app", "read_body"]
