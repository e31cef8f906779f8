"""Revoked client certificates (README "Security"): replicated in the store, checked on every TLS request.

A certificate signed by the cluster CA is valid until it expires; to take one back (a minion's disk stolen, an
admin gone) the admin revokes its serial number: ``raftkube certs revoke FILE`` posts it here and it is stored as
a ``CertificateRevocation`` object, so every master refuses the certificate (401) as soon as it has applied the
write, and it stays revoked across restarts, snapshots and backups.

- ``GET /raft/revocations``: the revoked serials (any authenticated user: serial numbers are no secret, a CRL
  publishes them too);
- ``POST /raft/revocations`` ``{"serial": "1f3a...", "subject": "CN=node:m1,O=nodes", "reason": "..."}``: revoke
  (admin; revoking a serial again is not an error);
- ``DELETE /raft/revocations/{serial}``: take a revocation back (admin).

``RevocationList`` is what the authenticator asks: a set of serials, read again from this master's replica
after the store published a change of revocations (its watch-event listener), so a request costs one set lookup.
"""

from __future__ import annotations

import falcon

from raftkube.api.resources import read_body
from raftkube.model.errors import AlreadyExists, BadRequest, NotFound, UnsupportedMediaType
from raftkube.model.validation import serial_hex

KIND = "CertificateRevocation"
BODY_LIMIT = 8192


class RevocationList:
    def __init__(self, registry, store):
        self.registry = registry
        self._generation = 0  # bumped by every published change of revocations
        self._cached: tuple[int, frozenset[str]] = (-1, frozenset())
        store.on_watch_events(self._changed)

    def _changed(self, kinds) -> None:
        if kinds is None or KIND in kinds:
            self._generation += 1

    def serials(self) -> frozenset[str]:
        generation, serials = self._cached
        if generation != self._generation:
            generation = self._generation  # read before the list: a change during it is listed next time
            items, _ = self.registry.list(KIND, consistent=False)
            serials = frozenset(i["metadata"]["name"] for i in items)
            self._cached = (generation, serials)
        return serials

    def revoked(self, serial: str) -> bool:
        return bool(serial) and serial_hex(serial) in self.serials()


def _json_body(req) -> dict:
    if not (req.content_type or "").startswith("application/json"):  # no "simple" cross-site form post
        raise UnsupportedMediaType(f"{req.method} {req.path} takes Content-Type: application/json")
    body = read_body(req, BODY_LIMIT)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _view(obj: dict) -> dict:
    spec = obj.get("spec") or {}
    return {"serial": obj["metadata"]["name"], "subject": spec.get("subject", ""), "reason": spec.get("reason", ""),
            "revokedAt": obj["metadata"].get("creationTimestamp", "")}


class _Revocations:
    admin_writes = True  # api/auth.py: reads for any authenticated user, writes for admins
    needs_ready = True

    def __init__(self, registry):
        self.registry = registry


class RevocationsResource(_Revocations):
    def on_get(self, req, resp):
        items, revision = self.registry.list(KIND)
        resp.media = {"revision": revision, "revoked": sorted((_view(i) for i in items), key=lambda v: v["serial"])}

    def on_post(self, req, resp):
        body = _json_body(req)
        serial = body.get("serial")
        if not isinstance(serial, str) or not serial_hex(serial):
            raise BadRequest(f"serial must be the certificate's serial number in hex, got {serial!r}")
        obj = {"kind": KIND, "metadata": {"name": serial_hex(serial)},
               "spec": {"subject": body.get("subject", ""), "reason": body.get("reason", "")}}
        try:
            created = self.registry.create(obj)
            resp.status = falcon.HTTP_201
        except AlreadyExists:
            created = self.registry.get(KIND, "", serial_hex(serial))
        resp.media = _view(created)


class RevocationResource(_Revocations):
    def on_delete(self, req, resp, serial: str):
        name = serial_hex(serial)
        if not name:
            raise BadRequest(f"not a serial number: {serial!r}")
        try:
            self.registry.delete(KIND, "", name)
        except NotFound:
            raise NotFound(f'certificate serial "{name}" is not revoked', kind=KIND, name=name) from None
        resp.media = {"serial": name, "revoked": False}


def add_revocations(app: falcon.App, registry) -> None:
    app.add_route("/raft/revocations", RevocationsResource(registry))
    app.add_route("/raft/revocations/{serial}", RevocationResource(registry))
