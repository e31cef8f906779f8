"""Issue 16: cascading deletes. Deleting an RC through v1 deletes its pods (the owner garbage collector, after
the RC), unless the DeleteOptions say ``propagationPolicy: Orphan`` (v1beta1's default: 2014 kept them); orphans
are adopted by an RC whose selector matches; a pod another RC controls is never counted."""

import json

import pytest
from falcon import testing

from raftkube.api.app import create_app
from raftkube.api.delete_options import orphans_dependents
from raftkube.config import ApiConfig
from raftkube.controllers.owner_gc import OwnerGarbageCollector
from raftkube.controllers.replication import ReplicationManager, controller_uid
from raftkube.model.errors import BadRequest
from raftkube.registry import LocalClient, Registry
from raftkube.state.local import LocalStore

RCS = "/api/v1/namespaces/default/replicationcontrollers"


class Cluster:
    def __init__(self):
        store = LocalStore()
        self.registry = Registry(store)
        self.api = testing.TestClient(create_app(self.registry, store, ApiConfig(max_body_bytes=64 * 1024)))
        self.client = LocalClient(self.registry)

    def create_rc(self, name, replicas=2):
        r = self.api.simulate_post(RCS, json={
            "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"app": "web"}, "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
        assert r.status_code == 201, r.text
        return r.json["metadata"]["uid"]

    def sync_rcs(self):
        rm = ReplicationManager(self.client, workers=0)
        rm.sync_once()
        rm.stop()

    def collect(self):
        gc = OwnerGarbageCollector(self.client)
        gc.sync_once()
        gc.stop()

    def pods(self):
        return {p["metadata"]["name"]: controller_uid(p) for p in self.registry.list("Pod")[0]}


@pytest.fixture
def cluster():
    return Cluster()


def test_v1_delete_of_an_rc_deletes_its_pods_after_it(cluster):
    uid = cluster.create_rc("web")
    cluster.sync_rcs()
    assert list(cluster.pods().values()) == [uid, uid]
    cluster.collect()
    assert len(cluster.pods()) == 2  # the owner exists: nothing collected
    r = cluster.api.simulate_delete(f"{RCS}/web", body=json.dumps({"propagationPolicy": "Background"}))
    assert r.status_code == 200 and r.json["metadata"]["uid"] == uid
    assert len(cluster.pods()) == 2  # the RC first; the collector on the leader deletes its pods
    cluster.collect()
    assert cluster.pods() == {}


def test_v1_delete_without_options_cascades_too(cluster):
    cluster.create_rc("web")
    cluster.sync_rcs()
    assert cluster.api.simulate_delete(f"{RCS}/web").status_code == 200
    cluster.collect()
    assert cluster.pods() == {}


def test_orphan_keeps_the_pods_and_a_new_rc_adopts_them(cluster):
    cluster.create_rc("web")
    cluster.sync_rcs()
    before = set(cluster.pods())
    r = cluster.api.simulate_delete(f"{RCS}/web", body=json.dumps({"propagationPolicy": "Orphan"}))
    assert r.status_code == 200
    assert cluster.pods() == {name: None for name in before}  # references removed with the delete
    cluster.collect()
    assert set(cluster.pods()) == before
    uid = cluster.create_rc("web2")
    cluster.sync_rcs()
    assert cluster.pods() == {name: uid for name in before}  # adopted, none created


def test_v1beta1_delete_orphans_as_in_2014(cluster):
    cluster.create_rc("web")
    cluster.sync_rcs()
    before = set(cluster.pods())
    assert cluster.api.simulate_delete("/api/v1beta1/replicationControllers/web").status_code == 200
    cluster.collect()
    assert cluster.pods() == {name: None for name in before}


def test_pods_of_another_rc_are_not_counted_even_if_it_is_gone(cluster):
    old = cluster.create_rc("old")
    cluster.sync_rcs()
    old_pods = set(cluster.pods())
    assert cluster.api.simulate_delete(f"{RCS}/old").status_code == 200
    new = cluster.create_rc("new")
    cluster.sync_rcs()  # before the collector ran: old's pods still exist, owned by a uid that is gone
    pods = cluster.pods()
    assert len(pods) == 4 and {pods[n] for n in old_pods} == {old}
    assert sorted(v for n, v in pods.items() if n not in old_pods) == [new, new]
    cluster.collect()
    assert sorted(cluster.pods().values()) == [new, new]


def test_the_collector_looks_the_owner_up_before_deleting(cluster):
    uid = cluster.create_rc("web")
    cluster.sync_rcs()
    gc = OwnerGarbageCollector(cluster.client)  # its RC informer never listed: it lags behind the pods
    for pod in cluster.registry.list("Pod")[0]:
        gc._on_pod(None, pod)
    gc.reconcile()
    assert list(cluster.pods().values()) == [uid, uid]


def test_bad_propagation_policies_are_400_and_delete_nothing(cluster):
    cluster.create_rc("web")
    for body in ({"propagationPolicy": "Cascade"}, {"orphanDependents": "yes"},
                 {"orphanDependents": True, "propagationPolicy": "Orphan"}):
        r = cluster.api.simulate_delete(f"{RCS}/web", body=json.dumps(body))
        assert r.status_code == 400 and r.json["kind"] == "Status", body
    assert cluster.api.simulate_get(f"{RCS}/web").status_code == 200


def test_orphans_dependents_reads_both_fields():
    assert orphans_dependents(None, default=True) is True
    assert orphans_dependents({}, default=False) is False
    assert orphans_dependents({"propagationPolicy": "Orphan"}, default=False) is True
    assert orphans_dependents({"propagationPolicy": "Foreground"}, default=True) is False
    assert orphans_dependents({"orphanDependents": True}, default=False) is True
    assert orphans_dependents({"orphanDependents": False}, default=True) is False
    with pytest.raises(BadRequest):
        orphans_dependents({"propagationPolicy": 3}, default=True)
