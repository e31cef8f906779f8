"""Real `raftkube master` processes on free loopback ports, each cluster in its own work directory.

``MasterCluster`` writes a ``cluster.toml`` for n masters (free API and Raft ports) and starts, kills,
restarts and stops them; it is also used only for its ``cluster.toml`` by the tests of ``raftkube up``.
``running_cluster`` is the whole life of one in a ``with`` block: start, wait for a leader with its
controllers, stop every master, and print their logs when something went wrong.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import requests

from raftkube.testing.processes import free_ports, start_cli, stop_process
from raftkube.testing.waiting import poll_until


class MasterCluster:
    """Three (or n) real `raftkube master` processes on free loopback ports, with their own data dir."""

    def __init__(self, workdir: Path, n: int = 3, extra_toml: str = "", cluster_toml: str = "",
                 secure: bool = False):
        """``extra_toml`` is appended to the file (whole sections); ``cluster_toml`` goes into [cluster];
        ``secure``: every master also has a TLS ``secure_port`` (the caller runs ``raftkube init`` first)."""
        self.workdir = workdir
        self.names = [f"m{i + 1}" for i in range(n)]
        ports = free_ports(3 * n)
        self.api_ports = dict(zip(self.names, ports[:n]))
        self.raft_ports = dict(zip(self.names, ports[n:2 * n]))
        self.secure_ports = dict(zip(self.names, ports[2 * n:])) if secure else {}
        lines = ['[cluster]', 'data_dir = "data"', 'secret_file = "data/secret"', cluster_toml, ""]
        for name in self.names:
            lines += ["[[masters]]", f'name = "{name}"', 'host = "127.0.0.1"',
                      f"api_port = {self.api_ports[name]}", f"raft_port = {self.raft_ports[name]}",
                      f"secure_port = {self.secure_ports[name]}" if secure else "", ""]
        self.config = workdir / "cluster.toml"
        self.config.write_text("\n".join(lines) + extra_toml)
        self.procs: dict[str, subprocess.Popen] = {}
        self.session = requests.Session()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.api_ports[name]}"

    @property
    def urls(self) -> list[str]:
        return [self.url(n) for n in self.names]

    def data_dir(self, name: str) -> Path:
        """Where master ``name`` keeps its journal and snapshots."""
        return self.workdir / "data" / name

    def start(self, name: str) -> None:
        """Start master ``name`` (again, after a kill: it keeps its data dir); its log is ``<name>.log``."""
        self.procs[name] = start_cli(["master", name, "--config", self.config], self.workdir / f"{name}.log",
                                     cwd=self.workdir)

    def new_master(self, name: str) -> tuple[int, int]:
        """Free API and Raft ports for a master added at runtime (``members add``, then ``join``)."""
        api, raft = free_ports(2)
        self.names.append(name)
        self.api_ports[name], self.raft_ports[name] = api, raft
        return api, raft

    def join(self, name: str, via: str) -> None:
        """Start master ``name`` (added with ``members add``) with ``--join`` the API of master ``via``."""
        self.procs[name] = start_cli(["master", name, "--join", self.url(via), "--config", self.config],
                                     self.workdir / f"{name}.log", cwd=self.workdir)

    def start_all(self) -> "MasterCluster":
        for name in self.names:
            self.start(name)
        self.wait_ready()
        return self

    def running(self) -> list[str]:
        return [n for n, p in self.procs.items() if p.poll() is None]

    def raft(self, name: str, timeout_s: float = 1.0) -> dict:
        return self.session.get(self.url(name) + "/raft", timeout=timeout_s).json()

    def wait_ready(self, names=None, timeout_s: float = 20.0) -> str:
        """Wait until every named master is ready and one of them leads with controllers claimed."""
        names = names or self.running()

        def ok():
            statuses = [self.raft(n) for n in names]
            leaders = {s["leader"] for s in statuses}
            if all(s["ready"] for s in statuses) and len(leaders) == 1 and None not in leaders:
                leader = leaders.pop()
                if leader in names and self.raft(leader)["controllersActive"]:
                    return leader
                if leader not in names:
                    return leader
            return None
        return poll_until(ok, timeout_s, what=f"masters {names} ready with a leader")

    def leader(self) -> str:
        return self.wait_ready()

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        proc.wait(timeout=10)

    def stop(self, name: str) -> int:
        return stop_process(self.procs.pop(name), signal.SIGTERM, 10, f"master {name}")

    def close(self) -> None:
        """Stop every running master with SIGTERM; fail (after stopping them all) if one did not exit cleanly."""
        problems = []
        for name in list(self.procs):
            try:
                code = self.stop(name)
                if code not in (0, -signal.SIGTERM):
                    problems.append(f"{name} exited with {code}")
            except AssertionError as exc:
                problems.append(str(exc))
        self.session.close()
        if problems:
            raise AssertionError("; ".join(problems))

    def logs(self) -> str:
        """The last 4 000 characters of every master's log, for a failure report."""
        out = []
        for name in self.names:
            p = self.workdir / f"{name}.log"
            if p.exists():
                out.append(f"----- {name} -----\n" + p.read_text(errors="replace")[-4000:])
        return "\n".join(out)


@contextlib.contextmanager
def running_cluster(workdir: Path, n: int = 3, extra_toml: str = "",
                    failed: Callable[[], bool] = lambda: False, cluster_toml: str = "") -> Iterator[MasterCluster]:
    """A started ``MasterCluster`` for the ``with`` block, closed at its end whatever happened.

    The masters' logs are printed if they did not all start, if the block raised, if a master did not stop
    cleanly, or if ``failed()`` says so at the end (a pytest fixture passes "the test failed").
    """
    cluster = MasterCluster(workdir, n, extra_toml, cluster_toml)
    ok = False
    try:
        cluster.start_all()
        yield cluster
        ok = True
    finally:
        try:
            cluster.close()
        except AssertionError:
            ok = False
            raise
        finally:
            if not ok or failed():
                print(cluster.logs())


@contextlib.contextmanager
def raft_trio(tmp_path: Path, prepare=None):
    """Three ``RaftStore`` replicas in this process on free loopback ports, without fsync (tests of Raft rules
    that need to reach into a node: state/prevote.py, state/election.py); ``prepare(store)`` runs on each as it
    is made. Yields (stores, {name: address}); closes them all."""
    from raftkube.config import RaftConfig
    from raftkube.state.raft import RaftStore
    addrs = {f"m{i}": f"127.0.0.1:{p}" for i, p in enumerate(free_ports(3))}
    stores = []
    try:
        for name, addr in addrs.items():
            peers = {n: a for n, a in addrs.items() if n != name}
            store = RaftStore(name, addr, peers, tmp_path / name, "s" * 32, RaftConfig(), fsync=False)
            if prepare is not None:
                prepare(store)
            stores.append(store)
        yield stores, addrs
    finally:
        for store in stores:
            store.close()
