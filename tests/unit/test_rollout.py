"""resize --wait, stop/rm and rollingupdate as plain functions: a fake cluster, a fake clock, no sleeping.

The fake answers the HTTP client's ``request`` for one replication controller and its pods and records
every call; its replication manager acts on the fake clock (a deleted pod comes back ``replace_after_s``
later; the current replica count moves one step every ``step_s`` towards the desired one), so the tests
see exactly which requests, waits and progress lines each function produces.
"""

from __future__ import annotations

import pytest

from raftkube.cli import rollout
from raftkube.cli.rollout import RolloutError
from raftkube.model.errors import Conflict, NotFound

RC_PATH = "/api/v1beta1/replicationControllers/web"
PODS_PATH = "/api/v1beta1/pods"


class FakeTime:
    """``clock()`` and ``sleep(s)`` for the functions under test: sleeping only moves the clock, and is recorded."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


class _Resp:
    def __init__(self, doc):
        self.doc = doc

    def json(self):
        return self.doc


class FakeCluster:
    """One controller ``web`` (selector name=web) and its pods, behind ``request``; records every call."""

    def __init__(self, time: FakeTime, pods=("web-b", "web-a"), *, replicas=None, containers=None,
                 replace_after_s: float | None = 0.5, step_s: float = 1.0, conflicts: int = 0,
                 running_after_s: float = 0.0, terminated=()):
        self.time = time
        if containers is None:
            containers = [{"name": "web", "image": "nginx:1"}]
        self.rc = {"kind": "ReplicationController", "id": "web", "uid": "rc-uid", "resourceVersion": 7,
                   "desiredState": {"replicas": len(pods) if replicas is None else replicas,
                                    "replicaSelector": {"name": "web"},
                                    "podTemplate": {"labels": {"name": "web"}, "desiredState": {
                                        "manifest": {"version": "v1beta1", "containers": containers}}}}}
        self.pods = {name: None for name in pods}  # name -> when it appears (None: it exists)
        self.replace_after_s = replace_after_s
        self.running_after_s = running_after_s  # a replacement is Waiting this long after it appears
        self.running_at: dict[str, float] = {}
        self.terminated = list(terminated)  # pods that match but have terminated (listed, never deleted)
        self.step_s = step_s
        self.current = len(pods)
        self.current_at = time.now
        self.conflicts = conflicts
        self.calls: list[tuple[str, str]] = []
        self.delete_bodies: list[dict | None] = []
        self.replaced = 0

    def _live_pods(self) -> list[str]:
        return [n for n, at in self.pods.items() if at is None or at <= self.time.now]

    def _current_replicas(self) -> int:
        desired = self.rc["desiredState"]["replicas"]
        while self.current != desired and self.time.now >= self.current_at + self.step_s:
            self.current += 1 if desired > self.current else -1
            self.current_at += self.step_s
        if self.current == desired:
            self.current_at = self.time.now
        return self.current

    def request(self, method, path, params=None, body=None):
        self.calls.append((method, path))
        if method == "DELETE":
            self.delete_bodies.append(body)
        if path == RC_PATH and method == "GET":
            return _Resp({**self.rc, "currentState": {"replicas": self._current_replicas()}})
        if path == RC_PATH and method == "PUT":
            if self.conflicts:
                self.conflicts -= 1
                raise Conflict('replicationController "web" was changed: try again')
            assert body["resourceVersion"] == self.rc["resourceVersion"]
            self.rc = {k: v for k, v in body.items() if k != "currentState"}
            self.rc["resourceVersion"] += 1
            return _Resp(self.rc)
        if path == RC_PATH and method == "DELETE":
            return _Resp({"kind": "Status", "status": "Success"})
        if path == PODS_PATH and method == "GET":
            assert params == {"labels": "name=web"}
            items = [{"id": n, "uid": f"uid-{n}", "currentState": {"status": "Running" if self.running_at.get(n, 0) <= self.time.now
                                                else "Waiting"}} for n in sorted(self._live_pods())]
            items += [{"id": n, "currentState": {"status": "Terminated"}} for n in self.terminated]
            return _Resp({"kind": "PodList", "items": items})
        if path.startswith(PODS_PATH + "/") and method == "DELETE":
            name = path.rsplit("/", 1)[1]
            if self.pods.pop(name, "gone") == "gone":
                raise NotFound(f'pod "{name}" not found')
            if self.replace_after_s is not None:
                self.replaced += 1
                self.pods[f"web-new-{self.replaced}"] = self.time.now + self.replace_after_s
                self.running_at[f"web-new-{self.replaced}"] = (self.time.now + self.replace_after_s
                                                               + self.running_after_s)
            return _Resp({"kind": "Status", "status": "Success"})
        raise AssertionError((method, path))

    def deleted_pods(self) -> list[str]:
        return [p.rsplit("/", 1)[1] for m, p in self.calls if m == "DELETE" and p.startswith(PODS_PATH + "/")]


@pytest.fixture
def fake_time():
    return FakeTime()


# ---- set_replicas -----------------------------------------------------------------------------------

def test_set_replicas_reads_then_writes_the_count(fake_time):
    cluster = FakeCluster(fake_time)
    stored = rollout.set_replicas(cluster, "web", 5)
    assert stored["desiredState"]["replicas"] == 5 and stored["resourceVersion"] == 8
    assert cluster.calls == [("GET", RC_PATH), ("PUT", RC_PATH)]
    assert "currentState" not in cluster.rc


def test_set_replicas_rereads_after_a_conflict_and_gives_up_after_five(fake_time):
    cluster = FakeCluster(fake_time, conflicts=2)
    assert rollout.set_replicas(cluster, "web", 3)["desiredState"]["replicas"] == 3
    assert cluster.calls == [("GET", RC_PATH), ("PUT", RC_PATH)] * 3
    cluster = FakeCluster(fake_time, conflicts=5)
    with pytest.raises(Conflict):
        rollout.set_replicas(cluster, "web", 3)
    assert cluster.calls == [("GET", RC_PATH), ("PUT", RC_PATH)] * rollout.SET_REPLICAS_ATTEMPTS


# ---- wait_replicas ----------------------------------------------------------------------------------

def test_wait_replicas_reports_each_change_once_until_the_count_is_reached(fake_time):
    cluster = FakeCluster(fake_time, step_s=1.0)
    rollout.set_replicas(cluster, "web", 4)
    lines = []
    rollout.wait_replicas(cluster, "web", 4, 60, lines.append, clock=fake_time.clock, sleep=fake_time.sleep)
    assert lines == ['replicationController "web": 2/4 replicas', 'replicationController "web": 3/4 replicas',
                     'replicationController "web": 4/4 replicas']
    assert set(fake_time.sleeps) == {rollout.REPLICAS_POLL_S} and fake_time.now == pytest.approx(1002.0)


def test_wait_replicas_returns_at_once_when_already_there(fake_time):
    cluster = FakeCluster(fake_time)
    lines = []
    rollout.wait_replicas(cluster, "web", 2, 60, lines.append, clock=fake_time.clock, sleep=fake_time.sleep)
    assert lines == ['replicationController "web": 2/2 replicas'] and fake_time.sleeps == []


def test_wait_replicas_times_out_with_the_current_count_and_never_sleeps_past_the_deadline(fake_time):
    cluster = FakeCluster(fake_time, step_s=100.0)
    rollout.set_replicas(cluster, "web", 0)
    lines = []
    with pytest.raises(RolloutError) as caught:
        rollout.wait_replicas(cluster, "web", 0, 1.25, lines.append, clock=fake_time.clock, sleep=fake_time.sleep)
    assert str(caught.value) == ('timed out after 1.25s waiting for replicationController "web" to have 0 replicas '
                                 '(it has 2)')
    assert lines == ['replicationController "web": 2/0 replicas']
    assert fake_time.sleeps == [0.5, 0.5, 0.25]  # the last wait is what is left of the 1.25 s
    assert fake_time.now == 1001.25


# ---- remove_controller ------------------------------------------------------------------------------

def test_remove_controller_is_refused_while_it_wants_replicas(fake_time):
    cluster = FakeCluster(fake_time)
    with pytest.raises(RolloutError, match=r"^controller has non-zero replicas \(2\), please stop it first$"):
        rollout.remove_controller(cluster, "web")
    assert cluster.calls == [("GET", RC_PATH)]


def test_remove_controller_deletes_a_stopped_controller(fake_time):
    cluster = FakeCluster(fake_time, replicas=0)
    assert rollout.remove_controller(cluster, "web") == {"kind": "Status", "status": "Success"}
    assert cluster.calls == [("GET", RC_PATH), ("DELETE", RC_PATH)]
    # only the controller it checked: resized up or created again since, it is not deleted (409)
    assert cluster.delete_bodies == [{"kind": "DeleteOptions", "apiVersion": "v1beta1",
                                      "preconditions": {"uid": "rc-uid", "resourceVersion": 7}}]


# ---- rolling_update ---------------------------------------------------------------------------------

def test_rolling_update_sets_the_image_then_replaces_pods_in_name_order(fake_time):
    cluster = FakeCluster(fake_time, pods=("web-b", "web-a", "web-c"), replace_after_s=0.5)
    lines = []
    replaced = rollout.rolling_update(cluster, "web", image="nginx:2", period_s=10, timeout_s=30,
                                      progress=lines.append, clock=fake_time.clock, sleep=fake_time.sleep)
    assert replaced == 3
    assert cluster.rc["desiredState"]["podTemplate"]["desiredState"]["manifest"]["containers"][0]["image"] == "nginx:2"
    assert cluster.calls[:2] == [("GET", RC_PATH), ("PUT", RC_PATH)]
    assert cluster.deleted_pods() == ["web-a", "web-b", "web-c"]
    assert [b["preconditions"] for b in cluster.delete_bodies] == [{"uid": "uid-web-a"}, {"uid": "uid-web-b"},
                                                                  {"uid": "uid-web-c"}]
    assert lines == [
        'replicationController "web": template image is now nginx:2',
        "[1/3] deleted pod web-a; waiting for its replacement", "[1/3] 3/3 pods running", "waiting 10s before the next pod",
        "[2/3] deleted pod web-b; waiting for its replacement", "[2/3] 3/3 pods running", "waiting 10s before the next pod",
        "[3/3] deleted pod web-c; waiting for its replacement", "[3/3] 3/3 pods running",
        'replicationController "web": all 3 pods replaced']
    poll = rollout.REPLACEMENT_POLL_S
    assert fake_time.sleeps == [poll, poll, poll, 10, poll, poll, poll, 10, poll, poll, poll]  # no pause after the last


def test_rolling_update_without_image_leaves_the_template_and_skips_a_zero_period(fake_time):
    cluster = FakeCluster(fake_time, replace_after_s=0.0)
    lines = []
    assert rollout.rolling_update(cluster, "web", image=None, period_s=0, timeout_s=30, progress=lines.append,
                                  clock=fake_time.clock, sleep=fake_time.sleep) == 2
    assert ("PUT", RC_PATH) not in cluster.calls
    assert fake_time.sleeps == [] and not [line for line in lines if line.startswith("waiting")]


def test_rolling_update_with_no_matching_pods_has_nothing_to_do(fake_time):
    cluster = FakeCluster(fake_time, pods=())
    lines = []
    assert rollout.rolling_update(cluster, "web", image=None, period_s=10, timeout_s=30, progress=lines.append,
                                  clock=fake_time.clock, sleep=fake_time.sleep) == 0
    assert lines == ['replicationController "web": no pods match name=web; nothing to replace']
    assert cluster.deleted_pods() == [] and fake_time.sleeps == []


def test_rolling_update_refuses_a_template_without_containers(fake_time):
    cluster = FakeCluster(fake_time, containers=[])
    lines = []
    with pytest.raises(RolloutError, match=r'^replicationController "web" has no container in its template$'):
        rollout.rolling_update(cluster, "web", image="nginx:2", period_s=0, timeout_s=30, progress=lines.append,
                               clock=fake_time.clock, sleep=fake_time.sleep)
    assert cluster.calls == [("GET", RC_PATH)] and lines == []


def test_rolling_update_times_out_when_a_pod_is_not_replaced_and_leaves_the_rest(fake_time):
    cluster = FakeCluster(fake_time, replace_after_s=None)
    lines = []
    with pytest.raises(RolloutError) as caught:
        rollout.rolling_update(cluster, "web", image=None, period_s=0, timeout_s=1, progress=lines.append,
                               clock=fake_time.clock, sleep=fake_time.sleep)
    assert str(caught.value) == ('timed out after 1s waiting for replicationController "web" to replace pod '
                                 '"web-a" (1/2 pods running)')
    assert cluster.deleted_pods() == ["web-a"] and list(cluster.pods) == ["web-b"]
    assert lines == ["[1/2] deleted pod web-a; waiting for its replacement"]
    assert fake_time.now - 1000.0 == pytest.approx(1.0)


def test_rolling_update_goes_on_when_a_pod_is_already_gone(fake_time):
    cluster = FakeCluster(fake_time, replace_after_s=0.0)
    real_request = cluster.request

    def request(method, path, params=None, body=None):
        if method == "DELETE" and path.endswith("/web-a"):
            cluster.calls.append((method, path))
            cluster.pods.pop("web-a")
            cluster.pods["web-new-0"] = None  # the controller replaced it before our DELETE arrived
            raise NotFound('pod "web-a" not found')
        return real_request(method, path, params, body)

    cluster.request = request
    lines = []
    assert rollout.rolling_update(cluster, "web", image=None, period_s=0, timeout_s=5, progress=lines.append,
                                  clock=fake_time.clock, sleep=fake_time.sleep) == 2
    assert cluster.deleted_pods() == ["web-a", "web-b"]
    assert lines[-1] == 'replicationController "web": all 2 pods replaced'


def test_rolling_update_waits_for_each_replacement_to_be_running_not_just_to_exist(fake_time):
    cluster = FakeCluster(fake_time, replace_after_s=0.0, running_after_s=3.0)
    lines = []
    assert rollout.rolling_update(cluster, "web", image=None, period_s=0, timeout_s=30, progress=lines.append,
                                  clock=fake_time.clock, sleep=fake_time.sleep) == 2
    assert fake_time.now - 1000.0 >= 6.0  # two replacements, each Waiting for 3 s before it runs
    assert lines[:2] == ["[1/2] deleted pod web-a; waiting for its replacement", "[1/2] 2/2 pods running"]


def test_rolling_update_ignores_terminated_pods(fake_time):
    cluster = FakeCluster(fake_time, replace_after_s=0.0, terminated=["web-0-done"])
    lines = []
    assert rollout.rolling_update(cluster, "web", image=None, period_s=0, timeout_s=5, progress=lines.append,
                                  clock=fake_time.clock, sleep=fake_time.sleep) == 2
    assert cluster.deleted_pods() == ["web-a", "web-b"]  # the terminated pod is neither replaced nor counted
    assert lines[-1] == 'replicationController "web": all 2 pods replaced'
