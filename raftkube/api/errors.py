"""The one place errors become HTTP: Kubernetes Status bodies for every failure."""

from __future__ import annotations

import json
import logging

import falcon

from raftkube.model.errors import ApiError, Unavailable

log = logging.getLogger(__name__)


def status_body(code: int, reason: str, message: str, *, kind: str = "", name: str = "",
                causes=(), retry_after_s: float | None = None) -> dict:
    body = {"kind": "Status", "apiVersion": "v1beta1", "status": "Failure", "message": message,
            "reason": reason, "code": code}
    details = {}
    if name:
        details["id"] = name
    if kind:
        details["kind"] = kind
    if causes:
        details["causes"] = [c.to_dict() for c in causes]
    if retry_after_s is not None:
        details["retryAfterSeconds"] = max(1, int(round(retry_after_s)))
    if details:
        body["details"] = details
    return body


def success_body() -> dict:
    return {"kind": "Status", "apiVersion": "v1beta1", "status": "Success", "code": 200}


def _send(resp: falcon.Response, code: int, body: dict) -> None:
    resp.status = code
    resp.content_type = falcon.MEDIA_JSON
    resp.data = json.dumps(body).encode()


def handle_api_error(req, resp, exc: ApiError, params) -> None:
    retry = exc.retry_after_s if isinstance(exc, Unavailable) else None
    if retry is not None:
        resp.set_header("Retry-After", str(max(1, int(round(retry)))))
    from raftkube.model.objects import RESOURCES_BY_KIND
    res = RESOURCES_BY_KIND.get(exc.kind)
    _send(resp, exc.code, status_body(exc.code, exc.reason, exc.message, kind=res.singular if res else exc.kind,
                                      name=exc.name, causes=exc.causes, retry_after_s=retry))


_FALCON_REASONS = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 413: "RequestEntityTooLarge",
                   415: "UnsupportedMediaType"}


def handle_http_error(req, resp, exc: falcon.HTTPError, params) -> None:
    code = int(str(exc.status).split()[0]) if not isinstance(exc.status, int) else exc.status
    if code == 404:
        message = f'Not Found: "{req.path}"'
    elif code == 405:
        message = f"the method {req.method} is not allowed on {req.path}"
    else:
        message = exc.description or exc.title or str(exc.status)
    for name, value in (exc.headers or {}).items():
        resp.set_header(name, value)
    _send(resp, code, status_body(code, _FALCON_REASONS.get(code, "BadRequest" if code < 500 else "InternalError"),
                                  message))


def handle_unexpected(req, resp, exc: Exception, params) -> None:
    log.exception("unexpected error serving %s %s", req.method, req.path)
    _send(resp, 500, status_body(500, "InternalError", f"internal error: {exc!r}"))


def install(app: falcon.App) -> None:
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    app.add_error_handler(ApiError, handle_api_error)
