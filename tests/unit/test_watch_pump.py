"""The watch pump (api/watchpump.py): one thread serving many watches, in order, resuming, 410, flow control
(a reading client gets everything, whatever the size of an event or a burst), dropping the stuck."""

import json
import socket
import threading
import time

import pytest

from raftkube.api.sinks import SocketSink
from raftkube.api.watchpump import PumpLimits, Watcher, WatchPump, event_line
from raftkube.model.errors import TooManyRequests
from raftkube.registry import Registry
from raftkube.state.local import LocalStore
from raftkube.model.selectors import selector_from_map
from raftkube.testing.objects import pod
from raftkube.testing.waiting import poll_until


class ListSink:
    """Keeps what it is sent; ``stuck``: nothing it is sent ever leaves (a client that stopped reading)."""

    wake = staticmethod(lambda: None)

    def __init__(self, stuck: bool = False):
        self.stuck = stuck
        self.data = bytearray()
        self.unsent = 0
        self.ended = self.aborted = False
        self.aborted_at = None
        self.lock = threading.Lock()

    def alive(self):
        return not (self.ended or self.aborted)

    def backlog(self):
        return self.unsent

    def send(self, data):
        with self.lock:
            self.data += data
            if self.stuck:
                self.unsent += len(data)

    def end(self):
        self.ended = True

    def abort(self):
        self.aborted = True
        self.aborted_at = time.monotonic()

    def lines(self):
        with self.lock:
            return [json.loads(x) for x in bytes(self.data).split(b"\n") if x.strip()]


def _encode(obj):
    meta = obj["metadata"]
    return {"name": meta["name"], "rv": meta["resourceVersion"], **meta.get("annotations", {})}


def _bookmark(rv):
    return json.dumps({"type": "BOOKMARK", "object": {"kind": "Pod", "metadata": {"resourceVersion": str(rv)}}}
                      ).encode() + b"\n"


def _watch(pump, registry, sink, rv=0, client="c", bookmarks=False, labels=None):
    pump.admit(client)
    feed = registry.watch_feed("Pod", None, labels, None, rv)
    w = Watcher(feed, event_line(_encode), "test", lambda m: json.dumps({"type": "ERROR", "message": m}).encode()
                + b"\n", b" ", client, sink=sink, bookmark=_bookmark if bookmarks else None)
    for ev in feed.initial:
        sink.send(w.line(ev))
    feed.initial = []
    pump.add(w)
    return w


@pytest.fixture
def setup():
    registry = Registry(LocalStore(watch_ring=64))
    pump = WatchPump(registry, PumpLimits(max_watches=100, watches_per_client=50, max_buffer=4096, stall_s=0.3))
    yield registry, pump
    pump.close()


def _big_pod(name, pad):
    p = pod(name)
    p["metadata"]["annotations"] = {"pad": "x" * pad}
    return p


def _create(registry, names):
    """``names``: pod names, or (name, app label) pairs."""
    return [registry.create(pod(n) if isinstance(n, str) else pod(n[0], {"app": n[1]})) for n in names]


def test_many_watchers_get_every_event_in_order(setup):
    registry, pump = setup
    sinks = [ListSink() for _ in range(20)]
    for s in sinks:
        _watch(pump, registry, s)
    names = [f"p{i}" for i in range(30)]
    _create(registry, names)
    for s in sinks:
        poll_until(lambda s=s: len(s.lines()) == 30, 10, what="30 events on every watcher")
        assert [(e["type"], e["object"]["name"]) for e in s.lines()] == [("ADDED", n) for n in names]
        rvs = [e["object"]["rv"] for e in s.lines()]
        assert rvs == sorted(rvs)
    assert pump.open_watches == 20


def test_resume_from_a_resource_version_sends_only_later_events(setup):
    registry, pump = setup
    created = _create(registry, [f"p{i}" for i in range(10)])
    sink = ListSink()
    _watch(pump, registry, sink, rv=created[4]["metadata"]["resourceVersion"])
    _create(registry, ["late"])
    poll_until(lambda: len(sink.lines()) == 6, 10, what="events after the 5th create")
    assert [e["object"]["name"] for e in sink.lines()] == ["p5", "p6", "p7", "p8", "p9", "late"]


def test_a_resource_version_that_left_the_ring_gets_410_and_the_stream_ends(setup):
    registry, pump = setup
    _create(registry, [f"p{i}" for i in range(100)])  # the ring holds 64
    sink = ListSink()
    _watch(pump, registry, sink, rv=1)
    poll_until(lambda: sink.ended, 10, what="the stream ends")
    [error] = sink.lines()
    assert error["type"] == "ERROR" and "too old resource version" in error["message"]
    poll_until(lambda: pump.open_watches == 0, 5, what="the watch released")


def test_a_quiet_watch_with_bookmarks_is_told_the_store_revision_and_resumes_from_it_without_410():
    registry = Registry(LocalStore(watch_ring=64))
    pump = WatchPump(registry, PumpLimits(bookmark_s=0.5, keepalive_s=0.2))
    quiet = selector_from_map({"app": "quiet"})
    try:
        with_marks, without = ListSink(), ListSink()
        watchers = [_watch(pump, registry, with_marks, bookmarks=True, labels=quiet),
                    _watch(pump, registry, without, labels=quiet)]
        last_quiet = _create(registry, [("q0", "quiet")])[0]["metadata"]["resourceVersion"]
        for i in range(0, 100, 25):  # 100 > the ring, in steps the pump follows (else the watches get a 410)
            top = _create(registry, [f"busy{j}" for j in range(i, i + 25)])[-1]["metadata"]["resourceVersion"]
            poll_until(lambda: all(w.feed.cursor >= top for w in watchers), 10, what="the pump caught up")

        def marks():
            return [int(e["object"]["metadata"]["resourceVersion"]) for e in with_marks.lines()
                    if e["type"] == "BOOKMARK"]
        poll_until(lambda: marks() and marks()[-1] >= top, 10, what="a bookmark at the store's revision")
        assert [e["type"] for e in with_marks.lines()][0] == "ADDED"  # the event came before any bookmark
        poll_until(lambda: without.data.count(b" ") >= 3, 10, what="keep-alive filler on the other watch")
        assert [e["type"] for e in without.lines()] == ["ADDED"]  # no BOOKMARK without asking
        # resuming from the last event the watch saw is too old now (the ring moved on); from the bookmark not
        stale, resumed = ListSink(), ListSink()
        _watch(pump, registry, stale, rv=last_quiet, labels=quiet)
        poll_until(lambda: stale.ended, 10, what="the stale resume ends")
        assert [e["type"] for e in stale.lines()] == ["ERROR"]
        _watch(pump, registry, resumed, rv=marks()[-1], labels=quiet)
        _create(registry, [("q1", "quiet")])
        poll_until(lambda: resumed.lines(), 10, what="the later event")
        assert [(e["type"], e["object"]["name"]) for e in resumed.lines()] == [("ADDED", "q1")]
        assert not resumed.ended
    finally:
        pump.close()


def test_a_watch_with_a_timeout_ends_in_order_after_it(setup):
    registry, pump = setup
    timed, open_ = ListSink(), ListSink()
    w = _watch(pump, registry, timed)
    w.ends_at = time.monotonic() + 0.5
    _watch(pump, registry, open_)
    poll_until(lambda: timed.ended, 10, what="the stream with timeoutSeconds ends")
    assert not timed.aborted and open_.alive() and pump.open_watches == 1


def test_a_watcher_that_does_not_read_is_dropped_and_the_others_keep_up(setup):
    registry, pump = setup
    stuck, fine = ListSink(stuck=True), ListSink()
    stuck_watch = _watch(pump, registry, stuck)
    _watch(pump, registry, fine)
    names = [f"pod-with-a-long-name-{i}" for i in range(60)]  # ~60 lines of ~70 bytes: past the 4 KiB cap
    _create(registry, names)
    poll_until(lambda: stuck.aborted, 10, what="the stuck watcher dropped")
    poll_until(lambda: len(fine.lines()) == 60, 10, what="every event on the other watcher")
    longest = max(len(x) for x in bytes(fine.data).split(b"\n")) + 1
    assert 4096 <= stuck.unsent < 4096 + longest  # sent up to the event that filled its buffer, no more
    assert [e["object"]["name"] for e in stuck.lines()] == names[:len(stuck.lines())]
    assert stuck.aborted_at - stuck_watch.stall_since >= 0.3  # dropped after the stall bound, not before
    assert not fine.aborted and pump.dropped_slow == 1
    poll_until(lambda: pump.open_watches == 1, 5, what="the dropped watch released")


class DrainSink(ListSink):
    """A client that reads only when the test says so (``drain``); tells the pump (``when_below``)."""

    def __init__(self):
        super().__init__(stuck=True)
        self.below = None

    def when_below(self, mark, callback):
        self.below = (mark, callback)

    def drain(self):
        with self.lock:
            self.unsent = 0
        below, self.below = self.below, None
        if below is not None:
            below[1]()


@pytest.fixture
def small():
    """A pump whose buffer is 1 000 bytes (~25 of the test's event lines) over a ring of 64 events."""
    registry = Registry(LocalStore(watch_ring=64))
    pump = WatchPump(registry, PumpLimits(max_buffer=1000, stall_s=30))
    yield registry, pump
    pump.close()


def test_a_paused_watcher_resumes_when_its_client_reads(small):
    registry, pump = small
    sink = DrainSink()
    _watch(pump, registry, sink)
    names = [f"pod-{i}" for i in range(60)]  # ~40 bytes each: 2 to 3 buffers (the ring holds 64)
    _create(registry, names)
    poll_until(lambda: sink.below is not None, 10, what="the watcher paused at its buffer")
    assert 0 < len(sink.lines()) < 60 and pump.pauses == 1
    while len(sink.lines()) < 60:  # the client reads whenever the pump waits for it: it gets the rest
        poll_until(lambda: sink.below is not None or len(sink.lines()) == 60, 10, what="paused again or done")
        sink.drain()
    assert [e["object"]["name"] for e in sink.lines()] == names and pump.dropped_slow == 0 and pump.pauses >= 2


def test_a_paused_watcher_whose_events_left_the_ring_gets_410_when_it_reads(small):
    registry, pump = small
    sink = DrainSink()
    _watch(pump, registry, sink)
    _create(registry, [f"pod-with-a-long-name-{i}" for i in range(60)])
    poll_until(lambda: sink.below is not None, 10, what="the watcher paused at its buffer")
    _create(registry, [f"more-{i}" for i in range(64)])  # the ring holds 64: its next events are gone
    sink.drain()
    poll_until(lambda: sink.ended, 10, what="the stream ends")
    last = sink.lines()[-1]
    assert last["type"] == "ERROR" and "too old resource version" in last["message"]
    poll_until(lambda: pump.open_watches == 0, 5, what="the watch released")


def test_watches_over_a_client_limit_are_429_until_one_ends(setup):
    registry, pump = setup
    for _ in range(50):
        pump.admit("greedy")
    with pytest.raises(TooManyRequests) as exc:
        pump.admit("greedy")
    assert exc.value.code == 429 and exc.value.retry_after_s > 0 and "watches_per_client" in exc.value.message
    pump.admit("another")  # other clients are not limited by this one
    pump.release("greedy")
    pump.admit("greedy")


def test_closing_the_pump_ends_every_stream(setup):
    registry, pump = setup
    sinks = [ListSink() for _ in range(5)]
    for s in sinks:
        _watch(pump, registry, s)
    _create(registry, ["p"])
    poll_until(lambda: all(s.lines() for s in sinks), 10, what="the event on every watcher")
    pump.close()
    assert all(s.ended for s in sinks) and pump.open_watches == 0


def _tcp_pair(buf: int = 4096):
    """(client end, server end) of a loopback TCP connection with small kernel buffers."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buf)
        client.connect(listener.getsockname())
        server, _ = listener.accept()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buf)
    return client, server


def test_socket_sink_streams_chunks_and_a_client_that_stops_reading_is_dropped():
    registry = Registry(LocalStore(watch_ring=10_000))
    pump = WatchPump(registry, PumpLimits(max_buffer=4096, stall_s=0.5))
    reader_end, server_end = _tcp_pair()
    slow_end, slow_server = _tcp_pair()
    try:
        _watch(pump, registry, SocketSink(server_end, chunked=True))
        slow = SocketSink(slow_server, chunked=True)
        _watch(pump, registry, slow)
        _create(registry, ["p0"])
        reader_end.settimeout(10)
        got = b""
        while b"\r\n" not in got or not got.endswith(b"\r\n") or b"p0" not in got:
            got += reader_end.recv(4096)
        size, _, rest = got.partition(b"\r\n")
        assert json.loads(rest[:int(size, 16)])["object"]["name"] == "p0"
        # neither end reads now: the kernel buffers fill, then the pump's own queue passes 4 KiB
        assert slow.alive()
        _create(registry, [f"pod-with-a-long-name-{i}" for i in range(1000)])  # ~90 KB
        poll_until(lambda: not slow.alive(), 10, what="the client that does not read dropped")
        poll_until(lambda: pump.dropped_slow == 2 and pump.open_watches == 0, 10, what="both dropped")
        slow_end.settimeout(10)
        while slow_end.recv(65536):  # its connection was closed: EOF after what the kernel held
            pass
    finally:
        pump.close()
        for s in (reader_end, server_end, slow_end, slow_server):
            s.close()


class Reader:
    """Reads a chunked watch stream from a socket in a thread, ``size`` bytes per recv, until EOF."""

    def __init__(self, sock, size=65536):
        self.sock, self.size = sock, size
        self.data = bytearray()
        self.eof = False
        self.lock = threading.Lock()
        sock.settimeout(30)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while chunk := self.sock.recv(self.size):
                with self.lock:
                    self.data += chunk
        except OSError:
            pass
        self.eof = True

    def events(self):
        """The JSON lines of the complete chunks so far."""
        with self.lock:
            buf = bytes(self.data)
        body = bytearray()
        while b"\r\n" in buf:
            size, _, rest = buf.partition(b"\r\n")
            n = int(size, 16)
            if len(rest) < n + 2:
                break
            body += rest[:n]
            buf = rest[n + 2:]
        return [json.loads(x) for x in bytes(body).split(b"\n") if x.strip()]


@pytest.fixture
def socket_pump():
    registry = Registry(LocalStore(watch_ring=10_000))
    pump = WatchPump(registry, PumpLimits(max_buffer=4096, stall_s=30))
    socks = []

    def connect():
        pair = _tcp_pair()
        socks.extend(pair)
        return pair
    yield registry, pump, connect
    pump.close()
    for s in socks:
        s.close()


def test_a_reading_client_gets_an_object_larger_than_the_buffer(socket_pump):
    registry, pump, connect = socket_pump
    reader_end, server_end = connect()
    sink = SocketSink(server_end, chunked=True)
    _watch(pump, registry, sink)
    registry.create(_big_pod("big", 20_000))  # 5 times the 4 KiB buffer (the kernel's buffers hold ~16 KB)
    registry.create(_big_pod("big-again", 20_000))
    poll_until(lambda: pump.pauses == 1, 10, what="the watcher paused with the first event unsent")
    reader = Reader(reader_end)  # the client starts reading only now
    poll_until(lambda: len(reader.events()) == 2, 10, what="both large events read")
    assert [e["object"]["name"] for e in reader.events()] == ["big", "big-again"]
    assert sink.alive() and pump.open_watches == 1 and pump.dropped_slow == 0


def test_a_burst_many_times_the_buffer_reaches_a_slow_reader_in_order(socket_pump):
    registry, pump, connect = socket_pump
    reader_end, server_end = connect()
    sink = SocketSink(server_end, chunked=True)
    _watch(pump, registry, sink)
    names = [f"burst-{i}" for i in range(150)]
    for n in names:  # ~1.2 KB per event, ~180 KB in all: 45 times the buffer, more than one fetch of the feed
        registry.create(_big_pod(n, 1000))
    poll_until(lambda: pump.pauses >= 1, 10, what="the watcher paused at its buffer")
    reader = Reader(reader_end, size=512)  # reads only now, a little at a time
    poll_until(lambda: len(reader.events()) == 150, 30, what="every event of the burst read")
    assert [e["object"]["name"] for e in reader.events()] == names
    rvs = [e["object"]["rv"] for e in reader.events()]
    assert rvs == sorted(rvs) and len(set(rvs)) == 150
    assert sink.alive() and pump.dropped_slow == 0 and pump.pauses >= 1


def test_watchers_sharing_a_sink_are_served_and_end_together(setup):
    """/ui/watch: one watcher per resource on one connection; one's 410 ends the stream for all of them."""
    registry, pump = setup
    sink = ListSink()
    line = event_line(_encode)
    gone = lambda m: json.dumps({"type": "ERROR", "message": m}).encode() + b"\n"  # noqa: E731
    rv = registry.create(pod("first"))["metadata"]["resourceVersion"]
    watchers = []
    for kind in ("Pod", "Node"):
        pump.admit("c")
        watchers.append(Watcher(registry.watch_feed(kind, None, None, None, rv), line, "t", gone, b" ", "c",
                                sink=sink))
    pump.add(*watchers)
    _create(registry, ["p1"])
    registry.create({"kind": "Node", "metadata": {"name": "n1"}})
    poll_until(lambda: len(sink.lines()) == 2, 10, what="the pod's and the node's events")
    assert sorted(e["object"]["name"] for e in sink.lines()) == ["n1", "p1"] and pump.open_watches == 2
    sink.abort()  # the client went away: both are released
    poll_until(lambda: pump.open_watches == 0, 5, what="both watchers of the closed stream released")
    old = Watcher(registry.watch_feed("Pod", None, None, None, 1), line, "t", gone, b" ", "c", sink=ListSink())
    other = Watcher(registry.watch_feed("Node", None, None, None, rv), line, "t", gone, b" ", "c", sink=old.sink)
    _create(registry, [f"q{i}" for i in range(70)])  # the ring holds 64: revision 1 is gone
    pump.admit("c")
    pump.admit("c")
    pump.add(old, other)
    poll_until(lambda: old.sink.ended, 10, what="the group's stream ended")
    assert old.sink.lines()[-1]["type"] == "ERROR"
    poll_until(lambda: pump.open_watches == 0, 5, what="both watchers of the ended group released")
