"""The one informer (``raftkube.informer``) against scripted fake clients and a fake clock: list then watch,
handler order, relist on 410 Gone, relist or resume after a broken watch, resync, stop. Waits are on events
with deadlines, never sleeps."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass

from raftkube.informer import EventHandlers, Informer, InformerSettings, Store
from raftkube.model.errors import Gone, Unavailable
from tests.unit.fakes import FakeClock, RecordingClient

FAST = InformerSettings(retry_s=0.01, max_retry_s=0.01)


@dataclass
class Ev:
    type: str
    object: dict
    revision: int


def obj(name: str, rv: int, **spec) -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "default", "resourceVersion": rv},
            "spec": dict(spec)}


def ev(type_: str, name: str, rv: int, **spec) -> Ev:
    return Ev(type_, obj(name, rv, **spec), rv)


class ScriptedClient:
    """``list`` answers ``lists`` in turn (the last one again and again); each ``watch`` plays the next
    script of ``watches`` (events; an exception is raised; ``END`` ends the stream), then idles until closed."""

    END = object()

    def __init__(self, lists, watches=()):
        self.lists = list(lists)
        self.watches = [list(w) for w in watches]
        self.list_calls: list[dict] = []
        self.watch_calls: list[dict] = []
        self.cond = threading.Condition()
        self.idle = 0

    def list(self, kind, namespace=None, labels="", fields=""):
        with self.cond:
            self.list_calls.append({"kind": kind, "namespace": namespace, "labels": labels, "fields": fields})
            items, revision = self.lists[0] if len(self.lists) == 1 else self.lists.pop(0)
        return copy.deepcopy(items), revision

    def watch(self, kind, namespace=None, labels="", fields="", resource_version=0):
        with self.cond:
            self.watch_calls.append({"kind": kind, "fields": fields, "rv": resource_version})
            script = self.watches.pop(0) if self.watches else []
        return _Watch(self, script)

    def wait_idle(self, n: int, timeout_s: float = 5.0) -> bool:
        """Until ``n`` watches have played their script and idle."""
        with self.cond:
            return self.cond.wait_for(lambda: self.idle >= n, timeout_s)

    @property
    def watched_from(self) -> list[int]:
        return [c["rv"] for c in self.watch_calls]


class _Watch:
    def __init__(self, client: ScriptedClient, script: list):
        self.client, self.script = client, script
        self.closed = threading.Event()

    def __iter__(self):
        for item in self.script:
            if item is ScriptedClient.END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
        with self.client.cond:
            self.client.idle += 1
            self.client.cond.notify_all()
        while not self.closed.wait(0.01):
            yield None

    def close(self):
        self.closed.set()


def names(objs) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objs)


def recorder(log: list, tag: str):
    def handler(old, new):
        if old is None:
            log.append((tag, "add", new["metadata"]["name"]))
        elif new is None:
            log.append((tag, "delete", old["metadata"]["name"]))
        else:
            log.append((tag, "update", new["metadata"]["name"]))
    return handler


# ---- list, watch, handlers ----------------------------------------------------------------------
def test_lists_then_watches_from_the_list_revision_and_handlers_see_every_change_in_order():
    client = ScriptedClient([([obj("a", 3), obj("b", 4)], 5)],
                            [[ev("MODIFIED", "a", 6), ev("DELETED", "b", 7), ev("ADDED", "c", 8)]])
    calls: list = []
    informer = Informer(client, "Pod", recorder(calls, "first"), fields="DesiredState.Host=n1", settings=FAST)
    informer.add_handler(recorder(calls, "second"))
    relists = []
    informer.add_relist_handler(lambda: relists.append(len(calls)))
    informer.start("test-watch")
    try:
        assert client.wait_idle(1)
    finally:
        informer.stop(timeout_s=5)
    assert client.list_calls == [{"kind": "Pod", "namespace": None, "labels": "", "fields": "DesiredState.Host=n1"}]
    assert client.watch_calls == [{"kind": "Pod", "fields": "DesiredState.Host=n1", "rv": 5}]
    changes = [("add", "a"), ("add", "b"), ("update", "a"), ("delete", "b"), ("add", "c")]
    assert calls == [(tag, *c) for c in changes for tag in ("first", "second")]
    assert relists == [4]  # after the list's changes went to both handlers
    assert names(informer.items()) == ["a", "c"] and informer.revision == 8 and informer.synced.is_set()
    assert informer.get(("default", "a"))["metadata"]["resourceVersion"] == 6


def test_stale_events_and_relists_never_go_back_in_time():
    client = ScriptedClient([([obj("a", 5)], 5), ([obj("a", 4)], 9)])
    calls: list = []
    informer = Informer(client, "Pod", recorder(calls, "h"))
    informer.relist()
    informer.apply(ev("MODIFIED", "a", 3))  # older than the cached copy
    informer.apply(ev("DELETED", "zzz", 6))  # never seen
    informer.relist()  # a lagging master's list: same object, older version
    assert calls == [("h", "add", "a")]
    assert informer.get(("default", "a"))["metadata"]["resourceVersion"] == 5 and informer.revision == 9
    informer.store_local(obj("a", 10))
    informer.store_local(obj("a", 10), deleted=True)
    assert calls[1:] == [("h", "update", "a"), ("h", "delete", "a")] and informer.items() == []


def test_a_relist_removes_what_is_gone_and_keeps_what_is_newer_than_the_list():
    client = ScriptedClient([([obj("a", 2), obj("b", 3)], 3), ([obj("a", 2)], 4)])
    calls: list = []
    informer = Informer(client, "Pod", recorder(calls, "h"))
    informer.relist()
    informer.apply(ev("ADDED", "c", 7))  # newer than the next list's revision: kept
    informer.relist()
    assert calls == [("h", "add", "a"), ("h", "add", "b"), ("h", "add", "c"), ("h", "delete", "b")]
    assert names(informer.items()) == ["a", "c"]


def test_shared_list_reuse_within_max_age_uses_the_injected_clock():
    client = ScriptedClient([([obj("a", 1)], 1)])
    clock = FakeClock(100.0)
    informer = Informer(client, "Pod", clock=clock)
    informer.relist(max_age_s=1.0)
    informer.relist(max_age_s=1.0)
    clock.advance(1.0)
    informer.relist(max_age_s=1.0)
    informer.relist()
    assert len(client.list_calls) == 3


# ---- recovery -------------------------------------------------------------------------------------
def test_gone_relists_at_once_and_watches_from_the_new_list():
    client = ScriptedClient([([obj("a", 3), obj("b", 4)], 5), ([obj("a", 9)], 12)],
                            [[ev("ADDED", "c", 6), Gone("too old")], []])
    calls: list = []
    informer = Informer(client, "Pod", recorder(calls, "h"), settings=InformerSettings(retry_s=60, max_retry_s=60))
    relisted = threading.Event()
    informer.add_relist_handler(lambda: relisted.set() if len(client.list_calls) == 2 else None)
    informer.start()
    try:
        assert client.wait_idle(1) and relisted.is_set()  # no 60 s backoff on Gone
    finally:
        informer.stop(timeout_s=5)
    assert client.watched_from == [5, 12]
    assert calls == [("h", "add", "a"), ("h", "add", "b"), ("h", "add", "c"),
                     ("h", "delete", "b"), ("h", "delete", "c"), ("h", "update", "a")]
    assert names(informer.items()) == ["a"]


def test_a_broken_watch_relists_after_a_backoff():
    client = ScriptedClient([([obj("a", 3)], 5)],
                            [[ev("ADDED", "b", 7), Unavailable("watch stream ended: ConnectionError")], []])
    informer = Informer(client, "Pod", settings=FAST)
    informer.start()
    try:
        assert client.wait_idle(1)
    finally:
        informer.stop(timeout_s=5)
    assert len(client.list_calls) == 2 and client.watched_from == [5, 7]


def test_a_broken_watch_resumes_from_the_last_revision_when_told_not_to_relist():
    client = ScriptedClient([([obj("a", 3)], 5)],
                            [[ev("ADDED", "b", 7), Unavailable("lost master")], [RuntimeError("a bug")], []])
    informer = Informer(client, "Pod", settings=InformerSettings(retry_s=0.01, max_retry_s=0.01,
                                                                 relist_on_error=False))
    informer.start()
    try:
        assert client.wait_idle(1)
    finally:
        informer.stop(timeout_s=5)
    assert len(client.list_calls) == 1 and client.watched_from == [5, 7, 7]  # the crash did not end the thread


def test_a_failed_first_list_is_retried_before_any_watch():
    class FailingOnce(ScriptedClient):
        def list(self, *args, **kw):
            if not self.list_calls:
                self.list_calls.append({})
                raise Unavailable("no master")
            return super().list(*args, **kw)
    client = FailingOnce([([obj("a", 3)], 5)])
    informer = Informer(client, "Pod", settings=InformerSettings(retry_s=0.01, max_retry_s=0.01,
                                                                 relist_on_error=False))
    informer.start()
    try:
        assert client.wait_idle(1)
    finally:
        informer.stop(timeout_s=5)
    assert len(client.list_calls) == 2 and client.watched_from == [5] and names(informer.items()) == ["a"]


def test_an_ended_stream_resumes_or_relists_per_settings():
    for relist_on_end, lists in ((False, 1), (True, 2)):
        client = ScriptedClient([([obj("a", 3)], 5)], [[ev("ADDED", "b", 6), ScriptedClient.END], []])
        informer = Informer(client, "Pod", settings=InformerSettings(relist_on_end=relist_on_end, retry_s=60))
        informer.start()
        try:
            assert client.wait_idle(1)
        finally:
            informer.stop(timeout_s=5)
        assert len(client.list_calls) == lists and client.watched_from == [5, 6]


def test_backoff_doubles_up_to_the_cap():
    informer = Informer(None, "Pod", settings=InformerSettings(retry_s=0.2, max_retry_s=5.0))
    assert [informer._backoff_s(n) for n in range(1, 8)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]


# ---- periods on a fake clock --------------------------------------------------------------------
def test_resync_redelivers_every_object_and_relist_runs_on_its_period():
    client = ScriptedClient([([obj("a", 1), obj("b", 2)], 2)])
    clock = FakeClock(1000.0)
    calls: list = []
    informer = Informer(client, "Pod", recorder(calls, "h"), clock=clock,
                        settings=InformerSettings(resync_period_s=10.0, relist_period_s=25.0))
    assert informer.tick(clock()) == 10.0  # nothing before the first list
    informer.relist()
    calls.clear()
    assert informer.tick(clock()) == 10.0 and calls == []
    clock.advance(10.0)
    assert informer.tick(clock()) == 10.0
    assert calls == [("h", "update", "a"), ("h", "update", "b")]
    clock.advance(10.0)
    assert informer.tick(clock()) == 5.0 and len(calls) == 4  # the relist is due in 5 s
    clock.advance(5.0)
    assert informer.tick(clock()) == 5.0 and len(client.list_calls) == 2  # relisted; the resync is next
    clock.advance(5.0)
    assert informer.tick(clock()) == 10.0 and len(calls) == 6 and len(client.list_calls) == 2
    assert Informer(client, "Pod").tick(clock()) == float("inf")  # no periods: nothing to do


# ---- stop -----------------------------------------------------------------------------------------
def test_stop_ends_the_watch_thread_and_nothing_is_listed_or_watched_after():
    client = ScriptedClient([([obj("a", 1)], 1)])
    stop = threading.Event()
    informer = Informer(client, "Pod", settings=InformerSettings(resync_period_s=0.01), stop=stop)
    informer.start("stopping-watch")
    assert client.wait_idle(1)
    informer.stop(timeout_s=5)
    assert stop.is_set() and all(not t.is_alive() for t in informer.threads)
    assert [t.name for t in informer.threads] == ["stopping-watch", "stopping-watch-resync"]
    assert len(client.list_calls) == 1 and len(client.watch_calls) == 1


def test_a_real_client_list_and_watch_through_the_registry():
    client = RecordingClient()
    client.create({"kind": "Pod", "metadata": {"name": "a"}, "spec": {"containers": [{"name": "c", "image": "i"}]}})
    added = threading.Event()
    informer = Informer(client, "Pod", EventHandlers(on_add=lambda o: o["metadata"]["name"] == "b" and added.set()))
    informer.start()
    try:
        assert informer.synced.wait(5)
        client.create({"kind": "Pod", "metadata": {"name": "b"},
                       "spec": {"containers": [{"name": "c", "image": "i"}]}})
        assert added.wait(5)
    finally:
        informer.stop(timeout_s=5)
    assert names(informer.items()) == ["a", "b"]


# ---- store and handlers ---------------------------------------------------------------------------
def test_store_indexes_follow_puts_and_deletes():
    store = Store({"node": lambda o: [o["spec"]["node"]] if o["spec"].get("node") else []})
    store.put(("default", "a"), obj("a", 1, node="n1"))
    store.put(("default", "b"), obj("b", 2, node="n1"))
    store.put(("default", "c"), obj("c", 3))
    assert names(store.by_index("node", "n1")) == ["a", "b"] and store.index_values("node") == ["n1"]
    store.put(("default", "a"), obj("a", 4, node="n2"))
    assert names(store.by_index("node", "n1")) == ["b"] and names(store.by_index("node", "n2")) == ["a"]
    assert store.delete(("default", "b"))["metadata"]["name"] == "b" and store.delete(("default", "b")) is None
    assert store.index_values("node") == ["n2"] and store.by_index("node", "n1") == [] and len(store) == 2


def test_event_handlers_split_add_update_delete():
    seen = []
    h = EventHandlers(on_add=lambda o: seen.append("add"), on_update=lambda o, n: seen.append("update"),
                      on_delete=lambda o: seen.append("delete"))
    h(None, obj("a", 1))
    h(obj("a", 1), obj("a", 2))
    h(obj("a", 2), None)
    EventHandlers()(None, obj("a", 1))
    assert seen == ["add", "update", "delete"]
