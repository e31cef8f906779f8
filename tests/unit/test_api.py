"""The v1beta1 API in-process (falcon TestClient over a single-replica store): routing, errors, writes."""

import json
from pathlib import Path

import pytest
from falcon import testing

from raftkube.api.app import create_app
from raftkube.config import ApiConfig
from raftkube.registry import Registry
from raftkube.state.local import LocalStore
from raftkube.testing import pod_body

DATA = Path(__file__).parent / "data"
PODS = "/api/v1beta1/pods"


@pytest.fixture
def store():
    return LocalStore()


@pytest.fixture
def api(store):
    return testing.TestClient(create_app(Registry(store), store, ApiConfig(max_body_bytes=64 * 1024)))


def assert_status(r, code, reason):
    assert r.status_code == code, r.text
    body = r.json
    assert body["kind"] == "Status" and body["status"] == "Failure"
    assert body["code"] == code and body["reason"] == reason
    return body


def test_article_pod_is_accepted_verbatim(api):
    raw = (DATA / "redis.json").read_text()
    r = api.simulate_post(PODS, body=raw)
    assert r.status_code == 200, r.text
    pod = r.json
    assert pod["kind"] == "Pod" and pod["apiVersion"] == "v1beta1" and pod["id"] == "redis"
    assert pod["uid"] and pod["creationTimestamp"].endswith("Z") and pod["resourceVersion"] == 1
    assert pod["selfLink"] == "/api/v1beta1/pods/redis"
    assert pod["currentState"]["status"] == "Waiting" and pod["desiredState"].get("host", "") == ""
    assert pod["desiredState"]["manifest"]["containers"][0]["ports"][0]["hostPort"] == 6379
    listed = api.simulate_get(PODS).json
    assert listed["kind"] == "PodList" and [p["id"] for p in listed["items"]] == ["redis"]
    again = api.simulate_post(PODS, body=raw)
    assert assert_status(again, 409, "AlreadyExists")["message"] == 'pod "redis" already exists'


def test_article_replication_controller_is_accepted_verbatim(api):
    r = api.simulate_post("/api/v1beta1/replicationControllers", body=(DATA / "redisController.json").read_text())
    assert r.status_code == 200, r.text
    assert r.json["desiredState"]["replicaSelector"] == {"name": "redis"}
    assert api.simulate_post(PODS, body=(DATA / "redis.json").read_text()).status_code == 200
    rc = api.simulate_get("/api/v1beta1/replicationControllers/redisController").json
    assert rc["currentState"]["replicas"] == 1  # computed on read from the matching pods


def test_invalid_pod_lists_every_field_and_writes_nothing(api, store):
    body = pod_body("bad")
    c = body["desiredState"]["manifest"]["containers"][0]
    del c["image"]
    c["ports"][0]["containerPort"] = 70000
    c["env"] = [{"name": "1BAD", "value": "x"}]
    r = api.simulate_post(PODS, json=body)
    status = assert_status(r, 422, "Invalid")
    fields = {cause["field"] for cause in status["details"]["causes"]}
    assert {"desiredState.manifest.containers[0].image",
            "desiredState.manifest.containers[0].ports[0].containerPort",
            "desiredState.manifest.containers[0].env[0].name"} <= fields
    assert status["message"].startswith('pod "bad" is invalid')
    assert store.read().revision == 0


@pytest.mark.parametrize("body, code, reason", [
    ("{not json", 400, "BadRequest"),
    ("[1, 2]", 400, "BadRequest"),
    ("", 400, "BadRequest"),
    (json.dumps({"id": "x", "desiredState": {"manifest": {"version": "v1beta1", "containers": "nope"}}}), 422,
     "Invalid"),
    (json.dumps({"id": "x", "kind": "Service"}), 400, "BadRequest"),
])
def test_malformed_bodies_are_4xx_and_change_nothing(api, store, body, code, reason):
    assert_status(api.simulate_post(PODS, body=body), code, reason)
    assert store.read().revision == 0


def test_body_over_the_limit_is_413(api, store):
    big = pod_body("big")
    big["annotations"] = {"blob": "x" * (70 * 1024)}
    assert_status(api.simulate_post(PODS, json=big), 413, "RequestEntityTooLarge")
    assert store.read().revision == 0


def test_unknown_resources_and_wrong_methods(api):
    assert assert_status(api.simulate_get("/api/v1beta1/gizmos"), 404, "NotFound")
    assert_status(api.simulate_get("/api/v1beta1/nothing/here/at/all"), 404, "NotFound")
    assert_status(api.simulate_put(PODS, json={}), 405, "MethodNotAllowed")
    assert_status(api.simulate_post(PODS + "/x", json={}), 405, "MethodNotAllowed")
    assert_status(api.simulate_get(PODS + "/missing"), 404, "NotFound")
    assert_status(api.simulate_delete(PODS + "/missing"), 404, "NotFound")


def test_update_rules(api):
    created = api.simulate_post(PODS, json=pod_body("u")).json
    created["labels"] = {"name": "u", "tier": "x"}
    stale = dict(created)
    ok = api.simulate_put(PODS + "/u", json=created)
    assert ok.status_code == 200 and ok.json["resourceVersion"] == created["resourceVersion"] + 1
    assert ok.json["uid"] == created["uid"]
    assert_status(api.simulate_put(PODS + "/u", json=stale), 409, "Conflict")
    no_rv = {k: v for k, v in created.items() if k != "resourceVersion"}
    assert_status(api.simulate_put(PODS + "/u", json=no_rv), 409, "Conflict")
    other = dict(ok.json, id="someone-else")
    assert_status(api.simulate_put(PODS + "/u", json=other), 400, "BadRequest")


def test_bind_once_then_status_update_keeps_spec(api):
    api.simulate_post(PODS, json=pod_body("b"))
    r = api.simulate_post("/api/v1beta1/bindings", json={"podID": "b", "host": "minion-1"})
    assert r.status_code == 200 and r.json["status"] == "Success"
    assert_status(api.simulate_post("/api/v1beta1/bindings", json={"podID": "b", "host": "minion-2"}), 409,
                  "Conflict")
    assert_status(api.simulate_post("/api/v1beta1/bindings", json={"podID": "b"}), 422, "Invalid")
    status = {"id": "b", "currentState": {"status": "Running", "podIP": "10.0.0.5", "hostIP": "192.168.1.2",
                                          "info": {"c": {"state": {"running": {"startedAt": "2014-10-14T09:00:00Z"}},
                                                         "restartCount": 2}}}}
    r = api.simulate_put(PODS + "/b/status", json=status)
    assert r.status_code == 200, r.text
    pod = api.simulate_get(PODS + "/b").json
    assert pod["desiredState"]["host"] == "minion-1" and pod["currentState"]["host"] == "minion-1"
    assert pod["currentState"]["status"] == "Running" and pod["currentState"]["podIP"] == "10.0.0.5"
    assert pod["currentState"]["info"]["c"]["restartCount"] == 2
    assert pod["desiredState"]["manifest"]["containers"][0]["image"] == "busybox"
    # once bound, a user PUT keeps the host even if the body clears it
    pod["desiredState"]["host"] = ""
    pod["desiredState"]["manifest"]["containers"][0]["image"] = "busybox:2"
    r = api.simulate_put(PODS + "/b", json=pod)
    assert r.status_code == 200, r.text
    assert r.json["desiredState"]["host"] == "minion-1" and r.json["currentState"]["status"] == "Running"


def test_selectors_and_namespaces(api):
    api.simulate_post(PODS, json=pod_body("a", labels={"name": "redis"}))
    api.simulate_post(PODS, json=pod_body("b", labels={"name": "web"}))
    api.simulate_post(PODS, json=pod_body("c", labels={"name": "web"}), params={"namespace": "other"})
    ids = lambda r: sorted(p["id"] for p in r.json["items"])
    assert ids(api.simulate_get(PODS, params={"labels": "name=web"})) == ["b", "c"]
    assert ids(api.simulate_get(PODS, params={"labels": "name!=web", "namespace": "default"})) == ["a"]
    assert ids(api.simulate_get(PODS, params={"namespace": "other"})) == ["c"]
    assert api.simulate_get(PODS + "/c").status_code == 404
    assert api.simulate_get(PODS + "/c", params={"namespace": "other"}).json["namespace"] == "other"
    api.simulate_post("/api/v1beta1/bindings", json={"podID": "a", "host": "m1"})
    assert ids(api.simulate_get(PODS, params={"fields": "DesiredState.Host="})) == ["b", "c"]
    assert ids(api.simulate_get(PODS, params={"fields": "DesiredState.Host=m1"})) == ["a"]
    assert_status(api.simulate_get(PODS, params={"labels": "oops"}), 400, "BadRequest")
    assert_status(api.simulate_get(PODS, params={"fields": "spec.bogus=1"}), 400, "BadRequest")


def test_health_endpoints(api):
    assert api.simulate_get("/healthz").text == "ok"
    assert api.simulate_get("/readyz").status_code == 200
    assert api.simulate_get("/raft").json["role"] == "leader"


def test_api_lists_the_discoverable_versions(api):
    # kubectl reads /api to pick versions: it lists core/v1 (which has discovery); v1beta1 is still served
    body = api.simulate_get("/api").json
    assert body["kind"] == "APIVersions" and body["versions"] == ["v1"]
    assert api.simulate_get("/api/v1beta1/pods").status_code == 200
    r = api.simulate_get("/api/v2/pods")
    assert assert_status(r, 404, "NotFound")["apiVersion"] == "v1beta1"


def test_minion_errors_name_minions(api):
    node = {"id": "m1", "hostIP": "10.0.0.1"}
    assert api.simulate_post("/api/v1beta1/minions", json=node).status_code == 200
    again = assert_status(api.simulate_post("/api/v1beta1/minions", json=node), 409, "AlreadyExists")
    assert again["message"] == 'minion "m1" already exists'
    missing = assert_status(api.simulate_get("/api/v1beta1/minions/m2"), 404, "NotFound")
    assert missing["message"] == 'minion "m2" not found' and missing["details"] == {"id": "m2", "kind": "minion"}
    bad = assert_status(api.simulate_post("/api/v1beta1/minions", json={"id": "m3", "hostIP": "x",
                                                                        "resources": {"capacity": {"cpu": -1}}}),
                        422, "Invalid")
    assert bad["message"] == "minion \"m3\" is invalid: hostIP: invalid value 'x' (must be an IP address)"
    assert [c["field"] for c in bad["details"]["causes"]] == ["hostIP", "resources.capacity.cpu"]


def test_services_and_endpoints_keep_their_v1beta1_shape(api):
    svc = {"id": "web", "port": 8080, "containerPort": "http", "selector": {"app": "web"}}
    out = api.simulate_post("/api/v1beta1/services", json=svc).json
    assert {k: out[k] for k in ("port", "protocol", "selector", "containerPort")} == {
        "port": 8080, "protocol": "TCP", "selector": {"app": "web"}, "containerPort": "http"}
    bad = assert_status(api.simulate_post("/api/v1beta1/services", json=dict(svc, id="web2", port=0)), 422, "Invalid")
    assert bad["message"] == 'service "web2" is invalid: port: required value'
    entries = ["10.0.0.3:80", "10.0.0.1:81", "10.0.0.2:80", "[fe80::1]:80"]
    assert api.simulate_post("/api/v1beta1/endpoints", json={"id": "web", "endpoints": entries}).json[
        "endpoints"] == entries
    bad = assert_status(api.simulate_post("/api/v1beta1/endpoints", json={"id": "e2", "endpoints": [":1", "a:0"]}),
                        422, "Invalid")
    assert [c["message"] for c in bad["details"]["causes"]] == [
        "endpoints[0]: required value", "endpoints[1]: invalid value 'a:0' (the port must be 1-65535)"]


def test_the_http_layer_routes_any_registered_version(store):
    """Nothing in api/ names a version: a second one gets its own routes, its own Status bodies."""
    from raftkube.apis import v1beta1

    class Other(type(v1beta1.VERSION)):
        name = "vtest"

        def status_body(self, code, reason, message, **kw):
            return dict(super().status_body(code, reason, message, **kw), apiVersion="vtest")

    app = testing.TestClient(create_app(Registry(store), store, ApiConfig(),
                                        versions=(v1beta1.VERSION, Other())))
    assert app.simulate_get("/api").json == {"versions": ["v1beta1", "vtest"]}
    assert app.simulate_post("/api/vtest/pods", json=pod_body("p")).status_code == 200
    assert [p["id"] for p in app.simulate_get("/api/v1beta1/pods").json["items"]] == ["p"]
    assert assert_status(app.simulate_get("/api/vtest/pods/nope"), 404, "NotFound")["apiVersion"] == "vtest"
    assert assert_status(app.simulate_get("/api/v1beta1/pods/nope"), 404, "NotFound")["apiVersion"] == "v1beta1"
    assert assert_status(app.simulate_get("/api/nothing"), 404, "NotFound")["apiVersion"] == "v1beta1"


def test_a_full_store_answers_507_store_full_and_still_deletes_and_takes_status(store):
    api = testing.TestClient(create_app(Registry(store, quota_bytes=4_000), store, ApiConfig()))
    created = []
    for i in range(100):
        r = api.simulate_post(PODS, json=pod_body(f"q{i}"))
        if r.status_code != 200:
            break
        created.append(r.json)
    used = store.read().store_bytes
    assert 0 < len(created) < 100 and used <= 4_000
    body = assert_status(r, 507, "StoreFull")
    assert body["message"] == (f"the store is full: 4000 bytes quota, {used} used; "
                               "delete objects or raise [cluster] quota_bytes")
    slack = 4_000 - used
    assert slack < len(json.dumps(created[-1]))  # less room than one more pod
    grown = dict(created[0], labels={f"label-{i}": "x" * 60 for i in range(slack // 60 + 1)})
    assert_status(api.simulate_put(PODS + "/q0", json=grown), 507, "StoreFull")
    shrunk = dict(created[0], labels={})
    assert api.simulate_put(PODS + "/q0", json=shrunk).status_code == 200
    status = {"id": "q1", "currentState": {"status": "Running", "podIP": "10.0.0.5", "hostIP": "192.168.1.2",
                                           "message": "x" * 1_000}}
    assert api.simulate_put(PODS + "/q1/status", json=status).status_code == 200  # past the quota
    assert store.read().store_bytes > 4_000
    assert api.simulate_post("/api/v1beta1/bindings", json={"podID": "q2", "host": "minion-1"}).status_code == 200
    for pod in created:
        assert api.simulate_delete(PODS + "/" + pod["id"]).status_code == 200
    assert store.read().store_bytes == 0
    assert api.simulate_post(PODS, json=pod_body("again")).status_code == 200
    raft = api.simulate_get("/raft").json
    assert raft["storeBytes"] == store.read().store_bytes > 0
