"""The admin endpoints behind `raftkube members` and `raftkube snapshot` (README "Operating the masters").

- ``GET /raft/members``: every master with its address, API URL, role, match index and last contact (the last
  two from the leader's view; a follower says ``progressKnown: false`` and names the leader);
- ``GET /raft/snapshot``: a backup of the whole store at a linearizable read point (state/backup.py), with its
  revision and SHA-256 in ``Raftkube-Revision`` / ``Raftkube-Checksum``;
- ``POST /raft/members`` ``{"name": "m4", "host": "127.0.0.1", "apiPort": 8084, "raftPort": 7004}`` (and
  ``"securePort"``): on the leader, add that master through the log; ``DELETE /raft/members/<name>``: remove one
  (state/reconfig.py: one change at a time, each committed before the next). 409 for a name or address that
  exists, a change in flight, the last master; 404 for an unknown name; on a follower 503 NotLeader naming the
  leader (the CLI asks it instead);
- ``POST /raft/transfer-leader`` ``{"name": "m2", "timeoutSeconds": 5}``: on the leader, hand the leadership to
  that master (state/transfer.py). On a follower: 503 NotLeader naming the leader (the CLI asks it instead).

Admin only (``admin_only``, api/auth.py): they expose the whole store and move the leader; no cross-origin reads
of them (api/ui.py) and the POST takes only JSON.
"""

from __future__ import annotations

import re

import falcon

from raftkube.api.resources import read_body
from raftkube.model.errors import BadRequest, NotLeader, UnsupportedMediaType
from raftkube.state.backup import checksum, encode_backup
from raftkube.state.members import record

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")

MAX_TRANSFER_TIMEOUT_S = 60.0
MEMBER_CHANGE_TIMEOUT_S = 10.0


class _Admin:
    admin_only = True
    needs_ready = True

    def __init__(self, store, api_urls: dict[str, str], secure_urls: dict[str, str]):
        self.store = store
        self.api_urls = api_urls
        self.secure_urls = secure_urls


def _json_body(req, what: str) -> dict:
    if not (req.content_type or "").startswith("application/json"):  # no "simple" cross-site form post
        raise UnsupportedMediaType(f"{what} takes Content-Type: application/json")
    return read_body(req, 4096)


def _port(body: dict, key: str, required: bool = True) -> int:
    value = body.get(key, None if required else 0)
    if not isinstance(value, int) or isinstance(value, bool) or not (0 if not required else 1) <= value <= 65535:
        raise BadRequest(f'"{key}" must be a port number (1-65535)' + ("" if required else " or 0"))
    return value


def _led_by(store, exc: NotLeader) -> NotLeader:
    leader = store.members()["leader"]
    return NotLeader(f"{exc} (the leader is {leader or 'not known yet'})")


class MembersResource(_Admin):
    needs_ready = False  # a master catching up can still say who it knows

    def on_get(self, req, resp):
        view = self.store.members()
        for m in view["members"]:  # records without API ports (old snapshots): cluster.toml's URLs
            m["apiUrl"] = m.get("apiUrl") or self.api_urls.get(m["name"], "")
            m["secureUrl"] = m.get("secureUrl") or self.secure_urls.get(m["name"], "")
        resp.media = view

    def on_post(self, req, resp):
        body = _json_body(req, "POST /raft/members")
        name, host = body.get("name"), body.get("host")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise BadRequest('"name" must be a master name: letters, digits, "-" and "_", at most 63')
        if not isinstance(host, str) or not host or len(host) > 253 or any(c.isspace() or c in ":/" for c in host):
            raise BadRequest('"host" must be a host name or an IPv4 address (the master\'s API and Raft address)')
        rec = record(name, host, _port(body, "apiPort"), _port(body, "raftPort"), _port(body, "securePort", False))
        try:
            resp.media = self.store.change_members("add", rec, MEMBER_CHANGE_TIMEOUT_S)
        except NotLeader as exc:
            raise _led_by(self.store, exc) from None
        resp.status = falcon.HTTP_201


class MemberResource(_Admin):
    def on_delete(self, req, resp, name):
        try:
            resp.media = self.store.change_members("rem", {"name": name}, MEMBER_CHANGE_TIMEOUT_S)
        except NotLeader as exc:
            raise _led_by(self.store, exc) from None


class SnapshotResource(_Admin):
    def on_get(self, req, resp):
        revision, state = self.store.backup()
        blob = encode_backup(revision, state)
        resp.content_type = "application/octet-stream"
        resp.set_header("Raftkube-Revision", str(revision))
        resp.set_header("Raftkube-Checksum", "sha256:" + checksum(blob))
        resp.data = blob


class TransferResource(_Admin):
    def on_post(self, req, resp):
        body = _json_body(req, "POST /raft/transfer-leader")
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise BadRequest('the body needs "name": the master to hand the leadership to')
        timeout_s = body.get("timeoutSeconds", 5)
        if not isinstance(timeout_s, (int, float)) or isinstance(timeout_s, bool) or \
                not 0 < timeout_s <= MAX_TRANSFER_TIMEOUT_S:
            raise BadRequest(f'"timeoutSeconds" must be a number in (0, {MAX_TRANSFER_TIMEOUT_S:g}]')
        try:
            resp.media = self.store.transfer_leadership(name, float(timeout_s))
        except NotLeader as exc:
            raise _led_by(self.store, exc) from None
        resp.status = falcon.HTTP_200


def add_operate(app: falcon.App, store, masters, secure_urls) -> None:
    """``masters``: (name, plain API URL) pairs; ``secure_urls``: name -> TLS API URL."""
    urls, secure = dict(masters), dict(secure_urls)
    app.add_route("/raft/members", MembersResource(store, urls, secure))
    app.add_route("/raft/members/{name}", MemberResource(store, urls, secure))
    app.add_route("/raft/snapshot", SnapshotResource(store, urls, secure))
    app.add_route("/raft/transfer-leader", TransferResource(store, urls, secure))
