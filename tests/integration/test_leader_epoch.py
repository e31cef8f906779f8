"""Leader-epoch claims fenced by Raft term, on one real RaftStore in this process (a cluster of one on a free
port, its journal in a temporary directory)."""

import pytest

from raftkube.config import RaftConfig
from raftkube.model.errors import NotLeader
from raftkube.state.raft import RaftStore
from raftkube.testing import free_ports, poll_until


@pytest.fixture
def store(tmp_path):
    [port] = free_ports(1)
    solo = RaftStore("solo", f"127.0.0.1:{port}", {}, tmp_path / "solo", "s" * 32, RaftConfig(), fsync=False)
    try:
        poll_until(lambda: solo.leadership.epoch, 10.0, what="the store leading with its epoch claimed")
        yield solo
    finally:
        solo.close()


def held_by_itself(store) -> int | None:
    """The epoch the store's controllers run under, if it is the replicated one and the store holds it."""
    st = store.status()
    epoch = store.leadership.epoch
    return epoch if epoch == st["epoch"] and st["leaderEpochHolder"] == "solo" else None


def test_an_epoch_superseded_while_leading_is_claimed_again_within_a_second(store):
    first = store.leadership.epoch
    generation = store.leadership.generation
    term = store.status()["term"]
    # e.g. a claim this master's predecessor made in the same term, committed late
    [intruder] = store.submit({"ops": [{"op": "claim", "holder": "intruder", "term": term}]})
    assert intruder == first + 1
    again = poll_until(lambda: held_by_itself(store), 1.0, what="the store claiming a new epoch of its own")
    assert again > intruder
    assert store.leadership.generation >= generation + 2  # controllers stopped, then started under the new one
    assert store.status()["leaderEpochTerm"] == term


def test_a_claim_from_an_older_term_is_refused(store):
    st = store.status()
    with pytest.raises(NotLeader) as exc:
        store.submit({"ops": [{"op": "claim", "holder": "deposed", "term": st["term"] - 1}]})
    assert f"from term {st['term'] - 1}" in str(exc.value)
    assert held_by_itself(store) == st["epoch"]
