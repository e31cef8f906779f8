"""Issue 18 with real masters: ports, TLS, authentication, authorization and admission."""

from __future__ import annotations

import subprocess

from raftkube.testing.processes import CLI, free_ports


def test_non_loopback_master_without_tls_refuses_to_start(tmp_path):
    api, raft = free_ports(2)
    (tmp_path / "cluster.toml").write_text(
        '[cluster]\ndata_dir = "data"\n\n[[masters]]\nname = "m1"\nhost = "192.0.2.10"\n'
        f"api_port = {api}\nraft_port = {raft}\n")
    proc = subprocess.run([*CLI, "master", "m1", "--config", "cluster.toml"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 1
    assert "'192.0.2.10' is not a loopback address and masters[0].secure_port is not set" in proc.stderr
    assert not (tmp_path / "data").exists()  # refused before touching anything


# ---- one secure master for the module --------------------------------------------------------------------------

import pytest
import requests

from raftkube.apis import v1beta1
from raftkube.pki import Pki
from raftkube.testing.cluster import MasterCluster


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    work = tmp_path_factory.mktemp("secure")
    cluster = MasterCluster(work, n=1, secure=True)
    subprocess.run([*CLI, "init", "--config", cluster.config, "--minion", "n1", "--minion", "n2"], cwd=work,
                   check=True, capture_output=True, timeout=60)
    try:
        cluster.start_all()
        yield cluster, Pki(work / "data" / "pki"), f"https://127.0.0.1:{cluster.secure_ports['m1']}"
    finally:
        try:
            cluster.close()
        finally:
            print(cluster.logs())


def _get(url, pki, **kw):
    return requests.get(url, verify=str(pki.ca_cert), timeout=10, **kw)


def _bearer(pki, user):
    return {"Authorization": f"Bearer {pki.token_of(user)}"}


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1"},
       "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def test_secure_port_without_credential_is_401(secure):
    _, pki, url = secure
    r = _get(url + "/api/v1/namespaces/default/pods", pki)
    assert r.status_code == 401, r.text
    body = r.json()
    assert body["kind"] == "Status" and body["code"] == 401 and body["reason"] == "Unauthorized"
    assert _get(url + "/healthz", pki).status_code == 200  # open


def test_viewer_reads_but_cannot_write(secure):
    _, pki, url = secure
    assert _get(url + "/api/v1/namespaces/default/pods", pki, headers=_bearer(pki, "viewer")).status_code == 200
    r = requests.post(url + "/api/v1/namespaces/default/pods", json=POD, headers=_bearer(pki, "viewer"),
                      verify=str(pki.ca_cert), timeout=10)
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["kind"] == "Status" and body["reason"] == "Forbidden"
    assert 'User "viewer" cannot create resource "pods" in the namespace "default"' in body["message"]


def test_a_wrong_token_is_401(secure):
    _, pki, url = secure
    r = _get(url + "/api/v1/pods", pki, headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and r.json()["kind"] == "Status"


def test_admin_token_and_admin_certificate_work(secure):
    _, pki, url = secure
    pods = url + "/api/v1/namespaces/default/pods"
    r = requests.post(pods, json=POD, headers=_bearer(pki, "admin"), verify=str(pki.ca_cert), timeout=10)
    assert r.status_code == 201, r.text
    r = _get(pods + "/p1", pki, cert=tuple(str(p) for p in pki.admin))
    assert r.status_code == 200 and r.json()["metadata"]["name"] == "p1"
    r = requests.delete(pods + "/p1", cert=tuple(str(p) for p in pki.admin), verify=str(pki.ca_cert), timeout=10)
    assert r.status_code == 200, r.text


def test_curl_verifies_the_server_against_the_ca(secure):
    _, pki, url = secure
    out = subprocess.run(["curl", "-sS", "--cacert", str(pki.ca_cert), "-H", f"Authorization: Bearer "
                          f"{pki.token_of('admin')}", url + "/api/v1/services"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert '"ServiceList"' in out.stdout
    # and the verification is real: without the cluster CA (the system's CAs only) the server is refused
    out = subprocess.run(["curl", "-sS", url + "/healthz"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 60, (out.returncode, out.stderr)


def test_plain_port_on_loopback_needs_no_credential(secure):
    cluster, _, _ = secure
    r = requests.get(cluster.url("m1") + "/api/v1/namespaces/default/pods", timeout=10)
    assert r.status_code == 200, r.text


# ---- clients over https: kubecfg, stock kubectl and the Python client with the generated kubeconfig ------------

import os
import shutil

import kubernetes
import yaml

from raftkube.config import load
from raftkube.kubeconfig import cluster_kubeconfig, write_kubeconfig


@pytest.fixture(scope="module")
def kubeconfig_file(secure):
    cluster, _, _ = secure
    return write_kubeconfig(cluster.workdir / "data" / "kubeconfig", cluster_kubeconfig(load(cluster.config)))


def test_the_kubeconfig_names_the_secure_port_ca_and_admin(secure, kubeconfig_file):
    _, pki, url = secure
    doc = yaml.safe_load(kubeconfig_file.read_text())
    assert doc["clusters"][0]["cluster"] == {"server": url, "certificate-authority": str(pki.ca_cert.resolve())}
    assert doc["users"][0]["user"]["client-certificate"] == str(pki.admin[0].resolve())
    assert kubeconfig_file.stat().st_mode & 0o777 == 0o600


def test_kubectl_over_https_with_the_generated_kubeconfig(secure, kubeconfig_file, tmp_path):
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl must be installed on this machine"
    base = [kubectl, "--kubeconfig", str(kubeconfig_file), "--cache-dir", str(tmp_path)]
    f = tmp_path / "pod.yaml"
    f.write_text(yaml.safe_dump({**POD, "metadata": {"name": "kpod"}}))
    r = subprocess.run([*base, "create", "-f", str(f)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "pod/kpod created", (r.stdout, r.stderr)
    r = subprocess.run([*base, "get", "pod", "kpod", "-o", "name"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "pod/kpod", r.stderr
    # the same kubectl with a viewer token instead of the admin certificate: reads yes, delete is refused
    viewer = [*base, "--token", secure[1].token_of("viewer"), "--client-certificate=", "--client-key="]
    r = subprocess.run([*viewer, "delete", "pod", "kpod"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and 'User "viewer" cannot delete resource "pods"' in r.stderr, r.stderr
    r = subprocess.run([*base, "delete", "pod", "kpod", "--timeout=20s"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_python_client_over_https_with_the_generated_kubeconfig(secure, kubeconfig_file):
    api_client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig_file))
    try:
        v1 = kubernetes.client.CoreV1Api(api_client)
        made = v1.create_namespaced_pod("default", {**POD, "metadata": {"name": "pypod"}})
        assert made.metadata.name == "pypod"
        assert "pypod" in [p.metadata.name for p in v1.list_namespaced_pod("default").items]
        v1.delete_namespaced_pod("pypod", "default")
    finally:
        api_client.close()


def test_kubecfg_over_https_takes_ca_and_admin_token_from_cluster_toml(secure):
    cluster, pki, url = secure
    # $REQUESTS_CA_BUNDLE (set on many machines) must not replace the cluster CA (it did: requests issue 3829)
    env = dict(os.environ, REQUESTS_CA_BUNDLE=requests.certs.where())
    run = lambda *a: subprocess.run([*CLI, *a], cwd=cluster.workdir, capture_output=True, text=True, timeout=60,
                                    env=env)
    r = run("-h", url, "list", "pods")
    assert r.returncode == 0, r.stderr
    r = run("-h", url, "--token", pki.token_of("viewer"), "delete", "pods/nothing")
    assert r.returncode == 1 and 'User "viewer" cannot delete resource "pods"' in r.stderr, r.stderr
    r = run("status", "-h", url)
    assert r.returncode == 0 and "m1" in r.stdout, (r.stdout, r.stderr)


# ---- the node role: a minion's credential ------------------------------------------------------------------------

def _as(pki, who):
    """requests keyword arguments for ``who``: "admin" or a minion name (its client certificate)."""
    cert = pki.admin if who == "admin" else pki.minion(who)
    return {"cert": tuple(str(p) for p in cert), "verify": str(pki.ca_cert), "timeout": 10}


def _node(name, host_ip="127.0.0.1"):
    """A Node as a minion sends it (v1beta1 ``minions``, raftkube/minion/agent.py)."""
    return v1beta1.to_wire({"kind": "Node", "metadata": {"name": name}, "spec": {}, "status": {"hostIP": host_ip}})


def test_a_node_credential_writes_only_its_own_node_and_the_status_of_its_pods(secure):
    _, pki, url = secure
    v1, minions = url + "/api/v1", url + "/api/v1beta1/minions"
    assert requests.post(minions, json=_node("n1"), **_as(pki, "n1")).status_code < 300
    r = requests.post(minions, json=_node("n2"), **_as(pki, "n1"))
    assert r.status_code == 403 and 'User "node:n1" cannot create resource "nodes" named "n2"' in r.json()["message"]
    assert requests.post(minions, json=_node("n2"), **_as(pki, "admin")).status_code < 300
    # its own heartbeat yes, another minion's status no
    r = requests.put(minions + "/n1/status", json=_node("n1", "127.0.0.2"), **_as(pki, "n1"))
    assert r.status_code == 200, r.text
    r = requests.put(minions + "/n2/status", json=_node("n2", "127.0.0.66"), **_as(pki, "n1"))
    assert r.status_code == 403, r.text
    assert r.json()["message"] == 'User "node:n1" cannot update resource "minions/status"'
    assert requests.get(minions + "/n2", **_as(pki, "admin")).json()["hostIP"] == "127.0.0.1"  # unchanged
    # reads: what a kubelet and its proxy need (pods, services, endpoints, its own Node), nothing else
    assert requests.get(minions + "/n1", **_as(pki, "n1")).status_code == 200
    for path in ("/api/v1beta1/pods?fields=DesiredState.Host%3Dn1", "/api/v1/services", "/api/v1/endpoints",
                 "/api/v1/watch/pods?fieldSelector=spec.nodeName%3Dn1", "/api/v1/pods?fieldSelector=spec.nodeName=n1"):
        r = requests.get(url + path, **_as(pki, "n1"), stream=True)
        assert r.status_code == 200, (path, r.text)
        r.close()
    # of the pods only its own: a list or watch must select them by node
    for path in ("/api/v1beta1/pods", "/api/v1/watch/pods", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn2",
                 "/api/v1/namespaces/default/pods?fieldSelector=spec.nodeName!%3Dn1"):
        r = requests.get(url + path, **_as(pki, "n1"))
        assert r.status_code == 403 and r.json()["reason"] == "Forbidden", (path, r.text)
        assert "without the field selector spec.nodeName=n1" in r.json()["message"], r.text
    for path in ("/api/v1beta1/minions/n2", "/api/v1/nodes", "/api/v1/replicationcontrollers", "/api/v1/events"):
        r = requests.get(url + path, **_as(pki, "n1"))
        assert r.status_code == 403 and r.json()["message"].startswith('User "node:n1" cannot '), (path, r.text)
    assert requests.put(minions + "/n2", json=_node("n2", "127.0.0.66"), **_as(pki, "n1")).status_code == 403
    assert requests.delete(v1 + "/nodes/n2", **_as(pki, "n1")).status_code == 403

    # pods: bound (by the admin) to n1 and to n2; n1 writes the status of its own only, and no pod spec
    pods = v1 + "/namespaces/default/pods"
    for name, node in (("on-n1", "n1"), ("on-n2", "n2")):
        assert requests.post(pods, json={**POD, "metadata": {"name": name}}, **_as(pki, "admin")).status_code == 201
        r = requests.post(url + "/api/v1beta1/bindings", json={"kind": "Binding", "podID": name, "host": node},
                          **_as(pki, "admin"))
        assert r.status_code < 300, r.text
    old = url + "/api/v1beta1/pods"  # the kubelet writes pod status through v1beta1 (minion/status_pusher.py)
    mine = requests.get(old + "/on-n1", **_as(pki, "n1")).json()
    mine["currentState"]["status"] = "Running"
    r = requests.put(old + "/on-n1/status", json=mine, **_as(pki, "n1"))
    assert r.status_code == 200 and r.json()["currentState"]["status"] == "Running", r.text
    r = requests.get(old + "/on-n2", **_as(pki, "n1"))  # another minion's pod: not even a GET
    assert r.status_code == 403 and 'pod "on-n2" is bound to \'n2\', not to "n1"' in r.json()["message"], r.text
    r = requests.get(pods + "/on-n2", **_as(pki, "n1"))
    assert r.status_code == 403, r.text
    listed = requests.get(pods + "?fieldSelector=spec.nodeName%3Dn1", **_as(pki, "n1")).json()["items"]
    assert [p["metadata"]["name"] for p in listed] == ["on-n1"]
    theirs = requests.get(old + "/on-n2", **_as(pki, "admin")).json()
    theirs["currentState"]["status"] = "Failed"
    r = requests.put(old + "/on-n2/status", json=theirs, **_as(pki, "n1"))
    assert r.status_code == 403 and 'bound to \'n2\', not to "n1"' in r.json()["message"], r.text
    mine = requests.get(pods + "/on-n1", **_as(pki, "n1")).json()
    mine["spec"]["containers"][0]["image"] = "evil"
    r = requests.put(pods + "/on-n1", json=mine, **_as(pki, "n1"))
    assert r.status_code == 403 and r.json()["message"] == \
        'User "node:n1" cannot update resource "pods" in the namespace "default"'
    r = requests.post(url + "/api/v1beta1/bindings", json={"kind": "Binding", "podID": "on-n2", "host": "n1"},
                      **_as(pki, "n1"))
    assert r.status_code == 403, r.text
    got = requests.get(pods + "/on-n2", **_as(pki, "admin")).json()
    assert got["status"]["phase"] != "Failed" and got["spec"]["nodeName"] == "n2"
    # events: yes (the kubelet and the proxy write them), with the node's token as well as its certificate
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"}, "reason": "Started",
             "message": "x", "involvedObject": {"kind": "Pod", "name": "on-n1", "namespace": "default"}}
    r = requests.post(v1 + "/namespaces/default/events", json=event, headers=_bearer(pki, "node:n1"),
                      verify=str(pki.ca_cert), timeout=10)
    assert r.status_code == 201, r.text


# ---- admission: privileged containers, hostDir volumes, a pod's host ------------------------------------------

def test_admission_with_real_masters(secure):
    _, pki, url = secure
    admin = _as(pki, "admin")
    pods, old = url + "/api/v1/namespaces/default/pods", url + "/api/v1beta1/pods"
    privileged = {**POD, "metadata": {"name": "root"},
                  "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]}}
    r = requests.post(pods, json=privileged, **admin)
    assert r.status_code == 403 and r.json()["kind"] == "Status", r.text
    assert r.json()["message"] == ('pods "root" is forbidden: container "c" is privileged: privileged containers are '
                                   'not allowed in this cluster ([admission] allow_privileged = false)')
    wire = {"id": "root", "desiredState": {"manifest": {"version": "v1beta1", "containers": [
        {"name": "c", "image": "busybox", "privileged": True}]}}}
    r = requests.post(old, json=wire, **admin)
    assert r.status_code == 403 and r.json()["message"].startswith('pod "root" is forbidden: container "c"'), r.text
    # hostDir: the admin's by default; a node credential may create no pod at all
    host_dir = {**POD, "metadata": {"name": "hd"}, "spec": {
        "volumes": [{"name": "etc", "hostPath": {"path": "/etc"}}],
        "containers": [{"name": "c", "image": "busybox", "volumeMounts": [{"name": "etc", "mountPath": "/h"}]}]}}
    assert requests.post(pods, json=host_dir, **_as(pki, "n1")).status_code == 403
    assert requests.post(pods, json=host_dir, **admin).status_code == 201
    # the host: only a binding sets it
    r = requests.post(pods, json={**POD, "metadata": {"name": "placed"}, "spec": {**POD["spec"], "nodeName": "n1"}},
                      **admin)
    assert r.status_code == 403 and "set only by a binding" in r.json()["message"], r.text
    got = requests.get(pods + "/hd", **admin).json()
    got["spec"]["nodeName"] = "n2"
    r = requests.put(pods + "/hd", json=got, **admin)
    assert r.status_code == 403 and 'not by an update (to "n2")' in r.json()["message"], r.text
    assert requests.get(pods + "/hd", **admin).json()["spec"].get("nodeName", "") == ""
    assert requests.get(pods + "/root", **admin).status_code == 404
    assert requests.delete(pods + "/hd", **admin).status_code == 200


# ---- the kubelet port: https with the minion's certificate; pods and logs for masters and admins --------------

import re
import signal

from raftkube.testing import poll_until, start_cli, stop_process


def test_kubelet_port_serves_https_and_wants_a_master_or_admin_certificate(secure):
    cluster, pki, url = secure
    port = free_ports(1)[0]
    cert, key = pki.minion("n2")
    proc = start_cli(["minion", "--runtime", "hollow", "--name", "n2", "--address", "127.0.0.1", "--port", str(port),
                      "--heartbeat", "1", "--masters", url, "--certificate-authority", str(pki.ca_cert),
                      "--client-certificate", str(cert), "--client-key", str(key)],
                     cluster.workdir / "minion-n2.log", cwd=cluster.workdir)
    kubelet = f"https://127.0.0.1:{port}"
    ca = {"verify": str(pki.ca_cert), "timeout": 10}
    try:
        assert poll_until(lambda: _try(lambda: requests.get(kubelet + "/healthz", **ca).text == "ok"), 30,
                          what="the kubelet port over https")
        with pytest.raises(requests.exceptions.ConnectionError):  # https only
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert requests.get(kubelet + "/metrics", **ca).status_code == 200  # open: counts, no names
        r = requests.get(kubelet + "/pods", **ca)
        assert r.status_code == 401 and "client certificate" in r.text, r.text
        r = requests.get(kubelet + "/pods", headers=_bearer(pki, "admin"), **ca)  # tokens are for the masters
        assert r.status_code == 401, r.text
        r = requests.get(kubelet + "/containerLogs/default/x/c", cert=tuple(map(str, pki.minion("n1"))), **ca)
        assert r.status_code == 403 and 'user "node:n1" cannot read pods or logs' in r.text, r.text
        master_cert = tuple(map(str, pki.master("m1")))
        assert requests.get(kubelet + "/pods", cert=master_cert, **ca).status_code == 200
        # a revoked certificate: the minion polls the masters' list (every 10 s) and refuses it too
        serial = format(_serial(pki.master("m1")[0]), "x")
        assert requests.post(url + "/raft/revocations", json={"serial": serial}, **_as(pki, "admin")).status_code == 201
        try:
            poll_until(lambda: requests.get(kubelet + "/pods", cert=master_cert, **ca).status_code == 401, 30,
                       what="the kubelet port refusing the revoked master certificate")
            assert "is revoked" in requests.get(kubelet + "/pods", cert=master_cert, **ca).text
        finally:
            assert requests.delete(f"{url}/raft/revocations/{serial}", **_as(pki, "admin")).status_code == 200
        poll_until(lambda: requests.get(kubelet + "/pods", cert=master_cert, **ca).status_code == 200, 30,
                   what="the kubelet port accepting the master certificate again")
        # the minion advertises https; kubecfg logs uses it with the admin's certificate of the pki
        poll_until(lambda: requests.get(url + "/api/v1beta1/minions/n2", **_as(pki, "admin")).json()
                   .get("status", {}).get("kubeletTLS"), 30, what="n2 registered with kubeletTLS")
        body = {**POD, "metadata": {"name": "logged"}}
        assert requests.post(url + "/api/v1/namespaces/default/pods", json=body, **_as(pki, "admin")).status_code == 201
        r = requests.post(url + "/api/v1beta1/bindings", json={"kind": "Binding", "podID": "logged", "host": "n2"},
                          **_as(pki, "admin"))
        assert r.status_code < 300 or r.status_code == 409, r.text  # 409: the scheduler was first (n2: the one ready)
        assert requests.get(url + "/api/v1/namespaces/default/pods/logged", **_as(pki, "admin")).json()["spec"][
            "nodeName"] == "n2"
        poll_until(lambda: requests.get(kubelet + "/containerLogs/default/logged/c", cert=tuple(map(str, pki.admin)),
                                        **ca).status_code == 200, 30, what="the hollow kubelet running the pod")
        r = subprocess.run([*CLI, "-h", url, "logs", "logged"], cwd=cluster.workdir, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        # without a certificate of the CA (a viewer's token), the kubelet refuses kubecfg
        r = subprocess.run([*CLI, "-h", url, "--token", pki.token_of("viewer"), "--client-certificate",
                            str(pki.minion("n1")[0]), "--client-key", str(pki.minion("n1")[1]), "logs", "logged"],
                           cwd=cluster.workdir, capture_output=True, text=True, timeout=60)
        assert r.returncode == 1 and re.search(r'minion "n2" answered 403: Forbidden: user "node:n1"', r.stderr), \
            r.stderr
    finally:
        stop_process(proc, signal.SIGTERM, 20, "minion n2")
        print((cluster.workdir / "minion-n2.log").read_text(errors="replace")[-3000:])


def _try(fn):
    try:
        return fn()
    except requests.RequestException:
        return False


def test_hollow_minions_of_one_process_each_use_their_own_node_credential(secure):
    cluster, pki, url = secure
    subprocess.run([*CLI, "init", "--config", cluster.config, "--minion", "h-0", "--minion", "h-1"],
                   cwd=cluster.workdir, check=True, capture_output=True, timeout=60)
    (port,) = free_ports(1)
    proc = start_cli(["minion", "--runtime", "hollow", "--count", "2", "--name-prefix", "h-", "--address", "127.0.0.1",
                      "--port", str(port), "--heartbeat", "1", "--label", "hollow=yes", "--masters", url, "--certificate-authority",
                      str(pki.ca_cert), "--credentials-dir", str(pki.root / "minions")],
                     cluster.workdir / "hollow.log", cwd=cluster.workdir)
    admin = _as(pki, "admin")
    try:
        # a node may register only itself: both Nodes exist, so each used its own certificate
        poll_until(lambda: all(requests.get(f"{url}/api/v1/nodes/h-{i}", **admin).status_code == 200
                               for i in range(2)), 30, what="h-0 and h-1 registered")
        pods = url + "/api/v1/namespaces/default/pods"
        for i in range(2):
            name = f"hollow-pod-{i}"
            body = {**POD, "metadata": {"name": name}, "spec": {**POD["spec"], "nodeSelector": {"hollow": "yes"}}}
            assert requests.post(pods, json=body, **admin).status_code == 201  # not on n2 (stopped, maybe Ready)
            r = requests.post(url + "/api/v1beta1/bindings", json={"kind": "Binding", "podID": name, "host": f"h-{i}"},
                              **admin)
            assert r.status_code < 300 or r.status_code == 409, r.text
        # and each pod's status was written by the minion it is bound to (another one's credential: 403)
        def running():
            got = [requests.get(f"{pods}/hollow-pod-{i}", **admin).json() for i in range(2)]
            return all(p["status"].get("phase") == "Running" for p in got) and \
                sorted(p["spec"]["nodeName"] for p in got) in (["h-0", "h-1"], ["h-0", "h-0"], ["h-1", "h-1"])
        poll_until(running, 30, what="both hollow pods Running")
        assert "403" not in (cluster.workdir / "hollow.log").read_text(errors="replace")
        # their one kubelet port serves https (the first one's certificate) and wants a master or the admin
        kubelet = f"https://127.0.0.1:{port}/pods"
        assert requests.get(kubelet, verify=str(pki.ca_cert), timeout=10).status_code == 401
        served = requests.get(kubelet, cert=tuple(map(str, pki.admin)), verify=str(pki.ca_cert), timeout=10).json()
        assert sorted(p["name"] for p in served["items"]) == ["hollow-pod-0", "hollow-pod-1"]
    finally:
        stop_process(proc, signal.SIGTERM, 20, "hollow minions")
        print((cluster.workdir / "hollow.log").read_text(errors="replace")[-3000:])


def test_v1_bindings_and_namespaces_need_their_rights(secure):
    """The v1 binding paths (issue 16) are pod bindings: an admin may, a viewer or a minion may not; namespaces
    are created and deleted by the admin only."""
    _, pki, url = secure
    pods = url + "/api/v1/namespaces/default/pods"
    # a node selector no minion has: the scheduler leaves it alone (it would bind the pod first: 409 below)
    unschedulable = {**POD, "metadata": {"name": "v1b"}, "spec": {**POD["spec"], "nodeSelector": {"none": "x"}}}
    assert requests.post(pods, json=unschedulable, **_as(pki, "admin")).status_code == 201
    binding = {"apiVersion": "v1", "kind": "Binding", "target": {"kind": "Node", "name": "n1"}}
    for who in ("viewer", "node:n1"):
        r = requests.post(pods + "/v1b/binding", json=binding, headers=_bearer(pki, who), verify=str(pki.ca_cert),
                          timeout=10)
        assert r.status_code == 403 and r.json()["reason"] == "Forbidden", r.text
    assert requests.post(pods + "/v1b/binding", json=binding, **_as(pki, "admin")).status_code == 201
    assert requests.get(pods + "/v1b", **_as(pki, "admin")).json()["spec"]["nodeName"] == "n1"
    ns = url + "/api/v1/namespaces"
    r = requests.post(ns, json={"metadata": {"name": "sec"}}, headers=_bearer(pki, "viewer"), verify=str(pki.ca_cert),
                      timeout=10)
    assert r.status_code == 403, r.text
    assert requests.post(ns, json={"metadata": {"name": "sec"}}, **_as(pki, "admin")).status_code == 201
    assert requests.delete(ns + "/sec", **_as(pki, "n1")).status_code == 403
    assert requests.delete(ns + "/sec", **_as(pki, "admin")).json()["status"]["phase"] == "Terminating"


# ---- taking credentials back: revoked certificates, tokens removed from the token file ---------------------------

def test_a_revoked_certificate_is_refused_until_unrevoked(secure):
    cluster, pki, url = secure
    run = lambda *a: subprocess.run([*CLI, *a], cwd=cluster.workdir, capture_output=True, text=True, timeout=60)
    node = url + "/api/v1/nodes/n2"
    assert requests.post(url + "/api/v1beta1/minions", json=_node("n2"), **_as(pki, "admin")).status_code in (
        200, 201, 409)
    assert requests.get(node, **_as(pki, "n2")).status_code == 200
    r = run("certs", "revoke", str(pki.minion("n2")[0]), "--reason", "disk stolen", "-h", url)
    assert r.returncode == 0 and "revoked " in r.stdout and "CN=node:n2" in r.stdout, (r.stdout, r.stderr)
    try:
        r = requests.get(node, **_as(pki, "n2"))
        assert r.status_code == 401 and r.json()["reason"] == "Unauthorized", r.text
        assert 'the client certificate of "node:n2"' in r.json()["message"] and "is revoked" in r.json()["message"]
        # other credentials are untouched: n1's certificate, n2's token, the admin
        assert requests.get(url + "/api/v1/nodes/n1", **_as(pki, "n1")).status_code in (200, 404)
        assert requests.get(node, headers=_bearer(pki, "node:n2"), verify=str(pki.ca_cert),
                            timeout=10).status_code == 200
        listed = run("certs", "revoked", "-h", url)
        assert listed.returncode == 0 and "disk stolen" in listed.stdout and "CN=node:n2" in listed.stdout
        # only the admin revokes; anyone authenticated may read the list
        r = requests.post(url + "/raft/revocations", json={"serial": "abc"}, **_as(pki, "n1"))
        assert r.status_code == 403 and "admins only" in r.json()["message"], r.text
        assert requests.get(url + "/raft/revocations", **_as(pki, "n1")).status_code == 200
        for bad in ({"serial": "not-hex"}, {"serial": 12}, {}):
            r = requests.post(url + "/raft/revocations", json=bad, **_as(pki, "admin"))
            assert r.status_code == 400 and r.json()["kind"] == "Status", r.text
        r = requests.post(url + "/raft/revocations", data="serial=ab", **_as(pki, "admin"),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 415, r.text
        # revoking it again is not an error
        again = run("certs", "revoke", str(pki.minion("n2")[0]), "-h", url)
        assert again.returncode == 0, again.stderr
    finally:
        serial = format(_serial(pki.minion("n2")[0]), "x")
        r = run("certs", "unrevoke", serial, "-h", url)
        assert r.returncode == 0, r.stderr
    assert requests.get(node, **_as(pki, "n2")).status_code == 200
    r = run("certs", "unrevoke", serial, "-h", url)
    assert r.returncode == 1 and "is not revoked" in r.stderr, r.stderr


def _serial(cert_path) -> int:
    from cryptography import x509
    return x509.load_pem_x509_certificate(cert_path.read_bytes()).serial_number


def test_a_token_removed_from_the_token_file_stops_working(secure):
    cluster, pki, url = secure
    viewer = {"headers": _bearer(pki, "viewer"), "verify": str(pki.ca_cert), "timeout": 10}
    admin = {"headers": _bearer(pki, "admin"), "verify": str(pki.ca_cert), "timeout": 10}
    assert requests.get(url + "/api/v1/services", **viewer).status_code == 200
    before = pki.tokens.read_text()
    kept = "".join(line for line in before.splitlines(keepends=True) if ",viewer," not in line)
    assert kept != before
    try:
        pki.tokens.write_text(kept)
        poll_until(lambda: requests.get(url + "/api/v1/services", **viewer).status_code == 401, 10,
                   what="the viewer's token refused after its line was removed")
        assert requests.get(url + "/api/v1/services", **admin).status_code == 200
        pki.tokens.write_text(kept + "this line,has too few fields\n")  # broken: the tokens read last stay
        log = cluster.workdir / "m1.log"
        # the file is looked at when a request comes (at most once a second)
        poll_until(lambda: requests.get(url + "/api/v1/services", **viewer).status_code == 401
                   and "not reloaded" in log.read_text(errors="replace"), 10, what="the broken file reported")
        assert requests.get(url + "/api/v1/services", **admin).status_code == 200
    finally:
        pki.tokens.write_text(before)
    poll_until(lambda: requests.get(url + "/api/v1/services", **viewer).status_code == 200, 10,
               what="the viewer's token accepted again")
