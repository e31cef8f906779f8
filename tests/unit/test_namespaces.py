"""Namespaces as objects: v1 creates only into existing, active namespaces (``default`` always), a DELETE marks
the namespace Terminating and the namespace controller empties and removes it; v1beta1 creates stay unchecked."""

from __future__ import annotations

import pytest
from falcon import testing

from raftkube.api.app import create_app
from raftkube.config import ApiConfig
from raftkube.controllers.namespaces import NamespaceController
from raftkube.registry import Registry
from raftkube.registry.client import LocalClient
from raftkube.state.local import LocalStore
from raftkube.testing import pod_body

V1 = "/api/v1"
POD = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
RC = {"metadata": {"name": "rc"}, "spec": {"replicas": 1, "selector": {"a": "b"}, "template": {
    "metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}


@pytest.fixture
def env():
    store = LocalStore()
    registry = Registry(store)
    api = testing.TestClient(create_app(registry, store, ApiConfig()))
    return api, NamespaceController(LocalClient(registry))


def test_create_namespace_and_objects_in_it(env):
    api, _ = env
    r = api.simulate_post(V1 + "/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})
    assert r.status_code == 201 and r.json["status"] == {"phase": "Active"} and r.json["kind"] == "Namespace"
    assert "namespace" not in r.json["metadata"]
    assert api.simulate_post(V1 + "/namespaces/x/pods", json=POD).status_code == 201
    assert api.simulate_post(V1 + "/namespaces/default/pods", json=POD).status_code == 201  # default: always
    table = api.simulate_get(V1 + "/namespaces", headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert [c["name"] for c in table.json["columnDefinitions"]] == ["Name", "Status", "Age"]
    assert table.json["rows"][0]["cells"][:2] == ["x", "Active"]
    bad = api.simulate_post(V1 + "/namespaces", json={"metadata": {"name": "Not_A_Label"}})
    assert bad.status_code == 422 and bad.json["details"]["causes"][0]["field"] == "metadata.name"


def test_creates_in_missing_or_terminating_namespaces_are_refused(env):
    api, _ = env
    r = api.simulate_post(V1 + "/namespaces/nope/pods", json=POD)
    assert (r.status_code, r.json["reason"], r.json["message"]) == (404, "NotFound", 'namespaces "nope" not found')
    api.simulate_post(V1 + "/namespaces", json={"metadata": {"name": "t"}})
    d = api.simulate_delete(V1 + "/namespaces/t")
    assert d.status_code == 200 and d.json["status"]["phase"] == "Terminating"
    r = api.simulate_post(V1 + "/namespaces/t/pods", json=POD)
    assert (r.status_code, r.json["reason"]) == (403, "Forbidden")
    assert r.json["message"] == "unable to create new content in namespace t because it is being terminated"
    assert api.simulate_get(V1 + "/namespaces/nope/pods").json["items"] == []
    # v1beta1 (no namespace objects in 2014) is not checked
    assert api.simulate_post("/api/v1beta1/pods", json=pod_body("old"), params={"namespace": "nope"}).status_code == 200


def test_default_may_not_be_deleted_and_the_controller_creates_it(env):
    api, ctrl = env
    r = api.simulate_delete(V1 + "/namespaces/default")
    assert (r.status_code, r.json["reason"]) == (403, "Forbidden")
    ctrl.sync_once()
    got = api.simulate_get(V1 + "/namespaces/default")
    assert got.status_code == 200 and got.json["status"]["phase"] == "Active"


def test_deleting_a_namespace_deletes_what_it_holds(env):
    api, ctrl = env
    for ns in ("gone", "kept"):
        api.simulate_post(V1 + "/namespaces", json={"metadata": {"name": ns}})
        for what, body in (("pods", POD), ("replicationcontrollers", RC),
                           ("services", {"metadata": {"name": "s"},
                                         "spec": {"selector": {"a": "b"}, "ports": [{"port": 80}]}})):
            assert api.simulate_post(f"{V1}/namespaces/{ns}/{what}", json=body).status_code == 201
    api.simulate_delete(V1 + "/namespaces/gone")
    ctrl.sync_once()  # empties it
    for what in ("pods", "replicationcontrollers", "services"):
        assert api.simulate_get(f"{V1}/namespaces/gone/{what}").json["items"] == []
        assert len(api.simulate_get(f"{V1}/namespaces/kept/{what}").json["items"]) == 1
    assert api.simulate_get(V1 + "/namespaces/gone").json["status"]["phase"] == "Terminating"
    ctrl.sync_once()  # finds it empty: removes it
    assert api.simulate_get(V1 + "/namespaces/gone").status_code == 404
    assert api.simulate_get(V1 + "/namespaces/kept").status_code == 200
