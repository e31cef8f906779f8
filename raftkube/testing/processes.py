"""Processes in tests and benchmarks: free loopback ports, the CLI started with its output in a log file,
and stopping a process that must stop by itself (and saying so loudly when it had to be killed)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterable

CLI = (sys.executable, "-m", "raftkube.cli")  # the program behind `raftkube` and `kubecfg`, from this interpreter


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports free on 127.0.0.1 right now (all bound at once, then released)."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def start_cli(args: Iterable[object], log_path: Path, *, cwd: Path) -> subprocess.Popen:
    """Start ``python -m raftkube.cli <args>`` in ``cwd`` with stdout and stderr appended to ``log_path``
    (unbuffered, so the log is current while it runs) and return the process; the caller stops it."""
    with open(log_path, "ab") as log:
        return subprocess.Popen([*CLI, *(str(a) for a in args)], stdout=log, stderr=subprocess.STDOUT,
                                cwd=cwd, env=dict(os.environ, PYTHONUNBUFFERED="1"))


def stop_process(proc: subprocess.Popen, sig: int, timeout_s: float, what: str) -> int:
    """Send ``sig`` and wait for the exit code; kill and fail loudly if it does not stop in time."""
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"{what} did not stop within {timeout_s:.0f} s of signal {sig}; killed") from None
