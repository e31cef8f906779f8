"""Taking credentials back (issue 18): revoked certificate serials, the token file read again when it changes."""

from __future__ import annotations

import pytest

from raftkube.api.auth import Authenticator
from raftkube.api.revocations import KIND, RevocationList
from raftkube.model.errors import Invalid, Unauthorized
from raftkube.model.validation import serial_hex, validate
from raftkube.registry.registry import Registry
from raftkube.state.local import LocalStore


def test_serial_numbers_are_compared_as_lowercase_hex_without_leading_zeros():
    assert serial_hex("0A1B") == serial_hex("0x0a1b") == serial_hex("0a:1b") == "a1b"
    assert serial_hex("000") == "0"
    for bad in ("", "xyz", "12 34", "0x", "f" * 81):
        assert serial_hex(bad) == ""


def test_a_revocation_names_a_serial():
    validate({"kind": KIND, "metadata": {"name": "a1b"}, "spec": {"subject": "CN=x", "reason": "lost"}})
    for name in ("A1B", "0a1b", "nothex", "f" * 41):
        with pytest.raises(Invalid, match="metadata.name"):
            validate({"kind": KIND, "metadata": {"name": name}, "spec": {}})
    with pytest.raises(Invalid, match="spec.reason"):
        validate({"kind": KIND, "metadata": {"name": "1"}, "spec": {"reason": "x" * 257}})


def _cert(cn="node:m1", serial="0A1B"):
    """What ssl.getpeercert() gives for a client certificate."""
    return {"subject": ((("commonName", cn),), (("organizationName", "nodes"),)), "serialNumber": serial}


def test_the_revocation_list_follows_the_store():
    store = LocalStore()
    registry = Registry(store)
    revocations = RevocationList(registry, store)
    auth = Authenticator(None, revoked=revocations.revoked)
    env = {"raftkube.peer_cert": _cert()}
    assert auth.user(env, None).name == "node:m1"
    registry.create({"kind": KIND, "metadata": {"name": "a1b"}, "spec": {"reason": "stolen"}})
    with pytest.raises(Unauthorized, match=r'certificate of "node:m1" \(serial 0a1b\) is revoked'):
        auth.user(env, None)
    assert auth.user({"raftkube.peer_cert": _cert(serial="0A1C")}, None).name == "node:m1"  # another serial
    registry.delete(KIND, "", "a1b")
    assert auth.user(env, None).name == "node:m1"


def test_the_token_file_is_read_again_when_it_changes(tmp_path):
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('t-admin,admin,1,"admin"\nt-view,viewer,2,"viewer"\n')
    now = [100.0]
    auth = Authenticator(tokens, clock=lambda: now[0])
    assert auth.user({}, "Bearer t-view").name == "viewer"
    tokens.write_text('t-admin,admin,1,"admin"\n')
    assert auth.user({}, "Bearer t-view") is not None  # looked at no more than once a second
    now[0] += 1.0
    assert auth.user({}, "Bearer t-view") is None
    assert auth.user({}, "Bearer t-admin").name == "admin"
    tokens.write_text("broken,line\n")  # a file that does not parse: the tokens read last stay
    now[0] += 1.0
    assert auth.user({}, "Bearer t-admin").name == "admin"
    tokens.write_text('t-admin,admin,1,"admin"\nt-new,viewer,3,"viewer"\n')
    now[0] += 1.0
    assert auth.user({}, "Bearer t-new").name == "viewer"
    tokens.unlink()  # no file: no tokens
    now[0] += 1.0
    assert auth.user({}, "Bearer t-admin") is None


def test_a_token_file_that_does_not_parse_at_start_is_an_error(tmp_path):
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("broken,line\n")
    with pytest.raises(ValueError, match="a line needs token,user,uid"):
        Authenticator(tokens)


class _Masters:
    """A client whose GET /raft/revocations answers what ``answer`` holds (an exception: the masters are away)."""

    def __init__(self):
        self.answer: object = {"revoked": []}

    def request(self, method, path):
        assert (method, path) == ("GET", "/raft/revocations")
        if isinstance(self.answer, Exception):
            raise self.answer
        answer = self.answer
        return type("Resp", (), {"json": lambda _self: answer})()


def test_the_kubelet_port_polls_the_revoked_serials_and_keeps_them_when_the_masters_are_away():
    from raftkube.minion.revocations import RevocationPoller
    masters = _Masters()
    poller = RevocationPoller(masters)
    masters.answer = {"revoked": [{"serial": "a1b"}, {"serial": "ff"}]}
    poller.poll()
    assert poller.revoked("0A1B") and poller.revoked("FF") and not poller.revoked("a1c") and not poller.revoked("")
    masters.answer = ConnectionError("no master answers")
    poller.poll()
    assert poller.revoked("a1b")
    masters.answer = {"revoked": [{"serial": "ff"}]}
    poller.poll()
    assert not poller.revoked("a1b") and poller.revoked("ff")


def test_a_revocation_path_answers_only_delete():
    """GET or POST on /raft/revocations/<serial> is 405 with a Status, not a 500 (it inherited the list's
    responders, which take no serial)."""
    import falcon.testing

    from raftkube.api.app import create_app
    store = LocalStore()
    client = falcon.testing.TestClient(create_app(Registry(store), store))
    for method in ("GET", "POST", "PUT"):
        r = client.simulate_request(method, "/raft/revocations/abc", json={})
        assert r.status_code == 405 and r.json["kind"] == "Status", (method, r.status, r.text)
    assert client.simulate_delete("/raft/revocations/abc").status_code == 404
