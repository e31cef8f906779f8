"""The kubelet on a real Docker engine, through real masters and a real `raftkube minion` process."""

from __future__ import annotations

import time

import requests

from raftkube.minion.images import BUSYBOX_IMAGE
from raftkube.minion.runtime import INFRA_NAME, LABEL_CONTAINER, LABEL_POD_NAME, LABEL_NODE
from raftkube.model.errors import Conflict
from raftkube.testing import free_ports, holds_for, pod_body, poll_until
from tests.docker.conftest import RUN_ID

PODS = "/api/v1beta1/pods"


def run_pod(masters, api, minion, name: str, containers: list[dict], restart: str = "always") -> dict:
    body = pod_body(name, labels={"name": name, "test-run": RUN_ID}, node_selector={"test-node": minion.name},
                    containers=containers, restart_policy=restart)
    r = requests.post(masters.urls[0] + PODS, json=body, timeout=10)
    assert r.status_code == 200, r.text
    try:
        api.bind("default", name, minion.name)  # no scheduler needed; one may have bound it already
    except Conflict:
        pass
    return r.json()


def get_pod(masters, name: str) -> dict:
    r = requests.get(masters.urls[1] + f"{PODS}/{name}", timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def wait_running(masters, name: str, timeout_s: float = 30) -> dict:
    def running():
        p = get_pod(masters, name)
        return p if p["currentState"].get("status") == "Running" else None
    return poll_until(running, timeout_s, 0.1, what=f"pod {name} Running through the API")


def pod_containers(docker_client, node: str, pod: str, running_only=True):
    return docker_client.containers.list(all=not running_only, filters={"label": [f"{LABEL_NODE}={node}",
                                                                                  f"{LABEL_POD_NAME}={pod}"]})


def by_name(containers):
    return {c.labels[LABEL_CONTAINER]: c for c in containers}


HTTPD = {"name": "web", "image": BUSYBOX_IMAGE,
         "command": ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && echo web-started "
                                 "&& exec httpd -f -p 80 -h /www"],
         "ports": [{"containerPort": 80}]}
SLEEPER = {"name": "side", "image": BUSYBOX_IMAGE, "command": ["sleep", "100000"]}


def test_two_container_pod_shares_ip_localhost_and_host_port(masters, api, minion, docker_client):
    host_port = free_ports(1)[0]
    web = dict(HTTPD, ports=[{"containerPort": 80, "hostPort": host_port}],
               env=[{"name": "GREETING", "value": "hi"}])
    run_pod(masters, api, minion, "duo", [web, SLEEPER])
    pod = wait_running(masters, "duo")
    cs = by_name(pod_containers(docker_client, minion.name, "duo"))
    assert set(cs) == {INFRA_NAME, "web", "side"}
    infra = cs[INFRA_NAME]
    infra.reload()
    pod_ip = infra.attrs["NetworkSettings"]["IPAddress"]
    assert pod_ip and pod["currentState"]["podIP"] == pod_ip and pod["currentState"]["host"] == minion.name
    assert pod["currentState"]["hostIP"] == "127.0.0.1"
    for c in ("web", "side"):
        assert cs[c].attrs["HostConfig"]["NetworkMode"] == f"container:{infra.id}"
        assert cs[c].name.startswith(f"k8s_{c}.") and "_duo.default.api_" in cs[c].name
    assert "GREETING=hi" in cs["web"].attrs["Config"]["Env"]
    # the side container reaches web over the pod's shared localhost
    code, out = cs["side"].exec_run(["sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 80"])
    assert code == 0 and b"hello-from-web" in out, out
    # the pod IP from the host, and the hostPort on the host
    assert "hello-from-web" in requests.get(f"http://{pod_ip}:80/", timeout=5).text
    got = poll_until(lambda: requests.get(f"http://127.0.0.1:{host_port}/", timeout=2).text, 10,
                     what="hostPort answering")
    assert "hello-from-web" in got
    # the minion's own view
    pods = requests.get(minion.url + "/pods", timeout=5).json()["items"]
    assert [p["name"] for p in pods] == ["duo"] and pods[0]["status"]["phase"] == "Running"


def test_killed_container_is_restarted_and_counted(masters, api, minion, docker_client):
    run_pod(masters, api, minion, "crashy", [SLEEPER])
    wait_running(masters, "crashy")
    first = by_name(pod_containers(docker_client, minion.name, "crashy"))["side"]
    first.kill()

    def restarted():
        p = get_pod(masters, "crashy")
        info = p["currentState"].get("info", {}).get("side", {})
        return p if info.get("restartCount", 0) >= 1 and "running" in info.get("state", {}) else None
    poll_until(restarted, 20, 0.1, what="side restarted with restartCount >= 1")
    now = by_name(pod_containers(docker_client, minion.name, "crashy"))["side"]
    assert now.id != first.id


def test_failing_liveness_probe_restarts_the_container(masters, api, minion, docker_client):
    probed = dict(SLEEPER, livenessProbe={"tcpSocket": {"port": 8080}, "initialDelaySeconds": 1})
    execd = {"name": "ok", "image": BUSYBOX_IMAGE, "command": ["sleep", "100000"],
             "livenessProbe": {"exec": {"command": ["echo", "ok"]}}}
    run_pod(masters, api, minion, "unwell", [probed, execd])

    def restarted():
        info = get_pod(masters, "unwell")["currentState"].get("info", {})
        return info if info.get("side", {}).get("restartCount", 0) >= 1 else None
    info = poll_until(restarted, 30, 0.2, what="the probed container restarted")
    assert info["ok"]["restartCount"] == 0  # its exec probe answers "ok"


def test_deleted_pod_loses_its_containers_within_2s(masters, api, minion, docker_client):
    run_pod(masters, api, minion, "doomed", [SLEEPER])
    wait_running(masters, "doomed")
    assert len(pod_containers(docker_client, minion.name, "doomed")) == 2
    r = requests.delete(masters.urls[0] + f"{PODS}/doomed", timeout=10)
    assert r.status_code == 200, r.text
    t0 = time.monotonic()
    poll_until(lambda: not pod_containers(docker_client, minion.name, "doomed", running_only=False), 2.0, 0.05,
               what="containers of the deleted pod removed")
    print(f"containers gone {time.monotonic() - t0:.2f}s after the delete returned")


def test_restarted_minion_adopts_running_containers(masters, api, minion, docker_client):
    run_pod(masters, api, minion, "steady", [SLEEPER])
    wait_running(masters, "steady")
    before = {c.id for c in pod_containers(docker_client, minion.name, "steady")}
    minion.stop()
    minion.start()
    poll_until(lambda: [p for p in requests.get(minion.url + "/pods", timeout=2).json()["items"]
                        if p["name"] == "steady" and p["containers"]], 20, what="new minion sees the pod")
    # over a few sync rounds the new kubelet must not replace anything
    holds_for(lambda: {c.id for c in pod_containers(docker_client, minion.name, "steady", running_only=False)}
              == before, 4.0, interval_s=0.2, what="the adopted containers unchanged")
    info = get_pod(masters, "steady")["currentState"]["info"]["side"]
    assert info["restartCount"] == 0 and "running" in info["state"]


def test_unpullable_image_is_waiting_with_a_clear_reason(masters, api, minion, docker_client):
    bad = {"name": "ghost", "image": f"raftkube-test/missing-{RUN_ID}:v1"}
    run_pod(masters, api, minion, "ghostly", [bad])

    def waiting_reason():
        cs = get_pod(masters, "ghostly")["currentState"]
        reason = (cs.get("info", {}).get("ghost", {}).get("state", {}).get("waiting") or {}).get("reason") or ""
        return reason if "pulled" in reason else None  # "... is creating" comes first
    reason = poll_until(waiting_reason, 20, 0.1, what="a waiting reason for the missing image")
    assert f'image "raftkube-test/missing-{RUN_ID}:v1" not present and cannot be pulled' in reason
    assert get_pod(masters, "ghostly")["currentState"]["status"] == "Waiting"


def test_container_logs_are_served(masters, api, minion, docker_client):
    chatty = {"name": "talk", "image": BUSYBOX_IMAGE,
              "command": ["sh", "-c", "for i in 1 2 3 4 5; do echo line-$i; done; while :; do sleep 0.3; "
                                      "echo tick; done"]}
    run_pod(masters, api, minion, "chatty", [chatty])
    wait_running(masters, "chatty")
    url = minion.url + "/containerLogs/default/chatty/talk"
    text = poll_until(lambda: (t := requests.get(url, timeout=5).text) and "line-5" in t and t, 10,
                      what="logs with line-5")
    assert text.startswith("line-1\n")
    tail = requests.get(url, params={"tail": "2"}, timeout=5).text.splitlines()
    assert len(tail) == 2
    with requests.get(url, params={"follow": "true", "tail": "0"}, stream=True, timeout=5) as r:
        assert r.status_code == 200
        first = next(r.iter_content(chunk_size=None))
        assert b"tick" in first
    assert requests.get(minion.url + "/containerLogs/default/chatty/nope", timeout=5).status_code == 404
