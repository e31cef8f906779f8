"""The CLI's pure helpers: Go-style argv, durations, run's port spec and objects, resource names."""

import click
import pytest

from raftkube import cli
from raftkube.model import v1beta1, validation


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
    assert cli.normalize_argv(argv) == expected


@pytest.mark.parametrize("text, seconds", [("60s", 60), ("1m30s", 90), ("500ms", 0.5), ("2h", 7200), ("5", 5),
                                           ("0", 0), ("1.5s", 1.5)])
def test_parse_duration(text, seconds):
    assert cli.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "s", "10x", "1m 2s", "-"])
def test_parse_duration_rejects(bad):
    with pytest.raises(ValueError):
        cli.parse_duration(bad)


def test_port_spec():
    assert cli.parse_port_spec("8080:80,6379") == [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 6379}]
    assert cli.parse_port_spec("") == []
    for bad in ("x", "80:y", "0", "70000", "8080:0"):
        with pytest.raises(click.BadParameter):
            cli.parse_port_spec(bad)


def test_run_objects_are_valid_and_select_name():
    objs = cli.run_objects("nginx", 2, "Web", [{"containerPort": 80}], 8000)
    (rc_res, rc), (svc_res, svc) = objs
    assert rc_res.plural == "replicationControllers" and svc_res.plural == "services"
    assert rc["desiredState"]["replicaSelector"] == {"name": "Web"}
    assert rc["desiredState"]["podTemplate"]["labels"] == {"name": "Web"}
    assert rc["desiredState"]["podTemplate"]["desiredState"]["manifest"]["containers"] == [
        {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}]
    assert svc["port"] == 8000 and svc["selector"] == {"name": "Web"}
    validation.validate(v1beta1.from_wire("ReplicationController", rc))
    assert len(cli.run_objects("nginx", 1, "web", [], 0)) == 1


def test_lookup_resource_and_targets():
    assert cli.lookup_resource("/pods").plural == "pods"
    assert cli.lookup_resource("pods/").plural == "pods"
    assert cli.lookup_resource("replicationcontrollers").plural == "replicationControllers"
    assert cli.lookup_resource("rc").plural == "replicationControllers"
    assert cli.lookup_resource("minion").plural == "minions"
    with pytest.raises(click.ClickException, match='unknown resource "foo"'):
        cli.lookup_resource("foo")
    res, name = cli.parse_target("/pods/redis", None, need_name=True, command="get")
    assert (res.plural, name) == ("pods", "redis")
    res, name = cli.parse_target("pods", "redis", need_name=True, command="get")
    assert (res.plural, name) == ("pods", "redis")
    with pytest.raises(click.UsageError):
        cli.parse_target("pods", None, need_name=True, command="get")
    with pytest.raises(click.UsageError):
        cli.parse_target("pods/a", "b", need_name=True, command="get")


def test_server_selection(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KUBERNETES_MASTER", raising=False)
    assert cli.server_urls(None) == (["http://localhost:8080"], {})
    (tmp_path / "cluster.toml").write_text(
        '[[masters]]\nname = "a"\napi_port = 9001\nraft_port = 9101\n'
        '[[masters]]\nname = "b"\napi_port = 9002\nraft_port = 9102\n')
    urls, names = cli.server_urls(None)
    assert urls == ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]
    assert names == {"http://127.0.0.1:9001": "a", "http://127.0.0.1:9002": "b"}
    monkeypatch.setenv("KUBERNETES_MASTER", "10.0.0.1:8080,http://10.0.0.2:8080/")
    assert cli.server_urls(None)[0] == ["http://10.0.0.1:8080", "http://10.0.0.2:8080"]
    assert cli.server_urls("http://x:1")[0] == ["http://x:1"]
