"""Power loss: every master's data directory on the power-loss file system (raftkube.testing.lazyfs), cut
under concurrent creates and compare-and-set updates. No acknowledged write is lost, every master ends with
the same objects, and no master votes twice in a term. The same cut with ``fsync = false`` loses
acknowledged writes: that is what shows the test can see a loss at all.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from raftkube.state.journal import DurableJournal
from raftkube.testing import MasterCluster, poll_until, service_body
from raftkube.testing.lazyfs import LazyMount

SERVICES = "/api/v1beta1/services"


class Workload:
    """Writers on every master: creates of unique services, and compare-and-set counters (a service each,
    its label ``v``, GET then PUT with the resourceVersion). Only a 200 counts as acknowledged."""

    def __init__(self, urls: list[str], creators: int = 3, counters: int = 2):
        self.urls = urls
        self.created: set[str] = set()  # acknowledged creates
        self.counter_values: dict[str, int] = {}  # counter -> last acknowledged value
        self.acked = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._create, args=(k,), name=f"create-{k}", daemon=True)
                         for k in range(creators)]
        self._threads += [threading.Thread(target=self._count, args=(f"counter-{k}",), name=f"cas-{k}",
                                           daemon=True) for k in range(counters)]

    def __enter__(self) -> "Workload":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=15)

    def _ack(self) -> None:
        with self._lock:
            self.acked += 1

    def wait_acked(self, more: int, timeout_s: float, what: str) -> None:
        target = self.acked + more
        poll_until(lambda: self.acked >= target, timeout_s, what=f"{more} more acknowledged writes ({what})")

    def _create(self, k: int) -> None:
        session = requests.Session()
        for i in itertools.count():
            if self._stop.is_set():
                return
            name = f"svc-{k}-{i}"
            try:
                r = session.post(self.urls[(k + i) % len(self.urls)] + SERVICES,
                                 json=service_body(name, 9000, {"app": name}), timeout=3)
            except requests.RequestException:
                continue  # unknown outcome: not counted
            if r.status_code == 200:
                with self._lock:
                    self.created.add(name)
                self._ack()

    def _count(self, name: str) -> None:
        session = requests.Session()
        for i in itertools.count():
            if self._stop.is_set():
                return
            url = self.urls[i % len(self.urls)] + SERVICES
            try:
                r = session.get(f"{url}/{name}", timeout=3)
                if r.status_code == 404:
                    body = {**service_body(name, 9000, {"app": name}), "labels": {"v": "0"}}
                    if session.post(url, json=body, timeout=3).status_code == 200:
                        self.counter_values.setdefault(name, 0)
                    continue
                if r.status_code != 200:
                    continue
                obj = r.json()
                value = int(obj["labels"]["v"]) + 1
                obj["labels"]["v"] = str(value)
                r = session.put(f"{url}/{name}", json=obj, timeout=3)
            except requests.RequestException:
                continue
            if r.status_code == 200:
                with self._lock:
                    self.counter_values[name] = max(self.counter_values.get(name, 0), value)
                self._ack()


@contextlib.contextmanager
def cluster_on_lazyfs(tmp_path: Path, request, fsync: bool):
    cluster = MasterCluster(tmp_path, cluster_toml=f"fsync = {'true' if fsync else 'false'}")
    disks = {n: LazyMount(tmp_path / f"disk-{n}", cluster.data_dir(n), log_path=tmp_path / f"lazyfs-{n}.log")
             for n in cluster.names}
    try:
        for disk in disks.values():
            disk.start()
        cluster.start_all()
        yield cluster, disks
    finally:
        try:
            cluster.close()
        finally:
            for disk in disks.values():
                disk.close()
            rep = getattr(request.node, "rep_call", None)
            if rep is None or rep.failed:
                print(cluster.logs())
    assert not any(d.pid for d in disks.values())


def power_cut(cluster: MasterCluster, disks: dict, names: list[str]) -> None:
    """kill -9, then drop what those masters' disks had not synced; boot them again."""
    for n in names:
        cluster.kill(n)
    for n in names:
        disks[n].cut()
    for n in names:
        disks[n].remount()
        cluster.start(n)


def cut_a_majority(cluster: MasterCluster, disks: dict, wl: Workload) -> None:
    """The third master is paused while the other two acknowledge writes (so only they hold them), then the
    two lose power; the third resumes and the two boot again."""
    wl.wait_acked(30, 30, "before the faults")
    lagging, *majority = cluster.names
    cluster.procs[lagging].send_signal(signal.SIGSTOP)
    try:
        wl.wait_acked(40, 30, f"with {lagging} paused")
        for n in majority:
            cluster.kill(n)
    finally:
        cluster.procs[lagging].send_signal(signal.SIGCONT)
    for n in majority:
        disks[n].cut()
    for n in majority:
        disks[n].remount()
        cluster.start(n)


def cut_all(cluster: MasterCluster, disks: dict, wl: Workload) -> None:
    wl.wait_acked(60, 30, "before the power cut")
    power_cut(cluster, disks, cluster.names)


def lost_writes(cluster: MasterCluster, wl: Workload) -> dict[str, list[str]]:
    """After the masters converged: per master, the acknowledged writes its state lacks."""
    session = requests.Session()

    def local(n: str) -> dict:
        items = session.get(cluster.url(n) + SERVICES + "?resourceVersion=0", timeout=5).json()["items"]
        return {s["id"]: s.get("labels", {}).get("v") for s in items}

    def converged():
        revisions = {cluster.raft(n)["revision"] for n in cluster.names}
        return len(revisions) == 1 and all(cluster.raft(n)["ready"] for n in cluster.names)
    poll_until(converged, 30, what="every master at the same revision")
    states = {n: local(n) for n in cluster.names}
    assert all(s == states[cluster.names[0]] for s in states.values()), "the masters' states differ"
    lost = {}
    for n, state in states.items():
        missing = sorted(wl.created - set(state))
        missing += [f"{c}={v} (has {state.get(c)})" for c, v in wl.counter_values.items()
                    if state.get(c) is None or int(state[c]) < v]
        lost[n] = missing
    return lost


def votes(cluster: MasterCluster) -> dict[str, dict[int, set[str]]]:
    """Every vote each master's journal recorded, over all its runs: master -> term -> candidates."""
    out = {}
    for n in cluster.names:
        seen: dict[int, set[str]] = {}
        for term, who in re.findall(r"term (\d+): vote for (\S+)", (cluster.workdir / f"{n}.log").read_text()):
            seen.setdefault(int(term), set()).add(who)
        out[n] = seen
    return out


@pytest.mark.parametrize("fault", [cut_a_majority, cut_all], ids=["two of three", "all three"])
def test_a_power_cut_loses_no_acknowledged_write(tmp_path, request, fault):
    with cluster_on_lazyfs(tmp_path, request, fsync=True) as (cluster, disks):
        with Workload(cluster.urls) as wl:
            fault(cluster, disks, wl)
            cluster.wait_ready(timeout_s=30)
            wl.wait_acked(30, 30, "after the masters came back")
        lost = lost_writes(cluster, wl)
        assert lost == {n: [] for n in cluster.names}
        assert len(wl.created) > 50 and all(v > 5 for v in wl.counter_values.values())
        cast = votes(cluster)
        double = {n: {t: c for t, c in terms.items() if len(c) > 1} for n, terms in cast.items()}
        assert double == {n: {} for n in cluster.names}, "a master voted twice in one term"
        assert sum(len(terms) for terms in cast.values()) >= 2  # elections did happen around the cut


@pytest.mark.parametrize("fault", [cut_a_majority, cut_all], ids=["two of three", "all three"])
def test_without_fsync_the_same_cut_loses_acknowledged_writes(tmp_path, request, fault):
    """The control: the harness and the checks above do see a loss when the journal is not synced."""
    with cluster_on_lazyfs(tmp_path, request, fsync=False) as (cluster, disks):
        with Workload(cluster.urls) as wl:
            fault(cluster, disks, wl)
            cluster.wait_ready(timeout_s=30)
            wl.wait_acked(10, 30, "after the masters came back")
        assert sum(cut["dirty_bytes"] for d in disks.values() for cut in d.cuts) > 0
        lost = lost_writes(cluster, wl)
        assert all(lost[n] for n in cluster.names), lost


@pytest.mark.parametrize("fsync", [True, False])
def test_the_vote_is_on_disk_before_it_is_cast(tmp_path, fsync):
    """A vote forgotten in a power cut lets the same master vote again in that term, for someone else."""
    disk = LazyMount(tmp_path / "disk", tmp_path / "mnt")
    with disk:
        journal = DurableJournal(disk.mountpoint, fsync=fsync)
        journal.setCurrentTerm(5, "127.0.0.1:7002")  # pysyncobj sends the vote right after this returns
        disk.cut()  # nothing else happened: no close, no sync thread tick
        journal._stop = True
        disk.remount()
        again = DurableJournal(disk.mountpoint, fsync=fsync)
        remembered = (again.getCurrentTerm(), again.getVotedForNodeId())
        again._destroy()
    assert remembered == ((5, "127.0.0.1:7002") if fsync else (0, None))
