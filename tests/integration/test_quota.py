"""The store quota on real masters: a full store refuses creates with 507 StoreFull, still deletes and takes
status updates, and stays up; one replication controller asking for the most replicas validation allows (100 000) stops at the quota."""

from pathlib import Path

import pytest
import requests

from raftkube.client import HttpClient
from raftkube.model.errors import StoreFull
from raftkube.model.validation import MAX_REPLICAS
from raftkube.testing import objects, pod_body, poll_until, rc_body, running_cluster
from tests.conftest import call_failed

PODS = "/api/v1beta1/pods"
QUOTA = 20_000


def healthy(cluster) -> bool:
    return all(requests.get(url + "/healthz", timeout=2).text == "ok" for url in cluster.urls)


def test_a_full_store_refuses_creates_with_507_and_still_deletes_and_takes_status(tmp_path, request):
    with running_cluster(tmp_path, cluster_toml=f"quota_bytes = {QUOTA}",
                         failed=lambda: call_failed(request)) as cluster:
        leader = cluster.leader()
        urls = cluster.urls
        created = []
        for i in range(200):
            r = requests.post(urls[i % 3] + PODS, json=pod_body(f"q-{i}"), timeout=10)
            if r.status_code != 200:
                break
            created.append(r.json()["id"])
        assert 0 < len(created) < 200, "the quota never refused a create"
        assert r.status_code == 507, r.text
        status = r.json()
        assert (status["kind"], status["reason"], status["code"]) == ("Status", "StoreFull", 507)
        assert status["message"].startswith(f"the store is full: {QUOTA} bytes quota, ")
        assert status["message"].endswith(" used; delete objects or raise [cluster] quota_bytes")
        client = HttpClient(urls, timeout_s=5.0)
        with pytest.raises(StoreFull):  # the HTTP client maps it back; 507 is not retried on another master
            client.create(objects.pod("one-more"))

        # every master counts the same bytes, against the same quota
        raft = [cluster.raft(n) for n in cluster.names]
        assert {s["quotaBytes"] for s in raft} == {QUOTA}
        poll_until(lambda: len({cluster.raft(n)["storeBytes"] for n in cluster.names}) == 1, 5.0,
                   what="every master counting the same stored bytes")
        assert QUOTA - 1_000 < raft[0]["storeBytes"] <= QUOTA

        # a pod status update (the kubelet's) still applies, past the quota
        r = requests.put(urls[1] + f"{PODS}/{created[0]}/status", timeout=10,
                         json={"id": created[0], "currentState": {"status": "Running", "podIP": "10.0.0.9",
                                                                  "hostIP": "10.0.0.1", "message": "m" * 500}})
        assert r.status_code == 200, r.text
        got = requests.get(urls[2] + f"{PODS}/{created[0]}", timeout=10).json()
        assert got["currentState"]["podIP"] == "10.0.0.9"
        assert cluster.raft(leader)["storeBytes"] > QUOTA

        # deletes still work, and make room again
        for name in created[:10]:
            r = requests.delete(urls[0] + f"{PODS}/{name}", timeout=10)
            assert r.status_code == 200, r.text
        r = requests.post(urls[2] + PODS, json=pod_body("after-deletes"), timeout=10)
        assert r.status_code == 200, r.text

        assert healthy(cluster) and cluster.leader() == leader  # up all along, no election
        assert all(cluster.raft(n)["ready"] for n in cluster.names)


def test_the_most_replicas_allowed_stop_at_the_quota_without_taking_the_master_down(tmp_path, request):
    quota = 300_000
    with running_cluster(tmp_path, n=1, cluster_toml=f"quota_bytes = {quota}",
                         failed=lambda: call_failed(request)) as cluster:
        url = cluster.url("m1")
        r = requests.post(url + "/api/v1beta1/replicationControllers", json=rc_body("huge", MAX_REPLICAS),
                          timeout=10)
        assert r.status_code == 200, r.text
        log = cluster.workdir / "m1.log"

        def stopped_at_the_quota():
            text = log.read_text(errors="replace")
            return "rc default/huge: creates refused" in text and "the store is full" in text

        poll_until(stopped_at_the_quota, 30.0, interval_s=0.2, what="the replication manager refused by the quota")
        st = cluster.raft("m1")
        assert st["storeBytes"] >= quota - 2_000 and st["quotaBytes"] == quota
        count = len(requests.get(url + PODS, params={"labels": "name=huge"}, timeout=10).json()["items"])
        assert 100 < count < 1_000
        # responsive all along, and the pods stop there
        for _ in range(5):
            assert requests.get(url + "/healthz", timeout=1).text == "ok"
            assert cluster.raft("m1")["controllersActive"]
        assert len(requests.get(url + PODS, params={"labels": "name=huge"}, timeout=10).json()["items"]) == count
        proc_status = Path(f"/proc/{cluster.procs['m1'].pid}/status").read_text()
        rss_kib = int(next(line.split()[1] for line in proc_status.splitlines() if line.startswith("VmRSS:")))
        assert rss_kib < 400 * 1024, f"master RSS {rss_kib} KiB"
        assert text_count(log, "creates refused") <= 3  # said once per run of failures, not once per pod


def text_count(path, needle: str) -> int:
    return path.read_text(errors="replace").count(needle)
