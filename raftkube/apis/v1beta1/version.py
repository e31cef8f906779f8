"""v1beta1 as the HTTP layer sees it: the resource table and the conversions behind one ``ApiVersion``."""

from __future__ import annotations

from raftkube.apis.v1beta1 import errors, fields
from raftkube.apis.v1beta1.convert import from_wire, list_to_wire, to_wire
from raftkube.apis.v1beta1.pod import pod_status_from_wire
from raftkube.apis.v1beta1.resources import API_VERSION, RESOURCES
from raftkube.apis.version import ApiVersion, Binding, Resource
from raftkube.model.errors import ApiError, BadRequest, Conflict, FieldErrors, Invalid
from raftkube.model.selectors import FieldSelector


class V1Beta1(ApiVersion):
    name = API_VERSION
    resources = RESOURCES

    def decode(self, res: Resource, body: dict, *, namespace: str, name: str | None = None) -> dict:
        body_ns = body.get("namespace")
        if body_ns and namespace and body_ns != namespace and res.namespaced:
            raise Conflict(f"the namespace of the object ({body_ns}) does not match the namespace of the "
                           f"request ({namespace})")
        obj = from_wire(res.kind, body, namespace=body_ns or namespace)
        if name is not None:
            if obj["metadata"].get("name") and obj["metadata"]["name"] != name:
                raise BadRequest(f"the id in the body ({obj['metadata']['name']!r}) does not match the URL "
                                 f"({name!r})")
            obj["metadata"]["name"] = name
        return obj

    def decode_status(self, res: Resource, body: dict, *, namespace: str, name: str) -> dict:
        if res.kind == "Pod":
            return {"kind": "Pod", "metadata": {"name": name, "namespace": body.get("namespace") or namespace,
                                                "resourceVersion": body.get("resourceVersion") or 0},
                    "status": pod_status_from_wire(body)}
        obj = self.decode(res, body, namespace=namespace)
        obj["metadata"]["name"] = name
        return obj

    def decode_binding(self, body: dict) -> Binding:
        pod, host = body.get("podID"), body.get("host")
        errs = FieldErrors()
        if not isinstance(pod, str) or not pod:
            errs.required("podID")
        if not isinstance(host, str) or not host:
            errs.required("host")
        if errs:
            raise Invalid(f"binding is invalid: {errs.causes[0].message}", kind="Binding", causes=errs.causes)
        return Binding(body.get("namespace") or None, pod, host)

    def encode(self, obj: dict) -> dict:
        return to_wire(obj)

    def encode_list(self, res: Resource, items: list[dict], revision: int, self_link: str) -> dict:
        return list_to_wire(res.kind, items, revision, self_link)

    def field_selector(self, res: Resource, selector: str) -> FieldSelector:
        return fields.parse_field_selector(res.kind, selector)

    def error(self, exc: ApiError, res: Resource | None, obj: dict | None = None) -> ApiError:
        return errors.error_to_wire(exc, res, obj)

    def status_body(self, code, reason, message, *, kind="", name="", causes=(), retry_after_s=None) -> dict:
        return errors.status_body(code, reason, message, kind=kind, name=name, causes=causes,
                                  retry_after_s=retry_after_s)

    def success_body(self) -> dict:
        return errors.success_body()


VERSION = V1Beta1()
