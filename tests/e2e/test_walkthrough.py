"""The article's walkthrough, through the CLI, on a `raftkube up` cluster with a real Docker minion.

create the pod -> list it Running -> create the replication controller -> delete its pod and watch it come
back -> create a service and reach the pod through it -> kill -9 the leader master and keep working.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from raftkube.testing import MasterCluster, poll_until, start_cli, stop_process

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "walkthrough"
RUN_LABEL = "io.raftkube.test-run"
RUN_ID = uuid.uuid4().hex[:10]
SERVICE_PORT = 10000


@pytest.fixture
def docker_engine():
    import docker
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"the Docker engine is not reachable ({exc}); .ci/run starts it", pytrace=False)
    yield client
    for c in client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={RUN_ID}"}):
        c.remove(force=True)
    client.close()


@pytest.fixture
def up_cluster(tmp_path, docker_engine):
    layout = MasterCluster(tmp_path)  # only writes cluster.toml with free ports; `raftkube up` starts it
    proc = start_cli(["up", "--config", layout.config, "--minions", "1", "--runtime", "docker",
                      "--container-label", f"{RUN_LABEL}={RUN_ID}"], tmp_path / "up.log", cwd=tmp_path)
    try:
        poll_until(lambda: "raftkube is up" in (tmp_path / "up.log").read_text(errors="replace"), 60,
                   what="raftkube up to start the cluster")
        yield layout
    finally:
        try:
            code = stop_process(proc, signal.SIGINT, 40, "raftkube up")
        except AssertionError as exc:
            code = str(exc)
        text = (tmp_path / "up.log").read_text(errors="replace")
        if code != 0:
            print(text[-6000:])
        assert code == 0, f"raftkube up did not stop cleanly on Ctrl-C (exit {code})"


def kubecfg(cluster: MasterCluster, *args: str, ok: bool = True) -> str:
    proc = subprocess.run([sys.executable, "-m", "raftkube.cli", *args], cwd=cluster.workdir, capture_output=True,
                          text=True, timeout=60)
    if ok:
        assert proc.returncode == 0, f"kubecfg {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def pod_rows(cluster) -> list[list[str]]:
    lines = kubecfg(cluster, "list", "/pods").splitlines()
    return [line.split() for line in lines[2:] if line.strip()]


def service_answer() -> str:
    return requests.get(f"http://127.0.0.1:{SERVICE_PORT}/", timeout=3).text


def test_article_walkthrough(up_cluster):
    c = up_cluster
    # 1. create the pod from the article's file (image made local) and see it Running
    kubecfg(c, "-c", str(EXAMPLES / "redis.json"), "create", "/pods")
    header = kubecfg(c, "list", "/pods").splitlines()[0].split()
    assert header == ["ID", "Image(s)", "Host", "Labels", "Status"]
    poll_until(lambda: [r for r in pod_rows(c) if r[0] == "redis" and r[-1] == "Running"], 60,
               what="pod redis Running")
    row = next(r for r in pod_rows(c) if r[0] == "redis")
    assert row[1] == "raftkube/busybox" and row[2].startswith("minion-1/") and row[3] == "name=redis"

    # 2. the replication controller adopts it; delete the pod and it comes back
    out = kubecfg(c, "-c", str(EXAMPLES / "redisController.json"), "create", "/replicationControllers")
    assert "redisController" in out
    rcs = kubecfg(c, "list", "/replicationControllers").splitlines()
    assert rcs[0].split() == ["ID", "Image(s)", "Selector", "Replicas"]
    assert rcs[2].split() == ["redisController", "raftkube/busybox", "name=redis", "1"]
    kubecfg(c, "delete", "pods/redis")
    replacement = poll_until(lambda: next((r for r in pod_rows(c) if r[0] != "redis" and r[-1] == "Running"), None),
                             60, what="the replication controller's replacement pod Running")
    assert len(pod_rows(c)) == 1

    # 3. a service reaches the pod through the minion's proxy
    kubecfg(c, "-c", str(EXAMPLES / "redisService.json"), "create", "/services")
    answer = poll_until(service_answer, 30, what="an answer through the service port")
    assert answer.startswith("redis pod")

    # 4. kill -9 the leader master; the cluster keeps working
    leader = c.wait_ready(names=c.names)
    pid = requests.get(c.url(leader) + "/raft", timeout=3).json()["pid"]
    os.kill(pid, signal.SIGKILL)
    survivors = [n for n in c.names if n != leader]
    poll_until(lambda: any(requests.get(c.url(n) + "/raft", timeout=1).json()["controllersActive"]
                           for n in survivors), 15, what="a new leader")
    kubecfg(c, "delete", f"pods/{replacement[0]}")
    poll_until(lambda: next((r for r in pod_rows(c) if r[0] != replacement[0] and r[-1] == "Running"), None), 60,
               what="a replacement pod Running after the leader kill")
    assert poll_until(service_answer, 30, what="the service answering again").startswith("redis pod")
    status = kubecfg(c, "status")
    assert "leader" in status

    # clean up through the CLI, the 2014 way: stop the controller, remove it, delete pods and service
    kubecfg(c, "stop", "redisController")
    kubecfg(c, "rm", "redisController")
    for row in pod_rows(c):
        kubecfg(c, "delete", f"pods/{row[0]}", ok=False)
    kubecfg(c, "delete", "services/redismaster")
