import threading
import time

import pytest

from raftkube.model.errors import Gone
from raftkube.state.machine import Event
from raftkube.state.watch import WatchHub


def ev(rev, kind="Pod"):
    return Event(rev, "ADDED", (kind, "default", f"x{rev}"), b"x", None, 0)


def revs(result):
    events, _seen = result
    return [e.rev for e in events]


def test_resume_from_revision_and_gone_when_too_old():
    hub = WatchHub(capacity=4)
    hub.publish([ev(r) for r in range(1, 7)])  # ring keeps 3..6
    assert revs(hub.kind_events_after("Pod", 4, 0)) == [5, 6]
    assert revs(hub.kind_events_after("Pod", 2, 0)) == [3, 4, 5, 6]
    with pytest.raises(Gone):
        hub.kind_events_after("Pod", 1, 0)
    assert hub.kind_events_after("Pod", 6, 0) == ([], 6)


def test_an_idle_kind_resumes_after_the_ring_moved_on_and_history_before_the_ring_is_gone():
    hub = WatchHub(capacity=4)
    hub.publish([ev(5, "Node")] + [ev(r) for r in range(6, 20)])  # the ring keeps pods 16..19; before 5: unknown
    assert hub.kind_events_after("Node", 5, 0) == ([], 19)  # no Node event after 5: nothing was missed
    with pytest.raises(Gone):
        hub.kind_events_after("Node", 4, 0)  # the Node event at 5 left the ring
    with pytest.raises(Gone):
        hub.kind_events_after("Event", 3, 0)  # a kind never seen, from before the ring's start
    hub.reset(30)
    with pytest.raises(Gone):
        hub.kind_events_after("Node", 19, 0)
    assert hub.kind_events_after("Node", 30, 0) == ([], 30)


def test_waiter_wakes_on_publish():
    hub = WatchHub(capacity=8)
    got = []
    t = threading.Thread(target=lambda: got.extend(hub.kind_events_after("Pod", 0, 5)[0]))
    t.start()
    hub.publish([ev(1)])
    t.join(2)
    assert [e.rev for e in got] == [1]


def test_a_watcher_of_one_kind_sleeps_through_other_kinds_and_skips_them():
    hub = WatchHub(capacity=64)
    got, woke = [], threading.Event()

    def watch():
        got.append(hub.kind_events_after("Node", 0, 5))
        woke.set()

    t = threading.Thread(target=watch)
    t.start()
    hub.publish([ev(1), ev(2)])  # pods: the node watcher stays asleep
    assert not woke.wait(0.3)
    hub.publish([ev(3, "Node"), ev(4)])
    assert woke.wait(2)
    t.join(2)
    assert [e.rev for e in got[0][0]] == [3]
    assert got[0][1] == 4  # the pod after it is seen (skipped), so the next call starts after 4
    start = time.monotonic()
    assert hub.kind_events_after("Node", 4, 0.2) == ([], 4)  # nothing new: waits out its timeout
    assert time.monotonic() - start >= 0.15
    hub.publish([ev(5), ev(6)])
    assert hub.kind_events_after("Node", 4, 0) == ([], 6)  # nothing of its kind, cursor moves past them


def test_reset_makes_older_cursors_gone_and_wakes_waiters():
    hub = WatchHub(capacity=8)
    hub.publish([ev(1), ev(2, "Node")])
    errors = []

    def watch():
        try:
            hub.kind_events_after("Node", 2, 5)
        except Gone as exc:
            errors.append(exc)

    t = threading.Thread(target=watch)
    t.start()
    hub.reset(10)
    t.join(2)
    assert not t.is_alive() and errors
    with pytest.raises(Gone):
        hub.kind_events_after("Pod", 2, 0)
    hub.publish([ev(11)])
    assert revs(hub.kind_events_after("Pod", 10, 0)) == [11]


def test_limit_bounds_one_read():
    hub = WatchHub(capacity=100)
    hub.publish([ev(r) for r in range(1, 51)])
    events, seen = hub.kind_events_after("Pod", 0, 0, limit=10)
    assert len(events) == 10 and seen == 10
