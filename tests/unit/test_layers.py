"""DESIGN.md's layers and import directions, checked by import-linter on every test run."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "broken" in proc.stdout and "0 broken" in proc.stdout


def test_the_http_client_loads_no_store_code():
    """Minions, the proxy and the CLI are HTTP clients: importing the client pulls in no registry, no state
    machine, no msgpack and no Raft library (checked in a fresh interpreter, so lazy imports count too)."""
    code = ("import sys, raftkube.client; "
            "print(' '.join(m for m in sys.modules if m.split('.')[0] in ('msgpack', 'pysyncobj') "
            "or m.startswith(('raftkube.registry', 'raftkube.state'))))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == []
