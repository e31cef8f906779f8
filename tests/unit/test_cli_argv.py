"""The CLI's pure helpers: Go-style argv, durations, run's port spec and objects, resource names."""

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from raftkube import cli
from raftkube.apis import v1beta1
from raftkube.cli import kubecfg, objects, options, targets
from raftkube.cli.argv import CLIENT_COMMANDS, normalize_argv
from raftkube.model import validation


@pytest.mark.parametrize("argv, expected", [
    (["-c", "redis.json", "create", "/pods"], ["create", "-c", "redis.json", "/pods"]),
    (["list", "/pods"], ["list", "/pods"]),
    (["-json", "list", "pods"], ["list", "--json", "pods"]),
    (["-yaml=true", "-h", "http://a:1,http://b:2", "get", "pods/x"],
     ["get", "--yaml", "-h", "http://a:1,http://b:2", "pods/x"]),
    (["-json=false", "list", "pods"], ["list", "pods"]),
    (["list", "pods", "-l", "name=redis", "-json"], ["list", "pods", "-l", "name=redis", "--json"]),
    (["-c=x.json", "create", "pods"], ["create", "-c", "x.json", "pods"]),
    (["-image", "redis:2", "-u", "1s", "rollingupdate", "rc"], ["rollingupdate", "--image", "redis:2", "-u", "1s", "rc"]),
    (["-p", "8080:80", "-s", "8000", "run", "nginx", "2", "web"],
     ["run", "-p", "8080:80", "-s", "8000", "nginx", "2", "web"]),
    (["-fields=DesiredState.Host=", "list", "pods"], ["list", "--fields", "DesiredState.Host=", "pods"]),
    (["--help"], ["--help"]),
    (["--help", "list"], ["--help", "list"]),
    (["master", "m1", "-v", "--config", "c.toml"], ["master", "m1", "-v", "--config", "c.toml"]),
    (["list", "--", "-json"], ["list", "--", "-json"]),
])
def test_normalize_argv(argv, expected):
    assert normalize_argv(argv) == expected


@pytest.mark.parametrize("text, seconds", [("60s", 60), ("1m30s", 90), ("500ms", 0.5), ("2h", 7200), ("5", 5),
                                           ("0", 0), ("1.5s", 1.5)])
def test_parse_duration(text, seconds):
    assert options.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "s", "10x", "1m 2s", "-"])
def test_parse_duration_rejects(bad):
    with pytest.raises(ValueError):
        options.parse_duration(bad)


def test_port_spec():
    assert objects.parse_port_spec("8080:80,6379") == [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 6379}]
    assert objects.parse_port_spec("") == []
    for bad in ("x", "80:y", "0", "70000", "8080:0"):
        with pytest.raises(click.BadParameter):
            objects.parse_port_spec(bad)


def test_run_objects_are_valid_and_select_name():
    objs = objects.run_objects("nginx", 2, "Web", [{"containerPort": 80}], 8000)
    (rc_res, rc), (svc_res, svc) = objs
    assert rc_res.plural == "replicationControllers" and svc_res.plural == "services"
    assert rc["desiredState"]["replicaSelector"] == {"name": "Web"}
    assert rc["desiredState"]["podTemplate"]["labels"] == {"name": "Web"}
    assert rc["desiredState"]["podTemplate"]["desiredState"]["manifest"]["containers"] == [
        {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}]
    assert svc["port"] == 8000 and svc["selector"] == {"name": "Web"}
    validation.validate(v1beta1.from_wire("ReplicationController", rc))
    assert len(objects.run_objects("nginx", 1, "web", [], 0)) == 1


def test_lookup_resource_and_targets():
    assert targets.lookup_resource("/pods").plural == "pods"
    assert targets.lookup_resource("pods/").plural == "pods"
    assert targets.lookup_resource("replicationcontrollers").plural == "replicationControllers"
    assert targets.lookup_resource("rc").plural == "replicationControllers"
    assert targets.lookup_resource("minion").plural == "minions"
    with pytest.raises(click.ClickException, match='unknown resource "foo"'):
        targets.lookup_resource("foo")
    res, name = targets.parse_target("/pods/redis", None, need_name=True, command="get")
    assert (res.plural, name) == ("pods", "redis")
    res, name = targets.parse_target("pods", "redis", need_name=True, command="get")
    assert (res.plural, name) == ("pods", "redis")
    with pytest.raises(click.UsageError):
        targets.parse_target("pods", None, need_name=True, command="get")
    with pytest.raises(click.UsageError):
        targets.parse_target("pods/a", "b", need_name=True, command="get")


def test_server_selection(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KUBERNETES_MASTER", raising=False)
    assert targets.server_urls(None) == (["http://localhost:8080"], {})
    (tmp_path / "cluster.toml").write_text(
        '[[masters]]\nname = "a"\napi_port = 9001\nraft_port = 9101\n'
        '[[masters]]\nname = "b"\napi_port = 9002\nraft_port = 9102\n')
    urls, names = targets.server_urls(None)
    assert urls == ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]
    assert names == {"http://127.0.0.1:9001": "a", "http://127.0.0.1:9002": "b"}
    monkeypatch.setenv("KUBERNETES_MASTER", "10.0.0.1:8080,http://10.0.0.2:8080/")
    assert targets.server_urls(None)[0] == ["http://10.0.0.1:8080", "http://10.0.0.2:8080"]
    assert targets.server_urls("http://x:1")[0] == ["http://x:1"]


# ---- commands over a stub client (no network): waiting, progress, timeouts --------------------------

class _Resp:
    def __init__(self, doc):
        self.doc = doc

    def json(self):
        return self.doc


class StubClient:
    """Answers ``request`` from a tiny in-memory cluster of one RC and its pods; records every call."""

    def __init__(self, pods, replace=True, replicas=2):
        self.rc = {"kind": "ReplicationController", "id": "ru", "resourceVersion": 7,
                   "desiredState": {"replicas": replicas, "replicaSelector": {"name": "ru"},
                                    "podTemplate": {"labels": {"name": "ru"}, "desiredState": {"manifest": {
                                        "version": "v1beta1", "containers": [{"name": "c", "image": "old"}]}}}},
                   "currentState": {"replicas": len(pods)}}
        self.pods = list(pods)
        self.replace = replace
        self.calls = []
        self.n = 0

    def request(self, method, path, params=None, body=None, **kw):
        self.calls.append((method, path, dict(params or {})))
        if path.endswith("/replicationControllers/ru"):
            if method == "PUT":
                self.rc = body
            self.rc["currentState"] = {"replicas": len(self.pods)}
            return _Resp(self.rc)
        if path.endswith("/pods") and method == "GET":
            assert params == {"labels": "name=ru"}
            return _Resp({"kind": "PodList", "items": [{"id": p, "currentState": {"status": "Running"}}
                                                       for p in self.pods]})
        if method == "DELETE" and "/pods/" in path:
            self.pods.remove(path.rsplit("/", 1)[1])
            if self.replace:
                self.n += 1
                self.pods.append(f"new-{self.n}")
            return _Resp({"kind": "Status", "status": "Success"})
        raise AssertionError((method, path))


def _invoke(monkeypatch, stub, args):
    from click.testing import CliRunner
    monkeypatch.setattr(kubecfg, "make_client", lambda server: stub)
    return CliRunner().invoke(cli.main, args)


def test_rollingupdate_sets_the_image_then_deletes_pods_in_order(monkeypatch):
    stub = StubClient(["b", "a"])
    res = _invoke(monkeypatch, stub, ["-image", "new", "-u", "0s", "rollingupdate", "ru"])
    assert res.exit_code == 0, res.output
    assert stub.rc["desiredState"]["podTemplate"]["desiredState"]["manifest"]["containers"][0]["image"] == "new"
    assert [c[1].rsplit("/", 1)[1] for c in stub.calls if c[0] == "DELETE"] == ["a", "b"]
    assert "[1/2] deleted pod a; waiting for its replacement" in res.output
    assert "[2/2] 2/2 pods" in res.output
    assert res.output.rstrip().endswith('replicationController "ru": all 2 pods replaced')


def test_rollingupdate_times_out_when_nothing_replaces_a_pod(monkeypatch):
    stub = StubClient(["a", "b"], replace=False)
    res = _invoke(monkeypatch, stub, ["rollingupdate", "ru", "-u", "0s", "--timeout", "0.3s"])
    assert res.exit_code == 1
    assert res.output.splitlines()[-1] == ('Error: timed out after 0.3s waiting for replicationController "ru" '
                                           'to replace pod "a" (1/2 pods running)')
    assert stub.pods == ["b"]  # the second pod is left alone


def test_resize_wait_times_out_with_the_current_count(monkeypatch):
    stub = StubClient(["a"], replicas=1)
    res = _invoke(monkeypatch, stub, ["resize", "ru", "3", "--wait", "--timeout", "0.3s"])
    assert res.exit_code == 1
    assert 'replicationController "ru": 1/3 replicas' in res.output
    assert res.output.splitlines()[-1] == \
        'Error: timed out after 0.3s waiting for replicationController "ru" to have 3 replicas (it has 1)'
    assert stub.rc["desiredState"]["replicas"] == 3 and stub.rc["resourceVersion"] == 7


def test_every_command_has_help_with_an_example():
    from click.testing import CliRunner
    for name in CLIENT_COMMANDS + ("master",):
        out = CliRunner().invoke(cli.main, [name, "--help"]).output
        assert "Example" in out, name
        if name != "master":
            assert "-h, --server" in out, name


def test_the_group_has_the_client_commands_and_the_process_commands():
    assert sorted(cli.main.commands) == sorted(CLIENT_COMMANDS + ("master", "up", "minion", "verify", "init", "members",
                                                                   "snapshot", "certs"))


def test_verify_refuses_an_unknown_fault_before_touching_anything():
    from click.testing import CliRunner
    result = CliRunner().invoke(cli.main, ["verify", "--faults", "kill,meteor"])
    assert result.exit_code == 2 and "unknown meteor; choose from kill,pause,partition,netem,power" in result.output


@pytest.mark.parametrize("module", ["raftkube", "raftkube.cli"])
def test_python_dash_m_runs_the_cli(module):
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Usage: python -m {module} [OPTIONS] COMMAND [ARGS]...")
    assert "rollingupdate" in proc.stdout and "minion" in proc.stdout
