"""What stock kubectl needs beyond the generic routes (K8S-V1.md §2, §3, §7): discovery (``/api``, ``/api/v1``,
``/apis``), ``/openapi/v2`` (a 5-byte document with no definitions: kubectl skips client-side validation),
and namespaced paths (``/api/v1/namespaces/<ns>/<resource>[/<name>]``) with Table lists and ``?watch=true``.
"""

from __future__ import annotations

import json

import falcon

from raftkube import __version__
from raftkube.api.admission import admit_update
from raftkube.api.delete_options import delete_preconditions, propagation_policy
from raftkube.api.namespaces import mark_terminating, require_namespace
from raftkube.api.podlogs import PodLogResource
from raftkube.api.resources import (BindingResource, CollectionResource, ItemResource, StatusResource,
                                    WatchResource, _send, read_body, read_value, write_request)
from raftkube.apis.v1.tables import INCLUDE_OBJECT
from raftkube.model.errors import ApiError, BadRequest, NotFound
from raftkube.model.objects import DEFAULT_NAMESPACE


class UnsupportedMediaType(ApiError):
    code = 415
    reason = "UnsupportedMediaType"

#: protobuf of openapi_v2.Document{swagger: "2.0"} (field 1, length 3)
OPENAPI_V2 = b"\x0a\x03\x32\x2e\x30"
OPENAPI_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


class _Meta:
    needs_ready = False

    def __init__(self, fn):
        self.fn = fn

    def on_get(self, req, resp):
        self.fn(req, resp)


def _json(body):
    def fn(req, resp):
        resp.content_type = falcon.MEDIA_JSON
        resp.data = json.dumps(body).encode()
    return fn


def version_info() -> dict:
    return {"major": "1", "minor": "20", "gitVersion": f"v1.20.0+raftkube.{__version__}", "gitCommit": "",
            "gitTreeState": "clean", "buildDate": "1970-01-01T00:00:00Z", "goVersion": "python",
            "compiler": "cpython", "platform": "linux/amd64"}


def add_meta(app: falcon.App, versions) -> None:
    app.add_route("/api", _Meta(lambda req, resp: _json({
        "kind": "APIVersions", "versions": [v.name for v in versions],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": req.host}]})(req, resp)))
    app.add_route("/apis", _Meta(_json({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})))

    def openapi(req, resp):
        resp.content_type = OPENAPI_CONTENT_TYPE
        resp.data = OPENAPI_V2
    app.add_route("/openapi/v2", _Meta(openapi))
    for v in versions:
        app.add_route(v.prefix, _Meta(_json(v.discovery())))


def _wants_table(req) -> bool:
    return "as=Table" in (req.get_header("Accept") or "")


def _include_object(req) -> str:
    """The ``includeObject`` of a Table request (Metadata, Object, None); 400 for another value."""
    value = req.get_param("includeObject") or "Metadata"
    if value not in INCLUDE_OBJECT:
        raise BadRequest(f"includeObject must be one of {', '.join(INCLUDE_OBJECT)}, not {value[:40]!r}")
    return value


def _watching(req) -> bool:
    return (req.get_param("watch") or "").lower() in ("true", "1")


class _Namespaced:
    """Sets the URL's namespace as the request's ``namespace`` parameter, then serves as the generic routes do."""

    @staticmethod
    def _ns(req, namespace):
        req.params["namespace"] = namespace


class NamespacedCollection(CollectionResource, _Namespaced):
    def __init__(self, version, registry, body_limit, watch: WatchResource):
        super().__init__(version, registry, body_limit)
        self.watch = watch

    def on_get(self, req, resp, resource, namespace=None):
        if namespace is not None:
            self._ns(req, namespace)
        if _watching(req):
            return self.watch.on_get(req, resp, resource)
        if not _wants_table(req):
            return super().on_get(req, resp, resource)
        res = self._resource(resource, "list", req)
        include = self._call(res, _include_object, req)
        labels, fields = self._selectors(req, res)
        ns = req.get_param("namespace") or None
        items, revision = self._call(res, self.registry.list, res.kind, ns, labels, fields,
                                     consistent=req.get_param("resourceVersion") != "0")
        _send(resp, self.version.table(res, items, revision, include=include))

    def on_post(self, req, resp, resource, namespace=None):
        if namespace is not None:
            self._ns(req, namespace)
        res = self._resource(resource, "create", req)
        if res.namespaced:
            self._call(res, require_namespace, self.registry, req.get_param("namespace") or DEFAULT_NAMESPACE)
        super().on_post(req, resp, resource)
        resp.status = 201


class NamespacedItem(ItemResource, _Namespaced):
    def on_get(self, req, resp, resource, name, namespace=None):
        if namespace is not None:
            self._ns(req, namespace)
        if _wants_table(req):
            res = self._resource(resource, "get", req)
            include = self._call(res, _include_object, req)
            obj = self._call(res, self.registry.get, res.kind, req.get_param("namespace"), name)
            return _send(resp, self.version.table(res, [obj], 0, include=include))
        super().on_get(req, resp, resource, name)

    def on_put(self, req, resp, resource, name, namespace=None):
        if namespace is not None:
            self._ns(req, namespace)
        super().on_put(req, resp, resource, name)

    def on_patch(self, req, resp, resource, name, namespace=None):
        from raftkube.apis.v1 import patch as patches  # noqa: PLC0415 (only v1 takes patches)
        if namespace is not None:
            self._ns(req, namespace)
        res = self._resource(resource, "update", req)
        ctype = (req.content_type or "").split(";")[0].strip()
        apply = {patches.MERGE: patches.merge_patch, patches.STRATEGIC: patches.strategic_patch,
                 patches.JSON: patches.json_patch}.get(ctype)
        if apply is None:
            raise UnsupportedMediaType(f"the body of the request was in an unknown format - accepted media types "
                                       f"include: {', '.join(patches.TYPES)}")
        body = read_value(req, self.body_limit) if ctype == patches.JSON else read_body(req, self.body_limit)
        ns = req.get_param("namespace")
        current = self._call(res, self.registry.get, res.kind, ns, name)
        current_wire = self.version.encode(current)
        wire = apply(current_wire, body)
        obj = self.version.decode(res, wire, namespace=ns, name=name)
        # a resourceVersion the patch sets is a precondition; otherwise the patch applies to what it was read from
        patched_rv = (wire.get("metadata") or {}).get("resourceVersion")
        asked_rv = patched_rv if patched_rv != current_wire["metadata"]["resourceVersion"] else None
        if asked_rv is not None and not str(asked_rv).isdigit():
            raise BadRequest(f"metadata.resourceVersion must be a string of digits, not {asked_rv!r}")
        obj["metadata"]["resourceVersion"] = int(asked_rv or current["metadata"].get("resourceVersion") or 0)
        self._call(res, admit_update, req, obj, current)
        _send(resp, self.version.encode(self._call(res, self.registry.update, obj, obj=obj,
                                                   request=write_request(req))))

    def on_delete(self, req, resp, resource, name, namespace=None):
        if namespace is not None:
            self._ns(req, namespace)
        res = self._resource(resource, "delete", req)
        body = read_body(req, self.body_limit, required=False)
        rv, uid = delete_preconditions(body)
        policy = propagation_policy(body, default="Background")  # core/v1 deletes an RC's pods with it
        if res.kind == "Namespace":  # emptied, then removed, by the namespace controller
            return _send(resp, self.version.encode(self._call(res, mark_terminating, self.registry, name,
                                                              request=write_request(req))))
        old = self._call(res, self.registry.delete, res.kind, req.get_param("namespace"), name, rv=rv, uid=uid,
                         orphan=policy == "Orphan", foreground=policy == "Foreground", request=write_request(req))
        _send(resp, self.version.encode(old))


class TableWatch(WatchResource):
    """A watch whose events carry one-row Tables when the client asked for Tables (``kubectl get -w``); the
    first one has the column definitions."""

    def event_encoder(self, req, res):
        if not _wants_table(req):
            return None
        include = self._call(res, _include_object, req)
        first = [True]

        def encode(obj):
            out = self.version.table(res, [obj], int((obj.get("metadata") or {}).get("resourceVersion") or 0),
                                     with_columns=first[0], include=include)
            first[0] = False
            return out
        return encode


class ScaleResource(ItemResource):
    """``.../replicationcontrollers/<name>/scale``: an ``autoscaling/v1`` Scale over the RC's ``spec.replicas``
    (K8S-V1.md §11). PUT and PATCH (merge or strategic: the same for a Scale) write the RC, bumping its
    resourceVersion; a stale ``metadata.resourceVersion`` is 409."""

    def _rc(self, req, namespace, name):
        self._ns(req, namespace)
        res = self.version.resource("replicationcontrollers")
        return res, self._call(res, self.registry.get, res.kind, namespace, name)

    @staticmethod
    def _scale(rc: dict) -> dict:
        from raftkube.model.selectors import format_labels  # noqa: PLC0415
        md = rc.get("metadata") or {}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": md.get("name"), "namespace": md.get("namespace"), "uid": md.get("uid"),
                             "resourceVersion": str(int(md.get("resourceVersion") or 0)),
                             "creationTimestamp": md.get("creationTimestamp") or None},
                "spec": {"replicas": int((rc.get("spec") or {}).get("replicas") or 0)},
                "status": {"replicas": int((rc.get("status") or {}).get("replicas") or 0),
                           "selector": format_labels((rc.get("spec") or {}).get("selector"))}}

    _ns = staticmethod(_Namespaced._ns)

    def on_get(self, req, resp, namespace, name):
        _send(resp, self._scale(self._rc(req, namespace, name)[1]))

    def _write(self, req, resp, namespace, name, body: dict):
        from raftkube.model.errors import Invalid  # noqa: PLC0415
        res, rc = self._rc(req, namespace, name)
        replicas = (body.get("spec") or {}).get("replicas")
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            raise Invalid(f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: {replicas!r}: '
                          "must be a non-negative integer", kind="ReplicationController", name=name)
        rv = (body.get("metadata") or {}).get("resourceVersion")
        rc["spec"]["replicas"] = replicas
        if rv:
            rc["metadata"]["resourceVersion"] = int(rv)
        _send(resp, self._scale(self._call(res, self.registry.update, rc, obj=rc, request=write_request(req))))

    def on_put(self, req, resp, namespace, name):
        self._write(req, resp, namespace, name, read_body(req, self.body_limit))

    #: a Scale is a view of its RC and cannot be deleted: not inheriting the item's delete leaves DELETE to
    #: falcon's 405 (with an Allow header), rendered as a Status like every other unsupported method
    on_delete = None

    def on_patch(self, req, resp, namespace, name):
        from raftkube.apis.v1.patch import merge_patch  # noqa: PLC0415
        patch = read_body(req, self.body_limit)
        current = self._scale(self._rc(req, namespace, name)[1])
        current["metadata"].pop("resourceVersion")
        self._write(req, resp, namespace, name, merge_patch(current, patch))


class NamespacedBinding(BindingResource):
    """``POST .../namespaces/<ns>/bindings`` and ``.../namespaces/<ns>/pods/<name>/binding``: a v1 Binding. The
    body's namespace and name must agree with the URL's; the answer is a 201 Success Status, as Kubernetes'."""

    def on_post(self, req, resp, namespace, name=None):
        body = read_body(req, self.body_limit)
        md = body.get("metadata")
        if name is not None and isinstance(md, dict) and not md.get("name"):
            body = dict(body, metadata=dict(md, name=name))
        elif name is not None and not isinstance(md, dict):
            body = dict(body, metadata={"name": name})
        binding = self.version.decode_binding(body)
        if binding.namespace not in (None, namespace):
            raise BadRequest(f"the namespace of the provided object ({binding.namespace}) does not match the "
                             f"namespace sent on the request ({namespace})")
        if name is not None and binding.pod != name:
            raise BadRequest(f"the name of the object ({binding.pod}) does not match the name on the URL ({name})")
        self._call(self.pods, self.registry.bind, namespace, binding.pod, binding.node, request=write_request(req))
        _send(resp, dict(self.version.success_body(), code=201), 201)

    def on_post_pod(self, req, resp, namespace, name):
        self.on_post(req, resp, namespace, name)


class NamespacedStatus(StatusResource):
    """``.../namespaces/<ns>/<resource>/<name>/status``: GET reads the object, PUT writes its status."""

    def on_get(self, req, resp, namespace, resource, name):
        res = self._resource(resource, None, req)
        if "status" not in res.verbs:
            raise NotFound(f'Not Found: "{req.path}"')
        _send(resp, self.version.encode(self._call(res, self.registry.get, res.kind, namespace, name)))

    def on_put(self, req, resp, namespace, resource, name):
        req.params["namespace"] = namespace
        super().on_put(req, resp, resource, name)


def add_namespaced(app: falcon.App, version, registry, body_limit: int, pump=None) -> None:
    prefix = version.prefix
    watch = TableWatch(version, registry, pump=pump)
    coll = NamespacedCollection(version, registry, body_limit, watch)
    item = NamespacedItem(version, registry, body_limit)
    app.add_route(prefix + "/namespaces/{namespace}/{resource}", coll)
    app.add_route(prefix + "/namespaces/{namespace}/{resource}/{name}", item)
    app.add_route(prefix + "/namespaces/{namespace}/{resource}/{name}/status",
                  NamespacedStatus(version, registry, body_limit))
    if version.resource("pods") is not None:
        app.add_route(prefix + "/namespaces/{namespace}/pods/{name}/log", PodLogResource(version, registry))
    if version.serves_bindings:
        binding = NamespacedBinding(version, registry, body_limit)
        app.add_route(prefix + "/namespaces/{namespace}/bindings", binding)
        app.add_route(prefix + "/namespaces/{namespace}/pods/{name}/binding", binding, suffix="pod")
    if version.resource("replicationcontrollers") is not None:
        app.add_route(prefix + "/namespaces/{namespace}/replicationcontrollers/{name}/scale",
                      ScaleResource(version, registry, body_limit))
    # cluster-wide lists (nodes, -A) and items of cluster-scoped kinds use the generic paths: route them here too
    app.add_route(prefix + "/{resource}", coll)
    app.add_route(prefix + "/{resource}/{name}", item)
