"""core/v1 as an ``ApiVersion``: resource table, conversions, Table rendering, discovery, Status bodies.

v1 paths put the namespace in the URL (``/api/v1/namespaces/<ns>/pods``), lists and watches are one
resource (``?watch=true``), and a DELETE answers the deleted object (K8S-V1.md §0 #12).
"""

from __future__ import annotations

import copy

from raftkube.apis.v1 import convert, tables
from raftkube.apis.v1.resources import API_VERSION, RESOURCES, RESOURCES_BY_KIND, discovery
from raftkube.apis.v1.status import pod_status_in
from raftkube.apis.version import ApiVersion, Binding, Resource
from raftkube.model.errors import PRECONDITION, ApiError, BadRequest, Cause, Conflict, Invalid
from raftkube.model.objects import RESOURCES_BY_KIND as KINDS
from raftkube.model.selectors import FieldSelector, LabelSelector, parse_field_selector, parse_set_selector


class V1(ApiVersion):
    name = API_VERSION
    resources = RESOURCES
    namespaced_paths = True  # /api/v1/namespaces/<ns>/<resource>[/<name>]
    delete_returns_object = True
    watch_filler = b" "  # the Python client yields None for an empty line (kubectl skips either)

    def discovery(self) -> dict:
        return discovery()

    def bookmark_line(self, res: Resource):
        """A BOOKMARK: an object of the watched kind with only its resourceVersion (Kubernetes' shape)."""
        head = b'{"type":"BOOKMARK","object":{"kind":"' + res.wire_kind.encode() + b'","apiVersion":"v1",' \
            b'"metadata":{"resourceVersion":"'
        return lambda rv: head + str(int(rv)).encode() + b'"}}}\n'

    def table(self, res: Resource, items: list[dict], revision: int, *, with_columns: bool = True,
              include: str = "Metadata") -> dict:
        return tables.table(res.kind, items, revision, with_columns=with_columns, include=include)

    def decode(self, res: Resource, body: dict, *, namespace: str, name: str | None = None) -> dict:
        md = body.get("metadata") if isinstance(body, dict) else None
        body_ns = md.get("namespace") if isinstance(md, dict) else None
        if body_ns and namespace and body_ns != namespace and res.namespaced:
            raise BadRequest(f"the namespace of the provided object ({body_ns}) does not match the namespace "
                             f"sent on the request ({namespace})")
        obj = convert.from_wire(res.kind, body, namespace=body_ns or namespace)
        if name is not None:
            if obj["metadata"].get("name") and obj["metadata"]["name"] != name:
                raise BadRequest(f"the name of the object ({obj['metadata']['name']}) does not match the name "
                                 f"on the URL ({name})")
            obj["metadata"]["name"] = name
        return obj

    def decode_status(self, res: Resource, body: dict, *, namespace: str, name: str) -> dict:
        if res.kind == "Pod":
            return pod_status_in(body, namespace=namespace, name=name)
        return self.decode(res, body, namespace=namespace, name=name)

    def decode_binding(self, body: dict) -> Binding:
        """A v1 ``Binding``: ``metadata.name`` the pod, ``target.name`` the node (``target.kind`` Node)."""
        if body.get("kind") not in (None, "", "Binding"):
            raise BadRequest(f"data of kind '{body['kind']}', obj of type 'Binding'")
        md, target = body.get("metadata"), body.get("target")
        errs = []
        if not isinstance(md, dict) or not isinstance(md.get("name"), str) or not md["name"]:
            errs.append(Cause("FieldValueRequired", "metadata.name", "metadata.name: Required value"))
        if not isinstance(target, dict) or not isinstance(target.get("name"), str) or not target["name"]:
            errs.append(Cause("FieldValueRequired", "target.name", "target.name: Required value"))
        elif target.get("kind") not in (None, "", "Node"):
            errs.append(Cause("FieldValueNotSupported", "target.kind",
                              f"target.kind: Unsupported value: {target['kind']!r}: supported values: Node"))
        if errs:
            raise Invalid(f"Binding is invalid: {errs[0].message}", kind="Binding", causes=errs)
        ns = md.get("namespace")
        return Binding(ns if isinstance(ns, str) and ns else None, md["name"], target["name"])

    def encode(self, obj: dict) -> dict:
        return convert.to_wire(obj)

    def encode_list(self, res: Resource, items: list[dict], revision: int, self_link: str) -> dict:
        return convert.list_to_wire(res.kind, items, revision)

    def label_selector(self, selector: str) -> LabelSelector:
        return parse_set_selector(selector)

    def field_selector(self, res: Resource, selector: str) -> FieldSelector:
        return parse_field_selector(res.kind, selector)

    def error(self, exc: ApiError, res: Resource | None, obj: dict | None = None) -> ApiError:
        kind = exc.kind or (res.kind if res else "")
        if isinstance(exc, Conflict) and "resourceVersion" in exc.message and exc.name:
            exc.message = (f'Operation cannot be fulfilled on {RESOURCES_BY_KIND[kind].plural} "{exc.name}": the '
                           "object has been modified; please apply your changes to the latest version and try again")
        elif isinstance(exc, Conflict) and PRECONDITION in exc.message and exc.name:
            exc.message = (f'Operation cannot be fulfilled on {RESOURCES_BY_KIND[kind].plural} "{exc.name}": '
                           + exc.message[exc.message.index(PRECONDITION):])
        if kind in RESOURCES_BY_KIND:
            internal = KINDS[kind].singular
            if exc.message.startswith(f'{internal} "'):
                exc = copy.copy(exc)
                exc.message = RESOURCES_BY_KIND[kind].plural + exc.message[len(internal):]
                exc.args = (exc.message,)
        return exc

    def status_body(self, code, reason, message, *, kind="", name="", causes=(), retry_after_s=None) -> dict:
        body = {"kind": "Status", "apiVersion": API_VERSION, "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code}
        details: dict = {}
        if name:
            details["name"] = name
        if kind:
            res = RESOURCES_BY_KIND.get(kind)
            details["kind"] = res.plural if res else kind
        if causes:
            details["causes"] = [c.to_dict() for c in causes]
        if retry_after_s is not None:
            details["retryAfterSeconds"] = max(1, int(round(retry_after_s)))
        if details:
            body["details"] = details
        return body

    def success_body(self) -> dict:
        return {"kind": "Status", "apiVersion": API_VERSION, "metadata": {}, "status": "Success", "code": 200}


VERSION = V1()
