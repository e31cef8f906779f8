"""Prometheus metrics of the API: a Falcon middleware that counts and times every request, and ``/metrics``.

Each app has its own ``CollectorRegistry`` (tests build several apps, and start several masters, in one
process). Labels are bounded: ``resource`` is a name of the version's resource table (else ``other``), and
the verb is Kubernetes' (GET of a collection is ``LIST``, a watch is ``WATCH``).

The cost per request is two clock reads, one dict lookup of the cached label children and three updates
(bench/metrics_overhead_bench.py measures it: ~5 µs per request, the middleware alone).
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: request latency buckets (seconds): a leased read takes ~1 ms, a write a few, a write under load tens
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """The middleware (``process_request``/``process_resource``/``process_response``) and its metrics."""

    def __init__(self, registry: CollectorRegistry, watch_pump=None):
        self.registry = registry
        self.requests = Counter("raftkube_api_requests", "API requests answered, by verb, resource, version "
                                "and HTTP code", ["verb", "resource", "version", "code"], registry=registry)
        self.latency = Histogram("raftkube_api_request_duration_seconds", "Time to answer an API request (a "
                                 "watch: until its stream starts)", ["verb", "resource", "version"],
                                 buckets=LATENCY_BUCKETS, registry=registry)
        self.inflight = Gauge("raftkube_api_requests_in_flight", "API requests being handled now (watch "
                              "streams not included)", registry=registry)
        self.watches = Gauge("raftkube_api_watches", "Watch streams open now", registry=registry)
        self._threaded = 0  # watch streams served by a worker thread (not the pump)
        if watch_pump is not None:
            self.watches.set_function(lambda: self._threaded + watch_pump.open_watches)
            Gauge("raftkube_watch_pump_busy_seconds", "Time the watch pump thread spent serving watches (its "
                  "utilisation is the rate of this)", registry=registry).set_function(lambda: watch_pump.busy_s)
            Gauge("raftkube_watch_dropped", "Watchers dropped because they did not read (watch_stall_s)",
                  registry=registry).set_function(lambda: watch_pump.dropped_slow)
        self._children: dict[tuple, tuple] = {}

    # ---- middleware ---------------------------------------------------------------------------
    def process_request(self, req, resp):
        req.context.metrics_t0 = time.perf_counter()
        self.inflight.inc()

    def process_resource(self, req, resp, resource, params):
        req.context.metrics_route = (resource, params)

    def process_response(self, req, resp, resource, req_succeeded):
        t0 = req.context.get("metrics_t0")
        if t0 is None:
            return
        self.inflight.dec()
        verb, res, version = self._labels(req)
        key = (verb, res, version, resp.status_code)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.requests.labels(verb, res, version, str(resp.status_code)),
                                              self.latency.labels(verb, res, version))
        children[0].inc()
        children[1].observe(time.perf_counter() - t0)
        if resp.stream is not None and verb == "WATCH" and not req.context.get("watch_pumped"):
            resp.stream = self._counted(resp.stream)

    def _counted(self, stream):
        self._threaded += 1
        self.watches.inc()
        try:
            yield from stream
        finally:
            self._threaded -= 1
            self.watches.dec()
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    @staticmethod
    def _labels(req) -> tuple[str, str, str]:
        resource, params = req.context.get("metrics_route") or (None, {})
        version = getattr(resource, "version", None)
        vname = getattr(version, "name", "") if version is not None else ""
        name = params.get("resource")
        template = req.uri_template or ""
        if name is not None:
            if version is None or version.resource(name) is None:
                name = "other"  # unknown names answer 404: keep them out of the label values
        elif template:
            name = template.rstrip("/").rsplit("/", 1)[-1] or "root"
            if name.startswith("{"):
                name = "other"
        else:
            name = "other"  # no route matched
        if template.endswith("/status") and name != "status":
            name += "/status"
        elif template.endswith("/scale"):
            name = "replicationcontrollers/scale"
        method = req.method
        if method == "GET":
            if ("/watch/" in template or template.endswith("/watch")
                    or (req.get_param("watch") or "").lower() in ("true", "1")):
                method = "WATCH"
            elif "name" not in params and params.get("resource") is not None:
                method = "LIST"
        return method, name, vname


class MetricsResource:
    """``GET /metrics``: the Prometheus text exposition of one registry."""

    needs_ready = False

    def __init__(self, registry: CollectorRegistry, watch_pump=None):
        self.registry = registry

    def on_get(self, req, resp):
        resp.content_type = CONTENT_TYPE_LATEST
        resp.data = generate_latest(self.registry)


__all__ = ["ApiMetrics", "LATENCY_BUCKETS", "MetricsResource"]
