"""JSON patch (RFC 6902) on core/v1 objects: the operations, and the errors as Status bodies that change nothing."""

from __future__ import annotations

import json

import pytest
from falcon import testing

from raftkube.api.app import create_app
from raftkube.apis.v1.patch import json_patch
from raftkube.config import ApiConfig
from raftkube.model.errors import BadRequest, Invalid
from raftkube.registry import Registry
from raftkube.state.local import LocalStore

URL = "/api/v1/namespaces/default/pods/jp"
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


@pytest.fixture
def api():
    store = LocalStore()
    client = testing.TestClient(create_app(Registry(store), store, ApiConfig()))
    r = client.simulate_post("/api/v1/namespaces/default/pods", json={
        "metadata": {"name": "jp", "labels": {"app": "jp", "tier": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]}})
    assert r.status_code == 201
    return client


def _patch(api, ops):
    return api.simulate_patch(URL, body=json.dumps(ops), headers=JSON_PATCH)


def test_operations():
    doc = {"a": {"b": 1}, "l": [1, 2]}
    assert json_patch(doc, [{"op": "add", "path": "/a/c", "value": 2}]) == {"a": {"b": 1, "c": 2}, "l": [1, 2]}
    assert json_patch(doc, [{"op": "remove", "path": "/l/0"}]) == {"a": {"b": 1}, "l": [2]}
    assert json_patch(doc, [{"op": "replace", "path": "/a/b", "value": 5}])["a"] == {"b": 5}
    assert json_patch(doc, [{"op": "test", "path": "/a/b", "value": 1}, {"op": "add", "path": "/l/-", "value": 3}]
                      )["l"] == [1, 2, 3]
    assert json_patch(doc, [{"op": "move", "from": "/a/b", "path": "/x"}]) == {"a": {}, "l": [1, 2], "x": 1}
    assert doc == {"a": {"b": 1}, "l": [1, 2]}  # the target is not changed in place
    with pytest.raises(Invalid):
        json_patch(doc, [{"op": "test", "path": "/a/b", "value": 2}])
    with pytest.raises(Invalid):
        json_patch(doc, [{"op": "remove", "path": "/nope"}])
    for bad in ({"op": "add"}, [{"op": "frobnicate", "path": "/a"}], [{"op": "add", "path": "/a"}], [1],
                [{"op": "add", "path": 5, "value": 1}]):
        with pytest.raises(BadRequest):
            json_patch(doc, bad)


def test_json_patch_through_the_api(api):
    r = _patch(api, [{"op": "test", "path": "/metadata/labels/app", "value": "jp"},
                     {"op": "replace", "path": "/metadata/labels/app", "value": "jp2"},
                     {"op": "remove", "path": "/metadata/labels/tier"},
                     {"op": "add", "path": "/metadata/annotations", "value": {"note": "hi"}},
                     {"op": "replace", "path": "/spec/containers/0/image", "value": "redis"}])
    assert r.status_code == 200, r.text
    got = api.simulate_get(URL).json
    assert got["metadata"]["labels"] == {"app": "jp2"} and got["metadata"]["annotations"] == {"note": "hi"}
    assert got["spec"]["containers"][0]["image"] == "redis"


@pytest.mark.parametrize("ops,code,reason", [
    ([{"op": "test", "path": "/metadata/labels/app", "value": "other"},
      {"op": "replace", "path": "/metadata/labels/app", "value": "changed"}], 422, "Invalid"),
    ([{"op": "remove", "path": "/metadata/labels/missing"}], 422, "Invalid"),
    ([{"op": "replace", "path": "/metadata/labels/app", "value": "x"},
      {"op": "replace", "path": "/metadata/resourceVersion", "value": "999"}], 409, "Conflict"),
    ({"op": "add"}, 400, "BadRequest"),
    ([{"op": "jump", "path": "/a"}], 400, "BadRequest"),
    ([{"op": "replace", "path": "/metadata/name", "value": "other"}], 400, "BadRequest"),
    ([{"op": "replace", "path": "/spec/containers/0/image", "value": ""}], 422, "Invalid"),
])
def test_failed_json_patches_are_status_bodies_and_change_nothing(api, ops, code, reason):
    before = api.simulate_get(URL).json
    r = _patch(api, ops)
    assert r.status_code == code, r.text
    assert (r.json["kind"], r.json["reason"], r.json["code"]) == ("Status", reason, code)
    assert api.simulate_get(URL).json == before
