"""core/v1 object identity: ``generateName`` on create and ``ownerReferences`` (kept by a v1beta1 PUT)."""

from __future__ import annotations

import re

import pytest
from falcon import testing

from raftkube.api.app import create_app
from raftkube.config import ApiConfig
from raftkube.model.errors import Invalid
from raftkube.apis.v1.convert import from_wire
from raftkube.registry import Registry
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
    assert generated_name("x-", "00000000-0000-0000-0000-000000000000") == "x-bbbbb"


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
