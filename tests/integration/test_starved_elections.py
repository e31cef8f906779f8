"""Elections while every master's Raft tick thread is starved for longer than the election timeout (issue 15's
"failover split votes": three candidates, new terms, no leader for 15 s and more on a loaded 2-core machine).

Three real RaftStores in this process on free ports; each tick is delayed by ``STALL_S`` (a starved tick thread:
messages queue in the sockets meanwhile), longer than the longest election timeout (RaftConfig: 0.3-0.6 s).
"""

import time

import pytest

from raftkube.state.raft import RaftStore
from raftkube.testing import poll_until
from raftkube.testing.cluster import raft_trio

STALL_S = 0.8


def starve(store: RaftStore, stall_s: float) -> None:
    """Delay every tick of the store's Raft thread by ``stall_s`` (as a tick thread that is not scheduled)."""
    node = store._raft
    tick = node.doTick

    def late_tick(time_to_wait):
        time.sleep(stall_s)
        tick(time_to_wait)

    node.doTick = late_tick


@pytest.fixture
def starved(tmp_path):
    with raft_trio(tmp_path, prepare=lambda store: starve(store, STALL_S)) as (stores, _):
        yield stores


def leader_epoch(stores):
    return next((s.leadership.epoch for s in stores if s.leadership.epoch is not None), None)


@pytest.mark.integration
def test_starved_masters_elect_a_leader_and_commit(starved):
    # before the fix: every tick found its election deadline passed and started a new term before it read the
    # votes that had arrived meanwhile, so no election completed (terms climbed by one per tick, no leader)
    poll_until(lambda: leader_epoch(starved), 20.0, what="a leader with its epoch claimed, ticks starved")
    terms = [s.status()["term"] for s in starved]
    leader = next(s for s in starved if s.leadership.epoch is not None)
    [revision] = leader.submit({"ops": [{"op": "create", "key": ["Pod", "default", "p"], "data": b"{}"}]},
                               timeout_s=10.0)
    assert revision > 0
    assert max(terms) < 20, f"terms {terms}: elections kept failing"
