"""Membership changes at runtime (issue 22): `raftkube members add/remove` and `raftkube master NAME --join`, with
real master processes and the CLI as an operator runs it."""

import json
import shutil
import subprocess
import threading

import requests

from raftkube.testing import MasterCluster, pod_body, poll_until
from raftkube.testing.load import Writers
from raftkube.testing.cluster import running_cluster
from raftkube.testing.processes import CLI
from tests.conftest import call_failed

PODS = "/api/v1beta1/pods"


def cli(cwd, *args, timeout=60):
    return subprocess.run([*CLI, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def add(cluster, name, via):
    api, raft = cluster.new_master(name)
    out = cli(cluster.workdir, "members", "add", name, "--host", "127.0.0.1", "--api-port", api, "--raft-port", raft,
              "-h", cluster.url(via))
    assert out.returncode == 0, out.stderr + out.stdout
    assert f"added master {name}" in out.stdout
    cluster.join(name, via)


def members_of(cluster, name) -> dict:
    return requests.get(cluster.url(name) + "/raft/members", timeout=5).json()


def caught_up(cluster, names) -> None:
    """Every named master has applied everything the leader committed (no writes running)."""
    def ok():
        leader = cluster.wait_ready(names=names)
        commit = cluster.raft(leader)["commitIndex"]
        return all(cluster.raft(n)["appliedIndex"] >= commit for n in names)
    poll_until(ok, 30, what=f"{names} caught up")


def pods_on(cluster, name) -> set[str]:
    r = requests.get(cluster.url(name) + PODS, timeout=20)
    r.raise_for_status()
    return {p["id"] for p in r.json()["items"]}


def assert_every_write_on(cluster, names, writers) -> None:
    assert not writers.errors, writers.errors[:5]
    acked = {n for _, n in writers.acked}
    caught_up(cluster, names)
    for name in names:
        missing = acked - pods_on(cluster, name)
        assert not missing, f"master {name} lacks {len(missing)} acknowledged writes, e.g. {sorted(missing)[:3]}"


def assert_members(cluster, names, expected) -> None:
    """Every named master's member list, and its Raft peers, are ``expected``."""
    addresses = {n: f"127.0.0.1:{cluster.raft_ports[n]}" for n in expected}

    def ok():
        for name in names:
            view = members_of(cluster, name)
            if sorted(m["name"] for m in view["members"]) != sorted(expected):
                return False
            if view["raftPeers"] != sorted(a for n, a in addresses.items() if n != name):
                return False
        return True
    try:
        poll_until(ok, 20, what=f"members of {names} == {sorted(expected)}")
    except AssertionError:
        for name in names:
            view = members_of(cluster, name)
            print(name, [m["name"] for m in view["members"]], view["raftPeers"])
        raise


def test_add_a_fourth_master_under_load_then_remove_an_original(cluster):
    leader = cluster.leader()
    with Writers(cluster.urls) as writers:
        writers.wait_for(50)
        add(cluster, "m4", via=next(n for n in cluster.names if n != leader))  # asked through a follower
        poll_until(lambda: cluster.raft("m4")["ready"], 30, what="m4 caught up")
        writers.wait_for(len(writers.acked) + 50)
        assert_members(cluster, ["m1", "m2", "m3", "m4"], ["m1", "m2", "m3", "m4"])
        # remove the leader: it hands the leadership over first, the new leader removes it
        leader = cluster.wait_ready()
        out = cli(cluster.workdir, "members", "remove", leader, "-h", cluster.url("m4"))
        assert out.returncode == 0, out.stderr + out.stdout
        rest = [n for n in ["m1", "m2", "m3", "m4"] if n != leader]
        assert_members(cluster, rest, rest)
        writers.wait_for(len(writers.acked) + 50)
    assert cluster.stop(leader) in (0, -15)
    assert_every_write_on(cluster, rest, writers)
    view = json.loads(cli(cluster.workdir, "members", "list", "--json", "-h", cluster.url("m4")).stdout)
    assert view["progressKnown"] and all(m["connected"] for m in view["members"])
    assert sorted(m["name"] for m in view["members"]) == sorted(rest)


def test_replace_a_killed_master_whose_data_directory_is_gone(cluster):
    leader = cluster.leader()
    dead = next(n for n in cluster.names if n != leader)
    with Writers(cluster.urls) as writers:
        writers.wait_for(50)
        cluster.kill(dead)
        shutil.rmtree(cluster.data_dir(dead))
        writers.wait_for(len(writers.acked) + 30)
        out = cli(cluster.workdir, "members", "remove", dead)
        assert out.returncode == 0, out.stderr + out.stdout
        add(cluster, "m5", via=leader)
        poll_until(lambda: cluster.raft("m5")["ready"], 30, what="m5 caught up")
        writers.wait_for(len(writers.acked) + 50)
    rest = [n for n in ["m1", "m2", "m3", "m5"] if n != dead]
    assert_members(cluster, rest, rest)
    assert_every_write_on(cluster, rest, writers)


def test_refused_membership_changes(cluster, tmp_path):
    leader = cluster.leader()
    follower = next(n for n in cluster.names if n != leader)
    wd = cluster.workdir
    taken = cluster.raft_ports[follower]
    cases = [  # (args, message)
        (["add", follower, "--host", "127.0.0.1", "--api-port", 1, "--raft-port", 2], f"a master named '{follower}'"),
        (["add", "m9", "--host", "127.0.0.1", "--api-port", 1, "--raft-port", taken], f"is master {follower}'s"),
        (["remove", "nope"], "no master named 'nope'"),
    ]
    for args, message in cases:
        out = cli(wd, "members", *args, "-h", cluster.url(follower))
        assert out.returncode == 1 and message in out.stderr, (args, out.stderr, out.stdout)
    r = requests.delete(cluster.url(leader) + "/raft/members/nope", timeout=10)
    assert r.status_code == 404 and r.json()["kind"] == "Status" and r.json()["reason"] == "NotFound"
    r = requests.post(cluster.url(leader) + "/raft/members", json={"name": follower, "host": "127.0.0.1",
                                                                   "apiPort": 1, "raftPort": 2}, timeout=10)
    assert r.status_code == 409 and r.json()["reason"] == "AlreadyExists"
    r = requests.post(cluster.url(leader) + "/raft/members", json={"name": "m9", "host": "a:b", "apiPort": 1,
                                                                   "raftPort": 2}, timeout=10)
    assert r.status_code == 400 and '"host"' in r.json()["message"]
    r = requests.post(cluster.url(follower) + "/raft/members", json={"name": "m9", "host": "127.0.0.1",
                                                                     "apiPort": 1, "raftPort": 2}, timeout=10)
    assert r.status_code == 503 and r.json()["reason"] == "NotLeader" and f"the leader is {leader}" in r.text
    # two changes at once (two: five members, three running, keep a quorum): the second is refused while the
    # first is in flight, or comes after it was committed
    answers = []

    def post(name, port):
        answers.append(requests.post(cluster.url(leader) + "/raft/members", json={
            "name": name, "host": "127.0.0.1", "apiPort": port, "raftPort": port + 1}, timeout=20))
    threads = [threading.Thread(target=post, args=(f"x{i}", 40000 + 10 * i)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {a.status_code for a in answers} <= {201, 409} and 201 in {a.status_code for a in answers}, \
        [a.text for a in answers]
    for a in answers:
        if a.status_code == 409:
            assert "in progress" in a.json()["message"] or "not committed yet" in a.json()["message"], a.text
    added = {a.json()["member"]["name"] for a in answers if a.status_code == 201}
    assert {m["name"] for m in members_of(cluster, leader)["members"]} == set(cluster.names) | added
    # a master that was not added cannot join
    out = cli(wd, "master", "m9", "--join", cluster.url(follower), "--config", cluster.config)
    assert out.returncode == 1 and "the cluster has no master m9" in out.stderr, out.stderr[-500:]
    assert not (cluster.workdir / "data" / "m9").exists()
    # the last master cannot be removed
    (tmp_path / "solo").mkdir()
    solo = MasterCluster(tmp_path / "solo", n=1)
    try:
        solo.start_all()
        out = cli(solo.workdir, "members", "remove", "m1")
        assert out.returncode == 1 and "last master" in out.stderr, out.stderr
        r = requests.delete(solo.url("m1") + "/raft/members/m1", timeout=10)
        assert r.status_code == 409 and r.json()["reason"] == "Conflict"
        assert solo.raft("m1")["role"] == "leader"
    finally:
        solo.close()


#: snapshots every few seconds: a joining master gets one, and restarts load their member list from them
SNAPSHOTS = "[raft]\nlog_compaction_min_entries = 20\nlog_compaction_min_time_s = 3\n"


def test_the_member_list_survives_a_restart_of_every_master(tmp_path, request):
    with running_cluster(tmp_path, extra_toml=SNAPSHOTS, failed=lambda: call_failed(request)) as cluster:
        check_restarts(cluster)


def check_restarts(cluster):
    cluster.leader()
    with Writers(cluster.urls) as writers:
        writers.wait_for(100)
        poll_until(lambda: all(cluster.raft(n)["snapshots"]["count"] for n in cluster.names), 30,
                   what="a snapshot on every master")
        add(cluster, "m4", via="m1")
        poll_until(lambda: cluster.raft("m4")["ready"], 30, what="m4 caught up")
        writers.wait_for(len(writers.acked) + 100)
    assert (cluster.data_dir("m4") / "raft.dump").exists()  # it started from the leader's snapshot
    assert cli(cluster.workdir, "members", "remove", "m3").returncode == 0
    assert cluster.stop("m3") in (0, -15)
    expected = ["m1", "m2", "m4"]
    assert_members(cluster, expected, expected)
    for name in expected:
        assert cluster.stop(name) in (0, -15)
    # cluster.toml still lists m1-m3 and not m4: the data directories' member lists win
    for name in expected:
        cluster.start(name)  # m4 without --join too
    cluster.wait_ready(names=expected, timeout_s=30)
    assert_members(cluster, expected, expected)
    requests.post(cluster.url(cluster.leader()) + PODS, json=pod_body("after"), timeout=10).raise_for_status()
    # a removed master restarted with its old data does not rejoin: the others refuse its connections
    cluster.start("m3")
    poll_until(lambda: cluster.raft("m3")["role"] in ("follower", "candidate"), 10, what="m3 up")
    assert cluster.wait_ready(names=expected) in expected
    for name in expected:
        assert "m3" not in {m["name"] for m in members_of(cluster, name)["members"]}
    assert_every_write_on(cluster, expected, writers)


# ---- the rule pysyncobj does not keep: a change waits until the previous one is committed ---------------------

def solo_store(tmp_path, name):
    from raftkube.config import RaftConfig
    from raftkube.state.raft import RaftStore
    from raftkube.testing import free_ports
    [port] = free_ports(1)
    store = RaftStore(name, f"127.0.0.1:{port}", {}, tmp_path / name, "s" * 32, RaftConfig(), fsync=False)
    poll_until(lambda: store.leadership.epoch, 10.0, what="the store leading")
    return store


def test_pysyncobj_appends_a_second_change_before_the_first_commits_and_reconfig_refuses_it(tmp_path):
    """A cluster of one adds a master that is not running: the change cannot commit (it needs both). pysyncobj's
    own addNodeToCluster appends a second change anyway (its ``__changeClusterIDx`` is never set); raftkube's
    path refuses it while the first is pending (the refusal while it is in the log uncommitted: tests/unit)."""
    from raftkube.model.errors import Conflict, NotLeader, Unavailable
    from raftkube.state.members import record
    from raftkube.testing import free_ports
    a, b, c, d = free_ports(4)
    raw = solo_store(tmp_path, "raw")
    try:
        answers = []
        raw._raft.addNodeToCluster(f"127.0.0.1:{a}", callback=lambda r, e: answers.append(e))
        raw._raft.addNodeToCluster(f"127.0.0.1:{b}", callback=lambda r, e: answers.append(e))
        poll_until(lambda: len(raw._raft.otherNodes) == 2, 5, what="both changes in effect")
        assert answers == []  # neither committed, neither refused: two uncommitted changes in the log
    finally:
        raw.close()
    store = solo_store(tmp_path, "solo")
    try:
        out = []
        first = threading.Thread(target=lambda: out.append(_attempt(store, record("x1", "127.0.0.1", c, c))))
        first.start()
        poll_until(lambda: len(store._raft.otherNodes) == 1, 5, what="the first change in effect")
        second = _attempt(store, record("x2", "127.0.0.1", d, d))
        assert isinstance(second, Conflict) and "in progress (adding x1)" in second.message
        first.join()
        assert isinstance(out[0], Unavailable), out  # it cannot commit: x1 is not running
        # the leader of a two-member configuration hearing no one stepped down; the change stays in its log
        third = _attempt(store, record("x2", "127.0.0.1", d, d))
        assert isinstance(third, NotLeader) and len(store._raft.otherNodes) == 1
    finally:
        store.close()


def _attempt(store, rec):
    from raftkube.model.errors import ApiError
    try:
        return store.change_members("add", rec, 1.0)
    except ApiError as exc:
        return exc
