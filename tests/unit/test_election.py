"""The election timeout's randomized exponential back-off (state/election.py)."""

from __future__ import annotations

import random

import pytest

from raftkube.state.election import ElectionBackoff


def test_first_election_after_a_leader_waits_the_configured_range():
    b = ElectionBackoff(0.3, 0.6, rand=lambda: 0.5)
    assert b.timeout() == pytest.approx(0.45)
    b.started()  # the election this timeout belongs to
    b.leader_heard()
    assert b.timeout() == pytest.approx(0.45)


def test_each_election_without_a_leader_doubles_the_next_timeout_up_to_the_cap():
    b = ElectionBackoff(0.3, 0.6, cap=8, rand=lambda: 1.0)
    seen = []
    for _ in range(7):
        seen.append(round(b.timeout(), 3))
        b.started()
    assert seen == [0.6, 0.6, 1.2, 2.4, 4.8, 4.8, 4.8]  # one split vote is retried at full speed
    assert b.as_dict() == {"electionsWithoutLeader": 7, "electionsWithoutLeaderMax": 7, "electionTimeoutFactor": 8}
    b.leader_heard()
    assert b.timeout() == pytest.approx(0.6)
    assert b.as_dict()["electionsWithoutLeaderMax"] == 7


def test_backed_off_timeouts_stay_randomized():
    rng = random.Random(7)
    b = ElectionBackoff(0.3, 0.6, rand=rng.random)
    for _ in range(4):
        b.started()
    draws = {round(b.timeout(), 4) for _ in range(50)}
    assert len(draws) > 40
    assert min(draws) >= 2.4 and max(draws) <= 4.8


def test_a_cap_of_one_is_pysyncobjs_plain_timeout():
    b = ElectionBackoff(0.3, 0.6, cap=1, rand=lambda: 0.0)
    for _ in range(100):
        b.started()
    assert b.timeout() == pytest.approx(0.3)
    with pytest.raises(ValueError):
        ElectionBackoff(0.3, 0.6, cap=0)


def simulate(backoff: bool, answer_s: float, rounds: int = 40, seed: int = 1) -> int | None:
    """A candidate whose voters answer ``answer_s`` after a vote request (their tick threads starved): the
    election of term t is won if the answers arrive before the candidate's deadline for term t. Returns the
    number of elections until one was won, or None."""
    rng = random.Random(seed)
    b = ElectionBackoff(0.3, 0.6, cap=8 if backoff else 1, rand=rng.random)
    for n in range(1, rounds + 1):
        timeout = b.timeout()
        b.started()
        if answer_s < timeout:
            return n
    return None


def test_without_back_off_late_answers_split_every_election_and_with_it_one_is_won():
    assert simulate(backoff=False, answer_s=1.0) is None  # answers for term t arrive when t+1 has started
    won = simulate(backoff=True, answer_s=1.0)
    assert won is not None and won <= 5
