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


names = st.sampled_from(["a", "b", "c", "d"])
op_strategy = st.one_of(
    st.builds(lambda n, h: {"op": "create", "key": key(n), "data": pod(n, h)}, names, st.sampled_from(["", "n1"])),
    st.builds(lambda n, rv: {"op": "update", "key": key(n), "data": pod(n, x=str(rv)), "rv": rv}, names,
              st.integers(0, 6)),
    st.builds(lambda n, rv: {"op": "delete", "key": key(n), "rv": rv}, names, st.integers(0, 6)),
    st.builds(lambda n, h: {"op": "bind", "key": key(n), "node": h}, names, st.sampled_from(["n1", "n2"])),
    st.builds(lambda h: {"op": "claim", "holder": h}, st.sampled_from(["m1", "m2"])),
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


TestTwoReplicas = TwoReplicas.TestCase
TestTwoReplicas.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
