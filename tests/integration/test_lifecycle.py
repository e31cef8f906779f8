"""Object lifecycle (issue 19) on three real masters with minions in this process (heartbeat-only NodeAgents
and hollow minions): terminated pods beyond the threshold, pods of a deleted minion, a minion that comes
back after its pods were evicted; deletes with preconditions, writes replayed after a lost answer, an outage
of every master."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from raftkube.client import HttpClient
from raftkube.controllers.nodes import parse_time, rfc3339
from raftkube.minion.agent import NodeAgent
from raftkube.minion.hollow import HollowRuntime
from raftkube.minion.kubelet import KubeletSettings
from raftkube.minion.node import MinionProcess, MinionSettings
from raftkube.minion.runtime import LABEL_POD_NAME
from raftkube.model.errors import Conflict, NotFound
from raftkube.model.objects import ACTIVE_PHASES, name_of, pod_node, pod_phase
from raftkube.testing import holds_for, objects, poll_until, running_cluster

THRESHOLD = 3
GC_TOML = f"""
[controllers]
resync_period_s = 0.5
node_grace_period_s = 2.0
pod_eviction_delay_s = 1.0
node_monitor_period_s = 0.2
terminated_pod_gc_threshold = {THRESHOLD}
"""


@pytest.fixture(scope="module")
def gc(tmp_path_factory, request):
    with running_cluster(tmp_path_factory.mktemp("podgc"), extra_toml=GC_TOML,
                         failed=lambda: request.session.testsfailed > 0) as cluster:
        client = HttpClient(cluster.urls, timeout_s=5.0, retry_for_s=15.0)
        agents = [NodeAgent(HttpClient(cluster.urls, timeout_s=2.0), f"minion-{i}", f"10.0.0.{i + 1}",
                            heartbeat_s=0.3).start() for i in range(2)]
        poll_until(lambda: len(client.list("Node")[0]) == 2, 10.0, what="2 minions registered")
        yield cluster, client, agents
        for a in agents:
            a.stop()


def set_status(client, name: str, status: dict) -> None:
    def attempt():
        cur = client.get("Pod", name)
        cur["status"] = status
        try:
            return client.update_status(cur)
        except Conflict:  # the scheduler bound it or wrote a reason meanwhile
            return None
    poll_until(attempt, 10.0, what=f"status of {name}")


def test_terminated_pods_beyond_the_threshold_are_deleted_oldest_finished_first(gc):
    _cluster, client, _agents = gc
    # finished 5, 4, ... 1 minutes ago, created in the opposite order: the finish time decides
    ages = {"done-a": 60, "done-b": 240, "done-c": 120, "done-d": 300, "done-e": 180}
    base = parse_time(client.get("Node", "minion-0", "")["metadata"]["creationTimestamp"])
    for name in [*ages, "live"]:
        client.create(objects.pod(name, {"app": "batch"}, node_selector={"nowhere": "x"}))  # never scheduled
    for name, age in ages.items():
        set_status(client, name, {"phase": "Succeeded" if age % 120 else "Failed", "containerStatuses": [
            {"name": "c", "image": "busybox", "restartCount": 0, "ready": False,
             "state": {"terminated": {"exitCode": 0, "finishedAt": rfc3339(base - age)}}}]})
    left = poll_until(lambda: (lambda names: names if len(names) == THRESHOLD + 1 else None)(
        sorted(name_of(p) for p in client.list("Pod", labels="app=batch")[0])), 15.0,
        what=f"{THRESHOLD} terminated pods left")
    assert left == ["done-a", "done-c", "done-e", "live"]  # the two that finished first are gone
    assert pod_phase(client.get("Pod", "live")) == "Pending"


def test_pods_of_a_deleted_minion_are_failed_replaced_and_collected(gc):
    _cluster, client, agents = gc
    client.create(objects.rc("web", 4, {"app": "web"}, [objects.container()]))

    def settled():
        pods = [p for p in client.list("Pod", labels="app=web")[0] if pod_phase(p) in ACTIVE_PHASES]
        return pods if len(pods) == 4 and all(pod_node(p) for p in pods) else None
    pods = poll_until(settled, 15.0, what="4 bound web pods")
    on_lost = {name_of(p) for p in pods if pod_node(p) == "minion-1"}
    assert on_lost, "the scheduler put nothing on minion-1"
    agents[1].stop()  # else its next heartbeat registers it again
    client.delete("Node", "minion-1", "")

    def collected():
        pods = client.list("Pod", labels="app=web")[0]
        live = [p for p in pods if pod_phase(p) in ACTIVE_PHASES]
        return (not on_lost & {name_of(p) for p in pods} and len(live) == 4
                and all(pod_node(p) == "minion-0" for p in live) and len(pods) == 4)
    poll_until(collected, 20.0, what="the lost pods deleted and replaced on minion-0")
    events = [e for e in client.list("Event")[0] if e["reason"] == "NodeLost"]
    assert {e["involvedObject"]["name"] for e in events} == on_lost
    assert all("minion minion-1 was deleted" in e["message"] for e in events)


def hollow_minion(urls, name: str, runtime: HollowRuntime) -> MinionProcess:
    settings = MinionSettings(name=name, address="127.0.0.1", runtime="hollow", port=-1, labels={"hollow": "yes"},
                              heartbeat_s=0.3, kubelet=KubeletSettings(sync_period_s=1.0))
    return MinionProcess(HttpClient(urls, timeout_s=2.0), settings, runtime_factory=lambda _n: runtime).start()


def running_pods(runtime: HollowRuntime) -> set[str]:
    return {c.labels.get(LABEL_POD_NAME) for c in runtime.list_containers() if c.running}


def test_a_minion_back_after_eviction_stops_its_ghost_pod(gc):
    """A minion goes silent (kubelet and heartbeats stop; its containers keep running), its pod is failed
    (NodeLost) and replaced on another minion; when the minion comes back, its kubelet stops the ghost:
    no pod runs twice and the host port is held by one pod only."""
    cluster, client, _agents = gc
    rt_a, rt_b = HollowRuntime("hollow-a"), HollowRuntime("hollow-b")
    minions = [hollow_minion(cluster.urls, "hollow-a", rt_a)]
    try:
        body = objects.rc("ghost", 1, {"app": "ghost"}, [objects.container(host_port=8080)])
        body["spec"]["template"]["spec"]["nodeSelector"] = {"hollow": "yes"}
        client.create(body)

        def running_on(node):
            pods = [p for p in client.list("Pod", labels="app=ghost")[0]
                    if pod_node(p) == node and pod_phase(p) == "Running"]
            return pods[0] if pods else None
        first = name_of(poll_until(lambda: running_on("hollow-a"), 15.0, what="the pod running on hollow-a"))
        assert running_pods(rt_a) == {first}
        minions.append(hollow_minion(cluster.urls, "hollow-b", rt_b))
        minions[0].stop()  # silent: no kubelet, no heartbeats; the hollow containers keep "running"
        assert running_pods(rt_a) == {first}
        second = name_of(poll_until(lambda: running_on("hollow-b"), 20.0, what="a replacement running on hollow-b"))
        failed = client.get("Pod", first)
        assert pod_phase(failed) == "Failed" and failed["status"]["reason"] == "NodeLost"
        assert running_pods(rt_a) == {first}  # the ghost: it and its replacement both hold port 8080

        minions[0] = hollow_minion(cluster.urls, "hollow-a", rt_a)  # back, with the containers it left
        poll_until(lambda: not running_pods(rt_a), 10.0, what="the ghost's containers stopped on hollow-a")
        assert running_pods(rt_b) == {second}
        poll_until(lambda: client.get("Node", "hollow-a", "")["status"]["conditions"][0]["status"] == "True",
                   10.0, what="hollow-a Ready again")
        live = [p for p in client.list("Pod", labels="app=ghost")[0] if pod_phase(p) in ACTIVE_PHASES]
        assert [name_of(p) for p in live] == [second]
        assert pod_phase(client.get("Pod", first)) == "Failed"  # never reported back to life
    finally:
        for m in minions:
            m.stop()


def test_a_delete_with_preconditions_never_removes_a_newer_object_of_the_name(gc):
    """Created on one master, deleted and created again on another, and a delete of the first object sent to a
    third: the state machine refuses it (409), on whichever master it lands, and the newer object stays."""
    cluster, _client, _agents = gc
    a, b, c = (HttpClient([url], timeout_s=5.0, retry_for_s=10.0) for url in cluster.urls)
    for i in range(10):
        name = f"pre-{i}"
        first = a.create(objects.pod(name, {"app": "pre"}, node_selector={"nowhere": "x"}))
        b.delete("Pod", name)
        again = b.create(objects.pod(name, {"app": "pre"}, node_selector={"nowhere": "x"}))
        with pytest.raises(Conflict, match="Precondition failed: UID in precondition"):
            c.delete("Pod", name, uid=first["metadata"]["uid"])
        assert c.get("Pod", name)["metadata"]["uid"] == again["metadata"]["uid"]
        stale = {"kind": "DeleteOptions", "apiVersion": "v1",
                 "preconditions": {"resourceVersion": str(first["metadata"]["resourceVersion"])}}
        url = cluster.urls[i % 3] + f"/api/v1/namespaces/default/pods/{name}"
        # a 503 (no quorum for a moment, under load) is tried again; [r], as a Response that is a 409 is falsy
        [r] = poll_until(lambda: (lambda r: [r] if r.status_code != 503 else None)(
            requests.delete(url, json=stale, timeout=10)), 15.0, what="an answer to the v1 delete")
        assert r.status_code == 409 and r.json()["message"].startswith(
            f'Operation cannot be fulfilled on pods "{name}": Precondition failed: ResourceVersion in precondition')
        c.delete("Pod", name, uid=again["metadata"]["uid"])  # (its resourceVersion moves: the scheduler's reasons)
        with pytest.raises(NotFound):
            a.get("Pod", name)


class _LosingFront(BaseHTTPRequestHandler):
    """Forwards each request to one master, and for a write drops the connection instead of the answer: the
    write committed, the client does not know (after ``then``, a write of someone else, if set)."""

    master = ""
    then = None

    def _forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        keep = ("Content-Type", "Raftkube-Request-Id", "Raftkube-Attempt")
        resp = requests.request(self.command, self.master + self.path, data=body or None, timeout=10,
                                headers={k: self.headers[k] for k in keep if self.headers.get(k)})
        if self.command == "GET":
            self.send_response(resp.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(resp.content)))
            self.end_headers()
            self.wfile.write(resp.content)
            return
        if type(self).then is not None:
            type(self).then()
        self.close_connection = True  # no answer: the outcome is unknown to the client

    do_GET = do_POST = do_PUT = do_DELETE = _forward

    def log_message(self, *args):
        pass


def test_a_write_whose_answer_was_lost_is_replayed_on_another_master_and_applies_once(gc):
    """The HTTP client's retry after a lost answer goes to the next master with the same request id: a named
    create answers the object (not 409), a create without a name makes one pod, a delete does not remove the
    object of that name created again meanwhile."""
    cluster, client, _agents = gc
    _LosingFront.master = cluster.urls[0]
    front = ThreadingHTTPServer(("127.0.0.1", 0), _LosingFront)
    threading.Thread(target=front.serve_forever, daemon=True).start()
    try:
        def lossy():  # the front first, then another master
            return HttpClient([f"http://127.0.0.1:{front.server_port}", cluster.urls[1]], timeout_s=5.0,
                              retry_for_s=10.0)
        made = lossy().create(objects.pod("lost-answer", {"app": "lost"}, node_selector={"nowhere": "x"}))
        assert made["metadata"]["name"] == "lost-answer"
        lossy().create(objects.pod("", {"app": "lost-unnamed"}, node_selector={"nowhere": "x"}))
        assert len(client.list("Pod", labels="app=lost-unnamed")[0]) == 1
        _LosingFront.then = lambda: client.create(objects.pod("lost-answer", {"app": "lost"},
                                                              node_selector={"nowhere": "x"}))
        lossy().delete("Pod", "lost-answer")  # deleted, created again by someone else, then the answer is lost
        again = client.get("Pod", "lost-answer")
        assert again["metadata"]["uid"] != made["metadata"]["uid"]  # the replay did not delete the new one
    finally:
        _LosingFront.then = None
        front.shutdown()
        front.server_close()


def test_a_master_outage_longer_than_the_grace_period_evicts_nothing(tmp_path):
    """Every master down for longer than node grace + eviction delay, then back: the minions kept running, so the
    new leader gives them a full grace period from its takeover (and most NotReady at once holds evictions):
    no pod is failed, no controller doubles its pods."""
    with running_cluster(tmp_path, extra_toml=GC_TOML) as cluster:
        client = HttpClient(cluster.urls, timeout_s=5.0, retry_for_s=20.0)
        agents = [NodeAgent(HttpClient(cluster.urls, timeout_s=1.0, retry_for_s=0.5), f"out-{i}",
                            f"10.0.1.{i + 1}", heartbeat_s=0.3).start() for i in range(2)]
        try:
            client.create(objects.rc("steady", 4, {"app": "steady"}, [objects.container()]))

            def bound():
                pods = client.list("Pod", labels="app=steady")[0]
                return pods if len(pods) == 4 and all(pod_node(p) for p in pods) else None
            before = {name_of(p) for p in poll_until(bound, 15.0, what="4 bound pods")}
            for name in cluster.names:
                cluster.stop(name)
            time.sleep(5.0)  # the outage itself: longer than grace (2 s) + eviction delay (1 s)
            for name in cluster.names:
                cluster.start(name)
            cluster.wait_ready(timeout_s=30.0)

            def unchanged():
                pods = client.list("Pod", labels="app=steady")[0]
                return {name_of(p) for p in pods} == before and all(pod_phase(p) in ACTIVE_PHASES for p in pods)
            holds_for(unchanged, 6.0, interval_s=0.3, what="no pod failed or added after the outage")
            poll_until(lambda: all(client.get("Node", a.name, "")["status"]["conditions"][0]["status"] == "True"
                                   for a in agents), 10.0, what="both minions Ready")
        finally:
            for a in agents:
                a.stop()
