import threading

import pytest

from raftkube.model.errors import Gone
from raftkube.state.machine import Event
from raftkube.state.watch import WatchHub


def ev(rev):
    return Event(rev, "ADDED", ("Pod", "default", f"p{rev}"), b"x", None, 0)


def test_resume_from_revision_and_gone_when_too_old():
    hub = WatchHub(capacity=4)
    hub.publish([ev(r) for r in range(1, 7)])  # ring keeps 3..6
    assert [e.rev for e in hub.events_after(4, 0)] == [5, 6]
    assert [e.rev for e in hub.events_after(2, 0)] == [3, 4, 5, 6]
    with pytest.raises(Gone):
        hub.events_after(1, 0)
    assert hub.events_after(6, 0) == []


def test_waiter_wakes_on_publish():
    hub = WatchHub(capacity=8)
    got = []
    t = threading.Thread(target=lambda: got.extend(hub.events_after(0, 5)))
    t.start()
    hub.publish([ev(1)])
    t.join(2)
    assert [e.rev for e in got] == [1]


def test_reset_makes_older_cursors_gone():
    hub = WatchHub(capacity=8)
    hub.publish([ev(1), ev(2)])
    hub.reset(10)
    with pytest.raises(Gone):
        hub.events_after(2, 0)
    hub.publish([ev(11)])
    assert [e.rev for e in hub.events_after(10, 0)] == [11]


def test_limit_bounds_one_read():
    hub = WatchHub(capacity=100)
    hub.publish([ev(r) for r in range(1, 51)])
    assert len(hub.events_after(0, 0, limit=10)) == 10
