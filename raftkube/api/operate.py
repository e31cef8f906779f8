"""The admin endpoints behind `raftkube members` and `raftkube snapshot` (README "Operating the masters").

- ``GET /raft/members``: every master with its address, API URL, role, match index and last contact (the last
  two from the leader's view; a follower says ``progressKnown: false`` and names the leader);
- ``GET /raft/snapshot``: a backup of the whole store at a linearizable read point (state/backup.py), with its
  revision and SHA-256 in ``Raftkube-Revision`` / ``Raftkube-Checksum``;
- ``POST /raft/transfer-leader`` ``{"name": "m2", "timeoutSeconds": 5}``: on the leader, hand the leadership to
  that master (state/transfer.py). On a follower: 503 NotLeader naming the leader (the CLI asks it instead).

Admin only (``admin_only``, api/auth.py): they expose the whole store and move the leader; no cross-origin reads
of them (api/ui.py) and the POST takes only JSON.
"""

from __future__ import annotations

import falcon

from raftkube.api.resources import read_body
from raftkube.model.errors import BadRequest, NotLeader, UnsupportedMediaType
from raftkube.state.backup import checksum, encode_backup

MAX_TRANSFER_TIMEOUT_S = 60.0


class _Admin:
    admin_only = True
    needs_ready = True

    def __init__(self, store, api_urls: dict[str, str], secure_urls: dict[str, str]):
        self.store = store
        self.api_urls = api_urls
        self.secure_urls = secure_urls


class MembersResource(_Admin):
    needs_ready = False  # a master catching up can still say who it knows

    def on_get(self, req, resp):
        view = self.store.members()
        for m in view["members"]:
            m["apiUrl"] = self.api_urls.get(m["name"], "")
            m["secureUrl"] = self.secure_urls.get(m["name"], "")
        resp.media = view


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
        if not (req.content_type or "").startswith("application/json"):  # no "simple" cross-site form post
            raise UnsupportedMediaType("POST /raft/transfer-leader takes Content-Type: application/json")
        body = read_body(req, 4096)
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
            leader = self.store.members()["leader"]
            raise NotLeader(f"{exc} (the leader is {leader or 'not known yet'})") from None
        resp.status = falcon.HTTP_200


def add_operate(app: falcon.App, store, masters, secure_urls) -> None:
    """``masters``: (name, plain API URL) pairs; ``secure_urls``: name -> TLS API URL."""
    urls, secure = dict(masters), dict(secure_urls)
    app.add_route("/raft/members", MembersResource(store, urls, secure))
    app.add_route("/raft/snapshot", SnapshotResource(store, urls, secure))
    app.add_route("/raft/transfer-leader", TransferResource(store, urls, secure))
