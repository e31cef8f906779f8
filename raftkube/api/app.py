"""create_app(registry, store, settings, versions): the routes of one master, for every registered API version.

Each version with resources gets ``/api/<version>/<resource>[/<name>[/status]]``, ``/api/<version>/watch/
<resource>`` and, when its table has the verb, ``/api/<version>/bindings``; ``/api`` lists those versions. A
registered version without resources adds nothing.
"""

from __future__ import annotations

import json
import logging
from typing import Sequence

import falcon

from raftkube.api import errors
from raftkube.api.admission import AdmissionPolicy
from raftkube.api.auth import Authenticator, AuthMiddleware
from raftkube.api.kube import add_meta, add_namespaced, version_info
from raftkube.api.metrics import ApiMetrics, MetricsResource
from raftkube.api.operate import add_operate
from raftkube.api.revocations import add_revocations
from raftkube.api.ui import CrossOriginReads, add_ui, master_origins
from raftkube.api.resources import (BindingResource, CollectionResource, ItemResource, StatusResource,
                                    WatchResource, read_body)
from raftkube.apis import VERSIONS, ApiVersion
from raftkube.config import AdmissionConfig, ApiConfig
from raftkube.model.errors import Unavailable
from raftkube.state.metrics import StoreCollector

log = logging.getLogger(__name__)


class _ReadyGate:
    """Before this master has caught up with the log (pysyncobj onReady), API calls answer 503.

    It also notes which API version serves the request, so that errors answer in that version's Status.
    """

    def __init__(self, store):
        self.store = store

    def process_resource(self, req, resp, resource, params):
        req.context.api_version = getattr(resource, "version", None)
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


def add_version(app: falcon.App, version: ApiVersion, registry, body_limit: int, pump=None) -> None:
    """The routes of one API version, from its resource table."""
    prefix = version.prefix
    if version.serves_bindings:
        app.add_route(prefix + "/bindings", BindingResource(version, registry, body_limit))
    app.add_route(prefix + "/watch/{resource}", WatchResource(version, registry, pump=pump))
    if getattr(version, "namespaced_paths", False):
        add_namespaced(app, version, registry, body_limit, pump)
    else:
        app.add_route(prefix + "/{resource}", CollectionResource(version, registry, body_limit))
        app.add_route(prefix + "/{resource}/{name}", ItemResource(version, registry, body_limit))
    app.add_route(prefix + "/{resource}/{name}/status", StatusResource(version, registry, body_limit))


def create_app(registry, store, settings: ApiConfig | None = None,
               versions: Sequence[ApiVersion] = VERSIONS, metrics=None,
               masters: Sequence[tuple[str, str]] = (), authenticator: Authenticator | None = None,
               admission: AdmissionConfig | None = None, watch_pump=None,
               secure_urls: dict[str, str] | None = None) -> falcon.App:
    """The app of one master; ``versions[0]`` is the preferred version (it answers paths of no version).

    ``metrics`` is the process's prometheus ``CollectorRegistry`` (a new one if None); with
    ``settings.metrics`` false, requests are not counted and ``/metrics`` is not served. ``watch_pump``
    (api/watchpump.py) serves watch streams without holding a worker thread each; without one, each open
    watch holds a thread.
    """
    settings = settings or ApiConfig()
    served = [v for v in versions if v.resources]
    origins = master_origins([url for _, url in masters] + list((secure_urls or {}).values()))
    middleware = [CrossOriginReads(origins), _ReadyGate(store), AuthMiddleware(authenticator or Authenticator(None)),
                  AdmissionPolicy(admission or AdmissionConfig())]
    if settings.metrics:
        from prometheus_client import CollectorRegistry
        metrics = CollectorRegistry() if metrics is None else metrics
        metrics.register(StoreCollector(store))
        middleware.insert(0, ApiMetrics(metrics, watch_pump))
    app = falcon.App(middleware=middleware)
    app.req_options.keep_blank_qs_values = True
    app.req_options.strip_url_path_trailing_slash = True
    errors.install(app, versions[0])

    def ready():
        if store.ready:
            return 200, "ok"
        return 503, "not ready: catching up with the Raft log"

    app.add_route("/healthz", _Plain(lambda: (200, "ok")))
    app.add_route("/readyz", _Plain(ready))
    app.add_route("/version", _Plain(lambda: (200, version_info()), falcon.MEDIA_JSON))
    discoverable = [v for v in served if hasattr(v, "discovery")]
    if discoverable:  # kubectl: /api lists only the versions it can discover (core/v1), /apis, /openapi/v2
        add_meta(app, discoverable)
    else:
        app.add_route("/api", _Plain(lambda: (200, {"versions": [v.name for v in served]}), falcon.MEDIA_JSON))
    app.add_route("/raft", _Plain(lambda: (200, store.status()), falcon.MEDIA_JSON))
    add_operate(app, store, masters, secure_urls or {})
    add_revocations(app, registry)
    if settings.metrics:
        app.add_route("/metrics", MetricsResource(metrics))
    add_ui(app, masters, registry, next((v for v in served if v.name == "v1"), None), watch_pump)
    for version in served:
        add_version(app, version, registry, settings.max_body_bytes, watch_pump)
    return app


__all__ = ["add_version", "create_app", "read_body"]
