"""`raftkube verify` end to end: masters in network namespaces, the workload, the nemesis and the checkers.

First the checker's own test: with reads served from local state (the test-only RAFTKUBE_UNSAFE_STALE_READS
switch: no read index), partitions must make the register check fail. Then the CI-sized mixed run: 60 s of
every fault, every check holds, and nothing is left behind (namespaces, mounts, processes).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from raftkube.testing.waiting import poll_until
from raftkube.verify import netns
from raftkube.verify.run import Options, run


def leftovers() -> tuple[list[str], list[str]]:
    mounts = [line for line in Path("/proc/mounts").read_text().splitlines() if "rkv-" in line or "lazyfs" in line]
    return netns.ours(), mounts


def test_stale_local_reads_are_reported_not_linearizable(tmp_path):
    outcome = run(Options(seconds=20, faults=["partition"], seed=3, folder=tmp_path / "report",
                          unsafe_stale_reads=True, fault_s=(3, 5), quiet_s=2, check_budget_s=30))
    by_name = {c.name: c for c in outcome.checks}
    assert by_name["linearizable registers"].ok is False, outcome.text
    assert "not linearizable" in "\n".join(by_name["linearizable registers"].details)
    assert not outcome.ok
    assert leftovers() == ([], [])


def test_a_second_run_removes_what_a_crashed_one_left():
    subprocess.run(["ip", "netns", "add", "rkv-m9"], check=True)  # as if an earlier run had been killed
    with netns.Network(["m1", "m2"]) as net:
        assert sorted(netns.ours()) == ["rkv-m1", "rkv-m2", "rkv-net"]
        net.drop("m1", "m2")
        assert "drop" in net.rules("m1")
        assert netns.in_ns("rkv-m1", "ping", "-c1", "-W1", net.address("m2"), check=False).returncode != 0
        assert netns.in_ns("rkv-m1", "ping", "-c1", "-W1", netns.HOST_ADDRESS, check=False).returncode == 0
        net.heal()
        assert netns.in_ns("rkv-m1", "ping", "-c1", "-W2", net.address("m2"), check=False).returncode == 0
    assert netns.ours() == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_leaves_nothing_behind(tmp_path, sig):
    folder = tmp_path / "report"
    with subprocess.Popen([sys.executable, "-m", "raftkube.cli", "verify", "--seconds", "300", "--faults", "power",
                           "--report", str(folder)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True, preexec_fn=_default_sigint) as proc:
        try:
            history = folder / "history.jsonl"
            poll_until(lambda: history.exists() and history.stat().st_size > 2000, 60, 0.2, what="ops in the history")
            assert len(netns.ours()) == 4 and leftovers()[1]  # the namespaces and the lazyfs disks are there
            proc.send_signal(sig)
            try:
                out, _ = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:  # where it hangs: every thread's stack (cli/verify.py's SIGUSR1)
                proc.send_signal(signal.SIGUSR1)
                try:
                    stacks = proc.communicate(timeout=5)[0]
                except subprocess.TimeoutExpired as exc:
                    stacks = exc.output
                pytest.fail(f"the run did not stop within 60 s of signal {sig}; its output and stacks:\n{stacks}")
        finally:
            if proc.poll() is None:  # it did not stop: remove everything it made, so no later test inherits it
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                remove_leftovers(tmp_path)
    assert proc.returncode != 0, out
    assert leftovers() == ([], [])
    assert not [line for line in Path("/proc/self/mounts").read_text().splitlines() if str(tmp_path) in line]
    assert not processes_of(folder)


def _default_sigint() -> None:
    """Ctrl-C as at a terminal: a shell's background job (`.ci/run &`) ignores SIGINT, the child would inherit
    that, and Python installs its KeyboardInterrupt handler only where SIGINT is not ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def remove_leftovers(tmp_path: Path) -> None:
    """After a run that had to be killed: its masters and lazyfs daemons, mounts and namespaces."""
    for line in Path("/proc/mounts").read_text().splitlines():
        mountpoint = line.split()[1]
        if mountpoint.startswith(str(tmp_path)):
            subprocess.run(["fusermount3", "-u", "-z", mountpoint], check=False)
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(tmp_path).encode() in cmdline.read_bytes():
                os.kill(int(cmdline.parent.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue
    netns.cleanup()


def processes_of(folder: Path) -> list[str]:
    """Processes whose command line names the run's folder (its masters, its lazyfs daemons)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(folder) in args:
            found.append(args)
    return found


def test_a_mixed_60_second_run_holds_every_check(tmp_path):
    folder = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-m", "raftkube.cli", "verify", "--seconds", "60", "--seed", "7",
                           "--faults", "kill,pause,partition,netem,power", "--report", str(folder)],
                          capture_output=True, text=True, timeout=400)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr[-3000:]
    assert "VERDICT: ok: 0 anomalies" in out
    for check in ("linearizable registers", "acknowledged creates", "watches", "availability"):
        assert any(line.startswith(check) and " ok " in line for line in out.splitlines()), check
    faults = next(line for line in out.splitlines() if line.startswith("faults"))
    assert faults.count(",") >= 2, faults  # several kinds of fault happened in one minute
    page = (folder / "report.html").read_text()
    assert "data:image/png;base64," in page and "all checks hold" in page
    assert (folder / "history.jsonl").stat().st_size > 0 and (folder / "m1.log").exists()
    assert leftovers() == ([], [])
