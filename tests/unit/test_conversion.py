"""v1beta1 <-> internal conversion: the article's files, round trips of every kind, and input errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from raftkube.apis import v1beta1
from raftkube.model.errors import BadRequest, Invalid
from raftkube.apis.v1beta1 import from_wire, list_from_wire, list_to_wire, pod_status_from_wire, to_wire

DATA = Path(__file__).parent / "data"
EXAMPLES = Path(__file__).parents[2] / "examples"


def _load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def _assert_contains(actual, expected, path="") -> None:
    """Every field of ``expected`` is in ``actual`` with the same value (lists compared item by item)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        for k, v in expected.items():
            assert k in actual, f"{path}.{k} missing"
            _assert_contains(actual[k], v, f"{path}.{k}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected)):
            _assert_contains(a, e, f"{path}[{i}]")
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def _meta(name: str, ns: str = "default", **kw) -> dict:
    md = {"name": name, "namespace": ns, "uid": f"uid-{name}", "creationTimestamp": "2014-10-14T09:00:00Z",
          "resourceVersion": 42, "labels": {"name": name}, "annotations": {"note": "x"}}
    md.update(kw)
    return md


def _container(name="redis", **kw) -> dict:
    c = {"name": name, "image": "dockerfile/redis", "command": ["redis-server", "/etc/redis.conf"],
         "workingDir": "/data",
         "ports": [{"name": "db", "hostPort": 6379, "containerPort": 6379, "protocol": "TCP", "hostIP": "0.0.0.0"},
                   {"name": "", "hostPort": 0, "containerPort": 9121, "protocol": "UDP", "hostIP": ""}],
         "env": [{"name": "MODE", "value": "master"}, {"name": "EMPTY", "value": ""}],
         "resources": {"limits": {"cpu": 250, "memory": 64 * 1024 * 1024}},
         "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True}],
         "livenessProbe": {"httpGet": {"path": "/healthz", "port": "db", "host": ""}, "initialDelaySeconds": 5},
         "lifecycle": {"postStart": {"exec": {"command": ["touch", "/ready"]}},
                       "preStop": {"httpGet": {"path": "/stop", "port": 8080, "host": "localhost"}}},
         "terminationMessagePath": "/dev/termination-log", "privileged": True, "imagePullPolicy": "Always"}
    c.update(kw)
    return c


VOLUMES = [{"name": "data", "hostPath": {"path": "/var/lib/redis"}},
           {"name": "scratch", "emptyDir": {}},
           {"name": "disk", "gcePersistentDisk": {"pdName": "pd1", "fsType": "ext4", "partition": 1, "readOnly": True}},
           {"name": "repo", "gitRepo": {"repository": "https://example.com/r.git", "revision": "abc"}}]


def full_pod() -> dict:
    return {"kind": "Pod", "metadata": _meta("redis", ns="prod"),
            "spec": {"containers": [_container(), _container("sidecar", imagePullPolicy="",
                                                             livenessProbe={"tcpSocket": {"port": 6379},
                                                                            "initialDelaySeconds": 0})],
                     "volumes": copy.deepcopy(VOLUMES), "restartPolicy": "OnFailure", "nodeName": "minion-1",
                     "nodeSelector": {"disk": "ssd"},
                     "serviceEnv": [{"name": "REDIS_SERVICE_HOST", "value": "minion-1"}]},
            "status": {"phase": "Running", "hostIP": "10.0.0.1", "podIP": "172.17.0.5", "message": "ok",
                       "reason": "Started",
                       "containerStatuses": [
                           {"name": "redis", "image": "dockerfile/redis", "restartCount": 2, "ready": True,
                            "state": {"running": {"startedAt": "2014-10-14T09:01:00Z"}}},
                           {"name": "sidecar", "image": "dockerfile/redis", "restartCount": 0, "ready": False,
                            "state": {"terminated": {"exitCode": 1, "signal": 9, "reason": "OOM", "message": "m",
                                                     "startedAt": "2014-10-14T09:01:00Z",
                                                     "finishedAt": "2014-10-14T09:02:00Z"}}},
                           {"name": "third", "image": "busybox", "restartCount": 0, "ready": False,
                            "state": {"waiting": {"reason": "Image: busybox is not ready on the node",
                                                  "message": "pulling"}}}]}}


def full_rc() -> dict:
    return {"kind": "ReplicationController", "metadata": _meta("redisController"),
            "spec": {"replicas": 3, "selector": {"name": "redis"},
                     "template": {"metadata": {"labels": {"name": "redis", "tier": "db"},
                                               "annotations": {"a": "b"}},
                                  "spec": {"containers": [_container()], "volumes": copy.deepcopy(VOLUMES),
                                           "restartPolicy": "Never", "nodeSelector": {"disk": "ssd"}}}},
            "status": {"replicas": 2}}


def full_service() -> dict:
    return {"kind": "Service", "metadata": _meta("redismaster", ns="prod"),
            "spec": {"ports": [{"name": "", "port": 10000, "targetPort": "db", "protocol": "UDP"}],
                     "selector": {"name": "redis"},
                     "createExternalLoadBalancer": True, "publicIPs": ["1.2.3.4"], "portalIP": "10.0.0.10"}}


def full_endpoints() -> dict:
    return {"kind": "Endpoints", "metadata": _meta("redismaster"),
            "subsets": [{"addresses": [{"ip": "10.244.1.3"}], "ports": [{"port": 6379}]},
                        {"addresses": [{"ip": "fe80::1"}], "ports": [{"port": 80}]}]}


def full_node() -> dict:
    md = _meta("minion-1")
    del md["namespace"]
    return {"kind": "Node", "metadata": md, "spec": {"unschedulable": True},
            "status": {"hostIP": "10.245.2.3", "capacity": {"cpu": 1000, "memory": 3221225472},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "kubelet healthy",
                                       "lastHeartbeatTime": "2014-10-14T09:00:05Z",
                                       "lastTransitionTime": "2014-10-14T09:00:00Z"}],
                       "kubeletPort": 10250, "kubeletTLS": True}}


def full_event() -> dict:
    return {"kind": "Event", "metadata": _meta("redis.13a1b2c3"),
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "redis", "uid": "u1",
                               "resourceVersion": "7", "fieldPath": "spec.containers[0]"},
            "status": "Pending", "reason": "scheduled", "message": "Successfully assigned redis to minion-1",
            "source": "scheduler", "timestamp": "2014-10-14T09:00:00Z"}


FULL = [full_pod, full_rc, full_service, full_endpoints, full_node, full_event]


# --- the article's files ----------------------------------------------------------------------------

def test_examples_are_the_test_data():
    for name in ("redis.json", "redisController.json"):
        assert (EXAMPLES / name).read_text() == (DATA / name).read_text()


def test_article_pod_round_trip():
    src = _load("redis.json")
    assert "kind" not in src and "apiVersion" not in src  # accepted without them
    pod = from_wire("Pod", src)
    assert pod["metadata"]["name"] == "redis" and pod["metadata"]["namespace"] == "default"
    c = pod["spec"]["containers"][0]
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["ports"] == [{"name": "", "hostPort": 6379, "containerPort": 6379, "protocol": "TCP", "hostIP": ""}]
    assert pod["spec"]["restartPolicy"] == "Always" and pod["spec"]["nodeName"] == ""
    pod["metadata"]["name"] = "redis-renamed"  # manifest.id follows the pod id
    wire = to_wire(pod)
    assert wire["desiredState"]["manifest"]["id"] == "redis-renamed"
    expected = copy.deepcopy(src)
    expected["id"] = expected["desiredState"]["manifest"]["id"] = "redis-renamed"
    _assert_contains(wire, expected)
    assert wire["kind"] == "Pod" and wire["apiVersion"] == "v1beta1"
    assert wire["currentState"]["status"] == "Waiting"
    assert wire["desiredState"]["status"] == "Running"


def test_article_rc_round_trip():
    src = _load("redisController.json")
    rc = from_wire("ReplicationController", src)
    assert rc["spec"]["replicas"] == 1 and rc["spec"]["selector"] == {"name": "redis"}
    assert rc["spec"]["template"]["metadata"]["labels"] == {"name": "redis"}
    wire = to_wire(rc)
    _assert_contains(wire, src)
    assert wire["currentState"] == {"replicas": 0,
                                    "podTemplate": {"desiredState": {"manifest": {"version": "", "id": ""}}}}


# --- internal round trips ---------------------------------------------------------------------------

@pytest.mark.parametrize("make", FULL, ids=lambda f: f.__name__)
def test_internal_round_trip(make):
    obj = make()
    wire = to_wire(obj)
    assert json.loads(json.dumps(wire)) == wire  # plain JSON
    assert from_wire(obj["kind"], wire) == obj
    assert obj == make()  # to_wire did not mutate its input


@pytest.mark.parametrize("make", FULL, ids=lambda f: f.__name__)
def test_from_wire_is_normalized(make):
    """Converting the normalized object's wire form again gives the identical wire form."""
    wire = to_wire(make())
    assert to_wire(from_wire(make()["kind"], wire)) == wire


def test_pod_wire_shape():
    w = to_wire(full_pod())
    assert w["kind"] == "Pod" and w["id"] == "redis" and w["uid"] == "uid-redis"
    assert w["selfLink"] == "/api/v1beta1/pods/redis?namespace=prod"
    assert w["resourceVersion"] == 42 and w["namespace"] == "prod"
    ds = w["desiredState"]
    assert ds["host"] == "minion-1" and ds["status"] == "Running"
    m = ds["manifest"]
    assert m["version"] == "v1beta1" and m["id"] == "redis" and m["uuid"] == "uid-redis"
    assert m["restartPolicy"] == {"onFailure": {}}
    assert m["volumes"][0] == {"name": "data", "source": {"hostDir": {"path": "/var/lib/redis"}}}
    assert m["volumes"][1] == {"name": "scratch", "source": {"emptyDir": {}}}
    assert m["volumes"][2]["source"]["persistentDisk"]["pdName"] == "pd1"
    c = m["containers"][0]
    assert c["cpu"] == 250 and c["memory"] == 64 * 1024 * 1024 and "resources" not in c
    assert c["imagePullPolicy"] == "PullAlways"
    assert m["containers"][1]["imagePullPolicy"] == ""
    assert c["env"][1] == {"name": "EMPTY"}  # omitempty value
    assert c["ports"][1] == {"containerPort": 9121, "protocol": "UDP"}
    cs = w["currentState"]
    assert cs["status"] == "Running" and cs["host"] == "minion-1" and cs["podIP"] == "172.17.0.5"
    assert cs["hostIP"] == "10.0.0.1" and cs["message"] == "ok"
    info = cs["info"]
    assert info["redis"]["state"] == {"running": {"startedAt": "2014-10-14T09:01:00Z"}}
    assert info["redis"]["restartCount"] == 2
    assert info["sidecar"]["state"]["termination"]["exitCode"] == 1  # internal terminated <-> wire termination
    assert "waiting" in info["third"]["state"]
    assert info["net"]["podIP"] == "172.17.0.5"
    assert w["nodeSelector"] == {"disk": "ssd"}


def test_unbound_minimal_pod_wire_omits_empties():
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": []}, "status": {"phase": "Pending"}}
    w = to_wire(pod)
    assert w["creationTimestamp"] is None
    for key in ("resourceVersion", "labels", "annotations", "uid", "nodeSelector"):
        assert key not in w
    assert w["namespace"] == "default" and w["selfLink"] == "/api/v1beta1/pods/p"
    assert "host" not in w["desiredState"]
    assert w["currentState"] == {"status": "Waiting"}


@pytest.mark.parametrize("phase, wire", [("Pending", "Waiting"), ("Running", "Running"),
                                         ("Succeeded", "Terminated"), ("Failed", "Terminated")])
def test_phase_to_wire(phase, wire):
    pod = full_pod()
    pod["status"]["phase"] = phase
    assert to_wire(pod)["currentState"]["status"] == wire


@pytest.mark.parametrize("wire, phase", [("Waiting", "Pending"), ("Running", "Running"),
                                         ("Terminated", "Failed"), ("", "Pending")])
def test_phase_from_wire(wire, phase):
    assert pod_status_from_wire({"currentState": {"status": wire}})["phase"] == phase


def test_pod_status_from_wire_reads_kubelet_info():
    body = {"id": "redis", "currentState": {
        "status": "Running", "hostIP": "10.0.0.1",
        "info": {"redis": {"state": {"running": {"startedAt": "2014-10-14T09:01:00Z"}}, "restartCount": 1,
                           "image": "dockerfile/redis"},
                 "net": {"state": {"running": {}}, "podIP": "172.17.0.9"}}}}
    st = pod_status_from_wire(body)
    assert st["phase"] == "Running" and st["podIP"] == "172.17.0.9" and st["hostIP"] == "10.0.0.1"
    assert st["containerStatuses"] == [{"name": "redis", "image": "dockerfile/redis", "restartCount": 1,
                                        "ready": True,
                                        "state": {"running": {"startedAt": "2014-10-14T09:01:00Z"}}}]


def test_pod_status_from_wire_errors():
    with pytest.raises(Invalid) as exc:
        pod_status_from_wire({"id": "redis", "currentState": {"status": "Exploded",
                                                              "info": {"redis": {"restartCount": "x"}}}})
    fields = {c.field for c in exc.value.causes}
    assert fields == {"currentState.status", "currentState.info.redis.restartCount"}


def test_uid_falls_back_to_manifest_uuid():
    body = _load("redis.json")
    body["desiredState"]["manifest"]["uuid"] = "1b43fe35"
    assert from_wire("Pod", body)["metadata"]["uid"] == "1b43fe35"
    body["uid"] = "top"
    assert from_wire("Pod", body)["metadata"]["uid"] == "top"


def test_service_wire_shape():
    w = to_wire(full_service())
    assert w["kind"] == "Service" and w["id"] == "redismaster"
    assert w["port"] == 10000 and w["containerPort"] == "db" and w["protocol"] == "UDP"
    assert w["selector"] == {"name": "redis"} and w["publicIPs"] == ["1.2.3.4"]
    assert w["createExternalLoadBalancer"] is True and w["portalIP"] == "10.0.0.10"
    svc = from_wire("Service", {"id": "redismaster", "port": 10000, "selector": {"name": "redis"},
                                "containerPort": 6379, "proxyPort": 5})
    assert svc["spec"] == {"ports": [{"name": "", "port": 10000, "targetPort": 6379, "protocol": "TCP"}],
                           "selector": {"name": "redis"}, "createExternalLoadBalancer": False, "publicIPs": [],
                           "portalIP": ""}
    assert from_wire("Service", {"id": "s", "port": 1})["spec"]["ports"][0]["targetPort"] == 0
    assert to_wire({"kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": []}})["port"] == 0


def test_endpoints_wire_shape():
    w = to_wire(full_endpoints())
    assert w["kind"] == "Endpoints" and w["endpoints"] == ["10.244.1.3:6379", "[fe80::1]:80"]
    assert to_wire({"kind": "Endpoints", "metadata": {"name": "x"}})["endpoints"] == []


def test_endpoints_keep_their_order_and_duplicates():
    entries = ["10.0.0.3:80", "10.0.0.1:81", "10.0.0.2:80", "10.0.0.2:80", "[fe80::1]:80", "fe80::2:90"]
    ep = from_wire("Endpoints", {"id": "e", "endpoints": entries})
    assert ep["subsets"] == [{"addresses": [{"ip": "10.0.0.3"}], "ports": [{"port": 80}]},
                             {"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 81}]},
                             {"addresses": [{"ip": "10.0.0.2"}, {"ip": "10.0.0.2"}, {"ip": "fe80::1"}],
                              "ports": [{"port": 80}]},
                             {"addresses": [{"ip": "fe80::2"}], "ports": [{"port": 90}]}]
    assert to_wire(ep)["endpoints"] == entries[:5] + ["[fe80::2]:90"]
    # every address of a subset serves every port of it
    two = {"kind": "Endpoints", "metadata": {"name": "e"},
           "subsets": [{"addresses": [{"ip": "a"}, {"ip": "b"}], "ports": [{"port": 1}, {"port": 2, "name": "x"}]}]}
    assert to_wire(two)["endpoints"] == ["a:1", "a:2", "b:1", "b:2"]


@pytest.mark.parametrize("written", ["v1beta1", None, "", "v1beta3"])
def test_event_involved_api_version(written):
    """Stored events name no wire version: v1beta1 shows its own; another value a client wrote is kept."""
    io = {"kind": "Pod", "name": "redis"}
    if written is not None:
        io["apiVersion"] = written
    ev = from_wire("Event", {"involvedObject": io})
    if written == "v1beta1":
        assert "apiVersion" not in ev["involvedObject"]
    else:
        assert ev["involvedObject"]["apiVersion"] == (written or "")
    out = to_wire(ev)["involvedObject"]
    assert out.get("apiVersion") == (written or None)
    assert list(out) == [k for k in ("kind", "name", "apiVersion") if k in out]


def test_minion_wire_shape():
    w = to_wire(full_node())
    assert w["kind"] == "Minion" and w["id"] == "minion-1" and "namespace" not in w
    assert w["selfLink"] == "/api/v1beta1/minions/minion-1"
    assert w["hostIP"] == "10.245.2.3"
    assert w["resources"] == {"capacity": {"cpu": 1000, "memory": 3221225472}}
    assert w["status"]["conditions"][0]["lastHeartbeatTime"] == "2014-10-14T09:00:05Z"
    assert w["unschedulable"] is True
    node = from_wire("Node", {"id": "10.245.2.3"}, namespace="ignored")
    assert "namespace" not in node["metadata"]
    assert node["status"] == {"hostIP": "", "capacity": {"cpu": 0, "memory": 0}, "conditions": [], "kubeletPort": 0}


def test_event_wire_shape():
    w = to_wire(full_event())
    assert w["kind"] == "Event" and w["involvedObject"]["name"] == "redis" and "id" not in w["involvedObject"]
    assert w["reason"] == "scheduled" and w["timestamp"] == "2014-10-14T09:00:00Z"
    ev = from_wire("Event", {"involvedObject": {"kind": "Pod", "name": "redis", "resourceVersion": 7}})
    assert ev["involvedObject"]["resourceVersion"] == "7"
    assert ev["timestamp"] == "" and to_wire(ev)["timestamp"] is None


def test_namespace_argument_and_body_namespace():
    assert from_wire("Pod", _load("redis.json"), namespace="prod")["metadata"]["namespace"] == "prod"
    body = dict(_load("redis.json"), namespace="dev")
    assert from_wire("Pod", body, namespace="prod")["metadata"]["namespace"] == "dev"


def test_resource_version_number_or_digits():
    assert from_wire("Service", {"id": "s", "resourceVersion": 17})["metadata"]["resourceVersion"] == 17
    assert from_wire("Service", {"id": "s", "resourceVersion": "17"})["metadata"]["resourceVersion"] == 17
    with pytest.raises(Invalid) as exc:
        from_wire("Service", {"id": "s", "resourceVersion": "abc"})
    assert exc.value.causes[0].field == "resourceVersion"


@pytest.mark.parametrize("wire, internal", [("PullAlways", "Always"), ("PullNever", "Never"),
                                            ("PullIfNotPresent", "IfNotPresent"), ("", "")])
def test_image_pull_policy(wire, internal):
    body = _load("redis.json")
    body["desiredState"]["manifest"]["containers"][0]["imagePullPolicy"] = wire
    pod = from_wire("Pod", body)
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == internal
    assert to_wire(pod)["desiredState"]["manifest"]["containers"][0]["imagePullPolicy"] == wire


@pytest.mark.parametrize("wire, internal", [({"always": {}}, "Always"), ({"onFailure": {}}, "OnFailure"),
                                            ({"never": {}}, "Never"), ({}, "Always"), (None, "Always"),
                                            ({"sometimes": {}}, "Always")])
def test_restart_policy(wire, internal):
    body = _load("redis.json")
    body["desiredState"]["manifest"]["restartPolicy"] = wire
    pod = from_wire("Pod", body)
    assert pod["spec"]["restartPolicy"] == internal
    assert to_wire(pod)["desiredState"]["manifest"]["restartPolicy"] == {v1beta1.RESTART_TO_WIRE[internal]: {}}


def test_two_restart_policies_are_invalid():
    body = _load("redis.json")
    body["desiredState"]["manifest"]["restartPolicy"] = {"always": {}, "never": {}}
    with pytest.raises(Invalid) as exc:
        from_wire("Pod", body)
    assert [c.field for c in exc.value.causes] == ["desiredState.manifest.restartPolicy"]


def test_obsolete_aliases_and_defaults():
    body = _load("redis.json")
    c = body["desiredState"]["manifest"]["containers"][0]
    c["env"] = [{"key": "OLD", "value": "1"}]
    c["volumeMounts"] = [{"name": "v", "path": "/old"}]
    c["livenessProbe"] = {"type": "http", "enabled": True, "httpGet": {"path": "/", "port": "6379"}}
    body["desiredState"]["manifest"]["volumes"] = [{"name": "v"}]
    body["somethingNew"] = {"ignored": True}
    pod = from_wire("Pod", body)
    out = pod["spec"]["containers"][0]
    assert out["env"] == [{"name": "OLD", "value": "1"}]
    assert out["volumeMounts"] == [{"name": "v", "mountPath": "/old", "readOnly": False}]
    assert out["livenessProbe"] == {"httpGet": {"path": "/", "port": "6379", "host": ""}, "initialDelaySeconds": 0}
    assert pod["spec"]["volumes"] == [{"name": "v", "emptyDir": {}}]


def test_none_values_are_defaults():
    body = {"id": "redis", "labels": None, "desiredState": {"manifest": {"version": "v1beta1", "containers": [
        {"name": "redis", "image": "x", "ports": None, "cpu": None, "env": None}]}, "host": None},
        "currentState": None, "nodeSelector": None}
    pod = from_wire("Pod", body)
    c = pod["spec"]["containers"][0]
    assert c["ports"] == [] and c["env"] == [] and c["resources"]["limits"]["cpu"] == 0
    assert pod["metadata"]["labels"] == {} and pod["spec"]["nodeName"] == ""
    assert pod["status"]["phase"] == "Pending"


# --- input errors -----------------------------------------------------------------------------------

def test_kind_mismatch_is_bad_request():
    body = dict(_load("redis.json"), kind="Service")
    with pytest.raises(BadRequest) as exc:
        from_wire("Pod", body)
    assert str(exc.value) == "data of kind 'Service', obj of type 'Pod'"
    with pytest.raises(BadRequest, match="obj of type 'Minion'"):
        from_wire("Node", {"kind": "Pod", "id": "m"})
    assert from_wire("Node", {"kind": "Minion", "id": "m"})["kind"] == "Node"


def test_api_version_must_be_v1beta1():
    with pytest.raises(BadRequest, match="v1beta3"):
        from_wire("Pod", dict(_load("redis.json"), apiVersion="v1beta3"))
    assert from_wire("Pod", dict(_load("redis.json"), apiVersion="v1beta1", kind="Pod"))["kind"] == "Pod"


def test_body_must_be_an_object():
    with pytest.raises(BadRequest):
        from_wire("Pod", [1, 2])


@pytest.mark.parametrize("mutate, field", [
    (lambda b: b["desiredState"]["manifest"].__setitem__("containers", {"name": "x"}),
     "desiredState.manifest.containers"),
    (lambda b: b["desiredState"]["manifest"]["containers"][0]["ports"][0].__setitem__("containerPort", "6379"),
     "desiredState.manifest.containers[0].ports[0].containerPort"),
    (lambda b: b["desiredState"]["manifest"]["containers"][0]["ports"][0].__setitem__("hostPort", 1.5),
     "desiredState.manifest.containers[0].ports[0].hostPort"),
    (lambda b: b.__setitem__("labels", {"name": 5}), "labels"),
    (lambda b: b.__setitem__("labels", ["name"]), "labels"),
    (lambda b: b["desiredState"]["manifest"]["containers"][0].__setitem__("image", 7),
     "desiredState.manifest.containers[0].image"),
    (lambda b: b["desiredState"]["manifest"]["containers"][0].__setitem__("command", "redis-server"),
     "desiredState.manifest.containers[0].command"),
    (lambda b: b["desiredState"]["manifest"]["containers"][0].__setitem__("privileged", "yes"),
     "desiredState.manifest.containers[0].privileged"),
    (lambda b: b["desiredState"]["manifest"]["containers"][0].__setitem__("memory", "1Gi"),
     "desiredState.manifest.containers[0].memory"),
    (lambda b: b["desiredState"]["manifest"]["containers"].__setitem__(0, "redis"),
     "desiredState.manifest.containers[0]"),
    (lambda b: b["desiredState"].__setitem__("manifest", []), "desiredState.manifest"),
    (lambda b: b["desiredState"]["manifest"].pop("version"), "desiredState.manifest.version"),
    (lambda b: b["desiredState"]["manifest"].__setitem__("version", "v2"), "desiredState.manifest.version"),
    (lambda b: b.__setitem__("id", 5), "id"),
])
def test_pod_type_errors_name_the_wire_path(mutate, field):
    body = _load("redis.json")
    mutate(body)
    with pytest.raises(Invalid) as exc:
        from_wire("Pod", body)
    fields = [c.field for c in exc.value.causes]
    # a manifest of the wrong type also lacks its required version; every other case is one cause
    assert fields == [field] or (field == "desiredState.manifest"
                                 and fields == [field, "desiredState.manifest.version"])
    assert exc.value.kind == "Pod"
    assert str(exc.value).startswith('pod "')
    assert exc.value.causes[0].message.startswith(field + ":")


def test_rc_type_errors_name_the_wire_path():
    body = _load("redisController.json")
    body["desiredState"]["replicas"] = "1"
    body["desiredState"]["podTemplate"]["desiredState"]["manifest"]["containers"][0]["ports"][0]["containerPort"] = "x"
    with pytest.raises(Invalid) as exc:
        from_wire("ReplicationController", body)
    assert [c.field for c in exc.value.causes] == [
        "desiredState.podTemplate.desiredState.manifest.containers[0].ports[0].containerPort",
        "desiredState.replicas"]
    assert str(exc.value).startswith('replicationController "redisController" is invalid: ')


@pytest.mark.parametrize("kind, body, field", [
    ("Service", {"id": "s", "port": "80"}, "port"),
    ("Service", {"id": "s", "containerPort": 1.5}, "containerPort"),
    ("Service", {"id": "s", "publicIPs": "1.2.3.4"}, "publicIPs"),
    ("Endpoints", {"id": "s", "endpoints": ["10.0.0.1"]}, "endpoints[0]"),
    ("Endpoints", {"id": "s", "endpoints": [{"ip": "10.0.0.1"}]}, "endpoints[0]"),
    ("Node", {"id": "m", "resources": {"capacity": {"cpu": "1"}}}, "resources.capacity.cpu"),
    ("Event", {"involvedObject": {"name": 5}}, "involvedObject.name"),
])
def test_other_kinds_type_errors(kind, body, field):
    with pytest.raises(Invalid) as exc:
        from_wire(kind, body)
    assert [c.field for c in exc.value.causes] == [field]


# --- lists ------------------------------------------------------------------------------------------

def test_list_to_wire():
    out = list_to_wire("Pod", [full_pod()], 99, "/api/v1beta1/pods")
    assert out["kind"] == "PodList" and out["apiVersion"] == "v1beta1"
    assert out["resourceVersion"] == 99 and out["selfLink"] == "/api/v1beta1/pods"
    assert out["items"] == [to_wire(full_pod())]
    empty = list_to_wire("Service", [], 0, "/api/v1beta1/services")
    assert empty["items"] == [] and "resourceVersion" not in empty and empty["kind"] == "ServiceList"


def test_minion_list_has_both_minions_and_items():
    out = list_to_wire("Node", [full_node()], 5, "/api/v1beta1/minions")
    assert out["kind"] == "MinionList"
    assert out["minions"] == out["items"] == [to_wire(full_node())]


def test_list_from_wire():
    items, rv = list_from_wire("Pod", list_to_wire("Pod", [full_pod()], 99, "/x"))
    assert items == [full_pod()] and rv == 99
    body = list_to_wire("Node", [full_node()], 3, "/x")
    del body["items"]
    assert list_from_wire("Node", body) == ([full_node()], 3)
    with pytest.raises(BadRequest):
        list_from_wire("Pod", {"kind": "ServiceList", "items": []})
