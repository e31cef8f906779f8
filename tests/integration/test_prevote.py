"""Pre-Vote (state/prevote.py) on three real RaftStores in this process, on free ports.

A master is cut off by dropping, after decryption, every Raft message it receives and every message the others
receive from it: the TCP connections stay up (as in a partition that drops packets before pysyncobj's
connection timeout), so pysyncobj still counts it connected to its peers and lets it campaign.
"""

import pytest

from raftkube.testing import poll_until
from raftkube.testing.cluster import raft_trio


@pytest.fixture
def trio(tmp_path):
    with raft_trio(tmp_path) as (stores, addrs):
        yield stores, addrs


class Partition:
    """Drop every Raft message between ``cut`` and the other stores (both directions), until ``heal``."""

    def __init__(self, stores, addrs, cut):
        self.active = True
        cut_addr = addrs[cut.name]
        for store in stores:
            transport = store._raft._transport
            handler = transport._onMessageReceivedCallback
            if store is cut:
                def drop(node, message, handler=handler):
                    if not self.active:
                        handler(node, message)
            else:
                def drop(node, message, handler=handler):
                    if not self.active or str(getattr(node, "id", node)) != cut_addr:
                        handler(node, message)
            transport.setOnMessageReceivedCallback(drop)

    def heal(self):
        self.active = False


def leader_of(stores):
    return next((s for s in stores if s.leadership.epoch is not None), None)


def settled(stores):
    """The leader once every store follows it in its term (and has applied the leader's commit index)."""
    leader = leader_of(stores)
    if leader is None:
        return None
    st = leader.status()
    ok = all(s.status()["term"] == st["term"] and s.status()["leader"] == leader.name
             and s.status()["appliedIndex"] >= st["commitIndex"] for s in stores)
    return leader if ok else None


def create(store, name):
    [revision] = store.submit({"ops": [{"op": "create", "key": ["Pod", "default", name], "data": b"{}"}]},
                              timeout_s=10.0)
    return revision


def test_a_master_cut_off_from_the_others_does_not_raise_the_term_when_it_rejoins(trio):
    stores, addrs = trio
    leader = poll_until(lambda: settled(stores), 20.0, what="a leader every master follows")
    term = leader.status()["term"]
    cut = next(s for s in stores if s is not leader)
    create(leader, "before")
    won_before = cut._raft.prevote.stats["won"]  # the first election: every master may win its pre-vote
    others = [s for s in stores if s is not cut]
    refused_before = sum(s._raft.prevote.stats["refused"] for s in others)
    partition = Partition(stores, addrs, cut)
    # the cut-off master's election deadline passes again and again (without Pre-Vote: one new term each time)
    poll_until(lambda: cut._raft.prevote.stats["rounds"] >= 5 or cut.status()["term"] >= term + 5, 30.0,
               what="five election timeouts of the cut-off master")
    during = create(leader, "during")  # the other two still commit
    assert cut.status()["term"] == term, "the cut-off master raised its term"
    assert sum(s._raft.prevote.stats["refused"] for s in others) == refused_before  # its asks never reached them
    partition.heal()
    poll_until(lambda: cut.status()["appliedIndex"] >= leader.status()["commitIndex"]
               and cut.read(consistent=False).revision >= during, 30.0,
               what="the rejoined master caught up with the leader")
    assert create(leader, "after") > during
    statuses = [s.status() for s in stores]
    assert [st["term"] for st in statuses] == [term] * 3, statuses
    assert {st["leader"] for st in statuses} == {leader.name}
    assert leader.leadership.epoch is not None
    assert cut._raft.prevote.stats["won"] == won_before


def test_a_master_whose_peers_hear_the_leader_is_refused_its_pre_votes(trio):
    """Only the cut-off master's answers are dropped: its asks reach the others, who refuse them while they hear
    the leader (the leader itself refuses too), so its term stays and no election starts."""
    stores, addrs = trio
    leader = poll_until(lambda: settled(stores), 20.0, what="a leader every master follows")
    term = leader.status()["term"]
    cut = next(s for s in stores if s is not leader)
    transport = cut._raft._transport
    handler = transport._onMessageReceivedCallback
    won_before = cut._raft.prevote.stats["won"]
    state = {"deaf": True}
    transport.setOnMessageReceivedCallback(
        lambda node, message: None if state["deaf"] and message.get("type") != "rk_pre_vote_answer"
        else handler(node, message))
    try:
        poll_until(lambda: sum(s._raft.prevote.stats["refused"] for s in stores if s is not cut) >= 4, 30.0,
                   what="pre-votes of the deaf master refused")
        assert cut._raft.prevote.stats["won"] == won_before
        assert [s.status()["term"] for s in stores] == [term] * 3
    finally:
        state["deaf"] = False
    poll_until(lambda: all(s.status()["term"] == term and s.status()["leader"] == leader.name for s in stores),
               10.0, what="one leader, one term")
