"""The one place errors become HTTP: a Status body of the request's API version for every failure.

A request that reached a resource of some version gets that version's Status; one that reached none (an
unknown path) gets the Status of the preferred version.
"""

from __future__ import annotations

import json
import logging

import falcon

from raftkube.apis import ApiVersion
from raftkube.model.errors import ApiError, Unavailable

log = logging.getLogger(__name__)


def request_version(req: falcon.Request, default: ApiVersion) -> ApiVersion:
    """The version whose resource serves ``req`` (set by the app's middleware), else ``default``."""
    return getattr(req.context, "api_version", None) or default


def _send(resp: falcon.Response, code: int, body: dict) -> None:
    resp.status = code
    resp.content_type = falcon.MEDIA_JSON
    resp.data = json.dumps(body).encode()


_FALCON_REASONS = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 413: "RequestEntityTooLarge",
                   415: "UnsupportedMediaType"}


def install(app: falcon.App, default: ApiVersion) -> None:
    """Map every exception to a Status body; ``default`` answers the requests that reached no version."""

    def handle_api_error(req, resp, exc: ApiError, params) -> None:
        retry = exc.retry_after_s if isinstance(exc, Unavailable) else None
        if retry is not None:
            resp.set_header("Retry-After", str(max(1, int(round(retry)))))
        version = request_version(req, default)
        _send(resp, exc.code, version.status_body(exc.code, exc.reason, exc.message, kind=exc.kind, name=exc.name,
                                                  causes=exc.causes, retry_after_s=retry))

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
        reason = _FALCON_REASONS.get(code, "BadRequest" if code < 500 else "InternalError")
        _send(resp, code, request_version(req, default).status_body(code, reason, message))

    def handle_unexpected(req, resp, exc: Exception, params) -> None:
        log.exception("unexpected error serving %s %s", req.method, req.path)
        _send(resp, 500, request_version(req, default).status_body(500, "InternalError", f"internal error: {exc!r}"))

    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    app.add_error_handler(ApiError, handle_api_error)
