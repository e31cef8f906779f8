"""`raftkube up`: one foreground command for the whole cluster; Ctrl-C stops it; data survives a second run."""

import re
import signal
import subprocess
from pathlib import Path

import requests

from raftkube.testing import MasterCluster, poll_until, pod_body, start_cli, stop_process


def run_up(layout: MasterCluster, log_name: str) -> subprocess.Popen:
    return start_cli(["up", "--config", layout.config, "--minions", "1", "--runtime", "hollow"],
                     layout.workdir / log_name, cwd=layout.workdir)


def stop(proc: subprocess.Popen) -> int:
    return stop_process(proc, signal.SIGINT, 40, "raftkube up")


def test_up_streams_prefixed_logs_stops_on_ctrl_c_and_keeps_data(tmp_path):
    # writes cluster.toml with free ports (and TLS ports: `raftkube up` makes the pki); `raftkube up` starts everything
    layout = MasterCluster(tmp_path, secure=True)
    first = run_up(layout, "up1.log")
    try:
        poll_until(lambda: "raftkube is up" in (tmp_path / "up1.log").read_text(errors="replace"), 60,
                   what="the cluster to come up")
        def every_prefix():
            text = (tmp_path / "up1.log").read_text(errors="replace")
            return text if all(f"[{n}" in text for n in ("m1", "m2", "m3", "minion-1")) else None

        text = poll_until(every_prefix, 30, what="every process's prefixed log lines")
        assert layout.urls[0] in text and "kubecfg" in text and "minion-1: pid" in text
        r = requests.post(layout.urls[1] + "/api/v1beta1/pods", json=pod_body("survivor"), timeout=10)
        assert r.status_code == 200, r.text
        poll_until(lambda: requests.get(layout.urls[2] + "/api/v1beta1/pods/survivor", timeout=3)
                   .json()["currentState"]["status"] == "Running", 30, what="the hollow minion running the pod")
        # the kubeconfig `raftkube up` wrote and printed: stock kubectl reads the same pod through core/v1, over
        # https (the secure port, the cluster CA, the admin's client certificate)
        kcfg = re.search(r"export KUBECONFIG=(\S+)", text).group(1)
        assert kcfg.startswith(str(tmp_path)) and kcfg.endswith("/kubeconfig")
        assert f"server: https://127.0.0.1:{layout.secure_ports['m1']}" in Path(kcfg).read_text()
        got = subprocess.run(["kubectl", "--kubeconfig", str(kcfg), "--cache-dir", str(tmp_path / "kcache"), "get",
                              "pod", "survivor", "-o", "wide"], capture_output=True, text=True, timeout=60)
        assert got.returncode == 0, got.stderr
        row = got.stdout.splitlines()[1].split()
        assert row[:3] == ["survivor", "1/1", "Running"] or row[:3] == ["survivor", "0/1", "Running"], row
    finally:
        assert stop(first) == 0
    assert "stopped" in (tmp_path / "up1.log").read_text(errors="replace")

    second = run_up(layout, "up2.log")
    try:
        poll_until(lambda: "raftkube is up" in (tmp_path / "up2.log").read_text(errors="replace"), 60,
                   what="the cluster to come up again")
        got = requests.get(layout.urls[0] + "/api/v1beta1/pods/survivor", timeout=10)
        assert got.status_code == 200 and got.json()["id"] == "survivor"
    finally:
        assert stop(second) == 0
