"""The replicated state machine: ops, atomic transactions, epochs, snapshots, determinism."""

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from raftkube.state.codec import decode_object, encode_object, pack, unpack
from raftkube.state.machine import StateMachine


def pod(name, host="", **labels):
    return encode_object({"kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": labels},
                          "spec": {"nodeName": host, "containers": []}})


def key(name, kind="Pod", ns="default"):
    return [kind, ns, name]


def apply(m, *txns):
    return m.apply(pack(list(txns)))


def test_create_get_and_revision():
    m = StateMachine()
    [res] = apply(m, {"ops": [{"op": "create", "key": key("a"), "data": pod("a")}]})
    assert res == [True, "", "", [1]]
    rv, data = m.get(("Pod", "default", "a"))
    assert rv == 1 and decode_object(data, rv)["metadata"]["resourceVersion"] == 1
    [res] = apply(m, {"ops": [{"op": "create", "key": key("a"), "data": pod("a")}]})
    assert res[:2] == [False, "AlreadyExists"] and 'pod "a" already exists' in res[2]
    assert m.revision == 1


def test_update_precondition_and_delete():
    m = StateMachine()
    apply(m, {"ops": [{"op": "create", "key": key("a"), "data": pod("a")}]})
    [stale] = apply(m, {"ops": [{"op": "update", "key": key("a"), "data": pod("a", x="1"), "rv": 7}]})
    assert stale[1] == "Conflict"
    [ok] = apply(m, {"ops": [{"op": "update", "key": key("a"), "data": pod("a", x="1"), "rv": 1}]})
    assert ok == [True, "", "", [2]]
    [gone] = apply(m, {"ops": [{"op": "delete", "key": key("b")}]})
    assert gone[1] == "NotFound"
    [deleted] = apply(m, {"ops": [{"op": "delete", "key": key("a"), "rv": 2}]})
    assert deleted == [True, "", "", [3]] and m.get(("Pod", "default", "a")) is None


def test_transaction_is_all_or_nothing():
    m = StateMachine()
    apply(m, {"ops": [{"op": "create", "key": key("a"), "data": pod("a")}]})
    [res] = apply(m, {"ops": [{"op": "create", "key": key("b"), "data": pod("b")},
                              {"op": "create", "key": key("a"), "data": pod("a")}]})
    assert res[1] == "AlreadyExists"
    assert m.get(("Pod", "default", "b")) is None and m.revision == 1


def test_bind_is_atomic_and_only_once():
    m = StateMachine()
    apply(m, {"ops": [{"op": "create", "key": key("a"), "data": pod("a")}]})
    [first, second] = apply(m, {"ops": [{"op": "bind", "key": key("a"), "node": "n1",
                                         "patch": {"serviceEnv": [{"name": "X", "value": "1"}]}}]},
                            {"ops": [{"op": "bind", "key": key("a"), "node": "n2"}]})
    assert first[0] is True
    assert second[:2] == [False, "Conflict"] and "already assigned to host 'n1'" in second[2]
    rv, data = m.get(("Pod", "default", "a"))
    spec = unpack(data)["spec"]
    assert spec["nodeName"] == "n1" and spec["serviceEnv"] == [{"name": "X", "value": "1"}]


def test_epoch_fences_stale_leaders():
    m = StateMachine()
    [c1] = apply(m, {"ops": [{"op": "claim", "holder": "m1"}]})
    [c2] = apply(m, {"ops": [{"op": "claim", "holder": "m2"}]})
    assert c1[3] == [1] and c2[3] == [2] and m.epoch_holder == "m2"
    [old] = apply(m, {"ops": [{"op": "create", "key": key("a"), "data": pod("a")}], "epoch": 1})
    [new] = apply(m, {"ops": [{"op": "create", "key": key("a"), "data": pod("a")}], "epoch": 2})
    assert old[:2] == [False, "NotLeader"] and new[0] is True


def test_apply_never_raises_on_garbage():
    m = StateMachine()
    assert apply(m, {"ops": [{"op": "create"}]})[0][:2] == [False, "BadRequest"]
    assert apply(m, "nonsense")[0][:2] == [False, "BadRequest"]
    assert apply(m, {"ops": [{"op": "teleport", "key": key("a")}]})[0][1] in ("BadRequest", "NotFound")
    assert apply(m, {"ops": [{"op": "create", "key": ["Gizmo", "", "x"], "data": b""}]})[0][1] == "BadRequest"
    assert m.apply(b"\xc1\xc1") == []
    assert m.revision == 0


def test_events_and_snapshot_restore():
    seen = []
    m = StateMachine(on_events=seen.extend)
    apply(m, {"ops": [{"op": "create", "key": key("a"), "data": pod("a")},
                      {"op": "create", "key": key("b"), "data": pod("b")}]})
    apply(m, {"ops": [{"op": "delete", "key": key("a")}]})
    assert [(e.rev, e.type, e.key[2]) for e in seen] == [(1, "ADDED", "a"), (2, "ADDED", "b"), (3, "DELETED", "a")]
    assert seen[2].prev is not None and seen[2].prev_rv == 1
    resets = []
    copy = StateMachine(on_reset=resets.append)
    copy.restore(unpack(pack(m.snapshot())))
    assert copy.fingerprint() == m.fingerprint() and resets == [3]


# ---- the quota -------------------------------------------------------------------------------------

def stored_bytes(m) -> int:
    return sum(len(data) for table in m.objects.values() for _rv, data in table.values())


def full_machine():
    """A machine holding pods a and b, and the quota that exactly fits them."""
    m = StateMachine()
    apply(m, {"ops": [{"op": "create", "key": key("a"), "data": pod("a")},
                      {"op": "create", "key": key("b"), "data": pod("b")}]})
    return m, stored_bytes(m)


def test_store_bytes_follow_creates_updates_and_deletes():
    m, used = full_machine()
    assert m.store_bytes == used == len(pod("a")) + len(pod("b"))
    apply(m, {"ops": [{"op": "update", "key": key("a"), "data": pod("a", x="123")}]})
    assert m.store_bytes == stored_bytes(m) > used
    apply(m, {"ops": [{"op": "bind", "key": key("b"), "node": "n1"}]})
    assert m.store_bytes == stored_bytes(m)
    apply(m, {"ops": [{"op": "delete", "key": key("a")}, {"op": "delete", "key": key("b")}]})
    assert m.store_bytes == 0


def test_at_the_quota_creates_and_growing_updates_are_refused():
    m, quota = full_machine()
    [create] = apply(m, {"ops": [{"op": "create", "key": key("c"), "data": pod("c"), "quota": quota}]})
    assert create[:2] == [False, "StoreFull"]
    assert create[2] == (f"the store is full: {quota} bytes quota, {quota} used; "
                         "delete objects or raise [cluster] quota_bytes")
    [grow] = apply(m, {"ops": [{"op": "update", "key": key("a"), "data": pod("a", x="1"), "quota": quota}]})
    assert grow[:2] == [False, "StoreFull"]
    assert m.get(("Pod", "default", "c")) is None and m.get(("Pod", "default", "a"))[0] == 1
    assert m.store_bytes == quota and m.revision == 2


def test_at_the_quota_shrinking_updates_deletes_and_updates_without_quota_apply():
    m = StateMachine()
    apply(m, {"ops": [{"op": "create", "key": key("a"), "data": pod("a", x="1" * 40)},
                      {"op": "create", "key": key("b"), "data": pod("b")}]})
    quota = stored_bytes(m)
    [shrink] = apply(m, {"ops": [{"op": "update", "key": key("a"), "data": pod("a"), "quota": quota}]})
    [same] = apply(m, {"ops": [{"op": "update", "key": key("a"), "data": pod("a"), "quota": m.store_bytes}]})
    assert shrink[0] is True and same[0] is True and m.store_bytes < quota
    # a status update carries no quota: it applies even past it
    [status] = apply(m, {"ops": [{"op": "update", "key": key("b"), "data": pod("b", phase="Running" * 10)}]})
    assert status[0] is True and m.store_bytes > quota
    [deleted] = apply(m, {"ops": [{"op": "delete", "key": key("b")}]})
    assert deleted[0] is True and m.store_bytes == stored_bytes(m) == len(pod("a"))
    [room] = apply(m, {"ops": [{"op": "create", "key": key("c"), "data": pod("c"), "quota": quota}]})
    assert room[0] is True and m.store_bytes == len(pod("a")) + len(pod("c")) <= quota


def test_a_refused_transaction_leaves_the_byte_count_as_it_was():
    m, used = full_machine()
    [res] = apply(m, {"ops": [{"op": "create", "key": key("c"), "data": pod("c")},
                              {"op": "update", "key": key("a"), "data": pod("a", x="1")},
                              {"op": "delete", "key": key("b")},
                              {"op": "create", "key": key("a"), "data": pod("a")}]})  # AlreadyExists
    assert res[1] == "AlreadyExists" and m.store_bytes == used == stored_bytes(m)
    [res] = apply(m, {"ops": [{"op": "delete", "key": key("a")},
                              {"op": "create", "key": key("d"), "data": pod("d", x="y" * 50), "quota": used}]})
    assert res[1] == "StoreFull" and m.store_bytes == used and m.get(("Pod", "default", "a")) is not None
    [bad] = apply(m, {"ops": [{"op": "create", "key": key("e"), "data": pod("e"), "quota": "lots"}]})
    assert bad[1] == "BadRequest" and m.store_bytes == used


def test_the_byte_count_survives_a_snapshot_and_two_replicas_agree():
    a, b = StateMachine(), StateMachine()
    entries = [pack([{"ops": [{"op": "create", "key": key(n), "data": pod(n, x=n * 40)}]}]) for n in "abcdef"]
    entries.append(pack([{"ops": [{"op": "delete", "key": key("b")}]}]))
    for e in entries:
        assert a.apply(e) == b.apply(e)
    quota = a.store_bytes + 10
    last = pack([{"ops": [{"op": "create", "key": key("g"), "data": pod("g"), "quota": quota}]}])
    [ra], [rb] = a.apply(last), b.apply(last)
    assert ra == rb and ra[:2] == [False, "StoreFull"] and f"{quota} bytes quota" in ra[2]
    copy = StateMachine()
    copy.restore(unpack(pack(a.snapshot())))
    assert copy.store_bytes == a.store_bytes == b.store_bytes == stored_bytes(a)
    assert copy.fingerprint() == a.fingerprint() == b.fingerprint()


# ---- claims fenced by term ----------------------------------------------------------------------------

def claim(m, holder, term):
    [res] = apply(m, {"ops": [{"op": "claim", "holder": holder, "term": term}]})
    return res


def test_a_claim_from_an_older_term_is_refused():
    m = StateMachine()
    assert claim(m, "m1", 3)[3] == [1] and m.epoch_term == 3
    late = claim(m, "m2", 2)  # m2 decided to claim as leader of term 2; m1 has led since term 3
    assert late[:2] == [False, "NotLeader"] and "term 2" in late[2] and "term 3" in late[2]
    assert (m.epoch, m.epoch_holder, m.epoch_term) == (1, "m1", 3)
    assert claim(m, "m1", 3)[3] == [2]  # the same term: a re-claim by the term's leader
    assert claim(m, "m3", 5)[3] == [3] and (m.epoch_holder, m.epoch_term) == ("m3", 5)
    [untermed] = apply(m, {"ops": [{"op": "claim", "holder": "old"}]})  # as earlier releases proposed
    assert untermed[1] == "NotLeader" and m.epoch == 3


def test_a_refused_transaction_restores_the_epoch_term_and_snapshots_keep_it():
    m = StateMachine()
    claim(m, "m1", 2)
    [res] = apply(m, {"ops": [{"op": "claim", "holder": "m2", "term": 4}, {"op": "delete", "key": key("x")}]})
    assert res[1] == "NotFound" and (m.epoch, m.epoch_holder, m.epoch_term) == (1, "m1", 2)
    copy = StateMachine()
    copy.restore(unpack(pack(m.snapshot())))
    assert (copy.epoch, copy.epoch_holder, copy.epoch_term) == (1, "m1", 2)
    assert claim(copy, "m2", 1)[1] == "NotLeader"


names = st.sampled_from(["a", "b", "c", "d"])
op_strategy = st.one_of(
    st.builds(lambda n, h: {"op": "create", "key": key(n), "data": pod(n, h)}, names, st.sampled_from(["", "n1"])),
    st.builds(lambda n, rv: {"op": "update", "key": key(n), "data": pod(n, x=str(rv)), "rv": rv}, names,
              st.integers(0, 6)),
    st.builds(lambda n, rv: {"op": "delete", "key": key(n), "rv": rv}, names, st.integers(0, 6)),
    st.builds(lambda n, h: {"op": "bind", "key": key(n), "node": h}, names, st.sampled_from(["n1", "n2"])),
    st.builds(lambda h: {"op": "claim", "holder": h}, st.sampled_from(["m1", "m2"])),
    st.builds(lambda h, t: {"op": "claim", "holder": h, "term": t}, st.sampled_from(["m1", "m2"]), st.integers(0, 4)),
    st.builds(lambda n, q: {"op": "create", "key": key(n), "data": pod(n, x="q" * q), "quota": 300}, names,
              st.integers(0, 200)),
)


class TwoReplicas(RuleBasedStateMachine):
    """The same entries applied on two machines give the same state; revisions only grow."""

    def __init__(self):
        super().__init__()
        self.a, self.b = StateMachine(), StateMachine()
        self.last_revision = 0
        self.history = []

    @rule(batch=st.lists(st.lists(op_strategy, min_size=1, max_size=3), min_size=1, max_size=3),
          epoch=st.one_of(st.none(), st.integers(0, 3)))
    def apply_entry(self, batch, epoch):
        txns = [{"ops": ops, **({"epoch": epoch} if epoch is not None else {})} for ops in batch]
        entry = pack(txns)
        self.history.append(entry)
        ra, rb = self.a.apply(entry), self.b.apply(entry)
        assert ra == rb

    @rule()
    def snapshot_round_trip(self):
        c = StateMachine()
        c.restore(unpack(pack(self.a.snapshot())))
        assert c.fingerprint() == self.a.fingerprint()

    @invariant()
    def same_state_and_monotonic_revision(self):
        assert self.a.fingerprint() == self.b.fingerprint()
        assert self.a.revision >= self.last_revision
        self.last_revision = self.a.revision
        for table in self.a.objects.values():
            for rv, _data in table.values():
                assert 0 < rv <= self.a.revision
        assert self.a.store_bytes == stored_bytes(self.a)


TestTwoReplicas = TwoReplicas.TestCase
TestTwoReplicas.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
