"""Error mapping both ways: ApiError -> Status body (API) and Status body -> ApiError (HTTP client)."""

import pytest

from raftkube.apis.v1beta1.errors import status_body
from raftkube.model import errors as e


@pytest.mark.parametrize("exc, code", [
    (e.BadRequest("bad"), 400), (e.NotFound('pod "x" not found', kind="Pod", name="x"), 404),
    (e.MethodNotAllowed("no"), 405), (e.AlreadyExists('pod "x" already exists'), 409),
    (e.Conflict("stale"), 409), (e.Gone("too old"), 410), (e.RequestTooLarge("big"), 413),
    (e.Invalid("invalid", causes=[e.Cause("FieldValueRequired", "id", "id: required value")]), 422),
    (e.Unavailable("no quorum", retry_after_s=2), 503), (e.Timeout("unknown outcome"), 503),
    (e.NotLeader("stale epoch"), 503),
    (e.StoreFull("the store is full: 20000 bytes quota, 19990 used; delete objects or raise [cluster] quota_bytes"),
     507),
])
def test_status_round_trip(exc, code):
    body = status_body(exc.code, exc.reason, exc.message, kind=exc.kind, name=exc.name, causes=exc.causes,
                       retry_after_s=getattr(exc, "retry_after_s", None))
    assert body["code"] == code and body["kind"] == "Status" and body["status"] == "Failure"
    back = e.error_from_status(body, code)
    assert type(back) is type(exc)
    assert back.message == exc.message and back.causes == exc.causes
    if isinstance(exc, e.Unavailable):
        assert back.retryable and back.retry_after_s >= 1


def test_unknown_reason_falls_back_to_the_http_code():
    assert isinstance(e.error_from_status({"reason": "Weird", "message": "m"}, 409), e.Conflict)
    assert isinstance(e.error_from_status({}, 503), e.Unavailable)
    assert isinstance(e.error_from_status({}, 507), e.StoreFull) and not e.StoreFull("full").retryable
    err = e.error_from_status({}, 500)
    assert type(err) is e.ApiError and "500" in err.message


def test_field_errors_collects_every_kind_of_cause():
    errs = e.FieldErrors()
    assert not errs
    errs.required("id")
    errs.invalid("port", 0, "must be 1-65535")
    errs.duplicate("name", "a")
    errs.unsupported("protocol", "SCTP")
    errs.not_found("volumeMounts[0].name", "v")
    assert [c.reason for c in errs.causes] == ["FieldValueRequired", "FieldValueInvalid", "FieldValueDuplicate",
                                               "FieldValueNotSupported", "FieldValueNotFound"]
    assert errs.causes[1].message == "port: invalid value '0' (must be 1-65535)"
