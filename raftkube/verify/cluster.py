"""The masters under test, one per network namespace, configured by address as on separate hosts.

The run's folder holds one ``cluster.toml`` (each master's ``host`` is its namespace's address, the same
ports everywhere, as on real machines) and one secret file that every master reads: on real hosts that file
is copied to each of them (0600) before the first start, since every master must hold the same secret.
Each master's data directory is on a power-loss disk of its own (raftkube.testing.lazyfs) when the run has
power faults. A master is ``nsenter --net=<its namespace> python -m raftkube.cli master NAME``: nsenter
execs, so the process id is the master's own (kill -9, SIGSTOP hit it directly).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import requests

from raftkube.pki import ensure_pki
from raftkube.testing.lazyfs import LazyMount
from raftkube.testing.processes import stop_process
from raftkube.testing.waiting import poll_until
from raftkube.verify.netns import Network

API_PORT, RAFT_PORT, SECURE_PORT = 8080, 7001, 6443


class Cluster:
    def __init__(self, folder: Path, net: Network, *, power: bool, unsafe_stale_reads: bool = False):
        self.folder = folder
        self.net = net
        self.names = net.names
        self.power = power
        self.unsafe = unsafe_stale_reads
        self.procs: dict[str, subprocess.Popen] = {}
        self.paused: set[str] = set()
        self.disks: dict[str, LazyMount] = {}
        secret = folder / "secret"
        secret.write_text(secrets.token_hex(32))
        secret.chmod(0o600)
        lines = ["[cluster]", 'data_dir = "data"', 'secret_file = "secret"', ""]
        for name in self.names:
            lines += ["[[masters]]", f'name = "{name}"', f'host = "{net.address(name)}"',
                      f"api_port = {API_PORT}", f"raft_port = {RAFT_PORT}", f"secure_port = {SECURE_PORT}",
                      'cpu = "none"', ""]
        self.config = folder / "cluster.toml"
        self.config.write_text("\n".join(lines))
        # as on real hosts: the plain port is loopback only, so clients use the secure port, as the admin
        self.pki = ensure_pki(folder / "data" / "pki", [(n, net.address(n)) for n in self.names], [])
        self.token = self.pki.token_of("admin")
        self.session = self.new_session()

    def new_session(self) -> requests.Session:
        """A session that trusts the cluster's CA and sends the admin's token."""
        session = requests.Session()
        session.verify = str(self.pki.ca_cert)
        session.trust_env = False  # $REQUESTS_CA_BUNDLE would replace the CA given here (requests issue 3829)
        session.headers["Authorization"] = f"Bearer {self.token}"
        return session

    def url(self, name: str) -> str:
        return f"https://{self.net.address(name)}:{SECURE_PORT}"

    def data_dir(self, name: str) -> Path:
        return self.folder / "data" / name

    def start_all(self) -> None:
        if self.power:
            for name in self.names:
                disk = LazyMount(self.folder / "disks" / name, self.data_dir(name),
                                 log_path=self.folder / f"lazyfs-{name}.log")
                self.disks[name] = disk
                disk.start()
        else:
            for name in self.names:
                self.data_dir(name).mkdir(parents=True, exist_ok=True)
        for name in self.names:
            self.start(name)
        self.wait_ready()

    def start(self, name: str) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if self.unsafe:
            env["RAFTKUBE_UNSAFE_STALE_READS"] = "1"
        with open(self.folder / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen(
                ["nsenter", f"--net={self.net.netns_path(name)}", sys.executable, "-m", "raftkube.cli", "master",
                 name, "--config", str(self.config)], stdout=log, stderr=subprocess.STDOUT, cwd=self.folder,
                env=env)

    def raft(self, name: str) -> dict:
        return self.session.get(self.url(name) + "/raft", timeout=1).json()

    def leader(self) -> str | None:
        """The leader as the running, unpaused masters see it, if they agree."""
        seen = set()
        for name in self.running():
            try:
                seen.add(self.raft(name).get("leader"))
            except (requests.RequestException, ValueError):
                continue
        return seen.pop() if len(seen) == 1 else None

    def running(self) -> list[str]:
        return [n for n, p in self.procs.items() if p.poll() is None and n not in self.paused]

    def wait_ready(self, timeout_s: float = 30.0) -> str:
        def ok():
            statuses = [self.raft(n) for n in self.names]
            leaders = {s["leader"] for s in statuses}
            return all(s["ready"] for s in statuses) and len(leaders) == 1 and leaders.pop()
        return poll_until(ok, timeout_s, 0.1, what=f"masters {self.names} ready with a leader")

    # ---- process faults (nemesis.py) --------------------------------------------------------------------
    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        if name in self.paused:
            self.paused.discard(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def pause(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGSTOP)
        self.paused.add(name)

    def resume(self, name: str) -> None:
        self.paused.discard(name)
        if name in self.procs:
            self.procs[name].send_signal(signal.SIGCONT)

    def power_cut(self, names: list[str]) -> dict[str, int]:
        """kill -9 and drop what their disks had not synced; boot them again. Bytes lost per master."""
        for name in names:
            if name in self.procs:
                self.kill(name)
        lost = {}
        for name in names:
            lost[name] = self.disks[name].cut().get("dirty_bytes", 0)
        for name in names:
            self.disks[name].remount()
            self.start(name)
        return lost

    def close(self, kill: bool = False) -> list[str]:
        """Stop every master (resumed, then SIGTERM, or SIGKILL with ``kill``: all signalled first, then
        waited for), unmount the disks; return what did not stop cleanly."""
        problems = []
        for name in list(self.paused):
            self.resume(name)
        for proc in self.procs.values():
            proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        for name, proc in list(self.procs.items()):
            try:
                stop_process(proc, signal.SIGKILL if kill else signal.SIGTERM, 15, f"master {name}")
            except AssertionError as exc:
                problems.append(str(exc))
        self.procs.clear()
        for disk in self.disks.values():
            try:
                disk.close(kill=kill)
            except Exception as exc:  # keep unmounting the others
                problems.append(f"disk {disk.mountpoint}: {exc}")
        self.session.close()
        return problems
