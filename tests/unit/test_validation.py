"""Validation of internal objects: every rule, with the exact v1beta1 wire path of each cause."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from raftkube.model import validation
from raftkube.model.errors import Invalid
from raftkube.model.v1beta1 import from_wire
from raftkube.model.validation import causes_of, pod_update_causes, validate, validate_pod_update

DATA = Path(__file__).parent / "data"
M = "desiredState.manifest"
T = "desiredState.podTemplate.desiredState.manifest"


def article_pod() -> dict:
    return from_wire("Pod", json.loads((DATA / "redis.json").read_text()))


def article_rc() -> dict:
    return from_wire("ReplicationController", json.loads((DATA / "redisController.json").read_text()))


def good_pod() -> dict:
    pod = article_pod()
    spec = pod["spec"]
    spec["volumes"] = [{"name": "data", "emptyDir": {}}]
    c = spec["containers"][0]
    c["ports"].append({"name": "metrics", "hostPort": 0, "containerPort": 9121, "protocol": "UDP", "hostIP": ""})
    c["env"] = [{"name": "REDIS_MODE", "value": "master"}, {"name": "_x1", "value": ""}]
    c["volumeMounts"] = [{"name": "data", "mountPath": "/data", "readOnly": False}]
    c["resources"] = {"limits": {"cpu": 100, "memory": 1 << 20}}
    spec["containers"].append({"name": "sidecar", "image": "busybox",
                               "ports": [{"name": "metrics", "containerPort": 80, "hostPort": 8080}]})
    pod["metadata"]["labels"] = {"name": "redis", "example.com/tier": "db", "empty": ""}
    return pod


def good_service() -> dict:
    return from_wire("Service", {"id": "redismaster", "port": 10000, "containerPort": 6379,
                                 "selector": {"name": "redis"}, "portalIP": "10.0.0.3", "publicIPs": ["1.2.3.4"]})


def good_endpoints() -> dict:
    return from_wire("Endpoints", {"id": "redismaster", "endpoints": ["10.244.1.3:6379"]})


def good_node() -> dict:
    return from_wire("Node", {"id": "minion-1", "hostIP": "10.245.2.3",
                              "resources": {"capacity": {"cpu": 1000, "memory": 3221225472}}})


def good_event() -> dict:
    return from_wire("Event", {"id": "redis.1", "involvedObject": {"kind": "Pod", "name": "redis"},
                               "reason": "scheduled"})


def _fields(obj: dict) -> list[str]:
    return [c.field for c in causes_of(obj)]


# --- good objects pass ------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [article_pod, article_rc, good_pod, good_service, good_endpoints, good_node,
                                  good_event], ids=lambda f: f.__name__)
def test_good_objects_pass(make):
    obj = make()
    assert causes_of(obj) == []
    validate(obj)


def test_node_named_by_ip_and_uuid_pod_names_are_valid():
    node = good_node()
    node["metadata"]["name"] = "10.245.2.3"
    validate(node)
    pod = article_pod()
    pod["metadata"]["name"] = "1b43fe35-5fd9-11e4-9ad8-0800279696e1"
    validate(pod)


def test_rc_name_is_not_dns_validated():
    rc = article_rc()
    assert rc["metadata"]["name"] == "redisController"
    validate(rc)


# --- the Invalid error ---------------------------------------------------------------------------------

def test_invalid_message_names_the_object_and_first_cause():
    pod = article_pod()
    pod["spec"]["containers"][0]["image"] = ""
    pod["spec"]["containers"][0]["name"] = ""
    with pytest.raises(Invalid) as exc:
        validate(pod)
    err = exc.value
    assert err.code == 422 and err.kind == "Pod" and err.name == "redis"
    assert str(err) == f'pod "redis" is invalid: {M}.containers[0].name: required value'
    assert [(c.reason, c.field) for c in err.causes] == [
        ("FieldValueRequired", f"{M}.containers[0].name"), ("FieldValueRequired", f"{M}.containers[0].image")]


def test_invalid_message_for_rc_uses_2014_singular():
    rc = article_rc()
    rc["spec"]["replicas"] = -1
    with pytest.raises(Invalid) as exc:
        validate(rc)
    assert str(exc.value).startswith('replicationController "redisController" is invalid: desiredState.replicas:')


# --- pods --------------------------------------------------------------------------------------------

def _c(pod: dict, i: int = 0) -> dict:
    return pod["spec"]["containers"][i]


POD_CASES = [
    # (mutation, expected field, expected reason)
    (lambda p: p["metadata"].__setitem__("name", ""), "id", "FieldValueRequired"),
    (lambda p: p["metadata"].__setitem__("name", "Redis"), "id", "FieldValueInvalid"),
    (lambda p: p["metadata"].__setitem__("name", "a" * 254), "id", "FieldValueInvalid"),
    (lambda p: p["metadata"].__setitem__("name", "redis_1"), "id", "FieldValueInvalid"),
    (lambda p: p["metadata"].__setitem__("namespace", "Prod"), "namespace", "FieldValueInvalid"),
    (lambda p: p["metadata"].__setitem__("labels", {"": "x"}), "labels", "FieldValueInvalid"),
    (lambda p: p["metadata"].__setitem__("labels", {"k" * 64: "x"}), "labels", "FieldValueInvalid"),
    (lambda p: p["metadata"].__setitem__("labels", {"/name": "x"}), "labels", "FieldValueInvalid"),
    (lambda p: p["metadata"].__setitem__("labels", {"example.com/": "x"}), "labels", "FieldValueInvalid"),
    (lambda p: p["metadata"].__setitem__("labels", {"name": "v" * 64}), "labels", "FieldValueInvalid"),
    (lambda p: p["spec"].__setitem__("nodeSelector", {"": "ssd"}), "nodeSelector", "FieldValueInvalid"),
    (lambda p: _c(p).__setitem__("name", ""), f"{M}.containers[0].name", "FieldValueRequired"),
    (lambda p: _c(p).__setitem__("name", "Redis"), f"{M}.containers[0].name", "FieldValueInvalid"),
    (lambda p: _c(p).__setitem__("name", "a" * 64), f"{M}.containers[0].name", "FieldValueInvalid"),
    (lambda p: _c(p, 1).__setitem__("name", "redis"), f"{M}.containers[1].name", "FieldValueDuplicate"),
    (lambda p: _c(p).__setitem__("image", ""), f"{M}.containers[0].image", "FieldValueRequired"),
    (lambda p: _c(p)["ports"][0].__setitem__("containerPort", 0),
     f"{M}.containers[0].ports[0].containerPort", "FieldValueRequired"),
    (lambda p: _c(p)["ports"][0].__setitem__("containerPort", 65536),
     f"{M}.containers[0].ports[0].containerPort", "FieldValueInvalid"),
    (lambda p: _c(p)["ports"][0].__setitem__("hostPort", -1),
     f"{M}.containers[0].ports[0].hostPort", "FieldValueInvalid"),
    (lambda p: _c(p)["ports"][0].__setitem__("hostPort", 70000),
     f"{M}.containers[0].ports[0].hostPort", "FieldValueInvalid"),
    (lambda p: _c(p)["ports"][0].__setitem__("protocol", "SCTP"),
     f"{M}.containers[0].ports[0].protocol", "FieldValueNotSupported"),
    (lambda p: _c(p)["ports"][0].__setitem__("name", "Metrics"),
     f"{M}.containers[0].ports[0].name", "FieldValueInvalid"),
    (lambda p: _c(p)["ports"][0].__setitem__("name", "metrics"),
     f"{M}.containers[0].ports[1].name", "FieldValueDuplicate"),
    (lambda p: _c(p, 1)["ports"][0].__setitem__("hostPort", 6379),
     f"{M}.containers[1].ports[0].hostPort", "FieldValueDuplicate"),
    (lambda p: _c(p)["env"][0].__setitem__("name", "1BAD"), f"{M}.containers[0].env[0].name", "FieldValueInvalid"),
    (lambda p: _c(p)["env"][1].__setitem__("name", "A-B"), f"{M}.containers[0].env[1].name", "FieldValueInvalid"),
    (lambda p: _c(p)["env"][0].__setitem__("name", ""), f"{M}.containers[0].env[0].name", "FieldValueRequired"),
    (lambda p: p["spec"]["volumes"].append({"name": "data", "emptyDir": {}}),
     f"{M}.volumes[1].name", "FieldValueDuplicate"),
    (lambda p: p["spec"]["volumes"].append({"name": "Data2", "emptyDir": {}}),
     f"{M}.volumes[1].name", "FieldValueInvalid"),
    (lambda p: p["spec"]["volumes"].append({"name": "", "emptyDir": {}}), f"{M}.volumes[1].name",
     "FieldValueRequired"),
    (lambda p: _c(p)["volumeMounts"][0].__setitem__("name", "nope"),
     f"{M}.containers[0].volumeMounts[0].name", "FieldValueNotFound"),
    (lambda p: _c(p)["volumeMounts"][0].__setitem__("mountPath", ""),
     f"{M}.containers[0].volumeMounts[0].mountPath", "FieldValueRequired"),
    (lambda p: p["spec"].__setitem__("restartPolicy", "Sometimes"), f"{M}.restartPolicy", "FieldValueNotSupported"),
    (lambda p: _c(p).__setitem__("imagePullPolicy", "PullSometimes"),
     f"{M}.containers[0].imagePullPolicy", "FieldValueNotSupported"),
    (lambda p: _c(p)["resources"]["limits"].__setitem__("cpu", -1), f"{M}.containers[0].cpu", "FieldValueInvalid"),
    (lambda p: _c(p)["resources"]["limits"].__setitem__("memory", -5),
     f"{M}.containers[0].memory", "FieldValueInvalid"),
]


@pytest.mark.parametrize("mutate, field, reason", POD_CASES)
def test_pod_rules(mutate, field, reason):
    pod = good_pod()
    mutate(pod)
    causes = causes_of(pod)
    assert [(c.field, c.reason) for c in causes] == [(field, reason)]
    assert causes[0].message.startswith(f"{field}: ")
    with pytest.raises(Invalid):
        validate(pod)


def test_all_errors_are_returned_at_once():
    pod = good_pod()
    _c(pod).update(name="", image="")
    pod["spec"]["restartPolicy"] = "Bad"
    assert set(_fields(pod)) == {f"{M}.containers[0].name", f"{M}.containers[0].image", f"{M}.restartPolicy"}


@pytest.mark.parametrize("policy", ["", "Always", "Never", "IfNotPresent"])
def test_image_pull_policies_accepted(policy):
    pod = good_pod()
    _c(pod)["imagePullPolicy"] = policy
    assert causes_of(pod) == []


def test_sparse_internal_pod_is_tolerated():
    assert _fields({"kind": "Pod", "metadata": {"name": "p"}}) == []
    assert _fields({"kind": "Pod", "metadata": {"name": "p"},
                    "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]}}) == []


# --- replication controllers ----------------------------------------------------------------------

def _tc(rc: dict) -> dict:
    return rc["spec"]["template"]["spec"]["containers"][0]


RC_CASES = [
    (lambda r: r["metadata"].__setitem__("name", ""), "id", "FieldValueRequired"),
    (lambda r: r["metadata"].__setitem__("name", "a/b"), "id", "FieldValueInvalid"),
    (lambda r: r["spec"].__setitem__("replicas", -1), "desiredState.replicas", "FieldValueInvalid"),
    (lambda r: r["spec"].__setitem__("selector", {}), "desiredState.replicaSelector", "FieldValueRequired"),
    (lambda r: r["spec"].__setitem__("selector", {"name": "web"}), "desiredState.replicaSelector",
     "FieldValueInvalid"),
    (lambda r: r["spec"]["selector"].__setitem__("tier", "db"), "desiredState.replicaSelector", "FieldValueInvalid"),
    (lambda r: r["spec"]["template"]["metadata"]["labels"].__setitem__("x" * 64, "1"),
     "desiredState.podTemplate.labels", "FieldValueInvalid"),
    (lambda r: _tc(r).__setitem__("image", ""), f"{T}.containers[0].image", "FieldValueRequired"),
    (lambda r: _tc(r)["ports"][0].__setitem__("containerPort", 0),
     f"{T}.containers[0].ports[0].containerPort", "FieldValueRequired"),
    (lambda r: r["spec"]["template"]["spec"].__setitem__("restartPolicy", "x"), f"{T}.restartPolicy",
     "FieldValueNotSupported"),
]


@pytest.mark.parametrize("mutate, field, reason", RC_CASES)
def test_rc_rules(mutate, field, reason):
    rc = article_rc()
    mutate(rc)
    assert [(c.field, c.reason) for c in causes_of(rc)] == [(field, reason)]


def test_rc_selector_subset_of_template_labels_is_fine_and_zero_replicas_ok():
    rc = article_rc()
    rc["spec"]["template"]["metadata"]["labels"]["replicationController"] = "redisController"
    rc["spec"]["replicas"] = 0
    assert causes_of(rc) == []


# --- services -----------------------------------------------------------------------------------------

SERVICE_CASES = [
    (lambda s: s["metadata"].__setitem__("name", ""), "id", "FieldValueRequired"),
    (lambda s: s["metadata"].__setitem__("name", "redis-master-service-long"), "id", "FieldValueInvalid"),  # 25
    (lambda s: s["metadata"].__setitem__("name", "1redis"), "id", "FieldValueInvalid"),
    (lambda s: s["metadata"].__setitem__("name", "redisMaster"), "id", "FieldValueInvalid"),
    (lambda s: s["metadata"].__setitem__("name", "redis-"), "id", "FieldValueInvalid"),
    (lambda s: s["spec"].__setitem__("port", 0), "port", "FieldValueRequired"),
    (lambda s: s["spec"].__setitem__("port", 65536), "port", "FieldValueInvalid"),
    (lambda s: s["spec"].__setitem__("selector", {}), "selector", "FieldValueRequired"),
    (lambda s: s["spec"].__setitem__("protocol", "ICMP"), "protocol", "FieldValueNotSupported"),
    (lambda s: s["spec"].__setitem__("containerPort", 70000), "containerPort", "FieldValueInvalid"),
    (lambda s: s["spec"].__setitem__("containerPort", -1), "containerPort", "FieldValueInvalid"),
    (lambda s: s["spec"].__setitem__("containerPort", "Not A Name"), "containerPort", "FieldValueInvalid"),
    (lambda s: s["spec"].__setitem__("portalIP", "10.0.0"), "portalIP", "FieldValueInvalid"),
    (lambda s: s["metadata"].__setitem__("labels", {"": "x"}), "labels", "FieldValueInvalid"),
]


@pytest.mark.parametrize("mutate, field, reason", SERVICE_CASES)
def test_service_rules(mutate, field, reason):
    svc = good_service()
    mutate(svc)
    assert [(c.field, c.reason) for c in causes_of(svc)] == [(field, reason)]


@pytest.mark.parametrize("cport", [0, "", "redis", 6379, 65535])
def test_service_container_port_forms(cport):
    svc = good_service()
    svc["spec"]["containerPort"] = cport
    assert causes_of(svc) == []


def test_service_name_of_24_chars_is_valid():
    svc = good_service()
    svc["metadata"]["name"] = "a" * 24
    assert causes_of(svc) == []


# --- endpoints, nodes, events ---------------------------------------------------------------------------

@pytest.mark.parametrize("entry, field", [({"ip": "", "port": 80}, "endpoints[1]"),
                                          ({"ip": "10.0.0.1", "port": 0}, "endpoints[1]"),
                                          ({"ip": "10.0.0.1", "port": 65536}, "endpoints[1]")])
def test_endpoints_rules(entry, field):
    ep = good_endpoints()
    ep["endpoints"].append(entry)
    assert _fields(ep) == [field]


@pytest.mark.parametrize("mutate, field", [
    (lambda n: n["metadata"].__setitem__("name", ""), "id"),
    (lambda n: n["metadata"].__setitem__("name", "Minion_1"), "id"),
    (lambda n: n["status"].__setitem__("hostIP", "not-an-ip"), "hostIP"),
    (lambda n: n["status"]["capacity"].__setitem__("cpu", -1), "resources.capacity.cpu"),
    (lambda n: n["status"]["capacity"].__setitem__("memory", -1), "resources.capacity.memory"),
])
def test_node_rules(mutate, field):
    node = good_node()
    mutate(node)
    assert _fields(node) == [field]


@pytest.mark.parametrize("missing", ["name", "kind"])
def test_event_rules(missing):
    ev = good_event()
    ev["involvedObject"][missing] = ""
    assert [(c.field, c.reason) for c in causes_of(ev)] == [(f"involvedObject.{missing}", "FieldValueRequired")]


def test_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError):
        causes_of({"kind": "Binding"})


# --- pod updates ---------------------------------------------------------------------------------------

def _bound(pod: dict) -> dict:
    pod = copy.deepcopy(pod)
    pod["spec"]["nodeName"] = "minion-1"
    return pod


def test_bound_pod_may_change_images_and_labels():
    old = _bound(good_pod())
    new = copy.deepcopy(old)
    _c(new)["image"] = "dockerfile/redis:2.8"
    new["metadata"]["labels"] = {"name": "other"}
    new["metadata"]["annotations"] = {"a": "b"}
    new["status"]["phase"] = "Running"
    new["spec"]["nodeName"] = ""  # the server forces the stored host
    validate_pod_update(old, new)
    assert pod_update_causes(old, new) == []


@pytest.mark.parametrize("mutate", [
    lambda p: _c(p)["ports"][0].__setitem__("hostPort", 6380),
    lambda p: _c(p).__setitem__("command", ["sh"]),
    lambda p: p["spec"]["containers"].pop(),
    lambda p: p["spec"].__setitem__("restartPolicy", "Never"),
    lambda p: p["spec"]["volumes"].append({"name": "more", "emptyDir": {}}),
    lambda p: p["spec"].__setitem__("nodeSelector", {"disk": "ssd"}),
])
def test_bound_pod_may_not_change_anything_else(mutate):
    old = _bound(good_pod())
    new = copy.deepcopy(old)
    mutate(new)
    with pytest.raises(Invalid) as exc:
        validate_pod_update(old, new)
    assert [c.field for c in exc.value.causes] == [M]
    assert str(exc.value) == f'pod "redis" is invalid: {M}: {validation.IMMUTABLE_MESSAGE}'


def test_unbound_pod_may_change_anything():
    old = good_pod()
    new = copy.deepcopy(old)
    _c(new)["command"] = ["sh"]
    new["spec"]["restartPolicy"] = "Never"
    validate_pod_update(old, new)
