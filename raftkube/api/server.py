"""Serving the Falcon app with waitress, in a thread the master can stop."""

from __future__ import annotations

import logging
import threading

from waitress.server import create_server

log = logging.getLogger(__name__)


class ApiServer:
    def __init__(self, app, host: str, port: int, threads: int, connection_limit: int = 1000):
        self._server = create_server(app, host=host, port=port, threads=threads,
                                     connection_limit=connection_limit, channel_request_lookahead=1,
                                     asyncore_use_poll=True,  # select() cannot watch descriptors above 1023
                                     clear_untrusted_proxy_headers=True, ident="raftkube")
        self._thread = threading.Thread(target=self._run, name="api", daemon=True)

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
