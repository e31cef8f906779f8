"""Test helpers: waiting on conditions with deadlines, free ports, and real master processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def poll_until(predicate, timeout_s: float = 10.0, interval_s: float = 0.05, what: str = "condition"):
    """Return the first truthy value of ``predicate()``; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # keep polling through connection errors etc.
            last_exc = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}"
                                 + (f" (last error: {last_exc!r})" if last_exc else ""))
        time.sleep(interval_s)


def holds_for(predicate, duration_s: float, interval_s: float = 0.05, what: str = "condition") -> None:
    """Assert that ``predicate()`` stays true for a whole observation window (for "nothing happens" checks,
    where there is no event to wait for); fails at the first sample where it is false."""
    deadline = time.monotonic() + duration_s
    while True:
        assert predicate(), f"{what} stopped holding within {duration_s}s"
        if time.monotonic() >= deadline:
            return
        time.sleep(interval_s)


def stop_process(proc: subprocess.Popen, sig: int, timeout_s: float, what: str) -> int:
    """Send ``sig`` and wait for the exit code; kill and fail loudly if it does not stop in time."""
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"{what} did not stop within {timeout_s:.0f} s of signal {sig}; killed") from None


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class MasterCluster:
    """Three (or n) real `raftkube master` processes on free loopback ports, with their own data dir."""

    def __init__(self, workdir: Path, n: int = 3, extra_toml: str = ""):
        self.workdir = workdir
        self.names = [f"m{i + 1}" for i in range(n)]
        ports = free_ports(2 * n)
        self.api_ports = dict(zip(self.names, ports[:n]))
        self.raft_ports = dict(zip(self.names, ports[n:]))
        lines = ['[cluster]', 'data_dir = "data"', 'secret_file = "data/secret"', ""]
        for name in self.names:
            lines += ["[[masters]]", f'name = "{name}"', 'host = "127.0.0.1"',
                      f"api_port = {self.api_ports[name]}", f"raft_port = {self.raft_ports[name]}", ""]
        self.config = workdir / "cluster.toml"
        self.config.write_text("\n".join(lines) + extra_toml)
        self.procs: dict[str, subprocess.Popen] = {}
        self.session = requests.Session()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.api_ports[name]}"

    @property
    def urls(self) -> list[str]:
        return [self.url(n) for n in self.names]

    def start(self, name: str) -> None:
        log = open(self.workdir / f"{name}.log", "ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "raftkube.cli", "master", name, "--config", str(self.config)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir)
        log.close()

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
        out = []
        for name in self.names:
            p = self.workdir / f"{name}.log"
            if p.exists():
                out.append(f"----- {name} -----\n" + p.read_text(errors="replace")[-4000:])
        return "\n".join(out)


def pod_body(name: str, image: str = "busybox", host_port: int = 0, labels: dict | None = None) -> dict:
    """A v1beta1 pod in the article's shape."""
    port = {"containerPort": 80}
    if host_port:
        port["hostPort"] = host_port
    return {"id": name, "labels": labels or {"name": name},
            "desiredState": {"manifest": {"version": "v1beta1", "id": name,
                                          "containers": [{"name": "c", "image": image, "ports": [port]}]}}}
