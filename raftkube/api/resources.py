"""Falcon resources: parse the request, call the registry, convert to the v1beta1 wire format."""

from __future__ import annotations

import json
import logging
import time

import falcon

from raftkube.api.errors import success_body
from raftkube.model import v1beta1
from raftkube.model.errors import BadRequest, Conflict, Gone, Invalid, NotFound, RequestTooLarge
from raftkube.model.objects import DEFAULT_NAMESPACE, RESOURCES, Resource
from raftkube.model.selectors import parse_field_selector, parse_label_selector

log = logging.getLogger(__name__)


def _resource(name: str) -> Resource:
    res = RESOURCES.get(name)
    if res is None:
        raise NotFound(f'Not Found: unknown resource "{name}"')
    return res


def read_body(req: falcon.Request, limit: int) -> dict:
    """The JSON (or YAML) object in the request body; 400/413 with a clear message otherwise."""
    length = req.content_length
    if length is not None and length > limit:
        raise RequestTooLarge(f"request body of {length} bytes is larger than the limit of {limit} bytes")
    raw = req.bounded_stream.read(limit + 1)
    if len(raw) > limit:
        raise RequestTooLarge(f"request body is larger than the limit of {limit} bytes")
    if not raw.strip():
        raise BadRequest("the request needs a JSON body")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        if "yaml" not in (req.content_type or ""):
            raise BadRequest(f"malformed JSON in the request body: {exc}") from None
        body = _yaml(raw)
    if not isinstance(body, dict):
        raise BadRequest(f"the request body must be a JSON object, not {type(body).__name__}")
    return body


def _yaml(raw: bytes):
    import yaml
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise BadRequest(f"malformed YAML in the request body: {exc}") from None


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


def _selectors(req: falcon.Request, kind: str):
    labels = req.get_param("labels") or req.get_param("labelSelector")
    fields = req.get_param("fields") or req.get_param("fieldSelector")
    return (parse_label_selector(labels) if labels else None,
            parse_field_selector(kind, fields) if fields else None)


def _json(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _v1beta1_json(obj: dict) -> bytes:
    return _json(v1beta1.to_wire(obj))


def _send(resp: falcon.Response, body: dict, code: int = 200) -> None:
    _send_data(resp, _json(body), code)


def _send_data(resp: falcon.Response, data: bytes, code: int = 200) -> None:
    resp.status = code
    resp.content_type = falcon.MEDIA_JSON
    resp.data = data


def _decode(res: Resource, body: dict, namespace: str) -> dict:
    body_ns = body.get("namespace")
    if body_ns and namespace and body_ns != namespace and res.namespaced:
        raise Conflict(f"the namespace of the object ({body_ns}) does not match the namespace of the "
                       f"request ({namespace})")
    return v1beta1.from_wire(res.kind, body, namespace=body_ns or namespace)


class CollectionResource:
    def __init__(self, registry, body_limit: int):
        self.registry = registry
        self.body_limit = body_limit

    def on_get(self, req, resp, resource):
        res = _resource(resource)
        labels, fields = _selectors(req, res.kind)
        consistent = req.get_param("resourceVersion") != "0"
        items, revision = self.registry.list(res.kind, _namespace(req, for_list=True), labels, fields,
                                             consistent=consistent)
        _send(resp, v1beta1.list_to_wire(res.kind, items, revision, req.relative_uri))

    def on_post(self, req, resp, resource):
        res = _resource(resource)
        obj = _decode(res, read_body(req, self.body_limit), _namespace(req))
        _send(resp, v1beta1.to_wire(self.registry.create(obj)))


class ItemResource:
    def __init__(self, registry, body_limit: int):
        self.registry = registry
        self.body_limit = body_limit

    def on_get(self, req, resp, resource, name):
        res = _resource(resource)
        consistent = req.get_param("resourceVersion") != "0"
        _send_data(resp, self.registry.get_rendered(res.kind, _namespace(req), name, _v1beta1_json,
                                                    consistent=consistent))

    def on_put(self, req, resp, resource, name):
        res = _resource(resource)
        body = read_body(req, self.body_limit)
        obj = _decode(res, body, _namespace(req))
        if obj["metadata"].get("name") and obj["metadata"]["name"] != name:
            raise BadRequest(f"the id in the body ({obj['metadata']['name']!r}) does not match the URL ({name!r})")
        obj["metadata"]["name"] = name
        _send(resp, v1beta1.to_wire(self.registry.update(obj)))

    def on_delete(self, req, resp, resource, name):
        res = _resource(resource)
        self.registry.delete(res.kind, _namespace(req), name)
        _send(resp, success_body())


class StatusResource:
    """PUT .../{name}/status: the kubelet's pod status and the minion's heartbeat; the spec is untouched."""

    def __init__(self, registry, body_limit: int):
        self.registry = registry
        self.body_limit = body_limit

    def on_put(self, req, resp, resource, name):
        res = _resource(resource)
        if res.kind not in ("Pod", "Node"):
            raise NotFound(f'Not Found: "{req.path}"')
        body = read_body(req, self.body_limit)
        ns = _namespace(req)
        if res.kind == "Pod":
            obj = {"kind": "Pod", "metadata": {"name": name, "namespace": body.get("namespace") or ns,
                                               "resourceVersion": body.get("resourceVersion") or 0},
                   "status": v1beta1.pod_status_from_wire(body)}
        else:
            obj = _decode(res, body, ns)
            obj["metadata"]["name"] = name
        _send(resp, v1beta1.to_wire(self.registry.update_status(obj)))


class BindingResource:
    def __init__(self, registry, body_limit: int):
        self.registry = registry
        self.body_limit = body_limit

    def on_post(self, req, resp):
        body = read_body(req, self.body_limit)
        pod, host = body.get("podID"), body.get("host")
        causes = []
        from raftkube.model.errors import FieldErrors
        errs = FieldErrors()
        if not isinstance(pod, str) or not pod:
            errs.required("podID")
        if not isinstance(host, str) or not host:
            errs.required("host")
        if errs:
            causes = errs.causes
            raise Invalid(f"binding is invalid: {causes[0].message}", kind="Binding", causes=causes)
        self.registry.bind(body.get("namespace") or _namespace(req), pod, host)
        _send(resp, success_body())


class WatchResource:
    """Newline-delimited JSON events: {"type": ADDED|MODIFIED|DELETED|ERROR, "object": {...}}."""

    needs_ready = True

    def __init__(self, registry):
        self.registry = registry

    def on_get(self, req, resp, resource):
        res = _resource(resource)
        labels, fields = _selectors(req, res.kind)
        rv = _int_param(req, "resourceVersion")
        disconnected = req.env.get("waitress.client_disconnected") or (lambda: False)
        events = self.registry.watch(res.kind, _namespace(req, for_list=True), labels, fields, rv,
                                     stop=disconnected)
        resp.content_type = "application/json"
        resp.stream = _stream(events)


def _stream(events, keepalive_s: float = 15.0):
    # waitress sends the headers with the first non-empty chunk: a newline (whitespace between JSON values,
    # skipped by stream decoders) lets them leave at once, before any event exists. The same newline every
    # ``keepalive_s`` on an idle stream tells clients the master is alive (and waitress if they are not).
    yield b"\n"
    idle_since = time.monotonic()
    try:
        for ev in events:
            if ev is None:  # idle: the registry polls the stop check (waitress.client_disconnected)
                if time.monotonic() - idle_since >= keepalive_s:
                    idle_since = time.monotonic()
                    yield b"\n"
                continue
            idle_since = time.monotonic()
            yield json.dumps({"type": ev.type, "object": v1beta1.to_wire(ev.object)},
                             separators=(",", ":")).encode() + b"\n"
    except Gone as exc:
        status = {"kind": "Status", "apiVersion": "v1beta1", "status": "Failure", "message": exc.message,
                  "reason": "Gone", "code": 410}
        yield json.dumps({"type": "ERROR", "object": status}).encode() + b"\n"
    finally:
        events.close()
