"""Bad request bodies (issue 17): every one a 4xx Status on both API versions, nothing written to the store."""

from __future__ import annotations

import copy
import json

import pytest
from falcon import testing

from raftkube.api.app import create_app
from raftkube.config import ApiConfig
from raftkube.registry import Registry
from raftkube.state.local import LocalStore
from raftkube.testing import pod_body

V1_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "labels": {"app": "x"}},
          "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
ROUTES = [("/api/v1beta1/pods", lambda: pod_body("x")), ("/api/v1/namespaces/default/pods", lambda: copy.deepcopy(V1_POD))]


@pytest.fixture
def store():
    return LocalStore()


@pytest.fixture
def api(store):
    return testing.TestClient(create_app(Registry(store), store, ApiConfig(max_body_bytes=1024 * 1024)))


def assert_400(r):
    assert r.status_code == 400, r.text
    body = r.json
    assert body["kind"] == "Status" and body["status"] == "Failure" and body["reason"] == "BadRequest"
    return body["message"]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _labelled(make, value_json: str) -> str:
    """The valid body with one label value (or annotation) replaced by raw JSON text."""
    body = make()
    md = body.get("metadata", body)
    md.setdefault("labels", {})["name"] = "@@"
    return json.dumps(body).replace('"@@"', value_json)


@pytest.mark.parametrize("route, make", ROUTES)
@pytest.mark.parametrize("case", ["top", "label", "annotation", "objects"])
def test_deep_nesting_is_400(api, store, route, make, case):
    if case == "top":
        raw = nested(10_000)
    elif case == "objects":
        raw = '{"a":' * 10_000 + "1" + "}" * 10_000
    elif case == "label":
        raw = _labelled(make, nested(10_000))
    else:
        body = make()
        body.get("metadata", body)["annotations"] = {"a": "@@"}
        raw = json.dumps(body).replace('"@@"', nested(10_000))
    assert "deeper than 100" in assert_400(api.simulate_post(route, body=raw))
    assert store.read().revision == 0


@pytest.mark.parametrize("route, make", ROUTES)
def test_depth_100_is_fine_101_is_not(api, store, route, make):
    body = make()
    md = body.get("metadata", body)
    md["annotations"] = {"a": "@@"}
    ok = json.dumps(body).replace('"@@"', '"' + nested(500) + '"')  # brackets inside a string do not count
    assert api.simulate_post(route, body=ok).status_code in (200, 201)
    assert api.simulate_post("/api/v1beta1/pods", body=nested(100)).status_code == 400  # a list, not an object
    assert "deeper" in assert_400(api.simulate_post(route, body=nested(101)))


@pytest.mark.parametrize("route, make", ROUTES)
@pytest.mark.parametrize("text", ['"\\ud800"', '"a\\udfffb"', '"\\ud800\\u0041"'])
def test_lone_surrogates_are_400(api, store, route, make, text):
    assert "surrogate" in assert_400(api.simulate_post(route, body=_labelled(make, text)))
    body = make()
    body.get("metadata", body)["annotations"] = {"\\ud800": "x"}
    raw = json.dumps(body).replace('"\\\\ud800"', text)
    assert "surrogate" in assert_400(api.simulate_post(route, body=raw))
    assert store.read().revision == 0


@pytest.mark.parametrize("route, make", ROUTES)
def test_paired_surrogates_are_fine(api, route, make):
    r = api.simulate_post(route, body=_labelled(make, '"x"').replace('"labels"', '"annotations": {"e": "\\ud83d\\ude00"}, "labels"', 1))
    assert r.status_code in (200, 201), r.text


@pytest.mark.parametrize("route, make", ROUTES)
@pytest.mark.parametrize("raw", [b'{"id": "\xff\xfe"}', b'{"id": "\xed\xa0\x80"}', b'{"id": "\xc3"}'])
def test_invalid_utf8_is_400(api, store, route, make, raw):
    assert "UTF-8" in assert_400(api.simulate_post(route, body=raw))
    assert store.read().revision == 0


@pytest.mark.parametrize("route, make", ROUTES)
@pytest.mark.parametrize("const", ["NaN", "Infinity", "-Infinity", "1e999", "123456789012345678901234567890"])
def test_non_finite_and_huge_numbers_are_400(api, store, route, make, const):
    body = make()
    body.get("metadata", body)["annotations"] = {"a": "@@"}
    if route.startswith("/api/v1beta1"):
        body["desiredState"]["manifest"]["containers"][0]["cpu"] = "@@"
    else:
        body["spec"]["containers"][0]["ports"] = [{"containerPort": "@@"}]
    assert_400(api.simulate_post(route, body=json.dumps(body).replace('"@@"', const)))
    assert store.read().revision == 0


@pytest.mark.parametrize("route, make", ROUTES)
def test_string_and_key_count_limits(api, store, route, make, monkeypatch):
    from raftkube.api import decode
    monkeypatch.setattr(decode, "MAX_STRING", 1000)
    monkeypatch.setattr(decode, "MAX_KEYS", 50)
    body = make()
    body.get("metadata", body)["annotations"] = {"a": "x" * 1001}
    assert "longer than 1000" in assert_400(api.simulate_post(route, json=body))
    body.get("metadata", body)["annotations"] = {"x" * 1001: "a"}
    assert "longer than 1000" in assert_400(api.simulate_post(route, json=body))
    body.get("metadata", body)["annotations"] = {f"k{i}": "v" for i in range(51)}
    assert "more than 50 keys" in assert_400(api.simulate_post(route, json=body))
    assert store.read().revision == 0


YAML = {"Content-Type": "application/yaml"}


def test_yaml_alias_bomb_is_refused_before_expansion(api, store):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join('*' + chr(97 + i) for _ in range(10))}]\n" for i in range(9))
    assert "anchors and aliases" in assert_400(api.simulate_post("/api/v1beta1/pods", body=bomb, headers=YAML))
    plain = "id: y\nkind: Pod\nmetadata: &m {name: y}\n"
    assert "anchors" in assert_400(api.simulate_post("/api/v1beta1/pods", body=plain, headers=YAML))
    assert store.read().revision == 0


def test_yaml_gets_the_same_limits(api, store):
    for raw in ["a: " + nested(200), "a: .nan", "a: .inf", "1: x", 'a: "\\ud800"', "a: 2014-10-14T09:00:00Z"]:
        assert_400(api.simulate_post("/api/v1beta1/pods", body=raw, headers=YAML))
    assert store.read().revision == 0
    good = "id: y\nkind: Pod\napiVersion: v1beta1\ndesiredState:\n  manifest:\n    version: v1beta1\n" \
           "    containers:\n    - name: c\n      image: busybox\n"
    assert api.simulate_post("/api/v1beta1/pods", body=good, headers=YAML).status_code == 200


# --- validation ranges: 422 with causes ------------------------------------------------------------

from raftkube.model.validation import ANNOTATIONS_MAX_BYTES, MAX_REPLICAS  # noqa: E402
from raftkube.testing import rc_body, service_body  # noqa: E402

V1 = "/api/v1/namespaces/default"


def assert_422(r, *fields):
    assert r.status_code == 422, r.text
    body = r.json
    assert body["kind"] == "Status" and body["reason"] == "Invalid"
    got = [c["field"] for c in body["details"]["causes"]]
    for f in fields:
        assert any(f in g for g in got), (f, got)
    return body


def test_replicas_above_the_maximum_is_422(api, store):
    assert api.simulate_post("/api/v1beta1/replicationControllers",
                             json=rc_body("ok", MAX_REPLICAS, labels={"name": "ok"})).status_code == 200
    rev = store.read().revision
    assert_422(api.simulate_post("/api/v1beta1/replicationControllers",
                                 json=rc_body("big", MAX_REPLICAS + 1, labels={"name": "big"})), "replicas")
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "web"},
          "spec": {"replicas": 1_000_000_000, "selector": {"app": "web"},
                   "template": {"metadata": {"labels": {"app": "web"}},
                                "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}
    assert_422(api.simulate_post(V1 + "/replicationcontrollers", json=rc), "spec.replicas")
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "ok"},
             "spec": {"replicas": 1_000_000_000}}
    r = api.simulate_put(V1 + "/replicationcontrollers/ok/scale", json=scale)
    assert r.status_code == 422, r.text
    assert store.read().revision == rev


@pytest.mark.parametrize("port", [0, -1, 65536, 1_000_000])
def test_ports_out_of_range_are_422(api, store, port):
    body = pod_body("p")
    body["desiredState"]["manifest"]["containers"][0]["ports"] = [{"containerPort": port or -5, "hostPort": port}]
    assert_422(api.simulate_post("/api/v1beta1/pods", json=body), "Port")
    pod = copy.deepcopy(V1_POD)
    pod["spec"]["containers"][0]["ports"] = [{"containerPort": port or 70000}]
    assert_422(api.simulate_post(V1 + "/pods", json=pod), "containerPort")
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"ports": [{"port": port or 65536, "targetPort": 80}], "selector": {"app": "web"}}}
    assert_422(api.simulate_post(V1 + "/services", json=svc), "port")
    assert_422(api.simulate_post("/api/v1beta1/services", json=service_body("s", port or 65536, {"a": "b"})), "port")
    assert store.read().revision == 0


@pytest.mark.parametrize("key, value", [
    ("a b", "x"), ("-a", "x"), ("a-", "x"), ("x" * 64, "x"), ("Bad_Prefix!/a", "x"), ("/a", "x"), ("a/", "x"),
    ("ok", "a b"), ("ok", "-x"), ("ok", "x" * 64), ("ok", "é"), ("ok", "x/y"),
])
def test_label_syntax_like_kubernetes_is_422(api, store, key, value):
    pod = copy.deepcopy(V1_POD)
    pod["metadata"]["labels"] = {key: value}
    assert_422(api.simulate_post(V1 + "/pods", json=pod), "labels")
    body = pod_body("p")
    body["labels"] = {key: value}
    assert_422(api.simulate_post("/api/v1beta1/pods", json=body), "labels")
    assert store.read().revision == 0


def test_good_labels_pass(api):
    pod = copy.deepcopy(V1_POD)
    pod["metadata"]["labels"] = {"example.com/a_b.c-d": "A.b_c-9", "x": "", "k" * 63: "v" * 63}
    assert api.simulate_post(V1 + "/pods", json=pod).status_code == 201


def test_annotations_total_size_and_keys_are_422(api, store):
    pod = copy.deepcopy(V1_POD)
    half = ANNOTATIONS_MAX_BYTES // 2
    pod["metadata"]["annotations"] = {"a": "x" * half, "b": "y" * half}  # 2 bytes of keys over
    assert_422(api.simulate_post(V1 + "/pods", json=pod), "metadata.annotations")
    pod["metadata"]["annotations"] = {"bad key": "v"}
    assert_422(api.simulate_post(V1 + "/pods", json=pod), "metadata.annotations")
    assert store.read().revision == 0
    pod["metadata"]["annotations"] = {"a": "x" * (half - 1), "b": "y" * (half - 1)}
    assert api.simulate_post(V1 + "/pods", json=pod).status_code == 201


@pytest.mark.parametrize("policy, wire", [("Never", "never"), ("OnFailure", "onFailure")])
def test_rc_whose_pods_would_not_restart_is_422(api, store, policy, wire):
    """An RC keeps its pods running (Kubernetes requires restartPolicy Always in its template): with Never
    or OnFailure a pod that completes would be replaced over and over (issue 19). Create and update alike."""
    body = rc_body("job", 1, labels={"name": "job"})
    body["desiredState"]["podTemplate"]["desiredState"]["manifest"]["restartPolicy"] = {wire: {}}
    rev = store.read().revision
    assert_422(api.simulate_post("/api/v1beta1/replicationControllers", json=body), "restartPolicy")
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "job"},
          "spec": {"replicas": 1, "selector": {"app": "job"},
                   "template": {"metadata": {"labels": {"app": "job"}},
                                "spec": {"containers": [{"name": "c", "image": "busybox"}],
                                         "restartPolicy": policy}}}}
    r = assert_422(api.simulate_post(V1 + "/replicationcontrollers", json=rc), "spec.template.spec.restartPolicy")
    assert policy in r["message"]
    assert store.read().revision == rev
    rc["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert api.simulate_post(V1 + "/replicationcontrollers", json=rc).status_code == 201
    rev = store.read().revision
    rc["spec"]["template"]["spec"]["restartPolicy"] = policy
    got = api.simulate_get(V1 + "/replicationcontrollers/job").json
    got["spec"]["template"]["spec"]["restartPolicy"] = policy
    assert_422(api.simulate_put(V1 + "/replicationcontrollers/job", json=got), "spec.template.spec.restartPolicy")
    assert store.read().revision == rev


@pytest.mark.parametrize("route, make", ROUTES)
@pytest.mark.parametrize("raw", ["null", "1", '"pod"', "[]", "true"])
def test_a_body_that_is_not_an_object_is_400(api, store, route, make, raw):
    """JSON values other than an object (``null`` too: it once passed as "no body" and answered 500)."""
    assert "must be a JSON object" in assert_400(api.simulate_post(route, body=raw))
    assert store.read().revision == 0
