"""kubecfg's 2014 tables, exactly: header, ---------- row, tabwriter layout (minwidth 20, padding 3), blank line."""

import json
from pathlib import Path

import pytest
import yaml

from raftkube.cli import printers

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def pod(name="redis", images=("dockerfile/redis",), labels=None, host="", host_ip="", status="Waiting"):
    current = {"status": status}
    if host:
        current["host"] = host
    if host_ip:
        current["hostIP"] = host_ip
    return {"kind": "Pod", "id": name, "labels": labels if labels is not None else {"name": name},
            "desiredState": {"manifest": {"version": "v1beta1", "containers": [
                {"name": f"c{i}", "image": im} for i, im in enumerate(images)]}},
            "currentState": current}


def test_article_pod_list_is_reproduced_byte_for_byte():
    # ./kubecfg list /pods, from the article (plus the blank line kubecfg prints after each object)
    listed = {"kind": "PodList", "items": [pod(host="127.0.0.1", status="Running")]}
    assert printers.human(listed) == (
        "ID                  Image(s)            Host                Labels              Status\n"
        "----------          ----------          ----------          ----------          ----------\n"
        "redis               dockerfile/redis    127.0.0.1/          name=redis          Running\n"
        "\n")


def test_article_rc_list_from_the_example_file():
    rc = json.loads((EXAMPLES / "redisController.json").read_text())
    assert printers.human({"kind": "ReplicationControllerList", "items": [rc]}) == (
        "ID                  Image(s)            Selector            Replicas\n"
        "----------          ----------          ----------          ----------\n"
        "redisController     dockerfile/redis    name=redis          1\n"
        "\n")


def test_unbound_pod_is_unassigned_and_host_ip_follows_the_slash():
    assert printers.pod_host({}) == "<unassigned>"
    assert printers.pod_host({"host": "", "hostIP": ""}) == "<unassigned>"
    assert printers.pod_host({"host": "minion-1"}) == "minion-1/"
    assert printers.pod_host({"host": "minion-1", "hostIP": "10.0.0.7"}) == "minion-1/10.0.0.7"
    row = printers.pod_row(pod(host="minion-1", host_ip="10.0.0.7"))
    assert row == ["redis", "dockerfile/redis", "minion-1/10.0.0.7", "name=redis", "Waiting"]
    assert printers.pod_row(pod())[2] == "<unassigned>"


def test_labels_sorted_and_images_joined():
    p = pod(images=("nginx", "busybox:1"), labels={"tier": "web", "app": "x", "env": "prod"})
    assert printers.pod_row(p)[1:4:2] == ["nginx,busybox:1", "app=x,env=prod,tier=web"]
    assert printers.pod_row(pod(labels={}))[3] == ""


def test_columns_grow_past_20_with_3_spaces_of_padding_and_the_last_column_is_not_padded():
    long_name = "a-very-long-pod-name-of-30-chr"
    assert len(long_name) == 30
    out = printers.human({"kind": "PodList", "items": [pod(name=long_name, labels={}), pod(name="b", labels={})]})
    lines = out.split("\n")
    assert lines[0] == "ID" + " " * 31 + "Image(s)            Host                Labels              Status"
    assert lines[1].startswith("----------" + " " * 23 + "----------")
    assert lines[2] == long_name + "   dockerfile/redis    <unassigned>        " + " " * 20 + "Waiting"
    assert lines[3].startswith("b" + " " * 32 + "dockerfile/redis")
    assert lines[4:] == ["", ""]  # the blank line after the object, then the end


def test_a_cell_exactly_17_wide_still_gets_minwidth_and_18_gets_padding():
    assert printers.tabulate([["x" * 17, "end"]]) == "x" * 17 + "   end\n"
    assert printers.tabulate([["x" * 18, "end"]]) == "x" * 18 + "   end\n"
    assert printers.tabulate([["x" * 5, "end"]]) == "x" * 5 + " " * 15 + "end\n"


def test_empty_list_prints_headers_only():
    assert printers.human({"kind": "PodList", "items": []}) == (
        "ID                  Image(s)            Host                Labels              Status\n"
        "----------          ----------          ----------          ----------          ----------\n\n")


def test_service_minion_status_event_tables():
    svc = {"kind": "Service", "id": "redismaster", "port": 10000, "labels": {"name": "redis"},
           "selector": {"name": "redis", "role": "master"}}
    assert printers.human(svc) == (
        "ID                  Labels              Selector                 Port\n"
        "----------          ----------          ----------               ----------\n"
        "redismaster         name=redis          name=redis,role=master   10000\n\n")
    minions = {"kind": "MinionList", "minions": [{"id": "10.245.2.3"}], "items": [{"id": "10.245.2.3"}]}
    assert printers.human(minions) == "Minion identifier\n----------\n10.245.2.3\n\n"
    assert printers.human({"kind": "MinionList", "minions": [{"id": "m1"}]}) == "Minion identifier\n----------\nm1\n\n"
    assert printers.human({"kind": "Status", "status": "Success"}) == "Status\n----------\nSuccess\n\n"
    ev = {"kind": "Event", "id": "redis.1", "involvedObject": {"kind": "Pod", "name": "redis"},
          "status": "Pending", "reason": "scheduled", "message": "Successfully assigned redis to m1"}
    assert printers.human({"kind": "EventList", "items": [ev]}) == (
        "Name                Kind                Status              Reason              Message\n"
        "----------          ----------          ----------          ----------          ----------\n"
        "redis               Pod                 Pending             scheduled           "
        "Successfully assigned redis to m1\n\n")


def test_unknown_kind_is_an_error_and_json_yaml_round_trip():
    with pytest.raises(printers.UnprintableError):
        printers.human({"kind": "Binding"})
    p = pod()
    assert json.loads(printers.render(p, "json")) == p
    assert yaml.safe_load(printers.render(p, "yaml")) == p
    assert printers.render(p, "yaml").startswith("kind: Pod\n")  # key order kept
    with pytest.raises(ValueError):
        printers.render(p, "xml")


def test_masters_table_shows_unreachable_masters():
    rows = [{"url": "http://127.0.0.1:8080", "reachable": True,
             "raft": {"name": "m1", "role": "leader", "leader": "m1", "term": 3, "commitIndex": 42,
                      "appliedIndex": 41, "storeBytes": 1_288_490_189, "quotaBytes": 2147483648}},
            {"url": "http://127.0.0.1:8081", "name": "m2", "reachable": False, "error": "connection refused"}]
    out = printers.masters_table(rows).split("\n")
    assert out[0].split() == ["Name", "URL", "Role", "Leader", "Term", "Commit", "index", "Applied", "index",
                              "Store", "used/quota", "Reachable"]
    assert out[2].split() == ["m1", "http://127.0.0.1:8080", "leader", "m1", "3", "42", "41", "1.2GiB/2.0GiB",
                              "yes"]
    assert out[3].split() == ["m2", "http://127.0.0.1:8081", "-", "-", "-", "-", "-", "-", "no", "(connection",
                              "refused)"]


def test_byte_counts_for_people():
    assert [printers.format_bytes(n) for n in (0, 512, 20_000, 5 * 1024 ** 2, 2147483648, 3 * 1024 ** 4)] == [
        "0B", "512B", "19.5KiB", "5.0MiB", "2.0GiB", "3.0TiB"]
