"""The HTTP client against real masters: typed calls, failover past a dead master, watches, 410 Gone."""

import pytest
import requests

from raftkube.client import HttpClient
from raftkube.model.errors import AlreadyExists, Conflict, Gone, NotFound
from raftkube.testing import MasterCluster, objects, poll_until


def pod(name, **labels):
    return objects.pod(name, labels or {"app": name})


def test_typed_calls_and_failover(cluster):
    dead = cluster.names[0]
    cluster.kill(dead)
    client = HttpClient([cluster.url(dead)] + [cluster.url(n) for n in cluster.names[1:]], retry_for_s=10)
    created = client.create(pod("a", app="web"))
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"] > 0
    with pytest.raises(AlreadyExists):
        client.create(pod("a"))
    got = client.get("Pod", "a")
    assert got["metadata"]["labels"] == {"app": "web"} and got["status"]["phase"] == "Pending"
    items, rev = client.list("Pod", labels="app=web")
    assert [p["metadata"]["name"] for p in items] == ["a"] and rev >= created["metadata"]["resourceVersion"]
    got["metadata"]["labels"]["tier"] = "front"
    updated = client.update(got)
    with pytest.raises(Conflict):
        client.update(got)  # got still carries the old resourceVersion
    client.bind("default", "a", "minion-1")
    with pytest.raises(Conflict):  # a status write with a resourceVersion is a compare-and-swap too
        client.update_status(dict(updated, status={"phase": "Running"}))
    after = client.update_status({"kind": "Pod", "metadata": {"name": "a"},
                                  "status": {"phase": "Running", "podIP": "10.1.0.2"}})
    assert after["spec"]["nodeName"] == "minion-1" and after["status"]["podIP"] == "10.1.0.2"
    client.delete("Pod", "a")
    with pytest.raises(NotFound):
        client.get("Pod", "a")
    cluster.start(dead)
    cluster.wait_ready()


def test_watch_through_the_client(cluster):
    client = HttpClient(cluster.urls)
    client.create(pod("before"))
    watch = client.watch("Pod", labels="app=w")
    it = iter(watch)
    client.create(pod("w1", app="w"))
    client.create(pod("other", app="x"))
    client.delete("Pod", "w1")
    events = []
    for ev in it:
        if ev is not None:
            events.append((ev.type, ev.object["metadata"]["name"]))
        if len(events) == 2:
            break
    watch.close()
    assert events == [("ADDED", "w1"), ("DELETED", "w1")]


def test_too_old_resource_version_is_an_error_event(tmp_path):
    c = MasterCluster(tmp_path, extra_toml="\n[raft]\nwatch_ring = 16\n")
    c.start_all()
    try:
        client = HttpClient(c.urls)
        for i in range(40):
            client.create(pod(f"p{i}"))
        r = requests.get(c.urls[1] + "/api/v1beta1/watch/pods", params={"resourceVersion": "2"}, stream=True,
                         timeout=10)
        lines = [line for line in r.iter_lines(chunk_size=1) if line.strip()]
        assert len(lines) == 1 and b'"ERROR"' in lines[0] and b'"code":410' in lines[0].replace(b" ", b"")
        with pytest.raises(Gone):
            for _ in client.watch("Pod", resource_version=2):
                pass
        recent = client.list("Pod")[1]
        watch = client.watch("Pod", resource_version=recent)
        client.create(pod("fresh"))
        ev = poll_until(lambda: next(e for e in iter(watch) if e is not None), 10, what="an event after resume")
        watch.close()
        assert ev.type == "ADDED" and ev.object["metadata"]["name"] == "fresh"
    finally:
        c.close()
