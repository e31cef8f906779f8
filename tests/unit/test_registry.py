"""The registry over a single-replica store: server-set fields, preconditions, watch transitions."""

import copy

import pytest

from raftkube.model.errors import BadRequest, Conflict, Gone, NotFound
from raftkube.model.selectors import parse_field_selector, parse_label_selector
from raftkube.registry import Registry
from raftkube.state.codec import pack
from raftkube.state.local import LocalStore
from raftkube.state.machine import StateMachine, check_result


def pod(name, ns="default", **labels):
    return {"kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


@pytest.fixture
def reg():
    return Registry(LocalStore(), clock=lambda: 1413277200.0, new_uid=iter(f"uid-{i}" for i in range(100)).__next__)


def drain(watch, n):
    out = []
    for ev in watch:
        if ev is None:
            break
        out.append((ev.type, ev.object["metadata"]["name"], ev.revision))
        if len(out) == n:
            break
    return out


def test_create_stamps_server_fields_and_rejects_a_client_resource_version(reg):
    p = reg.create(pod("a"))
    md = p["metadata"]
    assert md["uid"] == "uid-0" and md["creationTimestamp"] == "2014-10-14T09:00:00Z"
    assert md["resourceVersion"] == 1 and p["spec"]["nodeName"] == "" and p["status"]["phase"] == "Pending"
    with pytest.raises(BadRequest):
        reg.create({**pod("b"), "metadata": {"name": "b", "resourceVersion": 3}})
    unnamed = reg.create({"kind": "Pod", "metadata": {}, "spec": {"containers": [{"name": "c", "image": "x"}]}})
    assert unnamed["metadata"]["name"] == "uid-1"  # a refused create consumes nothing


def test_update_keeps_identity_and_binding(reg):
    reg.create(pod("a"))
    reg.bind("default", "a", "n1", service_env=[{"name": "X_SERVICE_HOST", "value": "h"}])
    cur = reg.get("Pod", "default", "a")
    sneaky = dict(cur, metadata=dict(cur["metadata"], uid="forged"))
    sneaky["spec"] = dict(cur["spec"], nodeName="", serviceEnv=[{"name": "EVIL", "value": "1"}])
    out = reg.update(copy.deepcopy(sneaky))
    assert out["metadata"]["uid"] == "uid-0" and out["spec"]["nodeName"] == "n1"
    assert out["spec"]["serviceEnv"] == [{"name": "X_SERVICE_HOST", "value": "h"}]
    with pytest.raises(Conflict):
        reg.update(copy.deepcopy(sneaky))  # its resourceVersion is now stale


def test_filtered_watch_turns_transitions_into_added_and_deleted(reg):
    w = reg.watch("Pod", "default", parse_label_selector("app=web"), None, resource_version=0, poll_s=0)
    assert drain(w, 1) == []
    a = reg.create(pod("a"))  # not matching
    reg.create(pod("b", "other", app="web"))  # other namespace
    a["metadata"]["labels"] = {"app": "web"}
    a = reg.update(a)  # starts matching -> ADDED
    a["metadata"]["labels"]["tier"] = "1"
    a = reg.update(a)  # still matching -> MODIFIED
    a["metadata"]["labels"] = {}
    a = reg.update(a)  # stops matching -> DELETED
    reg.delete("Pod", "default", "a")  # not in the watch any more -> nothing
    assert [e[:2] for e in drain(w, 10)] == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


def test_unfiltered_and_field_watches_resume_from_a_revision(reg):
    reg.create(pod("a"))
    reg.create(pod("b"))
    reg.bind("default", "b", "n1")
    reg.delete("Pod", "default", "a")
    everything = reg.watch("Pod", None, None, None, resource_version=1, poll_s=0)
    assert drain(everything, 10) == [("ADDED", "b", 2), ("MODIFIED", "b", 3), ("DELETED", "a", 4)]
    bound = reg.watch("Pod", None, None, parse_field_selector("Pod", "spec.nodeName=n1"), resource_version=2,
                      poll_s=0)
    assert drain(bound, 10) == [("ADDED", "b", 3)]


def test_watch_from_a_revision_that_left_the_ring_is_gone():
    reg = Registry(LocalStore(watch_ring=16))
    for i in range(40):
        reg.create(pod(f"p{i}"))
    with pytest.raises(Gone):
        next(iter(reg.watch("Pod", resource_version=3, poll_s=0)))


def test_writes_do_not_change_the_callers_shared_metadata(reg):
    cached = reg.create(pod("a"))
    shallow = dict(cached)  # what controllers do with the objects they cache
    shallow["spec"] = dict(cached["spec"], containers=[{"name": "c", "image": "busybox:2"}])
    written = reg.update(shallow)
    assert written["metadata"]["resourceVersion"] == 2
    assert cached["metadata"]["resourceVersion"] == 1  # the cached object is left as it was
    assert cached["metadata"] is not written["metadata"]


def test_a_rendering_is_reused_until_the_object_changes(reg):
    calls = []

    def render(obj):
        calls.append(obj["metadata"]["resourceVersion"])
        return repr(obj["metadata"]["labels"]).encode()

    reg.create(pod("a", app="web"))
    first = reg.get_rendered("Pod", "default", "a", render)
    assert reg.get_rendered("Pod", "default", "a", render) == first and calls == [1]
    cur = reg.get("Pod", "default", "a")
    reg.update(dict(cur, metadata=dict(cur["metadata"], labels={"app": "db"})))
    assert reg.get_rendered("Pod", "default", "a", render) == b"{'app': 'db'}" and calls == [1, 2]
    reg.delete("Pod", "default", "a")
    with pytest.raises(NotFound):
        reg.get_rendered("Pod", "default", "a", render)
    reg.create(pod("a", app="again"))  # same name, new resourceVersion: rendered afresh
    assert reg.get_rendered("Pod", "default", "a", render) == b"{'app': 'again'}"


def test_a_replication_controller_is_rendered_on_every_read(reg):
    rc = {"kind": "ReplicationController", "metadata": {"name": "r", "namespace": "default"},
          "spec": {"replicas": 2, "selector": {"app": "web"},
                   "template": {"metadata": {"labels": {"app": "web"}},
                                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    reg.create(rc)

    def render(obj):
        return str(obj["status"]["replicas"]).encode()

    assert reg.get_rendered("ReplicationController", "default", "r", render) == b"0"
    reg.create(pod("p", app="web"))  # the RC itself is unchanged; its computed replica count is not
    assert reg.get_rendered("ReplicationController", "default", "r", render) == b"1"



class LaggingReplica:
    """Two replicas of one log: entries committed through "the other master" reach this one only when it
    catches up (on a linearizable read, or with its own write, which comes after them in the log)."""

    write_timeout_s = 5.0

    def __init__(self):
        self.other, self.mine = StateMachine(), StateMachine()
        self.behind: list[bytes] = []

    def submit_elsewhere(self, txn: dict, timeout_s: float | None = None) -> list:
        entry = pack([txn])
        self.behind.append(entry)
        [result] = self.other.apply(entry)
        return check_result(result)

    def submit(self, txn: dict, timeout_s: float | None = None) -> list:
        result = self.submit_elsewhere(txn)
        self.catch_up()
        return result

    def catch_up(self) -> None:
        while self.behind:
            self.mine.apply(self.behind.pop(0))

    def read(self, consistent: bool = True, timeout_s: float | None = None) -> StateMachine:
        if consistent:
            self.catch_up()
        return self.mine


class OtherMaster:
    write_timeout_s = 5.0

    def __init__(self, replica: LaggingReplica):
        self.submit = replica.submit_elsewhere
        self.read = lambda consistent=True, timeout_s=None: replica.other


def test_a_follower_decides_404_and_409_on_state_as_new_as_the_request():
    """Create acknowledged by another master, then at once update, delete or bind here, where the create
    has not been applied yet: no wrong 404 or 409 (the old code answered from its stale copy)."""
    store = LaggingReplica()
    there, here = Registry(OtherMaster(store)), Registry(store)
    created = there.create(pod("a"))
    changed = copy.deepcopy(created)
    changed["metadata"]["labels"] = {"v": "2"}
    assert here.update(changed)["metadata"]["labels"] == {"v": "2"}
    there.create(pod("b"))
    assert here.bind("default", "b", "minion-1")["spec"]["nodeName"] == "minion-1"
    there.create(pod("c"))
    here.delete("Pod", "default", "c")
    assert store.read().get(("Pod", "default", "c")) is None
    newer = there.update(copy.deepcopy(there.get("Pod", "default", "a")))  # its rv moves on elsewhere
    newer["metadata"]["labels"] = {"v": "3"}
    assert here.update(newer)["metadata"]["labels"] == {"v": "3"}  # current, just not applied here yet
    with pytest.raises(NotFound):
        here.delete("Pod", "default", "never-created")
    with pytest.raises(Conflict):
        here.update(changed)  # really stale


def test_an_object_over_the_size_cap_is_refused_with_413_and_nothing_is_stored():
    from raftkube.model.errors import RequestTooLarge
    reg = Registry(LocalStore(), max_object_bytes=4096)
    big = pod("big")
    big["metadata"]["annotations"] = {f"a{i}": "x" * 1000 for i in range(5)}
    with pytest.raises(RequestTooLarge) as err:
        reg.create(big)
    assert err.value.code == 413 and "bytes encoded, the most is 4096 ([cluster] max_object_bytes)" in str(err.value)
    with pytest.raises(NotFound):
        reg.get("Pod", "default", "big")
    small = reg.create(pod("small"))
    small["metadata"]["annotations"] = big["metadata"]["annotations"]
    with pytest.raises(RequestTooLarge):  # an update that grows past the cap, too
        reg.update(small)
    assert "annotations" not in reg.get("Pod", "default", "small")["metadata"] or \
        not reg.get("Pod", "default", "small")["metadata"]["annotations"]


def test_the_default_cap_is_etcds_request_limit():
    assert Registry(LocalStore()).max_object_bytes == 1536 * 1024
