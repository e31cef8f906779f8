"""Where the watch pump (api/watchpump.py) writes a stream: a waitress channel, or a TLS socket taken from cheroot.

Both queue bytes without blocking and say how many are unsent (``backlog``), and call back once when that
falls below a mark (``when_below``: the pump pauses a watcher whose client has not read what it has and
pulls it again then). ``end`` finishes the HTTP body (the terminating chunk when chunked) and closes the
connection once flushed; ``abort`` closes it at once. Only the pump thread calls them once the worker
thread has handed the connection over (``when_below``'s callback may come from waitress' loop thread).
"""

from __future__ import annotations

import selectors
import socket
import ssl
from collections import deque

_LAST_CHUNK = b"0\r\n\r\n"
_NOT_NOW = (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError, InterruptedError)


def frame(data: bytes, chunked: bool) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data


class ChannelSink:
    """A waitress channel: ``write_soon`` from any thread, the loop thread sends (``wake`` pulls its trigger)."""

    def __init__(self, channel, chunked: bool, wake):
        self.channel = channel
        self.chunked = chunked
        self.wake = wake  # the server's trigger: the pump pulls it once per pass
        self._below = None  # (mark, callback) until the backlog falls below mark
        channel.on_flushed = self._flushed  # waitress' loop thread, after each send (api/server.py)

    def alive(self) -> bool:
        return self.channel.connected and not self.channel.will_close

    def backlog(self) -> int:
        return self.channel.total_outbufs_len

    def when_below(self, mark: int, callback) -> None:
        self._below = (mark, callback)
        self._flushed()  # the loop may have sent everything before the mark was set

    def _flushed(self) -> None:
        below = self._below
        if below is not None and self.channel.total_outbufs_len < below[0]:
            self._below = None
            below[1]()

    def send(self, data: bytes) -> None:
        try:
            self.channel.write_soon(frame(data, self.chunked))
        except Exception:  # noqa: BLE001 - ClientDisconnected: the sweep drops it
            self.channel.will_close = True

    def end(self) -> None:
        if self.chunked:
            self.send(b"")  # frame(b"") is the last chunk
        self.channel.close_when_flushed = True

    def abort(self) -> None:
        self.channel.will_close = True


def _nothing() -> None:
    pass


class SocketSink:
    """A non-blocking socket (a TLS connection cheroot let go of) watched by the pump's selector."""

    wake = staticmethod(_nothing)

    def __init__(self, sock: socket.socket, chunked: bool):
        self.sock = sock
        self.chunked = chunked
        self._fd = sock.fileno()
        self._out: deque[bytes] = deque()
        self._len = 0
        self._head_tried = False  # an SSL write that wanted to wait must be retried with the same bytes
        self._dead = False
        self._selector: selectors.BaseSelector | None = None
        self._data = None
        self._writing = False
        self._below = None  # (mark, callback) until the backlog falls below mark
        self._closing = False  # ended: close once everything queued is sent
        sock.setblocking(False)

    def fileno(self) -> int:
        return self._fd

    def watch(self, selector: selectors.BaseSelector, data) -> None:
        self._selector, self._data = selector, data
        selector.register(self._fd, selectors.EVENT_READ, data)
        self._interest()

    def unwatch(self) -> None:
        if self._selector is not None:
            try:
                self._selector.unregister(self._fd)
            except (KeyError, ValueError, OSError):
                pass
            self._selector = None

    def alive(self) -> bool:
        return not self._dead

    def backlog(self) -> int:
        return self._len

    def when_below(self, mark: int, callback) -> None:
        if self._len < mark:
            callback()
        else:
            self._below = (mark, callback)

    def send(self, data: bytes) -> None:
        if self._dead:
            return
        data = frame(data, self.chunked)
        self._out.append(data)
        self._len += len(data)
        self._flush()

    def on_ready(self, mask: int) -> None:
        if mask & selectors.EVENT_READ:  # a watch client sends nothing: this is EOF, or bytes to ignore
            try:
                if not self.sock.recv(4096):
                    self._dead = True
            except _NOT_NOW:
                pass
            except OSError:
                self._dead = True
        if mask & selectors.EVENT_WRITE and not self._dead:
            self._flush()

    def _flush(self) -> None:
        while self._out and not self._dead:
            if not self._head_tried and len(self._out) > 1:
                self._out = deque([b"".join(self._out)])  # one TLS write for everything queued
            self._head_tried = True
            head = self._out[0]
            try:
                n = self.sock.send(head)
            except _NOT_NOW:
                break
            except OSError:
                self._dead = True
                break
            self._len -= n
            self._head_tried = False
            if n < len(head):
                self._out[0] = head[n:]
            else:
                self._out.popleft()
        if self._closing and not self._out:
            self.abort()
            return
        below = self._below
        if below is not None and self._len < below[0]:
            self._below = None
            below[1]()
        self._interest()

    def _interest(self) -> None:
        writing = bool(self._out) and not self._dead
        if self._selector is not None and writing != self._writing:
            self._writing = writing
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if writing else 0)
            self._selector.modify(self._fd, events, self._data)

    def end(self) -> None:
        """The last chunk, then close once everything is sent (the pump's selector flushes it; the pump cuts
        a stream its client does not take within its stall bound)."""
        if self._dead:
            return
        self._closing = True
        self.send(b"") if self.chunked else self._flush()

    def abort(self) -> None:
        self.unwatch()
        self._dead = True
        self._out.clear()
        self._len = 0
        try:
            self.sock.close()
        except OSError:
            pass
