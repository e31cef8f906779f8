"""The dashboard's server side: /ui files with absolute links, /ui/masters.json, cross-origin reads, /ui/watch."""

import json
import re
import threading

import pytest
from falcon import testing

from raftkube.api.app import create_app
from raftkube.api.uiwatch import MultiWatchResource
from raftkube.apis import v1
from raftkube.config import ApiConfig
from raftkube.registry import Registry
from raftkube.state.local import LocalStore
from raftkube.testing import pod_body, poll_until
from raftkube.testing.objects import pod

MASTERS = [("m1", "http://127.0.0.1:8080"), ("m2", "http://127.0.0.1:8081")]


@pytest.fixture
def store():
    s = LocalStore()
    yield s
    s.close()


@pytest.fixture
def api(store):
    return testing.TestClient(create_app(Registry(store), store, ApiConfig(), masters=MASTERS))


def test_ui_page_and_its_files_are_served_at_absolute_paths(api):
    for path in ("/ui", "/ui/"):
        r = api.simulate_get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    links = re.findall(r'(?:href|src)="(/[^"]+)"', api.simulate_get("/ui/").text)
    assert sorted(links) == ["/ui/app.js", "/ui/style.css"]
    for link in links:
        assert api.simulate_get(link).status_code == 200
    assert api.simulate_get("/ui/nothing.js").status_code == 404


def test_masters_json_lists_the_cluster(api):
    assert api.simulate_get("/ui/masters.json").json == {"masters": [{"name": n, "url": u} for n, u in MASTERS]}


def test_reads_may_be_cross_origin_from_the_masters_only_writes_get_no_cors_header(api):
    for path in ("/raft", "/metrics", "/api/v1/pods", "/readyz"):
        for page in ("http://127.0.0.1:8081", "http://localhost:8080"):  # another master; a loopback alias
            r = api.simulate_get(path, headers={"Origin": page})
            assert r.headers["access-control-allow-origin"] == page and "Origin" in r.headers["vary"]
        for page in ("http://x", "http://127.0.0.1:9999", "https://127.0.0.1:8080", "null"):  # any other page
            assert "access-control-allow-origin" not in api.simulate_get(path, headers={"Origin": page}).headers
    r = api.simulate_post("/api/v1beta1/pods", json=pod_body("p"), headers={"Origin": "http://127.0.0.1:8081"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    # no preflight answer: a page of another origin cannot send a JSON write
    r = api.simulate_request("OPTIONS", "/api/v1/namespaces/default/pods", headers={
        "Origin": "http://x", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                   "Text/Plain; charset=utf-8"])
def test_bodies_a_browser_sends_cross_site_without_asking_are_refused(api, ctype):
    """A web page may POST these to any origin without a preflight (a form, fetch with text/plain): refused, so a
    page in a browser on a master's host cannot write through the credential-free loopback port."""
    body = json.dumps(pod_body("csrf")).encode()
    for path in ("/api/v1beta1/pods", "/api/v1/namespaces/default/pods"):
        r = api.simulate_post(path, body=body, headers={"Content-Type": ctype, "Origin": "http://evil"})
        assert r.status_code == 415 and r.json["kind"] == "Status" and r.json["reason"] == "UnsupportedMediaType"
    assert api.simulate_get("/api/v1beta1/pods/csrf").status_code == 404
    assert api.simulate_post("/api/v1beta1/pods", body=body).status_code == 200  # no content type: not a browser


@pytest.mark.parametrize("query", ["", "resources=", "resources=pods,nonsense", "resources=pods&resourceVersion=x",
                                   "resources=pods&resourceVersion=-1"])
def test_ui_watch_refuses_bad_input_with_a_status(api, query):
    r = api.simulate_get("/ui/watch", query_string=query)
    assert r.status_code == 400
    assert r.json["kind"] == "Status" and r.json["code"] == 400 and r.json["message"]


def lines(gen, n):
    """The event lines of a /ui/watch stream's next chunks, at least n (the filler whitespace skipped)."""
    out = []
    while len(out) < n:
        out += [json.loads(x) for x in next(gen).split(b"\n") if x.strip()]
    return out


def test_ui_watch_streams_several_resources_from_one_revision(api, store):
    registry = Registry(store)
    assert api.simulate_post("/api/v1beta1/pods", json=pod_body("a")).status_code == 200
    rv = int(api.simulate_get("/api/v1/pods").json["metadata"]["resourceVersion"])
    closed = []
    gen = MultiWatchResource(v1.VERSION, registry)._stream([("pods", "Pod"), ("nodes", "Node")], rv,
                                                          lambda: bool(closed))
    assert next(gen).strip() == b""  # headers leave at once
    assert api.simulate_post("/api/v1beta1/pods", json=pod_body("b")).status_code == 200
    node = {"kind": "Node", "apiVersion": "v1", "metadata": {"name": "n1"}}
    assert api.simulate_post("/api/v1/nodes", json=node).status_code in (200, 201)
    assert api.simulate_delete("/api/v1beta1/pods/a").status_code == 200
    got = lines(gen, 3)
    by_resource = {}
    for ev in got:
        by_resource.setdefault(ev["resource"], []).append((ev["type"], ev["object"]["metadata"]["name"]))
        assert ev["object"]["apiVersion"] == "v1" and int(ev["object"]["metadata"]["resourceVersion"]) > rv
    assert by_resource == {"pods": [("ADDED", "b"), ("DELETED", "a")], "nodes": [("ADDED", "n1")]}
    closed.append(True)
    gen.close()


def test_ui_watch_without_a_pump_starts_no_thread_and_a_too_old_revision_is_410(api, store):
    registry = Registry(store)
    for i in range(3):
        assert api.simulate_post("/api/v1beta1/pods", json=pod_body(f"p{i}")).status_code == 200
    before = {t.ident for t in threading.enumerate()}
    gen = MultiWatchResource(v1.VERSION, registry)._stream([("pods", "Pod"), ("events", "Event")], 0,
                                                          lambda: False)
    next(gen)
    assert sorted(e["object"]["metadata"]["name"] for e in lines(gen, 3)) == ["p0", "p1", "p2"]
    assert api.simulate_post("/api/v1beta1/pods", json=pod_body("a")).status_code == 200
    assert lines(gen, 1)[0]["object"]["metadata"]["name"] == "a"
    assert {t.ident for t in threading.enumerate()} <= before
    gen.close()
    small = LocalStore(watch_ring=16)
    try:
        registry = Registry(small)
        for i in range(20):
            registry.create(pod(f"q{i}"))
        gen = MultiWatchResource(v1.VERSION, registry)._stream([("pods", "Pod")], 1, lambda: False)
        next(gen)
        [error] = lines(gen, 1)
        assert error["resource"] == "pods" and error["type"] == "ERROR" and error["object"]["code"] == 410
        assert list(gen) == []  # the stream ends: the page lists again
    finally:
        small.close()
