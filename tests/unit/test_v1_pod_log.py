"""``pods/<name>/log`` through v1: which container and kubelet the master asks, and its errors as Status bodies
(the kubelet is replaced by a fake ``open_kubelet``; tests/integration/test_kubectl.py runs a real one)."""

from __future__ import annotations

import pytest
import requests
from falcon import testing

from raftkube.api import podlogs
from raftkube.api.app import create_app
from raftkube.config import ApiConfig
from raftkube.registry import Registry
from raftkube.state.local import LocalStore

NS = "/api/v1/namespaces/default"


class FakeUpstream:
    def __init__(self, status_code=200, chunks=(b"line 1\n", b"line 2\n")):
        self.status_code, self.chunks, self.closed = status_code, chunks, False
        self.text = b"".join(chunks).decode()

    def iter_content(self, chunk_size=None):
        yield from self.chunks

    def close(self):
        self.closed = True


@pytest.fixture
def api(monkeypatch):
    store = LocalStore()
    client = testing.TestClient(create_app(Registry(store), store, ApiConfig()))
    client.asked = []
    client.upstream = FakeUpstream()

    def fake_open(address, port, path, params, *, follow):
        client.asked.append((address, port, path, params, follow))
        if isinstance(client.upstream, Exception):
            raise client.upstream
        return client.upstream
    monkeypatch.setattr(podlogs, "open_kubelet", fake_open)
    assert client.simulate_post("/api/v1beta1/minions", json={"id": "n1", "hostIP": "10.0.0.7",
                                                               "status": {"kubeletPort": 12345}}).status_code == 200
    for name, containers in (("one", ["web"]), ("two", ["web", "side"]), ("unbound", ["web"])):
        assert client.simulate_post(NS + "/pods", json={"metadata": {"name": name}, "spec": {"containers": [
            {"name": c, "image": "nginx"} for c in containers]}}).status_code == 201
    for name in ("one", "two"):
        assert client.simulate_post(f"{NS}/pods/{name}/binding",
                                    json={"target": {"kind": "Node", "name": "n1"}}).status_code == 201
    return client


def test_log_is_proxied_from_the_pods_kubelet(api):
    r = api.simulate_get(NS + "/pods/one/log")
    assert r.status_code == 200 and r.text == "line 1\nline 2\n" and r.headers["content-type"].startswith("text/plain")
    assert api.asked == [("10.0.0.7", 12345, "/containerLogs/default/one/web", {}, False)]
    assert api.upstream.closed
    api.simulate_get(NS + "/pods/two/log", params={"container": "side", "tailLines": "3", "follow": "true"})
    assert api.asked[-1] == ("10.0.0.7", 12345, "/containerLogs/default/two/side", {"tail": "3", "follow": "true"},
                             True)


@pytest.mark.parametrize("pod,params,code,reason,message", [
    ("nope", {}, 404, "NotFound", 'pods "nope" not found'),
    ("two", {}, 400, "BadRequest", "a container name must be specified for pod two, choose one of: [web side]"),
    ("one", {"container": "db"}, 400, "BadRequest", "container db is not valid for pod one"),
    ("unbound", {}, 400, "BadRequest", 'pod "unbound" is not assigned to a node yet: it has no logs'),
    ("one", {"tailLines": "-1"}, 400, "BadRequest", "tailLines must be a non-negative integer, not '-1'"),
])
def test_log_errors(api, pod, params, code, reason, message):
    r = api.simulate_get(f"{NS}/pods/{pod}/log", params=params)
    assert (r.status_code, r.json["reason"], r.json["message"]) == (code, reason, message)
    assert api.asked == []


def test_an_unreachable_or_failing_kubelet_is_a_502(api):
    api.upstream = requests.ConnectionError("refused")
    r = api.simulate_get(NS + "/pods/one/log")
    assert r.status_code == 502 and r.json["message"] == (
        'cannot reach the kubelet of node "n1" at 10.0.0.7:12345: ConnectionError')
    api.upstream = FakeUpstream(404, (b"container not found\n",))
    r = api.simulate_get(NS + "/pods/one/log")
    assert r.status_code == 502 and "answered 404: container not found" in r.json["message"] and api.upstream.closed
