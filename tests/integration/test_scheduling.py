"""Masters run their threads SCHED_BATCH and the Raft tick thread SCHED_OTHER (state/cpusched.py);
``[raft] sched_batch = false`` leaves every thread SCHED_OTHER."""

import os

import pytest

from raftkube.testing.cluster import running_cluster

pytestmark = pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux scheduling policies")


def _policies(cluster) -> dict:
    return {n: cluster.raft(n)["scheduling"] for n in cluster.names}


def test_masters_run_batch_except_the_tick_thread(tmp_path):
    with running_cluster(tmp_path, n=3) as cluster:
        policies = _policies(cluster)
        assert policies == {n: {"process": "batch", "tickThread": "other"} for n in cluster.names}
        # a thread started after start (a waitress worker, an informer) inherited it: every task but one is batch
        for name, proc in cluster.procs.items():
            tids = [int(t) for t in os.listdir(f"/proc/{proc.pid}/task")]
            kinds = sorted(os.sched_getscheduler(t) for t in tids)
            assert kinds.count(os.SCHED_OTHER) == 1, (name, kinds)
            assert len(kinds) > 10  # the API's workers and the controllers' threads are among them


def test_sched_batch_false_leaves_the_policies_alone(tmp_path):
    with running_cluster(tmp_path, n=1, extra_toml="\n[raft]\nsched_batch = false\n") as cluster:
        assert _policies(cluster) == {"m1": {"process": "other", "tickThread": "other"}}
