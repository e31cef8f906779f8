"""Services on a real engine: an RC of 3 busybox httpd pods behind a service, reached through the proxy of a
real `raftkube minion` process on the service port; service variables in a pod created after the service."""

from __future__ import annotations

import socket
import time

import requests

from raftkube.minion.images import BUSYBOX_IMAGE
from raftkube.minion.runtime import LABEL_CONTAINER, LABEL_NODE, LABEL_POD_NAME
from raftkube.testing import free_ports, poll_until, rc_body, service_body
from tests.docker.conftest import RUN_ID

V1 = "/api/v1beta1"

WEB = {"name": "web", "image": BUSYBOX_IMAGE,
       "command": ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"],
       "ports": [{"containerPort": 80}]}


def fetch(port: int, host: str = "127.0.0.1") -> str:
    return requests.get(f"http://{host}:{port}/", timeout=5, headers={"Connection": "close"}).text.strip()


def closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


def running_pods(url: str, name: str) -> list[dict]:
    items = requests.get(url + V1 + "/pods", params={"labels": f"name={name}"}, timeout=5).json()["items"]
    return [p for p in items if p["currentState"].get("status") == "Running" and p["currentState"].get("podIP")]


def endpoints_of(url: str, name: str) -> list[str]:
    r = requests.get(url + f"{V1}/endpoints/{name}", timeout=5)
    return r.json().get("endpoints") or [] if r.status_code == 200 else []


def test_rc_behind_a_service_round_robin_scale_down_env_and_delete(masters, minion, docker_client):
    url = masters.urls[0]
    svc_port = free_ports(1)[0]
    name = "websvc"
    selector = {"name": "webrc", "test-run": RUN_ID}
    r = requests.post(url + V1 + "/services", json=service_body(name, svc_port, selector), timeout=10)
    assert r.status_code == 200, r.text
    rc = rc_body("webrc", 3, labels=selector, node_selector={"test-node": minion.name}, containers=[WEB])
    r = requests.post(url + V1 + "/replicationControllers", json=rc, timeout=10)
    assert r.status_code == 200, r.text
    try:
        pods = poll_until(lambda: len(running_pods(url, "webrc")) == 3 and running_pods(url, "webrc"), 60, 0.2,
                          what="3 web pods Running")
        names = {p["id"] for p in pods}
        poll_until(lambda: len(endpoints_of(url, name)) == 3, 20, 0.1, what="3 endpoints")

        # requests to the minion's service port reach all 3 pods in turn
        def three_in_turn():
            got = [fetch(svc_port) for _ in range(6)]
            return got if set(got[:3]) == names and got[3:] == got[:3] else None
        got = poll_until(three_in_turn, 10, 0.1, what="round robin over the 3 pods")
        assert set(got) == names

        # the pods were created after the service: its variables are in their environment, and a container
        # reaches the service through them (the minion's proxy at the bridge gateway)
        some = pods[0]["id"]
        web = [c for c in docker_client.containers.list(filters={"label": [f"{LABEL_NODE}={minion.name}",
                                                                             f"{LABEL_POD_NAME}={some}"]})
               if c.labels[LABEL_CONTAINER] == "web"][0]
        env = dict(e.split("=", 1) for e in web.attrs["Config"]["Env"])
        host = env["WEBSVC_SERVICE_HOST"]
        assert env["WEBSVC_SERVICE_PORT"] == str(svc_port)
        assert env["WEBSVC_PORT"] == f"tcp://{host}:{svc_port}" == env[f"WEBSVC_PORT_{svc_port}_TCP"]
        assert env[f"WEBSVC_PORT_{svc_port}_TCP_PROTO"] == "tcp"
        assert env[f"WEBSVC_PORT_{svc_port}_TCP_PORT"] == str(svc_port)
        assert env[f"WEBSVC_PORT_{svc_port}_TCP_ADDR"] == host and env["SERVICE_HOST"] == host
        code, out = web.exec_run(["sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | "
                                              "nc $WEBSVC_SERVICE_HOST $WEBSVC_SERVICE_PORT"])
        assert code == 0 and out.decode().strip().splitlines()[-1] in names, out

        # scale to 1: within 2 s only the survivor is in rotation
        rc = requests.get(url + V1 + "/replicationControllers/webrc", timeout=5).json()
        rc["desiredState"]["replicas"] = 1
        t0 = time.monotonic()
        r = requests.put(url + V1 + "/replicationControllers/webrc", json=rc, timeout=10)
        assert r.status_code == 200, r.text

        def one_left():
            got = {fetch(svc_port) for _ in range(4)}
            return got if len(got) == 1 else None
        survivor = poll_until(one_left, 2.0, 0.02, what="only one pod in rotation")
        took = time.monotonic() - t0
        assert took <= 2.0 + 0.5, took  # poll_until's last round may end just after its deadline
        assert survivor <= names
        assert {fetch(svc_port) for _ in range(6)} == survivor

        # deleting the service closes its port on the minion
        r = requests.delete(url + f"{V1}/services/{name}", timeout=10)
        assert r.status_code == 200, r.text
        poll_until(lambda: closed(svc_port), 5, 0.05, what="service port closed")
    finally:
        rc = requests.get(url + V1 + "/replicationControllers/webrc", timeout=5).json()
        rc["desiredState"]["replicas"] = 0
        requests.put(url + V1 + "/replicationControllers/webrc", json=rc, timeout=10)
        poll_until(lambda: not requests.get(url + V1 + "/pods", params={"labels": "name=webrc"},
                                            timeout=5).json()["items"], 30, 0.2, what="web pods gone")
        requests.delete(url + V1 + "/replicationControllers/webrc", timeout=10)
        requests.delete(url + f"{V1}/services/{name}", timeout=10)


def test_busy_service_port_is_reported_not_fatal(masters, minion):
    url = masters.urls[0]
    busy = socket.socket()
    busy.bind(("0.0.0.0", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        r = requests.post(url + V1 + "/services", json=service_body("busysvc", port, {"name": "nothing"}),
                          timeout=10)
        assert r.status_code == 200, r.text

        def reported():
            evs = requests.get(url + V1 + "/events", timeout=5).json()["items"]
            return [e for e in evs if e.get("reason") == "PortUnavailable"
                    and (e.get("involvedObject") or {}).get("name") == "busysvc"]
        ev = poll_until(reported, 15, 0.2, what="PortUnavailable event")[0]
        assert minion.name in ev["message"] and str(port) in ev["message"]
        assert requests.get(minion.url + "/healthz", timeout=2).text == "ok"  # the minion lives on
        assert "WARNING" in minion.logs() and "busysvc" in minion.logs()
    finally:
        busy.close()
        requests.delete(url + f"{V1}/services/busysvc", timeout=10)
