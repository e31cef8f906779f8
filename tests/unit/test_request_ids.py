"""Exactly-once writes: a client's replay of a write (same request id, on the same or another master) applies at
most once and gets the first outcome; the ids survive a snapshot and are forgotten after the window.

Each sequence is one that went wrong before request ids: a replayed named create answered 409, a replayed
delete removed the object created again meanwhile, a replayed update answered 409 although it had applied.
"""

import copy

import pytest
from falcon import testing

from raftkube.api.app import create_app
from raftkube.config import ApiConfig
from raftkube.registry import Registry, WriteRequest
from raftkube.state import machine
from raftkube.state.codec import pack
from raftkube.state.local import LocalStore
from raftkube.state.machine import StateMachine


def pod(name, v="0"):
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": {"v": v}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


@pytest.fixture
def masters():
    """Two registries over one replicated state: a write on one, its replay on the other."""
    store = LocalStore()
    return Registry(store), Registry(store), store


def test_a_replayed_create_is_answered_with_the_first_object_not_409(masters):
    a, b, _ = masters
    first = a.create(pod("p"), request=WriteRequest("r1"))
    again = b.create(pod("p"), request=WriteRequest("r1", replay=True))
    assert again["metadata"]["uid"] == first["metadata"]["uid"]
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert len(a.list("Pod")[0]) == 1
    with pytest.raises(Exception, match="already exists"):  # another request of the same name is refused
        b.create(pod("p"), request=WriteRequest("r2"))


def test_a_replayed_delete_does_not_remove_the_object_created_again(masters):
    a, b, _ = masters
    a.create(pod("p"))
    a.delete("Pod", "default", "p", request=WriteRequest("d1"))
    newer = a.create(pod("p", "new"))
    gone = b.delete("Pod", "default", "p", request=WriteRequest("d1", replay=True))
    assert gone["metadata"]["name"] == "p"
    assert a.get("Pod", "default", "p")["metadata"]["uid"] == newer["metadata"]["uid"]


def test_a_replayed_update_is_done_once_even_after_a_later_write(masters):
    a, b, _ = masters
    cur = a.create(pod("p"))
    mine = copy.deepcopy(cur)
    mine["metadata"]["labels"]["v"] = "mine"
    a.update(copy.deepcopy(mine), request=WriteRequest("u1"))
    theirs = a.get("Pod", "default", "p")
    theirs["metadata"]["labels"]["v"] = "theirs"
    a.update(theirs)
    again = b.update(copy.deepcopy(mine), request=WriteRequest("u1", replay=True))  # stale rv: would be a 409
    assert again["metadata"]["labels"]["v"] == "theirs"  # the object as it is now; ours is not applied twice
    assert a.get("Pod", "default", "p")["metadata"]["labels"]["v"] == "theirs"


def test_a_refused_write_is_not_remembered_so_its_replay_runs_again(masters):
    a, b, store = masters
    a.create(pod("p"))
    with pytest.raises(Exception, match="already exists"):
        a.create(pod("p"), request=WriteRequest("c1"))
    assert store.read().outcome("c1") is None
    a.delete("Pod", "default", "p")
    assert b.create(pod("p"), request=WriteRequest("c1", replay=True))["metadata"]["name"] == "p"


def test_request_ids_are_in_the_snapshot_and_expire_after_the_window():
    m = StateMachine()
    op = {"op": "create", "key": ["Pod", "default", "p"], "data": pack({"kind": "Pod"})}
    assert m.apply(pack([{"ops": [op], "rid": "x", "at": 1000.0}])) == [[True, "", "", [1]]]
    copy_ = StateMachine()
    copy_.restore(m.snapshot())
    assert copy_.fingerprint() == m.fingerprint()
    assert copy_.apply(pack([{"ops": [op], "rid": "x", "at": 1001.0}])) == [[True, "", "", [1], machine.REPLAYED]]
    later = {"ops": [{"op": "delete", "key": ["Pod", "default", "q"]}], "rid": "y",
             "at": 1000.0 + machine.REQUEST_WINDOW_S + 1}
    copy_.apply(pack([later]))  # refused (no q) and so not remembered, but it moves the clock on
    assert copy_.outcome("x") is not None
    copy_.apply(pack([{"ops": [], "rid": "z", "at": later["at"]}]))
    assert copy_.outcome("x") is None and copy_.outcome("z") is not None


def test_the_api_takes_the_request_id_header_and_refuses_a_malformed_one():
    store = LocalStore()
    api = testing.TestClient(create_app(Registry(store), store, ApiConfig()))
    body = {"id": "p1", "desiredState": {"manifest": {"version": "v1beta1", "id": "p1",
                                                      "containers": [{"name": "c", "image": "busybox"}]}}}
    first = api.simulate_post("/api/v1beta1/pods", json=body, headers={"Raftkube-Request-Id": "abc"})
    again = api.simulate_post("/api/v1beta1/pods", json=body,
                              headers={"Raftkube-Request-Id": "abc", "Raftkube-Attempt": "2"})
    assert first.status_code == again.status_code == 200, again.text
    assert again.json["uid"] == first.json["uid"]
    bad = api.simulate_post("/api/v1beta1/pods", json=body, headers={"Raftkube-Request-Id": "x y"})
    assert bad.status_code == 400 and bad.json["kind"] == "Status"
    bad = api.simulate_post("/api/v1beta1/pods", json=body,
                            headers={"Raftkube-Request-Id": "ok", "Raftkube-Attempt": "0"})
    assert bad.status_code == 400
