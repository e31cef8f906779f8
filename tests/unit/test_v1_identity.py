"""core/v1 object identity: ``generateName`` on create and ``ownerReferences`` (kept by a v1beta1 PUT)."""

from __future__ import annotations

import copy
import re

import pytest
from falcon import testing

from raftkube.api.app import create_app
from raftkube.config import ApiConfig
from raftkube.apis.v1.convert import from_wire
from raftkube.model.errors import AlreadyExists, Invalid
from raftkube.registry import Registry, WriteRequest, strategy
from raftkube.registry.strategy import generated_name
from raftkube.state.local import LocalStore

PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture
def api():
    store = LocalStore()
    return testing.TestClient(create_app(Registry(store), store, ApiConfig()))


def _pod(**md) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": {"containers": [{"name": "web", "image": "nginx"}]}}


def test_generate_name_makes_a_fresh_name_per_create(api):
    names = set()
    for _ in range(3):
        r = api.simulate_post(PODS, json=_pod(generateName="web-"))
        assert r.status_code == 201, r.text
        names.add(r.json["metadata"]["name"])
        assert r.json["metadata"]["generateName"] == "web-"
    assert len(names) == 3 and all(re.fullmatch(r"web-[a-z2-9]{5}", n) for n in names)
    # a name given wins over generateName
    assert api.simulate_post(PODS, json=_pod(name="fixed", generateName="web-")).json["metadata"]["name"] == "fixed"


def test_generated_names_are_cut_to_63_characters():
    assert len(generated_name("a" * 100, "0123456789abcdef")) == 63
    assert generated_name("x-", "uid-1") == generated_name("x-", "uid-1") != generated_name("x-", "uid-2")
    assert re.fullmatch(r"x-[bcdfghjklmnpqrstvwxz2456789]{5}", generated_name("x-", "any uid at all"))


def test_a_taken_generated_name_is_generated_again():
    """uid-0 and uid-1 give the same name (a collision, forced); the second create retries with uid-2."""
    uids = iter(["uid-0", "uid-1", "uid-2", "uid-3", "uid-4", "uid-5", "uid-6", "uid-7"])
    same = {"uid-0": "web-aaaaa", "uid-1": "web-aaaaa", "uid-2": "web-bbbbb"}
    reg = Registry(LocalStore(), new_uid=uids.__next__)
    pod = {"kind": "Pod", "metadata": {"generateName": "web-"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(strategy, "generated_name", lambda prefix, uid: same.get(uid, prefix + uid))
        first = reg.create(copy.deepcopy(pod))
        second = reg.create(copy.deepcopy(pod))
        assert (first["metadata"]["name"], second["metadata"]["name"]) == ("web-aaaaa", "web-bbbbb")
        assert second["metadata"]["uid"] == "uid-2"
        # with a client request id the first outcome stands: AlreadyExists
        with pytest.raises(AlreadyExists):
            same["uid-3"] = "web-aaaaa"
            reg.create(copy.deepcopy(pod), request=WriteRequest("req-1"))


def test_owner_references_round_trip_and_survive_a_v1beta1_put(api):
    ref = {"kind": "ReplicationController", "name": "web", "uid": "u-1", "controller": True}
    r = api.simulate_post(PODS, json=_pod(name="owned", ownerReferences=[ref]))
    assert r.json["metadata"]["ownerReferences"] == [{"apiVersion": "v1", **ref}]
    beta = api.simulate_get("/api/v1beta1/pods/owned").json
    beta["labels"] = {"changed": "yes"}
    assert api.simulate_put("/api/v1beta1/pods/owned", json=beta).status_code == 200
    got = api.simulate_get(PODS + "/owned").json["metadata"]
    assert got["labels"] == {"changed": "yes"} and got["ownerReferences"] == [{"apiVersion": "v1", **ref}]


@pytest.mark.parametrize("md", [
    {"name": "p", "ownerReferences": [{"kind": "ReplicationController", "name": "web"}]},
    {"name": "p", "ownerReferences": [{"kind": "ReplicationController", "name": "web", "uid": 5}]},
    {"name": "p", "ownerReferences": {"kind": "x"}},
    {"generateName": 7},
])
def test_bad_identity_fields_are_invalid(md):
    with pytest.raises(Invalid):
        from_wire("Pod", _pod(**md))
