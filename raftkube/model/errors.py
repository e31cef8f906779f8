"""The one error hierarchy of raftkube.

The API maps these to Kubernetes Status bodies in one place (``api/errors.py``); the HTTP client maps
Status bodies back to the same classes, so controllers, the minion and the CLI handle one set of errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Cause:
    """One field error: ``reason`` is a Kubernetes CauseType such as ``FieldValueRequired``."""

    reason: str
    field: str
    message: str

    def to_dict(self) -> dict:
        return {"reason": self.reason, "field": self.field, "message": self.message}


#: how a Conflict of a delete precondition starts its reason (Kubernetes' wording)
PRECONDITION = "Precondition failed:"


class ApiError(Exception):
    """Base of every error with an HTTP meaning."""

    code = 500
    reason = "InternalError"
    retryable = False

    def __init__(self, message: str, *, kind: str = "", name: str = "",
                 causes: list[Cause] | tuple[Cause, ...] = ()):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.name = name
        self.causes = tuple(causes)

    def __str__(self) -> str:
        return self.message


class BadRequest(ApiError):
    code = 400
    reason = "BadRequest"


class Unauthorized(ApiError):
    """No valid credential on the secure port."""

    code = 401
    reason = "Unauthorized"


class Forbidden(ApiError):
    """The caller's role does not allow the request, or admission refused it."""

    code = 403
    reason = "Forbidden"


class NotFound(ApiError):
    code = 404
    reason = "NotFound"


class MethodNotAllowed(ApiError):
    code = 405
    reason = "MethodNotAllowed"


class AlreadyExists(ApiError):
    code = 409
    reason = "AlreadyExists"


class Conflict(ApiError):
    code = 409
    reason = "Conflict"


class Gone(ApiError):
    """A watch asked for a revision no longer in the event ring: relist."""

    code = 410
    reason = "Gone"


class RequestTooLarge(ApiError):
    code = 413
    reason = "RequestEntityTooLarge"


class UnsupportedMediaType(ApiError):
    code = 415
    reason = "UnsupportedMediaType"


class Invalid(ApiError):
    code = 422
    reason = "Invalid"


class StoreFull(ApiError):
    """The store holds its quota of encoded objects (``[cluster] quota_bytes``): creates and growing updates
    are refused until objects are deleted or the quota is raised. Permanent for the caller: retrying the same
    write does not help until then."""

    code = 507
    reason = "StoreFull"


class Unavailable(ApiError):
    """Temporary: no quorum, no leader, or the write did not commit in time. Retry after ``retry_after_s``."""

    code = 503
    reason = "ServiceUnavailable"
    retryable = True

    def __init__(self, message: str, *, retry_after_s: float = 1.0, **kw):
        super().__init__(message, **kw)
        self.retry_after_s = retry_after_s


class Timeout(Unavailable):
    """The outcome of a write is unknown: it may still commit. Callers re-read before deciding.

    Served as 503 (with Retry-After) like every other "no quorum" answer; the reason tells them apart.
    """

    reason = "Timeout"


class NotLeader(Unavailable):
    """A leader-only action (a fenced controller write) ran on a master that is no longer leader."""

    reason = "NotLeader"


class TooManyRequests(Unavailable):
    """This client has too many of something open (watches): retry after ``retry_after_s``."""

    code = 429
    reason = "TooManyRequests"


ERRORS_BY_REASON: dict[str, type[ApiError]] = {
    cls.reason: cls
    for cls in (BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, AlreadyExists, Conflict, Gone, RequestTooLarge,
                UnsupportedMediaType, Invalid, StoreFull, Unavailable, Timeout, NotLeader,
                TooManyRequests)
}


def error_from_status(status: dict, http_code: int) -> ApiError:
    """Rebuild the exception a Kubernetes Status body describes (used by the HTTP client)."""
    reason = status.get("reason") or ""
    cls = ERRORS_BY_REASON.get(reason)
    if cls is None:
        cls = {400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: MethodNotAllowed, 409: Conflict, 410: Gone,
               413: RequestTooLarge, 415: UnsupportedMediaType, 422: Invalid, 429: TooManyRequests, 503: Unavailable,
               504: Unavailable, 507: StoreFull}.get(http_code, ApiError)
    details = status.get("details") or {}
    causes = [Cause(c.get("reason", ""), c.get("field", ""), c.get("message", ""))
              for c in details.get("causes") or ()]
    message = status.get("message") or f"HTTP {http_code}"
    kw = dict(kind=details.get("kind", ""), name=details.get("id", ""), causes=causes)
    if issubclass(cls, Unavailable):
        return cls(message, retry_after_s=float(details.get("retryAfterSeconds") or 1), **kw)
    return cls(message, **kw)


@dataclass
class FieldErrors:
    """Collects field errors during validation; ``raise_if_any`` turns them into one ``Invalid``."""

    causes: list[Cause] = field(default_factory=list)

    def required(self, path: str) -> None:
        self.causes.append(Cause("FieldValueRequired", path, f"{path}: required value"))

    def invalid(self, path: str, value, why: str = "") -> None:
        detail = f" ({why})" if why else ""
        self.causes.append(Cause("FieldValueInvalid", path, f"{path}: invalid value '{value}'{detail}"))

    def duplicate(self, path: str, value) -> None:
        self.causes.append(Cause("FieldValueDuplicate", path, f"{path}: duplicate value '{value}'"))

    def unsupported(self, path: str, value) -> None:
        self.causes.append(Cause("FieldValueNotSupported", path, f"{path}: unsupported value '{value}'"))

    def not_found(self, path: str, value) -> None:
        self.causes.append(Cause("FieldValueNotFound", path, f"{path}: not found '{value}'"))

    def forbidden(self, path: str, why: str) -> None:
        self.causes.append(Cause("FieldValueForbidden", path, f"{path}: forbidden ({why})"))

    def __bool__(self) -> bool:
        return bool(self.causes)
