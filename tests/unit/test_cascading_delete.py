"""Issue 16: cascading deletes. Deleting an RC through v1 deletes its pods (the owner garbage collector, after
the RC), unless the DeleteOptions say ``propagationPolicy: Orphan`` (v1beta1's default: 2014 kept them); orphans
are adopted by an RC whose selector matches; a pod another RC controls is never counted."""

import json

import pytest
from falcon import testing

from raftkube.api.app import create_app
from raftkube.api.delete_options import propagation_policy
from raftkube.config import ApiConfig
from raftkube.controllers.owner_gc import OwnerGarbageCollector
from raftkube.controllers.replication import ReplicationManager, controller_uid
from raftkube.model.errors import BadRequest, Unavailable
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


def test_propagation_policy_reads_both_fields():
    assert propagation_policy(None, default="Orphan") == "Orphan"
    assert propagation_policy({}, default="Background") == "Background"
    assert propagation_policy({"propagationPolicy": "Orphan"}, default="Background") == "Orphan"
    assert propagation_policy({"propagationPolicy": "Foreground"}, default="Orphan") == "Foreground"
    assert propagation_policy({"orphanDependents": True}, default="Background") == "Orphan"
    assert propagation_policy({"orphanDependents": False}, default="Orphan") == "Background"
    with pytest.raises(BadRequest):
        propagation_policy({"propagationPolicy": 3}, default="Orphan")


PODS = "/api/v1/namespaces/default/pods"


def _pod(name, refs=None):
    md = {"name": name, "labels": {"app": "other"}}
    if refs:
        md["ownerReferences"] = refs
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def _ref(uid, block):
    return {"apiVersion": "v1", "kind": "ReplicationController", "name": "web", "uid": uid, "controller": False,
            "blockOwnerDeletion": block}


class RefusingClient(LocalClient):
    """Refuses to delete the pods named in ``refuse`` (as a store would answer a write it cannot take)."""

    def __init__(self, registry, refuse):
        super().__init__(registry)
        self.refuse = set(refuse)

    def delete(self, kind, name, namespace="default", **kw):
        if kind == "Pod" and name in self.refuse:
            raise Unavailable("refused by the test")
        return super().delete(kind, name, namespace, **kw)


def _foreground(cluster, name="web"):
    return cluster.api.simulate_delete(f"{RCS}/{name}", body=json.dumps({"propagationPolicy": "Foreground"}))


def test_foreground_delete_keeps_the_rc_visible_until_its_pods_are_gone(cluster):
    uid = cluster.create_rc("web")
    cluster.sync_rcs()
    assert cluster.api.simulate_post(PODS, json=_pod("loose", [_ref(uid, False)])).status_code == 201
    assert cluster.api.simulate_post(PODS, json=_pod("unrelated")).status_code == 201
    r = _foreground(cluster)
    assert r.status_code == 200, r.text
    md = r.json["metadata"]
    assert md["finalizers"] == ["foregroundDeletion"] and md["deletionTimestamp"].endswith("Z")
    got = cluster.api.simulate_get(f"{RCS}/web")
    assert got.status_code == 200 and got.json["metadata"]["deletionTimestamp"] == md["deletionTimestamp"]
    again = _foreground(cluster)  # a second delete is fine and changes nothing
    assert again.status_code == 200 and again.json["metadata"]["resourceVersion"] == md["resourceVersion"]
    # the RC being deleted makes no pods: delete one of its pods, the manager does not replace it
    mine = sorted(n for n, owner in cluster.pods().items() if owner == uid)
    cluster.registry.delete("Pod", "default", mine[0])
    cluster.sync_rcs()
    assert sorted(n for n, owner in cluster.pods().items() if owner == uid) == mine[1:]
    cluster.collect()
    assert set(cluster.pods()) == {"unrelated"}
    assert cluster.api.simulate_get(f"{RCS}/web").status_code == 404


def test_foreground_waits_only_for_dependents_that_block_owner_deletion(cluster):
    uid = cluster.create_rc("web", replicas=1)
    cluster.sync_rcs()
    [blocking] = cluster.pods()
    cluster.api.simulate_post(PODS, json=_pod("loose", [_ref(uid, False)]))
    assert _foreground(cluster).status_code == 200
    gc = OwnerGarbageCollector(RefusingClient(cluster.registry, {"loose"}))
    gc.sync_once()  # the non-blocking pod could not be deleted: the RC goes anyway
    assert cluster.api.simulate_get(f"{RCS}/web").status_code == 404
    assert set(cluster.pods()) == {"loose"}
    gc.stop()
    uid = cluster.create_rc("web", replicas=1)
    cluster.sync_rcs()
    [blocking] = [n for n, owner in cluster.pods().items() if owner == uid]
    assert _foreground(cluster).status_code == 200
    gc = OwnerGarbageCollector(RefusingClient(cluster.registry, {blocking}))
    gc.sync_once()  # a blocking pod is left: the RC stays, marked
    assert cluster.api.simulate_get(f"{RCS}/web").json["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert gc.next_deadline_s() == gc.retry_s  # it passes again while the RC waits
    gc.stop()
    cluster.collect()
    assert cluster.api.simulate_get(f"{RCS}/web").status_code == 404 and blocking not in cluster.pods()


def test_an_rc_being_deleted_takes_updates_but_no_new_finalizers(cluster):
    cluster.create_rc("web", replicas=0)
    assert _foreground(cluster).status_code == 200
    merge = {"Content-Type": "application/merge-patch+json"}
    r = cluster.api.simulate_patch(f"{RCS}/web", headers=merge, body=json.dumps({"spec": {"replicas": 3}}))
    assert r.status_code == 200 and r.json["spec"]["replicas"] == 3
    assert r.json["metadata"]["deletionTimestamp"]  # an update neither sets nor clears it
    r = cluster.api.simulate_patch(f"{RCS}/web", headers=merge,
                                   body=json.dumps({"metadata": {"finalizers": ["foregroundDeletion", "x.io/y"]}}))
    assert r.status_code == 422, r.text
    assert r.json["details"]["causes"][0]["field"] == "metadata.finalizers"
    assert "no new finalizers can be added if the object is being deleted" in r.json["message"]
    assert cluster.api.simulate_get(f"{RCS}/web").json["metadata"]["finalizers"] == ["foregroundDeletion"]


def test_removing_the_last_finalizer_of_an_object_being_deleted_deletes_it(cluster):
    r = cluster.api.simulate_post(RCS, json={
        "apiVersion": "v1", "kind": "ReplicationController",
        "metadata": {"name": "held", "finalizers": ["example.com/hold"], "deletionTimestamp": "2020-01-01T00:00:00Z"},
        "spec": {"replicas": 0, "selector": {"app": "held"}, "template": {
            "metadata": {"labels": {"app": "held"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
    assert r.status_code == 201 and "deletionTimestamp" not in r.json["metadata"]  # only a delete sets it
    assert _foreground(cluster, "held").status_code == 200
    cluster.collect()  # no dependents: the collector removes its own finalizer, the user's holds the RC
    held = cluster.api.simulate_get(f"{RCS}/held").json
    assert held["metadata"]["finalizers"] == ["example.com/hold"] and held["metadata"]["deletionTimestamp"]
    held["metadata"]["finalizers"] = []
    assert cluster.api.simulate_put(f"{RCS}/held", json=held).status_code == 200
    assert cluster.api.simulate_get(f"{RCS}/held").status_code == 404


def test_finalizers_of_its_own_hold_any_delete_until_an_update_removes_them(cluster):
    r = cluster.api.simulate_post(PODS, json=dict(_pod("kept"), metadata={"name": "kept",
                                                                          "finalizers": ["example.com/hold"]}))
    assert r.status_code == 201
    first = cluster.api.simulate_delete(f"{PODS}/kept")
    assert first.status_code == 200 and first.json["metadata"]["deletionTimestamp"]
    again = cluster.api.simulate_delete(f"{PODS}/kept")  # a second delete changes nothing
    assert again.json["metadata"]["resourceVersion"] == first.json["metadata"]["resourceVersion"]
    held = cluster.api.simulate_get(f"{PODS}/kept").json
    assert held["metadata"]["finalizers"] == ["example.com/hold"]
    # an RC held by its own finalizer, deleted in the background: its pods stay while it does
    uid = cluster.create_rc("web")
    cluster.sync_rcs()
    rc = cluster.api.simulate_patch(f"{RCS}/web", headers={"Content-Type": "application/merge-patch+json"},
                                    body=json.dumps({"metadata": {"finalizers": ["example.com/hold"]}})).json
    assert cluster.api.simulate_delete(f"{RCS}/web").json["metadata"]["deletionTimestamp"]
    cluster.collect()
    assert sorted(map(str, cluster.pods().values())) == sorted(map(str, [None, uid, uid]))
    rc = cluster.api.simulate_get(f"{RCS}/web").json
    rc["metadata"]["finalizers"] = []
    assert cluster.api.simulate_put(f"{RCS}/web", json=rc).status_code == 200
    assert cluster.api.simulate_get(f"{RCS}/web").status_code == 404
    cluster.collect()
    assert list(cluster.pods()) == ["kept"]
    held["metadata"]["finalizers"] = []
    assert cluster.api.simulate_put(f"{PODS}/kept", json=held).status_code == 200
    assert cluster.pods() == {}


def test_a_pod_being_deleted_is_not_counted_and_the_manager_replaces_it(cluster):
    uid = cluster.create_rc("web", replicas=2)
    cluster.sync_rcs()
    doomed = sorted(cluster.pods())[0]
    merge = {"Content-Type": "application/merge-patch+json"}
    assert cluster.api.simulate_patch(f"{PODS}/{doomed}", headers=merge, body=json.dumps(
        {"metadata": {"finalizers": ["example.com/hold"]}})).status_code == 200
    assert cluster.api.simulate_delete(f"{PODS}/{doomed}").json["metadata"]["deletionTimestamp"]
    assert cluster.api.simulate_get(f"{RCS}/web").json["status"]["replicas"] == 1
    cluster.sync_rcs()
    assert sorted(cluster.pods().values()) == [uid, uid, uid] and doomed in cluster.pods()
    assert cluster.api.simulate_get(f"{RCS}/web").json["status"]["replicas"] == 2
