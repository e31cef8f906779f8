"""Serving the Falcon app with waitress, in a thread the master can stop.

Two small changes to how waitress answers, both for the CPU a request costs under load (bench/README.md):

- A response with a known length leaves in one ``send()``: waitress sends the status line and headers, then
  the body, in two (``_OneSendTask``).
- A worker thread that has sent its whole response does not wake the loop thread. waitress ends every
  request by pulling its trigger (a byte down a pipe) so that the loop thread flushes what the worker could
  not send; when nothing is left and the connection needs nothing else, that wake-up only costs a pass
  over every connection (``_Channel``, ``_pull_trigger``).

Slow clients: a request whose head and body have not all arrived ``read_timeout_s`` after its first byte
is cut (the connection closes; waitress alone never cuts a client that trickles a byte now and then, its
``channel_timeout`` only closes connections with no activity at all, set here to ``idle_timeout_s``); the
check runs in waitress' maintenance pass, once a second (``_Channel.request_since``, ``_cut_slow``).

A watch stream leaves the worker thread: the task puts ``raftkube.stream_sink`` in the WSGI environ, a
function the watch's body calls once its head and first events are written; from then on the watch pump
(api/watchpump.py) writes to the channel (``write_soon`` takes writes from any thread, the loop thread sends
them), the task ends without the terminating chunk and without closing, and the channel ignores further
input. The pump ends the stream (last chunk, close when flushed) or drops it (close).
"""

from __future__ import annotations

import logging
import threading
import time

from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import WSGITask

from raftkube.api.clientlimit import ClientConnections
from raftkube.api.sinks import ChannelSink

log = logging.getLogger(__name__)

_serving = threading.local()  # .channel: the connection this worker thread is serving a request of


class _OneSendTask(WSGITask):
    handed_off = False

    def get_environment(self):
        env = super().get_environment()
        env["raftkube.stream_sink"] = self._hand_off
        return env

    def _hand_off(self) -> ChannelSink:
        """The connection, for the watch pump: this task writes nothing more to it."""
        self.handed_off = True
        self.channel.streaming = True
        return ChannelSink(self.channel, self.chunked_response, self.channel.server.trigger.pull_trigger)

    def finish(self):
        if self.handed_off:  # the pump writes the last chunk and closes
            self.close_on_finish = False
            return
        super().finish()

    def write(self, data):
        if (not self.wrote_header and self.complete and self.has_body and not self.chunked_response
                and data and self.content_length == len(data)):
            head = self.build_response_header()  # may add "Connection: close" while wrote_header is False
            self.wrote_header = True
            self.content_bytes_written = len(data)
            self.channel.write_soon(head + data)
            return
        super().write(data)


class _Channel(HTTPChannel):
    task_class = _OneSendTask
    streaming = False  # a watch pump owns the response: nothing the client sends is a request
    refused = False  # over api.connections_per_client: answered 429, closed once sent; input ignored
    _client: str | None = None  # the address counted in the server's ClientConnections
    on_flushed = None  # the pump's sink (api/sinks.py): told after each send of a streaming response
    request_since: float | None = None  # when the first byte of a request not yet complete arrived

    def __init__(self, server, sock, addr, adj, map=None):
        super().__init__(server, sock, addr, adj, map)
        clients = getattr(server, "raftkube_clients", None)
        if clients is None or not isinstance(addr, tuple):
            return
        if clients.acquire(addr[0]):
            self._client = addr[0]
            return
        self.refused = True
        self.write_soon(clients.refusal())
        self.close_when_flushed = True

    def _uncount(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            self.server.raftkube_clients.release(client)

    def handle_close(self):
        self._uncount()
        super().handle_close()

    def close(self):
        self._uncount()
        super().close()

    def received(self, data):
        if self.streaming or self.refused:
            return True
        started = self.request
        more = super().received(data)
        if self.request is None:
            self.request_since = None
        elif self.request is not started:
            self.request_since = time.time()  # waitress' clock (last_activity, maintenance)
        return more

    def handle_write(self):
        # waitress flushes without the output lock when no request is running; a pumped stream has none
        # running, but the pump appends under that lock from its own thread: flush under it too
        if not self.streaming:
            return super().handle_write()
        with self.outbuf_lock:
            self._flush_exception(self._flush_some)
            if self.close_when_flushed and not self.total_outbufs_len:
                self.close_when_flushed = False
                self.will_close = True
        if self.will_close:
            self.handle_close()
        elif self.on_flushed is not None:
            self.on_flushed()

    def service(self):
        _serving.channel = self
        try:
            super().service()
        finally:
            _serving.channel = None

    def settled(self) -> bool:
        """Nothing for the loop thread to do: the response is sent and no request or close is pending.

        The loop thread already watches an idle connection for reading, so it learns of the next request
        without a wake-up; output left unsent, a request queued behind this one (it may not have been
        watched for reading) or a close all need the loop thread.
        """
        with self.requests_lock:
            return (self.connected and not self.requests and not self.total_outbufs_len
                    and not self.will_close and not self.close_when_flushed)


def _pull_trigger(trigger) -> None:
    channel = getattr(_serving, "channel", None)
    if channel is None or not channel.settled():
        trigger.pull_trigger()


class SlowClients:
    """Cuts connections whose request has been arriving for longer than ``read_timeout_s``."""

    def __init__(self, server, read_timeout_s: float):
        self._server = server
        self._maintenance = server.maintenance
        self.read_timeout_s = read_timeout_s
        self.cut = 0
        server.maintenance = self.maintenance

    def maintenance(self, now: float) -> None:
        self._maintenance(now)
        cutoff = now - self.read_timeout_s
        slow = [c for c in list(self._server.active_channels.values())
                if c.request_since is not None and c.request_since < cutoff and not c.will_close]
        for channel in slow:
            channel.will_close = True  # the loop closes it on its next pass (HTTPChannel.writable)
        if slow:
            self.cut += len(slow)
            log.warning("closed %d API connection(s) whose request took over %.0f s to arrive (last: %s)",
                        len(slow), self.read_timeout_s, slow[-1].addr)


class ApiServer:
    def __init__(self, app, host: str, port: int, threads: int, connection_limit: int = 1000,
                 read_timeout_s: float = 30.0, idle_timeout_s: float = 120.0, connections_per_client: int = 0):
        self._server = create_server(app, host=host, port=port, threads=threads,
                                     connection_limit=connection_limit, channel_request_lookahead=1,
                                     asyncore_use_poll=True,  # select() cannot watch descriptors above 1023
                                     clear_untrusted_proxy_headers=True, ident="raftkube",
                                     channel_timeout=idle_timeout_s, cleanup_interval=1)
        self._server.channel_class = _Channel
        if connections_per_client:
            self._server.raftkube_clients = ClientConnections(connections_per_client, "API port")
        self.slow_clients = SlowClients(self._server, read_timeout_s)
        trigger = self._server.trigger
        self._server.pull_trigger = lambda: _pull_trigger(trigger)
        self._thread = threading.Thread(target=self._run, name="api", daemon=True)

    @property
    def port(self) -> int:
        """The port listened on (the one asked for, or the one the kernel chose for port 0)."""
        return self._server.effective_port

    def _run(self) -> None:
        try:
            self._server.run()
        except Exception:  # the socket closed under us at shutdown
            log.debug("api server loop ended", exc_info=True)

    def start(self) -> "ApiServer":
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop accepting, close every connection (open watches included) and end the loop thread."""
        socket_map = self._server._map
        for channel in list(socket_map.values()):
            try:
                channel.close()
            except OSError:
                pass
        socket_map.clear()  # waitress' loop runs while its socket map is not empty
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
        self._thread.join(timeout=2)
