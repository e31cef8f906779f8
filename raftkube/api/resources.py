"""Falcon resources of one API version: parse the request, call the registry, answer in the version's format.

Each resource is built for one ``ApiVersion``: it looks the URL's resource up in that version's table, has
the version decode bodies into internal objects and encode the registry's answers, and turns the registry's
errors (internal nouns and field paths) into the version's terms. Nothing here knows a wire format.
"""

from __future__ import annotations

import json
import logging
import re
import time

import falcon

from raftkube.api import decode, protobuf
from raftkube.api.admission import admit_create, admit_update, needs_old
from raftkube.api.delete_options import delete_preconditions, propagation_policy
from raftkube.api.watchpump import Watcher, event_line, pumped_body
from raftkube.apis import ApiVersion, Resource
from raftkube.apis.headers import ATTEMPT_HEADER, REQUEST_ID_HEADER
from raftkube.model.errors import (ApiError, BadRequest, Gone, Invalid, MethodNotAllowed, NotFound, RequestTooLarge,
                                   UnsupportedMediaType)
from raftkube.model.objects import DEFAULT_NAMESPACE
from raftkube.registry import WriteRequest
from raftkube.state.machine import REQUEST_ID_MAX_LEN

log = logging.getLogger(__name__)


#: the bodies a browser sends to another origin without asking first (a CORS "simple request"): refused, so that a
#: web page cannot write through a master's credential-free loopback port
BROWSER_SIMPLE_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})


def read_body(req: falcon.Request, limit: int, *, required: bool = True) -> dict | None:
    """The JSON (or YAML) object in the request body; 400/413 with a clear message otherwise (an empty body:
    None unless ``required``)."""
    raw = _raw_body(req, limit, required)
    if raw is None:
        return None
    body = _decode_body(req, raw)
    if not isinstance(body, dict):
        raise BadRequest(f"the request body must be a JSON object, not {type(body).__name__}")
    return body


def read_value(req: falcon.Request, limit: int):
    """The JSON (or YAML) value in the request body (a JSON patch is a list); 400/413 otherwise."""
    return _decode_body(req, _raw_body(req, limit, True))


def _raw_body(req: falcon.Request, limit: int, required: bool) -> bytes | None:
    length = req.content_length
    if length is not None and length > limit:
        raise RequestTooLarge(f"request body of {length} bytes is larger than the limit of {limit} bytes")
    raw = req.bounded_stream.read(limit + 1)
    if len(raw) > limit:
        raise RequestTooLarge(f"request body is larger than the limit of {limit} bytes")
    if not raw.strip():
        if not required:
            return None
        raise BadRequest("the request needs a JSON body")
    if (req.content_type or "").split(";")[0].strip().lower() in BROWSER_SIMPLE_TYPES:
        raise UnsupportedMediaType(f"the body of the request was in an unknown format ({req.content_type}): "
                                   "send application/json (or YAML)")
    return raw


def _decode_body(req: falcon.Request, raw: bytes):
    if (req.content_type or "").startswith(protobuf.MEDIA_TYPE):
        return protobuf.decode(raw)
    if "yaml" in (req.content_type or ""):
        try:
            return decode.decode_json(raw)
        except BadRequest:
            return decode.decode_yaml(raw)
    return decode.decode_json(raw)


_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{REQUEST_ID_MAX_LEN}}}")


def write_request(req: falcon.Request) -> WriteRequest | None:
    """The write's request id, if the client sent one; 400 for a malformed id or attempt number."""
    rid = req.get_header(REQUEST_ID_HEADER)
    if rid is None:
        return None
    if not _REQUEST_ID.fullmatch(rid):
        raise BadRequest(f"{REQUEST_ID_HEADER} must be 1 to {REQUEST_ID_MAX_LEN} letters, digits or ._:-")
    attempt = req.get_header(ATTEMPT_HEADER) or "1"
    if not attempt.isdigit() or not 1 <= int(attempt) <= 1_000_000:
        raise BadRequest(f"{ATTEMPT_HEADER} must be a positive integer, got {attempt[:40]!r}")
    return WriteRequest(rid, replay=int(attempt) > 1)


def _namespace(req: falcon.Request, *, for_list: bool = False) -> str | None:
    ns = req.get_param("namespace")
    if ns is None or ns == "":
        return None if for_list else DEFAULT_NAMESPACE
    return ns


def _int_param(req: falcon.Request, name: str) -> int:
    value = req.get_param(name)
    if value in (None, ""):
        return 0
    try:
        n = int(value)
    except ValueError:
        raise Invalid(f"invalid {name} {value!r}: must be a non-negative integer") from None
    if n < 0:
        raise Invalid(f"invalid {name} {value!r}: must be a non-negative integer")
    return n


def _bool_param(req: falcon.Request, name: str) -> bool:
    """A boolean query parameter as Kubernetes reads one (Go's strconv.ParseBool); absent or empty: false."""
    value = req.get_param(name)
    if value in (None, ""):
        return False
    if value in ("1", "t", "T", "true", "TRUE", "True", "0", "f", "F", "false", "FALSE", "False"):
        return value in ("1", "t", "T", "true", "TRUE", "True")
    raise BadRequest(f"invalid {name} {value[:40]!r}: must be true or false")


def _json(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _send(resp: falcon.Response, body: dict, code: int = 200) -> None:
    _send_data(resp, _json(body), code)


def _send_data(resp: falcon.Response, data: bytes, code: int = 200) -> None:
    resp.status = code
    resp.content_type = falcon.MEDIA_JSON
    resp.data = data


class _VersionResource:
    """What every resource of a version shares: the table lookup, selectors, and errors in the version's terms."""

    def __init__(self, version: ApiVersion, registry, body_limit: int = 0):
        self.version = version
        self.registry = registry
        self.body_limit = body_limit

    def _resource(self, name: str, verb: str | None, req: falcon.Request) -> Resource:
        """The resource ``name`` of this version's table, which must serve ``verb``."""
        res = self.version.resource(name)
        if res is None:
            raise NotFound(f'Not Found: unknown resource "{name}"')
        if verb is not None and verb not in res.verbs:
            raise MethodNotAllowed(f"the method {req.method} is not allowed on {req.path}")
        return res

    def _selectors(self, req: falcon.Request, res: Resource):
        labels = req.get_param("labels") or req.get_param("labelSelector")
        fields = req.get_param("fields") or req.get_param("fieldSelector")
        return (self.version.label_selector(labels) if labels else None,
                self.version.field_selector(res, fields) if fields else None)

    def _call(self, res: Resource | None, fn, *args, obj: dict | None = None, **kw):
        """``fn(*args, **kw)`` of the registry, its errors in the version's terms (``obj``: what it writes)."""
        try:
            return fn(*args, **kw)
        except ApiError as exc:
            raise self.version.error(exc, res, obj) from None


class CollectionResource(_VersionResource):
    def on_get(self, req, resp, resource):
        res = self._resource(resource, "list", req)
        labels, fields = self._selectors(req, res)
        consistent = req.get_param("resourceVersion") != "0"
        items, revision = self._call(res, self.registry.list, res.kind, _namespace(req, for_list=True), labels,
                                     fields, consistent=consistent)
        _send(resp, self.version.encode_list(res, items, revision, req.relative_uri))

    def on_post(self, req, resp, resource):
        res = self._resource(resource, "create", req)
        obj = self.version.decode(res, read_body(req, self.body_limit), namespace=_namespace(req))
        self._call(res, admit_create, req, obj)
        _send(resp, self.version.encode(self._call(res, self.registry.create, obj, obj=obj,
                                                   request=write_request(req))))


class ItemResource(_VersionResource):
    def __init__(self, version: ApiVersion, registry, body_limit: int):
        super().__init__(version, registry, body_limit)
        # one function per version, so that the registry's rendering cache recognises it
        self._render = lambda obj: _json(version.encode(obj))

    def on_get(self, req, resp, resource, name):
        res = self._resource(resource, "get", req)
        consistent = req.get_param("resourceVersion") != "0"
        _send_data(resp, self._call(res, self.registry.get_rendered, res.kind, _namespace(req), name, self._render,
                                    consistent=consistent))

    def on_put(self, req, resp, resource, name):
        res = self._resource(resource, "update", req)
        obj = self.version.decode(res, read_body(req, self.body_limit), namespace=_namespace(req), name=name)
        old = self._call(res, self.registry.get, res.kind, _namespace(req), name) if needs_old(obj) else None
        self._call(res, admit_update, req, obj, old)
        _send(resp, self.version.encode(self._call(res, self.registry.update, obj, obj=obj,
                                                   request=write_request(req))))

    def on_delete(self, req, resp, resource, name):
        res = self._resource(resource, "delete", req)
        body = read_body(req, self.body_limit, required=False)
        rv, uid = delete_preconditions(body)
        policy = propagation_policy(body, default="Orphan")  # 2014: deleting an RC leaves its pods
        self._call(res, self.registry.delete, res.kind, _namespace(req), name, rv=rv, uid=uid,
                   orphan=policy == "Orphan", foreground=policy == "Foreground", request=write_request(req))
        _send(resp, self.version.success_body())


class StatusResource(_VersionResource):
    """PUT .../{name}/status: the kubelet's pod status and the minion's heartbeat; the spec is untouched."""

    def on_put(self, req, resp, resource, name):
        res = self._resource(resource, None, req)
        if "status" not in res.verbs:
            raise NotFound(f'Not Found: "{req.path}"')
        obj = self.version.decode_status(res, read_body(req, self.body_limit), namespace=_namespace(req), name=name)
        _send(resp, self.version.encode(self._call(res, self.registry.update_status, obj, obj=obj,
                                                   request=write_request(req))))


class BindingResource(_VersionResource):
    """POST .../bindings: bind a pod to a node."""

    def __init__(self, version: ApiVersion, registry, body_limit: int):
        super().__init__(version, registry, body_limit)
        self.pods = next(r for r in version.resources.values() if "bindings" in r.verbs)

    def on_post(self, req, resp):
        binding = self.version.decode_binding(read_body(req, self.body_limit))
        self._call(self.pods, self.registry.bind, binding.namespace or _namespace(req), binding.pod, binding.node,
                   request=write_request(req))
        _send(resp, self.version.success_body())


class WatchResource(_VersionResource):
    """Newline-delimited JSON events: {"type": ADDED|MODIFIED|DELETED|ERROR, "object": {...}}.

    With a watch pump and a server that can hand a connection over (``raftkube.stream_sink`` in the WSGI
    environ: api/server.py, api/tls.py), this thread sends the head and the initial events, then the pump
    serves the stream (api/watchpump.py); otherwise (Falcon's test client) this thread streams it.
    """

    needs_ready = True

    def __init__(self, version: ApiVersion, registry, body_limit: int = 0, pump=None):
        super().__init__(version, registry, body_limit)
        self.pump = pump
        self._line = event_line(version.encode)

    def on_get(self, req, resp, resource):
        res = self._resource(resource, "watch", req)
        labels, fields = self._selectors(req, res)
        rv = _int_param(req, "resourceVersion")
        bookmarks = _bool_param(req, "allowWatchBookmarks")  # sent by the pump (none on the streaming path)
        timeout_s = _int_param(req, "timeoutSeconds")  # the pump ends the stream then (0: never)
        encode = self.event_encoder(req, res)
        resp.content_type = "application/json"
        hand_over = req.env.get("raftkube.stream_sink")
        if self.pump is not None and hand_over is not None:
            client = (getattr(getattr(req.context, "user", None), "name", None), req.remote_addr)
            self.pump.admit(client)  # 429 over a limit
            try:
                feed = self._call(res, self.registry.watch_feed, res.kind, _namespace(req, for_list=True), labels,
                                  fields, rv)
            except BaseException:
                self.pump.release(client)
                raise
            line, key = (self._line, self.version.name) if encode is None else (event_line(encode), None)
            watcher = Watcher(feed, line, key, self._gone_line, self.version.watch_filler, client)
            if bookmarks:
                watcher.bookmark = self.version.bookmark_line(res)
            if timeout_s:
                watcher.ends_at = time.monotonic() + timeout_s
            resp.stream = pumped_body(self.pump, [watcher], hand_over, self.version.watch_filler)
            req.context.watch_pumped = True  # counted by the pump (raftkube_api_watches)
            return
        disconnected = req.env.get("waitress.client_disconnected") or (lambda: False)
        events = self.registry.watch(res.kind, _namespace(req, for_list=True), labels, fields, rv,
                                     stop=disconnected)
        resp.stream = _stream(events, self.version, encode=encode)

    def _gone_line(self, message: str) -> bytes:
        return json.dumps({"type": "ERROR", "object": self.version.status_body(410, "Gone", message)}).encode() + b"\n"

    def event_encoder(self, req, res: Resource):
        """How one event's internal object goes on the wire (None: the version's ``encode``)."""
        return None


def _stream(events, version: ApiVersion, keepalive_s: float = 15.0, encode=None):
    # waitress sends the headers with the first non-empty chunk: whitespace (``version.watch_filler``, between
    # JSON values, skipped by stream decoders) lets them leave at once, before any event exists. The same every
    # ``keepalive_s`` on an idle stream tells clients the master is alive (and waitress if they are not).
    yield version.watch_filler
    idle_since = time.monotonic()
    try:
        for ev in events:
            if ev is None:  # idle: the registry polls the stop check (waitress.client_disconnected)
                if time.monotonic() - idle_since >= keepalive_s:
                    idle_since = time.monotonic()
                    yield version.watch_filler
                continue
            idle_since = time.monotonic()
            yield json.dumps({"type": ev.type, "object": (encode or version.encode)(ev.object)},
                             separators=(",", ":")).encode() + b"\n"
    except Gone as exc:
        status = version.status_body(410, "Gone", exc.message)
        yield json.dumps({"type": "ERROR", "object": status}).encode() + b"\n"
    finally:
        events.close()
