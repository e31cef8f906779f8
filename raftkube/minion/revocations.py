"""The revoked certificate serials, for the kubelet port (README "Security"): polled from the masters.

The masters keep revocations in the replicated store (api/revocations.py); a minion serving its port over TLS
reads ``GET /raft/revocations`` every ``period_s`` and refuses those certificates (401). A failed read keeps the
set read last (a minion cut off from the masters still refuses what it knew to be revoked).
"""

from __future__ import annotations

import logging
import threading

from raftkube.model.validation import serial_hex

log = logging.getLogger(__name__)

PERIOD_S = 10.0


class RevocationPoller:
    def __init__(self, client, period_s: float = PERIOD_S):
        self.client = client
        self.period_s = period_s
        self.serials: frozenset[str] = frozenset()
        self.polled = threading.Event()  # set after the first successful read
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def revoked(self, serial: str) -> bool:
        return bool(serial) and serial_hex(serial) in self.serials

    def poll(self) -> None:
        try:
            view = self.client.request("GET", "/raft/revocations").json()
        except Exception as exc:  # noqa: BLE001 - any failure: keep what we had, try again next period
            log.warning("revoked certificates not read (%s); the %d known stay revoked", exc, len(self.serials))
            return
        serials = frozenset(serial_hex(r.get("serial", "")) for r in view.get("revoked") or ()) - {""}
        if serials != self.serials:
            log.info("%d revoked certificate(s)", len(serials))
        self.serials = serials
        self.polled.set()

    def start(self) -> "RevocationPoller":
        self._thread = threading.Thread(target=self._run, name="revocations", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.period_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
