"""core/v1 bindings (``.../bindings`` and ``.../pods/<name>/binding``) and pod status writes (``.../status``)."""

from __future__ import annotations

import pytest
from falcon import testing

from raftkube.api.app import create_app
from raftkube.config import ApiConfig
from raftkube.registry import Registry
from raftkube.state.local import LocalStore

NS = "/api/v1/namespaces/default"


@pytest.fixture
def api():
    store = LocalStore()
    client = testing.TestClient(create_app(Registry(store), store, ApiConfig()))
    for name in ("b1", "b2", "b3"):
        r = client.simulate_post(NS + "/pods", json={"metadata": {"name": name},
                                                     "spec": {"containers": [{"name": "web", "image": "nginx"}]}})
        assert r.status_code == 201
    return client


def _node(api, pod):
    return api.simulate_get(f"{NS}/pods/{pod}").json["spec"].get("nodeName")


def _binding(pod=None, node="n1", **extra):
    md = {"name": pod} if pod else {}
    return {"apiVersion": "v1", "kind": "Binding", "metadata": md, "target": {"kind": "Node", "name": node}, **extra}


def test_bind_through_both_paths(api):
    r = api.simulate_post(NS + "/bindings", json=_binding("b1"))
    assert r.status_code == 201 and r.json == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                               "status": "Success", "code": 201}
    assert _node(api, "b1") == "n1"
    assert api.simulate_post(NS + "/pods/b2/binding", json=_binding(node="n2")).status_code == 201
    assert _node(api, "b2") == "n2"
    # already bound: 409, the binding stays
    r = api.simulate_post(NS + "/pods/b2/binding", json=_binding("b2", node="n3"))
    assert r.status_code == 409 and r.json["reason"] == "Conflict" and _node(api, "b2") == "n2"
    # the same pod read through v1beta1
    assert api.simulate_get("/api/v1beta1/pods/b1").json["desiredState"]["host"] == "n1"


@pytest.mark.parametrize("url,body,code,reason", [
    (NS + "/bindings", _binding(), 422, "Invalid"),
    (NS + "/bindings", _binding("b3", node=""), 422, "Invalid"),
    (NS + "/bindings", {"metadata": {"name": "b3"}, "target": {"kind": "Pod", "name": "n1"}}, 422, "Invalid"),
    (NS + "/bindings", _binding("nope"), 404, "NotFound"),
    (NS + "/pods/b3/binding", _binding("b1"), 400, "BadRequest"),
    (NS + "/bindings", dict(_binding("b3"), metadata={"name": "b3", "namespace": "other"}), 400, "BadRequest"),
    (NS + "/bindings", dict(_binding("b3"), kind="Pod"), 400, "BadRequest"),
])
def test_bad_bindings_are_status_bodies_and_bind_nothing(api, url, body, code, reason):
    r = api.simulate_post(url, json=body)
    assert r.status_code == code and (r.json["kind"], r.json["reason"]) == ("Status", reason), r.text
    assert _node(api, "b3") in (None, "")


def test_pod_status_through_v1(api):
    url = NS + "/pods/b1/status"
    got = api.simulate_get(url).json
    assert got["kind"] == "Pod" and got["status"]["phase"] == "Pending"
    status = {"phase": "Running", "podIP": "10.1.2.3", "hostIP": "10.0.0.1",
              "containerStatuses": [{"name": "web", "image": "nginx", "ready": True, "restartCount": 2,
                                     "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}
    r = api.simulate_put(url, json={"metadata": {"name": "b1"}, "spec": {"containers": []}, "status": status})
    assert r.status_code == 200, r.text
    got = api.simulate_get(NS + "/pods/b1").json
    assert got["status"]["phase"] == "Running" and got["status"]["podIP"] == "10.1.2.3"
    assert got["status"]["containerStatuses"][0]["restartCount"] == 2
    assert got["status"]["conditions"] == [{"type": "Ready", "status": "True"}]
    assert got["spec"]["containers"][0]["image"] == "nginx"  # the spec is untouched
    assert api.simulate_get("/api/v1beta1/pods/b1").json["currentState"]["status"] == "Running"
    for bad in ({"phase": "Dancing"}, {"containerStatuses": [{"restartCount": "x"}]},
                {"containerStatuses": [{"state": {"running": {}, "waiting": {}}}]}):
        r = api.simulate_put(url, json={"metadata": {"name": "b1"}, "status": bad})
        assert r.status_code == 422 and r.json["reason"] == "Invalid", r.text
    assert api.simulate_get(NS + "/pods/b1").json["status"]["phase"] == "Running"
    stale = {"metadata": {"name": "b1", "resourceVersion": "1"}, "status": {"phase": "Failed"}}
    assert api.simulate_put(url, json=stale).status_code == 409
    assert api.simulate_get(url.replace("pods", "services")).status_code == 404


def test_a_v1_bind_computes_service_env_and_a_v1_put_keeps_it():
    store = LocalStore()
    registry = Registry(store)
    api = testing.TestClient(create_app(registry, store, ApiConfig()))
    api.simulate_post(NS + "/services", json={"metadata": {"name": "db"},
                                              "spec": {"selector": {"a": "b"}, "ports": [{"port": 5432}]}})
    api.simulate_post(NS + "/pods", json={"metadata": {"name": "p"},
                                          "spec": {"containers": [{"name": "w", "image": "x"}]}})
    assert api.simulate_post(NS + "/pods/p/binding", json={"target": {"name": "n1"}}).status_code == 201
    env = registry.get("Pod", "default", "p")["spec"]["serviceEnv"]
    assert {"name": "DB_SERVICE_PORT", "value": "5432"} in env
    got = api.simulate_get(NS + "/pods/p").json
    got["metadata"]["labels"] = {"x": "y"}
    assert api.simulate_put(NS + "/pods/p", json=got).status_code == 200
    assert registry.get("Pod", "default", "p")["spec"]["serviceEnv"] == env
