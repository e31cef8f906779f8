"""`raftkube up`: the masters of a cluster.toml and N local minions as child processes, in one foreground command.

Each child's output is streamed with a `[name]` prefix; Ctrl-C (or SIGTERM) stops them all, minions first.
Data stays on disk, so running it again brings the same objects back.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Callable, TextIO

from raftkube.config import ClusterConfig
from raftkube.kubeconfig import cluster_kubeconfig, write_kubeconfig
from raftkube.pki import Pki, ensure_pki

log = logging.getLogger(__name__)

RESTART_DELAY_S = 2.0


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    pump: threading.Thread | None = None


@dataclass
class ProcessGroup:
    """Child processes whose output is copied, line by line and prefixed, to one stream."""

    out: TextIO = sys.stdout
    children: dict[str, Child] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, name: str, argv: list[str], cwd: str | None = None) -> Child:
        child = Child(name, argv)
        child.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        child.pump = threading.Thread(target=self._pump, args=(child,), name=f"log-{name}", daemon=True)
        child.pump.start()
        self.children[name] = child
        return child

    def _pump(self, child: Child) -> None:
        width = max(len(n) for n in self.children) if self.children else len(child.name)
        for raw in child.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            with self._lock:
                self.out.write(f"[{child.name:<{width}}] {line}\n")
                self.out.flush()

    def exited(self) -> list[tuple[str, int]]:
        """Children that are no longer running, with their exit codes."""
        return [(c.name, c.proc.returncode) for c in self.children.values() if c.proc.poll() is not None]

    def stop(self, names: list[str] | None = None, timeout_s: float = 15.0) -> None:
        """SIGTERM, then SIGKILL whatever is still running after ``timeout_s``."""
        targets = [self.children[n] for n in (names or list(self.children)) if n in self.children]
        for c in targets:
            if c.proc.poll() is None:
                c.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for c in targets:
            try:
                c.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0f s of SIGTERM: killing it", c.name, timeout_s)
                c.proc.kill()
                c.proc.wait()
            if c.pump is not None:
                c.pump.join(timeout=2)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def wait_for(predicate: Callable[[], bool], timeout_s: float, stop: threading.Event) -> bool:
    deadline = time.monotonic() + timeout_s
    while not stop.is_set() and time.monotonic() < deadline:
        if predicate():
            return True
        stop.wait(0.1)
    return False


def master_argv(config: ClusterConfig, name: str) -> list[str]:
    return [sys.executable, "-m", "raftkube.cli", "master", name, "--config", str(config.path)]


def minion_argv(config: ClusterConfig, index: int, runtime: str, container_labels: tuple[str, ...] = ()) -> list[str]:
    name = f"minion-{index + 1}"
    argv = [sys.executable, "-m", "raftkube.cli", "minion", "--name", name, "--runtime", runtime,
            "--port", str(10250 + index), "--address", "127.0.0.1", "--proxy-share-ports"]
    if config.masters and all(m.secure_port for m in config.masters):  # as on another host: TLS and the minion's own credential
        pki = Pki(config.pki_dir)
        cert, key = pki.minion(name)
        argv += ["--masters", ",".join(m.secure_url for m in config.masters),
                 "--certificate-authority", str(pki.ca_cert), "--client-certificate", str(cert), "--client-key", str(key)]
    else:
        argv += ["--masters", ",".join(config.api_urls)]
    # every minion runs its service proxy (as on separate hosts); on this one host they share the service
    # ports (SO_REUSEPORT) and the kernel spreads the connections among them
    for label in container_labels:
        argv += ["--container-label", label]
    return argv


def run_up(config: ClusterConfig, minions: int, runtime: str, stop: threading.Event,
           out: TextIO = sys.stdout, container_labels: tuple[str, ...] = ()) -> int:
    """Run the cluster until ``stop`` is set or a child dies; returns a process exit code."""
    group = ProcessGroup(out=out)
    pki = ensure_pki(config.pki_dir, [(m.name, m.host) for m in config.masters],
                     [(f"minion-{i + 1}", "127.0.0.1") for i in range(minions)])
    try:
        for m in config.masters:
            group.start(m.name, master_argv(config, m.name), cwd=str(config.path.parent))
        if not wait_for(lambda: all(_ready(u) for u in config.api_urls), 60, stop):
            if stop.is_set():
                return 0
            out.write("raftkube up: the masters did not become ready within 60 s (see their logs above)\n")
            return 1
        for i in range(minions):
            group.start(f"minion-{i + 1}", minion_argv(config, i, runtime, container_labels),
                        cwd=str(config.path.parent))
        urls = ",".join(config.api_urls)
        secure = ",".join(m.secure_url for m in config.masters if m.secure_url)
        kcfg = write_kubeconfig(config.data_dir / "kubeconfig", cluster_kubeconfig(config))
        out.write(
            f"\nraftkube is up: {len(config.masters)} masters, {minions} minion(s) ({runtime}).\n"
            f"  API:  {urls}   (plain HTTP, loopback only, no credential needed)\n"
            + (f"        {secure}   (TLS: CA and credentials in {config.pki_dir})\n" if secure else "") +
            f"  CLI:  kubecfg list /pods          (reads ./cluster.toml, or: export KUBERNETES_MASTER={urls})\n"
            f"        kubecfg status              (role, leader and term of every master)\n"
            f"  kubectl: export KUBECONFIG={kcfg}   (one context per master: raftkube-<name>)\n"
            f"  Stop: Ctrl-C\n\n")
        out.flush()
        for name, child in group.children.items():
            out.write(f"  {name}: pid {child.proc.pid}\n")
        out.flush()
        restarts: dict[str, float] = {}
        while not stop.wait(0.5):
            # a supervisor, like the 2014 init scripts: a child that dies is reported and restarted
            for name, code in group.exited():
                due = restarts.setdefault(name, time.monotonic() + RESTART_DELAY_S)
                if time.monotonic() >= due:
                    del restarts[name]
                    child = group.children[name]
                    group.start(name, child.argv, cwd=str(config.path.parent))
                    out.write(f"raftkube up: {name} exited with code {code}; restarted it "
                              f"(pid {group.children[name].proc.pid})\n")
                    out.flush()
        return 0
    finally:
        minion_names = [n for n in group.children if n.startswith("minion-")]
        group.stop(minion_names)
        group.stop()
