"""Real Docker engine tests. The engine must be running (``.ci/run`` starts it): no engine is a failure,
never a skip. Every container a test makes carries the label ``io.raftkube.test-run=<run id>`` and is
removed at teardown, whatever happened."""

from __future__ import annotations

import signal
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from raftkube.client import HttpClient
from raftkube.minion.images import ensure_images
from raftkube.minion.runtime import LABEL_NODE
from raftkube.testing import free_ports, poll_until, running_cluster, start_cli, stop_process
from tests.conftest import call_failed

RUN_ID = uuid.uuid4().hex[:10]
RUN_LABEL = "io.raftkube.test-run"


@pytest.fixture(scope="session")
def docker_client():
    import docker
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the engine
        pytest.fail(f"the Docker engine is not reachable ({exc}); start it (dockerd) before tests/docker "
                    "— .ci/run does", pytrace=False)
    ensure_images(client)
    yield client
    leftovers = client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={RUN_ID}"})
    for c in leftovers:
        c.remove(force=True)
    client.close()


@pytest.fixture(scope="module")
def masters(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("masters")) as c:
        yield c


@pytest.fixture(scope="module")
def api(masters):
    return HttpClient(masters.urls)


class MinionProc:
    """A real `raftkube minion` process on Docker, its containers labelled with the test run."""

    def __init__(self, workdir: Path, masters: list[str], name: str):
        self.workdir, self.masters, self.name = workdir, masters, name
        self.port = free_ports(1)[0]
        self.proc: subprocess.Popen | None = None
        self.log_path = workdir / f"{name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "MinionProc":
        self.proc = start_cli(
            ["minion", "--masters", ",".join(self.masters), "--name", self.name, "--address", "127.0.0.1",
             "--port", self.port, "--heartbeat", "1", "--label", f"test-node={self.name}",
             "--container-label", f"{RUN_LABEL}={RUN_ID}"], self.log_path, cwd=self.workdir)
        poll_until(lambda: requests.get(self.url + "/healthz", timeout=1).text == "ok", 20,
                   what=f"minion {self.name} serving")
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        stop_process(proc, signal.SIGTERM, 15, f"minion {self.name}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""


@pytest.fixture
def minion(masters, docker_client, tmp_path, request):
    name = f"dk-{RUN_ID[:6]}-{request.node.name.split('[')[0][5:30].replace('_', '-').strip('-')}"
    m = MinionProc(tmp_path, masters.urls, name).start()
    yield m
    try:
        m.stop()
    finally:
        if call_failed(request):
            print(m.logs())
        for c in docker_client.containers.list(all=True, filters={"label": [f"{RUN_LABEL}={RUN_ID}",
                                                                           f"{LABEL_NODE}={name}"]}):
            c.remove(force=True)
