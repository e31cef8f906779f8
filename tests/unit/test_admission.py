"""Admission (issue 18) in-process: privileged containers, hostDir volumes and a pod's host, through v1beta1 and v1,
for pods and replication controllers' templates; the plain (loopback) port's caller is the admin."""

import json

import pytest
from falcon import testing

from raftkube.api.admission import check_pod_spec
from raftkube.api.app import create_app
from raftkube.api.auth import User
from raftkube.config import AdmissionConfig, ApiConfig
from raftkube.model.errors import Forbidden
from raftkube.registry import Registry
from raftkube.state.local import LocalStore
from raftkube.testing import pod_body

V1B = "/api/v1beta1"
V1 = "/api/v1/namespaces/default"


def _app(**policy):
    store = LocalStore()
    return testing.TestClient(create_app(Registry(store), store, ApiConfig(), admission=AdmissionConfig(**policy)))


def _forbidden(r, *words):
    assert r.status_code == 403, r.text
    body = r.json
    assert body["kind"] == "Status" and body["reason"] == "Forbidden"
    for w in words:
        assert w in body["message"], body["message"]
    return body["message"]


def _patch(api, path, body, content_type):
    return api.simulate_patch(path, body=json.dumps(body), content_type=content_type)


def _privileged_v1beta1(name):
    return pod_body(name, containers=[{"name": "root", "image": "busybox", "privileged": True}])


def _v1_pod(name, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


HOST_DIR_V1 = {"volumes": [{"name": "root", "hostPath": {"path": "/"}}],
               "containers": [{"name": "c", "image": "busybox", "volumeMounts": [{"name": "root", "mountPath": "/h"}]}]}


def test_privileged_is_refused_by_default_through_both_versions_and_rc_templates():
    api = _app()
    msg = _forbidden(api.simulate_post(V1B + "/pods", json=_privileged_v1beta1("p")), 'pod "p" is forbidden',
                     'container "root" is privileged', "allow_privileged = false")
    assert msg.startswith('pod "p"')
    _forbidden(api.simulate_post(V1 + "/pods", json=_v1_pod("p", containers=[
        {"name": "root", "image": "busybox", "securityContext": {"privileged": True}}])),
        'pods "p" is forbidden: container "root" is privileged')
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"},
          "spec": {"replicas": 1, "selector": {"a": "b"}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {
              "containers": [{"name": "root", "image": "busybox", "securityContext": {"privileged": True}}]}}}}
    _forbidden(api.simulate_post(V1 + "/replicationcontrollers", json=rc), 'container "root" is privileged')
    old_rc = {"id": "rc2", "desiredState": {"replicas": 1, "replicaSelector": {"a": "b"}, "podTemplate": {
        "labels": {"a": "b"}, "desiredState": {"manifest": {"version": "v1beta1", "containers": [
            {"name": "root", "image": "busybox", "privileged": True}]}}}}}
    _forbidden(api.simulate_post(V1B + "/replicationControllers", json=old_rc), 'container "root" is privileged')
    # nothing was stored
    assert api.simulate_get(V1 + "/pods").json["items"] == []
    assert api.simulate_get(V1 + "/replicationcontrollers").json["items"] == []


def test_privileged_is_refused_on_update_too_and_allowed_for_the_admin_when_the_cluster_allows_it():
    api = _app()
    assert api.simulate_post(V1 + "/pods", json=_v1_pod("p")).status_code == 201
    pod = api.simulate_get(V1 + "/pods/p").json
    pod["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    _forbidden(api.simulate_put(V1 + "/pods/p", json=pod), "is privileged")
    r = _patch(api, V1 + "/pods/p", {"spec": {"containers": [{"name": "c", "securityContext": {"privileged": True}}]}},
               "application/strategic-merge-patch+json")
    _forbidden(r, "is privileged")
    assert "securityContext" not in api.simulate_get(V1 + "/pods/p").json["spec"]["containers"][0]
    allowing = _app(allow_privileged=True)
    r = allowing.simulate_post(V1B + "/pods", json=_privileged_v1beta1("p"))
    assert r.status_code == 200, r.text
    assert r.json["desiredState"]["manifest"]["containers"][0]["privileged"] is True


def test_host_dirs_are_for_the_admin_and_can_be_switched_off():
    r = _app().simulate_post(V1 + "/pods", json=_v1_pod("h", **HOST_DIR_V1))
    assert r.status_code == 201, r.text  # allowed by default, for the admin
    r = _app(allow_host_dirs=False).simulate_post(V1 + "/pods", json=_v1_pod("h", **HOST_DIR_V1))
    _forbidden(r, 'volume "root" is a hostDir (/)', "allow_host_dirs = false")
    body = pod_body("h")
    body["desiredState"]["manifest"]["volumes"] = [{"name": "root", "source": {"hostDir": {"path": "/etc"}}}]
    _forbidden(_app(allow_host_dirs=False).simulate_post(V1B + "/pods", json=body), 'pod "h" is forbidden',
               'volume "root" is a hostDir (/etc)')


@pytest.mark.parametrize("policy", [AdmissionConfig(), AdmissionConfig(allow_privileged=True)])
def test_a_user_who_is_not_admin_never_gets_privileged_or_host_dirs(policy):
    dev = User("dev", ("developers",))
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "privileged": True}]}}
    with pytest.raises(Forbidden, match='privileged containers are for the admin only \\(user "dev"\\)'):
        check_pod_spec(dev, pod, policy)
    rc = {"kind": "ReplicationController", "metadata": {"name": "rc"},
          "spec": {"template": {"spec": {"volumes": [{"name": "v", "hostPath": {"path": "/"}}]}}}}
    with pytest.raises(Forbidden, match='hostDir volumes are for the admin only'):
        check_pod_spec(dev, rc, policy)
    check_pod_spec(User("admin", ("admin",)), rc, policy)  # the admin: allowed (allow_host_dirs is on)


def test_the_host_of_a_pod_is_set_only_by_a_binding():
    api = _app()
    body = pod_body("p")
    body["desiredState"]["host"] = "minion-1"
    _forbidden(api.simulate_post(V1B + "/pods", json=body), 'pod "p" is forbidden: the host of a pod is set only by '
               'a binding (POST .../bindings), not by a create (to "minion-1")')
    _forbidden(api.simulate_post(V1 + "/pods", json=_v1_pod("p", nodeName="minion-1")), 'pods "p" is forbidden')
    assert api.simulate_get(V1 + "/pods").json["items"] == []
    assert api.simulate_post(V1 + "/pods", json=_v1_pod("p")).status_code == 201
    pod = api.simulate_get(V1 + "/pods/p").json
    pod["spec"]["nodeName"] = "minion-2"
    _forbidden(api.simulate_put(V1 + "/pods/p", json=pod), 'not by an update (to "minion-2")')
    assert api.simulate_post(V1B + "/bindings", json={"podID": "p", "host": "minion-1"}).status_code == 200
    pod = api.simulate_get(V1 + "/pods/p").json
    assert pod["spec"]["nodeName"] == "minion-1"
    pod["metadata"]["labels"] = {"x": "y"}
    assert api.simulate_put(V1 + "/pods/p", json=pod).status_code == 200  # the stored host repeated: fine
    wire = api.simulate_get(V1B + "/pods/p").json
    wire["desiredState"]["host"] = "minion-2"
    _forbidden(api.simulate_put(V1B + "/pods/p", json=wire), 'from "minion-1" to "minion-2"')
    r = _patch(api, V1 + "/pods/p", {"spec": {"nodeName": "minion-2"}}, "application/merge-patch+json")
    _forbidden(r, 'from "minion-1" to "minion-2"')
    assert api.simulate_get(V1 + "/pods/p").json["spec"]["nodeName"] == "minion-1"


def test_a_node_reads_only_what_a_kubelet_and_its_proxy_need():
    from raftkube.api.auth import allowed
    node = User("node:n1", ("nodes",))
    for verb in ("get", "list", "watch"):
        for kind in ("Pod", "Service", "Endpoints"):
            assert allowed(node, verb, kind, "", "x")
        assert not allowed(node, verb, "ReplicationController", "", "x")
        assert not allowed(node, verb, "Event", "", "x")
        assert not allowed(node, verb, "Node", "", "n2")
    assert allowed(node, "get", "Node", "", "n1")
    assert not allowed(node, "list", "Node", "", "")
    assert allowed(User("viewer", ("viewer",)), "list", "ReplicationController", "", "")
