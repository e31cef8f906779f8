"""The replicated member list (state/members.py) and the one-change-at-a-time rules (state/reconfig.py)."""

from raftkube.state import reconfig
from raftkube.state.members import Change, MemberList, change_of, record, refusal, request
from raftkube.state.reconfig import Reconfig


def rec(name, port):
    return record(name, "127.0.0.1", port, port + 1)


SEED = {"m1": rec("m1", 8001), "m2": rec("m2", 8011), "m3": rec("m3", 8021)}


def test_the_members_at_an_index_are_the_base_plus_the_changes_up_to_it():
    ml = MemberList(SEED, base_index=2)
    ml.appended(Change(5, "add", rec("m4", 8031)))
    ml.appended(Change(9, "rem", rec("m1", 8001)))
    assert sorted(ml.at(4)) == ["m1", "m2", "m3"]
    assert sorted(ml.at(5)) == ["m1", "m2", "m3", "m4"]
    assert sorted(ml.current()) == ["m2", "m3", "m4"] and ml.last_change_index() == 9
    ml.truncated(9)  # the removal was not committed and a new leader overwrote it: rolled back
    assert sorted(ml.current()) == ["m1", "m2", "m3", "m4"] and ml.last_change_index() == 5
    ml.appended(Change(3, "add", rec("m9", 8091)))  # an append at 3 replaces everything from 3 on
    assert sorted(ml.current()) == ["m1", "m2", "m3", "m9"]
    ml.appended(Change(2, "add", rec("m8", 8081)))  # at or below the base: already in it
    assert "m8" not in ml.current()


def test_a_snapshot_from_the_leader_resets_the_base():
    ml = MemberList(SEED)
    ml.appended(Change(5, "add", rec("m4", 8031)))
    ml.appended(Change(12, "rem", rec("m2", 8011)))
    ml.reset({"m1": SEED["m1"], "m5": rec("m5", 8041)}, 10)
    assert sorted(ml.at(10)) == ["m1", "m5"]
    assert sorted(ml.current()) == ["m1", "m5"]  # the change at 12 removes m2, which is not there: no-op
    assert ml.by_address() == {"127.0.0.1:8002": "m1", "127.0.0.1:8042": "m5"}


def test_refusals():
    assert "exists already" in refusal(SEED, "add", rec("m2", 9000))
    assert "is master m3's" in refusal(SEED, "add", record("m4", "127.0.0.1", 9000, 8022))
    assert "API port" in refusal(SEED, "add", record("m4", "127.0.0.1", 8011, 9001))
    assert refusal(SEED, "add", rec("m4", 8031)) is None
    assert "no master named 'm7'" in refusal(SEED, "rem", {"name": "m7"})
    assert "last master" in refusal({"m1": SEED["m1"]}, "rem", {"name": "m1"})
    assert refusal(SEED, "rem", {"name": "m1"}) is None


def test_a_request_round_trips_and_foreign_requests_are_ignored():
    req = request("add", rec("m4", 8031))
    assert req[:3] == ["add", "127.0.0.1:8032", "127.0.0.1:8032"]  # what pysyncobj reads
    assert change_of(7, req) == Change(7, "add", rec("m4", 8031))
    assert change_of(7, ["add", "h:1", "h:1"]) is None  # pysyncobj's own addNodeToCluster: not ours


class FakeView:
    def __init__(self):
        self.leader, self.read_index, self.commit = True, 10, 10
        self.proposed = []

    def is_leader(self):
        return self.leader

    def leader_read_index(self):
        return self.read_index

    def commit_index(self):
        return self.commit

    def propose_change(self, req, done):
        self.proposed.append((req, done))


def make(now=None):
    view, ml = FakeView(), MemberList(SEED)
    clock = now or (lambda: 0.0)
    return view, ml, Reconfig(view, ml, clock=clock)


def test_one_change_at_a_time_and_only_after_the_previous_one_committed():
    view, ml, rc = make()
    first = rc.start("add", rec("m4", 8031), 5.0)
    second = rc.start("add", rec("m5", 8041), 5.0)
    assert second.done.is_set() and second.kind == reconfig.IN_FLIGHT and "adding m4" in second.message
    rc.on_tick()
    assert len(view.proposed) == 1 and view.proposed[0][0][0] == "add"
    ml.appended(Change(11, "add", rec("m4", 8031)))  # appended: in effect, not committed yet
    view.proposed[0][1](True, "committed")  # (pysyncobj answers only once committed; here: the slot is free)
    assert first.done.is_set() and first.kind == reconfig.OK
    third = rc.start("add", rec("m5", 8041), 5.0)
    rc.on_tick()  # the change at 11 is above the commit index 10: refused, not proposed
    assert third.kind == reconfig.IN_FLIGHT and "log index 11" in third.message and len(view.proposed) == 1
    view.commit = 11
    fourth = rc.start("add", rec("m5", 8041), 5.0)
    rc.on_tick()
    assert not fourth.done.is_set() and len(view.proposed) == 2


def test_a_new_leader_waits_for_its_first_entry_and_a_follower_refuses():
    view, ml, rc = make()
    view.read_index = None  # the no-op of its term is not committed yet
    p = rc.start("rem", {"name": "m3"}, 5.0)
    rc.on_tick()
    assert not p.done.is_set() and not view.proposed
    view.read_index = 10
    rc.on_tick()
    assert view.proposed[0][0] == request("rem", SEED["m3"])  # the whole record, from the member list
    view2, _, rc2 = make()
    view2.leader = False
    q = rc2.start("add", rec("m4", 8031), 5.0)
    rc2.on_tick()
    assert q.kind == reconfig.NOT_LEADER


def test_the_tick_thread_validates_against_the_current_list():
    view, ml, rc = make()
    ml.appended(Change(3, "add", rec("m4", 8031)))
    p = rc.start("add", rec("m4", 9999), 5.0)
    rc.on_tick()
    assert p.kind == reconfig.REFUSED and "exists already" in p.message
    q = rc.start("rem", {"name": "zz"}, 5.0)
    rc.on_tick()
    assert q.kind == reconfig.UNKNOWN_NAME and not view.proposed


def test_a_change_times_out_and_frees_the_slot():
    t = [0.0]
    view, ml, rc = make(lambda: t[0])
    view.read_index = None
    p = rc.start("add", rec("m4", 8031), 1.0)
    t[0] = 2.0
    rc.on_tick()
    assert p.kind == reconfig.FAILED
    view.read_index = 10
    q = rc.start("add", rec("m4", 8031), 1.0)
    rc.on_tick()
    t[0] = 10.0  # proposed, and pysyncobj never answered
    rc.on_tick()
    assert q.kind == reconfig.FAILED and rc.start("add", rec("m5", 8041), 1.0).kind is None
