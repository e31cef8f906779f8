"""The kubelet's sync decisions, status and probes, over a fake runtime: no Docker, no masters, no sleeps."""

from __future__ import annotations

import random
import threading

import pytest

from raftkube.minion.container_config import app_config, cpu_shares, docker_name, infra_config
from raftkube.minion.hollow import HollowRuntime
from raftkube.minion.kubelet import Kubelet, KubeletSettings
from raftkube.minion.metrics import MinionMetrics
from raftkube.minion.planner import container_hash, infra_hash, parse_time, pod_uid, sync_pods
from raftkube.minion.pod_source import PodSource
from raftkube.minion.pod_status import normalize_status, pod_status
from raftkube.minion.probes import due_probes, resolve_port, run_probe
from raftkube.minion.runtime import (INFRA_NAME, LABEL_CONTAINER, LABEL_HASH, LABEL_INFRA_ID, LABEL_POD_UID,
                                     LABEL_RESTART_COUNT, ImageError, RuntimeContainer)
from tests.unit.fakes import FakeClock

NODE = "node-1"


def make_pod(name="web", uid="uid-web-0001", containers=None, policy="Always", ports=None, service_env=None):
    containers = containers or [{"name": "app", "image": "raftkube/busybox:latest", "command": ["sleep", "1000"],
                                 "ports": ports or []}]
    return {"kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": uid, "resourceVersion": 5},
            "spec": {"containers": containers, "restartPolicy": policy, "nodeName": NODE,
                     "serviceEnv": service_env or []},
            "status": {"phase": "Pending"}}


def container(cid, pod, cname, *, running=True, exit_code=0, created=1.0, restart=0, infra_id="", spec_hash=None,
              ip="", finished_at=""):
    if spec_hash is None:
        if cname == INFRA_NAME:
            spec_hash = infra_hash(pod)
        else:
            spec = next(c for c in pod["spec"]["containers"] if c["name"] == cname)
            spec_hash = container_hash(spec, pod["spec"].get("serviceEnv"))
    labels = {LABEL_POD_UID: pod["metadata"]["uid"], LABEL_CONTAINER: cname, LABEL_HASH: spec_hash,
              LABEL_RESTART_COUNT: str(restart)}
    if infra_id:
        labels[LABEL_INFRA_ID] = infra_id
    return RuntimeContainer(id=cid, name=f"k8s_{cname}", labels=labels, running=running, exit_code=exit_code,
                            created=created, ip=ip, finished_at=finished_at, started_at="2014-10-01T00:00:00Z")


def running_pod(pod, app_restart=0):
    infra = container("infra1", pod, INFRA_NAME, ip="172.17.0.5")
    apps = [container(f"app-{c['name']}", pod, c["name"], infra_id="infra1", created=2.0, restart=app_restart)
            for c in pod["spec"]["containers"]]
    return [infra, *apps]


def kinds(actions):
    return [(type(a).__name__, getattr(a, "container", None) or getattr(a, "container_id", None)) for a in actions]


# ---- planning ------------------------------------------------------------------------------------
def test_new_pod_starts_infra_then_each_container():
    pod = make_pod(containers=[{"name": "a", "image": "x"}, {"name": "b", "image": "y"}])
    actions = sync_pods({"uid-web-0001": pod}, [])
    assert kinds(actions) == [("StartInfra", None), ("StartContainer", "a"), ("StartContainer", "b")]
    assert all(a.infra_id == "" and a.restart_count == 0 for a in actions[1:])


def test_running_pod_is_adopted_as_is():
    pod = make_pod()
    assert sync_pods({"uid-web-0001": pod}, running_pod(pod)) == []


def test_orphans_are_removed():
    pod = make_pod()
    gone = make_pod(name="old", uid="uid-old")
    actual = running_pod(pod) + [container("o1", gone, INFRA_NAME), container("o2", gone, "app", infra_id="o1")]
    actions = sync_pods({"uid-web-0001": pod}, actual)
    assert kinds(actions) == [("RemoveContainer", "o1"), ("RemoveContainer", "o2")]
    assert all(a.uid == "uid-old" for a in actions)


def test_container_not_in_spec_is_removed():
    pod = make_pod()
    actual = running_pod(pod) + [container("x", pod, "extra", infra_id="infra1", spec_hash="0")]
    assert kinds(sync_pods({"uid-web-0001": pod}, actual)) == [("RemoveContainer", "x")]


@pytest.mark.parametrize("policy,exit_code,restarts", [
    ("Always", 0, True), ("Always", 1, True),
    ("OnFailure", 0, False), ("OnFailure", 2, True),
    ("Never", 0, False), ("Never", 1, False),
])
def test_restart_policy(policy, exit_code, restarts):
    pod = make_pod(policy=policy)
    infra = container("infra1", pod, INFRA_NAME)
    dead = container("app1", pod, "app", running=False, exit_code=exit_code, infra_id="infra1", restart=3)
    actions = sync_pods({"uid-web-0001": pod}, [infra, dead])
    if restarts:
        assert kinds(actions) == [("StartContainer", "app")]
        assert actions[0].restart_count == 4 and actions[0].infra_id == "infra1"
    else:
        assert actions == []


def test_crash_loop_backs_off_from_the_last_exit():
    pod = make_pod()
    infra = container("infra1", pod, INFRA_NAME)
    dead = container("app1", pod, "app", running=False, exit_code=1, infra_id="infra1", restart=3,
                     finished_at="2014-10-01T00:00:10Z")
    finished = parse_time("2014-10-01T00:00:10Z")
    assert sync_pods({"uid-web-0001": pod}, [infra, dead], now=finished + 1) == []  # backoff 4 s
    assert kinds(sync_pods({"uid-web-0001": pod}, [infra, dead], now=finished + 5)) == [("StartContainer", "app")]


def test_spec_change_recreates_the_container():
    pod = make_pod()
    actual = running_pod(pod)
    changed = make_pod(containers=[{"name": "app", "image": "raftkube/busybox:latest", "command": ["sleep", "5"]}])
    actions = sync_pods({"uid-web-0001": changed}, actual)
    assert kinds(actions) == [("StopContainer", "app-app"), ("StartContainer", "app")]
    assert actions[0].reason == "spec changed" and actions[1].restart_count == 1


def test_spec_change_recreates_even_with_restart_policy_never():
    pod = make_pod(policy="Never")
    changed = make_pod(policy="Never", service_env=[{"name": "DB_SERVICE_HOST", "value": "n1"}])
    assert kinds(sync_pods({"uid-web-0001": changed}, running_pod(pod))) == [
        ("StopContainer", "app-app"), ("StartContainer", "app")]


def test_dead_infra_restarts_the_whole_pod():
    pod = make_pod()
    infra, app = running_pod(pod)
    dead_infra = container("infra1", pod, INFRA_NAME, running=False, exit_code=137)
    actions = sync_pods({"uid-web-0001": pod}, [dead_infra, app])
    assert kinds(actions) == [("RemoveContainer", "infra1"), ("StopContainer", "app-app"),
                              ("StartInfra", None), ("StartContainer", "app")]
    assert actions[-1].infra_id == ""  # joins the infra started in the same batch


def test_port_change_replaces_infra():
    pod = make_pod()
    actual = running_pod(pod)
    changed = make_pod(ports=[{"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}])
    actions = sync_pods({"uid-web-0001": changed}, actual)
    assert ("RemoveContainer", "infra1") in kinds(actions) and ("StartInfra", None) in kinds(actions)


def test_unhealthy_container_is_restarted_per_policy():
    pod = make_pod()
    actions = sync_pods({"uid-web-0001": pod}, running_pod(pod, app_restart=1), unhealthy={"app-app"})
    assert kinds(actions) == [("StopContainer", "app-app"), ("StartContainer", "app")]
    assert actions[0].reason == "liveness probe failed" and actions[1].restart_count == 2
    never = make_pod(policy="Never")
    assert kinds(sync_pods({"uid-web-0001": never}, running_pod(never), unhealthy={"app-app"})) == [
        ("StopContainer", "app-app")]


def test_old_dead_instances_are_collected_keeping_the_newest():
    pod = make_pod()
    infra, app = running_pod(pod, app_restart=2)
    old1 = container("d1", pod, "app", running=False, exit_code=1, created=0.5, infra_id="infra1", restart=0)
    old2 = container("d2", pod, "app", running=False, exit_code=1, created=1.5, infra_id="infra1", restart=1)
    assert kinds(sync_pods({"uid-web-0001": pod}, [infra, app, old1, old2])) == [("RemoveContainer", "d1")]


def test_duplicate_running_containers_keep_the_newest():
    pod = make_pod()
    infra, app = running_pod(pod)
    older = container("app-old", pod, "app", infra_id="infra1", created=1.5)
    assert kinds(sync_pods({"uid-web-0001": pod}, [infra, app, older])) == [("StopContainer", "app-old")]


# ---- status --------------------------------------------------------------------------------------
def test_status_running_with_pod_ip_and_restart_count():
    pod = make_pod()
    st = pod_status(pod, running_pod(pod, app_restart=2), "10.0.0.1")
    assert st["phase"] == "Running" and st["podIP"] == "172.17.0.5" and st["hostIP"] == "10.0.0.1"
    [cs] = st["containerStatuses"]
    assert cs["restartCount"] == 2 and cs["ready"] and "running" in cs["state"]
    assert normalize_status(st) == st


def test_status_waiting_reasons():
    pod = make_pod()
    st = pod_status(pod, [], "10.0.0.1")
    assert st["phase"] == "Pending"
    assert st["containerStatuses"][0]["state"]["waiting"]["reason"] == \
        "Image: raftkube/busybox:latest is ready, container is creating"
    reason = 'image "nope" not present and cannot be pulled: no such host'
    st = pod_status(pod, [container("infra1", pod, INFRA_NAME)], "", waiting={"app": reason})
    assert st["phase"] == "Pending" and st["containerStatuses"][0]["state"]["waiting"]["reason"] == reason


@pytest.mark.parametrize("policy,codes,phase", [
    ("Never", [0, 0], "Succeeded"), ("Never", [0, 3], "Failed"), ("OnFailure", [0, 0], "Succeeded"),
    ("OnFailure", [0, 1], "Running"), ("Always", [0, 0], "Running"),
])
def test_status_phase_of_finished_containers(policy, codes, phase):
    pod = make_pod(policy=policy, containers=[{"name": "a", "image": "i"}, {"name": "b", "image": "i"}])
    actual = [container("infra1", pod, INFRA_NAME),
              container("ca", pod, "a", running=False, exit_code=codes[0], infra_id="infra1"),
              container("cb", pod, "b", running=False, exit_code=codes[1], infra_id="infra1")]
    assert pod_status(pod, actual, "")["phase"] == phase


def test_helpers():
    assert cpu_shares(0) == 0 and cpu_shares(1) == 2 and cpu_shares(1000) == 1024 and cpu_shares(500) == 512
    name = docker_name("app", "1a2b3c4d", "web", "default", "0123456789abcdef", "deadbeef")
    assert name == "k8s_app.1a2b3c4d_web.default.api_01234567_deadbeef"
    cfg = app_config(NODE, make_pod(service_env=[{"name": "S_SERVICE_HOST", "value": "h"}]), "uid-web-0001",
                     "app", 2, "infra1", random.Random(1))
    assert cfg.network_of == "infra1" and cfg.env == ("S_SERVICE_HOST=h",) and cfg.command == ("sleep", "1000")
    assert cfg.labels[LABEL_RESTART_COUNT] == "2" and cfg.labels[LABEL_INFRA_ID] == "infra1"
    infra = infra_config(NODE, make_pod(ports=[{"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}]),
                         "uid-web-0001", "pause", random.Random(1))
    assert infra.ports[0].host_port == 8080 and infra.hostname == "web" and infra.name.startswith("k8s_net.")


# ---- liveness probes: which are due, against a fake clock ----------------------------------------
STARTED = parse_time("2014-10-01T00:00:00Z")  # when container() says its instances started


def probed_pod(probe=None, **kw):
    probe = probe or {"exec": {"command": ["check"]}, "initialDelaySeconds": 5}
    return make_pod(containers=[{"name": "app", "image": "i", "livenessProbe": probe}, {"name": "plain", "image": "i"}],
                    **kw)


def due_ids(pods, actual, now, **kw):
    return [(p.uid, p.instance.id, p.pod_ip) for p in due_probes({pod_uid(p): p for p in pods}, actual, now, **kw)]


def test_a_probe_is_due_after_its_initial_delay_and_only_for_containers_that_have_one():
    pod = probed_pod()
    actual = running_pod(pod)
    clock = FakeClock(STARTED + 4.9)
    assert due_ids([pod], actual, clock()) == []
    clock.advance(0.1)
    assert due_ids([pod], actual, clock()) == [("uid-web-0001", "app-app", "172.17.0.5")]
    assert due_ids([make_pod()], running_pod(make_pod()), clock()) == []  # no livenessProbe


def test_a_probe_is_due_again_a_period_after_its_last_run():
    pod = probed_pod()
    actual = running_pod(pod)
    clock = FakeClock(STARTED + 100)
    last = {"app-app": clock()}
    assert due_ids([pod], actual, clock(), last_probed=last, period_s=1.0) == []
    clock.advance(0.999)
    assert due_ids([pod], actual, clock(), last_probed=last, period_s=1.0) == []
    clock.advance(0.001)
    assert len(due_ids([pod], actual, clock(), last_probed=last, period_s=1.0)) == 1
    # the clock was set back: the last probe lies in the future, which does not hold the probe off
    assert len(due_ids([pod], actual, STARTED + 50, last_probed=last, period_s=1.0)) == 1
    # a new instance (another id) has not been probed yet
    restarted = [actual[0], container("app-2", pod, "app", infra_id="infra1", created=3.0, restart=1)]
    assert due_ids([pod], restarted, STARTED + 100, last_probed=last, period_s=1.0)[0][1] == "app-2"


def test_no_probe_for_unhealthy_dead_or_older_instances_nor_pods_gone():
    pod = probed_pod()
    infra, app, plain = running_pod(pod)
    now = STARTED + 100
    assert due_ids([pod], [infra, app, plain], now, unhealthy={"app-app"}) == []
    dead = container("app-app", pod, "app", running=False, exit_code=1, infra_id="infra1")
    assert due_ids([pod], [infra, dead, plain], now) == []
    older = container("app-old", pod, "app", infra_id="infra1", created=1.5)
    assert [i for _, i, _ in due_ids([pod], [infra, older, app, plain], now)] == ["app-app"]
    assert due_ids([], [infra, app, plain], now) == []
    assert due_ids([pod], [app, plain], now) == [("uid-web-0001", "app-app", "")]  # no infra: no pod IP


class ExecRuntime(HollowRuntime):
    """exec answers from ``answers`` (container id -> (code, output)) and records each call."""

    def __init__(self, node, answers=None):
        super().__init__(node)
        self.answers = answers or {}
        self.execs = []

    def exec(self, container_id, command, timeout_s):
        self.execs.append((container_id, list(command)))
        return self.answers.get(container_id, (0, "ok"))


def test_run_probe_exec_accepts_ok_or_exit_code_zero():
    pod = probed_pod()
    [due] = due_probes({"uid-web-0001": pod}, running_pod(pod), STARTED + 100)
    rt = ExecRuntime(NODE, {"app-app": (1, "ok\n")})
    assert run_probe(rt, due, 1.0) == (True, "")
    assert rt.execs == [("app-app", ["check"])]
    rt.answers["app-app"] = (0, "")
    assert run_probe(rt, due, 1.0) == (True, "")
    rt.answers["app-app"] = (2, "boom")
    assert run_probe(rt, due, 1.0) == (False, "exit code 2, output 'boom'")
    assert resolve_port("http", {"ports": [{"name": "http", "containerPort": 8080}]}) == 8080
    assert resolve_port("81", {}) == 81 and resolve_port(82, {}) == 82 and resolve_port("nope", {}) == 0


def test_kubelet_probes_once_per_period_and_restarts_a_failed_container():
    pod = probed_pod(probe={"exec": {"command": ["check"]}})
    clock = FakeClock()  # after the hollow containers' start times
    rt = ExecRuntime(NODE)
    metrics = MinionMetrics()
    k = Kubelet(NODE, None, rt, FakeSource([pod]), "10.0.0.1", KubeletSettings(workers=0, probe_period_s=1.0),
                pusher=RecordingPusher(), clock=clock, rng=random.Random(7), metrics=metrics)
    k.sync_once()
    app = next(c for c in rt.list_containers() if c.container_name == "app")
    k.probe_once()
    k.probe_once()  # the same instant: not due again
    assert rt.execs == [(app.id, ["check"])]
    rt.answers[app.id] = (1, "not ok")
    clock.advance(1.0)
    k.probe_once()
    assert len(rt.execs) == 2
    probes = {s.labels["result"]: s.value for s in metrics.probes.collect()[0].samples
              if s.name.endswith("_total") and s.labels["type"] == "exec"}
    assert probes == {"success": 1, "failure": 1}
    clock.advance(1.0)
    k.probe_once()  # unhealthy: waits for the restart, not for another probe
    assert len(rt.execs) == 2
    k.sync_once()
    running = [c for c in rt.list_containers() if c.container_name == "app" and c.running]
    assert len(running) == 1 and running[0].id != app.id and running[0].restart_count == 1


# ---- the executor over a fake runtime and a fake source ------------------------------------------
class FakeSource:
    def __init__(self, pods):
        self.pods = {pod_uid(p): p for p in pods}
        self.synced = threading.Event()
        self.synced.set()

    def subscribe(self, node, listener):
        pass

    def pods_for(self, node):
        return dict(self.pods)


class RecordingPusher:
    def __init__(self):
        self.pushed = []

    def push(self, pod, done):
        self.pushed.append(pod)
        done(True)


class PickyRuntime(HollowRuntime):
    def ensure_image(self, image, pull_policy):
        if image.startswith("missing/"):
            raise ImageError(f'image "{image}" not present and cannot be pulled: no registry')


def make_kubelet(pods, runtime=None):
    runtime = runtime or PickyRuntime(NODE)
    pusher = RecordingPusher()
    k = Kubelet(NODE, None, runtime, FakeSource(pods), "10.0.0.1",
                   KubeletSettings(workers=0, probe_period_s=0), pusher=pusher, clock=lambda: 1e9,
                   rng=random.Random(7))
    return k, runtime, pusher


def test_kubelet_runs_a_pod_and_pushes_running_once():
    pod = make_pod(containers=[{"name": "a", "image": "i"}, {"name": "b", "image": "i"}])
    k, rt, pusher = make_kubelet([pod])
    k.sync_once()
    cs = rt.list_containers()
    infra = next(c for c in cs if c.is_infra)
    assert sorted(c.container_name for c in cs) == ["a", "b", "net"]
    assert all(c.infra_id == infra.id for c in cs if not c.is_infra)
    assert pusher.pushed[-1]["status"]["phase"] == "Running" and pusher.pushed[-1]["status"]["podIP"] == infra.ip
    assert pusher.pushed[-1]["metadata"]["resourceVersion"] == 0  # status writes are not CAS
    assert k.sync_once() == [] and len(pusher.pushed) == 1


def test_kubelet_restart_adopts_and_crash_restarts():
    pod = make_pod()
    k, rt, pusher = make_kubelet([pod])
    k.sync_once()
    first = {c.id for c in rt.list_containers()}
    k2, _, pusher2 = make_kubelet([dict(pod, status=pusher.pushed[-1]["status"])], runtime=rt)
    assert k2.sync_once() == [] and pusher2.pushed == []  # adopted, status already current
    app = next(c for c in rt.list_containers() if c.container_name == "app")
    rt.kill(app.id, exit_code=1)
    k2.sync_once()
    now_running = [c for c in rt.list_containers() if c.running and c.container_name == "app"]
    assert len(now_running) == 1 and now_running[0].id not in first and now_running[0].restart_count == 1
    assert pusher2.pushed[-1]["status"]["containerStatuses"][0]["restartCount"] == 1


def test_kubelet_image_failure_is_waiting_with_reason():
    pod = make_pod(containers=[{"name": "app", "image": "missing/img:1"}])
    k, rt, pusher = make_kubelet([pod])
    k.sync_once()
    st = pusher.pushed[-1]["status"]
    assert st["phase"] == "Pending"
    assert st["containerStatuses"][0]["state"]["waiting"]["reason"].startswith('image "missing/img:1" not present')


def test_kubelet_kills_containers_of_deleted_pods():
    pod = make_pod()
    k, rt, _ = make_kubelet([pod])
    k.sync_once()
    k.source.pods.clear()
    k.sync_once()
    assert rt.list_containers() == []


def test_a_pod_the_master_failed_is_stopped_here_and_stays_failed():
    """A minion comes back after its pods were failed (NodeLost) and replaced elsewhere: the master
    decided, so the kubelet stops what still runs (host ports freed, no pod running twice), restarts
    nothing, and never reports the pod Running again."""
    pod = make_pod(ports=[{"containerPort": 80, "hostPort": 8080}])
    k, rt, pusher = make_kubelet([pod])
    k.sync_once()
    assert sum(c.running for c in rt.list_containers()) == 2 and pusher.pushed[-1]["status"]["phase"] == "Running"
    pushed = len(pusher.pushed)
    k.source.pods[pod_uid(pod)] = dict(pod, status={"phase": "Failed", "reason": "NodeLost"})
    k.sync_once()
    assert [c.running for c in rt.list_containers()] == [False, False]  # stopped, kept for logs
    k.sync_once()
    k.sync_once()
    assert not any(c.running for c in rt.list_containers()) and len(pusher.pushed) == pushed


def test_planner_stops_every_running_container_of_a_terminated_pod():
    pod = dict(make_pod(), status={"phase": "Failed"})
    actual = running_pod(pod) + [container("old", pod, "app", running=False, exit_code=1, created=0.5)]
    assert kinds(sync_pods({"uid-web-0001": pod}, actual)) == [("StopContainer", "infra1"),
                                                               ("StopContainer", "app-app")]
    assert sync_pods({"uid-web-0001": pod}, [c for c in actual if not c.running]) == []


def test_pod_source_wakes_the_kubelet_when_a_pod_is_terminated_by_status_alone():
    from raftkube.minion.pod_source import newly_terminated
    running, failed = make_pod(), dict(make_pod(), status={"phase": "Failed"})
    running["status"] = {"phase": "Running"}
    assert newly_terminated(running, failed) and not newly_terminated(failed, failed)
    assert not newly_terminated(make_pod(), running)


# ---- the pod source: list once, then resume the watch where it broke -----------------------------
class FlakyWatchClient:
    """list -> one pod; the first watch delivers a bind then breaks (master died); later ones idle."""

    def __init__(self):
        self.lists, self.watch_rvs = 0, []
        self.done = threading.Event()

    def list(self, kind, namespace=None, labels="", fields=""):
        self.lists += 1
        return [make_pod()], 10

    def watch(self, kind, namespace=None, labels="", fields="", resource_version=0):
        from raftkube.model.errors import Unavailable
        from raftkube.model.watch import WatchEvent
        self.watch_rvs.append(resource_version)
        first = len(self.watch_rvs) == 1

        class W:
            def __iter__(w):
                if first:
                    yield WatchEvent("ADDED", make_pod(name="b", uid="uid-b"), 12)
                    raise Unavailable("watch stream ended: ConnectionError")
                self.done.set()
                while not w.closed.wait(0.01):
                    yield None

            def close(w):
                w.closed.set()
        w = W()
        w.closed = threading.Event()
        return w


def test_pod_source_resumes_the_watch_after_a_lost_master():
    client = FlakyWatchClient()
    source = PodSource(client, f"DesiredState.Host={NODE}", retry_s=0.01)
    woken = []
    source.subscribe(NODE, woken.append)
    source.start()
    try:
        assert client.done.wait(5)
    finally:
        source.stop()
    assert client.lists == 1 and client.watch_rvs == [10, 12]
    assert set(source.pods_for(NODE)) == {"uid-web-0001", "uid-b"} and woken
