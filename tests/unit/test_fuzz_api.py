"""Hypothesis fuzz of the in-process API (issue 17): random methods, routes, query strings, content types and
bodies (valid pods, RCs and services of both versions, mutated) against an app over a seeded store.

Every answer is below 500; every 4xx is a Status and leaves the store exactly as it was (snapshot compared).
Watches are left out (they stream); ``FUZZ_EXAMPLES`` sets the number of examples (default 400, each a
sequence of 4-12 requests on a fresh seeded store: about 2 000 requests, ~20 s on one core).
"""

from __future__ import annotations

import copy
import json
import os

import yaml
from falcon import testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raftkube.api.app import create_app
from raftkube.config import ApiConfig
from raftkube.registry import Registry
from raftkube.state.local import LocalStore
from raftkube.testing import pod_body, rc_body, service_body

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
V1 = "/api/v1/namespaces/default"
V1_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "labels": {"app": "x"}},
          "spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}]}}
V1_RC = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "r1", "labels": {"app": "x"}},
         "spec": {"replicas": 2, "selector": {"app": "x"},
                  "template": {"metadata": {"labels": {"app": "x"}},
                               "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}
V1_SVC = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s1"},
          "spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": "x"}}}
VALID = [pod_body("p1"), rc_body("r1", 2), service_body("s1", 8000, {"name": "p1"}), V1_POD, V1_RC, V1_SVC,
         {"podID": "p1", "host": "m1"}, {"apiVersion": "autoscaling/v1", "kind": "Scale",
                                         "metadata": {"name": "r1"}, "spec": {"replicas": 3}}]
NAMES = ["p1", "r1", "s1", "missing", "", "a" * 300, "..", "%2F", "P1", "x y"]
ROUTES = (
    [f"/api/v1beta1/{r}" for r in ("pods", "replicationControllers", "services", "minions", "events", "endpoints",
                                    "bindings", "nodes", "gizmos")]
    + [f"{V1}/{r}" for r in ("pods", "replicationcontrollers", "services", "endpoints", "events", "gizmos")]
    + ["/api/v1/nodes", "/api/v1/pods", "/api/v1/namespaces/Bad_NS/pods", "/api", "/apis", "/api/v1",
       "/version", "/healthz", "/readyz", "/openapi/v2", "/nothing", "/api/v2/pods"])
SUFFIXES = ["", "/status", "/scale", "/x/y"]
CTYPES = [None, "application/json", "application/yaml", "application/merge-patch+json",
          "application/strategic-merge-patch+json", "application/json-patch+json", "text/plain",
          "application/json; charset=latin-1", "\x00garbage"]
QUERIES = ["", "labels=name%3Dp1", "labels=%3D%3D%3D", "labelSelector=app+in+(x", "fields=spec.host%3D",
           "fieldSelector=nope%3D1", "resourceVersion=abc", "resourceVersion=-1", "resourceVersion=0",
           "namespace=", "namespace=Bad_NS", "limit=-3", "continue=zz", "foo=bar", "timeoutSeconds=x"]

leaf = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70)
        | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20)
        | st.sampled_from(["\ud800", "a\udfffb", "x" * 70, "", "-", "name=x", "80", "Always", "TCP", "busybox"]))
values = st.recursive(leaf, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated(draw):
    """A valid body with a few paths set to odd values, deleted, or replaced by deep nesting."""
    body = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(0, 4))):
        paths = [p for p in _paths(body) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = body
        for k in path[:-1]:
            parent = parent[k]
        op = draw(st.sampled_from(["set", "set", "del", "deep", "bigint"]))
        if op == "del":
            del parent[path[-1]]
        else:
            parent[path[-1]] = {"set": lambda: draw(values), "deep": lambda: [[[[{"a": [[[]]]}]]]] * 2,
                                "bigint": lambda: draw(st.sampled_from([2 ** 63, -1, 0, 65536, 10 ** 9]))}[op]()
    return body


@st.composite
def raw_body(draw):
    kind = draw(st.sampled_from(["json", "json", "json", "yaml", "truncated", "deep", "bytes", "none", "nested"]))
    if kind == "none":
        return None
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    if kind == "deep":
        n = draw(st.sampled_from([99, 100, 101, 1000, 20000]))
        return ('{"id": ' * n + "1" + "}" * n).encode()
    body = draw(mutated())
    if kind == "nested":
        body["labels"] = {"name": "@@"}
        return json.dumps(body).replace('"@@"', "[" * 5000 + "]" * 5000).encode()
    text = json.dumps(body, allow_nan=True)
    if kind == "yaml":
        try:
            return yaml.safe_dump(json.loads(text)).encode("utf-8", "surrogatepass")
        except (yaml.YAMLError, ValueError):
            return text.encode()
    if kind == "truncated":
        text = text[:draw(st.integers(0, len(text)))]
    return text.encode()


request = st.tuples(
    st.sampled_from(["POST", "POST", "POST", "PUT", "PUT", "PATCH", "PATCH", "GET", "DELETE", "HEAD", "OPTIONS"]),
    st.sampled_from(ROUTES), st.none() | st.sampled_from(NAMES), st.sampled_from(SUFFIXES),
    st.sampled_from(QUERIES), st.sampled_from(CTYPES), raw_body())

SEEN = {"requests": 0, "4xx": 0, "2xx": 0}


def _seeded():
    store = LocalStore()
    api = testing.TestClient(create_app(Registry(store), store, ApiConfig(max_body_bytes=256 * 1024)))
    for path, body in [("/api/v1beta1/pods", pod_body("p1")), ("/api/v1beta1/replicationControllers",
                                                                 rc_body("r1", 2, labels={"name": "r1"})),
                       ("/api/v1beta1/services", service_body("s1", 8000, {"name": "p1"}))]:
        assert api.simulate_post(path, json=body).status_code == 200
    return store, api


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(request, min_size=4, max_size=12))
def test_fuzzed_requests_never_5xx_and_4xx_change_nothing(requests):
    store, api = _seeded()
    for method, route, name, suffix, query, ctype, body in requests:
        path = route + (f"/{name}" if name is not None else "") + (suffix if name is not None else "")
        before = store.read().snapshot()
        headers = {"Content-Type": ctype} if ctype else {}
        r = api.simulate_request(method, path, query_string=query, headers=headers, body=body)
        SEEN["requests"] += 1
        assert r.status_code < 500, (method, path, query, ctype, body, r.text)
        if r.status_code >= 400:
            SEEN["4xx"] += 1
            assert store.read().snapshot() == before, (method, path, query, ctype, body, r.status_code, r.text)
            if method != "HEAD":
                status = r.json
                assert status["kind"] == "Status" and status["code"] == r.status_code, r.text
        else:
            SEEN["2xx"] += 1


def teardown_module(module):
    print(f"\nfuzz: {SEEN['requests']} requests, {SEEN['2xx']} 2xx/3xx, {SEEN['4xx']} 4xx")
