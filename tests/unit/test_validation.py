"""Validation of internal objects: every rule, with the internal path of each cause and the v1beta1 wire path
the version package translates it to."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from raftkube.model import validation
from raftkube.model.errors import Invalid
from raftkube.apis.v1beta1 import from_wire
from raftkube.apis.v1beta1 import RESOURCES
from raftkube.apis.v1beta1 import validation as wire_validation
from raftkube.apis.v1beta1.errors import error_to_wire
from raftkube.model.validation import causes_of, pod_update_causes, validate, validate_pod_update

DATA = Path(__file__).parent / "data"
M = "desiredState.manifest"
T = "desiredState.podTemplate.desiredState.manifest"
S = "spec"
TS = "spec.template.spec"


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


def _wire_fields(obj: dict) -> list[str]:
    return [c.field for c in wire_validation.causes_of(obj)]


def _assert_causes(obj: dict, field: str, wire: str, reason: str) -> None:
    """One cause: ``field`` (internal) at the model level, ``wire`` through v1beta1, the message naming each."""
    causes = causes_of(obj)
    assert [(c.field, c.reason) for c in causes] == [(field, reason)]
    assert causes[0].message.startswith(f"{field}: ")
    wire_causes = wire_validation.causes_of(obj)
    assert [(c.field, c.reason) for c in wire_causes] == [(wire, reason)]
    assert wire_causes[0].message == wire + causes[0].message[len(field):]


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
    assert str(err) == f'pod "redis" is invalid: {S}.containers[0].name: required value'
    assert [(c.reason, c.field) for c in err.causes] == [
        ("FieldValueRequired", f"{S}.containers[0].name"), ("FieldValueRequired", f"{S}.containers[0].image")]
    with pytest.raises(Invalid) as exc:
        wire_validation.validate(pod)
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
    assert str(exc.value).startswith('replicationController "redisController" is invalid: spec.replicas:')
    with pytest.raises(Invalid) as exc:
        wire_validation.validate(rc)
    assert str(exc.value).startswith('replicationController "redisController" is invalid: desiredState.replicas:')


def test_invalid_message_for_a_node_names_a_minion_in_v1beta1():
    node = good_node()
    node["status"]["hostIP"] = "nope"
    with pytest.raises(Invalid) as exc:
        validate(node)
    assert str(exc.value) == "node \"minion-1\" is invalid: status.hostIP: invalid value 'nope' (must be an IP address)"
    with pytest.raises(Invalid) as exc:
        wire_validation.validate(node)
    assert str(exc.value) == "minion \"minion-1\" is invalid: hostIP: invalid value 'nope' (must be an IP address)"


# --- pods --------------------------------------------------------------------------------------------

def _c(pod: dict, i: int = 0) -> dict:
    return pod["spec"]["containers"][i]


POD_CASES = [
    # (mutation, expected field, expected reason)
    (lambda p: p["metadata"].__setitem__("name", ""), "metadata.name", "id", "FieldValueRequired"),
    (lambda p: p["metadata"].__setitem__("name", "Redis"), "metadata.name", "id", "FieldValueInvalid"),
    (lambda p: p["metadata"].__setitem__("name", "a" * 254), "metadata.name", "id", "FieldValueInvalid"),
    (lambda p: p["metadata"].__setitem__("name", "redis_1"), "metadata.name", "id", "FieldValueInvalid"),
    (lambda p: p["metadata"].__setitem__("namespace", "Prod"),
     "metadata.namespace", "namespace", "FieldValueInvalid"),
    (lambda p: p["metadata"].__setitem__("labels", {"": "x"}), "metadata.labels", "labels", "FieldValueInvalid"),
    (lambda p: p["metadata"].__setitem__("labels", {"k" * 64: "x"}),
     "metadata.labels", "labels", "FieldValueInvalid"),
    (lambda p: p["metadata"].__setitem__("labels", {"/name": "x"}), "metadata.labels", "labels", "FieldValueInvalid"),
    (lambda p: p["metadata"].__setitem__("labels", {"example.com/": "x"}),
     "metadata.labels", "labels", "FieldValueInvalid"),
    (lambda p: p["metadata"].__setitem__("labels", {"name": "v" * 64}),
     "metadata.labels", "labels", "FieldValueInvalid"),
    (lambda p: p["spec"].__setitem__("nodeSelector", {"": "ssd"}),
     "spec.nodeSelector", "nodeSelector", "FieldValueInvalid"),
    (lambda p: _c(p).__setitem__("name", ""),
     f"{S}.containers[0].name", f"{M}.containers[0].name", "FieldValueRequired"),
    (lambda p: _c(p).__setitem__("name", "Redis"),
     f"{S}.containers[0].name", f"{M}.containers[0].name", "FieldValueInvalid"),
    (lambda p: _c(p).__setitem__("name", "a" * 64),
     f"{S}.containers[0].name", f"{M}.containers[0].name", "FieldValueInvalid"),
    (lambda p: _c(p, 1).__setitem__("name", "redis"),
     f"{S}.containers[1].name", f"{M}.containers[1].name", "FieldValueDuplicate"),
    (lambda p: _c(p).__setitem__("image", ""),
     f"{S}.containers[0].image", f"{M}.containers[0].image", "FieldValueRequired"),
    (lambda p: _c(p)["ports"][0].__setitem__("containerPort", 0), f"{S}.containers[0].ports[0].containerPort",
     f"{M}.containers[0].ports[0].containerPort", "FieldValueRequired"),
    (lambda p: _c(p)["ports"][0].__setitem__("containerPort", 65536),
     f"{S}.containers[0].ports[0].containerPort", f"{M}.containers[0].ports[0].containerPort", "FieldValueInvalid"),
    (lambda p: _c(p)["ports"][0].__setitem__("hostPort", -1),
     f"{S}.containers[0].ports[0].hostPort", f"{M}.containers[0].ports[0].hostPort", "FieldValueInvalid"),
    (lambda p: _c(p)["ports"][0].__setitem__("hostPort", 70000),
     f"{S}.containers[0].ports[0].hostPort", f"{M}.containers[0].ports[0].hostPort", "FieldValueInvalid"),
    (lambda p: _c(p)["ports"][0].__setitem__("protocol", "SCTP"),
     f"{S}.containers[0].ports[0].protocol", f"{M}.containers[0].ports[0].protocol", "FieldValueNotSupported"),
    (lambda p: _c(p)["ports"][0].__setitem__("name", "Metrics"),
     f"{S}.containers[0].ports[0].name", f"{M}.containers[0].ports[0].name", "FieldValueInvalid"),
    (lambda p: _c(p)["ports"][0].__setitem__("name", "metrics"),
     f"{S}.containers[0].ports[1].name", f"{M}.containers[0].ports[1].name", "FieldValueDuplicate"),
    (lambda p: _c(p, 1)["ports"][0].__setitem__("hostPort", 6379),
     f"{S}.containers[1].ports[0].hostPort", f"{M}.containers[1].ports[0].hostPort", "FieldValueDuplicate"),
    (lambda p: _c(p)["env"][0].__setitem__("name", "1BAD"),
     f"{S}.containers[0].env[0].name", f"{M}.containers[0].env[0].name", "FieldValueInvalid"),
    (lambda p: _c(p)["env"][1].__setitem__("name", "A-B"),
     f"{S}.containers[0].env[1].name", f"{M}.containers[0].env[1].name", "FieldValueInvalid"),
    (lambda p: _c(p)["env"][0].__setitem__("name", ""),
     f"{S}.containers[0].env[0].name", f"{M}.containers[0].env[0].name", "FieldValueRequired"),
    (lambda p: p["spec"]["volumes"].append({"name": "data", "emptyDir": {}}),
     f"{S}.volumes[1].name", f"{M}.volumes[1].name", "FieldValueDuplicate"),
    (lambda p: p["spec"]["volumes"].append({"name": "Data2", "emptyDir": {}}),
     f"{S}.volumes[1].name", f"{M}.volumes[1].name", "FieldValueInvalid"),
    (lambda p: p["spec"]["volumes"].append({"name": "", "emptyDir": {}}),
     f"{S}.volumes[1].name", f"{M}.volumes[1].name", "FieldValueRequired"),
    (lambda p: _c(p)["volumeMounts"][0].__setitem__("name", "nope"),
     f"{S}.containers[0].volumeMounts[0].name", f"{M}.containers[0].volumeMounts[0].name", "FieldValueNotFound"),
    (lambda p: _c(p)["volumeMounts"][0].__setitem__("mountPath", ""), f"{S}.containers[0].volumeMounts[0].mountPath",
     f"{M}.containers[0].volumeMounts[0].mountPath", "FieldValueRequired"),
    (lambda p: p["spec"].__setitem__("restartPolicy", "Sometimes"),
     f"{S}.restartPolicy", f"{M}.restartPolicy", "FieldValueNotSupported"),
    (lambda p: _c(p).__setitem__("imagePullPolicy", "PullSometimes"),
     f"{S}.containers[0].imagePullPolicy", f"{M}.containers[0].imagePullPolicy", "FieldValueNotSupported"),
    (lambda p: _c(p)["resources"]["limits"].__setitem__("cpu", -1),
     f"{S}.containers[0].resources.limits.cpu", f"{M}.containers[0].cpu", "FieldValueInvalid"),
    (lambda p: _c(p)["resources"]["limits"].__setitem__("memory", -5),
     f"{S}.containers[0].resources.limits.memory", f"{M}.containers[0].memory", "FieldValueInvalid"),
    (lambda p: _c(p)["resources"]["limits"].__setitem__("cpu", 1_000_001),
     f"{S}.containers[0].resources.limits.cpu", f"{M}.containers[0].cpu", "FieldValueInvalid"),
    (lambda p: _c(p)["resources"]["limits"].__setitem__("memory", 2 ** 50 + 1),
     f"{S}.containers[0].resources.limits.memory", f"{M}.containers[0].memory", "FieldValueInvalid"),
    (lambda p: _c(p)["env"][0].__setitem__("name", "A" * 254),
     f"{S}.containers[0].env[0].name", f"{M}.containers[0].env[0].name", "FieldValueInvalid"),
    (lambda p: _c(p)["env"][0].__setitem__("value", 5),
     f"{S}.containers[0].env[0].value", f"{M}.containers[0].env[0].value", "FieldValueInvalid"),
    (lambda p: _c(p)["volumeMounts"][0].__setitem__("mountPath", "data"), f"{S}.containers[0].volumeMounts[0].mountPath",
     f"{M}.containers[0].volumeMounts[0].mountPath", "FieldValueInvalid"),
    (lambda p: _c(p)["volumeMounts"][0].__setitem__("mountPath", "/a/../etc"),
     f"{S}.containers[0].volumeMounts[0].mountPath", f"{M}.containers[0].volumeMounts[0].mountPath",
     "FieldValueInvalid"),
    (lambda p: _c(p)["volumeMounts"][0].__setitem__("mountPath", "/" + "a" * 4096),
     f"{S}.containers[0].volumeMounts[0].mountPath", f"{M}.containers[0].volumeMounts[0].mountPath",
     "FieldValueInvalid"),
    (lambda p: p["spec"]["volumes"].append({"name": "h", "hostPath": {"path": "tmp/x"}}),
     f"{S}.volumes[1].hostPath.path", f"{M}.volumes[1].hostPath.path", "FieldValueInvalid"),
    (lambda p: _c(p)["volumeMounts"].append({"name": "data", "mountPath": "/data/"}),
     f"{S}.containers[0].volumeMounts[1].mountPath", f"{M}.containers[0].volumeMounts[1].mountPath",
     "FieldValueDuplicate"),
]


@pytest.mark.parametrize("mutate, field, wire, reason", POD_CASES)
def test_pod_rules(mutate, field, wire, reason):
    pod = good_pod()
    mutate(pod)
    _assert_causes(pod, field, wire, reason)
    with pytest.raises(Invalid):
        validate(pod)


def test_all_errors_are_returned_at_once():
    pod = good_pod()
    _c(pod).update(name="", image="")
    pod["spec"]["restartPolicy"] = "Bad"
    assert set(_fields(pod)) == {f"{S}.containers[0].name", f"{S}.containers[0].image", f"{S}.restartPolicy"}
    assert set(_wire_fields(pod)) == {f"{M}.containers[0].name", f"{M}.containers[0].image", f"{M}.restartPolicy"}


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
    (lambda r: r["metadata"].__setitem__("name", ""), "metadata.name", "id", "FieldValueRequired"),
    (lambda r: r["metadata"].__setitem__("name", "a/b"), "metadata.name", "id", "FieldValueInvalid"),
    (lambda r: r["spec"].__setitem__("replicas", -1), "spec.replicas", "desiredState.replicas", "FieldValueInvalid"),
    (lambda r: r["spec"].__setitem__("selector", {}),
     "spec.selector", "desiredState.replicaSelector", "FieldValueRequired"),
    (lambda r: r["spec"].__setitem__("selector", {"name": "web"}),
     "spec.selector", "desiredState.replicaSelector", "FieldValueInvalid"),
    (lambda r: r["spec"]["selector"].__setitem__("tier", "db"),
     "spec.selector", "desiredState.replicaSelector", "FieldValueInvalid"),
    (lambda r: r["spec"]["template"]["metadata"]["labels"].__setitem__("x" * 64, "1"),
     "spec.template.metadata.labels", "desiredState.podTemplate.labels", "FieldValueInvalid"),
    (lambda r: _tc(r).__setitem__("image", ""),
     f"{TS}.containers[0].image", f"{T}.containers[0].image", "FieldValueRequired"),
    (lambda r: _tc(r)["ports"][0].__setitem__("containerPort", 0),
     f"{TS}.containers[0].ports[0].containerPort", f"{T}.containers[0].ports[0].containerPort", "FieldValueRequired"),
    (lambda r: r["spec"]["template"]["spec"].__setitem__("restartPolicy", "x"),
     f"{TS}.restartPolicy", f"{T}.restartPolicy", "FieldValueNotSupported"),
    # an RC keeps its pods running: a pod that completes would be replaced forever (issue 19)
    (lambda r: r["spec"]["template"]["spec"].__setitem__("restartPolicy", "Never"),
     f"{TS}.restartPolicy", f"{T}.restartPolicy", "FieldValueNotSupported"),
    (lambda r: r["spec"]["template"]["spec"].__setitem__("restartPolicy", "OnFailure"),
     f"{TS}.restartPolicy", f"{T}.restartPolicy", "FieldValueNotSupported"),
]


@pytest.mark.parametrize("mutate, field, wire, reason", RC_CASES)
def test_rc_rules(mutate, field, wire, reason):
    rc = article_rc()
    mutate(rc)
    _assert_causes(rc, field, wire, reason)


def test_rc_template_node_selector_path():
    rc = article_rc()
    rc["spec"]["template"]["spec"]["nodeSelector"] = {"": "ssd"}
    _assert_causes(rc, "spec.template.spec.nodeSelector", "desiredState.podTemplate.nodeSelector",
                   "FieldValueInvalid")


def test_rc_selector_subset_of_template_labels_is_fine_and_zero_replicas_ok():
    rc = article_rc()
    rc["spec"]["template"]["metadata"]["labels"]["replicationController"] = "redisController"
    rc["spec"]["replicas"] = 0
    assert causes_of(rc) == []


# --- services -----------------------------------------------------------------------------------------

def _port(s: dict) -> dict:
    return s["spec"]["ports"][0]


SERVICE_CASES = [
    (lambda s: s["metadata"].__setitem__("name", ""), "metadata.name", "id", "FieldValueRequired"),
    (lambda s: s["metadata"].__setitem__("name", "redis-master-service-long"),  # 25
     "metadata.name", "id", "FieldValueInvalid"),
    (lambda s: s["metadata"].__setitem__("name", "1redis"), "metadata.name", "id", "FieldValueInvalid"),
    (lambda s: s["metadata"].__setitem__("name", "redisMaster"), "metadata.name", "id", "FieldValueInvalid"),
    (lambda s: s["metadata"].__setitem__("name", "redis-"), "metadata.name", "id", "FieldValueInvalid"),
    (lambda s: _port(s).__setitem__("port", 0), "spec.ports[0].port", "port", "FieldValueRequired"),
    (lambda s: _port(s).__setitem__("port", 65536), "spec.ports[0].port", "port", "FieldValueInvalid"),
    (lambda s: s["spec"].__setitem__("selector", {}), "spec.selector", "selector", "FieldValueRequired"),
    (lambda s: _port(s).__setitem__("protocol", "ICMP"), "spec.ports[0].protocol", "protocol",
     "FieldValueNotSupported"),
    (lambda s: _port(s).__setitem__("targetPort", 70000), "spec.ports[0].targetPort", "containerPort",
     "FieldValueInvalid"),
    (lambda s: _port(s).__setitem__("targetPort", -1), "spec.ports[0].targetPort", "containerPort",
     "FieldValueInvalid"),
    (lambda s: _port(s).__setitem__("targetPort", "Not A Name"), "spec.ports[0].targetPort", "containerPort",
     "FieldValueInvalid"),
    (lambda s: s["spec"].__setitem__("portalIP", "10.0.0"), "spec.portalIP", "portalIP", "FieldValueInvalid"),
    (lambda s: s["metadata"].__setitem__("labels", {"": "x"}), "metadata.labels", "labels", "FieldValueInvalid"),
    (lambda s: s["spec"].__setitem__("publicIPs", [""]), "spec.publicIPs[0]", "publicIPs[0]", "FieldValueRequired"),
]


@pytest.mark.parametrize("mutate, field, wire, reason", SERVICE_CASES)
def test_service_rules(mutate, field, wire, reason):
    svc = good_service()
    mutate(svc)
    _assert_causes(svc, field, wire, reason)


@pytest.mark.parametrize("cport", [0, "", "redis", 6379, 65535])
def test_service_container_port_forms(cport):
    svc = good_service()
    _port(svc)["targetPort"] = cport
    assert causes_of(svc) == []


def test_service_ports_beyond_v1beta1():
    """What only a service of several ports (core/v1) can get wrong: names, and a service without ports."""
    svc = good_service()
    svc["spec"]["ports"].append({"name": "", "port": 81, "targetPort": 81, "protocol": "TCP"})
    assert [(c.field, c.reason) for c in causes_of(svc)] == [("spec.ports[0].name", "FieldValueRequired"),
                                                            ("spec.ports[1].name", "FieldValueRequired")]
    svc["spec"]["ports"][0]["name"] = svc["spec"]["ports"][1]["name"] = "web"
    assert [(c.field, c.reason) for c in causes_of(svc)] == [("spec.ports[1].name", "FieldValueDuplicate")]
    svc["spec"]["ports"][1]["name"] = "Bad Name"
    assert [(c.field, c.reason) for c in causes_of(svc)] == [("spec.ports[1].name", "FieldValueInvalid")]
    svc["spec"]["ports"] = []
    assert [(c.field, c.reason) for c in causes_of(svc)] == [("spec.ports", "FieldValueRequired")]
    assert _wire_fields(svc) == ["port"]


def test_service_name_of_24_chars_is_valid():
    svc = good_service()
    svc["metadata"]["name"] = "a" * 24
    assert causes_of(svc) == []


# --- endpoints, nodes, events ---------------------------------------------------------------------------

@pytest.mark.parametrize("entry, field, wire", [
    ({"addresses": [{"ip": ""}], "ports": [{"port": 80}]}, "subsets[1].addresses[0].ip", "endpoints[1]"),
    ({"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 0}]}, "subsets[1].ports[0].port", "endpoints[1]"),
    ({"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 65536}]}, "subsets[1].ports[0].port", "endpoints[1]"),
])
def test_endpoints_rules(entry, field, wire):
    ep = good_endpoints()
    ep["subsets"].append(entry)
    assert _fields(ep) == [field]
    assert _wire_fields(ep) == [wire]


def test_endpoints_causes_name_each_v1beta1_entry():
    """One bad port shared by a subset is one cause per list entry in v1beta1, as 2014 checked each entry."""
    ep = from_wire("Endpoints", {"id": "a/b", "endpoints": [":80", "10.0.0.1:0", "10.0.0.4:0", "10.0.0.3:80", ":0"]})
    assert [c.field for c in causes_of(ep)] == ["metadata.name", "subsets[0].addresses[0].ip",
                                                "subsets[1].ports[0].port", "subsets[3].addresses[0].ip",
                                                "subsets[3].ports[0].port"]
    assert [c.message for c in wire_validation.causes_of(ep)] == [
        "id: invalid value 'a/b' (may not contain '/')",
        "endpoints[0]: required value",
        "endpoints[1]: invalid value '10.0.0.1:0' (the port must be 1-65535)",
        "endpoints[2]: invalid value '10.0.0.4:0' (the port must be 1-65535)",
        "endpoints[4]: required value"]


@pytest.mark.parametrize("mutate, field, wire", [
    (lambda n: n["metadata"].__setitem__("name", ""), "metadata.name", "id"),
    (lambda n: n["metadata"].__setitem__("name", "Minion_1"), "metadata.name", "id"),
    (lambda n: n["status"].__setitem__("hostIP", "not-an-ip"), "status.hostIP", "hostIP"),
    (lambda n: n["status"]["capacity"].__setitem__("cpu", -1), "status.capacity.cpu", "resources.capacity.cpu"),
    (lambda n: n["status"]["capacity"].__setitem__("cpu", 10 ** 7), "status.capacity.cpu", "resources.capacity.cpu"),
    (lambda n: n["status"]["capacity"].__setitem__("memory", -1), "status.capacity.memory",
     "resources.capacity.memory"),
])
def test_node_rules(mutate, field, wire):
    node = good_node()
    mutate(node)
    assert _fields(node) == [field]
    assert _wire_fields(node) == [wire]


@pytest.mark.parametrize("missing", ["name", "kind"])
def test_event_rules(missing):
    ev = good_event()
    ev["involvedObject"][missing] = ""
    _assert_causes(ev, f"involvedObject.{missing}", f"involvedObject.{missing}", "FieldValueRequired")


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
    assert [c.field for c in exc.value.causes] == [S]
    assert str(exc.value) == f'pod "redis" is invalid: {S}: {validation.IMMUTABLE_MESSAGE}'
    wire = error_to_wire(exc.value, RESOURCES["pods"], new)
    assert [c.field for c in wire.causes] == [M]
    assert str(wire) == f'pod "redis" is invalid: {M}: {validation.IMMUTABLE_MESSAGE}'


def test_unbound_pod_may_change_anything():
    old = good_pod()
    new = copy.deepcopy(old)
    _c(new)["command"] = ["sh"]
    new["spec"]["restartPolicy"] = "Never"
    validate_pod_update(old, new)
