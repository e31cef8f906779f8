"""The stock kubectl on this machine against three real masters through core/v1 (one cluster per module).

Each test uses its own object names and asserts on what kubectl printed. Cross-version: objects written
through v1beta1 (as kubecfg does) are read with kubectl, and what kubectl creates is read through v1beta1.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
import os
import re
import queue
import shutil
import subprocess
import threading

import pytest
import requests
import yaml

from raftkube.testing import pod_body, running_cluster
from raftkube.testing.minions import hollow_minion, running_container
from raftkube.testing.waiting import poll_until

KUBECTL = shutil.which("kubectl")
#: Debian's kubernetes-client 1.20, beside the other (.ci/run extracts it there: K8S-V1.md §13)
KUBECTL_120 = os.environ.get("KUBECTL_120", "/opt/kc120/usr/bin/kubectl")

POD = """apiVersion: v1
kind: Pod
metadata: {name: %s, labels: {app: %s}}
spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]}
"""
RC_SVC = """apiVersion: v1
kind: ReplicationController
metadata: {name: kweb, labels: {app: kweb}}
spec:
  replicas: 2
  selector: {app: kweb}
  template:
    metadata: {labels: {app: kweb}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: v1
kind: Service
metadata: {name: kwebsvc}
spec: {selector: {app: kweb}, ports: [{port: 80, targetPort: 8080}]}
"""


@pytest.fixture(scope="module")
def kc(tmp_path_factory):
    assert KUBECTL, "kubectl must be installed on this machine (issue 16 tests the stock binary)"
    with running_cluster(tmp_path_factory.mktemp("kubectl")) as c:
        yield c


class Kubectl:
    """One kubectl binary and its own discovery cache; ``old`` for 1.20, whose output differs in places."""

    def __init__(self, binary: str, cache_dir):
        self.binary, self.cache_dir = binary, cache_dir
        self.old = binary == KUBECTL_120

    def argv(self, kc, *args, server=0) -> list[str]:
        return [self.binary, "--cache-dir", str(self.cache_dir), "-s", kc.urls[server], *args]


@pytest.fixture(scope="module", params=["1.32", "1.20"])
def cache(request, tmp_path_factory):
    """The kubectl the tests run: the machine's (1.32) and Debian's 1.20 (each test runs with both)."""
    binary = KUBECTL if request.param == "1.32" else KUBECTL_120
    assert binary and os.access(binary, os.X_OK), f"kubectl {request.param} must be installed ({binary})"
    return Kubectl(binary, tmp_path_factory.mktemp(f"kubectl-cache-{request.param}"))


def kubectl(kc, cache, *args, check=True, server=0):
    r = subprocess.run(cache.argv(kc, *args, server=server), capture_output=True, text=True, timeout=60)
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.strip().splitlines()]


def test_version_prints_the_server_version(kc, cache):
    out = kubectl(kc, cache, "version").stdout
    assert ('GitVersion:"v1.20.0+raftkube' if cache.old else "Server Version: v1.20.0+raftkube") in out


def test_create_get_and_delete_a_v1_pod(kc, cache, tmp_path):
    f = tmp_path / "pod.yaml"
    f.write_text(POD % ("kpod", "kpod"))
    assert kubectl(kc, cache, "create", "-f", str(f)).stdout.strip() == "pod/kpod created"
    r = kubectl(kc, cache, "create", "-f", str(f), check=False)
    assert r.returncode == 1
    assert f'Error from server (AlreadyExists): error when creating "{f}": pods "kpod" already exists' in r.stderr
    table = rows(kubectl(kc, cache, "get", "pods", "-l", "app=kpod", server=1).stdout)
    assert table[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert table[1][:4] == ["kpod", "0/1", "Pending", "0"] and len(table) == 2
    wide = rows(kubectl(kc, cache, "get", "pods", "-l", "app=kpod", "-o", "wide").stdout)
    assert wide[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    assert wide[1][-2:] == ["<none>", "<none>"]
    doc = yaml.safe_load(kubectl(kc, cache, "get", "pod", "kpod", "-o", "yaml").stdout)
    assert (doc["kind"], doc["apiVersion"], doc["metadata"]["labels"]) == ("Pod", "v1", {"app": "kpod"})
    assert isinstance(doc["metadata"]["resourceVersion"], str)
    assert doc["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    # the same pod through v1beta1, as kubecfg reads it
    beta = requests.get(kc.urls[2] + "/api/v1beta1/pods/kpod").json()
    assert beta["desiredState"]["manifest"]["containers"][0]["image"] == "nginx"
    assert rows(kubectl(kc, cache, "get", "pods", "-l", "app=nothing").stderr) == [
        ["No", "resources", "found", "in", "default", "namespace."]]
    # delete waits (a watch on metadata.name) until the pod is gone
    assert kubectl(kc, cache, "delete", "pod", "kpod", "--timeout=20s").stdout.strip() == 'pod "kpod" deleted'
    r = kubectl(kc, cache, "get", "pod", "kpod", check=False)
    assert r.returncode == 1 and r.stderr.strip() == 'Error from server (NotFound): pods "kpod" not found'
    assert requests.get(kc.urls[0] + "/api/v1beta1/pods/kpod").status_code == 404


def test_get_rc_svc_nodes_and_all(kc, cache, tmp_path):
    f = tmp_path / "rc.yaml"
    f.write_text(RC_SVC)
    assert kubectl(kc, cache, "create", "-f", str(f)).stdout.split() == [
        "replicationcontroller/kweb", "created", "service/kwebsvc", "created"]
    rc = rows(kubectl(kc, cache, "get", "rc", "kweb", "-o", "wide").stdout)
    assert rc[0] == ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert rc[1][:2] == ["kweb", "2"] and rc[1][-3:] == ["web", "nginx", "app=kweb"]
    svc = rows(kubectl(kc, cache, "get", "svc", "kwebsvc", "-o", "wide").stdout)
    assert svc[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    assert svc[1][:2] == ["kwebsvc", "ClusterIP"] and svc[1][4] == "80/TCP" and svc[1][-1] == "app=kweb"
    assert requests.get(kc.urls[1] + "/api/v1beta1/services/kwebsvc").json()["port"] == 80
    everything = kubectl(kc, cache, "get", "all").stdout
    assert "replicationcontroller/kweb" in everything and "service/kwebsvc" in everything
    out = json.loads(kubectl(kc, cache, "get", "rc", "kweb", "-o", "json").stdout)
    assert out["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"
    assert kubectl(kc, cache, "delete", "-f", str(f)).stdout.split() == [
        "replicationcontroller", '"kweb"', "deleted", "service", '"kwebsvc"', "deleted"]


def test_a_minion_registered_through_v1beta1_is_a_node(kc, cache):
    r = requests.post(kc.urls[0] + "/api/v1beta1/minions", json={"id": "kn1", "hostIP": "10.9.0.5"})
    assert r.status_code in (200, 409)  # 409: registered by the run with the other kubectl
    nodes = rows(kubectl(kc, cache, "get", "nodes", "-o", "wide").stdout)
    assert nodes[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"]
    kn1 = next(r for r in nodes if r[0] == "kn1")
    assert kn1[1] == "Unknown" and kn1[-1] == "10.9.0.5"


def test_a_v1beta1_pod_shows_in_kubectl_with_its_labels(kc, cache):
    requests.post(kc.urls[0] + "/api/v1beta1/pods", json=pod_body("bpod", labels={"tier": "beta"})).raise_for_status()
    out = rows(kubectl(kc, cache, "get", "po", "-l", "tier=beta", "--show-labels").stdout)
    assert out[0][-1] == "LABELS" and out[1][0] == "bpod" and out[1][-1] == "tier=beta"
    assert kubectl(kc, cache, "delete", "po", "bpod").returncode == 0


@contextmanager
def streaming(argv: list[str]):
    """A long-running kubectl (``get -w``, ``logs -f``) for the block; yields ``next_line()``, which waits up to
    20 s for its next output line (a deadline, not a sleep: raises queue.Empty if kubectl is silent), and the
    process. Terminated at the end."""
    lines: queue.Queue = queue.Queue()
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True)
        reader.start()
        try:
            yield (lambda: lines.get(timeout=20)), proc
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            reader.join(timeout=10)


def test_get_watch_prints_table_rows_for_an_add_and_a_delete(kc, cache, tmp_path):
    f = tmp_path / "pod.yaml"
    f.write_text(POD % ("wpod", "wpod"))
    with streaming(cache.argv(kc, "get", "pods", "-l", "app=wpod", "-w")) as (next_line, _):
        kubectl(kc, cache, "create", "-f", str(f))
        header, added = next_line().split(), next_line().split()
        kubectl(kc, cache, "delete", "pod", "wpod", "--wait=false")
        deleted = next_line().split()
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert added[:3] == ["wpod", "0/1", "Pending"] and deleted[:3] == ["wpod", "0/1", "Pending"]


def test_get_watch_output_watch_events_sees_an_update_and_a_delete(kc, cache):
    requests.post(kc.urls[0] + "/api/v1beta1/pods", json=pod_body("wev", labels={"w": "ev"})).raise_for_status()
    with streaming(cache.argv(kc, "get", "pods", "-l", "w=ev", "-w", "--output-watch-events", server=1)) as (
            next_line, _):
        header, added = next_line().split(), next_line().split()
        kubectl(kc, cache, "label", "pod", "wev", "seen=yes")
        modified = next_line().split()
        kubectl(kc, cache, "delete", "pod", "wev", "--wait=false", server=2)
        deleted = next_line().split()
    assert header == ["EVENT", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [added[:2], modified[:2], deleted[:2]] == [["ADDED", "wev"], ["MODIFIED", "wev"], ["DELETED", "wev"]]


def test_apply_label_annotate_and_patch(kc, cache, tmp_path):
    f = tmp_path / "pod.yaml"
    f.write_text(POD % ("apod", "apod"))
    assert kubectl(kc, cache, "apply", "-f", str(f)).stdout.strip() == "pod/apod created"
    assert kubectl(kc, cache, "apply", "-f", str(f)).stdout.strip() == "pod/apod unchanged"
    f.write_text(POD % ("apod", "changed"))
    assert kubectl(kc, cache, "apply", "-f", str(f), server=1).stdout.strip() == "pod/apod configured"
    assert kubectl(kc, cache, "label", "pod", "apod", "tier=x").stdout.strip() == "pod/apod labeled"
    assert kubectl(kc, cache, "annotate", "pod", "apod", "note=hi").stdout.strip() == "pod/apod annotated"
    assert kubectl(kc, cache, "patch", "pod", "apod", "--type=merge", "-p",
                   '{"metadata":{"labels":{"tier":null}}}').stdout.strip() == "pod/apod patched"
    got = requests.get(kc.urls[2] + "/api/v1beta1/pods/apod").json()
    assert got["labels"] == {"app": "changed"} and got["annotations"]["note"] == "hi"
    kubectl(kc, cache, "delete", "pod", "apod")


def test_scale_rc_through_the_scale_subresource(kc, cache, tmp_path):
    f = tmp_path / "rc.yaml"
    f.write_text(RC_SVC.replace("kweb", "sweb").split("---")[0])
    kubectl(kc, cache, "create", "-f", str(f))
    assert kubectl(kc, cache, "scale", "rc", "sweb", "--replicas=3").stdout.strip() == \
        "replicationcontroller/sweb scaled"
    assert requests.get(kc.urls[1] + "/api/v1beta1/replicationControllers/sweb").json()[
        "desiredState"]["replicas"] == 3
    # --current-replicas goes GET + PUT of the Scale (found through discovery)
    assert kubectl(kc, cache, "scale", "rc", "sweb", "--current-replicas=3", "--replicas=1").returncode == 0
    r = kubectl(kc, cache, "scale", "rc", "sweb", "--current-replicas=3", "--replicas=2", check=False)
    assert r.returncode == 1 and r.stderr.strip() == "error: Expected replicas to be 3, was 1"
    scale = requests.get(kc.urls[0] + "/api/v1/namespaces/default/replicationcontrollers/sweb/scale").json()
    assert (scale["kind"], scale["apiVersion"], scale["spec"]) == ("Scale", "autoscaling/v1", {"replicas": 1})
    assert scale["status"]["selector"] == "app=sweb"
    kubectl(kc, cache, "delete", "rc", "sweb")


def test_describe_run_cluster_info_jsonpath_and_sort_by(kc, cache):
    assert kubectl(kc, cache, "run", "rpod", "--image=nginx", "--labels=app=rpod").stdout.strip() == \
        "pod/rpod created"
    out = kubectl(kc, cache, "describe", "pod", "rpod").stdout
    assert [line.split(None, 1) for line in out.splitlines()[:2]] == [["Name:", "rpod"], ["Namespace:", "default"]]
    assert "Image:        nginx" in out and "Labels:       app=rpod" in out
    info = re.sub(r"\x1b\[[0-9;]*m", "", kubectl(kc, cache, "cluster-info").stdout)  # 1.20 colours it
    assert info.startswith(f"Kubernetes control plane is running at {kc.urls[0]}")
    assert kubectl(kc, cache, "get", "pods", "-l", "app=rpod", "-o",
                   "jsonpath={.items[*].spec.containers[0].image}").stdout == "nginx"
    assert rows(kubectl(kc, cache, "get", "pods", "-l", "app=rpod", "--sort-by=.metadata.name").stdout)[1][0] == "rpod"
    # a field outside metadata: the Table rows carry the whole objects (includeObject=Object)
    kubectl(kc, cache, "run", "rpod2", "--image=busybox", "--labels=app=rpod")
    by_image = rows(kubectl(kc, cache, "get", "pods", "-l", "app=rpod", "--sort-by=.spec.containers[0].image").stdout)
    assert [r[0] for r in by_image[1:]] == ["rpod2", "rpod"]
    by_name = rows(kubectl(kc, cache, "get", "pods", "-l", "app=rpod", "--sort-by=.metadata.name").stdout)
    assert [r[0] for r in by_name[1:]] == ["rpod", "rpod2"]
    kubectl(kc, cache, "delete", "pod", "rpod", "rpod2")


def test_get_raw_metrics_is_the_prometheus_exposition(kc, cache):
    from prometheus_client.parser import text_string_to_metric_families
    before = kubectl(kc, cache, "get", "--raw", "/metrics", server=1).stdout
    kubectl(kc, cache, "get", "pods", server=1)
    after = kubectl(kc, cache, "get", "--raw", "/metrics", server=1).stdout

    def lists(text):
        return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
                   if s.name == "raftkube_api_requests_total" and s.labels["verb"] == "LIST"
                   and s.labels["resource"] == "pods" and s.labels["version"] == "v1")
    assert lists(after) == lists(before) + 1
    roles = {s.labels["role"]: s.value for f in text_string_to_metric_families(after) for s in f.samples
             if s.name == "raftkube_raft_role"}
    assert sorted(roles.values()) == [0.0, 0.0, 1.0]


def test_set_based_label_selectors(kc, cache):
    for name, app in (("sel-a", "sa"), ("sel-b", "sb"), ("sel-c", "sc")):
        requests.post(kc.urls[0] + "/api/v1beta1/pods", json=pod_body(name, labels={"sel": app})).raise_for_status()
    try:
        def names(selector):
            return sorted(r[0] for r in rows(kubectl(kc, cache, "get", "pods", "-l", selector, "-o", "name").stdout))
        assert names("sel in (sa,sb)") == ["pod/sel-a", "pod/sel-b"]
        assert names("sel notin (sa,sb),sel") == ["pod/sel-c"]
        assert names("sel in (sa,sb,sc),!tier") == ["pod/sel-a", "pod/sel-b", "pod/sel-c"]
        r = kubectl(kc, cache, "get", "pods", "-l", "sel in (sa", check=False)
        assert r.returncode == 1 and "unable to parse requirement" in r.stderr and "BadRequest" in r.stderr
        r = requests.get(kc.urls[1] + "/api/v1/namespaces/default/pods", params={"labelSelector": "sel in ()"})
        assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    finally:
        for name in ("sel-a", "sel-b", "sel-c"):
            requests.delete(kc.urls[0] + f"/api/v1beta1/pods/{name}")


def test_rc_pods_have_owner_references_and_describe_rc_svc_node_print(kc, cache, tmp_path):
    f = tmp_path / "rc.yaml"
    d = "dold" if cache.old else "dweb"  # the other kubectl's run: its pods may still be going
    node_name = f"{d}-n1"
    f.write_text(RC_SVC.replace("kweb", d))
    kubectl(kc, cache, "create", "-f", str(f))
    try:
        rc_uid = json.loads(kubectl(kc, cache, "get", "rc", d, "-o", "json").stdout)["metadata"]["uid"]

        def owned() -> list[dict]:  # (an RC deleted earlier leaves its pods: they are not this RC's)
            pods = json.loads(kubectl(kc, cache, "get", "pods", "-l", f"app={d}", "-o", "json").stdout)["items"]
            pods = [p for p in pods if (p["metadata"].get("ownerReferences") or [{}])[0].get("uid") == rc_uid]
            return pods if len(pods) == 2 else []
        pods = poll_until(owned, timeout_s=30, interval_s=0.5, what="the RC's two pods")
        for p in pods:
            assert p["metadata"]["name"].startswith(f"{d}-") and p["metadata"]["generateName"] == f"{d}-"
            assert p["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "ReplicationController",
                                                         "name": d, "uid": rc_uid, "controller": True,
                                                         "blockOwnerDeletion": True}]
        rc = kubectl(kc, cache, "describe", "rc", d).stdout
        assert f"Name:         {d}" in rc and "Replicas:     2 current / 2 desired" in rc
        assert "Pods Status:  0 Running / 2 Waiting / 0 Succeeded / 0 Failed" in rc
        pod = kubectl(kc, cache, "describe", "pod", pods[0]["metadata"]["name"]).stdout
        assert f"Controlled By:  ReplicationController/{d}" in pod
        svc = kubectl(kc, cache, "describe", "svc", f"{d}svc").stdout
        assert f"Selector:          app={d}" in svc and "TargetPort:        8080/TCP" in svc
        minion = {"id": node_name, "hostIP": "10.9.0.6"}
        requests.post(kc.urls[0] + "/api/v1beta1/minions", json=minion).raise_for_status()
        node = kubectl(kc, cache, "describe", "node", node_name)
        assert node.stderr == "" and f"Name:               {node_name}" in node.stdout
        assert "InternalIP:  10.9.0.6" in node.stdout
    finally:
        kubectl(kc, cache, "delete", "-f", str(f))


def test_patch_type_json(kc, cache, tmp_path):
    f = tmp_path / "pod.yaml"
    f.write_text(POD % ("jpod", "jpod"))
    kubectl(kc, cache, "create", "-f", str(f))
    try:
        ops = [{"op": "test", "path": "/metadata/labels/app", "value": "jpod"},
               {"op": "add", "path": "/metadata/labels/tier", "value": "front"},
               {"op": "replace", "path": "/spec/containers/0/image", "value": "redis"}]
        assert kubectl(kc, cache, "patch", "pod", "jpod", "--type=json", "-p", json.dumps(ops)).stdout.strip() == \
            "pod/jpod patched"
        got = requests.get(kc.urls[1] + "/api/v1beta1/pods/jpod").json()
        assert got["labels"] == {"app": "jpod", "tier": "front"}
        assert got["desiredState"]["manifest"]["containers"][0]["image"] == "redis"
        r = kubectl(kc, cache, "patch", "pod", "jpod", "--type=json", "-p",
                    '[{"op":"test","path":"/metadata/labels/app","value":"other"},'
                    '{"op":"remove","path":"/metadata/labels/tier"}]', check=False)
        assert r.returncode == 1 and "The request is invalid" in r.stderr
        assert cache.old or 'operation 0: test failed: the value at /metadata/labels/app is not "other"' in r.stderr, \
            r.stderr
        assert requests.get(kc.urls[0] + "/api/v1beta1/pods/jpod").json()["labels"]["tier"] == "front"
    finally:
        kubectl(kc, cache, "delete", "pod", "jpod", "--wait=false")


def test_binding_through_v1(kc, cache, tmp_path):
    requests.post(kc.urls[0] + "/api/v1beta1/pods", json=pod_body("kbind")).raise_for_status()
    try:
        f = tmp_path / "binding.json"
        f.write_text(json.dumps({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "kbind"},
                                 "target": {"kind": "Node", "name": "kn9"}}))
        out = kubectl(kc, cache, "create", "--raw", "/api/v1/namespaces/default/pods/kbind/binding", "-f", str(f))
        assert json.loads(out.stdout)["status"] == "Success"
        assert rows(kubectl(kc, cache, "get", "pod", "kbind", "-o", "wide").stdout)[1][-1] == "kn9"
        r = kubectl(kc, cache, "create", "--raw", "/api/v1/namespaces/default/bindings", "-f", str(f), check=False)
        assert r.returncode == 1 and ("Conflict" in r.stderr or "already" in r.stderr), r.stderr
    finally:
        requests.delete(kc.urls[0] + "/api/v1beta1/pods/kbind")


LOG_POD = """apiVersion: v1
kind: Pod
metadata: {name: lpod}
spec:
  nodeSelector: {logs: hollow}
  containers: [{name: web, image: nginx}, {name: side, image: busybox}]
"""


def test_logs_are_proxied_from_the_pods_kubelet(kc, cache, tmp_path):
    """A hollow minion (its kubelet port on 127.0.0.1) runs the pod; kubectl logs reads through the master."""
    f = tmp_path / "pod.yaml"
    f.write_text(LOG_POD)
    with hollow_minion(kc.urls, "klogs", {"logs": "hollow"}) as runtime:
        try:
            kubectl(kc, cache, "create", "-f", str(f))
            _check_logs(kc, cache, runtime)
        finally:
            kubectl(kc, cache, "delete", "pod", "lpod", "--wait=false", check=False)


def _check_logs(kc, cache, runtime):
    def container(name):
        return running_container(runtime, "lpod", name)

    web = poll_until(lambda: container("web"), timeout_s=30, interval_s=0.2, what="lpod's web container")
    # a minion that sends heartbeats is Ready (its Ready condition), and the pod shows where it runs
    assert rows(kubectl(kc, cache, "get", "node", "klogs").stdout)[1][:2] == ["klogs", "Ready"]
    assert rows(kubectl(kc, cache, "get", "pod", "lpod", "-o", "wide").stdout)[1][-1] == "klogs"
    runtime.write_log(web.id, b"two\nthree\n")
    assert kubectl(kc, cache, "logs", "lpod", "-c", "web", server=1).stdout == (
        "nginx started in hollow container web\ntwo\nthree\n")
    assert kubectl(kc, cache, "logs", "lpod", "-c", "web", "--tail=2").stdout == "two\nthree\n"
    side = poll_until(lambda: container("side"), timeout_s=30, interval_s=0.2, what="lpod's side container")
    assert kubectl(kc, cache, "logs", "lpod", "-c", "side").stdout == "busybox started in hollow container side\n"
    r = kubectl(kc, cache, "logs", "lpod", "-c", "nope", check=False)
    assert r.returncode == 1 and "container nope is not valid for pod lpod" in r.stderr, r.stderr
    # -f: what is written later arrives; the stream ends when the container stops
    with streaming(cache.argv(kc, "logs", "-f", "lpod", "-c", "web", "--tail=1", server=2)) as (next_line, follow):
        assert next_line() == "three\n"
        runtime.write_log(web.id, b"four\n")
        assert next_line() == "four\n"
        runtime.kill(web.id, exit_code=0)
        assert follow.wait(timeout=20) == 0


def test_namespaces_are_objects(kc, cache, tmp_path):
    assert kubectl(kc, cache, "create", "namespace", "kns").stdout.strip() == "namespace/kns created"
    got = rows(kubectl(kc, cache, "get", "ns", server=1).stdout)
    assert got[0] == ["NAME", "STATUS", "AGE"]
    assert {r[0]: r[1] for r in got[1:]} == {"default": "Active", "kns": "Active"}
    f = tmp_path / "rc.yaml"
    f.write_text(RC_SVC.replace("kweb", "nsweb"))
    kubectl(kc, cache, "create", "-n", "kns", "-f", str(f))
    assert kubectl(kc, cache, "run", "nspod", "-n", "kns", "--image=nginx").returncode == 0
    assert len(rows(kubectl(kc, cache, "get", "pods", "-n", "kns", "-o", "name").stdout)) == 3
    r = kubectl(kc, cache, "run", "nspod", "-n", "nowhere", "--image=nginx", check=False)
    assert r.returncode == 1 and r.stderr.strip() == 'Error from server (NotFound): namespaces "nowhere" not found'
    # delete waits until the namespace controller has emptied and removed it
    assert kubectl(kc, cache, "delete", "namespace", "kns", "--timeout=60s").stdout.strip() == \
        'namespace "kns" deleted'
    for kind in ("pods", "rc", "svc"):
        assert kubectl(kc, cache, "get", kind, "-n", "kns", "-o", "name").stdout == ""
    r = kubectl(kc, cache, "get", "ns", "kns", check=False)
    assert r.returncode == 1 and 'namespaces "kns" not found' in r.stderr
    assert requests.get(kc.urls[2] + "/api/v1beta1/pods", params={"namespace": "kns"}).json()["items"] == []
    r = kubectl(kc, cache, "delete", "namespace", "default", check=False)
    assert r.returncode == 1 and "this namespace may not be deleted" in r.stderr


def test_expose_rc(kc, cache, tmp_path):
    name = "eold" if cache.old else "eweb"
    f = tmp_path / "rc.yaml"
    f.write_text(RC_SVC.replace("kweb", name).split("---")[0])
    kubectl(kc, cache, "create", "-f", str(f))
    try:
        assert kubectl(kc, cache, "expose", "rc", name, "--port=80", "--target-port=8080").stdout.strip() == \
            f"service/{name} exposed"
        svc = rows(kubectl(kc, cache, "get", "svc", name, "-o", "wide").stdout)
        assert svc[1][0] == name and svc[1][4] == "80/TCP" and svc[1][-1] == f"app={name}"
        beta = requests.get(kc.urls[1] + f"/api/v1beta1/services/{name}").json()
        assert (beta["port"], beta["selector"]) == (80, {"app": name})
        assert json.loads(kubectl(kc, cache, "get", "svc", name, "-o", "json").stdout)["spec"]["ports"][0][
            "targetPort"] == 8080
    finally:
        kubectl(kc, cache, "delete", "svc", name, check=False)
        kubectl(kc, cache, "delete", "rc", name)


def test_delete_rc_deletes_its_pods_unless_orphan(kc, cache, tmp_path):
    d = "cold" if cache.old else "cnew"
    f = tmp_path / "rc.yaml"
    f.write_text(RC_SVC.replace("kweb", d).split("---")[0])

    def pods() -> dict:  # name -> the uid its first owner reference names
        items = json.loads(kubectl(kc, cache, "get", "pods", "-l", f"app={d}", "-o", "json").stdout)["items"]
        return {p["metadata"]["name"]: (p["metadata"].get("ownerReferences") or [{}])[0].get("uid") for p in items}

    def rc_uid() -> str:
        return json.loads(kubectl(kc, cache, "get", "rc", d, "-o", "json").stdout)["metadata"]["uid"]

    kubectl(kc, cache, "create", "-f", str(f))
    first = rc_uid()
    owned = poll_until(lambda: (p := pods()) and list(p.values()) == [first, first] and p, timeout_s=30,
                       interval_s=0.5, what="the RC's two pods")
    assert kubectl(kc, cache, "delete", "rc", d, "--cascade=orphan").stdout.strip() == \
        f'replicationcontroller "{d}" deleted'
    assert pods() == {name: None for name in owned}  # kept, without their owner reference
    kubectl(kc, cache, "create", "-f", str(f))  # the same selector: adopts them, creates none
    second = rc_uid()
    poll_until(lambda: pods() == {name: second for name in owned}, timeout_s=30, interval_s=0.5,
               what="the orphans adopted")
    assert kubectl(kc, cache, "delete", "rc", d).stdout.strip() == f'replicationcontroller "{d}" deleted'
    poll_until(lambda: pods() == {}, timeout_s=30, interval_s=0.5, what="the RC's pods deleted with it")
    out = kubectl(kc, cache, "get", "pods", "-l", f"app={d}").stderr
    assert out.strip() == "No resources found in default namespace."


def test_delete_rc_cascade_foreground_returns_once_its_pods_and_it_are_gone(kc, cache, tmp_path):
    d = "fgold" if cache.old else "fgnew"
    f = tmp_path / "rc.yaml"
    f.write_text(RC_SVC.replace("kweb", d).split("---")[0])
    kubectl(kc, cache, "create", "-f", str(f))

    def pods() -> list[str]:
        return [p["metadata"]["name"] for p in json.loads(kubectl(kc, cache, "get", "pods", "-l", f"app={d}", "-o",
                                                                  "json").stdout)["items"]]
    poll_until(lambda: len(pods()) == 2, timeout_s=30, interval_s=0.5, what="the RC's two pods")
    rc = json.loads(kubectl(kc, cache, "get", "rc", d, "-o", "json").stdout)
    assert rc["status"]["replicas"] == 2  # kubectl's CURRENT
    out = kubectl(kc, cache, "delete", "rc", d, "--cascade=foreground", "--wait=true")
    assert out.stdout.strip() == f'replicationcontroller "{d}" deleted'
    # --wait returned: the RC is gone, and (foreground) its pods went before it: no poll here
    assert pods() == []
    r = kubectl(kc, cache, "get", "rc", d, check=False)
    assert r.returncode == 1 and "NotFound" in r.stderr

    def deletions(resource: str) -> list[tuple[int, str]]:  # the store's history since the RC was created
        url = (f"{kc.urls[1]}/api/v1/namespaces/default/{resource}?watch=true&timeoutSeconds=1"
               f"&resourceVersion={rc['metadata']['resourceVersion']}")
        events = [json.loads(line) for line in requests.get(url, timeout=30).text.splitlines() if line.strip()]
        return [(int(e["object"]["metadata"]["resourceVersion"]), e["object"]["metadata"]["name"]) for e in events
                if e["type"] == "DELETED"]
    pods_gone = deletions("pods")
    [rc_gone] = [rv for rv, n in deletions("replicationcontrollers") if n == d]
    assert len([n for _rv, n in pods_gone if n.startswith(d)]) == 2
    assert all(rv < rc_gone for rv, n in pods_gone if n.startswith(d)), (pods_gone, rc_gone)


def test_get_rc_shows_current_and_ready_pods(kc, cache, tmp_path):
    """CURRENT is status.replicas, READY status.readyReplicas: the RC's pods running on a hollow minion."""
    d = "rdyold" if cache.old else "rdynew"
    f = tmp_path / "rc.yaml"
    f.write_text(RC_SVC.replace("kweb", d).split("---")[0].replace(
        "spec: {containers:", f"spec: {{nodeSelector: {{ready: {d}}}, containers:"))
    with hollow_minion(kc.urls, f"m{d}", {"ready": d}):
        try:
            kubectl(kc, cache, "create", "-f", str(f))
            row = poll_until(lambda: (r := rows(kubectl(kc, cache, "get", "rc", d).stdout)[1])[1:4] == ["2", "2", "2"]
                             and r, timeout_s=60, interval_s=0.5, what="two ready pods")
            assert row[0] == d
            status = json.loads(kubectl(kc, cache, "get", "rc", d, "-o", "json").stdout)["status"]
            assert status["replicas"] == 2 and status["readyReplicas"] == 2
        finally:
            kubectl(kc, cache, "delete", "rc", d, "--wait=false", check=False)
