"""Issue 19: deletes with preconditions (uid, resourceVersion), checked by the state machine as the delete
applies; the API takes Kubernetes' DeleteOptions body in v1beta1 and v1; the controllers delete only the object
they judged."""

import json

import pytest
from falcon import testing

from raftkube.api.app import create_app
from raftkube.config import ApiConfig
from raftkube.controllers.endpoints import EndpointsController
from raftkube.controllers.pod_gc import PodGarbageCollector
from raftkube.controllers.replication import ReplicationManager
from raftkube.model.errors import Conflict
from raftkube.registry import Registry
from raftkube.state.codec import encode_object, pack
from raftkube.state.local import LocalStore
from raftkube.state.machine import StateMachine, check_result
from raftkube.testing import pod_body
from tests.unit.fakes import RecordingClient, pod, put, service

KEY = ["Pod", "default", "a"]


def stored(uid):
    return encode_object({"kind": "Pod", "metadata": {"name": "a", "namespace": "default", "uid": uid}})


def delete(m, **pre):
    [res] = m.apply(pack([{"ops": [{"op": "delete", "key": KEY, **pre}]}]))
    return res


def test_the_machine_deletes_only_the_object_and_version_named():
    m = StateMachine()
    m.apply(pack([{"ops": [{"op": "create", "key": KEY, "data": stored("uid-2")}]}]))
    res = delete(m, uid="uid-1")
    assert res == [False, "Conflict", 'pod "a" cannot be deleted: Precondition failed: UID in precondition: uid-1, '
                                      "UID in object meta: uid-2", []]
    res = delete(m, uid="uid-2", rv=7)
    assert res[:2] == [False, "Conflict"] and res[2].endswith(
        "Precondition failed: ResourceVersion in precondition: 7, ResourceVersion in object meta: 1")
    assert delete(m, uid=5)[1] == "BadRequest"
    assert m.get(tuple(KEY)) is not None and m.revision == 1  # nothing changed
    assert delete(m, uid="uid-2", rv=1) == [True, "", "", [2]]
    assert m.get(tuple(KEY)) is None


@pytest.fixture
def api():
    store = LocalStore()
    return testing.TestClient(create_app(Registry(store), store, ApiConfig(max_body_bytes=64 * 1024)))


V1BETA1 = "/api/v1beta1/pods/x"
V1 = "/api/v1/namespaces/default/pods/x"


def options(version, **pre):
    return json.dumps({"kind": "DeleteOptions", "apiVersion": version, "preconditions": pre})


def test_v1beta1_delete_options_refuse_another_object_of_the_name_with_409(api):
    first = api.simulate_post("/api/v1beta1/pods", json=pod_body("x")).json
    api.simulate_delete(V1BETA1)
    again = api.simulate_post("/api/v1beta1/pods", json=pod_body("x")).json  # the same name, a new object
    r = api.simulate_delete(V1BETA1, body=options("v1beta1", uid=first["uid"]))
    assert r.status_code == 409 and r.json["kind"] == "Status" and r.json["reason"] == "Conflict"
    assert r.json["message"] == (f'pod "x" cannot be deleted: Precondition failed: UID in precondition: '
                                 f'{first["uid"]}, UID in object meta: {again["uid"]}')
    r = api.simulate_delete(V1BETA1, body=options("v1beta1", resourceVersion=again["resourceVersion"] - 1))
    assert r.status_code == 409 and "ResourceVersion in precondition" in r.json["message"]
    assert api.simulate_get(V1BETA1).json["uid"] == again["uid"]  # still there
    r = api.simulate_delete(V1BETA1, body=options("v1beta1", uid=again["uid"],
                                                  resourceVersion=again["resourceVersion"]))
    assert r.status_code == 200 and api.simulate_get(V1BETA1).status_code == 404


def test_v1_delete_options_as_kubernetes_words_them(api):
    created = api.simulate_post("/api/v1/namespaces/default/pods", json={
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}).json
    uid, rv = created["metadata"]["uid"], created["metadata"]["resourceVersion"]
    r = api.simulate_delete(V1, body=options("v1", uid="other"))
    assert r.status_code == 409 and r.json["apiVersion"] == "v1" and r.json["reason"] == "Conflict"
    assert r.json["message"] == ('Operation cannot be fulfilled on pods "x": Precondition failed: UID in '
                                 f"precondition: other, UID in object meta: {uid}")
    r = api.simulate_delete(V1, body=json.dumps({"propagationPolicy": "Background"}))  # kubectl's body: no kind
    assert r.status_code == 200 and r.json["metadata"]["uid"] == uid
    created = api.simulate_post("/api/v1/namespaces/default/pods", json={
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}).json
    r = api.simulate_delete(V1, body=options("v1", uid=created["metadata"]["uid"],
                                             resourceVersion=created["metadata"]["resourceVersion"]))
    assert r.status_code == 200 and int(rv) < int(created["metadata"]["resourceVersion"])


@pytest.mark.parametrize("body, message", [
    ({"kind": "Pod"}, "the body of a delete must be DeleteOptions, not 'Pod'"),
    ({"preconditions": ["x"]}, "preconditions must be an object with uid and resourceVersion, not list"),
    ({"preconditions": {"uid": 7}}, "preconditions.uid must be a string, not int"),
    ({"preconditions": {"resourceVersion": "abc"}}, "preconditions.resourceVersion must be a positive integer, "
                                                    "got 'abc'"),
    ({"preconditions": {"resourceVersion": -1}}, "preconditions.resourceVersion must be a positive integer, got '-1'"),
    ([1], "the request body must be a JSON object, not list"),
])
def test_a_malformed_delete_body_is_400_and_deletes_nothing(api, body, message):
    api.simulate_post("/api/v1beta1/pods", json=pod_body("x"))
    for path in (V1BETA1, V1):
        r = api.simulate_delete(path, body=json.dumps(body))
        assert r.status_code == 400 and r.json["reason"] == "BadRequest" and r.json["message"] == message
    assert api.simulate_get(V1BETA1).status_code == 200


def replaced(client, name, **kw):
    """The pod ``name`` as a controller cached it, after another pod of the same name took its place."""
    old = put(client, pod(name, **kw))
    client.inner.delete("Pod", name)
    new = put(client, pod(name, **kw))
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    return old, new


def test_pod_gc_and_the_replication_manager_never_delete_a_newer_pod_of_the_name():
    client = RecordingClient()
    old, new = replaced(client, "p", node_name="n1", phase="Failed")
    gc = PodGarbageCollector(client, threshold=0, clock=client.clock)
    assert gc._delete_one(old) is False
    rm = ReplicationManager(client, clock=client.clock)
    rm._delete(old, ("default", "web"))
    assert client.writes("delete") == [("delete", "Pod", "p"), ("delete", "Pod", "p")]  # tried, refused
    assert client.get("Pod", "p")["metadata"]["uid"] == new["metadata"]["uid"]
    assert gc._delete_one(new) is True
    assert client.list("Pod")[0] == []


def test_endpoints_of_a_deleted_service_are_deleted_only_at_the_version_judged():
    client = RecordingClient()
    c = EndpointsController(client)
    for obj in (service(), pod("a", pod_ip="10.1.0.1", phase="Running", node_name="n1")):
        put(client, obj)
    c.sync_once()
    judged = client.get("Endpoints", "web")
    cur = dict(judged, subsets=[])
    client.inner.update(cur)  # written again meanwhile (say, for a service of that name created again)
    c._delete(judged)
    assert client.get("Endpoints", "web")["subsets"] == []
    with pytest.raises(Conflict):
        client.delete("Endpoints", "web", resource_version=judged["metadata"]["resourceVersion"])


class FollowerBehind:
    """A master whose applied state lags the log: local reads see ``follower``, linearizable ones ``live``."""

    write_timeout_s = 5.0

    def __init__(self):
        self.live, self.follower, self.paused = StateMachine(), StateMachine(), False

    def submit(self, txn, timeout_s=None):
        entry = pack([txn])
        [result] = self.live.apply(entry)
        if not self.paused:
            self.follower.apply(entry)
        return check_result(result)

    def read(self, consistent=True, timeout_s=None):
        return self.live if consistent else self.follower


def test_a_delete_answers_the_version_it_deleted_even_on_a_master_that_is_behind():
    store = FollowerBehind()
    registry = Registry(store)
    created = registry.create(pod("x"))
    store.paused = True  # this master applies nothing more for a while
    changed = registry.get("Pod", "default", "x")
    changed["metadata"]["labels"] = {"app": "web", "v": "2"}
    changed = registry.update(changed)
    answer = registry.delete("Pod", "default", "x")
    assert answer["metadata"]["resourceVersion"] == changed["metadata"]["resourceVersion"]  # not the stale copy
    assert answer["metadata"]["labels"]["v"] == "2" and answer["metadata"]["uid"] == created["metadata"]["uid"]
    assert store.live.get(("Pod", "default", "x")) is None
